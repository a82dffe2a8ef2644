"""Run a compiled pack over a dataset: the batch (pandas) path of ``perfrules check``.

Each rule's condition is evaluated as one boolean mask over its record table. A row where the mask
is true gets a finding. A row where it is *unknown* — the outcome depends on a value the record
lacks — gets a D03 data finding naming the missing fields, never a silent pass or fail. When the
missing value is a whole table or column the input does not have, that is reported once per rule,
not once per row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import perfrules.findings.table as finding_table
import perfrules.language.expr as E
from perfrules.evaluation.facts import FactFrames, build_facts
from perfrules.evaluation.vectorised import Context, evaluate, evaluate_truth
from perfrules.findings.model import Finding, render, source_refs, source_text
from perfrules.findings.schema import column_type, sort_frame
from perfrules.inputs.dataset import (
    PARALLEL_ROWS,
    ROW,
    SOURCE,
    Dataset,
    InputNote,
    ValueIssue,
    pool_threads,
    row_totals,
    with_prior_from_evaluations,
)
from perfrules.inputs.headers import NO_HEADERS, InputHeaders
from perfrules.inputs.placement import RowCount
from perfrules.language.fields import TABLES
from perfrules.rulepack.compile import CompiledPack, CompiledRule
from perfrules.rulepack.data_rules import D03_RECOMMENDATION, D03_RULES, D03_SOURCE
from perfrules.rulepack.model import SEVERITIES

# The engine's own data findings (requirement D03: 记录完整可核验).
IDENTITY = ("project_id", "project_name", "department", "unit", "fiscal_year", "jurisdiction")


@dataclass
class CheckResult:
    """Findings of one run, with what was checked and how long each stage took.

    ``found`` is a findings table (the batch path) or a list of ``Finding`` objects (the per-record
    screening path, where a table would cost more than the screening); either form is made from the
    other on first use.
    """

    found: pd.DataFrame | list[Finding]
    as_of: dt.date
    profile: str
    pack_version: str
    records: dict[str, int]
    rules_in_force: list[str]
    errors: list[dict[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    as_of_dates: list[dt.date] = field(default_factory=list)
    sources: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    row_accounting: dict[tuple[str, str], RowCount] = field(default_factory=dict)  # (source, table) → read/checked/noted
    # Rules in force that were not applicable to the input, each with why (``not_checked_entry``).
    not_checked: list[dict[str, str]] = field(default_factory=list)
    _findings: list[Finding] | None = field(default=None, repr=False, compare=False)
    _table: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.as_of_dates:
            self.as_of_dates = [self.as_of]
        if isinstance(self.found, pd.DataFrame):
            self._table = self.found
        else:
            self._findings = list(self.found)

    @property
    def findings(self) -> list[Finding]:
        """The findings as objects, most severe first."""
        if self._findings is None:
            self._findings = finding_table.to_findings(self._table, self.sources)
        return self._findings

    @property
    def table(self) -> pd.DataFrame:
        """The findings as a findings table (``perfrules.findings.table``), most severe first."""
        if self._table is None:
            self._table = finding_table.finish([finding_table.from_findings(self._findings or [])])
        return self._table

    def _column(self, name: str) -> list[str]:
        if self._findings is not None:
            return [getattr(f, name) for f in self._findings]
        assert self._table is not None  # one of the two forms is always there
        return self._table[name].tolist()

    def summary(self) -> dict[str, Any]:
        """Counts by severity and by rule."""
        by_sev = Counter(self._column("severity"))
        by_rule = Counter(self._column("rule_id"))
        return {
            "total": sum(by_sev.values()),
            "by_severity": {s: by_sev.get(s, 0) for s in SEVERITIES},
            "by_rule": dict(sorted(by_rule.items())),
            "records": self.records, "as_of": ", ".join(d.isoformat() for d in self.as_of_dates), "profile": self.profile,
            "pack_version": self.pack_version, "rules_in_force": len(self.rules_in_force),
            "rows": row_totals(self.row_accounting.values()),
        }

    def worst(self) -> str | None:
        """The most severe severity among the findings, or None."""
        present = set(self._column("severity"))
        return next((s for s in SEVERITIES if s in present), None)


def check(dataset: Dataset, compiled: CompiledPack, as_of: dt.date, lang: str = "zh") -> CheckResult:
    """Evaluate every rule in force on ``as_of`` over ``dataset``.

    A rule whose record table the input makes no claim about (a submission without departments) is not
    checked, and listed as such; one whose record table an export lacks reports ``PF-D03-ABSENT``."""
    t0 = time.perf_counter()
    dataset = with_prior_from_evaluations(dataset, compiled.params)  # the profile's precedence of evaluations
    facts = build_facts(dataset, compiled, as_of)
    t1 = time.perf_counter()
    in_force = [cr for cr in compiled.rules if cr.rule.in_force(as_of)]
    unclaimed = [cr for cr in in_force if cr.rule.table in dataset.unclaimed]
    lacking = [cr for cr in in_force if cr.rule.table not in dataset.present and cr not in unclaimed]
    runs = [cr for cr in in_force if cr not in unclaimed and cr not in lacking]
    # Rules decide and render on all cores for a large input (NumPy and Arrow kernels release the GIL).
    workers = pool_threads() if len(dataset.frame("projects")) >= PARALLEL_ROWS else 1
    contexts = {t: Context(f, compiled.params, as_of) for t, f in facts.frames.items()}  # shared: fy_date() once
    with ThreadPoolExecutor(max_workers=workers) as pool:
        decided = list(zip(runs, pool.map(lambda cr: decide(cr, facts, compiled, as_of, contexts), runs)))
    t2 = time.perf_counter()
    data_findings = value_findings(dataset, lang)
    records = len(departments_named(dataset.frame("projects"))) if lacking else 0
    shown = {t: finding_table.TableValues(f) for t, f in facts.frames.items()}

    def render(item: tuple[CompiledRule, Decision]) -> tuple[FiredTexts | None, list[Finding]]:
        return rule_findings(item[0], item[1], facts, dataset, compiled, as_of, lang, shown[item[0].rule.table])

    fired: dict[str, list[FiredTexts]] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rendered = dict(zip((cr.rule.id for cr, _ in decided), pool.map(render, decided)))
    for cr in in_force:  # in the pack's order, as the partitions' results are joined (distributed.collect)
        if cr in lacking:
            data_findings += absent_table_findings([cr], records, compiled, lang, dataset.headers)
        elif cr.rule.id in rendered:
            texts, undecided = rendered[cr.rule.id]
            if texts is not None:
                fired.setdefault(texts.rule.rule.table, []).append(texts)
            data_findings += undecided
    tables = [fired_table(texts, located_rows(facts.frames[t]), lang) for t, texts in fired.items()]
    tables.append(finding_table.from_findings(data_findings))  # few: one part for all of them
    table = finding_table.finish(tables)
    t3 = time.perf_counter()
    sources = {cr.rule.id: source_refs(cr.rule) for cr in compiled.rules} | {r: list(D03_SOURCE) for r in D03_RULES}
    return CheckResult(
        table, as_of, compiled.profile.name, compiled.pack.version,
        {t: len(dataset.frame(t)) for t in ("projects", "departments")}, [cr.rule.id for cr in in_force],
        errors=[note_error(n, lang) for n in dataset.notes],
        timings={"facts": t1 - t0, "evaluate": t2 - t1, "findings": t3 - t2}, sources=sources,
        row_accounting=dataset.row_accounting,
        not_checked=[not_checked_entry(cr.rule.id, NO_DEPARTMENT_DATA, lang, dataset.sources) for cr in unclaimed],
    )


# Why a rule in force was not checked (``CheckResult.not_checked``): the reason's key → its text (zh, en).
NO_DEPARTMENT_DATA = "no-department-data"
NOT_CHECKED = {NO_DEPARTMENT_DATA: ("输入不含部门整体数据", "the input has no department data")}


def not_checked_entry(rule_id: str, reason: str, lang: str, sources: Sequence[str] = ()) -> dict[str, str]:
    """A rule in force that was not checked, why (``NOT_CHECKED``), and the input it was not checked on."""
    zh, en = NOT_CHECKED[reason]
    return {"rule": rule_id, "reason": reason, "message": f"未检查：{zh}" if lang != "en" else f"not checked: {en}",
            "source": ", ".join(sources)}


def departments_named(projects: pd.DataFrame) -> set[tuple[str, int]]:
    """The department records (department, fiscal year) that a projects table names: those a department-level
    rule runs on when the departments table is supplied (``add_departments_of_projects``)."""
    keys = projects[["department", "fiscal_year"]].dropna().drop_duplicates()
    return {(str(d), int(y)) for d, y in zip(keys["department"], keys["fiscal_year"])}


def absent_table_findings(rules: Sequence[CompiledRule], records: int, compiled: CompiledPack, lang: str,
                          headers: InputHeaders = NO_HEADERS) -> list[Finding]:
    """One ``PF-D03-ABSENT`` per rule whose record table the input lacks (an export without a departments table):
    none of its ``records`` (the department records the projects name) could be decided; none when there are none."""
    if not records:
        return []
    return [f for cr in rules for f in d03_findings(cr, [{}] * records, {cr.rule.table: np.ones(records, bool)},
                                                    {cr.rule.table: cr.rule.table}, compiled, lang, headers)]


def note_error(note: InputNote, lang: str) -> dict[str, str]:
    """An input note as an entry of the result's ``errors``."""
    return {"code": note.code, "message": note.zh if lang != "en" else note.en, "source": note.source}


