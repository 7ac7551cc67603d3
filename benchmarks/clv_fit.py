"""CLV fitting speed: BG/NBD + Gamma-Gamma + per-member value table on simulated members.

Members are drawn from the BG/NBD and Gamma-Gamma processes with the CDNOW parameters, so
the script also prints how well the parameters are recovered. The baseline, measured in the
same run, is the same work on a CDNOW-sized population (2,357 members).

    python benchmarks/clv_fit.py [--members 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from groupops.analytics.clv import ClvFit, customer_value_table, fit_clv_models

CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
CDNOW_SIZE = 2357


def simulate_rfm(members: int, seed: int) -> pd.DataFrame:
    """frequency, recency, T (weeks, T in 27..39) and monetary_value from the generative models."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(CDNOW_BGNBD["r"], 1.0 / CDNOW_BGNBD["alpha"], members)
    dropout = rng.beta(CDNOW_BGNBD["a"], CDNOW_BGNBD["b"], members)
    age = rng.uniform(27.0, 39.0, members)
    frequency = np.zeros(members, dtype=np.int64)
    recency = np.zeros(members)
    clock = np.zeros(members)
    active = np.ones(members, dtype=bool)
    while active.any():
        clock[active] += rng.exponential(1.0 / np.maximum(rate[active], 1e-12))
        bought = active & (clock <= age)
        frequency[bought] += 1
        recency[bought] = clock[bought]
        active = bought & (rng.random(members) >= dropout)
    nu = rng.gamma(CDNOW_GAMMA_GAMMA["q"], 1.0 / CDNOW_GAMMA_GAMMA["v"], members)
    spend_total = rng.gamma(CDNOW_GAMMA_GAMMA["p"] * np.maximum(frequency, 1), 1.0 / nu)
    monetary = np.where(frequency > 0, spend_total / np.maximum(frequency, 1), 0.0)
    return pd.DataFrame({"frequency": frequency, "recency": recency, "T": age, "monetary_value": monetary})


def timed_fit(rfm: pd.DataFrame) -> tuple[float, ClvFit]:
    started = time.perf_counter()
    fitted = fit_clv_models(rfm)
    customer_value_table(fitted, rfm)
    return time.perf_counter() - started, fitted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=100_000, help="simulated members (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    baseline_seconds, _ = timed_fit(simulate_rfm(CDNOW_SIZE, arguments.seed))
    rfm = simulate_rfm(arguments.members, arguments.seed)
    seconds, fitted = timed_fit(rfm)
    print(f"baseline: fit + value table on {CDNOW_SIZE} members: {baseline_seconds:.3f} s")
    print(f"figure:   fit + value table on {arguments.members} members: {seconds:.3f} s")
    print(
        f"ratio:    {seconds / baseline_seconds:.2f}x the baseline for {arguments.members / CDNOW_SIZE:.1f}x the members"
    )
    truth = {**CDNOW_BGNBD, **CDNOW_GAMMA_GAMMA}
    estimates = {**fitted.bgnbd.as_dict(), **(fitted.gamma_gamma.as_dict() if fitted.gamma_gamma else {})}
    recovered = ", ".join(f"{name} {estimates[name]:.3f} (true {value})" for name, value in truth.items())
    print(f"recovery: {recovered}")


if __name__ == "__main__":
    main()
