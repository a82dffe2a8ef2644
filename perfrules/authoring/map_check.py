"""``map-check``: what a column map finds in an export, what it misses, and which rules that leaves unable to run.

For each contract table: the fields the export gives (with the source column the map names for them),
the fields it lacks, and the rules in force (under the chosen profile, on the as-of date) that cannot run for
lack of them. "Cannot run" is the evaluator's own verdict, not a second reading of the rules here: the export
is checked as ``check`` checks it, and a rule cannot run exactly when that check reports PF-D03-ABSENT for it
(records it could not decide because the whole input lacks a column or table behind its condition). So a field
the export lacks but a rule does not need on this data is no obstacle: ``paid_to_date`` when ``paid`` is summed
from the payments table, ``budget_approved_on`` when its absence has a meaning of its own (``missing(...)``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfrules.api import check_datasets
from perfrules.evaluation.check import CheckResult
from perfrules.inputs.column_map import ColumnMap
from perfrules.inputs.dataset import SOURCE, Dataset
from perfrules.inputs.export import load_export
from perfrules.language.fields import TABLES
from perfrules.rulepack.model import RulePack

ABSENT = "PF-D03-ABSENT"


@dataclass
class TableReport:
    """One contract table as the export gives it."""

    table: str
    files: list[str]
    found: dict[str, str]  # field → the source column it was read from (the field's own name when the map names none)
    missing: list[str]
    blocked: dict[str, list[str]] = field(default_factory=dict)  # rule id → the missing fields or tables it needs
    undecided: dict[str, int] = field(default_factory=dict)  # rule id → the records it could not decide for lack of them

    @property
    def present(self) -> bool:
        """Whether the export has this table at all."""
        return bool(self.files)


@dataclass
class MapCheck:
    """The whole report."""

    export: str
    map_name: str
    profile: str
    as_of: dt.date
    tables: list[TableReport]
    unreadable: int  # cells the map or the parser could not read (each a PF-D03-UNREADABLE finding in a check)
    notes: list[str]

    def blocked_rules(self) -> dict[str, list[str]]:
        """Every rule that cannot run, with what it lacks."""
        out: dict[str, list[str]] = {}
        for t in self.tables:
            for rule, lacks in t.blocked.items():
                out.setdefault(rule, []).extend(x for x in lacks if x not in out.get(rule, []))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {"export": self.export, "map": self.map_name, "profile": self.profile, "as_of": self.as_of.isoformat(),
                "tables": [{"table": t.table, "present": t.present, "files": t.files, "found": t.found, "missing": t.missing,
                            "rules_blocked": t.blocked, "records_undecided": t.undecided} for t in self.tables],
                "unreadable_cells": self.unreadable, "notes": self.notes}


def check_map(export: str | Path, column_map: ColumnMap, pack: RulePack, profile: str | None = None,
              as_of: dt.date | None = None, lang: str = "zh") -> MapCheck:
    """Load ``export`` through ``column_map`` and report, per table, found and missing fields and the rules they block.

    The export is checked as ``check`` would check it: under ``profile``, else each record under the profile its
    jurisdiction names; the rules blocked are those the check reports PF-D03-ABSENT for.
    """
    folder = Path(export)
    dataset = load_export(folder, str(folder), column_map)
    when = as_of or dataset.as_of or dt.date.today()
    result = check_datasets([dataset], pack, profile, when, lang)
    reports = [_table_report(dataset, name, column_map) for name in TABLES]
    _add_blocked({r.table: r for r in reports}, result)
    notes = [n.zh if lang != "en" else n.en for n in dataset.notes if n.code.startswith(("map.", "input.unknown-file", "input.duplicate"))]
    return MapCheck(str(folder), column_map.name, result.profile, when, reports, len(dataset.issues), notes)


def _add_blocked(by_table: dict[str, TableReport], result: CheckResult) -> None:
    """File each PF-D03-ABSENT finding under the tables of what it says is absent ("table.field" or "table")."""
    for f in result.findings:
        if f.rule_id != ABSENT:
            continue
        rule = str(f.evidence["rule"])
        for label in f.evidence["absent"]:
            table, _, column = str(label).partition(".")
            report = by_table[table]
            lacks = report.blocked.setdefault(rule, [])
            if (column or table) not in lacks:  # the same rule in several jurisdictions' parts
                lacks.append(column or table)
                lacks.sort(key=_contract_order(table))
        for table in {str(label).partition(".")[0] for label in f.evidence["absent"]}:
            by_table[table].undecided[rule] = by_table[table].undecided.get(rule, 0) + int(f.evidence["records"])


def _contract_order(table: str) -> Callable[[str], int]:
    """Sort key: the table itself first, then its fields in the data contract's order."""
    order = {c.name: i for i, c in enumerate(TABLES[table].columns, start=1)} | {table: 0}
    return lambda name: order.get(name, len(order))


def _table_report(dataset: Dataset, name: str, column_map: ColumnMap) -> TableReport:
    table = TABLES[name]
    if name not in dataset.present:
        return TableReport(name, [], {}, [c.name for c in table.columns])
    frame = dataset.frame(name)
    files = sorted({Path(str(s)).name for s in frame[SOURCE].astype(str).unique()}) if len(frame) else []
    absent = dataset.absent_columns.get(name, set())
    specs = column_map.tables[name].columns if name in column_map.tables else {}
    found = {c.name: " / ".join(specs[c.name].columns) if c.name in specs else c.name for c in table.columns if c.name not in absent}
    return TableReport(name, files or ["(0 rows)"], found, [c.name for c in table.columns if c.name in absent])


def render_text(report: MapCheck, lang: str = "zh") -> str:
    """The report as text: a block per table, then the rules that cannot run."""
    zh = lang != "en"
    lines = [f"{'列映射' if zh else 'map'} {report.map_name}  {'导出' if zh else 'export'} {report.export}  "
             f"{'配置' if zh else 'profile'} {report.profile}  {'日期' if zh else 'as of'} {report.as_of.isoformat()}"]
    for t in report.tables:
        lines.append("")
        if not t.present:
            lines.append(f"{t.table}（{TABLES[t.table].zh}）：{'导出中没有此表' if zh else 'not in the export'}")
        else:
            lines.append(f"{t.table}（{TABLES[t.table].zh}）  {', '.join(t.files)}")
            found = ", ".join(f + (f"←{src}" if src != f else "") for f, src in t.found.items())
            lines.append(f"  {'已找到' if zh else 'found'} ({len(t.found)}): {found}")
            lines.append(f"  {'缺少' if zh else 'missing'} ({len(t.missing)}): {', '.join(t.missing) or ('无' if zh else 'none')}")
        for rule, lacks in sorted(t.blocked.items()):
            lines.append(f"  {'无法运行' if zh else 'cannot run'} {rule}: {'缺少' if zh else 'lacks'} {', '.join(lacks)}")
    blocked = report.blocked_rules()
    lines.append("")
    lines.append((f"无法运行的在用规则：{len(blocked)} 条" if zh else f"rules in force that cannot run: {len(blocked)}")
                 + (f"；无法识别的值：{report.unreadable} 个" if zh else f"; unreadable values: {report.unreadable}"))
    lines.extend(f"  {n}" for n in report.notes)
    return "\n".join(lines) + "\n"
