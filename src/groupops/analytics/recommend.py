"""Next-best product (个性化推荐): a hybrid of co-purchase, category preference and popularity.

Input is a purchase table, one row per order line: ``member_id``, ``item_id`` and, for the
time-split validation and evaluation, ``timestamp``; optionally ``category``. Three estimates of
"which item does this member buy next", each a probability distribution over the catalogue, are
mixed with weights chosen on the last weeks of the training window:

- co-purchase: for each item the member bought, the items its other buyers also bought, with
  pairs of little support shrunk away (their mass goes to popularity);
- category: the member's category shares (smoothed toward the brand's mix) times each item's
  share of its category;
- popularity: distinct buyers, optionally recency-weighted.

Without history or without signal every part falls back to popularity, so the weights that
win the validation include plain popularity. The legacy co-purchase score (``method=
"co_purchase"``) and the popularity baseline stay available for comparison.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from groupops.analytics._frames import parse_times
from groupops.errors import InputFormatError

__all__ = [
    "POPULARITY_ONLY",
    "RECOMMENDATION_METHODS",
    "HitRateReport",
    "HybridWeights",
    "evaluate_hit_rate",
    "item_similarity",
    "popular_products",
    "recommend_products",
    "repurchase_rate",
    "tune_hybrid_weights",
]

FloatArray = NDArray[np.float64]
RecommendationMethod = Literal["hybrid", "co_purchase", "category_popularity", "popularity"]
RECOMMENDATION_METHODS: tuple[str, ...] = ("hybrid", "co_purchase", "category_popularity", "popularity")
_POPULARITY_TIE_BREAK = 1e-3
_MEMBER_BATCH = 2048
_CATEGORY_PRIOR = 2.0  # pseudo order lines of the brand's category mix in each member's preference
_PAIR_SUPPORT = 2.0  # a pair bought together by c members keeps c / (c + 2) of its weight
_ITEM_SUPPORT = 5.0  # pseudo co-purchases of popularity in each item's neighbour distribution
_MIN_VALIDATION_MEMBERS = 30
_HALF_LIVES: tuple[float | None, ...] = (None, 30.0)
_GRID_STEPS = 4  # weights in quarters
_SELECTION_STANDARD_ERRORS = 1.5  # a mixture must beat popularity by this many standard errors
_REPURCHASE_RARE = 0.2  # auto: owned SKUs are excluded when fewer member-SKU pairs are re-bought


@dataclass(frozen=True)
class HitRateReport:
    """Hit-rate@k of the recommender and of the popularity baseline on a later period."""

    k: int
    members_evaluated: int
    hit_rate: float
    popularity_hit_rate: float
    method: str = "hybrid"
    baselines: dict[str, float] = field(default_factory=dict)  # other methods' hit-rates, same members
    weights: dict[str, Any] | None = None  # the hybrid's weights chosen on the training window

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
            "method": self.method,
            "baselines": dict(self.baselines),
            "weights": self.weights,
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


# --- hybrid ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HybridWeights:
    """Mixture weights of the hybrid (normalised to sum 1) and the popularity half-life in days."""

    co_purchase: float = 0.25
    category: float = 0.25
    popularity: float = 0.5
    half_life_days: float | None = None

    def __post_init__(self) -> None:
        parts = (self.co_purchase, self.category, self.popularity)
        if not all(np.isfinite(part) and part >= 0 for part in parts) or sum(parts) <= 0:
            raise InputFormatError("hybrid weights must be finite, >= 0 and not all 0")
        if self.half_life_days is not None and not (
            np.isfinite(self.half_life_days) and self.half_life_days > 0
        ):
            raise InputFormatError("half_life_days must be a positive number or None")

    def normalised(self) -> tuple[float, float, float]:
        """(co-purchase, category, popularity) summing to 1."""
        total = self.co_purchase + self.category + self.popularity
        return self.co_purchase / total, self.category / total, self.popularity / total

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready weights."""
        co_purchase, category, popularity = self.normalised()
        return {
            "co_purchase": co_purchase,
            "category": category,
            "popularity": popularity,
            "half_life_days": self.half_life_days,
        }


_POPULARITY_ONLY = HybridWeights(0.0, 0.0, 1.0, None)
_CATEGORY_ONLY = HybridWeights(0.0, 1.0, 0.0, None)


