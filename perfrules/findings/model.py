"""Findings: what a rule found on a record, with evidence, texts and provenance.

Also the engine's own data findings (requirement D03): a value that could not be read, a value a
condition needed that the record lacks, a table or column the input does not have.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from perfrules.findings.schema import sort_key
from perfrules.language.fields import PROJECTS, TABLES
from perfrules.rulepack.model import SEVERITIES, Rule, RulePack, Text

_MONEY = {c.name for c in PROJECTS.columns if c.kind == "money"} | {"paid"}
_TEMPLATE = re.compile(r"\{([^{}]+)\}")
LINE_NUMBER = "0|[1-9][0-9]*"  # a location's row that is a line of a file (not a place in a submission, projects[0])


class Finding:
    """One finding: a view of one row of a findings table (``perfrules.findings.schema``), with its rule's
    sources as document and clause.

    The batch path makes findings from its table's rows (``findings.table.to_findings``), the per-record path
    makes the row itself (``Finding.of``); either way a finding reads the same values in the same form.
    """

    __slots__ = ("_evidence", "row", "source")

    def __init__(self, row: Mapping[str, Any], source: list[dict[str, str]]) -> None:
        self.row = row
        self.source = source
        self._evidence: dict[str, Any] | None = None

    @classmethod
    def of(cls, rule_id: str, title: str, requirement: list[str], severity: str, stage: str, project_id: str | None,
           fiscal_year: int | None, department: str | None, message: str, recommendation: str,
           source: list[dict[str, str]], evidence: dict[str, Any], location: dict[str, str] | None = None,
           kind: str = "rule", record: Mapping[str, Any] | None = None, watchlist: bool = False) -> Finding:
        """A finding from its parts: the row the batch path would have made for it. ``record`` is the record
        the rule looked at, for the project's name, amount and payments."""
        location = location or {}
        record = record or {}
        return cls({
            "rule_id": rule_id, "title": title, "requirement": "、".join(requirement), "severity": severity,
            "stage": stage, "kind": kind, "project_id": project_id, "project_name": _text(record.get("project_name")),
            "fiscal_year": fiscal_year, "department": department, "amount": _number(record.get("amount")),
            "paid": _number(record.get("paid")), "message": message, "recommendation": recommendation,
            "source": source_text(source), "evidence": json_object(evidence),
            "file": location.get("file"), "row": location.get("row"), "column": location.get("column"),
            "watchlist": watchlist, "about": _about(kind, evidence),
        }, source)

    def __repr__(self) -> str:
        return f"Finding({self.rule_id} {self.severity} {self.project_id or self.department or ''} {self.fiscal_year or ''})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Finding) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    @property
    def rule_id(self) -> str:
        return str(self.row["rule_id"])

    @property
    def title(self) -> str:
        return str(self.row["title"])

    @property
    def requirement(self) -> list[str]:
        return self.row["requirement"].split("、") if self.row["requirement"] else []

    @property
    def severity(self) -> str:
        return str(self.row["severity"])

    @property
    def stage(self) -> str:
        return str(self.row["stage"])

    @property
    def kind(self) -> str:
        return str(self.row["kind"])

    @property
    def project_id(self) -> str | None:
        return _text(self.row["project_id"])

    @property
    def fiscal_year(self) -> int | None:
        value = self.row["fiscal_year"]
        return None if is_missing(value) else int(value)

    @property
    def department(self) -> str | None:
        return _text(self.row["department"])

    @property
    def message(self) -> str:
        return str(self.row["message"])

    @property
    def recommendation(self) -> str:
        return str(self.row["recommendation"])

    @property
    def evidence(self) -> dict[str, Any]:
        """The values the rule looked at, in their JSON form (dates as ISO text)."""
        if self._evidence is None:
            self._evidence = json.loads(self.row["evidence"])
        return self._evidence

    @property
    def location(self) -> dict[str, str]:
        """Where the record is: ``{"file", "row"}`` and, for an unreadable cell, ``"column"``; empty if unknown."""
        file, row, column = (_text(self.row[c]) for c in ("file", "row", "column"))
        if file is None and row is None:
            return {}
        return {"file": file or "", "row": row or "", **({"column": column} if column is not None else {})}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the finding; ``outputs.csv_jsonl.jsonl_lines`` writes the same a column at a time."""
        location: dict[str, Any] = self.location
        if re.fullmatch(LINE_NUMBER, location.get("row", "")):
            location = {**location, "row": int(location["row"])}  # a line number is a number
        return {
            "rule_id": self.rule_id, "title": self.title, "requirement": self.requirement,
            "severity": self.severity, "stage": self.stage, "project_id": self.project_id,
            "fiscal_year": self.fiscal_year, "department": self.department, "message": self.message,
            "recommendation": self.recommendation, "source": self.source, "evidence": self.evidence,
            "location": location, "kind": self.kind,
        }


def _text(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


def _number(value: Any) -> float | None:
    return None if value is None or is_missing(value) or isinstance(value, str) else float(value)


def _about(kind: str, evidence: Mapping[str, Any]) -> str | None:
    """What a data finding is about (the rule it could not decide, or the unreadable column)."""
    if kind != "data":
        return None
    return str(evidence.get("rule") or evidence.get("column") or "") or None


def json_object(values: Mapping[str, Any]) -> str:
    """Evidence as the findings table holds it: a JSON object text of ``json_value``s."""
    return json.dumps({k: json_value(v) for k, v in values.items()}, ensure_ascii=False)


def source_text(source: list[dict[str, str]]) -> str:
    """A rule's sources as one line: ``document clause；document clause``."""
    return "；".join(f"{s['document']} {s['clause']}" for s in source)


