"""Pages show the brand's real figures, escape hostile chat content, and export safely."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from groupops.analytics.kpis import compute_kpis
from groupops.config import Settings
from groupops.store.workspace import Workspace

from .conftest import csrf_of

_PAGES_WITH_MEMBER_CONTENT = ("/members", "/members?q=script", "/members/m000", "/groups/g-core", "/network")


def test_overview_shows_the_computed_kpis(client_for: Any, brand_dir: Any) -> None:
    page = client_for("manager").get("/").text
    workspace = Workspace(Settings(data=brand_dir))
    report = compute_kpis(workspace).to_json()
    workspace.close()
    active = re.search(r'data-kpi="active_users".*?class="value">\s*([^<\s]+)', page, re.S)
    assert active and active.group(1) == f"{report['kpis']['active_users']:,.0f}"
    conversion = re.search(r'data-kpi="conversion_rate".*?class="value">\s*([^<\s]+)', page, re.S)
    assert conversion and conversion.group(1) == f"{report['kpis']['conversion_rate'] * 100:.1f}%"
    assert page.count('data-chart="sparkline"') == 7


def test_groups_page_lists_groups_with_health(client_for: Any) -> None:
    page = client_for("operator").get("/groups").text
    assert "核心用户群 &lt;i&gt;1&lt;/i&gt;" in page and "品牌官方群" in page
    assert re.search(r'class="dot (green|amber|red)"', page)
    filtered = client_for("operator").get("/groups?kind=core_user").text
    assert 'href="/groups/g-core"' in filtered and 'href="/groups/g-brand"' not in filtered


def test_group_page_has_activity_and_speakers(client_for: Any) -> None:
    page = client_for("manager").get("/groups/g-core").text
    assert 'data-chart="activity"' in page and 'href="/members/m002"' in page
    assert client_for("manager").get("/groups/no-such-group").status_code == 404


def test_member_search_filter_and_page(client_for: Any) -> None:
    client = client_for("cs")
    assert "共 1 位会员" in client.get("/members?q=会员12").text
    tagged = client.get("/members?tag=KOC").text
    assert "共 8 位会员" in tagged
    member = client.get("/members/m003").text
    assert "o-3-0" in member and "第0天" in member
    assert client.get("/members/unknown").status_code == 404
    assert (
        client.get("/members?q=%25").status_code == 200 and "共 0 位会员" in client.get("/members?q=%25").text
    )


def test_member_page_shows_clv_and_churn_risk(client_for: Any) -> None:
    page = client_for("manager").get("/members/m003").text
    assert 'class="value-clv">¥' in page


@pytest.mark.parametrize("path", _PAGES_WITH_MEMBER_CONTENT)
def test_hostile_nicknames_and_messages_are_escaped(client_for: Any, path: str) -> None:
    page = client_for("admin").get(path).text
    assert "<script>alert" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert "<b>Bold</b>" not in page and "<img src=x" not in page


def test_hostile_text_is_visible_as_text(client_for: Any) -> None:
    page = client_for("admin").get("/members/m000").text
    assert "&lt;script&gt;alert(&#34;nick&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_compliance_checker_highlights_findings_at_their_offsets(client_for: Any) -> None:
    client = client_for("reviewer")
    text = "<b>全网最好</b>的面料"
    page = client.post("/compliance", data={"text": text, "csrf_token": csrf_of(client)}).text
    assert "&lt;b&gt;" in page and "<b>" not in page
    marked = re.findall(
        r'<mark class="finding (violation|review)" data-finding="\d+"[^>]*>([^<]+)</mark>', page
    )
    assert marked and all(term in text for _severity, term in marked)
    fragment = client.post(
        "/compliance",
        data={"text": "今天天气不错"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(client)},
    )
    assert "<html" not in fragment.text and "verdict clean" in fragment.text


def test_csv_export_neutralises_formulas(client_for: Any, brand_dir: Any) -> None:
    from groupops.store.models import Member

    workspace = Workspace(Settings(data=brand_dir))
    with workspace.database.session() as session:
        session.merge(Member(id="m-formula", name='=HYPERLINK("http://x")', tags=[]))
    workspace.close()
    response = client_for("manager").get("/members.csv?q=m-formula")
    assert response.headers["content-disposition"] == 'attachment; filename="members.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["id", "name"] and rows[1][1].startswith("'=")
    xlsx = client_for("manager").get("/members.xlsx")
    assert xlsx.content[:2] == b"PK"
    assert client_for("manager").get("/members.exe").status_code == 404
