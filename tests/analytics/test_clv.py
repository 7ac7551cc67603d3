"""BG/NBD and Gamma-Gamma pinned to the published CDNOW estimates, plus edge cases."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from groupops.analytics import clv
from groupops.errors import InputFormatError

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """CDNOW sample, 2,357 customers, weeks, 39-week calibration: ID, x, t_x, T, zbar."""
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def cdnow_model(cdnow: pd.DataFrame) -> clv.BgNbdModel:
    return clv.fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])


@pytest.fixture(scope="module")
def cdnow_spend_model(cdnow: pd.DataFrame) -> clv.GammaGammaModel:
    return clv.fit_gamma_gamma(cdnow["x"], cdnow["zbar"])


@pytest.fixture(scope="module")
def cdnow_transactions() -> pd.DataFrame:
    """Raw CDNOW sample: one row per order line, 1997-01-01..1998-06-30."""
    raw = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "amount"],
        dtype={"date": str},
    )
    raw["timestamp"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


# --- published estimates -------------------------------------------------------------------


def test_bgnbd_reproduces_fader_hardie_lee_2005_on_cdnow(cdnow_model: clv.BgNbdModel) -> None:
    assert cdnow_model.customers == 2357
    assert cdnow_model.r == pytest.approx(0.243, abs=5e-4)
    assert cdnow_model.alpha == pytest.approx(4.414, abs=5e-4)
    assert cdnow_model.a == pytest.approx(0.793, abs=5e-4)
    assert cdnow_model.b == pytest.approx(2.426, abs=5e-4)


def test_bgnbd_log_likelihood_matches_the_paper(cdnow_model: clv.BgNbdModel) -> None:
    assert cdnow_model.loglik == pytest.approx(-9582.4, abs=0.05)


def test_fitted_bgnbd_is_a_maximum(cdnow: pd.DataFrame, cdnow_model: clv.BgNbdModel) -> None:
    best = np.array([cdnow_model.r, cdnow_model.alpha, cdnow_model.a, cdnow_model.b])
    x, t_x, T = (cdnow[column].to_numpy(dtype=float) for column in ("x", "t_x", "T"))
    for index in range(4):
        for factor in (0.98, 1.02):
            moved = best.copy()
            moved[index] *= factor
            assert clv.bgnbd_log_likelihood_terms(moved, x, t_x, T).sum() < cdnow_model.loglik


def test_gamma_gamma_reproduces_fader_hardie_2013_on_cdnow(cdnow_spend_model: clv.GammaGammaModel) -> None:
    # the fixture's zbar is rounded to cents, so the third decimal may differ from the note
    assert cdnow_spend_model.customers == 946
    assert cdnow_spend_model.p == pytest.approx(6.25, abs=0.01)
    assert cdnow_spend_model.q == pytest.approx(3.74, abs=0.01)
    assert cdnow_spend_model.v == pytest.approx(15.44, abs=0.01)


def test_conditional_expectation_matches_the_paper_example(cdnow_model: clv.BgNbdModel) -> None:
    # FHL 2005: x = 2, t_x = 30.43, T = 38.86 → 1.226 purchases expected in the next 39 weeks
    expected = clv.expected_purchases(cdnow_model, 39.0, [2], [30.43], [38.86])
    assert expected[0] == pytest.approx(1.226, abs=5e-4)


def test_summary_fixture_agrees_with_the_transactions_summary(cdnow: pd.DataFrame) -> None:
    summary = pd.read_csv(DATA / "cdnow_customers_summary.csv")
    assert summary[["frequency", "recency", "T"]].to_numpy() == pytest.approx(
        cdnow[["x", "t_x", "T"]].to_numpy()
    )


# --- formulas ----------------------------------------------------------------------------------


def _textbook_expectation(
    model: clv.BgNbdModel, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """FHL 2005 eq. 10 written literally (fine for moderate inputs)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    hypergeometric = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    numerator = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hypergeometric)
    denominator = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return numerator / denominator


def test_stable_expectation_equals_the_textbook_formula(
    cdnow: pd.DataFrame, cdnow_model: clv.BgNbdModel
) -> None:
    x, t_x, T = (cdnow[column].to_numpy(dtype=float) for column in ("x", "t_x", "T"))
    for t in (1.0, 39.0, 104.0):
        stable = clv.expected_purchases(cdnow_model, t, x, t_x, T)
        assert stable == pytest.approx(_textbook_expectation(cdnow_model, t, x, t_x, T), rel=1e-9)


