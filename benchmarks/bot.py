"""Bot end-to-end latency: WeCom callback POST → receiver → bot core → outbox → robot sender → (fake) WeCom.

Usage: python benchmarks/bot.py [--rate 1000] [--seconds 5] [--groups 50] [--clients 16] [--workers 2]

A bounded loopback load: ``--rate`` encrypted text-message callbacks per second for
``--seconds`` (at most ``--clients`` requests in flight; a generator that falls behind
reports the rate it really reached), each a member's first 签到 of the day, which makes
exactly one group message. Robot senders point at the fake WeCom server from the tests, with
the per-robot budget lifted (the load would otherwise be limited to 20 messages/minute).

Prints p50/p99 of callback-to-delivered latency, checks that every event produced exactly
one delivered action (none lost, none duplicated), and, measured in the same run, the
baseline: the receiver's GET URL verification alone. Target (issue 10): p99 < 50 ms at
1,000 events/s for 30 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from groupops.bot.outbox import OutboxPolicy, OutboxWorker
from groupops.bot.receiver import wecom_callback_router
from groupops.config import Settings
from groupops.store.models.bot import OutboxItem
from groupops.store.workspace import Workspace
from groupops.wecom.client import WeComClient
from groupops.wecom.crypto import WeComCrypto
from groupops.wecom.senders import OutgoingMessage, RobotSender, SendReceipt
from wecom.fake_wecom_server import FakeWeComServer

TOKEN, AES_KEY, CORP_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"


@dataclass
class Timings:
    posted: dict[str, float] = field(default_factory=dict)
    delivered: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class TimedSender:
    """Wraps the robot sender and notes when each key was delivered."""

    name = "robot"

    def __init__(self, inner: RobotSender, timings: Timings) -> None:
        self.inner, self.timings = inner, timings

    def send(self, message: OutgoingMessage) -> SendReceipt:
        receipt = self.inner.send(message)
        with self.timings.lock:
            self.timings.delivered[message.idempotency_key] = time.perf_counter()
        return receipt


def _callback(crypto: WeComCrypto, number: int, groups: int, stamp: int) -> tuple[str, dict[str, str], bytes]:
    msg_id = f"bench{number:09d}"
    plain = (
        f"<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>wmBench{number:07d}</FromUserName>"
        f"<CreateTime>{stamp}</CreateTime><MsgType>text</MsgType><Content>签到</Content>"
        f"<MsgId>{msg_id}</MsgId><ChatId>wrBench{number % groups:04d}</ChatId></xml>"
    )
    envelope = crypto.encrypt_message(plain, f"n{number}", str(stamp))
    encrypted = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    params = {"msg_signature": signature, "timestamp": str(stamp), "nonce": f"n{number}"}
    return f"msg:{msg_id}", params, f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class Server:
    """uvicorn on a free loopback port in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _schedule(rate: float, seconds: float) -> Iterator[tuple[int, float]]:
    start = time.perf_counter()
    for number in range(int(rate * seconds)):
        yield number, start + number / rate