def check_all(datasets: list[Dataset], compiled: CompiledPack, as_of: dt.date | None, lang: str = "zh") -> CheckResult:
    """Check several inputs, each at its own as-of date unless ``as_of`` is given, and merge the results."""
    return merge_results([check(d, compiled, as_of or d.as_of or dt.date.today(), lang) for d in datasets])


def merge_results(results: list[CheckResult]) -> CheckResult:
    """One result holding the findings of several (profiles and as-of dates are listed)."""
    first = results[0]
    if len(results) == 1:
        return first
    records = {t: sum(r.records[t] for r in results) for t in first.records}
    timings = {k: sum(r.timings.get(k, 0.0) for r in results) for k in first.timings}
    return CheckResult(
        sort_frame(pd.concat([r.table for r in results], ignore_index=True)), max(r.as_of for r in results),
        ", ".join(dict.fromkeys(r.profile for r in results)),
        first.pack_version, records, sorted({rid for r in results for rid in r.rules_in_force}),
        errors=[e for r in results for e in r.errors], timings=timings,
        as_of_dates=sorted({d for r in results for d in r.as_of_dates}),
        sources={k: v for r in results for k, v in r.sources.items()},
        row_accounting={k: v for r in results for k, v in r.row_accounting.items()},  # parts of one input share its counts
        not_checked=list({tuple(e.items()): e for r in results for e in r.not_checked}.values()))


