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
    return _Eval(values, params, as_of).run(node)


def aggregate(agg: E.Aggregate, record: Record, params: dict[str, Any], as_of: dt.date) -> Any:
    """An aggregate over the record's related rows: missing over an absent table, else its reference form."""
    rows = record.related.get(agg.table)
    if rows is None:
        return None
    related = []
    for row in rows:
        cond = True if agg.where is None else evaluate(agg.where, row, params, as_of)
        # No aggregate reads the value of a row its where leaves out: it is not computed.
        value = evaluate(agg.value, row, params, as_of) if agg.value is not None and cond else None
        related.append(RelatedRow(cond, value, row))
    return AGGREGATES[agg.func].record(RelatedRows(agg.table, related, params))


class _Eval(RecordContext):
    def run(self, node: E.Node) -> Any:
        return getattr(self, "_" + type(node).__name__)(node)

    def _Literal(self, n: E.Literal) -> Any:
        return n.value

    def _ListLit(self, n: E.ListLit) -> list[Any]:
        return [i.value for i in n.items]  # type: ignore[attr-defined]

    def _Ref(self, n: E.Ref) -> Any:
        return self.as_of if n.space == "builtin" else self.values.get(n.name)

    def _Param(self, n: E.Param) -> Any:
        return self.params[n.name]

    def _Compare(self, n: E.Compare) -> bool | None:
        left, right = self.run(n.left), self.run(n.right)
        if n.op in ("in", "not in"):
            if left is None or right is None:
                return None
            hit = left in right
            return (not hit) if n.op == "not in" else hit
        if left is None or right is None:
            return None
        return bool(_CMP[n.op](left, right))

    def _BoolOp(self, n: E.BoolOp) -> bool | None:
        values = [self.run(i) for i in n.items]
        if n.op == "and":
            return False if any(v is False for v in values) else (None if any(v is None for v in values) else True)
        return True if any(v is True for v in values) else (None if any(v is None for v in values) else False)

    def _Not(self, n: E.Not) -> bool | None:
        v = self.run(n.item)
        return None if v is None else not v

    def _Arith(self, n: E.Arith) -> float | None:
        left, right = self.run(n.left), self.run(n.right)
        if left is None or right is None:
            return None
        if n.op == "/":
            return None if right == 0 else float(left) / float(right)
        return float({"+": operator.add, "-": operator.sub, "*": operator.mul}[n.op](left, right))

    def _IsMissing(self, n: E.IsMissing) -> bool:
        result: bool = SCALARS["present" if n.negate else "missing"].record(self, self.run(n.item))
        return result

    def _IfElse(self, n: E.IfElse) -> Any:
        cond = self.run(n.cond)
        if cond is None:
            return None
        return self.run(n.then) if cond else self.run(n.other)

    def _Call(self, n: E.Call) -> Any:
        args = [self.run(a) for a in n.args]
        return SCALARS[n.func].record(self, *args)

    def _Aggregate(self, n: E.Aggregate) -> Any:  # pragma: no cover - lifted by the compiler
        raise TypeError("aggregates are computed by the fact layer; compile the pack first")


def blame(node: E.Node, values: dict[str, Any], params: dict[str, Any], as_of: dt.date) -> set[str]:
    """The leaves whose missing value leaves ``node`` unknown on this record (mirror of engine.blame)."""
    ev = _Eval(values, params, as_of)
    if isinstance(node, (E.BoolOp, E.Not)):
        if ev.run(node) is not None:
            return set()
        items = node.items if isinstance(node, E.BoolOp) else (node.item,)
        out: set[str] = set()
        for item in items:
            if ev.run(item) is None:
                out |= blame(item, values, params, as_of)
        return out
    if isinstance(node, E.IsMissing) or ev.run(node) is not None:
        return set()
    return {r.name for r in E.value_refs(node) if r.space in ("field", "derived", "fact") and values.get(r.name) is None}
