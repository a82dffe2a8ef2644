"""Evaluate a scalar expression tree over a pandas DataFrame, one vector operation per node.

Values are pandas Series aligned with the frame (or plain scalars, broadcast by pandas). Missing
values are NA/NaT. A condition's value is a ``Truth``: NumPy masks of the rows where it is true and
where it is unknown, so ``and``/``or``/``not`` follow three-valued (Kleene) logic (unknown and false
is false, unknown or true is true); where a value is handed out it is a nullable ``boolean`` Series.
Functions are computed by their vectorised forms in the registry (``perfrules.evaluation.functions``);
this module evaluates the operators and dispatches calls.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import perfrules.language.expr as E
from perfrules.evaluation.context import Context, Truth, arrow_text, as_float, broadcast, is_text, isna
from perfrules.evaluation.functions import SCALARS
from perfrules.inputs.values import true_mask

_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


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
    return ctx.frame[node.name]


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
    na = isna(left, index) | isna(right, index)
    if _all_na(na):
        return _truth_of(np.zeros(len(index), bool), na)
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
            hit = left.isin(choices).to_numpy(dtype=bool, na_value=False)
            return _truth_of(hit, isna(left, index))
        if left is pd.NA:
            return _truth_of(np.zeros(len(index), bool), np.ones(len(index), bool))
        return _truth_of(np.full(len(index), left in choices), np.zeros(len(index), bool))
    # ``x in list_field``: a list per row.
    items = right if isinstance(right, pd.Series) else pd.Series([right] * len(index), index=index)
    lefts = left if isinstance(left, pd.Series) else pd.Series([left] * len(index), index=index, dtype=object)
    na = items.isna().to_numpy() | isna(lefts, index)
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


def _arith(node: E.Arith, ctx: Context) -> Any:
    left, right = as_float(evaluate(node.left, ctx)), as_float(evaluate(node.right, ctx))
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
    result: Truth = SCALARS["present" if node.negate else "missing"].vectorised(ctx, evaluate(node.item, ctx))
    return result


def _if_else(node: E.IfElse, ctx: Context) -> Any:
    cond = evaluate_truth(node.cond, ctx)
    index = ctx.frame.index
    then, other = evaluate(node.then, ctx), evaluate(node.other, ctx)
    if is_text(then) and is_text(other):  # text choices (grade ladders) stay in Arrow
        out = pc.if_else(pa.array(cond.true), arrow_text(then), arrow_text(other))
        out = pc.if_else(pa.array(cond.unknown), pa.scalar(None, pa.large_string()), out)
        return pd.Series(pd.arrays.ArrowStringArray(out.cast(pa.large_string())), index=index, copy=False)
    then, other = broadcast(then, index), broadcast(other, index)
    if then.dtype != other.dtype and not (_is_numeric(then) and _is_numeric(other)):
        then, other = then.astype(object), other.astype(object)
    out = then.where(cond.true, other)
    return out.mask(cond.unknown)


def _call(node: E.Call, ctx: Context) -> Any:
    args = [evaluate(a, ctx) for a in node.args]
    return SCALARS[node.func].vectorised(ctx, *args)


def _aggregate(node: E.Aggregate, ctx: Context) -> Any:  # pragma: no cover - the compiler lifts these
    raise TypeError("aggregates are computed by the fact layer; compile the pack first")


_DISPATCH: dict[type, Callable[[Any, Context], Any]] = {
    E.Literal: _literal, E.ListLit: _list, E.Ref: _ref, E.Param: _param, E.Compare: _compare,
    E.BoolOp: _boolop, E.Not: _not, E.Arith: _arith, E.IsMissing: _is_missing, E.IfElse: _if_else,
    E.Call: _call, E.Aggregate: _aggregate,
}


# -- helpers --------------------------------------------------------------------------------------


def _all_na(na: np.ndarray) -> bool:
    return bool(len(na)) and bool(na.all())


def _values_np(raw: Any, n: int) -> np.ndarray:
    if isinstance(raw, pd.Series):
        if isinstance(raw.dtype, pd.ArrowDtype):  # comparisons of Arrow text give Arrow booleans
            return true_mask(pa.array(raw))
        return raw.to_numpy(dtype=bool, na_value=False)
    return np.full(n, bool(raw))


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


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
