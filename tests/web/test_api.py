"""``/api/v1`` with bearer tokens: data matches the library, tokens can be revoked."""

from __future__ import annotations

from typing import Any

from groupops.analytics.kpis import compute_kpis
from groupops.config import Settings
from groupops.store.workspace import Workspace

from .conftest import API_TOKENS, csrf_of


def _bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKENS[role]}"}


def test_kpis_api_returns_the_kpi_contract(client_for: Any, brand_dir: Any) -> None:
    body = client_for(None).get("/api/v1/kpis", headers=_bearer("viewer")).json()
    workspace = Workspace(Settings(data=brand_dir))
    expected = compute_kpis(workspace).to_json()
    workspace.close()
    assert set(body) >= {"as_of", "scope", "kpis", "definitions"}
    assert body["kpis"] == expected["kpis"]


def test_members_and_member_api(client_for: Any) -> None:
    client = client_for(None)
    listing = client.get("/api/v1/members?tag=KOC", headers=_bearer("operator")).json()
    assert listing["total"] == 8 and all("KOC" in m["tags"] for m in listing["members"])
    member = client.get("/api/v1/members/m003", headers=_bearer("operator")).json()
    assert member["id"] == "m003" and len(member["orders"]) == 3
    assert client.get("/api/v1/members/nope", headers=_bearer("operator")).status_code == 404


def test_network_and_groups_api(client_for: Any) -> None:
    client = client_for(None)
    graph = client.get("/api/v1/network", headers=_bearer("manager")).json()
    assert graph["nodes"] and {"source", "target", "value"} <= set(graph["links"][0])
    groups = client.get("/api/v1/groups", headers=_bearer("manager")).json()["groups"]
    assert {g["id"] for g in groups} >= {"g-core", "g-brand"}


def test_compliance_check_api_follows_the_cli_contract(client_for: Any) -> None:
    client = client_for(None)
    body = client.post(
        "/api/v1/compliance/check", json={"texts": ["全网最好的", "你好"]}, headers=_bearer("cs")
    ).json()
    first, second = body["results"]
    assert first["line"] == 1 and first["verdict"] != "clean"
    finding = first["findings"][0]
    assert first["text"][finding["start"] : finding["end"]] == finding["term"]
    assert second["verdict"] == "clean"
    too_long = client.post("/api/v1/compliance/check", json={"text": "x" * 20_001}, headers=_bearer("cs"))
    assert too_long.status_code == 422


def test_bad_and_revoked_tokens_get_401(client_for: Any) -> None:
    client = client_for(None)
    for header in ("Bearer gop_wrong", "Bearer ", "Basic abc", "Bearer " + "x" * 5000):
        assert client.get("/api/v1/kpis", headers={"Authorization": header}).status_code == 401
    owner = client_for("viewer")
    page = owner.post("/account/tokens", data={"name": "temp", "csrf_token": csrf_of(owner)}).text
    token = page.split('<code class="token">')[1].split("</code>")[0]
    assert client.get("/api/v1/kpis", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    token_id = page.split("/account/tokens/")[1].split("/revoke")[0]
    owner.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(owner)})
    assert client.get("/api/v1/kpis", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_api_docs_list_every_data_endpoint(client_for: Any) -> None:
    page = client_for("viewer").get("/api/docs").text
    for path in (
        "/api/v1/kpis",
        "/api/v1/members/{member_id}",
        "/api/v1/network",
        "/api/v1/compliance/check",
    ):
        assert path in page
    assert client_for("viewer").get("/api/openapi.json").json()["info"]["title"] == "GroupOps API"