@dataclass
class Decision:
    """A rule's outcome on every record of its table: fired, unknown, and the severity of each fired row."""

    fired: np.ndarray
    unknown: np.ndarray
    severity: np.ndarray
    escalation_unknown: np.ndarray | None = None  # per fired row: its escalation could not be decided


def decide(cr: CompiledRule, facts: FactFrames, compiled: CompiledPack, as_of: dt.date,
           contexts: dict[str, Context] | None = None) -> Decision:
    """Evaluate one rule's condition (and escalation) as masks over its record table."""
    frame = facts.frames[cr.rule.table]
    ctx = (contexts or {}).get(cr.rule.table) or Context(frame, compiled.params, as_of)
    if len(frame):
        outcome = evaluate_truth(cr.condition, ctx)
        fired, unknown = outcome.true, outcome.unknown
    else:
        fired, unknown = np.zeros(0, bool), np.zeros(0, bool)
    severity = np.full(int(fired.sum()), cr.rule.severity, dtype=object)
    escalation_unknown = None
    if cr.escalate is not None and fired.any():
        up = evaluate_truth(cr.escalate, ctx)
        severity[up.true[fired]] = cr.rule.escalate_severity
        escalation_unknown = up.unknown[fired]  # fires at its base severity, and a D03 names what is missing
    return Decision(fired, unknown, severity, escalation_unknown)


def rule_findings(cr: CompiledRule, decision: Decision, facts: FactFrames, dataset: Dataset, compiled: CompiledPack,
                  as_of: dt.date, lang: str, shown: finding_table.TableValues) -> tuple[FiredTexts | None, list[Finding]]:
    """One rule's texts where it fired, and its D03 findings where it could not tell."""
    frame = facts.frames[cr.rule.table]
    fired = None
    if decision.fired.any():
        fired = fired_texts(cr, np.flatnonzero(decision.fired), decision.severity, compiled.params, as_of, lang, shown,
                            evidence_headers(cr, dataset.headers))
    undecided = _unknown_findings(cr, frame, decision.unknown, dataset, facts, compiled, lang) if decision.unknown.any() else []
    if decision.escalation_unknown is not None and decision.escalation_unknown.any():
        sub = frame.iloc[np.flatnonzero(decision.fired)[decision.escalation_unknown]]
        blamed = blame(cr.escalate, Context(sub, compiled.params, as_of)) if cr.escalate is not None else {}
        undecided += escalation_findings(cr, [sub.iloc[j] for j in range(len(sub))], blamed,
                                         lambda name: sub[name].isna().to_numpy(), dataset.absent_columns.get(cr.rule.table, set()),
                                         facts.absent_tables, compiled, lang, dataset.headers)
    return fired, undecided


