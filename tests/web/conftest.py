"""A small real brand for the web tests: store rows plus warehouse facts, with hostile text in it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

with warnings.catch_warnings():  # starlette asks for httpx2 on import; httpx is what is installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from groupops.accounts import create_user
from groupops.config import Settings
from groupops.store.models import ROLES, Group, GroupMembership, Member
from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.workspace import Workspace
from groupops.web import create_app
from groupops.web.tokens import create_api_token

HOSTILE_NAME = '<script>alert("nick")</script><b>Bold</b>'
HOSTILE_TEXT = '<img src=x onerror=alert(1)>想问下 <script>alert("msg")</script> 尺码'
PASSWORD = "correct-horse-battery"
END = datetime(2026, 10, 31, 12, tzinfo=UTC)


def _facts(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = FACT_SCHEMAS[table]
    columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
    batch = pa.table(columns, schema=schema)
    return batch.append_column("_line", pa.array(range(len(rows)), pa.int64()))


def _commit(workspace: Workspace, table: str, rows: list[dict[str, Any]]) -> None:
    warehouse = workspace.warehouse
    with warehouse.staged_import(table) as staged:
        staged.add(_facts(table, rows))
        warehouse.commit(staged)


def _month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def seed_brand(workspace: Workspace, members: int = 40, days: int = 70) -> None:
    """Two groups, ``members`` members (member m000 has a hostile nickname), messages and orders."""
    with workspace.database.session() as session:
        session.add(Group(id="g-core", name="核心用户群 <i>1</i>", kind="core_user"))
        session.add(Group(id="g-brand", name="品牌官方群", kind="brand_official"))
        for index in range(members):
            member_id = f"m{index:03d}"
            name = HOSTILE_NAME if index == 0 else f"会员{index}"
            session.add(
                Member(
                    id=member_id,
                    name=name,
                    region="上海" if index % 2 else "杭州",
                    tags=["KOC"] if index % 5 == 0 else [],
                )
            )
            group_id = "g-core" if index % 2 == 0 else "g-brand"
            session.add(
                GroupMembership(
                    group_id=group_id,
                    member_id=member_id,
                    joined_at=END - timedelta(days=days),
                    display_name=name,
                )
            )
    changes, messages, orders = [], [], []
    for index in range(members):
        member_id, group_id = f"m{index:03d}", ("g-core" if index % 2 == 0 else "g-brand")
        joined = END - timedelta(days=days)
        changes.append({"event_id": f"e{index}", "group_id": group_id, "member_id": member_id, "change": "join",
                        "occurred_at": joined, "source": "test", "month": _month(joined)})  # fmt: skip
        for day in range(0, days, 1 + index % 7):
            sent = END - timedelta(days=day, minutes=index)
            text = HOSTILE_TEXT if index == 0 and day == 0 else f"第{day}天 你好 @会员{(index + 1) % members}"
            messages.append({"msgid": f"msg-{index}-{day}", "source": "test", "action": "send", "group_id": group_id,
                             "sender_id": member_id, "sender_is_staff": False, "sent_at": sent, "msgtype": "text",
                             "text": text, "mention_names": [f"会员{(index + 1) % members}"], "revoked": False,
                             "month": _month(sent)})  # fmt: skip
        for number in range(index % 4):
            placed = END - timedelta(days=3 + number * 17 + index % 11)
            orders.append({"order_id": f"o-{index}-{number}", "member_id": member_id, "placed_at": placed, "paid_at": placed,
                           "status": "paid", "amount": 100.0 + 37 * index + 11 * number, "discount": 0.0,
                           "refund_amount": 0.0, "channel": "group", "source": "test", "month": _month(placed)})  # fmt: skip
    _commit(workspace, "membership_changes", changes)
    _commit(workspace, "messages", messages)
    _commit(workspace, "orders", orders)


API_TOKENS: dict[str, str] = {}


@pytest.fixture(scope="session")
def brand_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded data directory (SQLite) shared by the read-only web tests, one user and token per role."""
    data = tmp_path_factory.mktemp("brand") / "data"
    workspace = Workspace(Settings(data=data))
    seed_brand(workspace)
    with workspace.database.session() as session:
        for role in ROLES:
            create_user(session, role, role, PASSWORD, actor="test")
    with workspace.database.session() as session:
        for role in ROLES:
            API_TOKENS[role] = create_api_token(session, role, "tests")
    workspace.close()
    return data


@pytest.fixture(scope="session")
def brand_app(brand_dir: Path) -> Any:
    return create_app(Settings(data=brand_dir, login_attempts_per_minute=1000))


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    """Sign in through the form (fetching the login page for its CSRF token first)."""
    client.get("/login")
    token = csrf_of(client)
    return client.post(
        "/login", data={"username": name, "password": password, "csrf_token": token}, follow_redirects=False
    )


def csrf_of(client: TestClient) -> str:
    """The CSRF token of the client's session, read from a rendered form."""
    import re

    page = client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF field rendered"
    return match.group(1)


@pytest.fixture
def client_for(brand_app: Any) -> Iterator[Any]:
    """Open a signed-in TestClient for a role: ``client_for("manager")``."""
    clients: list[TestClient] = []

    def open_client(role: str | None) -> TestClient:
        client = TestClient(brand_app, base_url="http://testserver")
        clients.append(client)
        if role:
            assert login(client, role).status_code == 303
        return client

    yield open_client
    for client in clients:
        client.close()


# The analytics engine (ibis on DuckDB) currently emits a DuckDB deprecation warning and an
# ignored finaliser error when cached tables are collected; neither comes from the web face.
_ENGINE_NOISE = (
    "ignore:fetch_arrow_table\\(\\) is deprecated:DeprecationWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            for rule in _ENGINE_NOISE:
                item.add_marker(pytest.mark.filterwarnings(rule))
