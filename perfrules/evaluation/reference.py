"""Evaluate the typed tree on ONE record in plain Python: the per-record fact layer's evaluator.

Screening one submission must take milliseconds; a one-row pandas frame costs far more than that
(see benchmarks/screening.py), so the per-record path computes derived facts, aggregates and lifted
sub-expressions here. The semantics are exactly the pandas backend's — three-valued logic with
``None`` for unknown, SQL aggregates — and the differential test holds the two to that.
"""

from __future__ import annotations

import calendar
import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import perfrules.language.expr as E
from perfrules.language.functions import TABLE_ORDER

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
    """An aggregate over the record's related rows, with the same semantics as perfrules.evaluation.facts."""
    rows = record.related.get(agg.table)
    if rows is None:
        return None
    true_rows, unknown, n_false = [], False, 0
    for row in rows:
        cond = True if agg.where is None else evaluate(agg.where, row, params, as_of)
        if cond is None:
            unknown = True
        elif cond:
            true_rows.append(row)
        else:
            n_false += 1
    func = agg.func
    if func == "count":
        return None if unknown else float(len(true_rows))
    if func == "any":
        return True if true_rows else (None if unknown else False)
    if func == "all":
        return False if n_false else (None if unknown else True)
    if func == "streak":
        return _streak(agg, rows, params, as_of)
    values = [evaluate(agg.value, r, params, as_of) for r in true_rows] if agg.value is not None else []
    if func == "sum":
        if unknown or not true_rows or any(v is None for v in values):
            return None
        return float(sum(values))
    present = [v for v in values if v is not None]
    if func == "count_distinct":
        return None if unknown else float(len(set(present)))
    if func in ("min", "max"):
        if unknown or not rows or not present:
            return None
        return min(present) if func == "min" else max(present)
    raise ValueError(func)  # pragma: no cover - the parser admits only these


def _streak(agg: E.Aggregate, rows: list[dict[str, Any]], params: dict[str, Any], as_of: dt.date) -> Any:
    order = TABLE_ORDER.get(agg.table)
    indexed = list(enumerate(rows))
    if order:
        # Most recent first; rows without an order value last; ties keep their input order (stable).
        indexed.sort(key=lambda ir: (ir[1].get(order) is None, _neg(ir[1].get(order)), ir[0]))
    length = 0
    for _, row in indexed:
        cond = evaluate(agg.where, row, params, as_of) if agg.where is not None else True
        if cond is None:
            return None
        if not cond:
            break
        length += 1
    return float(length)


def _neg(value: Any) -> Any:
    if value is None:
        return 0
    if isinstance(value, dt.date):
        return -value.toordinal()
    return -value


class _Eval:
    def __init__(self, values: dict[str, Any], params: dict[str, Any], as_of: dt.date):
        self.values, self.params, self.as_of = values, params, as_of

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
        missing = self.run(n.item) is None
        return not missing if n.negate else missing

    def _IfElse(self, n: E.IfElse) -> Any:
        cond = self.run(n.cond)
        if cond is None:
            return None
        return self.run(n.then) if cond else self.run(n.other)

    def _Call(self, n: E.Call) -> Any:
        args = [self.run(a) for a in n.args]
        return getattr(self, "f_" + n.func)(*args)

    def _Aggregate(self, n: E.Aggregate) -> Any:  # pragma: no cover - lifted by the compiler
        raise TypeError("aggregates are computed by the fact layer; compile the pack first")

    # -- scalar functions (same names as perfrules.language.functions.SCALAR_FUNCTIONS) --------------
    def _fy(self) -> int | None:
        fy = self.values.get("fiscal_year")
        return None if fy is None else int(fy)

    def f_fy_date(self, month_day: str) -> dt.date | None:
        fy = self._fy()
        month, day = (int(p) for p in str(month_day).split("-"))
        return None if fy is None else dt.date(fy, month, day)

    def f_month_end(self, month: Any) -> dt.date | None:
        fy = self._fy()
        if fy is None or month is None:
            return None
        m = int(month)
        return dt.date(fy, m, calendar.monthrange(fy, m)[1])

    def f_days_between(self, a: Any, b: Any) -> float | None:
        return None if a is None or b is None else float((b - a).days)

    def f_year(self, d: Any) -> float | None:
        return None if d is None else float(d.year)

    def f_month(self, d: Any) -> float | None:
        return None if d is None else float(d.month)

    def f_months_elapsed(self) -> float | None:
        fy = self._fy()
        if fy is None:
            return None
        return 12.0 if fy < self.as_of.year else 0.0 if fy > self.as_of.year else float(self.as_of.month)

    def f_len(self, xs: Any) -> float | None:
        return float(len(xs)) if isinstance(xs, (list, tuple)) else None

    def f_abs(self, x: Any) -> float | None:
        return None if x is None else abs(float(x))

    def f_coalesce(self, *values: Any) -> Any:
        return next((v for v in values if v is not None), None)

    def f_lookup(self, x: Any, mapping: dict[str, str]) -> Any:
        return None if x is None else mapping.get(x, x)

    def f_missing_items(self, required: Any, have: Any) -> list[Any] | None:
        if not isinstance(required, (list, tuple)) or not isinstance(have, (list, tuple)):
            return None
        return [x for x in required if x not in have]



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