@dataclass(frozen=True)
class _HybridModel:
    matrix: _PurchaseMatrix
    item_prior: FloatArray  # p(i), sums to 1
    within_category: FloatArray  # P(i | its category)
    category_prior: FloatArray  # P(c)
    item_to_category: sparse.csr_matrix  # items × categories, 0/1
    item_categories: NDArray[np.int64]
    neighbours: sparse.csr_matrix  # items × items: shrunk share of co-purchases q(i | j)
    leftover: FloatArray  # per item j: the share of q(· | j) given to popularity

    def components(self, positions: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        """(co-purchase, category) distributions for the members at ``positions``."""
        bought = self.matrix.bought[positions]
        owned = np.maximum(np.asarray(bought.sum(axis=1), dtype=np.float64), 1.0)
        co_purchase = np.asarray((bought @ self.neighbours).todense(), dtype=np.float64)
        co_purchase += (bought @ self.leftover)[:, np.newaxis] * self.item_prior[np.newaxis, :]
        co_purchase /= owned
        lines = np.asarray(
            (self.matrix.counts[positions] @ self.item_to_category).todense(), dtype=np.float64
        )
        preference = (lines + _CATEGORY_PRIOR * self.category_prior) / (
            lines.sum(axis=1, keepdims=True) + _CATEGORY_PRIOR
        )
        category = preference[:, self.item_categories] * self.within_category[np.newaxis, :]
        return co_purchase, category

    def scores(self, positions: NDArray[np.intp], weights: HybridWeights) -> FloatArray:
        """Mixture scores for the members at ``positions`` (owned items not yet masked)."""
        co_weight, category_weight, popularity_weight = weights.normalised()
        co_purchase, category = self.components(positions)
        return co_weight * co_purchase + category_weight * category + popularity_weight * self.item_prior


def _recency_buyers(
    purchases: pd.DataFrame,
    times: pd.Series | None,
    matrix: _PurchaseMatrix,
    columns: tuple[str, str],
    half_life: float | None,
) -> FloatArray:
    """Distinct buyers per item, each weighted 0.5^(days since their last purchase of it / half-life)."""
    if half_life is None or times is None:
        return np.asarray(matrix.bought.sum(axis=0), dtype=np.float64).ravel()
    member_col, item_col = columns
    frame = pd.DataFrame(
        {
            "member": matrix.members.get_indexer(purchases[member_col]),
            "item": matrix.items.get_indexer(purchases[item_col]),
            "age": ((times.max() - times) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64),
        }
    )
    youngest = frame.groupby(["member", "item"], sort=False)["age"].min()
    weights = np.power(0.5, youngest.to_numpy() / half_life)
    items = youngest.index.get_level_values("item").to_numpy()
    return np.bincount(items, weights=weights, minlength=len(matrix.items)).astype(np.float64)


def _hybrid_model(matrix: _PurchaseMatrix, buyers: FloatArray) -> _HybridModel:
    item_prior = (
        buyers / buyers.sum() if buyers.sum() > 0 else np.full(len(buyers), 1.0 / max(len(buyers), 1))
    )
    if matrix.item_categories is None:
        categories, category_count = np.zeros(len(matrix.items), dtype=np.int64), 1
    else:
        categories, category_count = matrix.item_categories, matrix.category_count
    category_prior = np.bincount(categories, weights=item_prior, minlength=category_count).astype(np.float64)
    within = item_prior / np.maximum(category_prior[categories], np.finfo(np.float64).tiny)
    item_to_category = sparse.csr_matrix(
        (np.ones(len(categories)), (np.arange(len(categories)), categories)),
        shape=(len(categories), category_count),
    )
    neighbours, leftover = _shrunk_neighbours(matrix.bought)
    return _HybridModel(
        matrix, item_prior, within, category_prior, item_to_category, categories, neighbours, leftover
    )


def _shrunk_neighbours(bought: sparse.csr_matrix) -> tuple[sparse.csr_matrix, FloatArray]:
    """q(i | j): co-purchases of j with i, shrunk for low pair and item support; and the rest."""
    co_counts = sparse.csr_matrix(bought.T @ bought)
    co_counts.setdiag(0.0)
    co_counts.eliminate_zeros()
    totals = np.asarray(co_counts.sum(axis=1), dtype=np.float64).ravel()
    shrunk = co_counts.copy()
    shrunk.data = shrunk.data * shrunk.data / (shrunk.data + _PAIR_SUPPORT)
    neighbours = sparse.csr_matrix(sparse.diags(1.0 / (totals + _ITEM_SUPPORT)) @ shrunk)
    leftover = 1.0 - np.asarray(neighbours.sum(axis=1), dtype=np.float64).ravel()
    return neighbours, leftover


def _time_split(
    purchases: pd.DataFrame, times: pd.Series, cut: pd.Timestamp, member_col: str, item_col: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(purchases up to ``cut``, new member-item pairs after it of members who bought before)."""
    before, after = purchases[times <= cut], purchases[times > cut]
    owned = before[[member_col, item_col]].drop_duplicates()
    later = after[[member_col, item_col]].drop_duplicates()
    later = later[later[member_col].isin(owned[member_col].unique())]
    targets = later.merge(owned, on=[member_col, item_col], how="left", indicator=True)
    return before, targets.loc[targets["_merge"] == "left_only", [member_col, item_col]]


def _weight_grid(half_lives: tuple[float | None, ...]) -> list[HybridWeights]:
    """Popularity alone first (the baseline), then every mixture in quarters per half-life."""
    steps = range(_GRID_STEPS + 1)
    mixes = [(a, b, _GRID_STEPS - a - b) for a in steps for b in steps if a + b <= _GRID_STEPS]
    grid = [HybridWeights(a, b, c, half_life) for half_life in half_lives for a, b, c in mixes]
    return [_POPULARITY_ONLY, *(weights for weights in grid if weights != _POPULARITY_ONLY)]


def _candidate_hits(
    model: _HybridModel,
    positions: NDArray[np.intp],
    wanted: sparse.csr_matrix,
    candidates: list[HybridWeights],
    k: int,
) -> NDArray[np.bool_]:
    """candidates × members: does the top k (owned items excluded) hold a wanted item?"""
    hits = np.zeros((len(candidates), len(positions)), dtype=bool)
    for start in range(0, len(positions), _MEMBER_BATCH):
        batch = slice(start, start + _MEMBER_BATCH)
        co_purchase, category = model.components(positions[batch])
        owned = model.matrix.bought[positions[batch]].nonzero()
        batch_wanted = wanted[batch].toarray() > 0
        for index, weights in enumerate(candidates):
            co_weight, category_weight, popularity_weight = weights.normalised()
            scores = (
                co_weight * co_purchase + category_weight * category + popularity_weight * model.item_prior
            )
            scores[owned] = -np.inf
            top = _top_items(scores, k)
            hits[index, batch] = np.take_along_axis(batch_wanted, top, axis=1).any(axis=1)
    return hits


def _most_reliable(hits: NDArray[np.bool_]) -> int:
    """Index of the candidate whose gain over candidate 0 has the best lower bound (gain − 1.5 SE)."""
    gains = hits.astype(np.float64) - hits[0].astype(np.float64)
    spread = gains.std(axis=1, ddof=1) / np.sqrt(gains.shape[1]) if gains.shape[1] > 1 else 0.0
    bounds = gains.mean(axis=1) - _SELECTION_STANDARD_ERRORS * spread
    bounds[0] = 0.0
    return int(np.argmax(bounds))


def _validation_days(times: pd.Series, validation_days: float | None) -> float:
    span = (times.max() - times.min()) / pd.Timedelta(days=1)
    wanted = min(30.0, span / 3) if validation_days is None else float(validation_days)
    return max(min(wanted, span / 2), 0.0)


def _tune(
    purchases: pd.DataFrame, times: pd.Series, columns: tuple[str, str, str | None], days: float, k: int
) -> HybridWeights | None:
    """The grid point with the most reliable gain on the last ``days`` days, None when too few members."""
    member_col, item_col, category_col = columns
    if days <= 0:
        return None
    before, targets = _time_split(
        purchases, times, times.max() - pd.Timedelta(days=days), member_col, item_col
    )
    members = pd.Index(targets[member_col].unique())
    if len(members) < _MIN_VALIDATION_MEMBERS:
        return None
    matrix = _purchase_matrix(before, member_col, item_col, category_col)
    known = targets[targets[item_col].isin(matrix.items)]
    wanted = sparse.csr_matrix(
        (
            np.ones(len(known)),
            (members.get_indexer(known[member_col]), matrix.items.get_indexer(known[item_col])),
        ),
        shape=(len(members), len(matrix.items)),
    )
    positions = matrix.members.get_indexer(members)
    times_before = times[times <= times.max() - pd.Timedelta(days=days)]
    ordered: list[HybridWeights] = []
    blocks = []
    for life in _HALF_LIVES:
        buyers = _recency_buyers(before, times_before, matrix, (member_col, item_col), life)
        candidates = [weights for weights in _weight_grid(_HALF_LIVES) if weights.half_life_days == life]
        blocks.append(_candidate_hits(_hybrid_model(matrix, buyers), positions, wanted, candidates, k))
        ordered += candidates
    return ordered[_most_reliable(np.vstack(blocks))]


def _prepared(
    purchases: pd.DataFrame, columns: tuple[str, str, str | None], time_col: str
) -> tuple[pd.DataFrame, pd.Series | None]:
    """The purchases with a fresh index and their parsed times (None without a time column)."""
    member_col, item_col, category_col = columns
    _check_columns(purchases, (member_col, item_col, category_col))
    frame = purchases.reset_index(drop=True)
    if time_col not in frame.columns:
        return frame, None
    return frame, parse_times(frame[time_col], "purchases")


POPULARITY_ONLY = HybridWeights(co_purchase=0.0, category=0.0, popularity=1.0)


def tune_hybrid_weights(
    purchases: pd.DataFrame,
    member_col: str = "member_id",
    item_col: str = "item_id",
    time_col: str = "timestamp",
    category_col: str | None = None,
    validation_days: float | None = None,
    k: int = 10,
) -> HybridWeights:
    """Weights chosen by hit-rate@k on the last ``validation_days`` (default: a third, at most 30).

    A mixture replaces popularity alone only when its gain, less 1.5 standard errors, is
    positive; without times or with fewer than 30 validation members there is no evidence for a
    mixture, so popularity alone applies (never worse than the baseline in expectation).
    """
    frame, times = _prepared(purchases, (member_col, item_col, category_col), time_col)
    if times is None or frame.empty:
        return POPULARITY_ONLY
    tuned = _tune(
        frame, times, (member_col, item_col, category_col), _validation_days(times, validation_days), k
    )
    return POPULARITY_ONLY if tuned is None else tuned


def repurchase_rate(
    purchases: pd.DataFrame,
    member_col: str = "member_id",
    item_col: str = "item_id",
    time_col: str = "timestamp",
) -> float:
    """Share of member-item pairs bought on two or more days (order lines without a time column)."""
    frame, times = _prepared(purchases, (member_col, item_col, None), time_col)
    if frame.empty:
        return 0.0
    occasions = frame[[member_col, item_col]].copy()
    occasions["when"] = np.arange(len(frame)) if times is None else times.dt.floor("D").to_numpy()
    per_pair = occasions.groupby([member_col, item_col], sort=False)["when"].nunique()
    return float((per_pair > 1).mean())


def _recommend_hybrid(
    model: _HybridModel,
    weights: HybridWeights,
    wanted: pd.Index,
    top_n: int,
    columns: tuple[str, str],
    owned_factor: float,
) -> pd.DataFrame:
    matrix = model.matrix
    rows: list[tuple[object, int, object, float]] = []
    known = wanted[wanted.isin(matrix.members)]
    positions = matrix.members.get_indexer(known)
    for start in range(0, len(positions), _MEMBER_BATCH):
        batch = slice(start, start + _MEMBER_BATCH)
        scores = model.scores(positions[batch], weights)
        owned = matrix.bought[positions[batch]].nonzero()
        scores[owned] = scores[owned] * owned_factor if owned_factor > 0 else -np.inf
        rows += _ranked_rows(known[batch], scores, top_n, matrix.items)
    cold = wanted[~wanted.isin(matrix.members)]
    if len(cold):
        rows += _ranked_rows(
            cold, np.repeat(model.item_prior[np.newaxis, :], len(cold), axis=0), top_n, matrix.items
        )
    return pd.DataFrame(rows, columns=[columns[0], "rank", columns[1], "score"])


def _hybrid_recommendations(
    purchases: pd.DataFrame,
    columns: tuple[str, str, str | None],
    time_col: str,
    wanted: Iterable[object] | None,
    settings: tuple[int, HybridWeights | None, float | None, bool | None],
) -> tuple[pd.DataFrame, HybridWeights]:
    """Recommendations of the hybrid and the weights used."""
    top_n, weights, validation_days, exclude_bought = settings
    member_col, item_col, category_col = columns
    frame, times = _prepared(purchases, columns, time_col)
    if weights is None:
        weights = tune_hybrid_weights(
            frame, member_col, item_col, time_col, category_col, validation_days, top_n
        )
    matrix = _purchase_matrix(frame, member_col, item_col, category_col)
    buyers = _recency_buyers(frame, times, matrix, (member_col, item_col), weights.half_life_days)
    if exclude_bought is None:
        rate = repurchase_rate(frame, member_col, item_col, time_col)
        owned_factor = 0.0 if rate < _REPURCHASE_RARE else rate
    else:
        owned_factor = 0.0 if exclude_bought else 1.0
    model = _hybrid_model(matrix, buyers)
    table = _recommend_hybrid(
        model, weights, _wanted_members(matrix, wanted), top_n, (member_col, item_col), owned_factor
    )
    return table, weights


def recommend_products(
    purchases: pd.DataFrame,
    member_col: str = "member_id",
    item_col: str = "item_id",
    category_col: str | None = None,
    top_n: int = 10,
    category_weight: float = 0.3,
    members: Iterable[object] | None = None,
    method: RecommendationMethod = "hybrid",
    weights: HybridWeights | None = None,
    time_col: str = "timestamp",
    validation_days: float | None = None,
    exclude_bought: bool | None = None,
) -> pd.DataFrame:
    """Top-N items per member: columns member, rank, item, score (best first).

    ``method``: "hybrid" (weights tuned on the last weeks unless given), "category_popularity",
    "popularity", or the legacy "co_purchase" (``category_weight`` applies to it only).
    ``exclude_bought``: None drops owned items when SKU repurchase is rare (< 20 % of pairs),
    otherwise scales their score by the repurchase rate. Members without purchases get the
    most popular items.
    """
    if top_n < 1:
        raise InputFormatError("top_n must be at least 1")
    if method not in RECOMMENDATION_METHODS:
        raise InputFormatError(f"method must be one of {', '.join(RECOMMENDATION_METHODS)}")
    if not np.isfinite(category_weight) or category_weight < 0:
        raise InputFormatError("category_weight must be a finite number >= 0")
    if method == "co_purchase":
        matrix = _purchase_matrix(purchases, member_col, item_col, category_col)
        scorer = _scorer(matrix, co_purchase=True, category_weight=category_weight)
        return _recommend(scorer, _wanted_members(matrix, members), top_n, member_col, item_col)
    fixed = {"popularity": _POPULARITY_ONLY, "category_popularity": _CATEGORY_ONLY}.get(method, weights)
    settings = (top_n, fixed, validation_days, exclude_bought)
    return _hybrid_recommendations(
        purchases, (member_col, item_col, category_col), time_col, members, settings
    )[0]


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
    method: RecommendationMethod = "hybrid",
) -> HitRateReport:
    """Hit-rate@k with a time split: learn from purchases up to ``cutoff``, check later ones.

    A member counts when they bought before the cut-off and bought at least one item after it
    that they had not bought before; a hit is any such item among their top-k recommendations
    (owned items are excluded for every method). The hybrid tunes its weights on the training
    window only, validating on its last days (as many as the holdout has, at most half).
    ``baselines`` holds every other method's hit-rate on the same members.
    """
    if method not in RECOMMENDATION_METHODS:
        raise InputFormatError(f"method must be one of {', '.join(RECOMMENDATION_METHODS)}")
    _check_columns(purchases, (member_col, item_col, time_col, category_col))
    frame = purchases.reset_index(drop=True)
    times = parse_times(frame[time_col], "purchases")
    cut = pd.Timestamp(cutoff)
    if times.dt.tz is not None and cut.tzinfo is None:
        cut = cut.tz_localize(times.dt.tz)
    if not (times <= cut).any() or not (times > cut).any():
        raise InputFormatError("the cut-off must leave purchases on both sides")
    before, targets = _time_split(frame, times, cut, member_col, item_col)
    if targets.empty:
        raise InputFormatError("no member bought a new item after the cut-off: nothing to evaluate")
    members = targets[member_col].unique()
    holdout_days = (times.max() - cut) / pd.Timedelta(days=1)
    columns = (member_col, item_col, category_col)
    rates: dict[str, float] = {}
    weights: HybridWeights | None = None
    for name in RECOMMENDATION_METHODS:
        if name == "popularity":
            ranked = popular_products(before, member_col, item_col, k, members)
        elif name == "co_purchase":
            ranked = recommend_products(before, *columns, k, category_weight, members, method="co_purchase")
        else:
            fixed = _CATEGORY_ONLY if name == "category_popularity" else None
            ranked, used = _hybrid_recommendations(
                before, columns, time_col, members, (k, fixed, holdout_days, True)
            )
            weights = used if name == "hybrid" else weights
        rates[name] = float(_hits(ranked, targets, member_col, item_col).mean())
    return HitRateReport(
        k=k,
        members_evaluated=len(members),
        hit_rate=rates[method],
        popularity_hit_rate=rates["popularity"],
        method=method,
        baselines={name: rate for name, rate in rates.items() if name != method},
        weights=None if weights is None else weights.as_dict(),
    )
