"""Evaluate a scalar expression tree over a pandas DataFrame, one vector operation per node.

Values are pandas Series aligned with the frame (or plain scalars, broadcast by pandas). Missing
values are NA/NaT. A condition's value is a ``Truth``: NumPy masks of the rows where it is true and
where it is unknown, so ``and``/``or``/``not`` follow three-valued (Kleene) logic (unknown and false
is false, unknown or true is true); where a value is handed out it is a nullable ``boolean`` Series.
"""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import perfrules.language.expr as E
from perfrules.inputs.values import true_mask

_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass
class Context:
    """What names evaluate to: the frame's columns, parameter values and the as-of date."""

    frame: pd.DataFrame
    params: dict[str, Any]
    as_of: dt.date
    cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def as_of_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.as_of)


@dataclass(frozen=True)
class Truth:
    """A condition on every row: where it is true, and where it is unknown (never both)."""

    true: np.ndarray
    unknown: np.ndarray

    @property
    def false(self) -> np.ndarray:
        return ~self.true & ~self.unknown

    def series(self, index: pd.Index) -> pd.Series:
        return pd.Series(pd.arrays.BooleanArray(self.true, self.unknown), index=index, copy=False)


def evaluate(node: E.Node, ctx: Context) -> Any:
    """The value of ``node`` on every row of ``ctx.frame`` (a Series, or a scalar when constant)."""
    value = _DISPATCH[type(node)](node, ctx)
    return value.series(ctx.frame.index) if isinstance(value, Truth) else value


def evaluate_truth(node: E.Node, ctx: Context) -> Truth:
    """A condition's value on every row, as masks (a boolean Series is built only where one is handed out)."""
    return _as_truth(_DISPATCH[type(node)](node, ctx), len(ctx.frame))


def evaluate_bool(node: E.Node, ctx: Context) -> pd.Series:
    """A condition's value as a nullable boolean Series over the whole frame."""
    return evaluate_truth(node, ctx).series(ctx.frame.index)


def _literal(node: E.Literal, ctx: Context) -> Any:
    if node.type == "date":
        return pd.Timestamp(node.value)
    return pd.NA if node.value is None else node.value


def _list(node: E.ListLit, ctx: Context) -> list[Any]:
    return [_literal(i, ctx) for i in node.items]  # type: ignore[arg-type]


def _ref(node: E.Ref, ctx: Context) -> Any:
    if node.space == "builtin":
        return ctx.as_of_ts
    key = ("column", node.name)  # a frame's columns are only ever added to, never replaced
    if key not in ctx.cache:
        ctx.cache[key] = ctx.frame[node.name]
    return ctx.cache[key]


def _param(node: E.Param, ctx: Context) -> Any:
    value = ctx.params[node.name]
    if isinstance(value, dt.date):
        return pd.Timestamp(value)
    return value


def _compare(node: E.Compare, ctx: Context) -> Truth:
    left, right = evaluate(node.left, ctx), evaluate(node.right, ctx)
    index = ctx.frame.index
    if node.op in ("in", "not in"):
        result = _membership(left, right, index)
        return Truth(result.false, result.unknown) if node.op == "not in" else result
    na = _isna(left, index) | _isna(right, index)
    if _all_na(na):
        return _truth_of(np.zeros(len(index), bool), na)
    plain = _plain_values(left), _plain_values(right)
    if plain[0] is not None and plain[1] is not None and (plain[0].dtype.kind == "M") == (plain[1].dtype.kind == "M"):
        with np.errstate(invalid="ignore"):  # numbers or dates: compared in NumPy, where pandas would compare them too
            return _truth_of(_CMP[node.op](*plain), na)
    if isinstance(left, pd.Series) and isinstance(right, pd.Series) and left.dtype != right.dtype \
            and not (_is_numeric(left) and _is_numeric(right)):
        left, right = left.astype(object), right.astype(object)
    with np.errstate(invalid="ignore"):
        raw = _CMP[node.op](left, right)
    return _truth_of(_values_np(raw, len(index)), na)


def _membership(left: Any, right: Any, index: pd.Index) -> Truth:
    if isinstance(right, list):
        choices = [v for v in right if v is not pd.NA]
        if isinstance(left, pd.Series):
            if _is_text(left) and all(isinstance(c, str) for c in choices):  # text in Arrow
                hit = true_mask(pc.is_in(_arrow_text(left), value_set=pa.array(choices, pa.large_string())))
            else:
                hit = left.isin(choices).to_numpy(dtype=bool, na_value=False)
            return _truth_of(hit, _isna(left, index))
        if left is pd.NA:
            return _truth_of(np.zeros(len(index), bool), np.ones(len(index), bool))
        return _truth_of(np.full(len(index), left in choices), np.zeros(len(index), bool))
    # ``x in list_field``: a list per row.
    items = right if isinstance(right, pd.Series) else pd.Series([right] * len(index), index=index)
    lefts = left if isinstance(left, pd.Series) else pd.Series([left] * len(index), index=index, dtype=object)
    na = items.isna().to_numpy() | _isna(lefts, index)
    hit = np.fromiter((isinstance(xs, (list, tuple)) and v in xs for v, xs in zip(lefts.tolist(), items.tolist())),
                      bool, len(index))
    return _truth_of(hit, na & ~hit)


