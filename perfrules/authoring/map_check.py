"""``map-check``: what a column map finds in an export, what it misses, and which rules that leaves unable to run.

For each contract table: the fields the export gives (with the source column the map names for them),
the fields it lacks, and the rules in force (under the chosen profile, on the as-of date) whose inputs
include a lacking field or table; those rules would report PF-D03-ABSENT instead of deciding.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfrules.evaluation.check import absent_inputs
from perfrules.inputs.column_map import ColumnMap
from perfrules.inputs.dataset import SOURCE, Dataset
from perfrules.inputs.export import load_export
from perfrules.inputs.jurisdiction import split_by_jurisdiction
from perfrules.language.fields import RELATED_TABLES, TABLES
from perfrules.rulepack.compile import compile_pack
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.profile import available_profiles


@dataclass
class TableReport:
    """One contract table as the export gives it."""

    table: str
    files: list[str]
    found: dict[str, str]  # field → the source column it was read from (the field's own name when the map names none)
    missing: list[str]
    blocked: dict[str, list[str]] = field(default_factory=dict)  # rule id → the missing fields or tables it needs

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
                            "rules_blocked": t.blocked} for t in self.tables],
                "unreadable_cells": self.unreadable, "notes": self.notes}


def check_map(export: str | Path, column_map: ColumnMap, pack: RulePack, profile: str | None = None,
              as_of: dt.date | None = None, lang: str = "zh") -> MapCheck:
    """Load ``export`` through ``column_map`` and report, per table, found and missing fields and the rules they block.

    The rules are those in force under ``profile``, else under each profile the records' jurisdictions name (as ``check``).
    """
    folder = Path(export)
    dataset = load_export(folder, str(folder), column_map)
    when = as_of or dataset.as_of or dt.date.today()
    profiles = [profile] if profile else sorted(split_by_jurisdiction(dataset, available_profiles(pack)))
    absent_tables = {t for t in RELATED_TABLES if t not in dataset.present}
    reports = [_table_report(dataset, name, column_map) for name in TABLES]
    by_name = {r.table: r for r in reports}
    for name in profiles:
        compiled = compile_pack(pack, name)
        for cr in compiled.rules:
            if not cr.rule.in_force(when):
                continue
            lacking = absent_inputs(cr, compiled, dataset.absent_columns.get(cr.rule.table, set()), absent_tables)
            for label in lacking.values():
                table, _, column = label.partition(".")
                lacks = by_name[table].blocked.setdefault(cr.rule.id, [])
                if (column or table) not in lacks:  # several aggregates of one absent table, or several profiles
                    lacks.append(column or table)
    notes = [n.zh if lang != "en" else n.en for n in dataset.notes if n.code.startswith(("map.", "input.unknown-file", "input.duplicate"))]
    return MapCheck(str(folder), column_map.name, ", ".join(profiles), when, reports, len(dataset.issues), notes)


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
