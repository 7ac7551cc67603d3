"""The WeCom API client against the local fake WeCom server (fake clock, no real waiting)."""

from __future__ import annotations

import json

import httpx
import pytest

from groupops.wecom.client import (
    MessageTooLongError,
    NewsArticle,
    RobotRateLimiter,
    RobotRateLimitExceededError,
    WeComAccessTokenError,
    WeComApiError,
    WeComClient,
    WeComRateLimitedError,
    WeComSystemBusyError,
    WeComTransportError,
)

from .conftest import FakeClock
from .fake_wecom_server import FakeWeComServer


def _client(server: FakeWeComServer, clock: FakeClock, **options: object) -> WeComClient:
    return WeComClient(
        "wwfakecorp",
        "fake-secret",
        base_url=server.base_url,
        clock=clock,
        sleep=clock.sleep,
        **options,  # type: ignore[arg-type]
    )


def test_robot_text_reaches_the_server(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    with _client(fake_wecom, fake_clock) as client:
        client.send_robot_text("robot-a", "今日穿搭小投票开始啦", mentioned_user_ids=["wmA"])
    [message] = fake_wecom.received
    payload = json.loads(message.body)
    assert message.target == "robot-a"
    assert payload == {
        "msgtype": "text",
        "text": {"content": "今日穿搭小投票开始啦", "mentioned_list": ["wmA"]},
    }


def test_markdown_and_news(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    with _client(fake_wecom, fake_clock) as client:
        client.send_robot_markdown("robot-a", "**新品预告**\n> 周五 20:00")
        client.send_robot_news(
            "robot-b", [NewsArticle("秋冬外套指南", "https://example.com/a", "三步选对外套")]
        )
    kinds = [json.loads(message.body)["msgtype"] for message in fake_wecom.received]
    assert kinds == ["markdown", "news"]
    assert json.loads(fake_wecom.received[1].body)["news"]["articles"][0]["description"] == "三步选对外套"


def test_oversize_text_is_refused_before_sending(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    with _client(fake_wecom, fake_clock) as client:
        client.send_robot_text("robot-a", "衣" * 682)  # 2046 bytes: fits
        with pytest.raises(MessageTooLongError, match=r"2049 bytes.*2048"):
            client.send_robot_text("robot-a", "衣" * 683)
        with pytest.raises(MessageTooLongError, match="4096"):
            client.send_robot_markdown("robot-a", "a" * 4097)
        with pytest.raises(MessageTooLongError, match="empty"):
            client.send_robot_text("robot-a", "   ")
        with pytest.raises(MessageTooLongError, match="1 to 8"):
            client.send_robot_news("robot-a", [NewsArticle("t", "https://e.com")] * 9)
    assert fake_wecom.requests_to("webhook/send") == 1


def test_twenty_first_message_in_a_minute_waits(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    with _client(fake_wecom, fake_clock) as client:
        for number in range(21):
            client.send_robot_text("robot-a", f"第 {number} 条")
    assert len(fake_wecom.received) == 21
    assert fake_clock.sleeps and sum(fake_clock.sleeps) == pytest.approx(60.0)
    assert fake_clock.now - 1_000.0 == pytest.approx(60.0)


def test_rate_limit_is_per_robot(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    with _client(fake_wecom, fake_clock) as client:
        for number in range(20):
            client.send_robot_text("robot-a", f"a{number}")
            client.send_robot_text("robot-b", f"b{number}")
    assert len(fake_wecom.received) == 40 and fake_clock.sleeps == []


def test_twenty_first_message_is_refused_when_waiting_is_not_allowed(
    fake_wecom: FakeWeComServer, fake_clock: FakeClock
) -> None:
    with _client(fake_wecom, fake_clock, max_rate_limit_wait_seconds=0) as client:
        for number in range(20):
            client.send_robot_text("robot-a", f"{number}")
        fake_clock.now += 30
        with pytest.raises(RobotRateLimitExceededError) as excinfo:
            client.send_robot_text("robot-a", "one too many")
    assert excinfo.value.wait_seconds == pytest.approx(30.0)
    assert len(fake_wecom.received) == 20


def test_rate_limiter_never_allows_more_than_capacity_in_any_window(fake_clock: FakeClock) -> None:
    limiter = RobotRateLimiter(20, 60.0, fake_clock)
    sent_at: list[float] = []
    for _ in range(200):
        while not limiter.try_acquire("r"):
            fake_clock.sleep(limiter.wait_seconds("r") or 0.5)
        sent_at.append(fake_clock.now)
        fake_clock.now += 0.7
    for start in sent_at:
        assert sum(1 for moment in sent_at if start <= moment < start + 60.0) <= 20


def test_rate_limiter_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        RobotRateLimiter(0, 60.0)


@pytest.mark.parametrize("errcode", [-1, 45009, 45033])
def test_retries_with_exponential_backoff(
    fake_wecom: FakeWeComServer, fake_clock: FakeClock, errcode: int
) -> None:
    fake_wecom.inject_errors("webhook/send", errcode, errcode)
    with _client(fake_wecom, fake_clock, backoff_base_seconds=0.5) as client:
        client.send_robot_text("robot-a", "重试后送达")
    assert fake_clock.sleeps == [0.5, 1.0]
    assert fake_wecom.requests_to("webhook/send") == 3
    assert len(fake_wecom.received) == 1 and fake_wecom.duplicates() == []


def test_gives_up_after_the_last_attempt(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    fake_wecom.inject_errors("webhook/send", -1, -1, -1)
    with (
        _client(fake_wecom, fake_clock, max_attempts=3) as client,
        pytest.raises(WeComSystemBusyError) as excinfo,
    ):
        client.send_robot_text("robot-a", "x")
    assert excinfo.value.errcode == -1 and fake_clock.sleeps == [1.0, 2.0]
    fake_wecom.inject_errors("webhook/send", 45009, 45009)
    with _client(fake_wecom, fake_clock, max_attempts=2) as client, pytest.raises(WeComRateLimitedError):
        client.send_robot_text("robot-a", "x")
    assert fake_wecom.received == []


def test_other_errors_are_not_retried(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    with _client(fake_wecom, fake_clock) as client, pytest.raises(WeComApiError) as excinfo:
        client.send_robot_text("no-such-robot", "x")
    assert excinfo.value.errcode == 93000 and fake_clock.sleeps == []


def test_access_token_is_cached_until_it_expires(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    with _client(fake_wecom, fake_clock) as client:
        first = client.access_token()
        assert client.access_token() == first
        fake_clock.now += 7200 - 301
        assert client.access_token() == first
        fake_clock.now += 2
        assert client.access_token() != first
    assert fake_wecom.requests_to("gettoken") == 2


def test_wrong_secret_is_a_token_error(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    client = WeComClient(
        "wwfakecorp", "wrong", base_url=fake_wecom.base_url, clock=fake_clock, sleep=fake_clock.sleep
    )
    with client, pytest.raises(WeComAccessTokenError) as excinfo:
        client.access_token()
    assert excinfo.value.errcode == 40001


def test_missing_credentials_are_a_token_error() -> None:
    client = WeComClient(transport=httpx.MockTransport(lambda request: httpx.Response(500)))
    with client, pytest.raises(WeComAccessTokenError, match="not configured"):
        client.add_group_msg_template("zhangsan", "x")


def test_mass_send_group_template(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    with _client(fake_wecom, fake_clock) as client:
        result = client.add_group_msg_template("zhangsan", "本周代金券抽奖开始", chat_ids=["wrChat1"])
    [message] = fake_wecom.received
    payload = json.loads(message.body)
    assert result.msgid.startswith("msg") and result.fail_list == ()
    assert payload == {
        "chat_type": "group",
        "sender": "zhangsan",
        "text": {"content": "本周代金券抽奖开始"},
        "chat_id_list": ["wrChat1"],
    }


def test_expired_token_is_refreshed_once(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    with _client(fake_wecom, fake_clock) as client:
        client.add_group_msg_template("zhangsan", "one")
        fake_wecom.expire_tokens()
        client.add_group_msg_template("zhangsan", "two")
    assert fake_wecom.requests_to("gettoken") == 2 and len(fake_wecom.received) == 2


def test_mass_send_needs_content(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> None:
    with _client(fake_wecom, fake_clock) as client, pytest.raises(MessageTooLongError):
        client.add_group_msg_template("zhangsan", "")
    with _client(fake_wecom, fake_clock) as client, pytest.raises(MessageTooLongError, match="4000"):
        client.add_group_msg_template("zhangsan", "x" * 4001)


def test_unreachable_server_is_a_transport_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with WeComClient(transport=httpx.MockTransport(refuse)) as client, pytest.raises(WeComTransportError):
        client.send_robot_text("robot-a", "x")


def test_non_json_answer_is_a_transport_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>login</html>"))
    with WeComClient(transport=transport) as client, pytest.raises(WeComTransportError, match="without JSON"):
        client.send_robot_text("robot-a", "x")


def test_server_errors_count_as_system_busy() -> None:
    answers = iter([httpx.Response(502), httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})])
    sleeps: list[float] = []
    with WeComClient(
        transport=httpx.MockTransport(lambda request: next(answers)), sleep=sleeps.append
    ) as client:
        assert client.send_robot_text("robot-a", "x")["errcode"] == 0
    assert sleeps == [1.0]