def _boolop(node: E.BoolOp, ctx: Context) -> Truth:
    result = evaluate_truth(node.items[0], ctx)
    for item in node.items[1:]:
        other = evaluate_truth(item, ctx)
        if node.op == "and":  # false if either is false; else unknown if either is unknown
            false = result.false | other.false
            result = Truth(result.true & other.true, ~false & (result.unknown | other.unknown))
        else:  # true if either is true; else unknown if either is unknown
            true = result.true | other.true
            result = Truth(true, ~true & (result.unknown | other.unknown))
    return result


def _not(node: E.Not, ctx: Context) -> Truth:
    result = evaluate_truth(node.item, ctx)
    return Truth(result.false, result.unknown)


_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide}


def _arith(node: E.Arith, ctx: Context) -> Any:
    left, right = _as_float(evaluate(node.left, ctx)), _as_float(evaluate(node.right, ctx))
    if isinstance(left, pd.Series) or isinstance(right, pd.Series):
        lv, rv = _plain_values(left), _plain_values(right)
        if lv is not None and rv is not None and lv.dtype.kind in "fi" and rv.dtype.kind in "fi":
            # In NumPy, as pandas computes it, without a pandas op: a missing value (NaN here) stays missing, and
            # pandas reads a NaN result (inf - inf) as missing too.
            if node.op == "/":
                rv = np.where(rv == 0, np.nan, rv)
            with np.errstate(all="ignore"):
                values = _ARITH[node.op](lv, rv)
            missing = np.isnan(values)
            index = (left if isinstance(left, pd.Series) else right).index
            return pd.Series(pd.arrays.FloatingArray(np.where(missing, 0.0, values), missing), index=index, copy=False)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    # Division by zero has no value: it is missing, not infinite.
    if isinstance(right, pd.Series):
        right = right.mask(right == 0)
    elif right == 0:
        right = pd.NA
    return left / right


def _is_missing(node: E.IsMissing, ctx: Context) -> Truth:
    value = evaluate(node.item, ctx)
    na = _isna(value, ctx.frame.index)
    hit = ~na if node.negate else na
    return Truth(hit, np.zeros(len(hit), bool))


def _if_else(node: E.IfElse, ctx: Context) -> Any:
    cond = evaluate_truth(node.cond, ctx)
    index = ctx.frame.index
    then, other = evaluate(node.then, ctx), evaluate(node.other, ctx)
    if _is_text(then) and _is_text(other):  # text choices (grade ladders) stay in Arrow
        out = pc.if_else(pa.array(cond.true), _arrow_text(then), _arrow_text(other))
        out = pc.if_else(pa.array(cond.unknown), pa.scalar(None, pa.large_string()), out)
        return pd.Series(pd.arrays.ArrowStringArray(out.cast(pa.large_string())), index=index, copy=False)
    then, other = _broadcast(then, index), _broadcast(other, index)
    if then.dtype != other.dtype and not (_is_numeric(then) and _is_numeric(other)):
        then, other = then.astype(object), other.astype(object)
    out = then.where(cond.true, other)
    return out.mask(cond.unknown)


def _call(node: E.Call, ctx: Context) -> Any:
    key = _call_key(node)
    if key is not None and key in ctx.cache:  # e.g. year(month), read by several conditions and rules
        return ctx.cache[key]
    args = [evaluate(a, ctx) for a in node.args]
    value = FUNCTIONS[node.func](ctx, *args)
    if key is not None:
        ctx.cache[key] = value
    return value


def _call_key(node: E.Call) -> tuple[Any, ...] | None:
    """What a call computes, when its arguments are names and constants (its value is then the same
    wherever it appears in the frame's conditions); None otherwise."""
    parts: list[Any] = [node.func]
    for a in node.args:
        if isinstance(a, (E.Ref, E.Param)):
            parts.append((type(a).__name__, getattr(a, "space", ""), a.name))
        elif isinstance(a, E.Literal):
            parts.append(("Literal", a.type, repr(a.value)))
        else:
            return None
    return ("call", *parts)


def _aggregate(node: E.Aggregate, ctx: Context) -> Any:  # pragma: no cover - the compiler lifts these
    raise TypeError("aggregates are computed by the fact layer; compile the pack first")


