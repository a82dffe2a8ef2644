"""Rule test cases written as data: records in, expected findings out, run by one generic runner.

Test files live in a rules directory's ``tests/`` folder (schema: ``rule-tests.schema.json``). A
case names the rule(s) under test; only their findings, and the D03 data findings about them, are
compared with what the case expects, so adding an unrelated rule never breaks a case. ``perfrules
test`` and the project's own test suite both run cases through ``run_case``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfrules.errors import Problem, RulePackError, Where
from perfrules.evaluation.check import check
from perfrules.findings.model import Finding, json_value
from perfrules.inputs.submission import submission_dataset
from perfrules.rulepack.compile import CompiledPack, compile_pack
from perfrules.rulepack.data_rules import D03_RULES
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.pack import read_validated

DEFAULT_AS_OF = dt.date(2022, 11, 15)


@dataclass
class RuleCase:
    """One test case."""

    name: str
    rules: list[str]
    profile: str
    as_of: dt.date
    projects: list[dict[str, Any]]
    departments: list[dict[str, Any]] | None  # None: the case has no departments key (no claim about them)
    expect: list[dict[str, Any]]
    where: Where

    @property
    def id(self) -> str:
        """A readable id: the file, the rule and the case name."""
        return f"{Path(self.where.file or '').stem}::{self.rules[0]}::{self.name}"


@dataclass
class CaseResult:
    """The outcome of one case: pass, or the expected and actual findings that differ."""

    case: RuleCase
    passed: bool
    missing: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)

    def diff(self) -> str:
        """Expected-but-absent (-) and present-but-unexpected (+) findings, one per line."""
        lines = [f"  - {json.dumps(m, ensure_ascii=False)}" for m in self.missing]
        lines += [f"  + {json.dumps(u, ensure_ascii=False)}" for u in self.unexpected]
        return "\n".join(lines)


def load_cases(rules_dir: str | Path) -> list[RuleCase]:
    """Every case of every file in ``rules_dir/tests``; structural problems raise ``RulePackError``."""
    folder = Path(rules_dir) / "tests"
    if not folder.is_dir():
        return []
    problems: list[Problem] = []
    docs = []
    for path in sorted(folder.glob("*.y*ml")):
        doc = read_validated(path, "rule-tests.schema.json", problems)
        if doc is not None:
            docs.append(doc)
    bases: dict[str, dict[str, Any]] = {}
    for doc in docs:
        for name, record in ((doc.data or {}).get("bases") or {}).items():
            if name in bases:
                problems.append(Problem("tests.duplicate-base", f"基础记录 {name!r} 重复定义。", f"base record {name!r} is defined twice.",
                                        doc.key_where(("bases", name))))
            bases[name] = record
    cases = []
    for doc in docs:
        for i, spec in enumerate((doc.data or {}).get("cases") or []):
            where = doc.where(("cases", i, "name"))
            try:
                cases.append(_case(spec, bases, where))
            except KeyError as exc:
                problems.append(Problem("tests.unknown-base", f"未知的基础记录 {exc.args[0]!r}。", f"unknown base record {exc.args[0]!r}.", where))
            except ValueError as exc:  # the schema lets a date pattern through that the calendar lacks (2022-02-30)
                problems.append(Problem("tests.bad-as-of", f"as_of {spec.get('as_of')!r} 不是有效日期：{exc}。",
                                        f"as_of {spec.get('as_of')!r} is not a valid date: {exc}.", doc.where(("cases", i, "as_of"))))
    if problems:
        raise RulePackError(problems)
    return cases


def _case(spec: dict[str, Any], bases: dict[str, dict[str, Any]], where: Where) -> RuleCase:
    rules = spec["rule"] if isinstance(spec["rule"], list) else [spec["rule"]]
    projects = [_with_base(p, bases) for p in ([spec["project"]] if "project" in spec else spec.get("projects", []))]
    departments = [_with_base(d, bases) for d in spec["departments"]] if "departments" in spec else None
    as_of = dt.date.fromisoformat(str(spec["as_of"])) if "as_of" in spec else DEFAULT_AS_OF
    return RuleCase(spec["name"], rules, spec.get("profile", "national"), as_of, projects, departments,
                    spec["expect"], Where(file=where.file, line=where.line, rule_id=rules[0]))


def _with_base(record: dict[str, Any], bases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    record = dict(record)
    base_name = record.pop("base", None)
    if base_name is None:
        return record
    return deep_merge(copy.deepcopy(bases[base_name]), record)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` written over ``base``: nested objects merge, everything else (lists too) is replaced."""
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = deep_merge(base[key], value)
        else:
            base[key] = value
    return base


