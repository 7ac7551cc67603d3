"""The 7 KPIs on the hand-made brand of ``brand_fixture`` (every value derived by hand below)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from brand_fixture import build_small_brand, new_workspace

from groupops.analytics.kpis import KPI_NAMES, METRIC_DEFINITIONS, compute_kpis
from groupops.errors import ConfigurationError, InputFormatError, NotFoundError
from groupops.store.workspace import Workspace

MARCH = {"date_from": date(2024, 3, 2), "date_to": date(2024, 3, 31)}


@pytest.fixture(scope="module")
def brand(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_small_brand(tmp_path_factory.mktemp("brand"))


def test_brand_kpis_match_the_hand_computation(brand: Workspace) -> None:
    """Members at 03-31: m01-m07 (m08 left g1), m09-m11 and m05 in g2 (m12 left): 10.

    Interactions 03-02..03-31: m01 on 03-05 and 03-10, m03 on 03-15 (its 03-16 message was
    recalled), m05 on 03-20, m09 on 03-31 23:30 Shanghai (m10's 04-01 00:10 is April; m04's
    'agree' and m06's private chat do not count) -> 5 member-days.
    Valid orders by members in March: o1 200, o2 100 (m01), o5 400 (m03), o6 50 (m06);
    o4 refunded, o8 cancelled, o9 not a member, o10 by m12 who left.
    """
    report = compute_kpis(brand, **MARCH)
    assert report.kpis == {
        "active_users": 5,  # m01, m03, m05, m09 spoke; m06 bought
        "interaction_rate": pytest.approx(5 / (10 * 30)),
        "conversion_rate": pytest.approx(3 / 10),  # m01, m03, m06
        "aov": pytest.approx(750 / 4),
        "repurchase_rate": pytest.approx(1 / 5),  # buyers ever m01 m02 m03 m06 m09; twice m01
        "churn_rate": pytest.approx(2 / 5),  # active 01-31..03-01: m01 m02 m05 m09 m11; m02 m11 lost
        "ltv": pytest.approx((200 + 100 + 300 + 0 + 300 + 50 + 120) / 5),
    }
    assert report.counts["members"] == 10


def test_group_scope_counts_only_that_groups_members_and_talk(brand: Workspace) -> None:
    """g1 at 03-31: m01-m07. m05 spoke in g1 in February but only in g2 in March: churned for g1."""
    report = compute_kpis(brand, group="g1", **MARCH)
    assert report.kpis == {
        "active_users": 3,
        "interaction_rate": pytest.approx(3 / (7 * 30)),
        "conversion_rate": pytest.approx(3 / 7),
        "aov": pytest.approx(187.5),
        "repurchase_rate": pytest.approx(1 / 4),
        "churn_rate": pytest.approx(2 / 3),
        "ltv": pytest.approx(950 / 4),
    }


def test_group_kind_scope(brand: Workspace) -> None:
    """core_user = g2: m05 m09 m10 m11 at 03-31; speakers m05 (03-20) and m09 (03-31)."""
    report = compute_kpis(brand, group_kind="core_user", **MARCH)
    assert report.counts["members"] == 4
    assert report.kpis["active_users"] == 2
    assert report.kpis["interaction_rate"] == pytest.approx(2 / (4 * 30))
    assert report.kpis["conversion_rate"] == 0.0
    assert report.kpis["aov"] is None  # no valid order in the period: no average


def test_json_contract(brand: Workspace) -> None:
    document = compute_kpis(brand, **MARCH).to_json()
    assert {"as_of", "scope", "kpis", "definitions"} <= set(document)
    assert list(document["kpis"]) == list(KPI_NAMES)
    assert document["definitions"] == {name: METRIC_DEFINITIONS[name] for name in KPI_NAMES}
    assert document["as_of"] == "2024-03-31" and document["scope"]["days"] == 30
    for name in ("interaction_rate", "conversion_rate", "repurchase_rate", "churn_rate"):
        assert 0.0 <= document["kpis"][name] <= 1.0


def test_default_period_ends_on_the_last_day_with_data(brand: Workspace) -> None:
    report = compute_kpis(brand)
    assert report.as_of == date(2024, 4, 1)  # m10's message, 00:10 Shanghai on April 1st
    assert report.scope.date_from == date(2024, 3, 3)


def test_empty_warehouse_gives_zero_counts_and_no_rates(tmp_path: Path) -> None:
    report = compute_kpis(new_workspace(tmp_path), date_from=date(2024, 1, 1), date_to=date(2024, 1, 31))
    assert report.kpis["active_users"] == 0
    assert all(report.kpis[name] is None for name in KPI_NAMES if name != "active_users")


@pytest.mark.parametrize("hostile", ["g1' OR '1'='1", "../../etc/passwd", "<script>alert(1)</script>"])
def test_unknown_or_hostile_group_is_not_found(brand: Workspace, hostile: str) -> None:
    with pytest.raises(NotFoundError):
        compute_kpis(brand, group=hostile, **MARCH)


def test_bad_scopes_are_refused(brand: Workspace) -> None:
    with pytest.raises(InputFormatError):
        compute_kpis(brand, date_from=date(2024, 3, 31), date_to=date(2024, 3, 1))
    with pytest.raises(ConfigurationError):
        compute_kpis(brand, group="g1", group_kind="core_user")


def test_docs_quote_every_definition_verbatim() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8")
    missing = [name for name, text in METRIC_DEFINITIONS.items() if text not in docs]
    assert missing == []
