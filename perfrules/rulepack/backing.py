"""What backs a rule in force under a profile: a clause of the profile's own document, or the national baseline.

The policy catalogue (Round 2) asks that every rule in force in a jurisdiction profile be backed by a clause
of that profile's document or of the national baseline; a rule whose only source is another jurisdiction's
document is off there. Two data files of the pack say what that means:

- ``sources/clauses.yaml`` names, for each source document, the profile it stands behind (``profile``) and the
  ``document:`` strings rules cite it by (``cited_in_rules``);
- ``sources/requirements.yaml`` marks the catalogue requirements that are *not* part of the national baseline
  (``baseline: false``: those a single jurisdiction's document asks for, such as E03 for 南昌高新区).

A rule is backed in profile X by its sources from the documents of X's chain (X and the profiles it extends),
or citing X's ``document:`` exactly as the profile file writes it (how a new profile names its own document);
failing that, by the baseline: a source from a national document, or one of its requirements is a baseline
requirement (its sources are then the clauses the baseline requirement was written from).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perfrules.errors import Problem, RulePackError
from perfrules.rulepack.model import Rule, RulePack, Source
from perfrules.rulepack.profile import DEFAULT_PROFILE, Profile, load_profile

CLAUSES_FILE = Path("sources") / "clauses.yaml"
REQUIREMENTS_FILE = Path("sources") / "requirements.yaml"
KIND_TEXT = {"document": ("本配置依据文件", "the profile's document"), "baseline": ("全国基线", "the national baseline"),
             "none": ("无依据", "nothing")}


@dataclass(frozen=True)
class Backing:
    """Why a rule may be in force under a profile: ``document``, ``baseline`` or ``none``, and the clauses."""

    rule_id: str
    requirement: tuple[str, ...]
    kind: str
    sources: tuple[Source, ...]

    def to_dict(self) -> dict[str, Any]:
        """The backing as JSON-ready data."""
        return {"rule": self.rule_id, "requirement": list(self.requirement), "kind": self.kind,
                "sources": [{"document": s.document, "clause": s.clause, "text": s.text} for s in self.sources]}


@dataclass(frozen=True)
class SourceMap:
    """Which profile each cited document stands behind, and which requirements are not in the baseline."""

    document_profile: dict[str, str]
    local_requirements: frozenset[str]
    clause_texts: dict[str, tuple[str, ...]]  # the verbatim clause texts of each document, by the name rules cite it by


def source_map(pack: RulePack) -> SourceMap:
    """Read ``sources/clauses.yaml`` and ``sources/requirements.yaml`` of the pack (absent files: empty)."""
    root = Path(pack.directory)
    docs = _read(root / CLAUSES_FILE).get("documents") or {}
    document_profile = {name: str(d["profile"]) for d in docs.values() if isinstance(d, dict) and d.get("profile")
                        for name in d.get("cited_in_rules") or []}
    reqs = _read(root / REQUIREMENTS_FILE).get("requirements") or []
    local = frozenset(r["id"] for r in reqs if isinstance(r, dict) and r.get("baseline") is False)
    texts: dict[str, list[str]] = {}
    for clause in (_read(root / CLAUSES_FILE).get("clauses") or {}).values():
        if isinstance(clause, dict) and clause.get("text"):
            texts.setdefault(str(clause.get("document")), []).append(str(clause["text"]))
    clause_texts = {name: tuple(texts.get(str(key), ())) for key, d in docs.items() if isinstance(d, dict)
                    for name in d.get("cited_in_rules") or []}
    return SourceMap(document_profile, local, clause_texts)


def backing(rule: Rule, profile: Profile, sources: SourceMap) -> Backing:
    """What backs ``rule`` under ``profile``."""
    # The national baseline's own documents back a rule as the baseline, except in the national profile itself.
    local = set(profile.chain) - ({DEFAULT_PROFILE} if profile.name != DEFAULT_PROFILE else set())
    own = tuple(s for s in rule.source
                if sources.document_profile.get(s.document) in local or (profile.document and s.document == profile.document))
    if own:
        return Backing(rule.id, rule.requirement, "document", own)
    national = tuple(s for s in rule.source if sources.document_profile.get(s.document) == DEFAULT_PROFILE)
    if national:
        return Backing(rule.id, rule.requirement, "baseline", national)
    if any(r not in sources.local_requirements for r in rule.requirement):
        return Backing(rule.id, rule.requirement, "baseline", rule.source)
    return Backing(rule.id, rule.requirement, "none", ())


def backings(pack: RulePack, profile: Profile) -> list[Backing]:
    """The backing of every rule the profile puts in force, in pack order."""
    sources = source_map(pack)
    return [backing(rule, profile, sources) for rid, rule in pack.rules.items() if rid in profile.enabled]


def unbacked_problems(pack: RulePack, profile_names: list[str]) -> list[Problem]:
    """A lint warning for each rule in force in a profile with neither its document's clause nor the baseline."""
    out = []
    for name in profile_names:
        try:
            profile = load_profile(pack, name)
        except RulePackError:
            continue  # lint has reported why the profile cannot be read
        for b in backings(pack, profile):
            if b.kind == "none":
                cited = "、".join(dict.fromkeys(s.document for s in pack.rules[b.rule_id].source)) or "?"
                out.append(Problem(
                    "lint.unbacked",
                    f"规则 {b.rule_id} 在配置 {name} 中生效，但其出处（{cited}）既不是该配置所依据的文件，其要求"
                    f"（{'、'.join(b.requirement)}）也不属于全国基线。",
                    f"rule {b.rule_id} is in force in profile {name}, but its sources ({cited}) are not that profile's "
                    f"document and its requirement ({', '.join(b.requirement)}) is not part of the national baseline.",
                    pack.rules[b.rule_id].where,
                    f"在 profiles/{name}.yaml 的 disable 中停用它，或为它补上本配置文件的条款出处。",
                    f"Disable it in profiles/{name}.yaml, or cite the clause of that profile's document that asks for it."))
    return out


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}
