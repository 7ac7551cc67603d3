"""Customer lifetime value: BG/NBD and Gamma-Gamma fitted by maximum likelihood.

BG/NBD (Fader, Hardie & Lee 2005) models *how many* repeat purchases a member makes and
whether they are still "alive"; Gamma-Gamma (Fader & Hardie 2013) models *how much* they
spend per repeat purchase. Both take the paper's summary per customer: ``frequency`` (x,
repeat purchases, purchases aggregated by day), ``recency`` (t_x, age at the last purchase)
and ``T`` (age at the end of observation), all in one time unit (weeks or days), plus
``monetary_value`` (mean value of the repeat purchases) for Gamma-Gamma.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from groupops.analytics._frames import parse_times
from groupops.errors import GroupOpsError, InputFormatError

__all__ = [
    "RFM_COLUMNS",
    "BgNbdModel",
    "CalibrationHoldoutReport",
    "ClvFit",
    "GammaGammaModel",
    "TimeUnit",
    "bgnbd_log_likelihood_terms",
    "calibration_holdout_error",
    "customer_lifetime_value",
    "customer_value_table",
    "expected_average_spend",
    "expected_purchases",
    "fit_bgnbd",
    "fit_clv_models",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood_terms",
    "probability_alive",
    "read_rfm_csv",
    "rfm_from_transactions",
]

TimeUnit = Literal["W", "D"]
FloatArray = NDArray[np.float64]
RFM_COLUMNS = ("customer_id", "frequency", "recency", "T")

_DAYS_PER_UNIT: dict[str, float] = {"W": 7.0, "D": 1.0}
_LOG_PARAMETER_BOUND = 18.0  # every parameter is searched in [e^-18, e^18]
_RECENCY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class BgNbdModel:
    """Fitted BG/NBD: purchase rate ~ Gamma(r, alpha), dropout probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    loglik: float
    customers: int

    def as_dict(self) -> dict[str, float]:
        """The parameters and log-likelihood under the paper's names."""
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b, "loglik": self.loglik}


@dataclass(frozen=True)
class GammaGammaModel:
    """Fitted Gamma-Gamma: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, v)."""

    p: float
    q: float
    v: float
    loglik: float
    customers: int

    def as_dict(self) -> dict[str, float]:
        """The parameters under the paper's names."""
        return {"p": self.p, "q": self.q, "v": self.v}


@dataclass(frozen=True)
class ClvFit:
    """Both models fitted on one RFM table (``gamma_gamma`` is None without monetary values)."""

    bgnbd: BgNbdModel
    gamma_gamma: GammaGammaModel | None
    customers: int

    def as_dict(self) -> dict[str, Any]:
        """The ``clv fit --json`` document (ARCHITECTURE.md §4)."""
        gamma_gamma = self.gamma_gamma.as_dict() if self.gamma_gamma is not None else None
        return {"bgnbd": self.bgnbd.as_dict(), "gamma_gamma": gamma_gamma, "customers": self.customers}


@dataclass(frozen=True)
class CalibrationHoldoutReport:
    """BG/NBD fitted on a calibration period and checked against the holdout period."""

    customers: int
    holdout_periods: float
    mean_absolute_error: float
    root_mean_squared_error: float
    predicted_total: float
    actual_total: int
    aggregate_relative_error: float
    model: BgNbdModel
    per_customer: pd.DataFrame

    def as_dict(self) -> dict[str, Any]:
        """Summary figures (no per-customer rows) for JSON output."""
        return {
            "customers": self.customers,
            "holdout_periods": self.holdout_periods,
            "mae": self.mean_absolute_error,
            "rmse": self.root_mean_squared_error,
            "predicted_total": self.predicted_total,
            "actual_total": self.actual_total,
            "aggregate_relative_error": self.aggregate_relative_error,
            "bgnbd": self.model.as_dict(),
        }


# --- input checks -------------------------------------------------------------------------


def _as_float_array(values: ArrayLike, name: str) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise InputFormatError(f"{name}: values must be numbers ({error})") from error
    if not np.all(np.isfinite(array)):
        raise InputFormatError(f"{name}: values must be finite numbers (found NaN or infinity)")
    if np.any(array < 0):
        raise InputFormatError(f"{name}: values must not be negative")
    return array


