"""The impact of a rule change: evaluate two rule packs on the same data and compare their findings.

Findings are matched by the findings table's key (``findings.schema.finding_keys``: rule, what a data
finding is about, project or department, fiscal year) — as the nightly state matches them — and reported as added, removed, or changed (same key,
different severity or evidence), with counts per rule and per department.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from perfrules.api import check_datasets
from perfrules.findings.model import Finding
from perfrules.inputs import Dataset
from perfrules.rulepack.model import RulePack


@dataclass
class Change:
    """One finding that differs between the two packs."""

    kind: str  # added | removed | changed
    base: Finding | None
    head: Finding | None

    @property
    def finding(self) -> Finding:
        """The finding as it stands after the change (or before it, when removed)."""
        return self.head or self.base  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the finding, and for a change what differs."""
        f = self.finding
        out: dict[str, Any] = {"change": self.kind, "rule_id": f.rule_id, "project_id": f.project_id,
                               "fiscal_year": f.fiscal_year, "department": f.department}
        if self.kind == "changed" and self.base and self.head:
            if self.base.severity != self.head.severity:
                out["severity"] = {"base": self.base.severity, "head": self.head.severity}
            before, after = self.base.evidence, self.head.evidence
            out["evidence"] = {k: {"base": before.get(k), "head": after.get(k)}
                               for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}
        else:
            out["severity"] = f.severity
            out["message"] = f.message
        return out


@dataclass
class Impact:
    """All differences, with counts per rule and per department."""

    changes: list[Change]
    base_total: int
    head_total: int
    base_version: str
    head_version: str
    as_of: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        """Counts of added/removed/changed, overall, per rule and per department."""
        by_kind = Counter(c.kind for c in self.changes)
        per_rule: dict[str, Counter[str]] = {}
        per_dept: dict[str, Counter[str]] = {}
        for c in self.changes:
            per_rule.setdefault(c.finding.rule_id, Counter())[c.kind] += 1
            per_dept.setdefault(c.finding.department or "—", Counter())[c.kind] += 1
        as_dict = lambda d: {k: {kind: v.get(kind, 0) for kind in ("added", "removed", "changed")} for k, v in sorted(d.items())}
        return {"added": by_kind.get("added", 0), "removed": by_kind.get("removed", 0), "changed": by_kind.get("changed", 0),
                "base_total": self.base_total, "head_total": self.head_total,
                "by_rule": as_dict(per_rule), "by_department": as_dict(per_dept)}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"base_version": self.base_version, "head_version": self.head_version, "as_of": self.as_of,
                "summary": self.counts(), "changes": [c.to_dict() for c in self.changes]}


def compare(datasets: list[Dataset], base: RulePack, head: RulePack, profile: str | None = None,
            as_of: dt.date | None = None, lang: str = "zh") -> Impact:
    """Evaluate both packs on ``datasets`` and report the differences."""
    before = check_datasets(datasets, base, profile, as_of, lang)
    after = check_datasets(datasets, head, profile, as_of, lang)
    old = dict(zip(before.table["key"], before.findings))
    new = dict(zip(after.table["key"], after.findings))
    changes = [Change("added", None, new[k]) for k in new if k not in old]
    changes += [Change("removed", old[k], None) for k in old if k not in new]
    changes += [Change("changed", old[k], new[k]) for k in new if k in old
                and (old[k].severity != new[k].severity or old[k].evidence != new[k].evidence)]
    order = {"added": 0, "removed": 1, "changed": 2}
    changes.sort(key=lambda c: (order[c.kind], c.finding.rule_id, c.finding.department or "", c.finding.project_id or ""))
    return Impact(changes, len(before.findings), len(after.findings), base.version, head.version,
                  [d.isoformat() for d in after.as_of_dates])


def render_text(impact: Impact, lang: str = "zh") -> str:
    """A report an officer reads before committing a change."""
    zh = lang != "en"
    c = impact.counts()
    lines = [(f"规则包 {impact.base_version} → {impact.head_version}；发现 {c['base_total']} → {c['head_total']}："
              f"新增 {c['added']}，消失 {c['removed']}，变化 {c['changed']}") if zh else
             (f"pack {impact.base_version} → {impact.head_version}; findings {c['base_total']} → {c['head_total']}: "
              f"{c['added']} added, {c['removed']} removed, {c['changed']} changed")]
    for title, table in ((("按规则", "by rule"), c["by_rule"]), (("按部门", "by department"), c["by_department"])):
        if table:
            lines.append("")
            lines.append(title[0] if zh else title[1])
            for key, n in table.items():
                lines.append(f"    {key}: +{n['added']} -{n['removed']} ~{n['changed']}")
    mark = {"added": "+", "removed": "-", "changed": "~"}
    if impact.changes:
        lines.append("")
    for ch in impact.changes:
        f = ch.finding
        who = f.project_id or f.department or "—"
        detail = ""
        if ch.kind == "changed":
            d = ch.to_dict()
            parts = [f"{'严重程度' if zh else 'severity'} {d['severity']['base']}→{d['severity']['head']}"] if "severity" in d else []
            parts += [f"{k} {v['base']}→{v['head']}" for k, v in d.get("evidence", {}).items()]
            detail = "  " + "; ".join(parts)
        else:
            detail = f"  [{f.severity}] {f.message}"
        lines.append(f"{mark[ch.kind]} {f.rule_id} {who} {f.fiscal_year or ''}{detail}")
    return "\n".join(lines) + "\n"
