"""Senders: the last step of an outgoing message (group robot, customer-group mass send, console).

Every :class:`OutgoingMessage` carries an idempotency key; a sender never delivers the same
key twice during its lifetime (a repeated key returns the first receipt, marked
``duplicate``). Durable "never twice" across restarts is the outbox's job: it records the
key before calling :meth:`Sender.send` and the receipt after.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal, Protocol, TextIO, runtime_checkable

from groupops.errors import ConfigurationError
from groupops.wecom.client import NewsArticle, WeComClient

__all__ = [
    "ConsoleSender",
    "MassSendSender",
    "MessageFormat",
    "OutgoingMessage",
    "RobotSender",
    "SendReceipt",
    "Sender",
]

MessageFormat = Literal["text", "markdown", "news"]


@dataclass(frozen=True)
class OutgoingMessage:
    """One message for one customer group."""

    idempotency_key: str
    group_id: str
    text: str = ""
    format: MessageFormat = "text"
    mentioned_user_ids: tuple[str, ...] = ()
    articles: tuple[NewsArticle, ...] = ()


@dataclass(frozen=True)
class SendReceipt:
    """What a sender did with a message."""

    idempotency_key: str
    sender: str
    status: Literal["sent", "duplicate"]
    sent_at: float
    remote_id: str | None = None


@runtime_checkable
class Sender(Protocol):
    """Delivers outgoing messages; the outbox worker calls ``send`` once per pending message."""

    name: str

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Deliver ``message`` (or return the earlier receipt for the same idempotency key)."""
        ...


class _OncePerKey:
    """Remembers receipts by idempotency key and serialises sends so a key is delivered once."""

    def __init__(self, sender_name: str, clock: Callable[[], float]) -> None:
        self._sender_name = sender_name
        self._clock = clock
        self._receipts: dict[str, SendReceipt] = {}
        self._lock = threading.Lock()

    def deliver(
        self, message: OutgoingMessage, deliver: Callable[[OutgoingMessage], str | None]
    ) -> SendReceipt:
        with self._lock:
            earlier = self._receipts.get(message.idempotency_key)
            if earlier is not None:
                return replace(earlier, status="duplicate")
            remote_id = deliver(message)
            receipt = SendReceipt(
                message.idempotency_key, self._sender_name, "sent", self._clock(), remote_id
            )
            self._receipts[message.idempotency_key] = receipt
            return receipt

    def was_sent(self, idempotency_key: str) -> bool:
        return idempotency_key in self._receipts


class RobotSender:
    """Sends through the group robot webhook configured for each group."""

    name = "robot"

    def __init__(
        self,
        client: WeComClient,
        webhook_keys: Mapping[str, str] | str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._webhook_keys = webhook_keys
        self._once = _OncePerKey(self.name, clock)

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Deliver ``message`` through its group's robot, at most once per idempotency key."""
        return self._once.deliver(message, self._deliver)

    def was_sent(self, idempotency_key: str) -> bool:
        """Whether this sender already delivered the key."""
        return self._once.was_sent(idempotency_key)

    def _webhook_key_for(self, group_id: str) -> str:
        if isinstance(self._webhook_keys, str):
            return self._webhook_keys
        key = self._webhook_keys.get(group_id)
        if not key:
            raise ConfigurationError(f"no group robot webhook key is configured for group {group_id!r}")
        return key

    def _deliver(self, message: OutgoingMessage) -> str | None:
        key = self._webhook_key_for(message.group_id)
        if message.format == "markdown":
            self._client.send_robot_markdown(key, message.text)
        elif message.format == "news":
            self._client.send_robot_news(key, message.articles)
        else:
            self._client.send_robot_text(key, message.text, mentioned_user_ids=message.mentioned_user_ids)
        return None


class MassSendSender:
    """Creates customer-group mass-send tasks (``add_msg_template``, ``chat_type: group``).

    WeCom delivers such a task only after the group owner confirms it in the app; ``owners``
    maps each group id to its owner's staff userid (the task ``sender``).
    """

    name = "mass_send"

    def __init__(
        self, client: WeComClient, owners: Mapping[str, str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._owners = owners
        self._once = _OncePerKey(self.name, clock)

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Create the mass-send task for ``message``'s group, at most once per idempotency key."""
        return self._once.deliver(message, self._deliver)

    def was_sent(self, idempotency_key: str) -> bool:
        """Whether this sender already created a task for the key."""
        return self._once.was_sent(idempotency_key)

    def _deliver(self, message: OutgoingMessage) -> str | None:
        owner = self._owners.get(message.group_id)
        if not owner:
            raise ConfigurationError(f"no owner (staff userid) is configured for group {message.group_id!r}")
        result = self._client.add_group_msg_template(owner, message.text, chat_ids=(message.group_id,))
        return result.msgid


class ConsoleSender:
    """Prints messages to a text stream, for trying the bot locally."""

    name = "console"

    def __init__(self, stream: TextIO | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._stream = stream
        self._once = _OncePerKey(self.name, clock)

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Print ``message`` once per idempotency key."""
        return self._once.deliver(message, self._deliver)

    def _deliver(self, message: OutgoingMessage) -> str | None:
        stream = self._stream if self._stream is not None else sys.stdout
        mentions = "".join(f"@{user_id} " for user_id in message.mentioned_user_ids)
        body = message.text or "\n".join(f"[{a.title}] {a.url}" for a in message.articles)
        stream.write(f"[{message.group_id}] ({message.format}) {mentions}{body}\n")
        stream.flush()
        return None