@dataclass
class FiredTexts:
    """A rule's own texts on the rows of its record table where it fired."""

    rule: CompiledRule
    positions: np.ndarray
    severity: np.ndarray
    message: pa.Array
    recommendation: pa.Array
    evidence: pa.Array


def fired_texts(cr: CompiledRule, positions: np.ndarray, severity: np.ndarray, params: dict[str, Any],
                as_of: dt.date, lang: str, shown: finding_table.TableValues, headers: dict[str, dict[str, str]] | None = None) -> FiredTexts:
    """A rule's message, recommendation and evidence on the given rows, rendered a column at a time (as
    ``rule_finding`` renders one); ``headers`` (``evidence_headers``) go into the evidence."""
    rule = cr.rule
    leaves = [r.name for r in cr.leaves]
    placeholders = [*finding_table.placeholders(rule.message, lang), *finding_table.placeholders(rule.recommendation, lang)]
    rows = shown.rows(positions, dict.fromkeys(c for c in [*leaves, *placeholders]
                                                if c not in (SOURCE, ROW) and (c in leaves or c in IDENTITY or c in LOCATED)))
    n = len(positions)
    scalars: dict[str, Any] = {f"params.{p}": params[p] for p in cr.params}
    if cr.reads_as_of:
        scalars["as_of"] = as_of
    scalars.update(headers or {})
    return FiredTexts(
        cr, positions, severity,
        finding_table.render_column(rule.message, rows, scalars, lang, n),
        finding_table.render_column(rule.recommendation, rows, scalars, lang, n),
        finding_table.evidence_column(rows, scalars, list(dict.fromkeys([*leaves, *scalars])), n))


# What every finding of a record carries besides its rule's own text: who it is about, the figures a
# report shows beside it, and where the record came from.
LOCATED = ("project_id", "project_name", "fiscal_year", "department", "amount", "paid")


def located_rows(frame: pd.DataFrame) -> pa.Table:
    """A record table's ``LOCATED`` columns plus file and row, in Arrow."""
    n = len(frame)
    arrays = [finding_table.to_arrow(frame[c] if c in frame else None, column_type(c), n) for c in LOCATED]
    text = column_type("file")
    for c in (SOURCE, ROW):
        arrays.append(pc.fill_null(finding_table.to_arrow(frame[c], text, n), "") if c in frame else finding_table.to_arrow("", text, n))
    return pa.Table.from_arrays(arrays, names=[*LOCATED, "file", "row"])


def fired_table(fired: list[FiredTexts], located: pa.Table, lang: str) -> pa.Table:
    """The findings of every rule that fired on one record table, as one part: the rows of all rules are taken
    at once, and what a rule says on all its rows (title, source, …) is repeated by index (a part per rule cost
    more in fixed overhead than rendering the rule)."""
    which = pa.array(np.repeat(np.arange(len(fired), dtype=np.int32), [len(f.positions) for f in fired]))
    rules = [f.rule.rule for f in fired]

    def per_rule(values: list[Any], name: str) -> pa.Array:
        return pa.array(values, column_type(name)).take(which)

    at = located.take(pa.array(np.concatenate([f.positions for f in fired])))
    return finding_table.assemble(
        len(which), rule_id=per_rule([r.id for r in rules], "rule_id"),
        title=per_rule([r.title if lang != "en" else r.title_en for r in rules], "title"),
        requirement=per_rule(["、".join(r.requirement) for r in rules], "requirement"),
        severity=pa.array(np.concatenate([f.severity for f in fired]), column_type("severity")),
        stage=per_rule([r.stage for r in rules], "stage"), kind="rule",
        **{c: at[c] for c in at.column_names},
        message=pa.concat_arrays([f.message for f in fired]),
        recommendation=pa.concat_arrays([f.recommendation for f in fired]),
        source=per_rule([source_text(source_refs(r)) for r in rules], "source"),
        evidence=pa.concat_arrays([f.evidence for f in fired]),
        watchlist=per_rule([r.watchlist for r in rules], "watchlist"),
    )


