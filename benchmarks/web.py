"""Web latency under a bounded loopback load: p50/p95/p99 per route, with a static-file baseline.

    python benchmarks/web.py --data groupops-data          # an existing demo data directory
    python benchmarks/web.py --members 2000 --seconds 10   # builds a demo brand first

Runs uvicorn in a thread on 127.0.0.1, signs in a manager, warms every route once (the
analytics are cached per data version), then N concurrent httpx clients request the
overview, a group page, a member page and the KPI API for S seconds; the same load on a
static file is the baseline. Target: p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import func, select

from groupops.accounts import create_user
from groupops.config import Settings
from groupops.store.models import GroupMembership, User
from groupops.store.workspace import Workspace
from groupops.web import create_app
from groupops.web.tokens import create_api_token

PASSWORD = "benchmark-password-1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prepare(data: Path) -> tuple[str, str, str]:
    """A manager user, an API token, a busy group id and one of its members."""
    workspace = Workspace(Settings(data=data))
    with workspace.database.session() as session:
        if session.scalar(select(User).where(User.name == "bench")) is None:
            create_user(session, "bench", "manager", PASSWORD, actor="benchmark")
    with workspace.database.session() as session:
        token = create_api_token(session, "bench", "benchmark", actor="benchmark")
        busiest_groups = (
            select(GroupMembership.group_id)
            .where(GroupMembership.member_type == "external")
            .group_by(GroupMembership.group_id)
            .order_by(func.count().desc(), GroupMembership.group_id)
        )
        group_id = session.scalars(busiest_groups).first()
        member_id = session.scalars(
            select(GroupMembership.member_id).where(
                GroupMembership.group_id == group_id, GroupMembership.member_type == "external"
            )
        ).first()
    workspace.close()
    if group_id is None or member_id is None:
        sys.exit("the data directory has no groups or members; run `groupops demo` first")
    return token, group_id, member_id


def _serve(data: Path) -> tuple[uvicorn.Server, str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(Settings(data=data)), host="127.0.0.1", port=port, log_level="error")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def _signed_in_client(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)})
    return client


def _load(base: str, path: str, headers: dict[str, str], seconds: float, clients: int) -> list[float]:
    """Latencies (ms) of ``clients`` concurrent clients requesting ``path`` for ``seconds``."""
    deadline = time.perf_counter() + seconds

    def worker() -> list[float]:
        timings: list[float] = []
        client = _signed_in_client(base)
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = client.get(path, headers=headers)
                timings.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code}")
        finally:
            client.close()
        return timings

    with ThreadPoolExecutor(clients) as pool:
        return [ms for result in pool.map(lambda _: worker(), range(clients)) for ms in result]


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, help="demo data directory (default: build one with groupops demo)"
    )
    parser.add_argument(
        "--members", type=int, default=1500, help="members of the demo built when --data is not given"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration per route")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    arguments = parser.parse_args()
    data = arguments.data
    if data is None:
        data = Path(tempfile.mkdtemp(prefix="groupops-bench-")) / "data"
        command = [
            sys.executable,
            "-m",
            "groupops",
            "demo",
            "--members",
            str(arguments.members),
            "--data",
            str(data),
            "--json",
        ]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    token, group_id, member_id = _prepare(data)
    server, base = _serve(data)
    bearer = {"Authorization": f"Bearer {token}"}
    routes = [
        ("static file (baseline)", "/static/app.css", {}),
        ("overview", "/", {}),
        ("group page", f"/groups/{group_id}", {}),
        ("member page", f"/members/{member_id}", {}),
        ("KPI API", "/api/v1/kpis", bearer),
    ]
    warm = _signed_in_client(base)
    for name, path, headers in routes:
        start = time.perf_counter()
        warm.get(path, headers=headers).raise_for_status()
        print(f"warm-up {name}: {time.perf_counter() - start:.2f} s")
    warm.close()
    print(f"\n{arguments.clients} clients x {arguments.seconds:.0f} s per route on {base}")
    print(f"{'route':<24}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'p95/baseline':>14}")
    baseline_p95 = None
    for name, path, headers in routes:
        timings = _load(base, path, headers, arguments.seconds, arguments.clients)
        p50, p95, p99 = _percentiles(timings)
        baseline_p95 = baseline_p95 or p95
        verdict = "" if name.startswith("static") else ("  ok" if p95 < 200 else "  over 200 ms target")
        print(
            f"{name:<24}{len(timings):>9}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{p95 / baseline_p95:>13.1f}x{verdict}"
        )
    server.should_exit = True


if __name__ == "__main__":
    main()
