"""Senders: robot, mass send and console; never the same idempotency key twice."""

from __future__ import annotations

import io
import json
import threading

import pytest

from groupops.errors import ConfigurationError
from groupops.wecom.client import NewsArticle, WeComClient, WeComSystemBusyError
from groupops.wecom.senders import ConsoleSender, MassSendSender, OutgoingMessage, RobotSender, Sender

from .conftest import FakeClock
from .fake_wecom_server import FakeWeComServer


@pytest.fixture
def client(fake_wecom: FakeWeComServer, fake_clock: FakeClock) -> WeComClient:
    return WeComClient(
        "wwfakecorp", "fake-secret", base_url=fake_wecom.base_url, clock=fake_clock, sleep=fake_clock.sleep
    )


def test_senders_satisfy_the_protocol(client: WeComClient) -> None:
    for sender in (RobotSender(client, "robot-a"), MassSendSender(client, {}), ConsoleSender(io.StringIO())):
        assert isinstance(sender, Sender)


def test_robot_sender_sends_each_key_once(client: WeComClient, fake_wecom: FakeWeComServer) -> None:
    sender = RobotSender(client, {"wrChat1": "robot-a"})
    message = OutgoingMessage("key-1", "wrChat1", "早上好", mentioned_user_ids=("wmA",))
    first = sender.send(message)
    second = sender.send(message)
    assert (first.status, second.status) == ("sent", "duplicate")
    assert second.sent_at == first.sent_at and sender.was_sent("key-1")
    assert len(fake_wecom.received) == 1 and fake_wecom.duplicates() == []


def test_robot_sender_formats(client: WeComClient, fake_wecom: FakeWeComServer) -> None:
    sender = RobotSender(client, "robot-b")
    sender.send(OutgoingMessage("k1", "g", "**投票结果**", format="markdown"))
    sender.send(OutgoingMessage("k2", "g", format="news", articles=(NewsArticle("新品", "https://e.com/n"),)))
    assert [json.loads(message.body)["msgtype"] for message in fake_wecom.received] == ["markdown", "news"]


def test_robot_sender_needs_a_webhook_for_the_group(client: WeComClient) -> None:
    with pytest.raises(ConfigurationError, match="wrUnknown"):
        RobotSender(client, {"wrChat1": "robot-a"}).send(OutgoingMessage("k", "wrUnknown", "x"))


def test_failed_send_can_be_retried_and_is_then_delivered_once(
    client: WeComClient, fake_wecom: FakeWeComServer
) -> None:
    client.max_attempts = 1
    fake_wecom.inject_errors("webhook/send", -1)
    sender = RobotSender(client, "robot-a")
    message = OutgoingMessage("key-retry", "g", "x")
    with pytest.raises(WeComSystemBusyError):
        sender.send(message)
    assert not sender.was_sent("key-retry")
    assert sender.send(message).status == "sent"
    assert sender.send(message).status == "duplicate"
    assert len(fake_wecom.received) == 1


def test_concurrent_sends_of_one_key_deliver_once(client: WeComClient, fake_wecom: FakeWeComServer) -> None:
    sender = RobotSender(client, "robot-a")
    message = OutgoingMessage("same", "g", "并发")
    statuses: list[str] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(sender.send(message).status)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == ["duplicate"] * 7 + ["sent"]
    assert len(fake_wecom.received) == 1


def test_mass_send_sender_targets_the_group_owner(client: WeComClient, fake_wecom: FakeWeComServer) -> None:
    sender = MassSendSender(client, {"wrChat1": "zhangsan"})
    receipt = sender.send(OutgoingMessage("k-mass", "wrChat1", "周末福利"))
    assert receipt.remote_id and receipt.remote_id.startswith("msg")
    assert sender.send(OutgoingMessage("k-mass", "wrChat1", "周末福利")).remote_id == receipt.remote_id
    payload = json.loads(fake_wecom.received[0].body)
    assert payload["chat_type"] == "group" and payload["sender"] == "zhangsan"
    assert payload["chat_id_list"] == ["wrChat1"] and len(fake_wecom.received) == 1
    with pytest.raises(ConfigurationError, match="owner"):
        sender.send(OutgoingMessage("k2", "wrOther", "x"))


def test_console_sender_prints_once() -> None:
    stream = io.StringIO()
    sender = ConsoleSender(stream)
    message = OutgoingMessage("k", "wrChat1", "<b>不是HTML</b>", mentioned_user_ids=("wmA",))
    sender.send(message)
    sender.send(message)
    assert stream.getvalue() == "[wrChat1] (text) @wmA <b>不是HTML</b>\n"
