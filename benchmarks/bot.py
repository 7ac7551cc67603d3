"""Bot pipeline under load: WeCom callback POST → receiver → bot core → outbox → robot sender → (fake) WeCom.

Usage: python benchmarks/bot.py [--rate 1000] [--seconds 10] [--groups 50] [--database-url URL]
Full run (issue 10): python benchmarks/bot.py --seconds 30 --rate 1000

A bounded, open-loop loopback load: ``--rate`` encrypted text-message callbacks per second for
``--seconds``, sent on schedule by a separate load-generator process (at most ``--clients``
requests in flight), each a member's first 签到 of the day, which makes exactly one group
message. The server side is the app ``groupops bot serve`` runs (``serve_app``): by default the web
process (uvicorn) verifies and decrypts each callback and forwards it to the writer process, which
applies the callbacks that arrived together in one transaction and runs the outbox worker
(``--layout single-process``: all in one process, the applier batching waiting callbacks).
Robot senders point at the fake WeCom server from the tests, one robot per group, with WeCom's real budget of 20 messages per minute
per robot, so most actions queue rather than send during the run.

Printed, measured in the same run:

- baseline: the receiver's GET URL verification alone (crypto + HTTP, no database);
- received → durably enqueued: the callback's round trip; the receiver answers only after the
  one transaction holding the callback log, the bot state and the outbox rows has committed;
  also from each request's scheduled send time, which shows any queueing in the generator;
- enqueued → sent, for the actions the rate limit let out during the run;
- after replaying a sample of callbacks (WeCom's retries) and draining what the budget allows:
  lost and duplicated actions, sent rows vs. messages the fake server received.

Target (issue 10): p99 received → enqueued < 50 ms at 1,000 events/s for 30 s; the verdict
asks it of both the round trip and the time from the scheduled send.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from groupops.bot.runtime import ServeOptions, serve_app
from groupops.config import Settings
from groupops.store.models.base import utc_now
from groupops.store.models.bot import CallbackEventLog, OutboxItem
from groupops.store.workspace import Workspace
from groupops.wecom.crypto import WeComCrypto
from wecom.fake_wecom_server import FakeWeComServer

TOKEN, AES_KEY, CORP_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
ECHO = "echo-1616140317555161061"


# --- the load generator (a separate process) ----------------------------------------------------
def _between(text_value: str, start: str, end: str) -> str:
    return text_value.split(start, 1)[1].split(end, 1)[0]


def _callback(crypto: WeComCrypto, number: int, groups: int, stamp: int) -> tuple[str, bytes]:
    msg_id = f"bench{number:09d}"
    plain = (
        f"<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>wmBench{number:07d}</FromUserName>"
        f"<CreateTime>{stamp}</CreateTime><MsgType>text</MsgType><Content>签到</Content>"
        f"<MsgId>{msg_id}</MsgId><ChatId>wrBench{number % groups:04d}</ChatId></xml>"
    )
    envelope = crypto.encrypt_message(plain, f"n{number}", str(stamp))
    query = urlencode(
        {
            "msg_signature": _between(envelope, "<MsgSignature><![CDATA[", "]]>"),
            "timestamp": str(stamp),
            "nonce": f"n{number}",
        }
    )
    body = f"<xml><Encrypt><![CDATA[{_between(envelope, '<Encrypt><![CDATA[', ']]>')}]]></Encrypt></xml>"
    return f"/wecom/callback?{query}", body.encode()


def _verification_path(crypto: WeComCrypto) -> str:
    envelope = crypto.encrypt_message(ECHO, "verify", "1717401600")
    query = {
        "msg_signature": _between(envelope, "<MsgSignature><![CDATA[", "]]>"),
        "timestamp": "1717401600",
        "nonce": "verify",
        "echostr": _between(envelope, "<Encrypt><![CDATA[", "]]>"),
    }
    return f"/wecom/callback?{urlencode(query)}"


class _Connection:
    """One keep-alive HTTP/1.1 connection (reopened after an error)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.connection = http.client.HTTPConnection(host, port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        try:
            self.connection.request(method, path, body=body)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            return 599, b""


def _generate(base_url: str, options: dict[str, Any], results: Any) -> None:
    """Runs in the generator process: baseline GETs, then the scheduled POST load, then replays."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", int(parts.port or 80)
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    total, rate = int(options["rate"] * options["seconds"]), float(options["rate"])
    stamp = int(time.time())
    callbacks = [_callback(crypto, number, options["groups"], stamp) for number in range(total)]
    baseline = _baseline(_Connection(host, port), _verification_path(crypto), options["baseline"])
    results.put(("ready", None))
    records, began, finished = _load(host, port, callbacks, rate, options["clients"])
    replay_statuses = _replay(_Connection(host, port), callbacks, options["replays"])
    results.put(("done", (baseline, records, finished - began, replay_statuses)))


def _baseline(connection: _Connection, path: str, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        begin = time.perf_counter()
        status, body = connection.request("GET", path)
        latencies.append(time.perf_counter() - begin)
        if status != 200 or body.decode() != ECHO:
            raise RuntimeError(f"URL verification failed: {status} {body[:200]!r}")
    return latencies


def _load(
    host: str, port: int, callbacks: list[tuple[str, bytes]], rate: float, clients: int
) -> tuple[list[tuple[int, int, float, float, float]], float, float]:
    """Send each callback at its scheduled time over ``clients`` keep-alive connections.

    One asyncio loop with raw sockets and requests built beforehand, so the generator's own
    cost stays small: (number, status, round trip, from the schedule, send lateness).
    """
    requests = [_request_bytes(host, port, path, body) for path, body in callbacks]
    return asyncio.run(_load_async(host, port, requests, rate, clients))


def _request_bytes(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _load_async(
    host: str, port: int, requests: list[bytes], rate: float, clients: int
) -> tuple[list[tuple[int, int, float, float, float]], float, float]:
    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    records: list[tuple[int, int, float, float, float]] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while (item := await due.get()) is not None:
            number, scheduled = item
            begin = time.perf_counter()
            writer.write(requests[number])
            status = await _read_response(reader)
            end = time.perf_counter()
            records.append((number, status, end - begin, end - scheduled, begin - scheduled))
        writer.close()

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    began = time.perf_counter()
    for number in range(len(requests)):
        scheduled = began + number / rate
        delay = scheduled - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        due.put_nowait((number, scheduled))
    for _ in tasks:
        due.put_nowait(None)
    await asyncio.gather(*tasks)
    return records, began, time.perf_counter()


async def _read_response(reader: asyncio.StreamReader) -> int:
    """The status of one HTTP/1.1 response with a Content-Length body (read and dropped)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:")), 0
    )
    await reader.readexactly(length)
    return int(lines[0].split(b" ", 2)[1])


