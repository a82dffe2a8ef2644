"""The partitions' results joined into the result one process gives on the whole dataset.

Most of it is a concatenation: every finding is about one record, and bucketing puts all rows of a
project in one partition (department records and rows without a project id in partition 0), so the
findings a stable sort leaves in input order are always from one partition, in that partition's order.
Three things are about the dataset as a whole and are made here once:

* a rule that could not decide records because the export lacks a table or column gets one D03 finding
  per profile (``PF-D03-ABSENT``), counting the records of every partition;
* the export's notes (from the manifest) and the note about jurisdictions without a profile;
* the record counts and the profiles checked.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

import perfrules.distributed.staging as staging
import perfrules.findings.table as finding_table
from perfrules.distributed.layout import Manifest
from perfrules.distributed.task import ABSENT, PartitionResult
from perfrules.evaluation.check import CheckResult, absent_inputs, absent_table_findings, d03_findings, merge_results, note_error
from perfrules.inputs.dataset import InputNote
from perfrules.inputs.jurisdiction import unknown_jurisdiction_note
from perfrules.inputs.placement import RowCount
from perfrules.rulepack.compile import CompiledPack

RELATED = ("indicators", "payments", "monitoring", "evaluations")


def collect(partitions: list[PartitionResult], manifest: Manifest, compiled: Callable[[str], CompiledPack],
            profile: str | None, known_profiles: list[str], as_of: dt.date, lang: str) -> CheckResult:
    """One CheckResult from every partition's (``compiled(name)``: the pack compiled for a profile)."""
    by_profile: dict[str, list[CheckResult]] = {}
    staged: dict[str, list[str]] = {}  # per profile, the partitions' staged findings files, in partition order
    departments: dict[str, set[tuple[str, int]]] = {}  # per profile, the department records named (no departments table)
    ordered = sorted(partitions, key=lambda p: p.partition)
    first = ordered[0].results[0]
    for outcome in ordered:
        for name, result, held in outcome.results:
            file, count = outcome.staged.get(name, ("", 0))
            # A part with no record and no finding (an empty partition) says nothing, not even its profile.
            if held or len(result.table) or count:
                by_profile.setdefault(name, []).append(result)
            if count:
                staged.setdefault(name, []).append(file)
        for name, named in outcome.departments.items():
            departments.setdefault(name, set()).update(named)
    if not by_profile:  # no record anywhere: the result of an empty dataset, as one process gives it
        by_profile[first[0]] = [first[1]]
    unknown = {j for p in partitions for j in p.jurisdictions} - set(known_profiles)
    for outcome in partitions:  # from here on the findings are held once, in by_profile (millions of rows at scale)
        outcome.results = []
    joined = merge_results([_join(name, by_profile.pop(name), staged.get(name, []), manifest, compiled(name), lang,
                                  len(departments.get(name, ())))
                            for name in sorted(by_profile)])
    notes = [InputNote(**n) for n in manifest.notes]
    if not profile:
        if unknown:
            notes.append(unknown_jurisdiction_note(unknown))
    joined.errors = [note_error(n, lang) for n in notes]
    return joined


def _join(name: str, results: list[CheckResult], staged: list[str], manifest: Manifest, compiled: CompiledPack, lang: str,
          departments: int = 0) -> CheckResult:
    """One profile's results over the partitions: findings joined in partition order and sorted stably
    (``finding_table.finish``); those staged on disk are read back as Arrow, one partition at a time."""
    first = results[0]
    records = {t: sum(r.records[t] for r in results) for t in first.records}
    timings = {k: sum(r.timings.get(k, 0.0) for r in results) for k in first.timings}
    inline = [r.table for r in results]  # every finding, or (with staging) only the PF-D03-ABSENT ones
    del results[1:]  # the partitions' tables now live only in ``inline``, freed once joined
    absent = pd.concat([t[t["rule_id"] == ABSENT] for t in inline], ignore_index=True)
    parts = [staging.part(t[t["rule_id"] != ABSENT]) for t in inline if (t["rule_id"] != ABSENT).any()]
    inline.clear()
    parts += [staging.read_part(f) for f in staged]
    if len(absent):
        parts.append(_absent_findings(absent, first.rules_in_force, manifest, compiled, lang, departments))
    table = finding_table.finish(parts)
    parts.clear()
    return CheckResult(table, first.as_of, first.profile, first.pack_version, records, list(first.rules_in_force),
                       timings=timings, as_of_dates=list(first.as_of_dates), sources=dict(first.sources),
                       row_accounting={(r["source"], r["table"]): RowCount(**r) for r in manifest.row_accounting})


def _absent_findings(rows: pd.DataFrame, in_force: list[str], manifest: Manifest, compiled: CompiledPack, lang: str,
                     departments: int = 0) -> pa.Table:
    """The partitions' PF-D03-ABSENT findings as one per rule, counting every partition's records (made by the
    evaluator's own ``d03_findings``, so the text is the one a single process writes). A rule on the department
    records of an export without a departments table counts ``departments``: those named over all partitions."""
    counts: dict[str, int] = {}
    what: dict[str, set[str]] = {}
    for evidence in rows["evidence"]:
        e = json.loads(evidence)
        counts[e["rule"]] = counts.get(e["rule"], 0) + int(e["records"])
        what.setdefault(e["rule"], set()).update(e["absent"])
    rules = {cr.rule.id: cr for cr in compiled.rules}
    absent_tables = {t for t in RELATED if t not in manifest.present}
    findings = []
    for rule_id in sorted(counts, key=in_force.index):
        cr, n = rules[rule_id], counts[rule_id]
        if cr.rule.table in what[rule_id]:  # its own record table is absent (departments): records are not summed
            findings += absent_table_findings([cr], departments, compiled, lang, manifest.input_headers())
            continue
        absent = absent_inputs(cr, compiled, set(manifest.absent_columns.get(cr.rule.table, [])), absent_tables)
        blamed = {b: np.ones(n, bool) for b, label in absent.items() if label in what[rule_id]}
        findings += d03_findings(cr, [{}] * n, blamed, absent, compiled, lang, manifest.input_headers())
    return finding_table.from_findings(findings)
