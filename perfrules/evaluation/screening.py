"""Pre-approval screening: one submission, a verdict in milliseconds, on the durable-rules engine.

The same compiled rules as ``check``: the per-record fact layer (``perfrules.evaluation.record_facts``) computes
derived facts, aggregates and lifted sub-expressions; the Rete engine matches the conditions; the
findings are built by the same code as the batch path's, so both give the same findings.

A long-running caller keeps one ``Screener``: the pack is loaded and each profile's engine built once.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perfrules.errors import Problem, UsageError
from perfrules.evaluation.check import (
    NO_DEPARTMENT_DATA,
    CheckResult,
    absent_inputs,
    base_inputs_blamed,
    d03_findings,
    escalation_findings,
    issue_findings,
    not_checked_entry,
    note_error,
    rule_finding,
)
from perfrules.evaluation.durable import available
from perfrules.evaluation.durable.program import Program, compile_program, engine_value
from perfrules.evaluation.durable.runtime import DurableEngine
from perfrules.evaluation.record_facts import RELATED, SubmissionRecords, _num, record_values, submission_records
from perfrules.evaluation.reference import Record, blame, evaluate
from perfrules.findings.model import Finding, sort_findings
from perfrules.inputs.dataset import ROW, SOURCE, InputNote, duplicate_records_note
from perfrules.inputs.jurisdiction import unknown_jurisdiction_note
from perfrules.inputs.submission import submission_parts
from perfrules.rulepack.compile import CompiledPack, compile_pack
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.pack import default_rules_dir, load_pack
from perfrules.rulepack.profile import DEFAULT_PROFILE, available_profiles

VERDICTS = {"pass": ("通过", "pass"), "rectify": ("需整改", "needs rectification"), "reject": ("不予通过", "reject")}


def verdict_of(findings: list[Finding]) -> str:
    """通过 with no findings, 需整改 with only 警告/提示, 不予通过 with any 阻断 (as a key of VERDICTS)."""
    if not findings:
        return "pass"
    return "reject" if any(f.severity == "阻断" for f in findings) else "rectify"


@dataclass
class ScreenResult(CheckResult):
    """A check result with its verdict."""

    verdict: str = "pass"

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["verdict"] = VERDICTS[self.verdict][0]
        out["verdict_en"] = VERDICTS[self.verdict][1]
        return out


class Screener:
    """Screens submissions one at a time; build once, screen many."""

    def __init__(self, rules_dir: str | Path | None = None, profile: str | None = None, pack: RulePack | None = None):
        ok, why = available()
        if not ok:
            raise UsageError([Problem("screen.durable-unavailable", why, why)])
        self.pack = pack or load_pack(rules_dir or default_rules_dir())
        self.profile = profile
        self._known = available_profiles(self.pack)  # read once: listing the folder on every screen cost ~5% of it
        self._engines: dict[str, tuple[CompiledPack, Program, DurableEngine]] = {}
        self._lock = threading.Lock()
        if profile:
            self._engine(profile)  # an unknown profile is an error now, not at the first submission

    def _engine(self, profile: str) -> tuple[CompiledPack, Program, DurableEngine]:
        with self._lock:
            if profile not in self._engines:
                compiled = compile_pack(self.pack, profile)
                program = compile_program(compiled)
                self._engines[profile] = (compiled, program, DurableEngine(program, f"perfrules_{profile}"))
            return self._engines[profile]

    def close(self) -> None:
        """Free the engines' rulesets."""
        for _, _, engine in self._engines.values():
            engine.close()
        self._engines.clear()

    def screen(self, submission: Any, *, profile: str | None = None, as_of: dt.date | str | None = None,
               lang: str = "zh", name: str = "submission") -> ScreenResult:
        """Screen a submission (one project object, a list, or {projects, departments[, as_of]})."""
        projects, departments, prefix, doc_as_of = _shape(submission)
        records = submission_records(projects, departments, name, prefix)
        when = _date(as_of) or _date(doc_as_of) or dt.date.today()
        chosen = profile or self.profile
        known = self._known
        groups: dict[str, tuple[list[Record], list[Record]]] = {}
        unknown_jurisdictions: set[str] = set()
        for table, recs in (("projects", records.projects), ("departments", records.departments)):
            for rec in recs:
                j = rec.values.get("jurisdiction")
                name_ = chosen or (j if j in known else DEFAULT_PROFILE)
                if not chosen and j is not None and j not in known:
                    unknown_jurisdictions.add(str(j))
                groups.setdefault(name_, ([], []))[0 if table == "projects" else 1].append(rec)
        if not groups:
            groups[chosen or DEFAULT_PROFILE] = ([], [])
        findings = issue_findings(records.issues, lang)
        in_force: set[str] = set()
        not_checked: dict[str, dict[str, str]] = {}
        for prof, (projs, depts) in groups.items():
            compiled, program, engine = self._engine(prof)
            in_force |= {cr.rule.id for cr in compiled.rules if cr.rule.in_force(when)}
            not_checked |= {cr.rule.id: not_checked_entry(cr.rule.id, NO_DEPARTMENT_DATA, lang, [name]) for cr in compiled.rules
                            if cr.rule.table in records.unclaimed and cr.rule.in_force(when)}
            findings += _screen_group(compiled, program, engine, records, projs, depts, when, lang)
        notes = [*records.notes, *([duplicate] if (duplicate := _duplicate_note(records.projects)) else [])]
        if unknown_jurisdictions:
            notes.append(unknown_jurisdiction_note(unknown_jurisdictions))
        errors = [note_error(n, lang) for n in notes]
        ordered = sort_findings(findings)
        return ScreenResult(ordered, when, ", ".join(groups), self.pack.version,
                            {"projects": len(records.projects), "departments": len(records.departments)},
                            sorted(in_force), errors, verdict=verdict_of(ordered), row_accounting=records.row_accounting,
                            not_checked=list(not_checked.values()))