_DISPATCH = {
    E.Literal: _literal, E.ListLit: _list, E.Ref: _ref, E.Param: _param, E.Compare: _compare,
    E.BoolOp: _boolop, E.Not: _not, E.Arith: _arith, E.IsMissing: _is_missing, E.IfElse: _if_else,
    E.Call: _call, E.Aggregate: _aggregate,
}


# -- scalar functions (same names as perfrules.language.functions.SCALAR_FUNCTIONS) -------------------

def _fiscal_years(ctx: Context) -> pd.Series:
    return ctx.frame["fiscal_year"]


def _fy_date(ctx: Context, month_day: Any) -> pd.Series:
    key = ("fy_date", month_day)
    if key not in ctx.cache:
        month, day = (int(p) for p in str(month_day).split("-"))
        ctx.cache[key] = _dates(_fiscal_years(ctx), month, day)
    return ctx.cache[key]


def _month_end(ctx: Context, month: Any) -> pd.Series:
    start = _dates(_fiscal_years(ctx), int(month), 1)
    return start + pd.offsets.MonthEnd(0)


def _dates(years: pd.Series, month: int, day: int) -> pd.Series:
    # A date per distinct year (an export has one or two), then taken for every row.
    codes, uniq = pd.factorize(years.astype("Float64").to_numpy(dtype=float, na_value=np.nan), use_na_sentinel=True)
    base = (np.asarray(uniq, dtype=float).astype(int) - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    per_year = np.append((base.astype("datetime64[D]") + (day - 1)).astype("datetime64[ns]"), np.datetime64("NaT", "ns"))
    return pd.Series(per_year[codes], index=years.index, copy=False)


def _days_between(ctx: Context, a: Any, b: Any) -> Any:
    delta = _broadcast(b, ctx.frame.index) - _broadcast(a, ctx.frame.index)
    return delta.dt.days.astype("Float64")


def _year(ctx: Context, d: Any) -> Any:
    return _date_part(ctx, d, "year")


def _month(ctx: Context, d: Any) -> Any:
    return _date_part(ctx, d, "month")


def _date_part(ctx: Context, dates: Any, part: str) -> pd.Series:
    n = len(ctx.frame)
    if not isinstance(dates, pd.Series):  # one date (as_of, a literal): its part on every row, without a column of dates
        missing = pd.isna(dates)
        value = np.nan if missing else float(getattr(pd.Timestamp(dates), part))
        return pd.Series(pd.arrays.FloatingArray(np.full(n, 0.0 if missing else value), np.full(n, missing)),
                         index=ctx.frame.index, copy=False)
    # Per distinct date: monitoring rows repeat a dozen months over hundreds of thousands of rows.
    codes, uniq = distinct_values(ctx, dates)
    per_date = np.append(getattr(pd.DatetimeIndex(uniq), part).to_numpy(dtype=float), 0.0)  # (uniq holds no NaT)
    missing = np.asarray(codes < 0)
    values = per_date[np.where(missing, len(uniq), codes)]
    return pd.Series(pd.arrays.FloatingArray(values, missing), index=dates.index, copy=False)


def distinct_values(ctx: Context, values: pd.Series) -> tuple[np.ndarray, Any]:
    """Each row's code among the distinct values (-1 where missing) and those values. A column of the frame is
    factorized once per context: year() and month() of it, and a count of its distinct values, share the codes."""
    if ctx.cache.get(("column", values.name)) is not values:
        return pd.factorize(values, use_na_sentinel=True)
    key = ("distinct", values.name)
    if key not in ctx.cache:
        ctx.cache[key] = pd.factorize(values, use_na_sentinel=True)
    return ctx.cache[key]


def _months_elapsed(ctx: Context) -> pd.Series:
    fy = _fiscal_years(ctx).astype("Float64")
    a = ctx.as_of
    out = fy.copy()
    out[fy < a.year] = 12.0
    out[fy > a.year] = 0.0
    out[fy == a.year] = float(a.month)
    return out


def _len(ctx: Context, xs: Any) -> Any:
    s = _broadcast(xs, ctx.frame.index)
    return s.map(lambda v: len(v) if isinstance(v, (list, tuple)) else None).astype("Float64")


def _abs(ctx: Context, x: Any) -> Any:
    return abs(_as_float(x))


def _coalesce(ctx: Context, *values: Any) -> Any:
    out = _broadcast(values[0], ctx.frame.index)
    for v in values[1:]:
        other = _broadcast(v, ctx.frame.index)
        out = out.where(~out.isna(), other)
    return out


def _lookup(ctx: Context, x: Any, mapping: dict[str, str]) -> Any:
    s = _broadcast(x, ctx.frame.index)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)  # map each distinct value once
    mapped = pa.array([mapping.get(v, v) for v in uniques] + [None], pa.large_string())
    taken = mapped.take(pa.array(np.where(codes < 0, len(uniques), codes)))
    return pd.Series(pd.arrays.ArrowStringArray(taken), index=s.index, copy=False)


