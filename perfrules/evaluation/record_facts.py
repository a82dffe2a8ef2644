"""The per-record fact layer: one submission's records, typed, with their derived facts and aggregates.

It reads a submission exactly as ``perfrules.inputs.submission`` does (the same flattening, labels,
value parsing and presence of tables) but keeps each record as a dict instead of a DataFrame, and
computes the compiled pack's aggregates and derived facts with ``perfrules.evaluation.reference``. The durable
backend hands these values to the engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from perfrules.evaluation.reference import Record, aggregate, evaluate
from perfrules.inputs.dataset import PRIOR_FROM_EVALUATION, ROW, SOURCE, InputNote, ValueIssue
from perfrules.inputs.headers import InputHeaders
from perfrules.inputs.placement import RowCount
from perfrules.inputs.submission import flatten_submission, submission_row_accounting, unplaceable_record_issues
from perfrules.inputs.values import ValueUnreadable, read_value
from perfrules.language.fields import TABLES
from perfrules.language.functions import leading_row
from perfrules.rulepack.compile import CompiledPack

RELATED = ("indicators", "payments", "monitoring")


@dataclass
class SubmissionRecords:
    """A submission's project and department records, the cells that could not be read, and its tables."""

    projects: list[Record]
    departments: list[Record]
    issues: list[ValueIssue]
    present: set[str]
    notes: list[InputNote] = field(default_factory=list)                            # rows set aside, named
    row_accounting: dict[tuple[str, str], RowCount] = field(default_factory=dict)  # (source, table) → rows
    headers: InputHeaders = field(default_factory=InputHeaders)                     # the keys the submission used
    unclaimed: set[str] = field(default_factory=set)                                # tables it says nothing about


def submission_records(projects: list[Any], departments: list[Any] | None, name: str,
                       prefix: str | None = "projects") -> SubmissionRecords:
    """Typed records of a submission (raises InputError for a structural problem, like the loader)."""
    flat = flatten_submission(projects, departments, name, prefix)
    issues: list[ValueIssue] = []
    typed = {t: [_typed_row(t, raw, name, label, issues, flat.headers.get(t, {})) for raw, label in zip(flat.rows[t], flat.labels[t])]
             for t in TABLES}
    present = flat.present
    related: dict[str, dict[tuple[Any, Any], list[dict[str, Any]]]] = {t: {} for t in RELATED}
    for t in RELATED:
        for row in typed[t]:
            related[t].setdefault((row.get("project_id"), _num(row.get("fiscal_year"))), []).append(row)
    by_id: dict[Any, list[dict[str, Any]]] = {}
    for row in typed["evaluations"]:
        by_id.setdefault(row.get("project_id"), []).append(row)
    records, owners = [], set()
    for values in typed["projects"]:
        key = (values.get("project_id"), _num(values.get("fiscal_year")))
        first = key not in owners  # duplicates are reported by the loader; the first one owns the rows
        owners.add(key)
        rel: dict[str, list[dict[str, Any]] | None] = {}
        for t in RELATED:
            rel[t] = (related[t].get(key, []) if first else []) if t in present else None
        fy = _num(values.get("fiscal_year"))
        rel["evaluations"] = ([{**r, "fiscal_year": fy} for r in by_id.get(values.get("project_id"), [])
                               if fy is not None and (year := _num(r.get("year"))) is not None and year <= fy]
                              if "evaluations" in present else None)
        records.append(Record(values, rel))
    departments_out = [Record(values, {}) for values in [*typed["departments"], *_departments_of_projects(typed, present)]]
    issues += unplaceable_record_issues(typed, name, {i.cell for i in issues})
    return SubmissionRecords(records, departments_out, issues, present, flat.notes, submission_row_accounting(flat, name),
                             InputHeaders(flat.headers), set(flat.unclaimed))


def record_values(record: Record, compiled: CompiledPack, table: str, as_of: dt.date) -> dict[str, Any]:
    """The record's fields (a project's missing ``prior_*`` from its prior-year evaluation, by the profile's
    precedence) plus every fact and derived value of ``compiled`` for its table."""
    values = dict(record.values)
    if table == "projects":
        _fill_prior(values, record.related.get("evaluations") or [], compiled.params)
    for key, agg in compiled.facts.items():
        if compiled.fact_tables[key] == table:
            values[key] = aggregate(agg, record, compiled.params, as_of)
    for d in compiled.derived:
        if d.fact.table == table:
            values[d.fact.name] = evaluate(d.expr, values, compiled.params, as_of)
    return values


def _typed_row(table: str, raw: dict[str, Any], source: str, label: str, issues: list[ValueIssue],
               headers: dict[str, str]) -> dict[str, Any]:
    spec = TABLES[table]
    out: dict[str, Any] = {}
    bad: list[tuple[str, Any]] = []
    for col in spec.columns:
        if col.name not in raw:
            out[col.name] = None
            continue
        try:
            out[col.name] = read_value(raw[col.name], col.kind)
        except ValueUnreadable:
            out[col.name] = None
            bad.append((col.name, raw[col.name]))
    out[SOURCE], out[ROW] = source, label
    for name, value in bad:
        issues.append(ValueIssue(table, source, label, name, headers.get(name, name), str(value), spec.by_name[name].kind,
                                 project_id=_str(out.get("project_id")), fiscal_year=_int(out.get("fiscal_year")),
                                 department=_str(out.get("department"))))
    return out


def _departments_of_projects(typed: dict[str, list[dict[str, Any]]], present: set[str]) -> list[dict[str, Any]]:
    """Mirror of perfrules.inputs.dataset.add_departments_of_projects: a record, with nothing recorded, for each
    department with projects in a fiscal year but no row in the supplied departments table."""
    if "departments" not in present:
        return []
    known = {(d.get("department"), _num(d.get("fiscal_year"))) for d in typed["departments"]}
    added: dict[tuple[Any, Any], dict[str, Any]] = {}
    for p in typed["projects"]:
        key = (p.get("department"), _num(p.get("fiscal_year")))
        if None in key or key in known or key in added:
            continue
        added[key] = {**{c.name: None for c in TABLES["departments"].columns},
                      "department": p["department"], "fiscal_year": p["fiscal_year"], "jurisdiction": p.get("jurisdiction"),
                      SOURCE: p.get(SOURCE), ROW: p.get(ROW)}
    return list(added.values())


def _fill_prior(project: dict[str, Any], evaluations: list[dict[str, Any]], params: dict[str, Any]) -> None:
    """Mirror of perfrules.inputs.dataset.with_prior_from_evaluations for one project (``evaluations``: its rows,
    in file order): its prior-year evaluation is the leading one of that year (``leading_row``: the most
    authoritative by the profile's ``params.evaluation_precedence``, then the first)."""
    fy = _num(project.get("fiscal_year"))
    rows = [r for r in evaluations if fy is not None and (year := _num(r.get("year"))) is not None and year + 1 == fy]
    lead = leading_row(rows, params)
    if lead is None:
        return
    prior = rows[lead]
    for name in PRIOR_FROM_EVALUATION:
        col = f"prior_{name}"
        if project.get(col) is None and prior.get(name) is not None:
            project[col] = int(prior[name]) if name == "year" else prior[name]


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
