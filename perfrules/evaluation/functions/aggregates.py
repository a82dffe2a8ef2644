"""Aggregates over a record's rows in a supplied related table: count, count_distinct, any, all, sum,
min, max, streak, streak_start and top, each as a per-record reference form beside its vectorised form.

Supplied means complete: a record with no rows in a supplied table has none (``count`` 0, ``sum`` 0,
``any`` false, ``all`` true, ``streak`` 0; ``min``/``max``/``top`` have no value). A row whose
``where`` is unknown makes the result unknown unless the other rows decide it already (a true row for
``any``, a false one for ``all``).

Reading order (``streak``, ``top``): most recent first by the table's order column
(``TABLE_ORDER``), rows without a value there last; rows of the same order value most authoritative
first where the table ranks them (``TABLE_RANK``: evaluations by ``params.evaluation_precedence``),
then in file order; a table without an order column is read from its last row back. Over
evaluations, ``streak`` counts evaluated years before the record's fiscal year, each year read from
its leading (most authoritative) evaluation (``STREAK_BY_PERIOD``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from perfrules.evaluation.functions.forms import AggregateForms, RelatedColumns, RelatedRow, RelatedRows
from perfrules.language.functions import STREAK_BY_PERIOD, TABLE_ORDER, authority_ranks


def _split(rel: RelatedRows) -> tuple[list[RelatedRow], bool, int]:
    """The rows whose where is true, whether any is unknown, and how many are false."""
    true_rows, unknown, n_false = [], False, 0
    for r in rel.rows:
        if r.cond is None:
            unknown = True
        elif r.cond:
            true_rows.append(r)
        else:
            n_false += 1
    return true_rows, unknown, n_false


def _counts(cols: RelatedColumns, mask: np.ndarray) -> np.ndarray:
    """Per record, how many of its rows are in ``mask``."""
    return np.bincount(cols.pos[mask], minlength=cols.n)


def _has_unknown(cols: RelatedColumns) -> np.ndarray:
    return _counts(cols, cols.where.unknown) > 0


def _numbers(counts: np.ndarray, cols: RelatedColumns) -> pd.Series:
    return pd.Series(counts.astype(float), index=cols.index, dtype="Float64")


# -- count(t[, where]) ---------------------------------------------------------------------------------

def count(rel: RelatedRows) -> float | None:
    true_rows, unknown, _ = _split(rel)
    return None if unknown else float(len(true_rows))


def count_vectorised(cols: RelatedColumns) -> pd.Series:
    return _numbers(_counts(cols, cols.where.true), cols).mask(_has_unknown(cols))


# -- count_distinct(t, value[, where]) -----------------------------------------------------------------

def count_distinct(rel: RelatedRows) -> float | None:
    true_rows, unknown, _ = _split(rel)
    return None if unknown else float(len({r.value for r in true_rows if r.value is not None}))


def count_distinct_vectorised(cols: RelatedColumns) -> pd.Series:
    assert cols.value is not None
    sel = cols.where.true
    values = cols.value.reset_index(drop=True)[sel]
    counts = values.groupby(cols.pos[sel]).nunique().reindex(range(cols.n), fill_value=0)
    return _numbers(counts.to_numpy(), cols).mask(_has_unknown(cols))


# -- any(t, cond), all(t, cond) ------------------------------------------------------------------------

def any_(rel: RelatedRows) -> bool | None:
    true_rows, unknown, _ = _split(rel)
    return True if true_rows else (None if unknown else False)


def any_vectorised(cols: RelatedColumns) -> pd.Series:
    n_true = _counts(cols, cols.where.true)
    na = (n_true == 0) & _has_unknown(cols)
    return pd.Series(pd.arrays.BooleanArray((n_true > 0) & ~na, na), index=cols.index, copy=False)


def all_(rel: RelatedRows) -> bool | None:
    _, unknown, n_false = _split(rel)
    return False if n_false else (None if unknown else True)


def all_vectorised(cols: RelatedColumns) -> pd.Series:
    n_false = _counts(cols, cols.where.false)
    na = (n_false == 0) & _has_unknown(cols)
    return pd.Series(pd.arrays.BooleanArray((n_false == 0) & ~na, na), index=cols.index, copy=False)


# -- sum(t, value[, where]) ----------------------------------------------------------------------------

def sum_(rel: RelatedRows) -> float | None:
    true_rows, unknown, _ = _split(rel)
    values = [r.value for r in true_rows]
    if unknown or any(v is None for v in values):
        return None
    return float(sum(values))  # no rows: 0 (nothing paid), not missing


def sum_vectorised(cols: RelatedColumns) -> pd.Series:
    assert cols.value is not None
    sel = cols.where.true
    value = cols.value
    chosen = pd.Series(value.to_numpy()[sel] if value.dtype == object else value[sel].reset_index(drop=True))
    vals = chosen.astype("Float64")
    pos = cols.pos[sel]
    total = np.bincount(pos, weights=vals.fillna(0).to_numpy(dtype=float), minlength=cols.n)
    value_na = np.bincount(pos[vals.isna().to_numpy()], minlength=cols.n) > 0
    return pd.Series(total, index=cols.index, dtype="Float64").mask(value_na | _has_unknown(cols))


# -- min(t, value[, where]), max(t, value[, where]) ------------------------------------------------------

def min_(rel: RelatedRows) -> Any:
    return _extreme(rel, min)


def max_(rel: RelatedRows) -> Any:
    return _extreme(rel, max)


def _extreme(rel: RelatedRows, pick: Any) -> Any:
    true_rows, unknown, _ = _split(rel)
    present = [r.value for r in true_rows if r.value is not None]
    return None if unknown or not present else pick(present)


def min_vectorised(cols: RelatedColumns) -> pd.Series:
    return _extreme_vectorised(cols, "min")


def max_vectorised(cols: RelatedColumns) -> pd.Series:
    return _extreme_vectorised(cols, "max")


def _extreme_vectorised(cols: RelatedColumns, func: str) -> pd.Series:
    assert cols.value is not None
    sel, value = cols.where.true, cols.value
    frame = pd.DataFrame({"pos": cols.pos[sel], "v": value.to_numpy()[sel] if value.dtype == object else value[sel].reset_index(drop=True)})
    out = getattr(frame.dropna(subset=["v"]).groupby("pos")["v"], func)().reindex(range(cols.n))
    out.index = cols.index
    return out.mask(_has_unknown(cols))


# -- reading order, for streak and top -------------------------------------------------------------------

_rank = authority_ranks  # the one definition of authority, shared with the loaders' prior-year evaluation


def _ordered(rel: RelatedRows) -> list[RelatedRow]:
    """A record's rows in reading order (see the module docstring)."""
    order = TABLE_ORDER.get(rel.table)
    if not order:
        return rel.rows[::-1]
    rank = _rank(rel.table, rel.params)

    def key(item: tuple[int, RelatedRow]) -> tuple[Any, ...]:
        i, r = item
        v = r.row.get(order)
        authority = 0 if rank is None else rank[1].get(r.row.get(rank[0]), len(rank[1]))
        return (v is None, 0 if v is None else -_ordinal(v), authority, i)

    return [r for _, r in sorted(enumerate(rel.rows), key=key)]