# The evidence entry naming the input's own headers of the fields in it, where they differ from the field names
# (``{"amount": "申请金额（万元）"}``): the evidence keys stay the engine's names, for programs. ``UNITS``: the unit
# of a value whose header there names another (``{"amount": "元"}``: amounts are held in 元).
HEADERS, UNITS = "headers", "units"


def evidence_headers(cr: CompiledRule, headers: InputHeaders) -> dict[str, dict[str, str]]:
    """The evidence entries naming the headers the input used for the fields a rule's evidence shows (``HEADERS``)
    and the unit of those values where their header names another (``UNITS``)."""
    names = [ref.name for ref in cr.leaves]
    entries = {HEADERS: headers.differing(cr.rule.table, names), UNITS: headers.converted(cr.rule.table, names)}
    return {key: entry for key, entry in entries.items() if entry}


def evidence(cr: CompiledRule, row: Mapping[str, Any], params: dict[str, Any], as_of: dt.date,
             headers: InputHeaders = NO_HEADERS) -> dict[str, Any]:
    """The values a rule's conditions looked at on a record, its parameters, the as-of date if read, and the
    input's own headers of those fields (``HEADERS``)."""
    values: dict[str, Any] = {ref.name: row[ref.name] for ref in cr.leaves}
    for p in cr.params:
        values[f"params.{p}"] = params[p]
    if cr.reads_as_of:
        values["as_of"] = as_of
    values.update(evidence_headers(cr, headers))
    return values


def rule_finding(cr: CompiledRule, row: Mapping[str, Any], severity: str, params: dict[str, Any],
                 as_of: dt.date, lang: str, headers: InputHeaders = NO_HEADERS) -> Finding:
    """The finding of a rule that fired on ``row`` (a DataFrame row or a record's values)."""
    ev = evidence(cr, row, params, as_of, headers)
    values = {**{k: row.get(k) for k in IDENTITY}, **ev}
    rule = cr.rule
    return Finding.of(
        rule.id, rule.title if lang != "en" else rule.title_en, list(rule.requirement), severity, rule.stage,
        _opt_str(row.get("project_id")), _opt_int(row.get("fiscal_year")), _opt_str(row.get("department")),
        render(rule.message, values, lang), render(rule.recommendation, values, lang), source_refs(rule),
        ev, _location(row), record=row, watchlist=rule.watchlist,
    )


def _unknown_findings(cr: CompiledRule, frame: pd.DataFrame, unknown: np.ndarray, dataset: Dataset,
                      facts: FactFrames, compiled: CompiledPack, lang: str) -> list[Finding]:
    sub = frame.iloc[np.flatnonzero(unknown)]
    ctx = Context(sub, compiled.params, facts.as_of)
    base_blame = base_inputs_blamed(cr, compiled, blame(cr.condition, ctx),
                                    lambda name: sub[name].isna().to_numpy(), len(sub))
    absent = absent_inputs(cr, compiled, dataset.absent_columns.get(cr.rule.table, set()), facts.absent_tables)
    return d03_findings(cr, [sub.iloc[j] for j in range(len(sub))], base_blame, absent, compiled, lang, dataset.headers)


def base_inputs_blamed(cr: CompiledRule, compiled: CompiledPack, blamed: dict[str, np.ndarray],
                       isna: Callable[[str], np.ndarray], n: int) -> dict[str, np.ndarray]:
    """From the leaves blamed for unknown outcomes to the base inputs (fields, facts) behind them."""
    base_blame: dict[str, np.ndarray] = {}
    refs = {r.name: r for r in cr.value_leaves}
    for name, mask in blamed.items():
        ref = refs.get(name) or E.Ref("field", name)
        inner_na = [(b, mask & isna(b.name)) for b in _base_leaves(compiled, ref)]
        if ref.space == "derived" and not any(m.any() for _, m in inner_na):
            inner_na = [(ref, mask)]  # missing for a reason of its own (e.g. a division by zero)
        for b, m in inner_na:
            base_blame[b.name] = base_blame.get(b.name, np.zeros(n, bool)) | m
    return base_blame


