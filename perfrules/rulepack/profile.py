"""Jurisdiction profiles: a base, parameter overrides, and rules switched on or off.

A profile file ``profiles/NAME.yaml`` may extend another. Resolving walks the chain from the root
(the national baseline) to the named profile; each step's overrides win over its base's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfrules.errors import Problem, RulePackError, Where, did_you_mean
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.pack import check_param_value, read_validated
from perfrules.yaml_source import YamlDocument

DEFAULT_PROFILE = "national"


@dataclass(frozen=True)
class Profile:
    """A resolved profile: parameter values (and which file set each), and the rules in force."""

    name: str
    title: str
    chain: tuple[str, ...]
    params: dict[str, Any]
    param_origin: dict[str, str]
    enabled: frozenset[str]
    document: str = ""


def profiles_dir(pack: RulePack) -> Path:
    """Where a pack's profiles live."""
    return Path(pack.directory) / "profiles"


def available_profiles(pack: RulePack) -> list[str]:
    """Names of the profiles shipped with a pack."""
    d = profiles_dir(pack)
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def load_profile(pack: RulePack, name: str | None = None) -> Profile:
    """Resolve profile ``name`` (default: the national baseline) against ``pack``."""
    name = name or DEFAULT_PROFILE
    chain_docs: list[YamlDocument] = []
    problems: list[Problem] = []
    seen: list[str] = []
    current: str | None = name
    referrer: Where | None = None
    while current is not None:
        path = profiles_dir(pack) / f"{current}.yaml"
        if current in seen:
            cycle = " → ".join([*seen, current])
            problems.append(Problem("profile.cycle", f"配置继承成环：{cycle}。", f"profiles extend each other in a cycle: {cycle}.",
                                    referrer or Where(file=str(path))))
            break
        if not path.is_file():
            hz, he = did_you_mean(current, available_profiles(pack))
            problems.append(Problem("profile.unknown", f"未知配置 {current!r}。", f"unknown profile {current!r}.",
                                    referrer or Where(field="profile"), hz or f"可用：{', '.join(available_profiles(pack))}。",
                                    he or f"Available: {', '.join(available_profiles(pack))}."))
            break
        doc = read_validated(path, "profile.schema.json", problems)
        if doc is None:
            break
        seen.append(current)
        chain_docs.append(doc)
        current = doc.data.get("extends")
        referrer = doc.where(("extends",), field="extends")
    if problems:
        raise RulePackError(problems)
    return _resolve(pack, name, list(reversed(chain_docs)))


def _resolve(pack: RulePack, name: str, chain: list[YamlDocument]) -> Profile:
    problems: list[Problem] = []
    params = {n: p.default for n, p in pack.params.items()}
    origin = {n: str(p.where.file) for n, p in pack.params.items()}
    enabled = {rid for rid, r in pack.rules.items() if r.enabled}
    for doc in chain:
        data = doc.data
        for key, value in (data.get("params") or {}).items():
            where = doc.key_where(("params", key), field=key)
            spec = pack.params.get(key)
            if spec is None:
                hz, he = did_you_mean(key, pack.params)
                problems.append(Problem("profile.unknown-param", f"覆盖了不存在的参数 {key!r}。",
                                        f"overrides parameter {key!r}, which no rule pack declares.", where, hz, he))
                continue
            bad = check_param_value(spec.type, value)
            if bad:
                problems.append(Problem("profile.param-type", f"参数 {key!r} 的值{bad[0]}", f"value of parameter {key!r} {bad[1]}", where))
                continue
            params[key], origin[key] = value, doc.file
        for verb in ("enable", "disable"):
            for i, rid in enumerate(data.get(verb) or []):
                if rid not in pack.rules:
                    hz, he = did_you_mean(rid, pack.rules)
                    problems.append(Problem("profile.unknown-rule", f"{verb} 中的规则 {rid!r} 不存在。",
                                            f"{verb} names rule {rid!r}, which does not exist.", doc.where((verb, i), rule_id=rid), hz, he))
                elif verb == "enable":
                    enabled.add(rid)
                else:
                    enabled.discard(rid)
    if problems:
        raise RulePackError(problems)
    last = chain[-1].data
    return Profile(name, last.get("title", name), tuple(d.data["profile"] for d in chain), params, origin,
                   frozenset(enabled), last.get("document", ""))
