"""Daily outfit poll."""

from __future__ import annotations

from groupops.bot.skills.outfit_poll import Poll, poll_results_text, tally

from ..conftest import BotRun, at, texts


def test_default_question_and_votes(run: BotRun) -> None:
    opened = run.job("poll_open", at(3, 12))
    assert "A." in texts(opened)[0] and "B." in texts(opened)[0] and not opened[0].prompted
    for member, vote in [("m1", "A"), ("m2", "ａ"), ("m3", "我选B"), ("m4", "投 b。"), ("m1", "B")]:
        assert run.say(member, vote, at(3, 13)) == ()
    [closing] = run.job("poll_close", at(3, 20))
    assert closing.data["counts"][:2] == [1, 3]
    assert run.skill_state("outfit_poll").current is None


def test_given_question_and_out_of_range_letters(run: BotRun) -> None:
    run.job("poll_open", at(3, 12), {"question": "哪双鞋？", "options": ["小白鞋", "乐福鞋"]})
    run.say("m1", "C", at(3, 13))
    run.say("m2", "A 好看", at(3, 13))
    poll = run.skill_state("outfit_poll").current
    assert poll.question == "哪双鞋？" and dict(poll.votes) == {}


def test_bad_option_count_notifies_admins(run: BotRun) -> None:
    actions = run.job("poll_open", at(3, 12), {"question": "?", "options": ["只有一个"]})
    assert [action.kind for action in actions] == ["notify_admins"]


def test_opening_a_new_poll_closes_the_old_one(run: BotRun) -> None:
    run.job("poll_open", at(3, 12))
    run.say("m1", "A", at(3, 13))
    actions = run.job("poll_open", at(4, 12))
    assert "投票结果" in texts(actions)[0] and "今日穿搭小投票" in texts(actions)[1]


def test_votes_without_an_open_poll_are_ignored(run: BotRun) -> None:
    assert run.say("m1", "A", at(3)) == ()
    assert run.job("poll_close", at(3)) == ()


def test_results_text_with_no_votes_and_ties() -> None:
    empty = tally(Poll("p", "Q", ("x", "y"), at(3).date()))
    assert "还没有人投票" in poll_results_text(empty) and empty.leading_options == ()
    tie = tally(Poll("p", "Q", ("x", "y"), at(3).date(), {"a": 0, "b": 1}))
    assert tie.leading_options == ("x", "y") and "50%" in poll_results_text(tie)
