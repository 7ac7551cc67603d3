"""WeCom server API client: access token, group robot webhook and customer-group mass send.

Transport, base URL, clock and sleep are injected, so tests run against a local fake
server with a fake clock and never wait for real.

    WeComApiError                   WeCom answered with a non-zero errcode
    ├── WeComSystemBusyError        -1, still busy after the retries
    ├── WeComRateLimitedError       45009 / 45033, still limited after the retries
    └── WeComAccessTokenError       gettoken failed, or the token was refused twice
    WeComTransportError             the server could not be reached
    MessageTooLongError             refused before sending: the text is over WeCom's byte limit
    RobotRateLimitExceededError     refused before sending: the robot's per-minute budget is spent
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from groupops.errors import GroupOpsError

__all__ = [
    "MARKDOWN_MAX_BYTES",
    "MASS_SEND_TEXT_MAX_BYTES",
    "TEXT_MAX_BYTES",
    "MassSendResult",
    "MessageTooLongError",
    "NewsArticle",
    "RobotRateLimitExceededError",
    "RobotRateLimiter",
    "WeComAccessTokenError",
    "WeComApiError",
    "WeComClient",
    "WeComRateLimitedError",
    "WeComSystemBusyError",
    "WeComTransportError",
]

TEXT_MAX_BYTES = 2048
MARKDOWN_MAX_BYTES = 4096
MASS_SEND_TEXT_MAX_BYTES = 4000
NEWS_MAX_ARTICLES = 8
SYSTEM_BUSY = -1
RATE_LIMIT_CODES = frozenset({45009, 45033})
TOKEN_INVALID_CODES = frozenset({40014, 42001})
_TOKEN_EXPIRY_MARGIN_SECONDS = 300.0

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class WeComApiError(GroupOpsError):
    """WeCom answered with a non-zero ``errcode``."""

    def __init__(self, errcode: int, errmsg: str, endpoint: str) -> None:
        super().__init__(f"WeCom {endpoint} failed with errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.endpoint = endpoint


class WeComSystemBusyError(WeComApiError):
    """WeCom kept answering -1 (system busy) after every retry."""


class WeComRateLimitedError(WeComApiError):
    """WeCom kept answering 45009 / 45033 (frequency or concurrency limit) after every retry."""


class WeComAccessTokenError(WeComApiError):
    """No access token could be obtained, or WeCom refused a fresh one."""


class WeComTransportError(GroupOpsError):
    """The WeCom server could not be reached or answered something that is not JSON."""


class MessageTooLongError(GroupOpsError):
    """A message is over WeCom's byte limit; it was not sent."""


class RobotRateLimitExceededError(GroupOpsError):
    """The robot already sent its per-minute budget; waiting longer than allowed was refused."""

    def __init__(self, webhook_key_hint: str, wait_seconds: float) -> None:
        super().__init__(
            f"robot …{webhook_key_hint} is over its per-minute budget; next send possible in {wait_seconds:.1f} s"
        )
        self.wait_seconds = wait_seconds


@dataclass(frozen=True)
class NewsArticle:
    """One card of a robot ``news`` message."""

    title: str
    url: str
    description: str = ""
    picture_url: str = ""

    def as_payload(self) -> dict[str, str]:
        payload = {"title": self.title, "url": self.url}
        if self.description:
            payload["description"] = self.description
        if self.picture_url:
            payload["picurl"] = self.picture_url
        return payload


@dataclass(frozen=True)
class MassSendResult:
    """Answer of ``add_msg_template``: the task id and the targets WeCom could not reach."""

    msgid: str
    fail_list: tuple[str, ...] = ()


class RobotRateLimiter:
    """A token bucket per robot: ``capacity`` tokens, each returning one ``period`` after it was spent.

    Refilling each token exactly one period after use (instead of a constant trickle) means no
    window of ``period`` seconds ever holds more than ``capacity`` sends, which is the limit
    WeCom enforces (20 messages per minute per robot).
    """

    def __init__(
        self, capacity: int = 20, period_seconds: float = 60.0, clock: Clock = time.monotonic
    ) -> None:
        if capacity < 1 or period_seconds <= 0:
            raise ValueError("capacity must be ≥ 1 and period_seconds > 0")
        self.capacity = capacity
        self.period_seconds = period_seconds
        self._clock = clock
        self._spent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, robot: str) -> float:
        """Seconds until ``robot`` has a token again (0 when one is available now)."""
        with self._lock:
            spent = self._refilled(robot)
            if len(spent) < self.capacity:
                return 0.0
            return max(0.0, spent[0] + self.period_seconds - self._clock())

    def try_acquire(self, robot: str) -> bool:
        """Spend a token for ``robot`` if one is available."""
        with self._lock:
            spent = self._refilled(robot)
            if len(spent) >= self.capacity:
                return False
            spent.append(self._clock())
            return True

    def _refilled(self, robot: str) -> deque[float]:
        spent = self._spent.setdefault(robot, deque())
        now = self._clock()
        while spent and spent[0] + self.period_seconds <= now:
            spent.popleft()
        return spent


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def _check_length(text: str, limit: int, what: str) -> None:
    size = _utf8_length(text)
    if not text.strip():
        raise MessageTooLongError(f"{what} is empty; WeCom refuses empty messages")
    if size > limit:
        raise MessageTooLongError(
            f"{what} is {size} bytes in UTF-8, over WeCom's limit of {limit} bytes "
            f"(a Chinese character takes 3 bytes); shorten it or split it"
        )


