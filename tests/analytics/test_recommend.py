"""Next-best product: co-purchase structure is found, bought items never come back, time split."""

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


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    return synthetic_purchases()


def test_hit_rate_beats_popularity_where_co_purchase_structure_exists(purchases: pd.DataFrame) -> None:
    report = recommend.evaluate_hit_rate(
        purchases, START + pd.Timedelta(days=100), category_col="category", k=10
    )
    assert report.members_evaluated > 500
    assert report.hit_rate > report.popularity_hit_rate + 0.2
    assert report.lift > 1.3
    assert set(report.as_dict()) == {"k", "members_evaluated", "hit_rate", "popularity_hit_rate", "lift"}


def test_without_structure_the_model_is_no_better_than_popularity() -> None:
    rng = np.random.default_rng(3)
    items = [f"i{index}" for index in range(40)]
    popularity = 1.0 / np.arange(1, 41)
    rows = [
        (f"m{member}", item, START + pd.Timedelta(days=float(rng.uniform(0, 100))))
        for member in range(800)
        for item in rng.choice(items, size=4, p=popularity / popularity.sum())
    ]
    random_purchases = pd.DataFrame(rows, columns=["member_id", "item_id", "timestamp"])
    report = recommend.evaluate_hit_rate(random_purchases, START + pd.Timedelta(days=70))
    assert report.hit_rate <= report.popularity_hit_rate + 0.05


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
