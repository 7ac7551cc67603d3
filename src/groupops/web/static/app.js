/* GroupOps dashboard: charts from JSON blocks, sortable tables. No inline scripts (CSP). */
(function () {
  "use strict";
  function parse(text) { try { return JSON.parse(text); } catch (e) { return null; } }
  function sourceOf(el) {
    var id = el.getAttribute("data-source");
    var block = id ? document.getElementById(id) : null;
    return block ? parse(block.textContent) : null;
  }
  var builders = {
    sparkline: function (el) {
      var values = parse(el.getAttribute("data-values")) || [];
      var labels = parse(el.getAttribute("data-labels")) || [];
      return { animation: false, grid: { left: 2, right: 2, top: 4, bottom: 4 }, tooltip: { trigger: "axis" },
        xAxis: { type: "category", show: false, data: labels }, yAxis: { type: "value", show: false, scale: true },
        series: [{ type: "line", data: values, symbol: "none", smooth: true, lineStyle: { width: 2 }, areaStyle: { opacity: 0.12 } }] };
    },
    activity: function (el) {
      var data = sourceOf(el) || { labels: [], series: [] };
      return { tooltip: { trigger: "axis" }, legend: {}, grid: { left: 40, right: 40, top: 30, bottom: 30 },
        xAxis: { type: "category", data: data.labels }, yAxis: [{ type: "value" }, { type: "value" }],
        series: data.series.map(function (s, i) { return { name: s.name, type: i === 0 ? "bar" : "line", yAxisIndex: i, data: s.data }; }) };
    },
    sentiment: function (el) {
      var data = sourceOf(el) || { labels: [], series: [] };
      return { tooltip: { trigger: "axis" }, legend: {}, grid: { left: 40, right: 40, top: 30, bottom: 30 },
        xAxis: { type: "category", data: data.labels },
        yAxis: [{ type: "value", min: -1, max: 1 }, { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } }],
        series: data.series.map(function (s, i) {
          return i < 2 ? { name: s.name, type: "line", data: s.data, symbol: "none", lineStyle: { width: i === 1 ? 3 : 1 } }
                       : { name: s.name, type: "bar", yAxisIndex: 1, data: s.data, itemStyle: { opacity: 0.35 } };
        }) };
    },
    graph: function (el) {
      var data = sourceOf(el) || { nodes: [], links: [], categories: [] };
      return { tooltip: {}, legend: [{ data: data.categories.map(function (c) { return c.name; }) }],
        series: [{ type: "graph", layout: "force", roam: true, draggable: true, data: data.nodes, links: data.links,
          categories: data.categories, label: { show: false }, force: { repulsion: 60, edgeLength: [20, 80] },
          lineStyle: { opacity: 0.35, curveness: 0.1 }, emphasis: { focus: "adjacency" } }] };
    }
  };
  function drawCharts(root) {
    if (!window.echarts) { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var build = builders[el.getAttribute("data-chart")];
      if (!build || el.getAttribute("data-drawn")) { return; }
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(build(el));
      el.setAttribute("data-drawn", "1");
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  function cellValue(row, index) {
    var text = (row.cells[index] ? row.cells[index].textContent : "").trim();
    var number = parseFloat(text.replace(/[¥,%+\s]/g, ""));
    return isNaN(number) || !/^[-+¥\d.,%\s]+$/.test(text) ? text.toLowerCase() : number;
  }
  function sortTable(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    if (!body) { return; }
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    th.parentNode.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      var order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.addEventListener("click", function (event) {
    var th = event.target.closest && event.target.closest("table.sortable th");
    if (th) { sortTable(th); }
  });
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawCharts(event.target); });
})();