def _key_hint(webhook_key: str) -> str:
    return webhook_key[-4:]


@dataclass
class _CachedToken:
    value: str = ""
    expires_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class WeComClient:
    """A small synchronous client for the WeCom endpoints GroupOps uses."""

    def __init__(
        self,
        corp_id: str | None = None,
        corp_secret: str | None = None,
        *,
        base_url: str = "https://qyapi.weixin.qq.com",
        transport: httpx.BaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        max_attempts: int = 4,
        backoff_base_seconds: float = 1.0,
        robot_messages_per_minute: int = 20,
        max_rate_limit_wait_seconds: float = 60.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.corp_id = corp_id
        self._corp_secret = corp_secret
        self._http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout_seconds)
        self._clock = clock
        self._sleep = sleep
        self.max_attempts = max(1, max_attempts)
        self.backoff_base_seconds = backoff_base_seconds
        self.max_rate_limit_wait_seconds = max_rate_limit_wait_seconds
        self.robot_rate_limiter = RobotRateLimiter(robot_messages_per_minute, 60.0, clock)
        self._token = _CachedToken()

    def __enter__(self) -> WeComClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    # --- access token -------------------------------------------------------------
    def access_token(self, *, refresh: bool = False) -> str:
        """The cached access token, fetched with ``gettoken`` when missing, expiring or ``refresh``."""
        with self._token.lock:
            if refresh or not self._token.value or self._clock() >= self._token.expires_at:
                self._fetch_token()
            return self._token.value

    def _fetch_token(self) -> None:
        if not self.corp_id or not self._corp_secret:
            raise WeComAccessTokenError(0, "corp id and secret are not configured", "gettoken")
        params = {"corpid": self.corp_id, "corpsecret": self._corp_secret}
        try:
            body = self._with_retries("gettoken", lambda: self._get("/cgi-bin/gettoken", params))
        except WeComApiError as error:
            if isinstance(error, WeComAccessTokenError):
                raise
            raise WeComAccessTokenError(error.errcode, error.errmsg, "gettoken") from error
        expires_in = float(body.get("expires_in", 7200))
        self._token.value = str(body["access_token"])
        self._token.expires_at = self._clock() + max(0.0, expires_in - _TOKEN_EXPIRY_MARGIN_SECONDS)

    # --- group robot -------------------------------------------------------------
    def send_robot_text(
        self,
        webhook_key: str,
        content: str,
        *,
        mentioned_user_ids: Sequence[str] = (),
        mentioned_mobiles: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Send a ``text`` message through a group robot (≤ 2048 UTF-8 bytes)."""
        _check_length(content, TEXT_MAX_BYTES, "robot text")
        text: dict[str, Any] = {"content": content}
        if mentioned_user_ids:
            text["mentioned_list"] = list(mentioned_user_ids)
        if mentioned_mobiles:
            text["mentioned_mobile_list"] = list(mentioned_mobiles)
        return self.send_robot_payload(webhook_key, {"msgtype": "text", "text": text})

    def send_robot_markdown(self, webhook_key: str, content: str) -> dict[str, Any]:
        """Send a ``markdown`` message through a group robot (≤ 4096 UTF-8 bytes)."""
        _check_length(content, MARKDOWN_MAX_BYTES, "robot markdown")
        return self.send_robot_payload(webhook_key, {"msgtype": "markdown", "markdown": {"content": content}})

    def send_robot_news(self, webhook_key: str, articles: Sequence[NewsArticle]) -> dict[str, Any]:
        """Send a ``news`` message (1–8 article cards) through a group robot."""
        if not 1 <= len(articles) <= NEWS_MAX_ARTICLES:
            raise MessageTooLongError(
                f"a news message holds 1 to {NEWS_MAX_ARTICLES} articles, got {len(articles)}"
            )
        for article in articles:
            _check_length(article.title, 128, "news title")
            if article.description and _utf8_length(article.description) > 512:
                raise MessageTooLongError("news description is over WeCom's limit of 512 bytes")
        payload = {"msgtype": "news", "news": {"articles": [article.as_payload() for article in articles]}}
        return self.send_robot_payload(webhook_key, payload)

    def send_robot_payload(self, webhook_key: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Post a robot payload, waiting for (or refusing on) the client-side rate limit first."""
        if not webhook_key:
            raise WeComApiError(93000, "webhook key is empty", "webhook/send")
        self._take_robot_token(webhook_key)
        return self._with_retries(
            "webhook/send", lambda: self._post("/cgi-bin/webhook/send", {"key": webhook_key}, payload)
        )

    def _take_robot_token(self, webhook_key: str) -> None:
        while not self.robot_rate_limiter.try_acquire(webhook_key):
            wait = self.robot_rate_limiter.wait_seconds(webhook_key)
            if wait > self.max_rate_limit_wait_seconds:
                raise RobotRateLimitExceededError(_key_hint(webhook_key), wait)
            self._sleep(max(wait, 0.001))

    # --- customer-group mass send ------------------------------------------------------
    def add_group_msg_template(
        self,
        sender: str,
        text: str,
        *,
        chat_ids: Sequence[str] = (),
        attachments: Sequence[Mapping[str, Any]] = (),
    ) -> MassSendResult:
        """Create a customer-group mass-send task (``chat_type: group``) for staff ``sender``."""
        if text:
            _check_length(text, MASS_SEND_TEXT_MAX_BYTES, "mass-send text")
        elif not attachments:
            raise MessageTooLongError("a mass-send task needs a text or at least one attachment")
        payload: dict[str, Any] = {"chat_type": "group", "sender": sender}
        if text:
            payload["text"] = {"content": text}
        if chat_ids:
            payload["chat_id_list"] = list(chat_ids)
        if attachments:
            payload["attachments"] = [dict(attachment) for attachment in attachments]
        body = self._call_with_token("/cgi-bin/externalcontact/add_msg_template", payload)
        return MassSendResult(msgid=str(body.get("msgid", "")), fail_list=tuple(body.get("fail_list", ())))

    def _call_with_token(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        endpoint = path.rsplit("/cgi-bin/", 1)[-1]
        for refreshed in (False, True):
            token = self.access_token(refresh=refreshed)
            try:
                call = functools.partial(self._post, path, {"access_token": token}, payload)
                return self._with_retries(endpoint, call)
            except WeComApiError as error:
                if error.errcode not in TOKEN_INVALID_CODES:
                    raise
                if refreshed:
                    raise WeComAccessTokenError(error.errcode, error.errmsg, endpoint) from error
        raise AssertionError("unreachable")  # pragma: no cover

    # --- HTTP and retries --------------------------------------------------------------
    def _with_retries(self, endpoint: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        for attempt in range(self.max_attempts):
            body = call()
            errcode = int(body.get("errcode", 0) or 0)
            if errcode == 0:
                return body
            retryable = errcode == SYSTEM_BUSY or errcode in RATE_LIMIT_CODES
            if not retryable or attempt == self.max_attempts - 1:
                raise _api_error(errcode, str(body.get("errmsg", "")), endpoint)
            self._sleep(self.backoff_base_seconds * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        return self._request("GET", path, params, None)

    def _post(self, path: str, params: Mapping[str, str], payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._request("POST", path, params, payload)

    def _request(
        self, method: str, path: str, params: Mapping[str, str], payload: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        content = None if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"} if content is not None else {}
        try:
            response = self._http.request(method, path, params=dict(params), content=content, headers=headers)
        except httpx.HTTPError as error:
            raise WeComTransportError(f"WeCom {path} unreachable: {type(error).__name__}: {error}") from error
        return _json_body(response, path)


def _json_body(response: httpx.Response, path: str) -> dict[str, Any]:
    if response.status_code >= 500:
        return {"errcode": SYSTEM_BUSY, "errmsg": f"HTTP {response.status_code}"}
    try:
        body = response.json()
    except ValueError as error:
        raise WeComTransportError(
            f"WeCom {path} answered HTTP {response.status_code} without JSON"
        ) from error
    if not isinstance(body, dict):
        raise WeComTransportError(f"WeCom {path} answered JSON that is not an object")
    return body


def _api_error(errcode: int, errmsg: str, endpoint: str) -> WeComApiError:
    if errcode == SYSTEM_BUSY:
        return WeComSystemBusyError(errcode, errmsg, endpoint)
    if errcode in RATE_LIMIT_CODES:
        return WeComRateLimitedError(errcode, errmsg, endpoint)
    return WeComApiError(errcode, errmsg, endpoint)