def d03_findings(cr: CompiledRule, rows: Sequence[Mapping[str, Any]], base_blame: dict[str, np.ndarray],
                 absent: dict[str, str], compiled: CompiledPack, lang: str, headers: InputHeaders = NO_HEADERS) -> list[Finding]:
    """D03 findings for the records a rule could not decide: one per record, or one per rule when
    what they lack is a table or column the whole input lacks.

    The messages name what is missing as the input does (``headers``: the file's own header, else the column
    map's, else the data contract's); the evidence keeps the engine's names (``missing``, ``absent``)."""
    table = cr.rule.table
    out: list[Finding] = []
    none = np.zeros(len(rows), bool)
    lacks_absent = np.logical_or.reduce([base_blame.get(n, none) for n in absent]) if absent else none
    others = [m for n, m in base_blame.items() if n not in absent]
    lacks_other = np.logical_or.reduce(others) if others else none
    summarised = lacks_absent & ~lacks_other
    if summarised.any():
        what = sorted({absent[n] for n in absent if (base_blame.get(n, none) & summarised).any()})
        n = int(summarised.sum())
        out.append(_data_finding(
            "PF-D03-ABSENT", cr.rule.id, None, None, None,
            f"输入中没有规则 {cr.rule.id} 所需的 {'、'.join(_absent_name(w, headers, True) for w in what)}，该规则对 {n} 条记录未能判断，已跳过。",
            f"the input has no {', '.join(_absent_name(w, headers, False) for w in what)}, which rule {cr.rule.id} needs; "
            f"it could not decide {n} record(s) and was skipped.",
            {"rule": cr.rule.id, "absent": what, "records": n}, {}, lang))
    base = _base_inputs(cr, compiled)
    order = list(base)
    for j in np.flatnonzero(~summarised):
        row = rows[int(j)]
        names = list(dict.fromkeys(absent.get(n) or _label(base.get(n) or E.Ref("field", n), compiled)
                                   for n in sorted(base_blame, key=lambda n: order.index(n) if n in order else len(order))
                                   if base_blame[n][j]))
        uncomputed = [n for n in base_blame if base_blame[n][j] and (base.get(n) or E.Ref("field", n)).space == "derived"]
        if not names and "fiscal_year" in row and _opt_int(row.get("fiscal_year")) is None:
            names = ["fiscal_year"]  # read implicitly (fy_date, month_end), so no leaf names it
        elif len(uncomputed) == len(names):  # nothing the rule reads is missing: its own arithmetic had no value
            out.append(_rule_problem(cr, row, uncomputed, lang))
            continue
        said_zh, said_en = ([_missing_name(name, table, headers, zh) for name in names] for zh in (True, False))
        ev: dict[str, Any] = {"rule": cr.rule.id, "missing": names}
        if shown := headers.differing(table, names):
            ev[HEADERS] = shown
        out.append(_data_finding(
            "PF-D03-MISSING", cr.rule.id, _opt_str(row.get("project_id")), _opt_int(row.get("fiscal_year")),
            _opt_str(row.get("department")),
            f"规则 {cr.rule.id}（{cr.rule.title}）需要的数据缺失：{'、'.join(said_zh) or '?'}；无法判断是否合规。",
            f"rule {cr.rule.id} ({cr.rule.title_en}) needs data the record lacks: {', '.join(said_en) or '?'}; compliance cannot be decided.",
            ev, _location(row), lang))
    return out


