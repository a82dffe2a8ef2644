"""What a pack holds, for people: the rules in force under a profile, and coverage of the policy catalogue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfrules.errors import RulePackError
from perfrules.rulepack.backing import KIND_TEXT, backings
from perfrules.rulepack.compile import CompiledPack
from perfrules.rulepack.data_rules import D03_RULES, D03_SOURCE
from perfrules.rulepack.model import RulePack
from perfrules.yaml_source import YamlUnreadable, load_yaml

REQUIREMENTS_FILE = Path("sources") / "requirements.yaml"


@dataclass(frozen=True)
class Requirement:
    """A requirement of the policy catalogue."""

    id: str
    title: str
    group: str


def load_requirements(pack: RulePack) -> list[Requirement]:
    """The catalogue's requirements, as shipped with the pack (``sources/requirements.yaml``)."""
    path = Path(pack.directory) / REQUIREMENTS_FILE
    if not path.is_file():
        return []
    try:
        data = load_yaml(path).data or {}  # (duplicate keys, like every YAML the tool reads, are refused)
    except YamlUnreadable as exc:
        raise RulePackError([exc.problem]) from None
    return [Requirement(r["id"], r["title"], r.get("group", "")) for r in data.get("requirements", [])]


def rule_listing(compiled: CompiledPack, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """Every rule of the pack with its state under the compiled profile and its parameters as resolved."""
    enabled = {cr.rule.id: cr for cr in compiled.rules}
    rows = []
    for rule in compiled.pack.rules.values():
        cr = enabled.get(rule.id)
        state = "in_force" if cr else "disabled"
        if cr and as_of and not rule.in_force(as_of):
            state = "not_yet" if rule.effective_from and as_of < rule.effective_from else "expired"
        params = cr.params if cr else ()
        rows.append({
            "id": rule.id, "title": rule.title, "title_en": rule.title_en, "requirement": list(rule.requirement),
            "severity": rule.severity, "escalate": rule.escalate_severity, "stage": rule.stage, "record": rule.record,
            "state": state, "when": rule.when_text,
            "params": {p: {"value": compiled.params[p], "set_in": Path(compiled.profile.param_origin[p]).name} for p in params},
            "source": [{"document": s.document, "clause": s.clause} for s in rule.source],
        })
    rows.extend({
        "id": rid, "title": zh, "title_en": en, "requirement": ["D03"], "severity": "警告", "escalate": None,
        "stage": "data", "record": "project", "state": "built_in", "when": "(engine)", "params": {}, "source": D03_SOURCE,
    } for rid, (zh, en) in D03_RULES.items())
    return rows


BACKING_TEXT = KIND_TEXT  # how `rules --coverage` names what backs a rule: zh, en

STATE_TEXT = {
    "in_force": ("生效", "in force"), "disabled": ("本配置停用", "disabled by the profile"),
    "not_yet": ("尚未生效", "not yet in force"), "expired": ("已失效", "no longer in force"), "built_in": ("引擎内置", "built in"),
}


def coverage(pack: RulePack) -> list[dict[str, Any]]:
    """Each catalogue requirement with the rules that implement it (the engine's own for D03)."""
    by_req: dict[str, list[str]] = {}
    for rule in pack.rules.values():
        for req in rule.requirement:
            by_req.setdefault(req, []).append(rule.id)
    by_req.setdefault("D03", []).extend(D03_RULES)
    return [{"id": r.id, "title": r.title, "group": r.group, "rules": by_req.get(r.id, [])} for r in load_requirements(pack)]


def profile_backing(compiled: CompiledPack) -> list[dict[str, Any]]:
    """For each rule in force under the compiled profile, the clause that backs it there (see ``backing``)."""
    return [b.to_dict() for b in backings(compiled.pack, compiled.profile)]
