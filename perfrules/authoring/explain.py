"""Why a rule did or did not fire on a record: every sub-expression with the value it took.

``explain`` evaluates the rule's compiled condition on the record with the same fact layer and the
same evaluator as ``check``, node by node, so what it shows is what ``check`` decided.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import perfrules.language.expr as E
from perfrules.errors import Problem, UsageError, Where, did_you_mean
from perfrules.evaluation.facts import build_facts
from perfrules.evaluation.vectorised import Context, evaluate
from perfrules.findings.model import format_value, json_value
from perfrules.inputs.dataset import Dataset, with_prior_from_evaluations
from perfrules.rulepack.compile import CompiledPack


@dataclass
class Step:
    """One sub-expression and its value on the record."""

    depth: int
    text: str
    value: Any
    kind: str  # bool | value


@dataclass
class Explanation:
    """The explanation of one rule on one record."""

    rule_id: str
    title: str
    title_en: str
    record: str
    as_of: dt.date
    profile_chain: tuple[str, ...]
    when_text: str
    state: str  # in_force | disabled | not_yet | expired
    verdict: str  # fires | quiet | unknown | not_applied
    severity: str | None
    steps: list[Step] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    effective: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "rule_id": self.rule_id, "title": self.title, "title_en": self.title_en, "record": self.record, "as_of": self.as_of.isoformat(),
            "profile": list(self.profile_chain), "when": self.when_text, "state": self.state, "verdict": self.verdict,
            "severity": self.severity, "params": {k: {**v, "value": json_value(v["value"])} for k, v in self.params.items()},
            "effective": self.effective,
            "steps": [{"depth": s.depth, "expression": s.text, "value": _json_step(s.value)} for s in self.steps],
        }


def explain(dataset: Dataset, compiled: CompiledPack, rule_id: str, as_of: dt.date, record: str | None = None) -> list[Explanation]:
    """Explain ``rule_id`` on every record of ``dataset`` (or only the one whose id is ``record``)."""
    rule = compiled.pack.rule(rule_id)
    if rule is None:
        hz, he = did_you_mean(rule_id, compiled.pack.rules)
        raise UsageError([Problem("usage.unknown-rule", f"规则 {rule_id!r} 不存在。", f"no rule {rule_id!r}.", Where(rule_id=rule_id), hz, he)])
    cr = compiled.rule(rule_id)
    state = "disabled" if cr is None else ("in_force" if rule.in_force(as_of) else
                                           "not_yet" if rule.effective_from and as_of < rule.effective_from else "expired")
    facts = build_facts(with_prior_from_evaluations(dataset, compiled.params), compiled, as_of)
    frame = facts.frames[rule.table]
    key = "project_id" if rule.table == "projects" else "department"
    if record is not None:
        frame = frame[frame[key].astype(object) == record]
        if frame.empty:
            raise UsageError([Problem("usage.unknown-record", f"输入中没有记录 {record!r}。", f"the input has no record {record!r}.",
                                      Where(field=key))])
    params_read = cr.params if cr else tuple(E.params_read(rule.when))
    params = {p: {"value": compiled.params[p], "set_in": Path(compiled.profile.param_origin[p]).name} for p in params_read}
    effective = {"from": rule.effective_from.isoformat() if rule.effective_from else None,
                 "to": rule.effective_to.isoformat() if rule.effective_to else None}
    out = []
    for i in range(len(frame)):
        row = frame.iloc[[i]]
        ctx = Context(row, compiled.params, as_of)
        steps: list[Step] = []
        verdict, severity = "not_applied", None
        if cr is not None:
            _walk(cr.condition, ctx, 0, steps)
            outcome = steps[0].value
            verdict = "unknown" if outcome is None else ("fires" if outcome else "quiet")
            if state != "in_force":
                verdict = "not_applied"
            elif verdict == "fires":
                severity = rule.severity
                if cr.escalate is not None:
                    esc: list[Step] = []
                    _walk(cr.escalate, ctx, 1, esc)
                    steps.append(Step(0, str(rule.escalate_severity), esc[0].value, "escalate"))
                    steps.extend(esc)
                    if esc[0].value is True:
                        severity = rule.escalate_severity
        out.append(Explanation(rule.id, rule.title, rule.title_en, f"{row[key].iloc[0]} {row['fiscal_year'].iloc[0]}", as_of,
                               compiled.profile.chain, rule.when_text, state, verdict, severity, steps, params, effective))
    return out


def _walk(node: E.Node, ctx: Context, depth: int, steps: list[Step]) -> None:
    value = evaluate(node, ctx)
    scalar = _scalar(value)
    steps.append(Step(depth, E.to_text(node), scalar, "bool" if isinstance(scalar, bool) or _is_bool_node(node) else "value"))
    if isinstance(node, (E.Literal, E.Ref, E.Param, E.ListLit)):
        return
    for child in node.children():
        if not isinstance(child, (E.Literal, E.ListLit)):
            _walk(child, ctx, depth + 1, steps)


def _is_bool_node(node: E.Node) -> bool:
    return isinstance(node, (E.Compare, E.BoolOp, E.Not, E.IsMissing))


def _scalar(value: Any) -> Any:
    if isinstance(value, pd.Series):
        value = value.iloc[0]
    if value is None or value is pd.NA or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    return value


def _json_step(value: Any) -> Any:
    return json_value(value)


VERDICT_TEXT = {
    "fires": ("触发", "fires"), "quiet": ("未触发", "does not fire"),
    "unknown": ("无法判断（所需数据缺失，报告为 D03 数据问题）", "cannot be decided (data missing; reported as a D03 data finding)"),
    "not_applied": ("未适用", "not applied"),
}
STATE_TEXT = {
    "in_force": ("生效", "in force"), "disabled": ("本配置未启用该规则", "disabled by this profile"),
    "not_yet": ("尚未生效", "not yet in force"), "expired": ("已失效", "no longer in force"),
}


def _window_text(e: Explanation, zh: bool) -> str:
    start, stop = e.effective["from"], e.effective["to"]
    if zh:
        parts = ([f"自 {start} 起生效"] if start else []) + ([f"自 {stop} 起不再适用"] if stop else [])
        return "（" + "，".join(parts) + "）"
    parts = ([f"applies from {start}"] if start else []) + ([f"no longer applies from {stop}"] if stop else [])
    return " (" + "; ".join(parts) + ")"


def render_text(e: Explanation, lang: str = "zh") -> str:
    """A person-readable explanation."""
    zh = lang != "en"
    i = 0 if zh else 1
    lines = [f"{'规则' if zh else 'rule'} {e.rule_id}  {e.title if zh else e.title_en}", f"{'记录' if zh else 'record'} {e.record}   "
             f"{'检查日期' if zh else 'as of'} {e.as_of.isoformat()}   {'配置' if zh else 'profile'} {' → '.join(e.profile_chain)}",
             f"{'状态' if zh else 'state'}: {STATE_TEXT[e.state][i]}"
             + (_window_text(e, zh) if e.state in ("not_yet", "expired") else ""),
             f"{'条件' if zh else 'condition'}:"]
    lines += ["    " + line for line in e.when_text.splitlines()]
    if e.params:
        lines.append(f"{'参数' if zh else 'parameters'}:")
        lines += [f"    params.{k} = {format_value(k, v['value'], lang)}   ({'来自' if zh else 'set in'} {v['set_in']})" for k, v in e.params.items()]
    if e.steps:
        lines.append(f"{'逐步求值' if zh else 'evaluation'}:")
        for s in e.steps:
            if s.kind == "escalate":
                yes = (("是" if s.value else "否") if zh else ("yes" if s.value else "no"))
                lines.append(f"    {'升级为 ' + s.text + ' 的条件' if zh else 'escalate to ' + s.text + ' when'}  →  {yes}")
                continue
            shown = ("未知" if zh else "unknown") if s.value is None and s.kind == "bool" else format_value(s.text, s.value, lang)
            lines.append(f"    {'  ' * s.depth}{s.text}  →  {shown}")
    verdict = VERDICT_TEXT[e.verdict][i] + (f"（{e.severity}）" if zh and e.severity else f" ({e.severity})" if e.severity else "")
    lines.append(f"{'结论' if zh else 'verdict'}: {verdict}")
    return "\n".join(lines) + "\n"