class CaseRunner:
    """Runs cases against one pack, compiling each profile once."""

    def __init__(self, pack: RulePack):
        self.pack = pack
        self.compiled: dict[str, CompiledPack] = {}

    def compiled_for(self, profile: str) -> CompiledPack:
        """The pack compiled for ``profile`` (cached)."""
        if profile not in self.compiled:
            self.compiled[profile] = compile_pack(self.pack, profile)
        return self.compiled[profile]

    def run(self, case: RuleCase) -> CaseResult:
        """Run one case and compare its findings with what it expects."""
        known = set(self.pack.rules) | set(D03_RULES)
        unknown = [rid for rid in case.rules if rid not in known]
        if unknown:  # a case about no rule would pass by expecting nothing: it fails instead
            return CaseResult(case, False, [{"rule": rid, "error": "no such rule in the pack"} for rid in unknown], [])
        compiled = self.compiled_for(case.profile)
        ds = submission_dataset(case.projects, case.departments, case.where.file or "case")
        findings = [f for f in check(ds, compiled, case.as_of).findings if _about(f, case.rules)]
        actual = [_summary(f) for f in findings]
        expected = [self._expected(e, case) for e in case.expect]
        missing, unexpected = _compare(expected, actual)
        return CaseResult(case, not missing and not unexpected, missing, unexpected)

    @staticmethod
    def _expected(e: dict[str, Any], case: RuleCase) -> dict[str, Any]:
        out = {"rule": e.get("rule", case.rules[0]), "severity": e["severity"]}
        if "department" in e:
            out["department"] = e["department"]
        else:
            ids = [str(p.get("project_id")) for p in case.projects]
            out["project_id"] = e.get("project_id", ids[0] if len(ids) == 1 else None)
        if "evidence" in e:
            out["evidence"] = e["evidence"]
        return out


def _about(f: Finding, rules: list[str]) -> bool:
    return f.rule_id in rules or (f.kind == "data" and f.evidence.get("rule") in rules)


def _summary(f: Finding) -> dict[str, Any]:
    # The values the rule read; not the input's own header names (``headers``), which say how a case's input was keyed.
    evidence = {k: v for k, v in f.evidence.items() if k != "headers"}
    out: dict[str, Any] = {"rule": f.rule_id, "severity": f.severity, "evidence": evidence}
    if f.project_id is not None:
        out["project_id"] = f.project_id
    else:
        out["department"] = f.department
    return out


def _matches(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    for key in ("rule", "severity", "project_id", "department"):
        if key in expected and expected[key] != actual.get(key):
            return False
    wanted = expected.get("evidence") or {}
    return all(json_value(actual["evidence"].get(k)) == json_value(v) for k, v in wanted.items())


def _compare(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    remaining = list(actual)
    missing = []
    for e in expected:
        hit = next((a for a in remaining if _matches(e, a)), None)
        if hit is None:
            missing.append(e)
        else:
            remaining.remove(hit)
    return missing, remaining


def coverage(cases: list[RuleCase]) -> dict[str, Counter[str]]:
    """For each rule under test: how many cases make it fire and how many keep it quiet."""
    out: dict[str, Counter[str]] = {}
    for case in cases:
        for rid in case.rules:
            fires = any(e.get("rule", case.rules[0]) == rid for e in case.expect)
            out.setdefault(rid, Counter())["fires" if fires else "quiet"] += 1
    return out
