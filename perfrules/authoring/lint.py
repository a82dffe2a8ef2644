"""Everything that can be wrong with a rules directory, found all at once.

``lint`` gathers the loader's problems (YAML syntax, schema, unknown fields, functions and
parameters, type errors, duplicate ids, template names) from every rule file and every profile,
then adds the checks that need the whole pack: a rule no profile enables, a parameter no rule
reads, a requirement id not in the catalogue, a source without its clause text, and the rule test
files. Each problem has file, line, column, rule id, a reason code and, where one helps, a hint.
"""

from __future__ import annotations

import re
from pathlib import Path

import perfrules.language.expr as E
from perfrules.authoring.rule_tests import RuleCase, load_cases
from perfrules.errors import Problem, RulePackError, Where, did_you_mean
from perfrules.rulepack.backing import source_map, unbacked_problems
from perfrules.rulepack.catalogue import load_requirements
from perfrules.rulepack.data_rules import D03_RULES
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.pack import read_pack, unreadable
from perfrules.rulepack.profile import available_profiles, load_profile


def lint(directory: str | Path, profile: str | None = None) -> list[Problem]:
    """All problems of the rules directory (and of one profile, or of every profile when none is named)."""
    pack, problems = read_pack(directory)
    names = [profile] if profile else available_profiles(pack)
    if unreadable(problems):
        # A rule file it cannot read leaves its rules, parameters and facts unknown: every check across files
        # would report them missing (one mis-indented line gave 96 problems). The files it cannot read are the
        # problems, each profile's and test file's own among them.
        for name in names:
            try:
                load_profile(pack, name)
            except RulePackError as exc:
                problems.extend(p for p in exc.problems if unreadable([p]))
        try:
            load_cases(directory)
        except RulePackError as exc:
            problems.extend(p for p in exc.problems if unreadable([p]))
        return _dedupe(problems)
    enabled_somewhere: set[str] = set()
    profiles_read = True
    for name in names:
        try:
            enabled_somewhere |= load_profile(pack, name).enabled
        except RulePackError as exc:
            problems.extend(exc.problems)
            profiles_read = profiles_read and not unreadable(exc.problems)
    if not names:
        problems.append(Problem("lint.no-profile", "规则目录没有 profiles/ 配置。", "the rules directory has no profiles/.",
                                Where(file=str(Path(directory) / "profiles"))))
    if not profile and profiles_read:  # (a profile it cannot read may be the one that enables a rule)
        problems.extend(_never_enabled(pack, enabled_somewhere))
    problems.extend(_unused_params(pack, directory))
    problems.extend(_empty_windows(pack))
    problems.extend(_requirements(pack))
    problems.extend(_sources(pack))
    problems.extend(unbacked_problems(pack, names))
    try:
        failed = {p.where.rule_id for p in problems if p.where.rule_id}  # rules that exist but did not load
        problems.extend(_unknown_case_rules(pack, load_cases(directory), failed))
    except RulePackError as exc:
        problems.extend(exc.problems)
    return _dedupe(problems)


def _unknown_case_rules(pack: RulePack, cases: list[RuleCase], failed: set[str]) -> list[Problem]:
    known = set(pack.rules) | set(D03_RULES) | failed
    out = []
    for case in cases:
        for rid in case.rules:
            if rid not in known:
                hz, he = did_you_mean(rid, known)
                out.append(Problem("tests.unknown-rule", f"测试用例 {case.name!r} 所测的规则 {rid!r} 不存在。",
                                   f"test case {case.name!r} is about rule {rid!r}, which does not exist.", case.where, hz, he))
    return out


def _never_enabled(pack: RulePack, enabled: set[str]) -> list[Problem]:
    return [Problem("lint.never-enabled", f"规则 {rid} 在任何配置中都未启用。", f"rule {rid} is enabled by no profile.",
                    rule.where, "在某个配置的 enable 中加入它，或删除该规则。", "Enable it in a profile's enable list, or retire it.")
            for rid, rule in pack.rules.items() if rid not in enabled]


