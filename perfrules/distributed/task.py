"""What a worker does with one partition: load it and check it with the pandas evaluator, as one machine would.

Under ``--profile`` the partition is checked with that profile; otherwise it is split by jurisdiction the
way ``perfrules.api.check_datasets`` splits a whole dataset, and each part is checked with its own
profile. The results stay per profile, so that ``collect`` can join each profile's partitions before it
joins the profiles, in the order one process joins them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

from perfrules.distributed.layout import Manifest
from perfrules.distributed.reader import load_partition
from perfrules.distributed.staging import write_part
from perfrules.errors import PerfrulesError, Problem
from perfrules.evaluation.check import CheckResult, check, departments_named
from perfrules.inputs.jurisdiction import split_by_jurisdiction
from perfrules.language.fields import RELATED_TABLES
from perfrules.rulepack.compile import compile_pack
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.profile import available_profiles


@dataclass
class PartitionResult:
    """One partition's results, per profile, and what ``collect`` needs besides the findings."""

    partition: int
    results: list[tuple[str, CheckResult, bool]]  # (profile, result, whether the part held any record)
    jurisdictions: set[str] = field(default_factory=set)  # the jurisdiction values its records name
    seconds: dict[str, float] = field(default_factory=dict)
    # A problem a person can act on (an unreadable partition file), carried back as data: the
    # PerfrulesError holding it does not survive pickling between processes.
    problems: list[Problem] = field(default_factory=list)
    # With a staging folder: per profile, the file holding the findings and their count (the results then
    # keep only the PF-D03-ABSENT findings, which ``collect`` makes into one per rule over all partitions).
    staged: dict[str, tuple[str, int]] = field(default_factory=dict)
    # When the export has no departments table: per profile, the department records its projects here name
    # (``departments_named``), which ``collect`` counts once over all partitions (a department's projects may be
    # in several).
    departments: dict[str, set[tuple[str, int]]] = field(default_factory=dict)


ABSENT = "PF-D03-ABSENT"


def check_partition(folder: str, manifest: Manifest, partition: int, pack: RulePack, profile: str | None,
                    as_of: dt.date, lang: str, staging: str | None = None) -> PartitionResult:
    """Load partition ``partition`` of ``folder`` and check it (runs on a worker); with ``staging``, the
    findings are written there (``staging.write_part``) instead of coming back with the result."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        dataset = load_partition(Path(folder), manifest, partition)
    except PerfrulesError as exc:
        return PartitionResult(partition, [], problems=exc.problems)
    t1 = time.perf_counter()
    if dataset.frame("projects").empty:
        # Related rows with no project here belong to no record: nothing to aggregate (and the fact layer
        # expects records when a related table has rows). Their unreadable cells are kept.
        dataset.tables = {t: f.iloc[:0] if t in RELATED_TABLES else f for t, f in dataset.tables.items()}
    if profile:
        parts = {profile: dataset}
    else:
        parts = split_by_jurisdiction(dataset, available_profiles(pack))
    results = []
    departments: dict[str, set[tuple[str, int]]] = {}
    for name, part in parts.items():
        held = len(part.frame("projects")) + len(part.frame("departments")) > 0
        results.append((name, check(part, compile_pack(pack, name), as_of, lang), held))
        if "departments" not in part.present:
            departments[name] = departments_named(part.frame("projects"))
    named = {str(j) for t in ("projects", "departments") for j in dataset.frame(t)["jurisdiction"].dropna()}
    staged: dict[str, tuple[str, int]] = {}
    if staging is not None:
        for k, (name, result, held) in enumerate(results):
            table = result.table
            absent = (table["rule_id"] == ABSENT).to_numpy(dtype=bool)
            if (~absent).any():
                staged[name] = (write_part(table[~absent], staging, partition, name), int((~absent).sum()))
            results[k] = (name, dataclasses.replace(result, found=table[absent], _table=None, _findings=None), held)
    # cpu: the worker process's CPU seconds for the task, every thread (Arrow's pool too): above the task's
    # wall time, the task used more than one core.
    return PartitionResult(partition, results, named, {"load": t1 - t0, "check": time.perf_counter() - t1,
                                                       "cpu": time.process_time() - cpu0}, staged=staged,
                           departments=departments)
