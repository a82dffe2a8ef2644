"""Evaluate the typed tree on ONE record in plain Python: the reference evaluator.

Screening one submission must take milliseconds; a one-row pandas frame costs far more than that
(see benchmarks/screening.py), so the per-record path computes derived facts, aggregates and lifted
sub-expressions here, and the durable-rules program reads its facts from here. Three-valued logic
with ``None`` for unknown; functions and aggregates are the per-record (reference) forms of the
registry, ``perfrules.evaluation.functions``, whose vectorised forms the pandas evaluator runs.
"""

from __future__ import annotations

import datetime as dt
import operator
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import perfrules.language.expr as E
from perfrules.evaluation.context import RecordContext
from perfrules.evaluation.functions import AGGREGATES, SCALARS, RelatedRow, RelatedRows

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass
class Record:
    """One record's typed values, its related rows per table (None for a table the input lacks)."""

    values: dict[str, Any]
    related: dict[str, list[dict[str, Any]] | None] = field(default_factory=dict)


def evaluate(node: E.Node, values: dict[str, Any], params: dict[str, Any], as_of: dt.date) -> Any:
    """The value of ``node`` for the record whose values (fields, derived, facts) are ``values``."""
    return as_function(node)(RecordContext(values, params, as_of))


def aggregate(agg: E.Aggregate, record: Record, params: dict[str, Any], as_of: dt.date) -> Any:
    """An aggregate over the record's related rows: missing over an absent table, else its reference form."""
    rows = record.related.get(agg.table)
    if rows is None:
        return None
    where = as_function(agg.where) if agg.where is not None else None
    value = as_function(agg.value) if agg.value is not None else None
    related = []
    for row in rows:
        ctx = RecordContext(row, params, as_of)
        cond = True if where is None else where(ctx)
        # No aggregate reads the value of a row its where leaves out: it is not computed.
        related.append(RelatedRow(cond, value(ctx) if value is not None and cond else None, row))
    return AGGREGATES[agg.func].record(RelatedRows(agg.table, related, params))


Evaluator = Callable[[RecordContext], Any]
_FUNCTIONS: dict[int, Evaluator] = {}  # id(node) → its function, while the node lives


def as_function(node: E.Node) -> Evaluator:
    """``node`` as a Python function of one record's context, made once per node.

    Each node becomes a closure over its children's closures, so evaluating a record runs no dispatch on
    node types. Walking the tree instead (a method per node type, looked up on every visit) made screening's
    p50 about 1.5× slower on the bundled samples (measured 2026-12-06)."""
    fn = _FUNCTIONS.get(id(node))
    if fn is None:
        fn = _FUNCTIONS[id(node)] = _BUILD[type(node)](node)
        weakref.finalize(node, _FUNCTIONS.pop, id(node), None)
    return fn


def _literal(n: E.Literal) -> Evaluator:
    value = n.value
    return lambda ctx: value


def _list(n: E.ListLit) -> Evaluator:
    items = [i.value for i in n.items]  # type: ignore[attr-defined]
    return lambda ctx: list(items)


def _ref(n: E.Ref) -> Evaluator:
    if n.space == "builtin":
        return lambda ctx: ctx.as_of
    name = n.name
    return lambda ctx: ctx.values.get(name)


def _param(n: E.Param) -> Evaluator:
    name = n.name
    return lambda ctx: ctx.params[name]


def _compare(n: E.Compare) -> Evaluator:
    left, right = as_function(n.left), as_function(n.right)
    if n.op in ("in", "not in"):
        negate = n.op == "not in"

        def member(ctx: RecordContext) -> bool | None:
            a, b = left(ctx), right(ctx)
            if a is None or b is None:
                return None
            return (a in b) != negate
        return member
    op = _CMP[n.op]

    def compare(ctx: RecordContext) -> bool | None:
        a, b = left(ctx), right(ctx)
        return None if a is None or b is None else bool(op(a, b))
    return compare


def _bool_op(n: E.BoolOp) -> Evaluator:
    items = [as_function(i) for i in n.items]
    # Three-valued: one definite answer (False for and, True for or) decides; else any unknown leaves it unknown.
    # The items are pure, so the rest are not evaluated once it is decided.
    decisive = n.op != "and"

    def bool_op(ctx: RecordContext) -> bool | None:
        unknown = False
        for f in items:
            v = f(ctx)
            if v is decisive:
                return decisive
            unknown = unknown or v is None
        return None if unknown else not decisive
    return bool_op


def _not(n: E.Not) -> Evaluator:
    item = as_function(n.item)

    def not_(ctx: RecordContext) -> bool | None:
        v = item(ctx)
        return None if v is None else not v
    return not_


def _arith(n: E.Arith) -> Evaluator:
    left, right = as_function(n.left), as_function(n.right)
    op = {"+": operator.add, "-": operator.sub, "*": operator.mul}.get(n.op)

    def arith(ctx: RecordContext) -> float | None:
        a, b = left(ctx), right(ctx)
        if a is None or b is None:
            return None
        if op is None:  # division
            return None if b == 0 else float(a) / float(b)
        return float(op(a, b))
    return arith


def _is_missing(n: E.IsMissing) -> Evaluator:
    item, form = as_function(n.item), SCALARS["present" if n.negate else "missing"].record
    return lambda ctx: form(ctx, item(ctx))


def _if_else(n: E.IfElse) -> Evaluator:
    cond, then, other = as_function(n.cond), as_function(n.then), as_function(n.other)

    def if_else(ctx: RecordContext) -> Any:
        c = cond(ctx)
        if c is None:
            return None
        return then(ctx) if c else other(ctx)
    return if_else


def _call(n: E.Call) -> Evaluator:
    args, form = [as_function(a) for a in n.args], SCALARS[n.func].record
    return lambda ctx: form(ctx, *[a(ctx) for a in args])


def _aggregate(n: E.Aggregate) -> Evaluator:
    raise TypeError("aggregates are computed by the fact layer; compile the pack first")


_BUILD: dict[type, Callable[[Any], Evaluator]] = {
    E.Literal: _literal, E.ListLit: _list, E.Ref: _ref, E.Param: _param, E.Compare: _compare, E.BoolOp: _bool_op,
    E.Not: _not, E.Arith: _arith, E.IsMissing: _is_missing, E.IfElse: _if_else, E.Call: _call, E.Aggregate: _aggregate}


def blame(node: E.Node, values: dict[str, Any], params: dict[str, Any], as_of: dt.date) -> set[str]:
    """The leaves whose missing value leaves ``node`` unknown on this record (mirror of engine.blame)."""
    if isinstance(node, (E.BoolOp, E.Not)):
        if evaluate(node, values, params, as_of) is not None:
            return set()
        items = node.items if isinstance(node, E.BoolOp) else (node.item,)
        out: set[str] = set()
        for item in items:
            if evaluate(item, values, params, as_of) is None:
                out |= blame(item, values, params, as_of)
        return out
    if isinstance(node, E.IsMissing) or evaluate(node, values, params, as_of) is not None:
        return set()
    return {r.name for r in E.value_refs(node) if r.space in ("field", "derived", "fact") and values.get(r.name) is None}