def escalation_findings(cr: CompiledRule, rows: Sequence[Mapping[str, Any]], blamed: dict[str, np.ndarray],
                        isna: Callable[[str], np.ndarray], absent_columns: set[str], absent_tables: set[str],
                        compiled: CompiledPack, lang: str, headers: InputHeaders = NO_HEADERS) -> list[Finding]:
    """D03 findings for the records where a rule fired at its base severity because the value its escalation
    needs is missing (catalogue round 2, e.g. P08 without a prior-year amount): one per record naming that value,
    or one per rule when it is a column or table the whole input lacks."""
    assert cr.escalate is not None
    esc = dataclasses.replace(cr, value_leaves=tuple(r for r in E.value_refs(cr.escalate)
                                                     if r.space in ("field", "derived", "fact")))
    base_blame = base_inputs_blamed(esc, compiled, blamed, isna, len(rows))
    absent = absent_inputs(esc, compiled, absent_columns, absent_tables)
    base, rule, up = _base_inputs(esc, compiled), cr.rule, cr.rule.escalate_severity
    order = list(base)  # what is missing is named in the order the rule reads it, as d03_findings names it
    none = np.zeros(len(rows), bool)
    out: list[Finding] = []
    lacks_absent = np.logical_or.reduce([base_blame.get(n, none) for n in absent]) if absent else none
    others = [m for n, m in base_blame.items() if n not in absent]
    summarised = lacks_absent & ~(np.logical_or.reduce(others) if others else none)
    if summarised.any():
        what = sorted({absent[n] for n in absent if (base_blame.get(n, none) & summarised).any()})
        n = int(summarised.sum())
        out.append(_data_finding(
            "PF-D03-ABSENT", rule.id, None, None, None,
            f"输入中没有规则 {rule.id} 判断是否升为\"{up}\"所需的 {'、'.join(_absent_name(w, headers, True) for w in what)}：{n} 条记录已按\"{rule.severity}\"报告，未能判断是否应为\"{up}\"。",
            f"the input has no {', '.join(_absent_name(w, headers, False) for w in what)}, which rule {rule.id} needs to decide whether to escalate to {up}: "
            f"{n} record(s) were reported at {rule.severity}, and whether they are {up} could not be decided.",
            {"rule": rule.id, "absent": what, "records": n, "escalate": up}, {}, lang))
    for j in np.flatnonzero(~summarised):
        row = rows[int(j)]
        names = list(dict.fromkeys(absent.get(n) or _label(base.get(n) or E.Ref("field", n), compiled)
                                   for n in sorted(base_blame, key=lambda n: order.index(n) if n in order else len(order))
                                   if base_blame[n][j])) or ["?"]
        said_zh, said_en = ([_missing_name(name, rule.table, headers, zh) for name in names] for zh in (True, False))
        ev: dict[str, Any] = {"rule": rule.id, "missing": names, "escalate": up}
        if shown := headers.differing(rule.table, names):
            ev[HEADERS] = shown
        out.append(_data_finding(
            "PF-D03-MISSING", rule.id, _opt_str(row.get("project_id")), _opt_int(row.get("fiscal_year")),
            _opt_str(row.get("department")),
            f"规则 {rule.id}（{rule.title}）已按\"{rule.severity}\"报告；判断是否升为\"{up}\"所需的数据缺失：{'、'.join(said_zh)}。",
            f"rule {rule.id} ({rule.title_en}) was reported at {rule.severity}; whether it is {up} cannot be decided, "
            f"as the record lacks {', '.join(said_en)}.",
            ev, _location(row), lang))
    return out


def _absent_name(what: str, headers: InputHeaders, zh: bool) -> str:
    """An absent input as the user knows it: ``table.field`` by the column map's or the contract's header (with the
    table's Chinese name), a whole table by its Chinese name."""
    table, _, name = what.partition(".")
    if table not in TABLES:
        return what
    if not name:
        return f"{TABLES[table].zh}表" if zh else f"the {TABLES[table].zh} ({table}) table"
    header = headers.header(table, name)
    return f"{TABLES[table].zh}表的列 {header}" if zh else f"column {header} of the {TABLES[table].zh} ({table}) table"


def _missing_name(name: str, table: str, headers: InputHeaders, zh: bool) -> str:
    """A missing value as the user knows it: a field by the input's own header (else the map's, else the
    contract's), a related table (an aggregate with no usable rows) by its Chinese name, anything else as named."""
    if "." in name or (name in TABLES and name != table):
        return _absent_name(name, headers, zh)
    if TABLES[table].column(name) is not None:
        return headers.header(table, name)
    return name


def _rule_problem(cr: CompiledRule, row: Mapping[str, Any], uncomputed: list[str], lang: str) -> Finding:
    """A rule undecided though no data it reads is missing (e.g. it divides by zero): the rule's problem, not the data's."""
    what = "、".join(uncomputed) or "条件中的算式"
    return _data_finding(
        "PF-D03-MISSING", cr.rule.id, _opt_str(row.get("project_id")), _opt_int(row.get("fiscal_year")), _opt_str(row.get("department")),
        f"规则 {cr.rule.id}（{cr.rule.title}）的计算没有结果（{what}，例如除以零），而它读取的数据并不缺失：这是规则的问题，请修改规则（先判断除数不为零）。",
        f"rule {cr.rule.id} ({cr.rule.title_en}) computes no value ({', '.join(uncomputed) or 'an expression in its condition'}, "
        "e.g. a division by zero) although no data it reads is missing: the rule needs fixing (test the divisor first).",
        {"rule": cr.rule.id, "missing": [], "uncomputed": uncomputed}, _location(row), lang)


