"""Render a check result as a table, JSON or CSV, and write files whole or not at all."""

from __future__ import annotations

import json

from perfrules.atomic import write_atomic
from perfrules.evaluation.check import CheckResult
from perfrules.findings.model import format_value
from perfrules.outputs.csv_jsonl import csv_bytes
from perfrules.outputs.evidence import shown_evidence
from perfrules.rulepack.model import SEVERITY_EN

__all__ = ["render_result", "to_csv", "to_json", "to_table", "write_atomic"]  # write_atomic lives in perfrules.atomic

def to_json(result: CheckResult) -> str:
    """``{"summary": …, "findings": […], "errors": […]}``, and ``"not_checked": […]`` when rules in force were not
    applicable to the input (each ``{"rule", "reason", "message", "source"}``)."""
    doc: dict[str, object] = {"summary": result.summary(), "findings": [f.to_dict() for f in result.findings], "errors": result.errors}
    if result.not_checked:
        doc["not_checked"] = result.not_checked
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def to_csv(result: CheckResult, lang: str = "zh") -> str:
    """One row per finding, with a header row in the chosen language (``outputs.csv_jsonl.csv_bytes``)."""
    return csv_bytes(result.table, lang).decode("utf-8")


def to_table(result: CheckResult, lang: str = "zh", labels: dict[str, str] | None = None) -> str:
    """A report a person reads in a terminal: a summary line, then each finding with its advice and source.

    Evidence is named by ``labels`` (``findings.model.evidence_labels``: the data contract's column headers
    and the pack's titles) when given, else by the engine's field names."""
    zh = lang != "en"
    s = result.summary()
    sev = s["by_severity"]
    lines = []
    if zh:
        lines.append(f"检查日期 {s['as_of']}  配置 {s['profile']}  规则包 {s['pack_version']}  "
                     f"项目 {s['records']['projects']} 个  部门 {s['records']['departments']} 个  规则 {s['rules_in_force']} 条")
        lines.append(f"发现 {s['total']} 项：阻断 {sev['阻断']}，警告 {sev['警告']}，提示 {sev['提示']}")
    else:
        lines.append(f"as of {s['as_of']}  profile {s['profile']}  pack {s['pack_version']}  "
                     f"{s['records']['projects']} project(s)  {s['records']['departments']} department(s)  {s['rules_in_force']} rule(s)")
        lines.append(f"{s['total']} finding(s): block {sev['阻断']}, warn {sev['警告']}, info {sev['提示']}")
    for message, rules in not_checked_lines(result).items():
        lines.append(f"{message}（{len(rules)} 条规则）：{'、'.join(rules)}" if zh else f"{message} ({len(rules)} rule(s)): {', '.join(rules)}")
    for f in result.findings:
        who = f.project_id or f.department or "—"
        label = f.severity if zh else SEVERITY_EN[f.severity]
        lines.append("")
        lines.append(f"[{label}] {f.rule_id} {who} {f.fiscal_year or ''}  {f.title}".rstrip())
        lines.append(f"    {'问题' if zh else 'finding'}: {f.message}")
        lines.append(f"    {'建议' if zh else 'action'}: {f.recommendation}")
        src = "；".join(f"{x['document']} {x['clause']}" for x in f.source)
        lines.append(f"    {'依据' if zh else 'source'}: {src}")
        if f.evidence and f.kind == "rule":
            ev = (shown_evidence(f.evidence, labels, lang) if labels else
                  ", ".join(f"{k}={format_value(k, v, lang)}" for k, v in f.evidence.items()))
            lines.append(f"    {'证据' if zh else 'evidence'}: {ev}")
        if f.location.get("file"):
            lines.append(f"    {'位置' if zh else 'where'}: {_place(f.location, zh)}")
    for e in result.errors:
        source = f"  （{e['source']}）" if zh else f"  ({e['source']})"
        lines.append(f"! {e['message']}" + (source if e.get("source") else ""))
    return "\n".join(lines) + "\n"


def not_checked_lines(result: CheckResult) -> dict[str, list[str]]:
    """The rules not checked, by why (the message: "未检查：输入不含部门整体数据")."""
    out: dict[str, list[str]] = {}
    for e in result.not_checked:
        rules = out.setdefault(e["message"], [])
        if e["rule"] not in rules:
            rules.append(e["rule"])
    return out


def _place(location: dict[str, str], zh: bool) -> str:
    """项目.csv 第 7 行（申请金额(万元)列） / 项目.csv row 7, column 申请金额(万元)."""
    text, row, column = location["file"], location.get("row"), location.get("column")
    if row:
        text += f" 第 {row} 行" if zh and row.isdigit() else (f" {row}" if zh else f" row {row}")
    if column:
        text += f"（{column} 列）" if zh else f", column {column}"
    return text


def render_result(result: CheckResult, fmt: str, lang: str) -> str:
    """The result in ``fmt`` (table, json or csv)."""
    if fmt == "json":
        return to_json(result)
    if fmt == "csv":
        return to_csv(result, lang)
    return to_table(result, lang)