def _replay(connection: _Connection, callbacks: list[tuple[str, bytes]], count: int) -> list[int]:
    """WeCom's retries: the same callbacks again; each must be answered and change nothing."""
    step = max(1, len(callbacks) // max(1, count))
    return [connection.request("POST", *callbacks[number])[0] for number in range(0, len(callbacks), step)][
        :count
    ]


# --- the fake WeCom (its own process, as the real one is remote) -----------------------------------
def _serve_fake(webhook_keys: tuple[str, ...], to_parent: Any, from_parent: Any) -> None:
    with FakeWeComServer(webhook_keys=webhook_keys) as fake:
        to_parent.put(fake.base_url)
        from_parent.get()
        to_parent.put((len(fake.received), len(fake.duplicates())))


class _FakeWeComProcess:
    """The tests' fake WeCom server in a separate process; ``counts`` = (received, duplicates) after exit."""

    def __init__(self, webhook_keys: tuple[str, ...]) -> None:
        context = multiprocessing.get_context("spawn")
        self.to_parent, self.from_parent = context.Queue(), context.Queue()
        self.process = context.Process(
            target=_serve_fake, args=(webhook_keys, self.to_parent, self.from_parent), daemon=True
        )
        self.base_url = ""
        self.counts = (0, 0)

    def __enter__(self) -> _FakeWeComProcess:
        self.process.start()
        self.base_url = self.to_parent.get(timeout=60)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.from_parent.put("stop")
        self.counts = self.to_parent.get(timeout=60)
        self.process.join(timeout=10)


# --- the server side (this process) ---------------------------------------------------------------
class Server:
    """uvicorn on a free loopback port in a thread."""

    def __init__(self, app: FastAPI, http: str = "auto") -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", access_log=False, http=http
        )
        self.server = uvicorn.Server(config)
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


@dataclass
class Figures:
    baseline: list[float]
    records: list[tuple[int, int, float, float, float]]
    load_seconds: float
    replay_statuses: list[int]
    outbox_per_event: Counter[str]
    statuses: dict[str, int]
    send_latencies: list[float]
    log_rows: int
    fake_received: int
    fake_duplicates: int
    server_cpu_seconds: float


def _fresh_postgres(admin_url: str) -> tuple[str, str]:
    name = f"groupops_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), name