def blame(node: E.Node, ctx: Context) -> dict[str, np.ndarray]:
    """For each leaf, the rows where its missing value is why ``node`` is unknown (three-valued logic).

    Under an unknown ``and`` no operand is false and under an unknown ``or`` none is true, so exactly
    the unknown operands are to blame; ``is None`` is never unknown; any other node is unknown because
    of the missing values of the leaves it reads.
    """
    if isinstance(node, (E.BoolOp, E.Not)):
        items = node.items if isinstance(node, E.BoolOp) else (node.item,)
        result = evaluate_truth(node, ctx).unknown
        out: dict[str, np.ndarray] = {}
        for item in items:
            item_unknown = evaluate_truth(item, ctx).unknown & result
            if item_unknown.any():
                for name, mask in blame(item, ctx).items():
                    out[name] = out.get(name, np.zeros(len(result), bool)) | (mask & item_unknown)
        return out
    if isinstance(node, E.IsMissing):
        return {}
    value = evaluate(node, ctx)
    unknown = value.isna().to_numpy() if isinstance(value, pd.Series) else np.full(len(ctx.frame), pd.isna(value))
    return {r.name: unknown & ctx.frame[r.name].isna().to_numpy()
            for r in E.value_refs(node) if r.space in ("field", "derived", "fact")}


def _base_inputs(cr: CompiledRule, compiled: CompiledPack) -> dict[str, E.Ref]:
    """The leaves a rule's value depends on and the base inputs behind them, in order of first use."""
    return {b.name: b for ref in cr.value_leaves for b in [ref, *_base_leaves(compiled, ref)]}


def _base_leaves(compiled: CompiledPack, ref: E.Ref) -> list[E.Ref]:
    if ref.space != "derived":
        return [ref]
    return [b for r in compiled.derived_leaves.get(ref.name, ()) for b in _base_leaves(compiled, r)]


def _label(ref: E.Ref, compiled: CompiledPack) -> str:
    """A field by its name; an aggregate by the table it reads (the record has no usable rows there)."""
    return compiled.facts[ref.name].table if ref.space == "fact" else ref.name


def absent_inputs(cr: CompiledRule, compiled: CompiledPack, absent_columns: set[str], absent_tables: set[str]) -> dict[str, str]:
    """Base inputs of a rule that the whole input lacks (a column of its table, or a related table)."""
    absent: dict[str, str] = {}
    for b in _base_inputs(cr, compiled).values():
        if b.space == "field" and b.name in absent_columns:
            absent[b.name] = f"{cr.rule.table}.{b.name}"
        elif b.space == "fact" and compiled.facts[b.name].table in absent_tables:
            absent[b.name] = compiled.facts[b.name].table
    return absent


def _data_finding(rule_id: str, about_rule: str | None, project_id: str | None, fiscal_year: int | None,
                  department: str | None, zh: str, en: str, evidence: dict[str, Any], location: dict[str, str],
                  lang: str) -> Finding:
    title = D03_RULES[rule_id]
    return Finding.of(rule_id, title[0] if lang != "en" else title[1], ["D03"], "警告", "data", project_id, fiscal_year,
                   department, zh if lang != "en" else en, D03_RECOMMENDATION[0] if lang != "en" else D03_RECOMMENDATION[1],
                   list(D03_SOURCE), evidence, location, kind="data")


def value_findings(dataset: Dataset, lang: str) -> list[Finding]:
    """One D03 finding per cell that could not be read."""
    return issue_findings(dataset.issues, lang)


def issue_findings(issues: list[ValueIssue], lang: str) -> list[Finding]:
    """One D03 finding per unreadable cell."""
    out = []
    for issue in issues:
        out.append(_data_finding(
            "PF-D03-UNREADABLE", None, issue.project_id, issue.fiscal_year, issue.department,
            f"{issue.source} 第 {issue.row} 行，列 {issue.header}：无法识别的值 {issue.value!r}（应为{_KIND_ZH.get(issue.kind, issue.kind)}）。",
            f"{issue.source} row {issue.row}, column {issue.header}: cannot read {issue.value!r} as {issue.kind}.",
            {"column": issue.column, "value": issue.value, "expected": issue.kind},
            {"file": issue.source, "row": issue.row, "column": issue.header}, lang))
    return out


_KIND_ZH = {"number": "数值", "money": "金额", "integer": "整数", "bool": "是/否", "date": "日期", "month": "月份",
            "grade": "评价等级（优/良/中/差）", "string": "文字", "list": "列表"}


def _location(row: Mapping[str, Any]) -> dict[str, str]:
    return {"file": str(row.get(SOURCE, "")), "row": str(row.get(ROW, ""))}


def _opt_str(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)