def _empty_windows(pack: RulePack) -> list[Problem]:
    return [Problem("lint.never-in-force", f"规则 {rid} 的失效日期 {r.effective_to} 不晚于生效日期 {r.effective_from}，永远不会生效。",
                    f"rule {rid} has effective_to {r.effective_to} not after effective_from {r.effective_from}: it never applies.",
                    r.where, "effective_to 是不再适用的第一天，须晚于 effective_from。",
                    "effective_to is the first day the rule no longer applies; it must come after effective_from.")
            for rid, r in pack.rules.items() if r.effective_from and r.effective_to and r.effective_to <= r.effective_from]


def _unused_params(pack: RulePack, directory: str | Path) -> list[Problem]:
    # A rule whose condition could not be read is not in the pack; the parameters its text names
    # are not "read by no rule" (that would be a follow-on problem of the one already reported).
    written = {m for path in Path(directory).glob("*.y*ml") for m in _PARAM_TEXT.findall(_text_or_empty(path))}
    read: set[str] = set(written)
    for rule in pack.rules.values():
        for tree in (rule.when, rule.escalate_when):
            if tree is not None:
                read.update(E.params_read(tree))
    for d in pack.derived.values():
        read.update(E.params_read(d.expr))
    return [Problem("lint.unused-param", f"参数 {name!r} 没有任何规则读取。", f"parameter {name!r} is read by no rule.",
                    p.where, "删除它，或在规则条件中以 params.名称 引用。", "Remove it, or read it as params.NAME in a condition.")
            for name, p in pack.params.items() if name not in read]


_PARAM_TEXT = re.compile(r"params\.([a-z][a-z0-9_]*)")


def _text_or_empty(path: Path) -> str:
    """A rule file's text; one that cannot be read is reported by ``read_pack``, and has no text here."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _requirements(pack: RulePack) -> list[Problem]:
    known = [r.id for r in load_requirements(pack)]
    if not known:
        return []
    out = []
    for rule in pack.rules.values():
        for req in rule.requirement:
            if req not in known:
                hz, he = did_you_mean(req, known)
                out.append(Problem("lint.unknown-requirement", f"要求编号 {req!r} 不在政策目录中。",
                                   f"requirement id {req!r} is not in the policy catalogue.", rule.where, hz, he))
    return out


def _sources(pack: RulePack) -> list[Problem]:
    """Each rule's sources quote their clause, and word for word as ``sources/clauses.yaml`` holds the document's
    clauses (whitespace aside; a quote may be part of a clause), when it holds that document."""
    clause_texts = source_map(pack).clause_texts
    out = []
    for rule in pack.rules.values():
        for s in rule.source:
            if not s.text and not s.note:
                out.append(Problem("lint.source-text", f"出处 {s.document} {s.clause} 没有引用条款原文。",
                                   f"source {s.document} {s.clause} quotes no clause text.", rule.where,
                                   "从 rules/sources/clauses.yaml 逐字引用原文；原文不可得时写 note 说明。",
                                   "Quote the clause verbatim (rules/sources/clauses.yaml); if it is not available, say why in a note."))
            elif s.text and clause_texts.get(s.document) and not any(_squeezed(s.text) in _squeezed(t) for t in clause_texts[s.document]):
                out.append(Problem("lint.source-mismatch", f"出处 {s.document} {s.clause} 引用的原文与 sources/clauses.yaml 中该文件的条款原文不一致。",
                                   f"source {s.document} {s.clause} quotes a text that is not in that document's clauses in sources/clauses.yaml.",
                                   rule.where, "从 sources/clauses.yaml 逐字复制原文（可只引用其中一句）。",
                                   "Copy the text word for word from sources/clauses.yaml (a sentence of a clause will do)."))
    return out


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        key = (p.code, str(p.where), p.en)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return sorted(out, key=lambda p: (p.where.file or "", p.where.line or 0, p.where.column or 0, p.code))
