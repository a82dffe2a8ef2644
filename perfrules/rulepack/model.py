"""What a loaded rule pack is made of: parameters, derived facts, rules and their provenance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import perfrules.language.expr as E
from perfrules.errors import Where

SEVERITIES = ("阻断", "警告", "提示")  # most severe first
SEVERITY_EN = {"阻断": "block", "警告": "warn", "提示": "info"}
STAGES = {"budgeting": "预算编制", "execution": "预算执行", "evaluation": "评价与应用", "data": "数据"}
RECORD_TABLE = {"project": "projects", "department": "departments"}

# Parameter types as written in a pack, and the rule-language type each one has.
PARAM_TYPES = {
    "number": "number",
    "money": "number",
    "string": "string",
    "month_day": "string",
    "bool": "bool",
    "date": "date",
    "list": "list[string]",
    "mapping": "mapping",
}


@dataclass(frozen=True)
class Text:
    """A user-facing text in Chinese and English (may be a template with ``{name}``)."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        """The text in ``lang`` (zh or en)."""
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class Source:
    """Where a rule comes from: document number, clause, and the clause text quoted verbatim."""

    document: str
    clause: str
    text: str | None
    note: str | None = None


@dataclass(frozen=True)
class ParamSpec:
    """A declared parameter with its default value."""

    name: str
    type: str
    default: Any
    title: str
    title_en: str = ""
    unit: str = ""
    where: Where = field(default_factory=Where, compare=False)

    @property
    def expr_type(self) -> str:
        """The parameter's type in the rule language."""
        if self.type == "list" and self.default and all(isinstance(v, (int, float)) for v in self.default):
            return "list[number]"
        return PARAM_TYPES[self.type]


@dataclass(frozen=True)
class DerivedFact:
    """A value computed once per record from an expression, shared by every rule that reads it."""

    name: str
    table: str
    expr: E.Node
    type: str
    text: str
    title: str
    title_en: str = ""
    where: Where = field(default_factory=Where, compare=False)


@dataclass(frozen=True)
class Rule:
    """One rule: identity, provenance, severity, scope, condition and texts."""

    id: str
    title: str
    title_en: str
    requirement: tuple[str, ...]
    severity: str
    record: str
    stage: str
    when: E.Node
    when_text: str
    message: Text
    recommendation: Text
    source: tuple[Source, ...]
    escalate_when: E.Node | None = None
    escalate_severity: str | None = None
    enabled: bool = True
    watchlist: bool = False  # a finding puts the project on the 重点关注台账
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    where: Where = field(default_factory=Where, compare=False)

    @property
    def table(self) -> str:
        """The table whose rows this rule checks."""
        return RECORD_TABLE[self.record]

    def in_force(self, as_of: dt.date) -> bool:
        """Whether the rule applies on ``as_of`` (effective_to is the first day it no longer does)."""
        if self.effective_from and as_of < self.effective_from:
            return False
        return not (self.effective_to and as_of >= self.effective_to)


@dataclass
class RulePack:
    """All rules, parameters and derived facts of a rules directory."""

    name: str
    version: str
    directory: str
    params: dict[str, ParamSpec]
    derived: dict[str, DerivedFact]
    rules: dict[str, Rule]

    def rule(self, rule_id: str) -> Rule | None:
        """The rule with this id, or None."""
        return self.rules.get(rule_id)
