"""FrozenMap: one-key updates share the base; the encoder writes only what changed."""

from __future__ import annotations

from types import MappingProxyType

from groupops.bot._codec import GroupStateEncoder, decode_group_state, encode_group_state
from groupops.bot._frozenmap import FrozenMap, with_item
from groupops.bot.core import GroupBotState
from groupops.bot.skills.checkin import CheckInState


def test_updates_leave_earlier_versions_unchanged() -> None:
    first = with_item({"a": 1}, "b", 2)
    second = first.set("a", 10).set("c", 3)
    assert dict(first) == {"a": 1, "b": 2} and dict(second) == {"a": 10, "b": 2, "c": 3}
    assert list(second) == ["a", "b", "c"] and len(second) == 3 and "c" in second and "z" not in second
    assert second.get("z", "none") == "none" and second["a"] == 10
    assert second == MappingProxyType({"a": 10, "b": 2, "c": 3}) and first != second


def test_the_overlay_is_merged_into_a_new_base_when_it_grows() -> None:
    mapping: FrozenMap[str, int] = FrozenMap({f"k{n}": n for n in range(10_000)})
    for n in range(500):
        mapping = mapping.set(f"new{n}", n)
        assert len(mapping.overlay) <= 103  # about √n keys (n grows to 10,500), not the whole mapping
    assert len(mapping) == 10_500 and mapping["new499"] == 499 and mapping["k7"] == 7


def _group(members: object) -> GroupBotState:
    return GroupBotState("g", MappingProxyType({"checkin": CheckInState(members)}))  # type: ignore[arg-type]


def test_the_encoder_finds_changes_in_the_overlay_and_after_a_rollback() -> None:
    base = FrozenMap({f"m{n}": n for n in range(200)})
    encoder = GroupStateEncoder()
    encoder.encode_parts(_group(base))
    one = base.set("m1", -1)
    assert [key for _, key, _ in encoder.encode_parts(_group(one)).upserts] == ['"m1"']
    two = one.set("<script>", 5)
    assert [key for _, key, _ in encoder.encode_parts(_group(two)).upserts] == ['"<script>"']
    sibling = base.set("m2", -2)  # not made from the last written value: m1 and <script> changed back
    encoded = encoder.encode_parts(_group(sibling))
    upserted = {key for _, key, _ in encoded.upserts}
    assert upserted == {'"m1"', '"m2"'} and [key for _, key in encoded.deletes] == ['"<script>"']


def test_a_frozen_map_round_trips_through_the_codec() -> None:
    state = _group(with_item({}, "m'; DROP TABLE x; --", 1))
    decoded = decode_group_state("g", encode_group_state(state))
    assert decoded == state