def test_new_customer_expectation_is_the_unconditional_formula(cdnow_model: clv.BgNbdModel) -> None:
    # x = t_x = T = 0 is a customer just acquired: E[X(t)] = (a+b-1)/(a-1) [1 - (α/(α+t))^r 2F1(r,b;a+b-1;t/(α+t))]
    r, alpha, a, b = cdnow_model.r, cdnow_model.alpha, cdnow_model.a, cdnow_model.b
    t = 52.0
    unconditional = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    assert clv.expected_purchases(cdnow_model, t, [0], [0], [0])[0] == pytest.approx(unconditional, rel=1e-9)


def test_probability_alive_is_one_without_repeat_purchases(cdnow_model: clv.BgNbdModel) -> None:
    alive = clv.probability_alive(cdnow_model, [0, 0, 0], [0, 0, 0], [0.0, 38.86, 1e6])
    assert alive.tolist() == [1.0, 1.0, 1.0]


def test_probability_alive_falls_with_a_long_silence(cdnow_model: clv.BgNbdModel) -> None:
    alive = clv.probability_alive(cdnow_model, [5, 5, 5], [38.0, 20.0, 2.0], [38.86, 38.86, 38.86])
    assert 1.0 >= alive[0] > alive[1] > alive[2] > 0.0
    manual = 1 / (
        1
        + cdnow_model.a
        / (cdnow_model.b + 4)
        * ((cdnow_model.alpha + 38.86) / (cdnow_model.alpha + 20.0)) ** (cdnow_model.r + 5)
    )
    assert alive[1] == pytest.approx(manual, rel=1e-12)


def test_predictions_stay_finite_for_extreme_inputs(
    cdnow_model: clv.BgNbdModel, cdnow_spend_model: clv.GammaGammaModel
) -> None:
    frequency = [0, 0, 10_000, 10_000, 1, 500, 3]
    recency = [0, 0, 1e7, 0.5, 1e-9, 1e6, 5.0]
    T = [1e7, 0, 1e7, 1e7, 1e-9, 1e6, 5.0]  # huge T, brand-new, recency = T, long silence
    for t in (0.0, 1.0, 1e4, 1e8):
        expected = clv.expected_purchases(cdnow_model, t, frequency, recency, T)
        assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
    alive = clv.probability_alive(cdnow_model, frequency, recency, T)
    assert np.all((alive >= 0) & (alive <= 1))
    assert alive[3] < 1e-6  # 10,000 purchases then silence for almost all of T: gone
    value = clv.customer_lifetime_value(
        cdnow_model, cdnow_spend_model, frequency, recency, T, [0, 0, 5e6, 10, 1, 1, 0]
    )
    assert np.all(np.isfinite(value)) and np.all(value >= 0)


def test_expected_purchases_grow_with_the_horizon(cdnow_model: clv.BgNbdModel) -> None:
    horizons = [0.0, 1.0, 10.0, 52.0, 520.0]
    values = [clv.expected_purchases(cdnow_model, t, [3], [30.0], [38.0])[0] for t in horizons]
    assert values[0] == 0.0
    assert all(later > earlier for earlier, later in zip(values, values[1:], strict=False))


def test_expected_average_spend_shrinks_towards_the_population_mean(
    cdnow_spend_model: clv.GammaGammaModel,
) -> None:
    model = cdnow_spend_model
    population_mean = model.p * model.v / (model.q - 1)
    spend = clv.expected_average_spend(model, [0, 1, 50, 1], [0.0, 100.0, 100.0, 1.0])
    assert spend[0] == pytest.approx(population_mean)
    assert population_mean < spend[1] < spend[2] < 100.0  # more purchases → closer to own mean
    assert 1.0 < spend[3] < population_mean


