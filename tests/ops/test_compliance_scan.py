from __future__ import annotations

import json
from pathlib import Path

from groupops.ingest import ingest_files
from groupops.ops.compliance_scan import scan_archive
from groupops.store.workspace import Workspace

T0 = 1_767_225_600_000
MESSAGES = [
    ("m1", "CS01", "wr1", "今晚8点上新，羊毛大衣限时优惠"),
    ("m2", "CS01", "wr1", "全网最低价！史上最好的羽绒服"),
    ("m3", "CS02", "wr2", "这款T恤能防癌抗辐射"),
    ("m4", "wmCustomer", "wr1", "这是我买过最好的衣服"),  # a customer: not scanned
    ("m5", "CS02", "wr2", "新品到货啦，欢迎选购"),
]


def test_scan_reports_staff_violations_by_staff_and_group(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        "".join(
            json.dumps({"msgid": m, "action": "send", "from": s, "roomid": g, "msgtime": T0 + i * 1000,
                        "msgtype": "text", "text": {"content": t}}, ensure_ascii=False) + "\n"
            for i, (m, s, g, t) in enumerate(MESSAGES)
        ),
        encoding="utf-8",
    )  # fmt: skip
    ingest_files("wecom-archive", [path], sqlite_workspace)
    report = scan_archive(sqlite_workspace).to_json()
    assert report["scanned"] == 4
    verdicts = {row["msgid"]: row["verdict"] for row in report["messages"]}
    assert verdicts["m2"] == "violation" and verdicts["m3"] == "violation" and "m1" not in verdicts
    assert "m4" not in verdicts
    staff = {row["staff_id"]: row for row in report["by_staff"]}
    assert staff["CS01"]["violation"] == 1 and staff["CS02"]["violation"] == 1
    groups = {row["group_id"]: row["violation"] for row in report["by_group"]}
    assert groups == {"wr1": 1, "wr2": 1}
    m2 = next(row for row in report["messages"] if row["msgid"] == "m2")
    assert all(m2["text"][f["start"] : f["end"]] == f["term"] for f in m2["findings"])
