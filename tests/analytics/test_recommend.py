"""Next-best product: the hybrid finds co-purchase structure, never loses to popularity, time split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from groupops.analytics import recommend
from groupops.errors import InputFormatError

START = pd.Timestamp("2024-01-01")


def synthetic_purchases(members: int = 1500, pairs: int = 30, seed: int = 11) -> pd.DataFrame:
    """Each member buys 1-2 'A' items; 80 % later buy the paired 'B' item (same category).

    On top, everybody buys a few 'hot' items with Zipf-like popularity, the popularity
    baseline's best case. The truth: after A{i}, the next best product is B{i}.
    """
    rng = np.random.default_rng(seed)
    hot_items = [f"hot{index}" for index in range(15)]
    weights = 1.0 / np.arange(1, 16)
    weights /= weights.sum()
    rows = []
    for member in range(members):
        for pair in rng.choice(pairs, size=rng.integers(1, 3), replace=False):
            day = rng.uniform(0, 100)
            category = f"category{pair % 6}"
            rows.append((f"m{member}", f"A{pair}", START + pd.Timedelta(days=day), category))
            if rng.random() < 0.8:
                rows.append(
                    (f"m{member}", f"B{pair}", START + pd.Timedelta(days=day + rng.uniform(1, 60)), category)
                )
        for item in rng.choice(hot_items, size=rng.poisson(2), p=weights):
            rows.append((f"m{member}", item, START + pd.Timedelta(days=rng.uniform(0, 160)), "hot"))
    return pd.DataFrame(rows, columns=["member_id", "item_id", "timestamp", "category"])


def structure_free_purchases(members: int = 800, seed: int = 3) -> pd.DataFrame:
    """Four items per member drawn independently from one Zipf-like popularity: nothing to learn."""
    rng = np.random.default_rng(seed)
    items = [f"i{index}" for index in range(40)]
    popularity = 1.0 / np.arange(1, 41)
    rows = [
        (f"m{member}", item, START + pd.Timedelta(days=float(rng.uniform(0, 100))), f"c{int(item[1:]) % 5}")
        for member in range(members)
        for item in rng.choice(items, size=4, p=popularity / popularity.sum())
    ]
    return pd.DataFrame(rows, columns=["member_id", "item_id", "timestamp", "category"])


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    return synthetic_purchases()


def test_hit_rate_beats_popularity_where_co_purchase_structure_exists(purchases: pd.DataFrame) -> None:
    report = recommend.evaluate_hit_rate(
        purchases, START + pd.Timedelta(days=100), category_col="category", k=10
    )
    assert report.members_evaluated > 500
    assert report.method == "hybrid"
    assert report.hit_rate > report.popularity_hit_rate + 0.2
    assert report.lift > 1.3
    assert report.hit_rate >= report.baselines["co_purchase"] - 0.02
    assert report.weights is not None and report.weights["co_purchase"] > 0
    summary = report.as_dict()
    assert {"k", "members_evaluated", "hit_rate", "popularity_hit_rate", "lift"} <= set(summary)
    assert set(summary["baselines"]) == {"popularity", "category_popularity", "co_purchase"}


@pytest.mark.parametrize("seed", [3, 5, 8])
def test_without_structure_the_hybrid_is_not_worse_than_popularity(seed: int) -> None:
    random_purchases = structure_free_purchases(seed=seed)
    report = recommend.evaluate_hit_rate(
        random_purchases, START + pd.Timedelta(days=70), category_col="category"
    )
    assert report.members_evaluated > 300
    assert report.hit_rate >= report.popularity_hit_rate - 0.02


def test_without_structure_the_legacy_co_purchase_is_no_better_than_popularity() -> None:
    report = recommend.evaluate_hit_rate(
        structure_free_purchases(), START + pd.Timedelta(days=70), method="co_purchase"
    )
    assert report.method == "co_purchase"
    assert report.hit_rate <= report.popularity_hit_rate + 0.05
    assert report.baselines["popularity"] == report.popularity_hit_rate


def test_weights_are_tuned_on_the_training_window_only(purchases: pd.DataFrame) -> None:
    cutoff = START + pd.Timedelta(days=100)
    training = purchases[purchases["timestamp"] <= cutoff]
    tuned = recommend.tune_hybrid_weights(training, category_col="category", validation_days=60)
    report = recommend.evaluate_hit_rate(purchases, cutoff, category_col="category")
    assert report.weights == tuned.as_dict()  # the holdout never enters the choice
    assert tuned.co_purchase > 0
    noise = recommend.tune_hybrid_weights(structure_free_purchases(), category_col="category")
    assert noise.co_purchase <= 0.5  # shrunk co-purchase noise does not take over


def test_too_little_history_falls_back_to_popularity_alone() -> None:
    tiny = pd.DataFrame({"member_id": ["a", "b"], "item_id": ["x", "y"], "timestamp": [START, START]})
    assert recommend.tune_hybrid_weights(tiny) == recommend.POPULARITY_ONLY
    assert recommend.tune_hybrid_weights(tiny.drop(columns="timestamp")) == recommend.POPULARITY_ONLY
    with pytest.raises(InputFormatError, match="weights"):
        recommend.HybridWeights(-1.0, 0.0, 1.0)
    with pytest.raises(InputFormatError, match="weights"):
        recommend.HybridWeights(0.0, 0.0, 0.0)
    with pytest.raises(InputFormatError, match="half_life"):
        recommend.HybridWeights(half_life_days=0.0)


def test_methods_agree_on_cold_members_and_popularity_matches_the_baseline(purchases: pd.DataFrame) -> None:
    cold = {
        method: recommend.recommend_products(
            purchases, category_col="category", members=["stranger"], top_n=5, method=method
        )["item_id"].tolist()
        for method in ("hybrid", "category_popularity", "popularity")
    }
    baseline = recommend.popular_products(purchases, members=["stranger"], top_n=5)["item_id"].tolist()
    assert cold["hybrid"] == cold["category_popularity"] == cold["popularity"] == baseline
    with pytest.raises(InputFormatError, match="method"):
        recommend.recommend_products(purchases, method="magic")  # type: ignore[arg-type]


def test_repurchase_rate_decides_whether_owned_items_come_back() -> None:
    days = [START + pd.Timedelta(days=day) for day in range(4)]
    staple = pd.DataFrame(
        {"member_id": ["a", "a", "b", "b"], "item_id": ["socks", "socks", "socks", "tee"], "timestamp": days}
    )
    assert recommend.repurchase_rate(staple) == pytest.approx(1 / 3)
    again = recommend.recommend_products(staple, members=["a"], top_n=2, weights=recommend.HybridWeights())
    assert "socks" in set(again["item_id"])  # re-bought often enough to suggest again
    never = recommend.recommend_products(staple, members=["a"], top_n=2, exclude_bought=True)
    assert never["item_id"].tolist() == ["tee"]
    once = staple.assign(timestamp=[days[0], days[0], days[1], days[1]])
    assert recommend.repurchase_rate(once) == 0.0
    assert recommend.recommend_products(once, members=["a"], top_n=2)["item_id"].tolist() == ["tee"]


def test_the_pair_partner_is_recommended_first(purchases: pd.DataFrame) -> None:
    only_a = pd.concat(
        [
            purchases,
            pd.DataFrame(
                {"member_id": ["new"], "item_id": ["A7"], "timestamp": [START], "category": ["category1"]}
            ),
        ]
    )
    top = recommend.recommend_products(only_a, category_col="category", members=["new"], top_n=3)
    assert top["item_id"].iloc[0] == "B7"
    assert top["rank"].tolist() == [1, 2, 3]


def test_already_bought_items_are_never_recommended(purchases: pd.DataFrame) -> None:
    recommendations = recommend.recommend_products(purchases, top_n=10, category_col="category")
    owned = purchases[["member_id", "item_id"]].drop_duplicates()
    overlap = recommendations.merge(owned, on=["member_id", "item_id"])
    assert overlap.empty
    assert recommendations.groupby("member_id").size().max() == 10
    assert recommendations["member_id"].nunique() == purchases["member_id"].nunique()
    per_member = recommendations.groupby("member_id")["score"]
    assert per_member.apply(lambda scores: scores.is_monotonic_decreasing).all()


def test_category_preference_breaks_co_purchase_ties() -> None:
    purchases = pd.DataFrame(
        {
            "member_id": ["x", "x", "x", "y", "z"],
            "item_id": ["dress1", "dress2", "shirt1", "dress3", "shirt2"],
            "category": ["dress", "dress", "shirt", "dress", "shirt"],
        }
    )
    top = recommend.recommend_products(purchases, category_col="category", members=["x"], top_n=2)
    assert top["item_id"].tolist() == ["dress3", "shirt2"]  # no co-purchase signal: 2/3 dresses wins
    plain = recommend.recommend_products(purchases, members=["x"], top_n=2)
    assert set(plain["item_id"]) == {"dress3", "shirt2"}


def test_members_without_history_get_popular_items_and_everyone_runs_out_gracefully() -> None:
    purchases = pd.DataFrame({"member_id": ["a", "b", "b", "c"], "item_id": ["p", "p", "q", "p"]})
    cold = recommend.recommend_products(purchases, members=["stranger"], top_n=5)
    assert cold["item_id"].tolist() == ["p", "q"]
    full = recommend.recommend_products(purchases, members=["b"], top_n=5)
    assert full.empty  # b owns the whole catalogue
    baseline = recommend.popular_products(purchases, members=["a", "stranger"], top_n=1)
    assert baseline.set_index("member_id")["item_id"].to_dict() == {"a": "q", "stranger": "p"}


def test_item_similarity_is_symmetric_cosine() -> None:
    purchases = pd.DataFrame({"member_id": ["a", "a", "b", "b", "c"], "item_id": ["x", "y", "x", "y", "x"]})
    similar = recommend.item_similarity(purchases)
    pairs = {(row.item_id, row.similar_item_id): row.similarity for row in similar.itertuples()}
    assert pairs[("x", "y")] == pytest.approx(2 / np.sqrt(3 * 2))
    assert pairs[("y", "x")] == pytest.approx(pairs[("x", "y")])
    assert ("x", "x") not in pairs


def test_hostile_identifiers_are_opaque_values() -> None:
    hostile = ["<script>alert(1)</script>", "'; DROP TABLE items; --", "../../etc/passwd"]
    purchases = pd.DataFrame({"member_id": ["a", "a", "b"], "item_id": hostile})
    top = recommend.recommend_products(purchases, members=["b"])
    assert set(top["item_id"]) == set(hostile[:2])


def test_bad_inputs_raise_input_format_error(purchases: pd.DataFrame) -> None:
    with pytest.raises(InputFormatError, match="missing column"):
        recommend.recommend_products(purchases.drop(columns="item_id"))
    with pytest.raises(InputFormatError, match="top_n"):
        recommend.recommend_products(purchases, top_n=0)
    with pytest.raises(InputFormatError, match="empty values"):
        recommend.recommend_products(pd.DataFrame({"member_id": ["a", None], "item_id": ["x", "y"]}))
    with pytest.raises(InputFormatError, match="both sides"):
        recommend.evaluate_hit_rate(purchases, START - pd.Timedelta(days=1))
    with pytest.raises(InputFormatError, match="not dates"):
        recommend.evaluate_hit_rate(purchases.assign(timestamp="yesterday-ish"), START)