def _ordinal(value: Any) -> Any:
    return value.toordinal() if hasattr(value, "toordinal") else value


def _reading_order(cols: RelatedColumns) -> np.ndarray:
    """Every row's position, records in turn, each record's rows in reading order."""
    # Fast path kept (with streak_vectorised's run lengths): their pandas groupby/np.lexsort form slows nightly 200k Parquet by 4–5%, measured 2026-12-06.
    rows = cols.ctx.frame
    at = np.arange(len(rows))
    order_col = TABLE_ORDER.get(cols.table)
    if order_col is None:  # no order column: the last row is the most recent
        key, na = -at, np.zeros(len(rows), bool)
    else:
        order = rows[order_col]
        na = np.asarray(order.isna(), dtype=bool)
        if order.dtype.kind == "M":
            key = order.to_numpy(dtype="datetime64[ns]").view(np.int64)
        else:
            key = order.to_numpy(dtype=float, na_value=np.nan)
        key = -np.where(na, 0, key)
        rank = _rank(cols.table, cols.ctx.params)
        if rank is not None and rank[1]:  # the least significant key first: each later stable sort keeps its order among equals
            column, ranks = rank
            codes, values = pd.factorize(rows[column], use_na_sentinel=True)
            per_value = np.array([ranks.get(v, len(ranks)) for v in values] + [len(ranks)])
            at = at[np.argsort(per_value[codes], kind="stable")]  # (code -1, missing, takes the last: not listed)
    at = at[np.argsort(key[at], kind="stable")]
    at = at[np.argsort(na[at], kind="stable")]
    return at[np.argsort(cols.pos[at], kind="stable")]


# -- streak(t, cond) ---------------------------------------------------------------------------------------

def streak(rel: RelatedRows) -> float | None:
    rows = _ordered(rel)
    if rel.table in STREAK_BY_PERIOD:
        rows = _leading_per_period(rel.table, rows)
    length = 0
    for r in rows:
        if r.cond is None:
            return None
        if not r.cond:
            break
        length += 1
    return float(length)


def _leading_per_period(table: str, rows: list[RelatedRow]) -> list[RelatedRow]:
    """The leading row of each period before the record's fiscal year, most recent first."""
    order = TABLE_ORDER[table]
    assert order is not None  # a period is a value of the order column
    out: list[RelatedRow] = []
    for r in rows:
        period, fy = r.row.get(order), r.row.get("fiscal_year")
        if period is None or fy is None or not period < fy or (out and out[-1].row.get(order) == period):
            continue
        out.append(r)
    return out


