"""A local fake of the WeCom server API for tests (127.0.0.1, random port, own thread).

Implements ``cgi-bin/gettoken``, ``cgi-bin/webhook/send`` and
``cgi-bin/externalcontact/add_msg_template`` with WeCom's answers and error codes. Errors
can be injected per endpoint (``-1`` system busy, ``45009`` rate limit, …), tokens can be
expired, and every delivered message is recorded so tests can look for duplicates.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeWeComServer", "ReceivedMessage"]

_TEXT_LIMIT = 2048
_MARKDOWN_LIMIT = 4096


@dataclass(frozen=True)
class ReceivedMessage:
    """A message the fake server accepted."""

    endpoint: str
    target: str
    body: str


@dataclass
class _State:
    corp_id: str
    corp_secret: str
    webhook_keys: set[str]
    valid_tokens: set[str] = field(default_factory=set)
    token_counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    injected: dict[str, deque[int]] = field(default_factory=dict)
    received: list[ReceivedMessage] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeWeComServer:
    """Start with ``with FakeWeComServer() as server:``; ``server.base_url`` is the API root."""

    def __init__(
        self,
        corp_id: str = "wwfakecorp",
        corp_secret: str = "fake-secret",
        webhook_keys: tuple[str, ...] = ("robot-a", "robot-b"),
    ) -> None:
        self.state = _State(corp_id=corp_id, corp_secret=corp_secret, webhook_keys=set(webhook_keys))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self.state))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeWeComServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def inject_errors(self, endpoint: str, *errcodes: int) -> None:
        """Answer the next calls of ``endpoint`` (e.g. ``webhook/send``) with these errcodes."""
        with self.state.lock:
            self.state.injected.setdefault(endpoint, deque()).extend(errcodes)

    def expire_tokens(self) -> None:
        """Make every issued access token invalid (the next use answers 42001)."""
        with self.state.lock:
            self.state.valid_tokens.clear()

    @property
    def received(self) -> list[ReceivedMessage]:
        with self.state.lock:
            return list(self.state.received)

    def requests_to(self, endpoint: str) -> int:
        with self.state.lock:
            return self.state.requests[endpoint]

    def duplicates(self) -> list[ReceivedMessage]:
        """Messages delivered more than once (same endpoint, target and body)."""
        counts = Counter(self.received)
        return [message for message, count in counts.items() if count > 1]


def _handler_for(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            path, query = self._split()
            if path == "/cgi-bin/gettoken":
                self._answer(_gettoken(state, query))
            else:
                self._answer({"errcode": 404, "errmsg": "no such endpoint"}, status=404)

        def do_POST(self) -> None:
            path, query = self._split()
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            if path == "/cgi-bin/webhook/send":
                self._answer(_webhook_send(state, query, body))
            elif path == "/cgi-bin/externalcontact/add_msg_template":
                self._answer(_add_msg_template(state, query, body))
            else:
                self._answer({"errcode": 404, "errmsg": "no such endpoint"}, status=404)

        def _split(self) -> tuple[str, dict[str, str]]:
            parts = urlsplit(self.path)
            return parts.path, {key: values[0] for key, values in parse_qs(parts.query).items()}

        def _answer(self, payload: dict[str, Any], status: int = 200) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _injected(state: _State, endpoint: str) -> dict[str, Any] | None:
    with state.lock:
        state.requests[endpoint] += 1
        queue = state.injected.get(endpoint)
        if queue:
            code = queue.popleft()
            return {
                "errcode": code,
                "errmsg": {-1: "system busy", 45009: "api freq out of limit"}.get(code, "injected"),
            }
    return None


def _gettoken(state: _State, query: dict[str, str]) -> dict[str, Any]:
    injected = _injected(state, "gettoken")
    if injected:
        return injected
    if query.get("corpid") != state.corp_id:
        return {"errcode": 40013, "errmsg": "invalid corpid"}
    if query.get("corpsecret") != state.corp_secret:
        return {"errcode": 40001, "errmsg": "invalid credential"}
    with state.lock:
        token = f"fake-token-{next(state.token_counter)}"
        state.valid_tokens.add(token)
    return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}


def _webhook_send(state: _State, query: dict[str, str], body: str) -> dict[str, Any]:
    injected = _injected(state, "webhook/send")
    if injected:
        return injected
    key = query.get("key", "")
    if key not in state.webhook_keys:
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    problem = _robot_payload_problem(body)
    if problem:
        return problem
    with state.lock:
        state.received.append(ReceivedMessage("webhook/send", key, body))
    return {"errcode": 0, "errmsg": "ok"}


def _robot_payload_problem(body: str) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return {"errcode": 40016, "errmsg": "invalid json"}
    msgtype = payload.get("msgtype")
    if msgtype == "text":
        if len(payload.get("text", {}).get("content", "").encode("utf-8")) > _TEXT_LIMIT:
            return {"errcode": 40058, "errmsg": "text content exceed max length"}
    elif msgtype == "markdown":
        if len(payload.get("markdown", {}).get("content", "").encode("utf-8")) > _MARKDOWN_LIMIT:
            return {"errcode": 40058, "errmsg": "markdown content exceed max length"}
    elif msgtype != "news":
        return {"errcode": 40008, "errmsg": "invalid message type"}
    return None


def _add_msg_template(state: _State, query: dict[str, str], body: str) -> dict[str, Any]:
    injected = _injected(state, "externalcontact/add_msg_template")
    if injected:
        return injected
    token = query.get("access_token", "")
    with state.lock:
        if token not in state.valid_tokens:
            return {
                "errcode": 42001 if token.startswith("fake-token-") else 40014,
                "errmsg": "invalid access_token",
            }
    payload = json.loads(body)
    if payload.get("chat_type") != "group" or not payload.get("sender"):
        return {"errcode": 40003, "errmsg": "chat_type group needs a sender"}
    with state.lock:
        state.received.append(ReceivedMessage("externalcontact/add_msg_template", payload["sender"], body))
        msgid = f"msg{len(state.received):08d}"
    return {"errcode": 0, "errmsg": "ok", "fail_list": [], "msgid": msgid}