def test_clv_discounting_and_horizon(
    cdnow: pd.DataFrame, cdnow_model: clv.BgNbdModel, cdnow_spend_model: clv.GammaGammaModel
) -> None:
    args = (cdnow_model, cdnow_spend_model, cdnow["x"], cdnow["t_x"], cdnow["T"], cdnow["zbar"])
    undiscounted = clv.customer_lifetime_value(*args, horizon_days=364, discount_rate_annual=0.0)
    discounted = clv.customer_lifetime_value(*args, horizon_days=364, discount_rate_annual=0.15)
    longer = clv.customer_lifetime_value(*args, horizon_days=728, discount_rate_annual=0.15)
    spend = clv.expected_average_spend(cdnow_spend_model, cdnow["x"], cdnow["zbar"])
    purchases = clv.expected_purchases(cdnow_model, 52.0, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert undiscounted == pytest.approx(spend * purchases, rel=1e-9)
    assert np.all(discounted < undiscounted) and np.all(discounted > 0)
    assert np.all(longer > discounted)
    daily = clv.customer_lifetime_value(*args, horizon_days=364, discount_rate_annual=0.0, time_unit="D")
    assert daily.sum() > undiscounted.sum()  # a week-fitted model read as days buys 7× faster


# --- transactions → RFM ------------------------------------------------------------------------


def test_rfm_from_transactions_reproduces_the_cdnow_summary(
    cdnow: pd.DataFrame, cdnow_transactions: pd.DataFrame
) -> None:
    rfm = clv.rfm_from_transactions(cdnow_transactions, observation_end="1997-09-30", time_unit="W")
    rfm = rfm.reindex(cdnow["ID"])
    assert len(rfm) == 2357
    assert rfm["frequency"].to_numpy() == pytest.approx(cdnow["x"].to_numpy())
    assert rfm["recency"].round(2).to_numpy() == pytest.approx(cdnow["t_x"].to_numpy())
    assert rfm["T"].round(2).to_numpy() == pytest.approx(cdnow["T"].to_numpy())
    assert rfm["monetary_value"].to_numpy() == pytest.approx(cdnow["zbar"].to_numpy(), abs=0.0051)


def test_rfm_aggregates_same_day_purchases_and_averages_repeats() -> None:
    transactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b"],
            "timestamp": ["2024-01-01 09:00", "2024-01-01 18:00", "2024-01-08", "2024-01-15", "2024-01-10"],
            "amount": [10.0, 5.0, 30.0, 50.0, 99.0],
        }
    )
    rfm = clv.rfm_from_transactions(transactions, observation_end="2024-01-22", time_unit="D")
    assert rfm.loc["a"].to_dict() == {"frequency": 2, "recency": 14.0, "T": 21.0, "monetary_value": 40.0}
    assert rfm.loc["b"].to_dict() == {"frequency": 0, "recency": 0.0, "T": 12.0, "monetary_value": 0.0}
    weekly = clv.rfm_from_transactions(transactions, observation_end="2024-01-22", time_unit="W")
    assert weekly.loc["a", "T"] == pytest.approx(3.0)


def test_rfm_ignores_transactions_after_the_observation_end() -> None:
    transactions = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-03-01"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    rfm = clv.rfm_from_transactions(transactions, observation_end="2024-02-01", time_unit="D")
    assert list(rfm.index) == [1]
    assert rfm.loc[1, "frequency"] == 0


def test_rfm_handles_time_zone_aware_times() -> None:
    times = pd.to_datetime(["2024-01-01 23:30", "2024-01-02 00:30"]).tz_localize("Asia/Shanghai")
    transactions = pd.DataFrame({"customer_id": ["a", "a"], "timestamp": times, "amount": [1.0, 2.0]})
    rfm = clv.rfm_from_transactions(transactions, observation_end="2024-01-03", time_unit="D")
    assert rfm.loc["a", "frequency"] == 1 and rfm.loc["a", "T"] == 2.0


# --- calibration / holdout -----------------------------------------------------------------------


def test_calibration_holdout_on_cdnow(cdnow_transactions: pd.DataFrame) -> None:
    report = clv.calibration_holdout_error(cdnow_transactions, "1997-09-30", "1998-06-30", time_unit="W")
    assert report.customers == 2357
    assert report.model.r == pytest.approx(0.243, abs=5e-4)
    assert report.holdout_periods == pytest.approx(273 / 7)
    assert report.actual_total == int(report.per_customer["actual"].sum()) > 0
    errors = report.per_customer["predicted"] - report.per_customer["actual"]
    assert report.mean_absolute_error == pytest.approx(float(errors.abs().mean()))
    assert report.root_mean_squared_error >= report.mean_absolute_error
    assert abs(report.aggregate_relative_error) < 0.15  # measured: -12 % (under-forecast)
    assert set(report.as_dict()) >= {
        "mae",
        "rmse",
        "predicted_total",
        "actual_total",
        "aggregate_relative_error",
    }


def test_calibration_holdout_rejects_a_cutoff_after_the_end(cdnow_transactions: pd.DataFrame) -> None:
    with pytest.raises(InputFormatError, match="after calibration_end"):
        clv.calibration_holdout_error(cdnow_transactions, "1998-07-01", "1998-06-30")


# --- bad inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1, -1], [1, 1], [2, 2], "negative"),
        ([1, 2], [1, 3], [2, 2], "must not exceed T"),
        ([0], [1], [2], "recency must be 0"),
        ([1.5], [1], [2], "whole numbers"),
        ([1, 2], [1], [2, 2], "same length"),
        ([np.nan], [0], [1], "finite"),
        ([np.inf], [0], [1], "finite"),
        (["<script>alert(1)</script>"], [0], [1], "must be numbers"),
        (["1; DROP TABLE members"], [0], [1], "must be numbers"),
        ([], [], [], "at least one customer"),
    ],
)
def test_bad_rfm_inputs_raise_input_format_error(
    frequency: list, recency: list, T: list, message: str
) -> None:
    with pytest.raises(InputFormatError, match=message):
        clv.fit_bgnbd(frequency, recency, T)