def streak_vectorised(cols: RelatedColumns) -> pd.Series:
    at = _reading_order(cols)
    if cols.table in STREAK_BY_PERIOD:
        at = _leading_per_period_vectorised(cols, at)
    p, t, u = cols.pos[at], cols.where.true[at], cols.where.unknown[at]
    # Fast path kept (see _reading_order). The run of leading true rows of each record is its streak; the row that ends it may be unknown.
    breaks_before = np.cumsum(~t) - ~t
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]]) if len(p) else np.zeros(0, np.int64)
    group_base = np.repeat(breaks_before[starts], np.diff(np.r_[starts, len(p)]))
    leading = breaks_before == group_base
    length = np.bincount(p[leading & t], minlength=cols.n)
    stopped_unknown = np.zeros(cols.n, bool)
    stopped_unknown[p[leading & ~t & u]] = True
    return _numbers(length, cols).mask(stopped_unknown)


def _leading_per_period_vectorised(cols: RelatedColumns, at: np.ndarray) -> np.ndarray:
    rows = cols.ctx.frame
    period = rows[TABLE_ORDER[cols.table]].to_numpy(dtype=float, na_value=np.nan)[at]
    fy = rows["fiscal_year"].to_numpy(dtype=float, na_value=np.nan)[at]
    p = cols.pos[at]
    first = np.r_[True, (p[1:] != p[:-1]) | (period[1:] != period[:-1])] if len(at) else np.zeros(0, bool)
    with np.errstate(invalid="ignore"):
        return at[first & (period < fy)]  # (a missing period or fiscal year compares false)


# -- streak_start(t, value, cond): where the run streak() counts began -----------------------------------

def streak_start(rel: RelatedRows) -> Any:
    rows = _ordered(rel)
    if rel.table in STREAK_BY_PERIOD:
        rows = _leading_per_period(rel.table, rows)
    earliest = None
    for r in rows:
        if r.cond is None:
            return None
        if not r.cond:
            break
        earliest = r
    return None if earliest is None else earliest.value


def streak_start_vectorised(cols: RelatedColumns) -> pd.Series:
    assert cols.value is not None
    at = _reading_order(cols)
    if cols.table in STREAK_BY_PERIOD:
        at = _leading_per_period_vectorised(cols, at)
    p, t, u = cols.pos[at], cols.where.true[at], cols.where.unknown[at]
    breaks_before = np.cumsum(~t) - ~t  # as in streak: the leading run of true rows of each record
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]]) if len(p) else np.zeros(0, np.int64)
    group_base = np.repeat(breaks_before[starts], np.diff(np.r_[starts, len(p)]))
    leading = breaks_before == group_base
    run, run_pos = at[leading & t], p[leading & t]
    last = np.r_[run_pos[1:] != run_pos[:-1], True] if len(run) else np.zeros(0, bool)  # a run's earliest row
    picked = cols.value.iloc[run[last]]
    picked.index = run_pos[last]
    out = picked.reindex(range(cols.n))
    out.index = cols.index
    stopped_unknown = np.zeros(cols.n, bool)
    stopped_unknown[p[leading & ~t & u]] = True
    return out.mask(stopped_unknown)


# -- top(t, value[, where]) ---------------------------------------------------------------------------------

def top(rel: RelatedRows) -> Any:
    true_rows, unknown, _ = _split(rel)
    if unknown or not true_rows:
        return None
    return _ordered(RelatedRows(rel.table, true_rows, rel.params))[0].value


def top_vectorised(cols: RelatedColumns) -> pd.Series:
    assert cols.value is not None
    at = _reading_order(cols)
    at = at[cols.where.true[at]]
    p = cols.pos[at]
    first = np.r_[True, p[1:] != p[:-1]] if len(at) else np.zeros(0, bool)
    picked = cols.value.iloc[at[first]]
    picked.index = p[first]
    out = picked.reindex(range(cols.n))
    out.index = cols.index
    return out.mask(_has_unknown(cols))


ENTRIES = [
    AggregateForms("count", count, count_vectorised),
    AggregateForms("count_distinct", count_distinct, count_distinct_vectorised),
    AggregateForms("any", any_, any_vectorised),
    AggregateForms("all", all_, all_vectorised),
    AggregateForms("sum", sum_, sum_vectorised),
    AggregateForms("min", min_, min_vectorised),
    AggregateForms("max", max_, max_vectorised),
    AggregateForms("streak", streak, streak_vectorised),
    AggregateForms("streak_start", streak_start, streak_start_vectorised),
    AggregateForms("top", top, top_vectorised),
]
