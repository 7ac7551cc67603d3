"""Helpers shared by the benchmark scripts: timing a step in a fresh process with its peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass

__all__ = ["Measurement", "measure_in_subprocess", "print_table"]


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_mb: float
    items: int

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else float("inf")


_WRAPPER = """
import json, resource, sys, time
{setup}
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("__RESULT__" + json.dumps({{"seconds": elapsed, "peak_mb": peak}}))
"""


def measure_in_subprocess(name: str, items: int, body: str, setup: str = "") -> Measurement:
    """Run ``body`` in a fresh Python process; time it and read its peak resident memory."""
    code = _WRAPPER.format(setup=textwrap.dedent(setup), body=textwrap.dedent(body))
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{completed.stderr}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("__RESULT__"))
    result = json.loads(line.removeprefix("__RESULT__"))
    return Measurement(name, result["seconds"], result["peak_mb"], items)


def print_table(title: str, unit: str, rows: list[Measurement], reference: Measurement) -> None:
    print(f"\n{title}")
    print(f"{'':<44}{'seconds':>10}{unit + '/s':>16}{'peak MB':>10}{'vs ' + reference.name:>24}")
    for row in rows:
        ratio = row.rate / reference.rate if reference.rate else float("nan")
        print(f"{row.name:<44}{row.seconds:>10.2f}{row.rate:>16,.0f}{row.peak_mb:>10.0f}{ratio:>23.2f}x")