def _validated_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = _as_float_array(frequency, "frequency")
    t_x = _as_float_array(recency, "recency")
    age = _as_float_array(T, "T")
    if not (len(x) == len(t_x) == len(age)):
        raise InputFormatError("frequency, recency and T must have the same length")
    if np.any(np.abs(x - np.round(x)) > 1e-9):
        raise InputFormatError("frequency: counts of repeat purchases must be whole numbers")
    if np.any(t_x > age + _RECENCY_TOLERANCE * np.maximum(age, 1.0)):
        raise InputFormatError("recency must not exceed T (the last purchase lies within the observation)")
    if np.any((x == 0) & (t_x > 0)):
        raise InputFormatError("recency must be 0 when frequency is 0 (no repeat purchase)")
    return x, t_x, age


# --- maximum likelihood -------------------------------------------------------------------


def _maximise_log_likelihood(
    total_log_likelihood: Callable[[FloatArray], float], initial: FloatArray, model_name: str
) -> tuple[FloatArray, float]:
    """Maximise over log-parameters (keeps them positive); returns (parameters, loglik)."""

    def negative(log_parameters: FloatArray) -> float:
        value = total_log_likelihood(np.exp(log_parameters))
        return -value if math.isfinite(value) else 1e300

    bounds = [(-_LOG_PARAMETER_BOUND, _LOG_PARAMETER_BOUND)] * len(initial)
    options = {"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10}
    best = optimize.minimize(negative, np.log(initial), method="L-BFGS-B", bounds=bounds, options=options)
    if not best.success:  # e.g. a flat ridge: a derivative-free search from where it stopped
        polished = optimize.minimize(
            negative, best.x, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000}
        )
        best = polished if polished.fun <= best.fun else best
    best_x = np.clip(best.x, -_LOG_PARAMETER_BOUND, _LOG_PARAMETER_BOUND)
    loglik = total_log_likelihood(np.exp(best_x))
    if not math.isfinite(loglik):
        raise GroupOpsError(f"{model_name} fit failed: the log-likelihood is not finite on this data")
    return np.exp(best_x), loglik


def _unique_rows_with_counts(*columns: FloatArray) -> tuple[list[FloatArray], FloatArray]:
    """Collapse identical customers into one row with a weight (same likelihood, less work)."""
    rows, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return [rows[:, index] for index in range(rows.shape[1])], counts.astype(np.float64)


