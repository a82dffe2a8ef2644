"""Compile a pack under a profile into the backend-neutral form every backend evaluates.

Compiling binds parameter values, and lifts every aggregate out of conditions and derived facts
into a named *fact* (``Ref("fact", key)``), computed once per record by the shared fact layer.
What is left for a backend is a scalar condition over one record's fields, derived values and
facts, which is what a per-record engine such as durable-rules can match.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import perfrules.language.expr as E
from perfrules.rulepack.model import DerivedFact, Rule, RulePack
from perfrules.rulepack.profile import Profile, load_profile


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to evaluate: its scalar condition, optional escalation, and the leaves it reads."""

    rule: Rule
    condition: E.Node
    escalate: E.Node | None
    leaves: tuple[E.Ref, ...]  # fields, derived values and facts the conditions read (the evidence)
    params: tuple[str, ...]
    value_leaves: tuple[E.Ref, ...] = ()  # the leaves whose missing value can leave the outcome unknown
    _reads_as_of: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def reads_as_of(self) -> bool:
        """Whether the rule's own condition reads the as-of date (then its evidence shows it)."""
        return self._reads_as_of

    def __post_init__(self) -> None:
        object.__setattr__(self, "_reads_as_of", any(r.space == "builtin" for r in E.refs(self.rule.when)))


@dataclass(frozen=True)
class CompiledDerived:
    """A derived fact with its aggregates lifted."""

    fact: DerivedFact
    expr: E.Node


@dataclass
class CompiledPack:
    """A pack compiled for one profile."""

    pack: RulePack
    profile: Profile
    params: dict[str, Any]
    facts: dict[str, E.Aggregate]  # key → aggregate, per record table
    fact_tables: dict[str, str]  # key → record table the fact belongs to
    derived: list[CompiledDerived]
    rules: list[CompiledRule]
    derived_leaves: dict[str, tuple[E.Ref, ...]] = field(default_factory=dict)

    def rule(self, rule_id: str) -> CompiledRule | None:
        """The compiled rule with this id (only rules the profile enables)."""
        return next((r for r in self.rules if r.rule.id == rule_id), None)

    def restricted(self, rule_ids: Iterable[str]) -> CompiledPack:
        """The same pack with only the given rules, and only the facts and derived values they read."""
        keep = set(rule_ids)
        rules = [cr for cr in self.rules if cr.rule.id in keep]
        facts: set[str] = set()
        derived: set[str] = set()
        todo = [r for cr in rules for node in (cr.condition, cr.escalate) if node is not None for r in E.refs(node)]
        while todo:
            ref = todo.pop()
            if ref.space == "fact":
                facts.add(ref.name)
            elif ref.space == "derived" and ref.name not in derived:
                derived.add(ref.name)
                todo.extend(self.derived_leaves.get(ref.name, ()))
                todo.extend(r for d in self.derived if d.fact.name == ref.name for r in E.refs(d.expr))
        return replace(self, rules=rules, facts={k: v for k, v in self.facts.items() if k in facts},
                       fact_tables={k: v for k, v in self.fact_tables.items() if k in facts},
                       derived=[d for d in self.derived if d.fact.name in derived])

    def tables_read(self, ref: E.Ref) -> set[str]:
        """The related tables a leaf depends on (through derived facts and aggregates)."""
        if ref.space == "fact":
            return {self.facts[ref.name].table}
        if ref.space == "derived":
            return set().union(*(self.tables_read(r) for r in self.derived_leaves.get(ref.name, ())))
        return set()


def compile_pack(pack: RulePack, profile: Profile | str | None = None) -> CompiledPack:
    """Compile ``pack`` under ``profile`` (a resolved Profile, a profile name, or the baseline)."""
    if not isinstance(profile, Profile):
        profile = load_profile(pack, profile)
    facts: dict[str, E.Aggregate] = {}
    fact_tables: dict[str, str] = {}

    def lift_in(table: str) -> Callable[[E.Node], E.Node]:
        def lift(node: E.Node) -> E.Node:
            if isinstance(node, E.Aggregate):
                key = E.to_text(node)
                facts.setdefault(key, node)
                fact_tables.setdefault(key, table)
                return E.Ref("fact", key, pos=node.pos)
            return node
        return lift

    derived = [CompiledDerived(d, transform(d.expr, lift_in(d.table))) for d in pack.derived.values()]
    derived_leaves: dict[str, tuple[E.Ref, ...]] = {}
    derived_params: dict[str, tuple[str, ...]] = {}
    for d in derived:
        derived_leaves[d.fact.name] = tuple(r for r in E.value_refs(d.expr) if r.space in ("field", "derived", "fact"))
        inner = [p for r in E.refs(d.expr, "derived") for p in derived_params.get(r.name, ())]
        derived_params[d.fact.name] = tuple(dict.fromkeys([*inner, *E.params_read(d.fact.expr)]))
    rules = []
    for rule in pack.rules.values():
        if rule.id not in profile.enabled:
            continue
        lift = lift_in(rule.table)
        condition = transform(rule.when, lift)
        escalate = transform(rule.escalate_when, lift) if rule.escalate_when is not None else None
        trees = [condition] + ([escalate] if escalate is not None else [])
        leaves = tuple(dict.fromkeys(r for t in trees for r in E.refs(t) if r.space in ("field", "derived", "fact")))
        sources = [rule.when] + ([rule.escalate_when] if rule.escalate_when else [])
        through_derived = [p for t in trees for r in E.refs(t, "derived") for p in derived_params.get(r.name, ())]
        params = tuple(dict.fromkeys([*(p for t in sources for p in E.params_read(t)), *through_derived]))
        value_leaves = tuple(r for r in E.value_refs(condition) if r.space in ("field", "derived", "fact"))
        rules.append(CompiledRule(rule, condition, escalate, leaves, params, value_leaves))
    param_values = {name: (dt.date.fromisoformat(v) if pack.params[name].type == "date" and isinstance(v, str) else v)
                    for name, v in profile.params.items()}
    compiled = CompiledPack(pack, profile, param_values, facts, fact_tables, derived, rules, derived_leaves)
    return compiled.restricted(cr.rule.id for cr in rules)  # only the facts the profile's rules read are computed


def transform(node: E.Node, fn: Callable[[E.Node], E.Node]) -> E.Node:
    """Rebuild a tree bottom-up, applying ``fn`` to every node (aggregate bodies are left as they are)."""
    if isinstance(node, E.Aggregate):
        return fn(node)
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, E.Node):
            changes[f.name] = transform(value, fn)
        elif isinstance(value, tuple) and value and all(isinstance(v, E.Node) for v in value):
            changes[f.name] = tuple(transform(v, fn) for v in value)
    return fn(dataclasses.replace(node, **changes) if changes else node)
