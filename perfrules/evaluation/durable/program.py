"""Compile the backend-neutral rule form into durable-rules conditions (JSON), keeping exact semantics.

Three-valued logic on a Rete engine. durable-rules has no "unknown": a comparison involving a null
simply does not match. So each rule becomes two engine rules, ``RULE|T`` matching where the condition
is definitely true and ``RULE|F`` where it is definitely false, built by pushing negation to the
leaves (T(a and b) = T(a) ∧ T(b), F(a and b) = F(a) ∨ F(b), T(not a) = F(a), F(x < y) = x ≥ y …).
A comparison with null never matches in the engine (a field-to-field comparison is also guarded by
"both not null"), so a null makes neither T nor F match: a record that matches neither is *unknown* —
exactly the pandas backend's NA — and gets a D03 finding.
``RULE|E`` is the definitely-true escalation condition.

What the engine matches natively: comparisons of a field with a constant or with another field,
equality with null, and/or, booleans. What it cannot express safely is computed by the shared fact
layer (``perfrules.evaluation.record_facts`` / ``perfrules.evaluation.reference``) and handed to the engine as a field — see
``LIFTED`` below, and the durable-rules source notes in ``runtime.py`` for why.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import perfrules.language.expr as E
from perfrules.rulepack.compile import CompiledPack

# Operators the compiler hands to the shared fact layer instead of the engine, and why.
LIFTED = {
    "Arith": "arithmetic: the engine only allows it on the right of a comparison, reads uninitialised memory when an "
             "operand is missing, divides integers as integers, and a division by zero kills the process (SIGFPE)",
    "Call": "functions (fy_date, month_end, days_between, coalesce, lookup, len, …): the engine has none",
    "IfElse": "conditional values: the engine has none",
    "in list field": "membership in a record's list field (e.g. \"PPP\" in funding_sources): no safe engine operator",
    "exponent constants": "constants json.dumps writes with an exponent (1e-05): the engine's JSON parser rejects them",
}
NATIVE = ("== != < <= > >= between a field and a constant or two fields", "is None / is not None",
          "and / or / not (as T/F conditions)", "in / not in a constant list (as or/and of equalities)")

_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
ALWAYS = "__rec"  # a field every fact carries: the condition "true"


@dataclass
class Program:
    """Engine conditions per engine rule name, and what the fact layer must supply for them."""

    conditions: dict[str, dict[str, Any]]
    keys: dict[str, str] = field(default_factory=dict)  # leaf name → engine field
    lifted: dict[str, E.Node] = field(default_factory=dict)  # engine field → expression the fact layer computes
    never: set[str] = field(default_factory=set)  # engine rules whose condition can never hold (not registered)


class _Const:
    def __init__(self, value: Any):
        self.value = value


def compile_program(compiled: CompiledPack) -> Program:
    """Engine conditions for every rule the profile enables (T, F and, with an escalation, E)."""
    c = _Compiler(compiled)
    for cr in compiled.rules:
        parts = {"T": c.t(cr.condition), "F": c.f(cr.condition)}
        if cr.escalate is not None:
            parts["E"] = c.t(cr.escalate)
        for suffix, cond in parts.items():
            name = f"{cr.rule.id}|{suffix}"
            if cond is False:
                c.program.never.add(name)
            else:
                c.program.conditions[name] = {ALWAYS: 1} if cond is True else cond
    return c.program


class _Compiler:
    def __init__(self, compiled: CompiledPack):
        self.compiled = compiled
        self.program = Program({})

    # -- values ------------------------------------------------------------------------------
    def key(self, node: E.Node) -> str | _Const:
        """An engine field for a value node (a leaf, or a lifted expression), or a constant."""
        if isinstance(node, E.Literal):
            return _Const(_engine_value(node.value))
        if isinstance(node, E.Param):
            return _Const(_engine_value(self.compiled.params[node.name]))
        if isinstance(node, E.Ref):
            return self._field(node.name)
        return self._lift(node)

    def _field(self, name: str) -> str:
        if name not in self.program.keys:
            self.program.keys[name] = f"k{len(self.program.keys)}"
        return self.program.keys[name]

    def _lift(self, node: E.Node) -> str:
        text = "lifted:" + E.to_text(node)
        if text not in self.program.keys:
            self.program.lifted[self._field(text)] = node
        return self.program.keys[text]

    # -- conditions: T = definitely true, F = definitely false -----------------------------------
    def t(self, node: E.Node) -> Any:
        return self.cond(node, True)

    def f(self, node: E.Node) -> Any:
        return self.cond(node, False)

    def cond(self, node: E.Node, want: bool) -> Any:
        if isinstance(node, E.BoolOp):
            parts = [self.cond(i, want) for i in node.items]
            conj = (node.op == "and") == want  # T(and) and F(or) are conjunctions
            return _all(parts) if conj else _any(parts)
        if isinstance(node, E.Not):
            return self.cond(node.item, not want)
        if isinstance(node, E.IsMissing):
            k = self.key(node.item)
            if isinstance(k, _Const):
                return (k.value is None) == (want != node.negate)
            is_null = want != node.negate
            return {k: None} if is_null else {"$neq": {k: None}}
        if isinstance(node, E.Compare):
            return self.compare(node, want)
        if isinstance(node, E.Literal):
            return bool(node.value) == want if node.value is not None else False
        # A boolean leaf (field, derived, fact) or a lifted boolean expression.
        k = self.key(node)
        if isinstance(k, _Const):
            return False if k.value is None else bool(k.value) == want
        return {k: want}

    def compare(self, node: E.Compare, want: bool) -> Any:
        if node.op in ("in", "not in"):
            return self.membership(node, want)
        op = node.op if want else _NEGATE[node.op]
        left, right = self.key(node.left), self.key(node.right)
        if isinstance(left, _Const) and isinstance(right, _Const):
            if left.value is None or right.value is None:
                return False
            return _py_compare(op, left.value, right.value)
        if isinstance(left, _Const):
            left, right, op = right, left, _FLIP[op]
        if isinstance(right, _Const) and (right.value is None or not _safe_constant(right.value)):
            if right.value is None:
                return False
            return {self._lift(node): want}
        operand = right.value if isinstance(right, _Const) else {"$m": right}
        test = {left: operand} if op == "==" else {_OPS[op]: {left: operand}}
        if isinstance(right, _Const):
            return test  # the engine never matches a null against a constant, with any operator
        return _all([{"$neq": {left: None}}, {"$neq": {right: None}}, test])

    def membership(self, node: E.Compare, want: bool) -> Any:
        is_in = (node.op == "in") == want
        right = node.right
        values: list[Any] | None = None
        if isinstance(right, E.ListLit):
            values = [_engine_value(i.value) for i in right.items]  # type: ignore[attr-defined]
        elif isinstance(right, E.Param):
            values = [_engine_value(v) for v in self.compiled.params[right.name]]
        if values is None or not all(_safe_constant(v) for v in values if v is not None):
            return {self._lift(node): want}  # membership in a list field: the fact layer decides
        left = self.key(node.left)
        if isinstance(left, _Const):
            return False if left.value is None else (left.value in values) == is_in
        present = [v for v in values if v is not None]
        if is_in:
            return _any([{left: v} for v in present])
        # "not in": differs from every value; a null matches none of these, as it must.
        return _all([{"$neq": {left: v}} for v in present]) if present else {"$neq": {left: None}}


def _all(parts: list[Any]) -> Any:
    if any(p is False for p in parts):
        return False
    parts = [p for p in parts if p is not True]
    return True if not parts else parts[0] if len(parts) == 1 else {"$and": parts}


def _any(parts: list[Any]) -> Any:
    if any(p is True for p in parts):
        return True
    parts = [p for p in parts if p is not False]
    return False if not parts else parts[0] if len(parts) == 1 else {"$or": parts}


def _py_compare(op: str, a: Any, b: Any) -> bool:
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def engine_value(value: Any) -> Any:
    """A value as the engine receives it: dates as day numbers, numpy scalars as Python."""
    return _engine_value(value)


def _engine_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().toordinal()
    if isinstance(value, dt.date):
        return value.toordinal()
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    return value


def _safe_constant(value: Any) -> bool:
    """Whether the engine's JSON parser reads this constant back exactly (no exponent, no inf/nan)."""
    if isinstance(value, float):
        text = json.dumps(value)
        return "e" not in text and "E" not in text and "inf" not in text.lower() and "nan" not in text.lower()
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) < 2 ** 63
    return isinstance(value, (str, bool))
