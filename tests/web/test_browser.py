"""The dashboard in a real browser: Debian's chromium driven by Playwright, against uvicorn."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from conftest import require_service
from groupops.analytics.kpis import compute_kpis
from groupops.config import Settings
from groupops.store.workspace import Workspace
from groupops.web import create_app

from .conftest import PASSWORD

CHROMIUM = os.environ.get("GROUPOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(brand_dir: Path) -> Iterator[str]:
    """uvicorn serving the seeded brand on a free loopback port, in a thread."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(Settings(data=brand_dir)), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_service(
        os.path.exists(CHROMIUM), f"Debian chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    yield opened
    context.close()


def _sign_in(page: Any, name: str = "manager") -> None:
    page.goto("/")
    assert "/login" in page.url
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r".*/$"))


def test_login_and_overview_shows_real_kpis(page: Any, brand_dir: Path) -> None:
    _sign_in(page)
    workspace = Workspace(Settings(data=brand_dir))
    expected = compute_kpis(workspace).to_json()["kpis"]
    workspace.close()
    active = page.locator('[data-kpi="active_users"] .value').inner_text().strip()
    assert active == f"{expected['active_users']:,.0f}"
    aov = page.locator('[data-kpi="aov"] .value').inner_text().strip()
    assert aov == f"¥{expected['aov']:,.2f}"
    page.wait_for_selector('[data-kpi="aov"] .spark canvas')


def test_member_page_escapes_and_shows_orders(page: Any) -> None:
    _sign_in(page, "operator")
    page.goto("/members?q=m00")
    page.click('a[href="/members/m000"]')
    heading = page.locator("h1").inner_text()
    assert heading.startswith('<script>alert("nick")</script>')
    assert page.evaluate("document.querySelectorAll('main script:not([type])').length") == 0
    page.goto("/members/m003")
    assert page.locator("text=o-3-0").count() == 1


def test_english_switch(page: Any) -> None:
    _sign_in(page, "viewer")
    assert page.locator("h1").inner_text() == "运营总览"
    page.click('button[data-locale="en"]')
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Overview"
    page.goto("/groups")
    assert page.locator("h1").inner_text() == "Groups"


def test_approving_a_content_item_through_the_three_review_steps(
    browser: Any, server_url: str, brand_dir: Path
) -> None:
    from groupops.accounts import create_user
    from groupops.store.models import User

    workspace = Workspace(Settings(data=brand_dir))
    with workspace.database.session() as session:
        if session.query(User).filter(User.name == "reviewer2").first() is None:
            create_user(session, "reviewer2", "reviewer", PASSWORD, actor="test")
    workspace.close()

    def as_user(name: str) -> Any:
        context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 900})
        opened = context.new_page()
        opened.set_default_timeout(60_000)
        _sign_in(opened, name)
        return opened

    operator = as_user("operator")
    operator.goto("/content")
    operator.fill("#new-content input[name=title]", "秋季新品 <b>上新</b>")
    operator.fill("#new-content textarea[name=body]", "柔软亲肤的针织面料，欢迎到群里试穿分享")
    operator.click("#new-content button[type=submit]")
    operator.wait_for_url(re.compile(r".*/content/\d+$"))
    item_url = operator.url
    operator.click('button[data-action="self_check"]')
    operator.wait_for_selector('[data-state="self_checked"]')
    for name, action, state in (
        ("reviewer", "qc_pass", "qc_passed"),
        ("reviewer2", "legal_approve", "legal_approved"),
    ):
        reviewer = as_user(name)
        reviewer.goto(item_url)
        reviewer.click(f'button[data-action="{action}"]')
        reviewer.wait_for_selector(f'[data-state="{state}"]')
        reviewer.context.close()
    operator.goto(item_url)
    operator.click('button[data-action="publish"]')
    operator.wait_for_selector('#item-state [data-state="published"]')
    steps = operator.eval_on_selector_all(
        "#history tr[data-action]", "rows => rows.map(r => r.dataset.action)"
    )
    assert steps == ["self_check", "qc_pass", "legal_approve", "publish"]
    assert "<b>上新</b>" in operator.locator("h1").inner_text()
    operator.context.close()