def _duplicate_note(projects: list[Record]) -> InputNote | None:
    """The loader's note on duplicate project records (a frame is built only when there are duplicates)."""
    keys = [(r.values.get("project_id"), _num(r.values.get("fiscal_year"))) for r in projects]
    if len(set(keys)) == len(keys):
        return None
    frame = pd.DataFrame([{c: r.values.get(c) for c in ("project_id", "fiscal_year", SOURCE, ROW)} for r in projects])
    return duplicate_records_note(frame.astype({"fiscal_year": "Int64"}))


def _screen_group(compiled: CompiledPack, program: Program, engine: DurableEngine, records: SubmissionRecords,
                  projects: list[Record], departments: list[Record], as_of: dt.date, lang: str) -> list[Finding]:
    out: list[Finding] = []
    absent_tables = {t for t in (*RELATED, "evaluations") if t not in records.present}
    for table, recs in (("projects", projects), ("departments", departments)):
        rules = [cr for cr in compiled.rules if cr.rule.table == table and cr.rule.in_force(as_of)]
        if not rules or not recs:
            continue
        undecided: dict[str, list[dict[str, Any]]] = {}
        escalation_undecided: dict[str, list[dict[str, Any]]] = {}
        for i, rec in enumerate(recs):
            values = record_values(rec, compiled, table, as_of)
            fired = engine.match(_fact(program, values, compiled, as_of), f"{table}-{i}")
            for cr in rules:
                rid = cr.rule.id
                if f"{rid}|T" in fired:
                    severity = cr.rule.escalate_severity if cr.rule.escalate_severity and f"{rid}|E" in fired else cr.rule.severity
                    out.append(rule_finding(cr, values, severity, compiled.params, as_of, lang, records.headers))
                    if (cr.escalate is not None and f"{rid}|E" not in fired
                            and evaluate(cr.escalate, values, compiled.params, as_of) is None):
                        escalation_undecided.setdefault(rid, []).append(values)
                elif f"{rid}|F" not in fired:
                    undecided.setdefault(rid, []).append(values)
        for cr in rules:
            rows = escalation_undecided.get(cr.rule.id)
            if rows and cr.escalate is not None:
                out += escalation_findings(cr, rows, _blamed(cr.escalate, rows, compiled, as_of), _isna(rows), set(),
                                           absent_tables, compiled, lang, records.headers)
        for cr in rules:
            rows = undecided.get(cr.rule.id)
            if not rows:
                continue
            base = base_inputs_blamed(cr, compiled, _blamed(cr.condition, rows, compiled, as_of), _isna(rows), len(rows))
            out += d03_findings(cr, rows, base, absent_inputs(cr, compiled, set(), absent_tables), compiled, lang,
                               records.headers)
    return out


def _blamed(node: Any, rows: list[dict[str, Any]], compiled: CompiledPack, as_of: dt.date) -> dict[str, np.ndarray]:
    """For each leaf, the records (of ``rows``) whose missing value of it leaves ``node`` unknown."""
    blamed_sets = [blame(node, v, compiled.params, as_of) for v in rows]
    return {n: np.array([n in b for b in blamed_sets]) for n in set().union(*blamed_sets)}


def _isna(rows: list[dict[str, Any]]) -> Any:
    return lambda name: np.array([v.get(name) is None for v in rows])


def _fact(program: Program, values: dict[str, Any], compiled: CompiledPack, as_of: dt.date) -> dict[str, Any]:
    fact: dict[str, Any] = {}
    lifted = program.lifted
    for name, key in program.keys.items():
        if key in lifted:
            value = evaluate(lifted[key], values, compiled.params, as_of)
        elif name == "as_of":
            value = as_of
        else:
            value = values.get(name)
        fact[key] = engine_value(value)
    return fact


def _shape(doc: Any) -> tuple[list[Any], list[Any] | None, str | None, Any]:
    parts = submission_parts(doc)  # the file loader's reading of a submission's shape
    if parts is not None:
        return parts
    raise UsageError([Problem("input.shape", "提交内容须为一个项目对象、项目列表或 {projects, departments}。",
                              "a submission must be a project object, a list of projects, or {projects, departments}.")])


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


_DEFAULT: dict[tuple[str, str | None], Screener] = {}


def screen(submission: Any, profile: str | None = None, as_of: dt.date | str | None = None,
           rules_dir: str | Path | None = None, lang: str = "zh") -> ScreenResult:
    """Screen one submission with the bundled (or given) rules; the engine is built once per process."""
    key = (str(rules_dir or default_rules_dir()), None)
    if key not in _DEFAULT:
        _DEFAULT[key] = Screener(rules_dir)
    return _DEFAULT[key].screen(submission, profile=profile, as_of=as_of, lang=lang)
