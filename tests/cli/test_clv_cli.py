"""``groupops clv fit``: the ARCHITECTURE.md §4 contract, on CDNOW and on broken CSVs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groupops.cli import app

CDNOW = Path(__file__).parents[1] / "analytics" / "data" / "cdnow_customers_summary_with_transactions.csv"
runner = CliRunner()


@pytest.fixture
def cdnow_rfm_csv(tmp_path: Path) -> Path:
    """The CDNOW fixture with the contract's column names."""
    lines = CDNOW.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "cdnow_rfm.csv"
    path.write_text(
        "\n".join(["customer_id,frequency,recency,T,monetary_value", *lines[1:]]) + "\n", encoding="utf-8"
    )
    return path


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rfm.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_fit_json_reproduces_the_published_cdnow_estimates(cdnow_rfm_csv: Path) -> None:
    result = runner.invoke(app, ["clv", "fit", "--rfm", str(cdnow_rfm_csv), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"bgnbd", "gamma_gamma", "customers"}
    assert document["customers"] == 2357
    bgnbd = document["bgnbd"]
    assert set(bgnbd) == {"r", "alpha", "a", "b", "loglik"}
    assert [round(bgnbd[name], 3) for name in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]
    assert bgnbd["loglik"] == pytest.approx(-9582.4, abs=0.05)
    gamma_gamma = document["gamma_gamma"]
    assert set(gamma_gamma) == {"p", "q", "v"}
    assert [gamma_gamma[name] for name in ("p", "q", "v")] == pytest.approx([6.25, 3.74, 15.44], abs=0.01)


def test_without_monetary_value_gamma_gamma_is_null(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "customer_id,frequency,recency,T\na,2,5,10\nb,0,0,8\nc,1,3,3\nd,4,9.5,10\n")
    result = runner.invoke(app, ["clv", "fit", "--rfm", str(path), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["gamma_gamma"] is None and document["customers"] == 4
    assert document["bgnbd"]["loglik"] < 0


def test_human_output_is_a_table(cdnow_rfm_csv: Path) -> None:
    result = runner.invoke(app, ["clv", "fit", "--rfm", str(cdnow_rfm_csv)])
    assert result.exit_code == 0, result.output
    assert "BG/NBD" in result.stdout and "Gamma-Gamma" in result.stdout and "2357" in result.stdout
    assert "0.2426" in result.stdout


def test_monetary_value_may_be_blank_for_one_time_buyers(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "customer_id,frequency,recency,T,monetary_value\na,2,5,10,30.5\nb,0,0,8,\nc,1,3,3,12\nd,3,9,10,20\n",
    )
    result = runner.invoke(app, ["clv", "fit", "--rfm", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["gamma_gamma"]) == {"p", "q", "v"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customer_id,frequency,recency\na,1,2\n", "line 1: missing column(s) T"),
        ("", "missing column(s) customer_id, frequency, recency, T"),
        ("customer_id,frequency,recency,T\n", "no customer rows"),
        (
            "customer_id,frequency,recency,T\na,1,2,3\nb,x,2,3\n",
            "line 3: column 'frequency': 'x' is not a number",
        ),
        ("customer_id,frequency,recency,T\na,1,-2,3\n", "line 2: column 'recency' must not be negative"),
        ("customer_id,frequency,recency,T\na,1,5,3\n", "line 2: recency (5) is larger than T (3)"),
        ("customer_id,frequency,recency,T\na,1.5,2,3\n", "line 2: frequency must be a whole number"),
        ("customer_id,frequency,recency,T\na,0,2,3\n", "line 2: recency must be 0 when frequency is 0"),
        ("customer_id,frequency,recency,T\na,nan,2,3\n", "line 2: column 'frequency': 'nan' is not a finite"),
        ("customer_id,frequency,recency,T\na,1,2,3\na,2,2,3\n", "line 3: customer_id repeats line 2"),
        ("customer_id,frequency,recency,T\n,1,2,3\n", "line 2: customer_id is empty"),
        (
            "customer_id,frequency,recency,T,monetary_value\na,1,2,3,\n",
            "line 2: column 'monetary_value': '' is not",
        ),
        (
            "customer_id,frequency,recency,T\n<script>alert(1)</script>,'; DROP TABLE x;--,2,3\n",
            "line 2: column 'frequency': \"'; DROP TABLE x;--\" is not a number",
        ),
    ],
)
def test_bad_csv_fails_with_exit_1_and_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = write_csv(tmp_path, text)
    result = runner.invoke(app, ["clv", "fit", "--rfm", str(path), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in " ".join(result.stderr.split())


def test_missing_file_or_directory_is_a_usage_error(tmp_path: Path) -> None:
    for target in (tmp_path / "nope.csv", tmp_path, tmp_path / ".." / ".." / "etc" / "shadow-missing"):
        result = runner.invoke(app, ["clv", "fit", "--rfm", str(target), "--json"])
        assert result.exit_code == 2
        assert result.stdout == ""


def test_rfm_option_is_required() -> None:
    result = runner.invoke(app, ["clv", "fit"])
    assert result.exit_code == 2