def test_gamma_gamma_needs_repeat_buyers_with_spend() -> None:
    with pytest.raises(InputFormatError, match="repeat purchases"):
        clv.fit_gamma_gamma([0, 0, 3], [0.0, 0.0, 0.0])
    with pytest.raises(InputFormatError, match="negative"):
        clv.fit_gamma_gamma([1, 2], [10.0, -5.0])


def test_bad_time_unit_and_horizon(
    cdnow_model: clv.BgNbdModel, cdnow_spend_model: clv.GammaGammaModel
) -> None:
    with pytest.raises(InputFormatError, match="time_unit"):
        clv.customer_lifetime_value(cdnow_model, cdnow_spend_model, [1], [1], [2], [5], time_unit="M")  # type: ignore[arg-type]
    with pytest.raises(InputFormatError, match="horizon_days"):
        clv.customer_lifetime_value(cdnow_model, cdnow_spend_model, [1], [1], [2], [5], horizon_days=-1)
    with pytest.raises(InputFormatError, match="t must be"):
        clv.expected_purchases(cdnow_model, math.nan, [1], [1], [2])


def test_transactions_with_missing_columns_or_bad_values() -> None:
    with pytest.raises(InputFormatError, match="missing column"):
        clv.rfm_from_transactions(pd.DataFrame({"customer_id": [1]}))
    bad_amount = pd.DataFrame({"customer_id": [1], "timestamp": ["2024-01-01"], "amount": ["' OR 1=1 --"]})
    with pytest.raises(InputFormatError, match="not numbers"):
        clv.rfm_from_transactions(bad_amount)
    bad_time = pd.DataFrame({"customer_id": [1], "timestamp": ["../../etc/passwd"], "amount": [1.0]})
    with pytest.raises(InputFormatError, match="not dates"):
        clv.rfm_from_transactions(bad_time)


def test_fit_on_a_tiny_degenerate_sample_still_returns_finite_parameters() -> None:
    model = clv.fit_bgnbd([0, 0, 0], [0, 0, 0], [10, 10, 10])
    assert all(math.isfinite(value) and value > 0 for value in (model.r, model.alpha, model.a, model.b))
    assert model.loglik <= 0


def test_clv_fit_document_shape(cdnow: pd.DataFrame) -> None:
    rfm = cdnow.rename(
        columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )
    document = clv.fit_clv_models(rfm).as_dict()
    assert set(document) == {"bgnbd", "gamma_gamma", "customers"}
    assert set(document["bgnbd"]) == {"r", "alpha", "a", "b", "loglik"}
    assert set(document["gamma_gamma"]) == {"p", "q", "v"}
    assert document["customers"] == 2357
    assert clv.fit_clv_models(rfm.drop(columns="monetary_value")).as_dict()["gamma_gamma"] is None


def test_customer_value_table_combines_the_models(cdnow: pd.DataFrame) -> None:
    rfm = cdnow.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}).set_index("ID")
    fitted = clv.fit_clv_models(rfm)
    table = clv.customer_value_table(
        fitted, rfm, horizon_days=273, clv_horizon_days=364, discount_rate_annual=0.0
    )
    assert list(table.index) == list(rfm.index)
    assert table.loc[1, "expected_purchases"] == pytest.approx(1.226, abs=5e-4)  # 273 days = 39 weeks
    assert (table.loc[rfm["frequency"] == 0, "probability_alive"] == 1.0).all()
    expected_clv = table["expected_average_spend"] * clv.expected_purchases(
        fitted.bgnbd, 52.0, rfm["frequency"], rfm["recency"], rfm["T"]
    )
    assert table["clv"].to_numpy() == pytest.approx(expected_clv.to_numpy(), rel=1e-9)
    without_spend = clv.customer_value_table(clv.fit_clv_models(rfm.drop(columns="monetary_value")), rfm)
    assert without_spend["clv"].isna().all() and without_spend["probability_alive"].notna().all()


def test_expected_purchases_stay_finite_for_a_fit_where_nobody_drops_out() -> None:
    # A fit seen on short demo histories: a and b near zero, so a + b + x - 1 < 0 for x = 0.
    model = clv.BgNbdModel(r=0.632, alpha=8.18, a=2.8e-05, b=1.37e-04, loglik=-424.4, customers=352)
    frequency, recency, age = np.array([0.0, 1.0, 5.0]), np.array([0.0, 2.0, 6.0]), np.array([8.0, 8.0, 8.0])
    expected = clv.expected_purchases(model, 12.0, frequency, recency, age)
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
    no_dropout = 12.0 * (0.632 + frequency) / (8.18 + age)  # an alive customer who never drops out
    assert np.all(expected <= no_dropout * (1 + 1e-9))
