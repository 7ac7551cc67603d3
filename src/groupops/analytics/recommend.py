"""Next-best product (个性化推荐): item-to-item co-purchase similarity plus category preference.

Input is a purchase table, one row per order line: ``member_id``, ``item_id`` and, for the
time-split evaluation, ``timestamp``; optionally ``category`` (the item's category). A member's
score for an item is

    score = co-purchase + category_weight · category share + 0.001 · popularity

where co-purchase is the sum, over the items the member bought, of the implicit item-item
cosine similarity (member × item 0/1 matrix), scaled to 0..1 per member; category share is
the fraction of the member's purchases in the item's category; popularity (0..1, distinct
buyers) only breaks ties and serves members without history. Items already bought are never
recommended.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from groupops.analytics._frames import parse_times
from groupops.errors import InputFormatError

__all__ = [
    "HitRateReport",
    "evaluate_hit_rate",
    "item_similarity",
    "popular_products",
    "recommend_products",
]

FloatArray = NDArray[np.float64]
_POPULARITY_TIE_BREAK = 1e-3
_MEMBER_BATCH = 2048


@dataclass(frozen=True)
class HitRateReport:
    """Hit-rate@k of the recommender and of the popularity baseline on a later period."""

    k: int
    members_evaluated: int
    hit_rate: float
    popularity_hit_rate: float

    @property
    def lift(self) -> float:
        """hit_rate / popularity_hit_rate (inf when the baseline never hits)."""
        return self.hit_rate / self.popularity_hit_rate if self.popularity_hit_rate else float("inf")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "k": self.k,
            "members_evaluated": self.members_evaluated,
            "hit_rate": self.hit_rate,
            "popularity_hit_rate": self.popularity_hit_rate,
            "lift": self.lift,
        }


@dataclass(frozen=True)
class _PurchaseMatrix:
    members: pd.Index
    items: pd.Index
    bought: sparse.csr_matrix  # members × items, 1 when bought at least once
    counts: sparse.csr_matrix  # members × items, number of order lines
    item_categories: NDArray[np.int64] | None  # category code per item
    category_count: int


def _check_columns(purchases: pd.DataFrame, columns: tuple[str | None, ...]) -> None:
    missing = [name for name in columns if name is not None and name not in purchases.columns]
    if missing:
        raise InputFormatError(f"purchases: missing column(s) {', '.join(map(repr, missing))}")
    named = [name for name in columns if name is not None]
    if purchases[named].isna().to_numpy().any():
        raise InputFormatError(f"purchases: empty values in {', '.join(map(repr, named))}")


def _purchase_matrix(
    purchases: pd.DataFrame, member_col: str, item_col: str, category_col: str | None
) -> _PurchaseMatrix:
    _check_columns(purchases, (member_col, item_col, category_col))
    member_codes, members = pd.factorize(purchases[member_col], sort=True)
    item_codes, items = pd.factorize(purchases[item_col], sort=True)
    ones = np.ones(len(purchases), dtype=np.float64)
    shape = (len(members), len(items))
    counts = sparse.csr_matrix((ones, (member_codes, item_codes)), shape=shape)
    bought = counts.copy()
    bought.data = np.ones_like(bought.data)
    categories: NDArray[np.int64] | None = None
    category_count = 0
    if category_col is not None:
        first_category = purchases.groupby(item_codes)[category_col].first()
        codes, uniques = pd.factorize(first_category.sort_index())
        categories, category_count = codes.astype(np.int64), len(uniques)
    return _PurchaseMatrix(pd.Index(members), pd.Index(items), bought, counts, categories, category_count)


def _cosine_similarity(bought: sparse.csr_matrix) -> sparse.csr_matrix:
    """Item × item cosine similarity of the 0/1 columns, zero diagonal."""
    buyers = np.asarray(bought.sum(axis=0)).ravel()
    inverse_norm = sparse.diags(1.0 / np.sqrt(np.maximum(buyers, 1.0)))
    normalised = bought @ inverse_norm
    similarity = sparse.csr_matrix(normalised.T @ normalised)
    similarity.setdiag(0.0)
    similarity.eliminate_zeros()
    return similarity


def item_similarity(
    purchases: pd.DataFrame, member_col: str = "member_id", item_col: str = "item_id", top: int = 20
) -> pd.DataFrame:
    """The ``top`` most similar items per item: columns item_id, similar_item_id, similarity."""
    matrix = _purchase_matrix(purchases, member_col, item_col, None)
    similarity = _cosine_similarity(matrix.bought).tocoo()
    pairs = pd.DataFrame(
        {
            item_col: matrix.items[similarity.row],
            f"similar_{item_col}": matrix.items[similarity.col],
            "similarity": similarity.data,
        }
    )
    pairs = pairs.sort_values([item_col, "similarity"], ascending=[True, False], kind="stable")
    return pairs.groupby(item_col, sort=False).head(top).reset_index(drop=True)


def _popularity(bought: sparse.csr_matrix) -> FloatArray:
    """Distinct buyers per item scaled to 0..1."""
    buyers = np.asarray(bought.sum(axis=0), dtype=np.float64).ravel()
    return buyers / buyers.max() if len(buyers) and buyers.max() > 0 else buyers


@dataclass(frozen=True)
class _Scorer:
    matrix: _PurchaseMatrix
    similarity: sparse.csr_matrix | None  # None: popularity only
    popularity: FloatArray
    item_to_category: sparse.csr_matrix | None
    category_weight: float

    def scores(self, positions: NDArray[np.intp]) -> FloatArray:
        """members (rows at ``positions``) × items scores; bought items are -inf."""
        bought = self.matrix.bought[positions]
        scores = np.zeros(bought.shape, dtype=np.float64)
        if self.similarity is not None:
            co_purchase = np.asarray((bought @ self.similarity).todense(), dtype=np.float64)
            top = co_purchase.max(axis=1, keepdims=True) if co_purchase.size else co_purchase
            scores = np.divide(co_purchase, top, out=scores, where=top > 0)
        if self.item_to_category is not None and self.category_weight:
            scores += self.category_weight * self._category_share(self.matrix.counts[positions])
        scores += _POPULARITY_TIE_BREAK * self.popularity
        scores[bought.nonzero()] = -np.inf
        return scores

    def _category_share(self, counts: sparse.csr_matrix) -> FloatArray:
        """members × items: the share of each member's order lines in the item's category."""
        assert self.item_to_category is not None and self.matrix.item_categories is not None
        per_category = np.asarray((counts @ self.item_to_category).todense(), dtype=np.float64)
        shares = per_category / np.maximum(per_category.sum(axis=1, keepdims=True), 1.0)
        return np.asarray(shares[:, self.matrix.item_categories], dtype=np.float64)


def _scorer(matrix: _PurchaseMatrix, co_purchase: bool, category_weight: float) -> _Scorer:
    item_to_category = None
    if matrix.item_categories is not None:
        item_to_category = sparse.csr_matrix(
            (np.ones(len(matrix.items)), (np.arange(len(matrix.items)), matrix.item_categories)),
            shape=(len(matrix.items), matrix.category_count),
        )
    similarity = _cosine_similarity(matrix.bought) if co_purchase else None
    return _Scorer(matrix, similarity, _popularity(matrix.bought), item_to_category, category_weight)


def _top_items(scores: FloatArray, top_n: int) -> NDArray[np.int64]:
    """Column indices of the top_n scores per row, best first (ties broken by column)."""
    keep = min(top_n, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :keep]
    return order.astype(np.int64)


def _ranked_rows(
    members: pd.Index, scores: FloatArray, top_n: int, items: pd.Index
) -> list[tuple[object, int, object, float]]:
    rows = []
    for member, item_indices, member_scores in zip(members, _top_items(scores, top_n), scores, strict=True):
        finite = [index for index in item_indices if np.isfinite(member_scores[index])]
        rows += [
            (member, rank, items[index], float(member_scores[index])) for rank, index in enumerate(finite, 1)
        ]
    return rows


def _recommend(scorer: _Scorer, wanted: pd.Index, top_n: int, member_col: str, item_col: str) -> pd.DataFrame:
    matrix = scorer.matrix
    rows: list[tuple[object, int, object, float]] = []
    known = wanted[wanted.isin(matrix.members)]
    positions = matrix.members.get_indexer(known)
    for start in range(0, len(positions), _MEMBER_BATCH):
        batch = slice(start, start + _MEMBER_BATCH)
        rows += _ranked_rows(known[batch], scorer.scores(positions[batch]), top_n, matrix.items)
    cold = wanted[~wanted.isin(matrix.members)]
    if len(cold):
        popular = _POPULARITY_TIE_BREAK * scorer.popularity[np.newaxis, :]
        rows += _ranked_rows(cold, np.repeat(popular, len(cold), axis=0), top_n, matrix.items)
    return pd.DataFrame(rows, columns=[member_col, "rank", item_col, "score"])


def _wanted_members(matrix: _PurchaseMatrix, members: Iterable[object] | None) -> pd.Index:
    return matrix.members if members is None else pd.Index(pd.unique(pd.Series(list(members), dtype=object)))


def recommend_products(
    purchases: pd.DataFrame,
    member_col: str = "member_id",
    item_col: str = "item_id",
    category_col: str | None = None,
    top_n: int = 10,
    category_weight: float = 0.3,
    members: Iterable[object] | None = None,
) -> pd.DataFrame:
    """Top-N items per member, never one already bought: columns member, rank, item, score.

    ``members`` defaults to every buyer; members without purchases get the most popular items.
    """
    if top_n < 1:
        raise InputFormatError("top_n must be at least 1")
    if not np.isfinite(category_weight) or category_weight < 0:
        raise InputFormatError("category_weight must be a finite number >= 0")
    matrix = _purchase_matrix(purchases, member_col, item_col, category_col)
    scorer = _scorer(matrix, co_purchase=True, category_weight=category_weight)
    return _recommend(scorer, _wanted_members(matrix, members), top_n, member_col, item_col)


def popular_products(
    purchases: pd.DataFrame,
    member_col: str = "member_id",
    item_col: str = "item_id",
    top_n: int = 10,
    members: Iterable[object] | None = None,
) -> pd.DataFrame:
    """The popularity baseline: the most-bought items (distinct buyers) each member has not bought."""
    if top_n < 1:
        raise InputFormatError("top_n must be at least 1")
    matrix = _purchase_matrix(purchases, member_col, item_col, None)
    scorer = _scorer(matrix, co_purchase=False, category_weight=0.0)
    return _recommend(scorer, _wanted_members(matrix, members), top_n, member_col, item_col)


def _hits(recommended: pd.DataFrame, targets: pd.DataFrame, member_col: str, item_col: str) -> pd.Series:
    """Per evaluated member: True when a recommended item is among their new later purchases."""
    matched = recommended.merge(targets, on=[member_col, item_col], how="inner")
    members = pd.Index(targets[member_col].unique())
    return pd.Series(members.isin(matched[member_col].unique()), index=members)


def evaluate_hit_rate(
    purchases: pd.DataFrame,
    cutoff: object,
    member_col: str = "member_id",
    item_col: str = "item_id",
    time_col: str = "timestamp",
    category_col: str | None = None,
    k: int = 10,
    category_weight: float = 0.3,
) -> HitRateReport:
    """Hit-rate@k with a time split: learn from purchases up to ``cutoff``, check later ones.

    A member counts when they bought before the cut-off and bought at least one item after it
    that they had not bought before; a hit is any such item among their top-k recommendations.
    The popularity baseline recommends the k most-bought items the member does not own yet.
    """
    _check_columns(purchases, (member_col, item_col, time_col, category_col))
    times = parse_times(purchases[time_col], "purchases")
    cut = pd.Timestamp(cutoff)
    if times.dt.tz is not None and cut.tzinfo is None:
        cut = cut.tz_localize(times.dt.tz)
    before, after = purchases[times <= cut], purchases[times > cut]
    if before.empty or after.empty:
        raise InputFormatError("the cut-off must leave purchases on both sides")
    owned = before[[member_col, item_col]].drop_duplicates()
    later = after[[member_col, item_col]].drop_duplicates()
    later = later[later[member_col].isin(owned[member_col].unique())]
    targets = later.merge(owned, on=[member_col, item_col], how="left", indicator=True)
    targets = targets.loc[targets["_merge"] == "left_only", [member_col, item_col]]
    if targets.empty:
        raise InputFormatError("no member bought a new item after the cut-off: nothing to evaluate")
    members = targets[member_col].unique()
    model = recommend_products(before, member_col, item_col, category_col, k, category_weight, members)
    baseline = popular_products(before, member_col, item_col, k, members)
    return HitRateReport(
        k=k,
        members_evaluated=len(members),
        hit_rate=float(_hits(model, targets, member_col, item_col).mean()),
        popularity_hit_rate=float(_hits(baseline, targets, member_col, item_col).mean()),
    )
