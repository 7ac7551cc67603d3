"""One expression set, two engines: the full pipeline on DuckDB and on Spark gives the same marts."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from brand_fixture import build_small_brand, shop_event_rows, write_facts
from mart_comparison import assert_same_marts

from groupops.analytics.engine import DuckDBEngine, SparkEngine, new_spark_session, open_engine
from groupops.analytics.funnel import compute_funnel
from groupops.analytics.kpis import compute_kpis
from groupops.analytics.pipeline import run_pipeline
from groupops.errors import ConfigurationError
from groupops.store.workspace import Workspace

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


def _spark_missing_reason() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'groupops[spark]')"
    if shutil.which("java") is None:
        return "Java is not installed (Debian: apt-get install default-jre-headless)"
    try:
        subprocess.run(["java", "-version"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        return f"java -version fails: {error}"
    return None


@pytest.fixture(scope="module")
def spark_session() -> Iterator[Any]:
    reason = _spark_missing_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Spark engine cannot be tested in CI: {reason}")
        pytest.skip(f"SPARK ENGINE NOT TESTED: {reason}")
    session = new_spark_session()
    yield session
    session.stop()


SHOP = [
    ("m01", "view", "2024-03-01 10:00"),
    ("m01", "favorite", "2024-03-01 11:00"),
    ("m01", "add_to_cart", "2024-03-02 10:00"),
    ("m01", "pay", "2024-03-03 10:00"),
    ("m02", "view", "2024-03-01 10:00"),
    ("m02", "share", "2024-03-01 10:30"),
    ("m02", "favorite", "2024-03-01 11:00"),
    ("m03", "favorite", "2024-03-01 09:00"),
    ("m03", "view", "2024-03-01 10:00"),
    ("m03", "add_to_cart", "2024-03-01 11:00"),
    ("m03", "pay", "2024-03-01 12:00"),
    ("m04", "view", "2024-03-31 23:59"),
    ("m04", "favorite", "2024-04-01 00:01"),
]


def _brand(root: Path) -> Workspace:
    brand = build_small_brand(root)
    write_facts(brand, "shop_events", shop_event_rows(SHOP))
    return brand


def test_pipeline_marts_are_identical_on_duckdb_and_spark(tmp_path: Path, spark_session: Any) -> None:
    on_duckdb, on_spark = _brand(tmp_path / "duckdb"), _brand(tmp_path / "spark")
    run_pipeline(on_duckdb, "duckdb", full=True)
    engine = SparkEngine(on_spark, session=spark_session)
    try:
        result = run_pipeline(on_spark, engine, full=True)
    finally:
        engine.close()
    assert result.engine == "spark" and result.rows["funnel_steps"] > 0
    assert_same_marts(on_duckdb.settings.marts_dir, on_spark.settings.marts_dir)


def test_kpis_and_funnels_are_identical(tmp_path: Path, spark_session: Any) -> None:
    brand = _brand(tmp_path / "brand")
    spark = SparkEngine(brand, session=spark_session)
    duck = DuckDBEngine(brand)
    try:
        march = {"date_from": date(2024, 3, 2), "date_to": date(2024, 3, 31)}
        for options in ({}, {"group": "g1"}, {"group_kind": "core_user"}):
            assert (
                compute_kpis(spark, **march, **options).to_json()
                == compute_kpis(duck, **march, **options).to_json()
            )
        for mode in ("ordered", "strict", "any_order"):
            assert compute_funnel(spark, mode=mode).to_json() == compute_funnel(duck, mode=mode).to_json()
    finally:
        spark.close()
        duck.close()


def test_unknown_engine_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        open_engine(build_small_brand(tmp_path), "oracle")