def _drop_postgres(admin_url: str, name: str) -> None:
    engine = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def run(args: argparse.Namespace) -> int:
    database_url, pg_name = args.database_url, None
    if args.postgres_admin_url:
        database_url, pg_name = _fresh_postgres(args.postgres_admin_url)
    try:
        figures = _run_server_side(args, database_url)
    finally:
        if pg_name:
            _drop_postgres(args.postgres_admin_url, pg_name)
    return _report(args, database_url, figures)


def _run_server_side(args: argparse.Namespace, database_url: str | None) -> Figures:
    workdir = Path(tempfile.mkdtemp(prefix="groupops-bot-bench-"))
    robot_keys = {f"wrBench{group:04d}": f"bench-robot-{group:04d}" for group in range(args.groups)}
    with _FakeWeComProcess(tuple(robot_keys.values())) as fake:
        settings = Settings(
            data=workdir / "data",
            database_url=database_url,
            wecom_token=TOKEN,
            wecom_aes_key=AES_KEY,
            wecom_corp_id=CORP_ID,
            wecom_api_base=fake.base_url,
            robot_messages_per_minute=20,
            quiet_hours="",
        )
        workspace = Workspace(settings)
        # exactly the app `groupops bot serve` runs (--single-process: everything in this process)
        app = serve_app(ServeOptions(settings, robot_keys), writer_process=args.layout == "writer-process")
        with Server(app, args.http) as base_url:
            cpu_before = _server_cpu_seconds()
            outcome = _drive_load(args, base_url)
            server_cpu = _server_cpu_seconds() - cpu_before
            _drain(workspace, seconds=args.drain_seconds)
    fake_received, fake_duplicates = fake.counts
    figures = Figures(*outcome, *_stored_figures(workspace), fake_received, fake_duplicates, server_cpu)
    workspace.close()
    shutil.rmtree(workdir, ignore_errors=True)
    return figures


def _server_cpu_seconds() -> float:
    """CPU time of this process (the web side) and of the bot's writer process, when there is one."""
    seconds = time.process_time()
    for child in multiprocessing.active_children():
        if child.name == "groupops-bot-writer" and child.pid is not None:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
                seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def _drive_load(args: argparse.Namespace, base_url: str) -> tuple[Any, ...]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    options = {
        key: getattr(args, key) for key in ("rate", "seconds", "groups", "clients", "baseline", "replays")
    }
    process = context.Process(target=_generate, args=(base_url, options, results), daemon=True)
    process.start()
    total = int(args.rate * args.seconds)
    print(
        f"preparing {total:,} encrypted callbacks for {args.groups} groups in the generator process …",
        flush=True,
    )
    kind, _ = results.get(timeout=600)
    print(f"generator ready; offering {args.rate:,.0f} events/s for {args.seconds:g} s …", flush=True)
    kind, payload = results.get(timeout=args.seconds * 20 + 600)
    process.join(timeout=30)
    return tuple(payload)


