"""Save screenshots of the main dashboard pages to docs/screenshots/*.png.

    python scripts/screenshots.py --data groupops-data

Serves the data directory with uvicorn on a free loopback port, signs in a temporary
manager account and photographs each page with Debian's chromium (fonts-noto-cjk for
Chinese). Set GROUPOPS_CHROMIUM to use another chromium binary.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from pathlib import Path

import uvicorn
from sqlalchemy import func, select

from groupops.accounts import create_user
from groupops.config import Settings
from groupops.store.models import ContentItem, Group, GroupMembership, User
from groupops.store.workspace import Workspace
from groupops.web import create_app

CHROMIUM = os.environ.get("GROUPOPS_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "screenshot-password-1"
MAX_HEIGHT = 2000  # long tables (tickets, tasks) are cut here to keep the images small


def _targets(data: Path) -> list[tuple[str, str]]:
    workspace = Workspace(Settings(data=data))
    with workspace.database.session() as session:
        if session.scalar(select(User).where(User.name == "screenshots")) is None:
            create_user(session, "screenshots", "manager", PASSWORD, actor="screenshots")
        busiest = (
            select(GroupMembership.group_id)
            .join(Group, Group.id == GroupMembership.group_id)
            .where(GroupMembership.member_type == "external", Group.name != "")
            .group_by(GroupMembership.group_id)
            .order_by(func.count().desc(), GroupMembership.group_id)
        )
        group_id = session.scalars(busiest).first()
        member_id = session.scalars(
            select(GroupMembership.member_id)
            .where(GroupMembership.group_id == group_id, GroupMembership.member_type == "external")
            .order_by(GroupMembership.member_id)
        ).first()
        content_id = session.scalars(
            select(ContentItem.id).order_by(
                (ContentItem.verdict == "violation").desc(), ContentItem.id.desc()
            )
        ).first()
    workspace.close()
    return [
        ("overview", "/"),
        ("groups", "/groups"),
        ("group", f"/groups/{group_id}"),
        ("members", "/members"),
        ("member", f"/members/{member_id}"),
        ("network", "/network"),
        ("compliance", "/compliance"),
        ("content", "/content"),
        *([("content_item", f"/content/{content_id}")] if content_id else []),
        ("tickets", "/tickets"),
        ("alerts", "/alerts"),
        ("tasks", "/tasks"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("groupops-data"), help="demo data directory")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"), help="output folder")
    parser.add_argument("--locale", default="zh-CN", choices=["zh-CN", "en"], help="interface language")
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    targets = _targets(arguments.data)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(Settings(data=arguments.data)), host="127.0.0.1", port=port, log_level="error"
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    arguments.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(base_url=f"http://127.0.0.1:{port}", viewport={"width": 1366, "height": 900})
        page.set_default_timeout(180_000)
        page.goto("/login")
        page.fill("input[name=username]", "screenshots")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].primary")
        page.wait_for_load_state()
        if arguments.locale == "en":
            page.click('button[data-locale="en"]')
            page.wait_for_load_state()
        for name, path in targets:
            page.goto(path)
            page.wait_for_timeout(1500)  # let ECharts finish its first layout
            height = min(int(page.evaluate("document.documentElement.scrollHeight")), MAX_HEIGHT)
            page.screenshot(
                path=str(arguments.out / f"{name}.png"),
                full_page=True,
                clip={"x": 0, "y": 0, "width": 1366, "height": height},
            )
            print(arguments.out / f"{name}.png")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