def bgnbd_log_likelihood_terms(
    parameters: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """Per-customer BG/NBD log-likelihood (FHL 2005 eq. 6), computed in log space."""
    r, alpha, a, b = (float(value) for value in parameters)
    common = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    still_alive = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    has_repeat = x > 0
    shifted_b = np.where(has_repeat, b + x - 1.0, 1.0)
    dropped_out = np.where(
        has_repeat,
        special.betaln(a + 1.0, shifted_b) - special.betaln(a, b) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return np.asarray(common + np.logaddexp(still_alive, dropped_out), dtype=np.float64)


def fit_bgnbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BgNbdModel:
    """Fit BG/NBD by maximum likelihood on the customers' (x, t_x, T)."""
    x, t_x, age = _validated_rfm(frequency, recency, T)
    if len(x) == 0:
        raise InputFormatError("BG/NBD needs at least one customer")
    (ux, ut_x, uage), weights = _unique_rows_with_counts(x, t_x, age)

    def total(parameters: FloatArray) -> float:
        return float(np.sum(weights * bgnbd_log_likelihood_terms(parameters, ux, ut_x, uage)))

    initial = np.array([1.0, max(float(np.mean(age)), 1e-3), 1.0, 1.0])
    parameters, loglik = _maximise_log_likelihood(total, initial, "BG/NBD")
    r, alpha, a, b = (float(value) for value in parameters)
    return BgNbdModel(r=r, alpha=alpha, a=a, b=b, loglik=loglik, customers=len(x))


def gamma_gamma_log_likelihood_terms(parameters: FloatArray, x: FloatArray, m: FloatArray) -> FloatArray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend m over x purchases (F&H 2013)."""
    p, q, v = (float(value) for value in parameters)
    px = p * x
    terms = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * math.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + m * x)
    )
    return np.asarray(terms, dtype=np.float64)


def fit_gamma_gamma(frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaModel:
    """Fit Gamma-Gamma on the customers with repeat purchases (frequency > 0, spend > 0)."""
    x = _as_float_array(frequency, "frequency")
    m = _as_float_array(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise InputFormatError("frequency and monetary_value must have the same length")
    used = (x > 0) & (m > 0)
    if not np.any(used):
        raise InputFormatError(
            "Gamma-Gamma needs customers with repeat purchases and positive monetary_value"
        )
    (ux, um), weights = _unique_rows_with_counts(x[used], m[used])

    def total(parameters: FloatArray) -> float:
        return float(np.sum(weights * gamma_gamma_log_likelihood_terms(parameters, ux, um)))

    initial = np.array([1.0, 1.0, max(float(np.mean(um)), 1e-3)])
    parameters, loglik = _maximise_log_likelihood(total, initial, "Gamma-Gamma")
    p, q, v = (float(value) for value in parameters)
    return GammaGammaModel(p=p, q=q, v=v, loglik=loglik, customers=int(np.sum(used)))


# --- predictions --------------------------------------------------------------------------


def _log_odds_dropped_out(model: BgNbdModel, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """log[a / (b + x - 1) · ((alpha + T) / (alpha + t_x))^(r + x)]; -inf when x = 0."""
    has_repeat = x > 0
    shifted_b = np.where(has_repeat, model.b + x - 1.0, 1.0)
    log_odds = (
        math.log(model.a)
        - np.log(shifted_b)
        + (model.r + x) * (np.log(model.alpha + T) - np.log(model.alpha + t_x))
    )
    return np.where(has_repeat, log_odds, -np.inf)


def probability_alive(
    model: BgNbdModel, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(still active | x, t_x, T); exactly 1 for customers without repeat purchases."""
    x, t_x, age = _validated_rfm(frequency, recency, T)
    return np.asarray(special.expit(-_log_odds_dropped_out(model, x, t_x, age)), dtype=np.float64)


def expected_purchases(
    model: BgNbdModel, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next t periods (FHL 2005 eq. 10).

    The (alpha+T)/(alpha+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; z) product is rewritten with
    Euler's transformation as (1-z)^(a-1) · 2F1(a+b-1-r, a-1; a+b+x-1; z), whose parameters
    stay small however large x is, so the result stays finite for extreme inputs.
    """
    if not (math.isfinite(t) and t >= 0):
        raise InputFormatError(f"t must be a finite number of periods >= 0, got {t!r}")
    x, t_x, age = _validated_rfm(frequency, recency, T)
    a_minus_one = model.a - 1.0 if abs(model.a - 1.0) > 1e-9 else 1e-9
    z = t / (model.alpha + age + t)
    hypergeometric = special.hyp2f1(
        model.a + model.b - 1.0 - model.r, a_minus_one, model.a + model.b + x - 1.0, z
    )
    with np.errstate(invalid="ignore", divide="ignore"):  # 2F1 < 0 when a + b + x < 1 (degenerate fits)
        log_product = a_minus_one * np.log1p(-z) + np.log(hypergeometric)
        alive_expectation = (model.a + model.b + x - 1.0) / a_minus_one * -np.expm1(log_product)
    # Where the closed form breaks down (a + b + x - 1 <= 0 with a fit that says almost nobody
    # drops out) use an alive customer's expected purchases with no further dropout, t(r+x)/(α+T).
    no_dropout = t * (model.r + x) / (model.alpha + age)
    usable = np.isfinite(alive_expectation) & (alive_expectation >= 0)
    alive_expectation = np.where(usable, alive_expectation, no_dropout)
    alive = special.expit(-_log_odds_dropped_out(model, x, t_x, age))
    return np.asarray(alive_expectation * alive, dtype=np.float64)


def expected_average_spend(
    model: GammaGammaModel, frequency: ArrayLike, monetary_value: ArrayLike
) -> FloatArray:
    """E[spend per purchase | x, mean spend]; the population mean p·v/(q-1) when x = 0."""
    if model.q <= 1.0:
        raise GroupOpsError(f"Gamma-Gamma q = {model.q:.4g} <= 1: the mean spend per purchase is undefined")
    x = _as_float_array(frequency, "frequency")
    m = _as_float_array(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise InputFormatError("frequency and monetary_value must have the same length")
    m = np.where(x > 0, m, 0.0)
    return np.asarray(model.p * (model.v + x * m) / (model.p * x + model.q - 1.0), dtype=np.float64)


def customer_lifetime_value(
    bgnbd: BgNbdModel,
    gamma_gamma: GammaGammaModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    horizon_days: float = 365.0,
    discount_rate_annual: float = 0.10,
    time_unit: TimeUnit = "W",
    step_days: float = 30.0,
    profit_margin: float = 1.0,
) -> FloatArray:
    """Discounted expected spend over the horizon: Σ_k ΔE[Y]_k · E[spend] · margin / (1+d)^(t_k/365).

    The horizon is cut into steps of ``step_days`` (the last one may be shorter); purchases
    expected within step k are discounted at its end t_k. ``time_unit`` is the unit the
    BG/NBD model was fitted in ("W" weeks, "D" days).
    """
    days_per_unit = _time_unit_days(time_unit)
    if not (math.isfinite(horizon_days) and horizon_days >= 0 and step_days > 0):
        raise InputFormatError("horizon_days must be >= 0 and step_days > 0")
    if not (math.isfinite(discount_rate_annual) and discount_rate_annual > -1.0):
        raise InputFormatError("discount_rate_annual must be a finite rate above -1")
    spend = expected_average_spend(gamma_gamma, frequency, monetary_value)
    step_ends: list[float] = []
    if horizon_days > 0:
        step_ends = [*np.arange(step_days, horizon_days, step_days).tolist(), float(horizon_days)]
    discounted_purchases = np.zeros_like(spend)
    previous = np.zeros_like(spend)
    for step_end in step_ends:
        cumulative = expected_purchases(bgnbd, float(step_end) / days_per_unit, frequency, recency, T)
        discount = (1.0 + discount_rate_annual) ** (float(step_end) / 365.0)
        discounted_purchases += (cumulative - previous) / discount
        previous = cumulative
    return np.asarray(discounted_purchases * spend * profit_margin, dtype=np.float64)


def customer_value_table(
    fitted: ClvFit,
    rfm: pd.DataFrame,
    *,
    horizon_days: float = 90.0,
    clv_horizon_days: float = 365.0,
    discount_rate_annual: float = 0.10,
    time_unit: TimeUnit = "W",
) -> pd.DataFrame:
    """Per customer: probability_alive, expected_purchases (next ``horizon_days``),
    expected_average_spend and clv (discounted, ``clv_horizon_days``), in ``rfm``'s row order.

    Spend and CLV are NaN when the fit has no Gamma-Gamma model (no monetary values).
    """
    x, t_x, age = rfm["frequency"], rfm["recency"], rfm["T"]
    periods = horizon_days / _time_unit_days(time_unit)
    table = pd.DataFrame(index=rfm.index)
    table["probability_alive"] = probability_alive(fitted.bgnbd, x, t_x, age)
    table["expected_purchases"] = expected_purchases(fitted.bgnbd, periods, x, t_x, age)
    table["expected_average_spend"] = np.nan
    table["clv"] = np.nan
    if fitted.gamma_gamma is not None and "monetary_value" in rfm.columns:
        spend = rfm["monetary_value"]
        table["expected_average_spend"] = expected_average_spend(fitted.gamma_gamma, x, spend)
        table["clv"] = customer_lifetime_value(
            fitted.bgnbd,
            fitted.gamma_gamma,
            x,
            t_x,
            age,
            spend,
            horizon_days=clv_horizon_days,
            discount_rate_annual=discount_rate_annual,
            time_unit=time_unit,
        )
    return table


# --- from transactions --------------------------------------------------------------------


def _time_unit_days(time_unit: str) -> float:
    if time_unit not in _DAYS_PER_UNIT:
        raise InputFormatError(f"time_unit must be 'W' (weeks) or 'D' (days), got {time_unit!r}")
    return _DAYS_PER_UNIT[time_unit]


def _require_columns(frame: pd.DataFrame, columns: Mapping[str, str | None], what: str) -> None:
    missing = [name for name in columns.values() if name is not None and name not in frame.columns]
    if missing:
        raise InputFormatError(f"{what}: missing column(s) {', '.join(map(repr, missing))}")


def _timestamp_like(value: object, times: pd.Series) -> pd.Timestamp:
    """``value`` as a Timestamp comparable with ``times`` (same time-zone awareness)."""
    stamp = pd.Timestamp(value)
    zone = getattr(times.dt, "tz", None)
    if zone is not None and stamp.tzinfo is None:
        return stamp.tz_localize(zone)
    if zone is None and stamp.tzinfo is not None:
        return stamp.tz_localize(None)
    return stamp


def _purchase_days(
    transactions: pd.DataFrame, customer_col: str, time_col: str, amount_col: str | None
) -> pd.DataFrame:
    """One row per customer and calendar day: customer, day, amount (summed)."""
    _require_columns(
        transactions, {"customer": customer_col, "time": time_col, "amount": amount_col}, "transactions"
    )
    times = parse_times(transactions[time_col], "transactions")
    days = pd.DataFrame({"customer": transactions[customer_col].to_numpy(), "day": times.dt.normalize()})
    if amount_col is None:
        days["amount"] = 0.0
    else:
        amounts = pd.to_numeric(transactions[amount_col], errors="coerce")
        if amounts.isna().any() or not np.all(np.isfinite(amounts.to_numpy(dtype=np.float64))):
            raise InputFormatError(f"transactions: column {amount_col!r} holds values that are not numbers")
        days["amount"] = amounts.to_numpy(dtype=np.float64)
    return days.groupby(["customer", "day"], as_index=False, sort=True)["amount"].sum()


def rfm_from_transactions(
    transactions: pd.DataFrame,
    customer_col: str = "customer_id",
    time_col: str = "timestamp",
    amount_col: str | None = "amount",
    observation_end: object = None,
    time_unit: TimeUnit = "W",
) -> pd.DataFrame:
    """Per-customer ``frequency, recency, T[, monetary_value]`` as the papers define them.

    Purchases on the same calendar day count as one. frequency = purchase days − 1;
    recency = last − first purchase day; T = observation_end − first purchase day (in weeks
    or days); monetary_value = mean amount of the repeat purchase days (0 without repeats).
    Transactions after ``observation_end`` (default: the last transaction day) are ignored.
    The result is indexed by customer.
    """
    days_per_unit = _time_unit_days(time_unit)
    days = _purchase_days(transactions, customer_col, time_col, amount_col)
    end = days["day"].max() if observation_end is None else _timestamp_like(observation_end, days["day"])
    days = days[days["day"] <= end]
    grouped = days.groupby("customer", sort=True)["day"]
    first, last, count = grouped.min(), grouped.max(), grouped.size()
    summary = pd.DataFrame(
        {
            "frequency": (count - 1).astype(np.int64),
            "recency": (last - first).dt.days / days_per_unit,
            "T": (end - first).dt.days / days_per_unit,
        }
    )
    if amount_col is not None:
        repeat = days[days["day"] > days["customer"].map(first)]
        repeat_mean = repeat.groupby("customer")["amount"].mean()
        summary["monetary_value"] = repeat_mean.reindex(summary.index).fillna(0.0)
    summary.index.name = customer_col
    return summary


def calibration_holdout_error(
    transactions: pd.DataFrame,
    calibration_end: object,
    observation_end: object = None,
    customer_col: str = "customer_id",
    time_col: str = "timestamp",
    time_unit: TimeUnit = "W",
) -> CalibrationHoldoutReport:
    """Fit BG/NBD up to ``calibration_end``; compare predicted vs actual holdout purchases.

    Customers are those who bought by ``calibration_end``; "actual" counts their purchase
    days in (calibration_end, observation_end]. Reports per-customer MAE/RMSE and the
    aggregate relative error (predicted total − actual total) / actual total.
    """
    days_per_unit = _time_unit_days(time_unit)
    days = _purchase_days(transactions, customer_col, time_col, None)
    cut = _timestamp_like(calibration_end, days["day"])
    end = days["day"].max() if observation_end is None else _timestamp_like(observation_end, days["day"])
    if end <= cut:
        raise InputFormatError("observation_end must come after calibration_end")
    calibration = rfm_from_transactions(days, "customer", "day", None, cut, time_unit)
    if calibration.empty:
        raise InputFormatError("no customer bought before calibration_end")
    holdout = days[(days["day"] > cut) & (days["day"] <= end)].groupby("customer").size()
    holdout_periods = (end - cut).days / days_per_unit
    model = fit_bgnbd(calibration["frequency"], calibration["recency"], calibration["T"])
    per_customer = calibration.copy()
    per_customer["predicted"] = expected_purchases(
        model, holdout_periods, calibration["frequency"], calibration["recency"], calibration["T"]
    )
    per_customer["actual"] = holdout.reindex(per_customer.index).fillna(0).astype(np.int64)
    return _holdout_report(model, per_customer, holdout_periods)


def _holdout_report(
    model: BgNbdModel, per_customer: pd.DataFrame, holdout_periods: float
) -> CalibrationHoldoutReport:
    errors = per_customer["predicted"] - per_customer["actual"]
    predicted_total = float(per_customer["predicted"].sum())
    actual_total = int(per_customer["actual"].sum())
    relative = (predicted_total - actual_total) / actual_total if actual_total else math.inf
    return CalibrationHoldoutReport(
        customers=len(per_customer),
        holdout_periods=holdout_periods,
        mean_absolute_error=float(np.mean(np.abs(errors))),
        root_mean_squared_error=float(np.sqrt(np.mean(errors**2))),
        predicted_total=predicted_total,
        actual_total=actual_total,
        aggregate_relative_error=relative,
        model=model,
        per_customer=per_customer,
    )


# --- the RFM CSV contract -----------------------------------------------------------------


def _parse_cell(raw: str, column: str, where: str) -> float:
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise InputFormatError(f"{where}: column {column!r}: {shown!r} is not a number") from None
    if not math.isfinite(value):
        raise InputFormatError(f"{where}: column {column!r}: {text!r} is not a finite number")
    if value < 0:
        raise InputFormatError(f"{where}: column {column!r} must not be negative, got {text}")
    return value


def _parse_rfm_row(row: dict[str, str | None], where: str, with_monetary: bool) -> dict[str, Any]:
    cells = {column: (row.get(column) or "") for column in (*RFM_COLUMNS, "monetary_value")}
    customer_id = cells["customer_id"].strip()
    if not customer_id:
        raise InputFormatError(f"{where}: customer_id is empty")
    parsed: dict[str, Any] = {"customer_id": customer_id}
    for column in RFM_COLUMNS[1:]:
        parsed[column] = _parse_cell(cells[column], column, where)
    if parsed["frequency"] != int(parsed["frequency"]):
        raise InputFormatError(f"{where}: frequency must be a whole number of repeat purchases")
    if parsed["recency"] > parsed["T"] * (1 + _RECENCY_TOLERANCE) + _RECENCY_TOLERANCE:
        raise InputFormatError(f"{where}: recency ({parsed['recency']:g}) is larger than T ({parsed['T']:g})")
    if parsed["frequency"] == 0 and parsed["recency"] > 0:
        raise InputFormatError(f"{where}: recency must be 0 when frequency is 0")
    if with_monetary:
        empty_allowed = parsed["frequency"] == 0 and not cells["monetary_value"].strip()
        parsed["monetary_value"] = (
            0.0 if empty_allowed else _parse_cell(cells["monetary_value"], "monetary_value", where)
        )
    return parsed


def read_rfm_csv(path: Path | str) -> pd.DataFrame:
    """Read ``customer_id,frequency,recency,T[,monetary_value]``; errors name the CSV line."""
    file_path = Path(path)
    try:
        handle = file_path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise InputFormatError(f"{file_path}: cannot be read ({error.strerror})") from error
    with handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in (reader.fieldnames or [])]
        missing = [column for column in RFM_COLUMNS if column not in header]
        if missing:
            raise InputFormatError(
                f"{file_path} line 1: missing column(s) {', '.join(missing)} (header: {header})"
            )
        reader.fieldnames = header
        with_monetary = "monetary_value" in header
        rows: list[dict[str, Any]] = []
        first_line: dict[str, int] = {}
        for row in reader:
            where = f"{file_path} line {reader.line_num}"
            parsed = _parse_rfm_row(row, where, with_monetary)
            if parsed["customer_id"] in first_line:
                raise InputFormatError(
                    f"{where}: customer_id repeats line {first_line[parsed['customer_id']]}"
                )
            first_line[parsed["customer_id"]] = reader.line_num
            rows.append(parsed)
    if not rows:
        raise InputFormatError(f"{file_path}: no customer rows after the header")
    columns = [*RFM_COLUMNS, "monetary_value"] if with_monetary else list(RFM_COLUMNS)
    return pd.DataFrame(rows, columns=columns)


def fit_clv_models(rfm: pd.DataFrame) -> ClvFit:
    """Fit BG/NBD on every customer and Gamma-Gamma (when monetary_value is present) on repeaters."""
    _require_columns(rfm, {column: column for column in RFM_COLUMNS[1:]}, "RFM table")
    bgnbd = fit_bgnbd(rfm["frequency"], rfm["recency"], rfm["T"])
    gamma_gamma = None
    if "monetary_value" in rfm.columns:
        gamma_gamma = fit_gamma_gamma(rfm["frequency"], rfm["monetary_value"])
    return ClvFit(bgnbd=bgnbd, gamma_gamma=gamma_gamma, customers=len(rfm))