def severity_rank(severity: str) -> int:
    """0 for 阻断 (most severe) … 2 for 提示."""
    return SEVERITIES.index(severity)


def exit_code(worst: str | None, fail_on: str) -> int:
    """1 when the worst finding is at least as severe as ``fail_on`` (or "never"), else 0."""
    if fail_on == "never" or worst is None:
        return 0
    return 1 if severity_rank(worst) <= SEVERITIES.index(fail_on) else 0


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Findings in the one order of findings (``findings.schema.ORDER``)."""
    return sorted(findings, key=lambda f: sort_key(f.severity, f.rule_id, f.department, f.project_id, f.fiscal_year))


def source_refs(rule: Rule) -> list[dict[str, str]]:
    """A rule's sources as document + clause (the quoted text lives in the rule pack)."""
    return [{"document": s.document, "clause": s.clause} for s in rule.source]


def render(template: Text | str, values: dict[str, Any], lang: str) -> str:
    """Fill ``{name}`` placeholders of a template with formatted evidence values."""
    text = template.get(lang) if isinstance(template, Text) else template
    return _TEMPLATE.sub(lambda m: format_value(m.group(1), values.get(m.group(1)), lang), text)


def format_value(name: str, value: Any, lang: str) -> str:
    """A value as a person reads it: 500,000元, 2022-10-31, 是/否, 优、良."""
    if is_missing(value):
        return "（空）" if lang != "en" else "(missing)"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        value = bool(value)
        return ("是" if value else "否") if lang != "en" else ("yes" if value else "no")
    if isinstance(value, (pd.Timestamp, dt.date)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (list, tuple)):
        return ("、" if lang != "en" else ", ").join(str(v) for v in value)
    if isinstance(value, dict):
        return ("，" if lang != "en" else ", ").join(f"{k}→{v}" for k, v in value.items())
    if isinstance(value, (int, float)):
        return number_text(name, lang)(value)
    return str(value)


def number_text(name: str, lang: str) -> Callable[[int | float], str]:
    """How ``format_value`` shows a number of field ``name`` (a year, an amount in 元, a rate, a count)."""
    base = name.split(".")[-1]
    if base == "year" or base.endswith("_year"):
        return lambda v: str(int(v)) if float(v).is_integer() else str(v)
    if base in _MONEY or base.endswith(("amount", "threshold")):
        unit = "元" if lang != "en" else " yuan"
        return lambda v: (f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}") + unit
    if base.endswith("_rate"):
        return lambda v: f"{v:.1%}"
    return lambda v: f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def is_missing(value: Any) -> bool:
    """Whether a value is absent (None, NA, NaN, NaT)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def json_value(value: Any) -> Any:
    """A value in plain JSON form (dates as ISO text, missing as null)."""
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if is_missing(value):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def json_number(value: int | float) -> str:
    """``json.dumps(json_value(value))`` of a Python number, without the cost of a ``json.dumps`` call."""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value) if math.isfinite(value) else json.dumps(value)  # (json writes floats by repr)
    return str(value)


# Evidence as a person reads it ------------------------------------------------------------------------------

EVIDENCE_EXTRA = {"as_of": ("检查日期", "as of"), "rule": ("规则", "rule"), "absent": ("缺少", "absent"),
                  "missing": ("缺少数据", "missing"), "records": ("涉及记录数", "records"), "column": ("列", "column"),
                  "value": ("原值", "value"), "expected": ("应为", "expected")}


def evidence_labels(pack: RulePack, lang: str = "zh") -> dict[str, str]:
    """What each evidence key is called in the data contract's headers and the pack's titles.

    A field is named by its column header in the data contract (``是否设定绩效目标``, ``申请金额``), a derived
    fact and a parameter by its title in the pack; the keys are the engine's names (``has_goal``,
    ``params.ex_ante_threshold``).
    """
    zh = lang != "en"
    labels: dict[str, str] = {}
    for table in TABLES.values():  # the headers of the user's files, in English output too
        for column in table.columns:
            labels.setdefault(column.name, column.zh)
            labels.setdefault(f"{table.name}.{column.name}", f"{table.zh}.{column.zh}")
    for name, fact in pack.derived.items():
        labels[name] = fact.title if zh or not fact.title_en else fact.title_en
    for name, param in pack.params.items():
        title = param.title if zh or not param.title_en else param.title_en
        labels[f"params.{name}"] = ("参数：" if zh else "parameter: ") + title
    labels.update({k: v[0] if zh else v[1] for k, v in EVIDENCE_EXTRA.items()})
    return labels


def evidence_text(evidence: dict[str, Any], labels: dict[str, str], lang: str = "zh") -> str:
    """``是否设定绩效目标：否；申请金额：500,000元`` from ``{"has_goal": false, "amount": 500000}``."""
    zh = lang != "en"
    parts = []
    for name, value in evidence.items():
        shown = format_value(name, value, lang)
        if isinstance(value, list) and name in ("absent", "missing"):
            shown = ("、" if zh else ", ").join(labels.get(str(v), str(v)) for v in value)
        parts.append(f"{labels.get(name, name)}{'：' if zh else ': '}{shown}")
    return ("；" if zh else "; ").join(parts)
