from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from member_fixture import AS_OF, build_small_brand

from groupops.errors import InputFormatError, NotFoundError
from groupops.ops.profiles import PROFILE_DIMENSIONS, build_member_profiles, member_profile, resolve_as_of
from groupops.store.workspace import Workspace


@pytest.fixture
def brand(workspace: Workspace) -> Workspace:
    return build_small_brand(workspace)


def _rows(workspace: Workspace) -> dict[str, dict]:
    return {row["member_id"]: row for row in build_member_profiles(workspace, AS_OF).to_pylist()}


def test_members_are_roster_senders_and_buyers_without_staff(brand: Workspace) -> None:
    assert sorted(_rows(brand)) == ["mA", "mB", "mC", "mD"]


def test_profile_of_a_buyer_is_exact(brand: Workspace) -> None:
    a = _rows(brand)["mA"]
    assert (a["age_band"], a["gender"], a["region"], a["tags"]) == (
        "18-25",
        "female",
        "上海",
        ["VIP", "通勤"],
    )
    assert (a["followers"], a["follower_tier"], a["groups"], a["primary_group_id"]) == (
        12_000,
        "waist",
        1,
        "g1",
    )
    assert (a["orders"], a["purchase_days"], a["returns"], a["refund_rate"]) == (2, 2, 1, 0.5)
    assert (a["gross_spend"], a["refunds"], a["net_spend"], a["net_spend_90d"], a["aov"]) == (
        500,
        50,
        450,
        450,
        225,
    )
    assert (a["top_category"], a["top_category_share"], a["categories_bought"]) == ("卫衣", 0.75, 2)
    assert a["days_since_last_order"] == 11
    assert a["tenure_days"] == 59  # on the roster since 1 February, inclusive
    assert a["orders_per_30_days"] == pytest.approx(2 * 30 / 59, abs=1e-4)
    assert (a["messages"], a["active_days"], a["messages_30d"], a["active_days_30d"]) == (3, 2, 3, 2)
    assert (a["replies_received"], a["mentions_received"]) == (
        1,
        1,
    )  # a repeated @ in one message counts once
    assert (a["questions"], a["complaints"], a["top_intent"]) == (1, 1, "size_fit")
    assert (a["labelled_messages"], a["negative_messages"], a["positive_messages"]) == (3, 1, 1)
    assert a["sentiment_score"] == pytest.approx((0.1 - 0.6 + 0.8) / 3)
    assert a["days_since_last_active"] == 6  # the cancelled order of 25 March is still activity
    assert a["nps"] is None and a["never_active"] is False


def test_recalled_messages_shop_events_and_refund_only_members(brand: Workspace) -> None:
    rows = _rows(brand)
    b, c, d = rows["mB"], rows["mC"], rows["mD"]
    assert (b["messages"], b["views"], b["add_to_cart"], b["favorites"], b["shares"]) == (1, 2, 1, 1, 0)
    assert (b["follower_tier"], b["days_since_last_active"], b["orders"], b["aov"]) == (None, 3, 0, None)
    assert (c["never_active"], c["days_since_last_active"], c["messages"]) == (True, 58, 0)
    assert (d["orders"], d["returns"], d["gross_spend"], d["refunds"], d["net_spend"]) == (0, 1, 150, 150, 0)
    assert d["refund_rate"] == 1.0


def test_facts_after_as_of_are_ignored(brand: Workspace) -> None:
    early = {row["member_id"]: row for row in build_member_profiles(brand, date(2026, 3, 15)).to_pylist()}
    assert (early["mA"]["messages"], early["mA"]["orders"], early["mA"]["net_spend"]) == (2, 1, 300)
    assert "mB" in early and early["mB"]["views"] == 0


def test_member_profile_groups_columns_by_dimension(brand: Workspace) -> None:
    profile = member_profile(brand, "mA", AS_OF)
    assert set(PROFILE_DIMENSIONS) <= set(profile)
    assert profile["consumption"]["net_spend"] == 450
    assert profile["sentiment"]["nps"] is None and profile["sentiment"]["nps_available"] is False
    assert profile["as_of"] == "2026-03-31T15:59:59.999999+00:00"


@pytest.mark.parametrize("member_id", ["nobody", "S1", "' OR 1=1 --", "../../etc/passwd"])
def test_unknown_staff_and_hostile_ids_are_not_found(brand: Workspace, member_id: str) -> None:
    with pytest.raises(NotFoundError):
        member_profile(brand, member_id, AS_OF)


@pytest.mark.parametrize("member_id", ["", "x" * 500])
def test_empty_and_huge_ids_are_rejected(brand: Workspace, member_id: str) -> None:
    with pytest.raises(InputFormatError):
        member_profile(brand, member_id, AS_OF)


def test_empty_workspace_has_no_profiles(sqlite_workspace: Workspace) -> None:
    assert build_member_profiles(sqlite_workspace, AS_OF).num_rows == 0


def test_as_of_parsing(sqlite_workspace: Workspace) -> None:
    assert resolve_as_of(sqlite_workspace, "2026-03-31") == datetime(
        2026, 3, 31, 15, 59, 59, 999999, tzinfo=UTC
    )
    assert resolve_as_of(sqlite_workspace, "2026-03-31T08:00:00") == datetime(2026, 3, 31, 0, 0, tzinfo=UTC)
    with pytest.raises(InputFormatError):
        resolve_as_of(sqlite_workspace, "next tuesday")