def _drain(workspace: Workspace, *, seconds: float) -> None:
    """Wait until the worker has sent everything the robots' budget lets out now."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        with workspace.database.session() as session:
            busy = session.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(
                    (OutboxItem.status == "sending")
                    | ((OutboxItem.status == "pending") & (OutboxItem.next_attempt_at <= utc_now()))
                )
            )
        if not busy:
            return
        time.sleep(0.2)


def _stored_figures(workspace: Workspace) -> tuple[Counter[str], dict[str, int], list[float], int]:
    with workspace.database.session() as session:
        rows = session.execute(
            select(OutboxItem.payload, OutboxItem.status, OutboxItem.created_at, OutboxItem.sent_at)
        ).all()
        log_rows = int(
            session.scalar(
                select(func.count()).select_from(CallbackEventLog).where(CallbackEventLog.status == "done")
            )
            or 0
        )
    per_event = Counter(str(payload.get("event_id", "")) for payload, *_ in rows)
    statuses = Counter(status for _, status, _, _ in rows)
    sends = [
        (sent - created).total_seconds() for _, status, created, sent in rows if status == "sent" and sent
    ]
    return per_event, dict(statuses), sends, log_rows


# --- the report -------------------------------------------------------------------------------
def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _ms(values: list[float]) -> str:
    return f"p50 {_percentile(values, 0.5) * 1000:7.2f} ms, p99 {_percentile(values, 0.99) * 1000:7.2f} ms"


def _http_parser(choice: str) -> str:
    if choice != "auto":
        return choice
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def _report(args: argparse.Namespace, database_url: str | None, figures: Figures) -> int:
    total = int(args.rate * args.seconds)
    accepted = [record for record in figures.records if record[1] == 200]
    accepted_ids = {f"msg:bench{number:09d}" for number, *_ in accepted}
    lost = sum(1 for event_id in accepted_ids if figures.outbox_per_event[event_id] == 0)
    duplicated = sum(count - 1 for count in figures.outbox_per_event.values() if count > 1)
    sent = figures.statuses.get("sent", 0)
    round_trips = [record[2] for record in accepted]
    from_schedule = [record[3] for record in accepted]
    p99 = _percentile(round_trips, 0.99) * 1000
    p99_scheduled = _percentile(from_schedule, 0.99) * 1000
    backend = (
        "PostgreSQL"
        if (args.postgres_admin_url or (database_url or "").startswith("postgresql"))
        else "SQLite"
    )
    print(
        f"store     {backend}; {args.groups} groups, one robot each (20 messages/min), 1 outbox worker thread; "
        f"HTTP parser {_http_parser(args.http)}; at most {args.clients} requests in flight"
    )
    print(
        "layout    "
        + (
            "web process (uvicorn: verify, decrypt) + writer process (applier, outbox worker, scheduler)"
            if args.layout == "writer-process"
            else "one process (uvicorn, applier, outbox worker, scheduler)"
        )
    )
    print(f"offered   {args.rate:,.0f} events/s for {args.seconds:g} s = {total:,} callbacks")
    print(
        f"achieved  {len(figures.records) / figures.load_seconds:,.0f} events/s; {len(accepted):,} answered 200"
    )
    print(f"baseline  GET URL verification alone:          {_ms(figures.baseline)}")
    print(f"enqueue   callback received → durably queued:  {_ms(round_trips)}")
    print(f"          … from the scheduled send time:      {_ms(from_schedule)}")
    print(f"          generator's own send lateness:       {_ms([record[4] for record in accepted])}")
    base99 = _percentile(figures.baseline, 0.99) * 1000
    base50 = _percentile(figures.baseline, 0.5) * 1000
    print(
        f"ratio     p50 {_percentile(round_trips, 0.5) * 1000 / base50:.1f}× / p99 {p99 / base99:.1f}× the baseline"
    )
    requests = len(figures.records) + len(figures.baseline) + len(figures.replay_statuses)
    print(
        f"server    CPU {figures.server_cpu_seconds:.1f} s for {requests:,} requests "
        f"({figures.server_cpu_seconds / max(1, requests) * 1e6:,.0f} µs each, all threads of the server's processes)"
    )
    print(f"send      enqueued → sent ({sent:,} sent within the budget): {_ms(figures.send_latencies)}")
    replays_ok = sum(1 for status in figures.replay_statuses if status == 200)
    print(f"replays   {len(figures.replay_statuses)} WeCom retries re-posted, {replays_ok} answered 200")
    print(
        f"outbox    {sum(figures.statuses.values()):,} rows {dict(sorted(figures.statuses.items()))}; "
        f"callback log {figures.log_rows:,} done"
    )
    print(f"fake      received {figures.fake_received:,} messages, duplicates {figures.fake_duplicates}")
    consistent = sent == figures.fake_received and figures.log_rows == len(accepted_ids)
    problems = lost + duplicated + figures.fake_duplicates + (0 if consistent else 1)
    print(
        f"verdict   lost {lost}, duplicated {duplicated + figures.fake_duplicates}, "
        f"sent rows = delivered: {sent == figures.fake_received}; "
        f"target p99 < 50 ms (round trip and from the schedule): "
        f"{'met' if max(p99, p99_scheduled) < 50 else 'NOT met'}"
    )
    return 0 if problems == 0 and len(accepted) == total else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="callbacks per second offered")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the load (issue target: 30)")
    parser.add_argument("--groups", type=int, default=50, help="groups the members are spread over")
    parser.add_argument("--clients", type=int, default=32, help="requests in flight at most")
    parser.add_argument("--baseline", type=int, default=500, help="GET verifications for the baseline")
    parser.add_argument("--replays", type=int, default=200, help="callbacks re-posted as WeCom retries")
    parser.add_argument(
        "--drain-seconds", type=float, default=30.0, help="longest wait for the worker after the load"
    )
    parser.add_argument(
        "--http",
        choices=("auto", "h11", "httptools"),
        default="auto",
        help="uvicorn's HTTP parser (auto: httptools when installed)",
    )
    parser.add_argument(
        "--layout",
        choices=("writer-process", "single-process"),
        default="writer-process",
        help="as `groupops bot serve` (default) or `bot serve --single-process`",
    )
    parser.add_argument(
        "--database-url", default=None, help="operational store (default: SQLite in a temp dir)"
    )
    parser.add_argument(
        "--postgres-admin-url",
        default=None,
        help="run on a fresh PostgreSQL database created through this admin URL (dropped afterwards)",
    )
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