def _baseline(client: httpx.Client, crypto: WeComCrypto, count: int) -> list[float]:
    stamp, nonce = "1717401600", "verify"
    echostr = crypto.encrypt_message("echo-1616140317555161061", nonce, stamp)
    encrypted = echostr.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = echostr.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    params = {"msg_signature": signature, "timestamp": stamp, "nonce": nonce, "echostr": encrypted}
    latencies = []
    for _ in range(count):
        begin = time.perf_counter()
        response = client.get("/wecom/callback", params=params)
        latencies.append(time.perf_counter() - begin)
        assert response.text == "echo-1616140317555161061"
    return latencies


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="groupops-bot-bench-"))
    settings = Settings(
        data=workdir / "data",
        database_url=args.database_url,
        wecom_token=TOKEN,
        wecom_aes_key=AES_KEY,
        wecom_corp_id=CORP_ID,
        quiet_hours="",
    )
    workspace = Workspace(settings)
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    stamp = int(time.time())
    total = int(args.rate * args.seconds)
    print(f"preparing {total:,} encrypted callbacks for {args.groups} groups …", flush=True)
    callbacks = [_callback(crypto, number, args.groups, stamp) for number in range(total)]
    timings = Timings()
    app = FastAPI()
    app.include_router(wecom_callback_router(workspace, crypto=crypto), prefix="/wecom/callback")
    stop = threading.Event()
    with FakeWeComServer(webhook_keys=("bench-robot",)) as fake, Server(app) as base_url:
        client = WeComClient(base_url=fake.base_url, robot_messages_per_minute=10**9, max_attempts=4)
        sender = TimedSender(RobotSender(client, "bench-robot"), timings)
        workers = [
            OutboxWorker(workspace.database, {"robot": sender}, policy=OutboxPolicy(batch_size=50))  # type: ignore[dict-item]
            for _ in range(args.workers)
        ]
        threads = [
            threading.Thread(target=w.run_forever, args=(stop, args.poll_seconds), daemon=True)
            for w in workers
        ]
        for thread in threads:
            thread.start()
        with httpx.Client(base_url=base_url, timeout=10) as http:
            baseline = _baseline(http, crypto, args.baseline)
            statuses: list[int] = []

            def post(number: int) -> None:
                event_id, params, body = callbacks[number]
                with timings.lock:
                    timings.posted[event_id] = time.perf_counter()
                statuses.append(http.post("/wecom/callback", params=params, content=body).status_code)

            began = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                for number, due in _schedule(args.rate, args.seconds):
                    delay = due - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(post, number)
            load_seconds = time.perf_counter() - began
        deadline = time.perf_counter() + 60
        while len(timings.delivered) < total and time.perf_counter() < deadline:
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        duplicates = fake.duplicates()
        received = len(fake.received)
    with workspace.database.session() as session:
        keys = {
            key: payload
            for key, payload in session.execute(select(OutboxItem.idempotency_key, OutboxItem.payload))
        }
    workspace.close()
    latencies = [
        timings.delivered[key] - timings.posted[payload["event_id"]]
        for key, payload in keys.items()
        if key in timings.delivered and payload.get("event_id") in timings.posted
    ]
    _report(args, total, load_seconds, statuses, latencies, baseline, received, duplicates, len(keys))
    return 0 if received == total and not duplicates else 1


def _report(
    args: argparse.Namespace,
    total: int,
    load_seconds: float,
    statuses: list[int],
    latencies: list[float],
    baseline: list[float],
    received: int,
    duplicates: list[object],
    queued: int,
) -> None:
    p50, p99 = _percentile(latencies, 0.5) * 1000, _percentile(latencies, 0.99) * 1000
    base50, base99 = _percentile(baseline, 0.5) * 1000, _percentile(baseline, 0.99) * 1000
    ok = sum(1 for status in statuses if status == 200)
    print(f"offered   {args.rate:,.0f} events/s for {args.seconds:g} s = {total:,} callbacks")
    print(f"achieved  {total / load_seconds:,.0f} events/s offered by the generator; {ok:,} answered 200")
    print(f"baseline  GET URL verification alone: p50 {base50:.2f} ms, p99 {base99:.2f} ms")
    print(f"pipeline  callback → delivered:       p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(f"ratio     p50 {p50 / base50:.1f}× / p99 {p99 / base99:.1f}× the verification baseline")
    print(f"actions   queued {queued:,}, delivered to fake WeCom {received:,}, duplicates {len(duplicates)}")
    lost = total - received
    print(
        f"verdict   lost {lost}, duplicated {len(duplicates)}; target p99 < 50 ms: {'met' if p99 < 50 else 'NOT met'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="callbacks per second offered")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the load (issue target: 30)")
    parser.add_argument("--groups", type=int, default=50, help="groups the members are spread over")
    parser.add_argument("--clients", type=int, default=16, help="requests in flight at most")
    parser.add_argument("--workers", type=int, default=1, help="outbox worker threads")
    parser.add_argument("--poll-seconds", type=float, default=0.02, help="worker poll interval when idle")
    parser.add_argument("--baseline", type=int, default=300, help="GET verifications for the baseline")
    parser.add_argument(
        "--database-url", default=None, help="operational store (default: SQLite in a temp dir)"
    )
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