def _missing_items(ctx: Context, required: Any, have: Any) -> pd.Series:
    index = ctx.frame.index
    req = required if isinstance(required, pd.Series) else pd.Series([required] * len(index), index=index, dtype=object)
    got = have if isinstance(have, pd.Series) else pd.Series([have] * len(index), index=index, dtype=object)
    out = [None if not isinstance(r, (list, tuple)) or not isinstance(h, (list, tuple)) else [x for x in r if x not in h]
           for r, h in zip(req.tolist(), got.tolist())]
    return pd.Series(out, index=index, dtype=object)


FUNCTIONS = {
    "fy_date": _fy_date, "month_end": _month_end, "days_between": _days_between, "year": _year,
    "month": _month, "months_elapsed": _months_elapsed, "len": _len, "abs": _abs,
    "coalesce": _coalesce, "lookup": _lookup, "missing_items": _missing_items,
}


# -- helpers --------------------------------------------------------------------------------------

def _isna(value: Any, index: pd.Index) -> np.ndarray:
    if isinstance(value, pd.Series):
        return np.asarray(value.array.isna(), dtype=bool)
    if isinstance(value, list):
        return np.zeros(len(index), bool)
    return np.full(len(index), bool(pd.isna(value)))


def _all_na(na: np.ndarray) -> bool:
    return bool(len(na)) and bool(na.all())


def _values_np(raw: Any, n: int) -> np.ndarray:
    if isinstance(raw, pd.Series):
        if isinstance(raw.dtype, pd.ArrowDtype):  # comparisons of Arrow text give Arrow booleans
            return true_mask(pa.array(raw))
        return raw.to_numpy(dtype=bool, na_value=False)
    return np.full(n, bool(raw))


def _plain_values(value: Any) -> np.ndarray | None:
    """A number or date column (or one number or date) as the NumPy values a pandas comparison compares
    (missing cells hold a filler: the caller masks them); None for text, flags, lists and the like."""
    if isinstance(value, pd.Series):
        dtype = value.dtype
        if isinstance(dtype, pd.Float64Dtype) or dtype == np.float64:  # (float32 compares in float32 in pandas)
            return value.to_numpy(dtype=np.float64, na_value=np.nan)
        if isinstance(dtype, (pd.Int64Dtype, pd.Int32Dtype, pd.Int16Dtype, pd.Int8Dtype)) \
                or isinstance(dtype, np.dtype) and dtype.kind == "i":
            return value.to_numpy(dtype=np.int64, na_value=0)
        if dtype == np.dtype("datetime64[ns]"):
            return value.to_numpy()
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.asarray(value)
    if isinstance(value, pd.Timestamp) and value.tz is None:
        try:  # NumPy would wrap a date beyond the nanosecond range (9999-12-31) around: pandas compares those
            return np.asarray(value.as_unit("ns").to_datetime64())
        except (OverflowError, pd.errors.OutOfBoundsDatetime):
            return None
    return None


def _truth_of(values: np.ndarray, na: np.ndarray) -> Truth:
    na = np.asarray(na, dtype=bool)
    return Truth(np.asarray(values, dtype=bool) & ~na, na)


def _as_truth(value: Any, n: int) -> Truth:
    if isinstance(value, Truth):
        return value
    if isinstance(value, pd.Series):
        return _truth_of(value.to_numpy(dtype=bool, na_value=False), np.asarray(value.isna(), dtype=bool))
    if value is pd.NA or value is None:
        return Truth(np.zeros(n, bool), np.ones(n, bool))
    return Truth(np.full(n, bool(value)), np.zeros(n, bool))


def _broadcast(value: Any, index: pd.Index) -> pd.Series:
    if isinstance(value, pd.Series):
        return value
    if isinstance(value, pd.Timestamp):
        return pd.Series(np.full(len(index), value.to_datetime64()), index=index, copy=False)
    if isinstance(value, (bool, int, float, np.number)):  # no Python list of millions of items
        return pd.Series(np.full(len(index), value), index=index, copy=False)
    return pd.Series([value] * len(index), index=index, dtype=object if value is pd.NA else None)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or isinstance(value, pd.Series) and isinstance(value.dtype, pd.StringDtype)


def _arrow_text(value: str | pd.Series) -> pa.Scalar | pa.Array:
    if isinstance(value, str):
        return pa.scalar(value, pa.large_string())
    return pa.array(value, from_pandas=True).cast(pa.large_string())


def _as_float(value: Any) -> Any:
    if isinstance(value, pd.Series):
        return value if value.dtype == "Float64" else value.astype("Float64")
    return value


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
