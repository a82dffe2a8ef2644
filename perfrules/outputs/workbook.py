"""The morning workbook (.xlsx), written with XlsxWriter in constant-memory mode, ready to print.

Sheets: 概览 (the run's figures with native charts by severity, rule and department), 阻断 / 警告 /
提示 (one row per finding, with amount, paid and evidence in the data contract's column names),
重点关注台账, 部门统计, 已解决, 规则执行情况 (every rule in force: its findings, 未触发, or why it
could not run) and 数据问题 (the input notes and the engine's data findings).

Every table sheet has a title line (row 1) saying what it holds and, when the sheet stops at
``max_rows``, that the full list is in findings.csv; then a header row that is frozen, filtered and
repeated on every printed page. Pages are A4 landscape, fitted to the width; long texts wrap.
Dates are date cells, amounts and counts number cells, and every text a string cell marked as text
(Excel's quote prefix), so no value from the data can become a formula (``perfrules.outputs.cells``).

The detail sheets are capped (``DETAIL_ROWS``) because a province's run has hundreds of thousands of
findings that nobody reads in a spreadsheet, and XlsxWriter spends a few microseconds per cell: the
CSV and JSON Lines files hold every row. The labels, the watchlist grouping and the department and
rule counts are also used by the HTML page and the notices.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from perfrules.evaluation.check import NOT_CHECKED
from perfrules.language.fields import TABLES
from perfrules.outputs.evidence import shown_evidence
from perfrules.rulepack.model import SEVERITIES, SEVERITY_EN, Rule

DETAIL_ROWS = 5_000  # rows of a detail sheet; every finding is in findings.csv / findings.jsonl
EXCEL_ROWS = 1_048_576
EXCEL_CELL_CHARS = 32_767
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0: shown as U+FFFD
MAX_WIDTH = 60
MIN_WIDTH = 6
SEVERITY_COLORS = dict(zip(SEVERITIES, ("#C62828", "#EF6C00", "#1565C0")))

EN = {
    "概览": "Overview", "重点关注台账": "Watchlist", "部门统计": "Departments", "已解决": "Resolved",
    "规则执行情况": "Rules run", "数据问题": "Data problems",
    "项目": "Item", "值": "Value", "检查日期": "As of", "配置": "Profile", "规则包版本": "Rule pack version",
    "规则数": "Rules in force", "数据来源": "Export", "运行开始": "Run started", "运行结束": "Run finished",
    "发现总数": "Findings", "重点关注项目": "Watchlist projects",
    "数据问题发现": "Data findings", "新增": "new", "持续": "persisting",
    "规则编号": "Rule", "规则": "Title", "严重程度": "Severity", "数量": "Count", "主管部门": "Department",
    "项目编码": "Project code", "项目名称": "Project name", "预算年度": "Fiscal year", "问题": "Finding",
    "处理建议": "Recommendation", "依据": "Source", "状态": "Status", "持续次数": "Nights", "文件": "File",
    "行": "Row", "列": "Column", "申请金额(元)": "Requested (yuan)", "已支付(元)": "Paid (yuan)", "触发规则": "Rules",
    "合计": "Total", "首次发现": "First seen", "证据": "Evidence", "执行情况": "Outcome", "说明": "Note",
    "未触发": "no finding", "未执行": "not run", "有发现": "findings", "部分记录未判定": "some records undecided", "未检查": "not checked", "类别": "Kind",
    "输入说明": "input note", "数据发现": "data finding", "代码": "Code", "来源": "Input",
    "按严重程度": "By severity", "按规则（前 10 条）": "By rule (top 10)", "按主管部门（前 10 个）": "By department (top 10)",
    "发现数": "Findings", "输入": "Input", "检查日期说明": "As-of dates",
}


def text(zh: str, lang: str) -> str:
    """A label in the run language: the Chinese text itself, or its English form."""
    return zh if lang != "en" else EN.get(zh, SEVERITY_EN.get(zh, zh))


def status_text(status: Any, lang: str) -> str:
    """新增/持续 (new/persisting) for a finding's status; blank when the run had no previous state."""
    return {"new": text("新增", lang), "persisting": text("持续", lang)}.get(status, "") if isinstance(status, str) else ""


# Column kinds: how a column's cells are written.
TEXT, WRAP, YEAR, COUNT, MONEY, DATE = "text", "wrap", "year", "count", "money", "date"


@dataclass(frozen=True)
class Col:
    """One column of a table sheet: its header, where its values come from, its kind and its width."""

    header: str
    name: str
    kind: str = TEXT
    width: float | None = None  # fixed width (wrapped text); None: fitted to the content


# The columns of a severity sheet (the sheet's name is the severity).
FINDING_COLUMNS = (
    Col("规则编号", "rule_id", TEXT), Col("规则", "title", WRAP, 14), Col("主管部门", "department", WRAP, 10),
    Col("项目编码", "project_id", TEXT), Col("项目名称", "project_name", WRAP, 14), Col("预算年度", "fiscal_year", YEAR),
    Col("申请金额(元)", "amount", MONEY), Col("已支付(元)", "paid", MONEY), Col("问题", "message", WRAP, 30),
    Col("处理建议", "recommendation", WRAP, 24), Col("依据", "source", WRAP, 14), Col("证据", "evidence_text", WRAP, 24),
    Col("状态", "status_text", TEXT), Col("持续次数", "nights", COUNT), Col("文件", "file", WRAP, 10), Col("行", "row_number", COUNT),
)
WATCHLIST_COLUMNS = (
    Col("主管部门", "department", WRAP, 14), Col("项目编码", "project_id", TEXT), Col("项目名称", "project_name", WRAP, 24),
    Col("预算年度", "fiscal_year", YEAR), Col("申请金额(元)", "amount", MONEY), Col("已支付(元)", "paid", MONEY),
    Col("触发规则", "rules", WRAP, 24), Col("处理建议", "recommendations", WRAP, 40), Col("持续次数", "nights", COUNT),
)
RESOLVED_COLUMNS = (
    Col("严重程度", "severity_text", TEXT), Col("规则编号", "rule_id", TEXT), Col("规则", "title", WRAP, 24),
    Col("主管部门", "department", WRAP, 14), Col("项目编码", "project_id", TEXT), Col("预算年度", "fiscal_year", YEAR),
    Col("持续次数", "nights", COUNT), Col("首次发现", "first_seen", DATE),
)
RULE_COLUMNS = (
    Col("规则编号", "id", TEXT), Col("规则", "title", WRAP, 36), Col("严重程度", "severity_text", TEXT),
    Col("发现数", "count", COUNT), Col("执行情况", "outcome", TEXT), Col("说明", "note", WRAP, 50),
)
PROBLEM_COLUMNS = (
    Col("类别", "kind", TEXT), Col("代码", "code", TEXT), Col("主管部门", "department", WRAP, 12),
    Col("项目编码", "project_id", TEXT), Col("预算年度", "fiscal_year", YEAR), Col("问题", "message", WRAP, 50),
    Col("来源", "source", WRAP, 24), Col("行", "row_number", COUNT), Col("列", "column", WRAP, 14),
)


@dataclass
class WatchedProject:
    """One row of the 重点关注台账: a project in a fiscal year and the watchlist rules it triggered."""

    department: str | None
    project_id: str | None
    project_name: str | None
    fiscal_year: int | None
    amount: float | None
    paid: float | None
    rules: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    nights: int | None = None


def watchlist(findings: pd.DataFrame) -> list[WatchedProject]:
    """The watchlist findings grouped by project and fiscal year, sorted by department and project.

    Rule ids and recommendations keep the order of the findings (most severe first), each once.
    """
    flagged = findings.loc[findings["watchlist"].fillna(False).astype(bool),
                           ["department", "project_id", "project_name", "fiscal_year", "amount", "paid",
                            "rule_id", "recommendation", "nights"]]
    projects: dict[tuple[Any, Any], WatchedProject] = {}
    for f in pa.Table.from_pandas(flagged, preserve_index=False).to_pylist():
        key = (f["project_id"], f["fiscal_year"])
        project = projects.get(key)
        if project is None:
            project = projects[key] = WatchedProject(f["department"], f["project_id"], f["project_name"],
                                                     f["fiscal_year"], None, None)
        project.department = project.department or f["department"]
        project.project_name = project.project_name or f["project_name"]
        project.amount = _finite(f["amount"]) if project.amount is None else project.amount
        project.paid = _finite(f["paid"]) if project.paid is None else project.paid
        if f["rule_id"] not in project.rules:
            project.rules.append(f["rule_id"])
        if f["recommendation"] and f["recommendation"] not in project.recommendations:
            project.recommendations.append(f["recommendation"])
        if f["nights"] is not None:
            project.nights = max(project.nights or 0, f["nights"])
    return sorted(projects.values(), key=lambda p: (p.department or "", p.project_id or "", p.fiscal_year or 0))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def table_name(table: str, lang: str) -> str:
    """项目 (projects) for an input table."""
    return TABLES[table].zh if table in TABLES and lang != "en" else table


def input_label(table: str, lang: str) -> str:
    """项目表行数 (rows in projects) for an input table."""
    return f"rows in {table}" if lang == "en" else f"{table_name(table, lang)}表行数"


def department_counts(summary: dict[str, Any]) -> list[tuple[str, int, int, int, int]]:
    """(department, 阻断, 警告, 提示, total), most 阻断 first, then largest total."""
    rows = []
    for name, counts in summary["counts"]["by_department"].items():
        by_severity = [int(counts.get(s, 0)) for s in SEVERITIES]
        rows.append((name, *by_severity, int(counts.get("total", sum(by_severity)))))
    return sorted(rows, key=lambda r: (-r[1], -r[4], r[0]))


def rule_counts(summary: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """(rule id, title, severity, count), largest count first."""
    rows = [(rule_id, r.get("title", ""), r.get("severity", ""), int(r.get("count", 0)))
            for rule_id, r in summary["counts"]["by_rule"].items()]
    return sorted(rows, key=lambda r: (-r[3], r[0]))


def row_number(value: Any) -> int | None:
    """A finding's row as a number ("7" → 7); None when it is not one (a submission's JSON path)."""
    if value is None or value is pd.NA:
        return None
    text_value = str(value)
    return int(text_value) if text_value.isdigit() else None


def iso_date(value: Any) -> dt.date | None:
    """A date from ISO text ("2022-10-31", "2022-10-31T02:00:00"); None for anything else."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def iso_datetime(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def rule_outcomes(rules: Sequence[Rule], findings: pd.DataFrame, labels: dict[str, str] | None = None,
                  not_checked: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """For 规则执行情况: each rule in force with its number of findings and its outcome — 有发现, 未触发,
    未执行 (the input lacks a table or column it needs), 部分记录未判定 (records lacking a value it needs) or
    未检查 (not applicable to the input: ``not_checked``, rule → reason of ``evaluation.check.NOT_CHECKED``)."""
    labels = labels or {}
    rule_rows = findings[findings["kind"].astype("string").fillna("") == "rule"]
    counts = rule_rows["rule_id"].astype("string").value_counts()
    data = findings[findings["rule_id"].astype("string").isin(["PF-D03-ABSENT", "PF-D03-MISSING"])]
    absent: dict[str, tuple[list[str], int]] = {}
    missing: dict[str, int] = {}
    for r in _records(data, ["rule_id", "about", "evidence"]):
        about = r["about"]
        if r["rule_id"] == "PF-D03-ABSENT":
            evidence = json.loads(r["evidence"] or "{}")
            names, n = absent.get(about, ([], 0))
            absent[about] = (names + [labels.get(a, a) for a in evidence.get("absent", []) if labels.get(a, a) not in names],
                             n + int(evidence.get("records") or 0))
        else:
            missing[about] = missing.get(about, 0) + 1
    out = []
    for rule in rules:
        n = int(counts.get(rule.id, 0))
        notes_zh, notes_en = [], []
        if rule.id in absent:
            names, records = absent[rule.id]
            notes_zh.append(f"输入缺少{'、'.join(names)}，{records:,} 条记录未判定")
            notes_en.append(f"the input lacks {', '.join(names)}; {records:,} record(s) undecided")
        if rule.id in missing:
            notes_zh.append(f"{missing[rule.id]:,} 条记录缺少所需数据，未判定")
            notes_en.append(f"{missing[rule.id]:,} record(s) lack a value it needs, undecided")
        if rule.id in (not_checked or {}):
            zh, en = NOT_CHECKED[(not_checked or {})[rule.id]]
            notes_zh.append(zh)
            notes_en.append(en)
        if n:
            outcome = "有发现"
        elif rule.id in (not_checked or {}):
            outcome = "未检查"
        elif rule.id in absent:
            outcome = "未执行"
        elif rule.id in missing:
            outcome = "部分记录未判定"
        else:
            outcome = "未触发"
        out.append({"id": rule.id, "title": rule.title, "severity": rule.severity, "count": n, "outcome": outcome,
                    "note": "；".join(notes_zh), "note_en": "; ".join(notes_en)})
    return out


# The workbook -------------------------------------------------------------------------------------------------

def write_xlsx(path: str | Path, findings: pd.DataFrame, summary: dict[str, Any],
               resolved: pd.DataFrame | None = None, lang: str = "zh", max_rows: int = DETAIL_ROWS,
               labels: dict[str, str] | None = None, csv_name: str = "findings.csv") -> None:
    """Write the workbook to ``path`` (see the module docstring); detail sheets stop at ``max_rows`` rows.

    ``labels`` names the evidence keys (``findings.model.evidence_labels``); summary["rules"], when
    present, fills 规则执行情况.
    """
    if not 1 <= max_rows <= EXCEL_ROWS - 2:
        raise ValueError(f"max_rows must be between 1 and {EXCEL_ROWS - 2:,}")
    book = _Book(Path(path), lang, max_rows, csv_name)
    try:
        book.overview(summary)
        for severity in SEVERITIES:
            selected = findings[findings["severity"].astype("string").fillna("") == severity]
            book.table(text(severity, lang), FINDING_COLUMNS, _finding_rows(selected, labels or {}, lang, max_rows),
                       len(selected))
        projects = watchlist(findings)
        book.table(text("重点关注台账", lang), WATCHLIST_COLUMNS, (_watch_row(p) for p in projects[:max_rows]), len(projects))
        book.departments(department_counts(summary))
        if resolved is not None:
            book.table(text("已解决", lang), RESOLVED_COLUMNS, _resolved_rows(resolved, lang, max_rows), len(resolved))
        rules = summary.get("rules")
        if rules is not None:
            book.table(text("规则执行情况", lang), RULE_COLUMNS, _rule_rows(rules, lang), len(rules))
        problems = _problem_rows(findings, summary, lang)
        book.table(text("数据问题", lang), PROBLEM_COLUMNS, iter(problems[:max_rows]), len(problems))
    finally:
        book.close()


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    present = [c for c in columns if c in frame.columns]
    records = pa.Table.from_pandas(frame.loc[:, present], preserve_index=False).to_pylist()
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        for r in records:
            r.update(dict.fromkeys(missing))
    return records


def _finding_rows(findings: pd.DataFrame, labels: dict[str, str], lang: str, max_rows: int) -> list[dict[str, Any]]:
    records = _records(findings.head(max_rows), ["rule_id", "title", "department", "project_id", "project_name", "fiscal_year",
                                                 "amount", "paid", "message", "recommendation", "source", "evidence",
                                                 "status", "nights", "file", "row", "column"])
    shown: dict[str, str] = {}  # evidence texts repeat (a rule's parameters): each distinct one rendered once
    for r in records:
        evidence = r["evidence"] or "{}"
        if evidence not in shown:
            shown[evidence] = shown_evidence(json.loads(evidence), labels, lang)
        r["evidence_text"] = shown[evidence]
        r["status_text"] = status_text(r["status"], lang)
        r["row_number"] = row_number(r["row"])
        if r["row_number"] is None and r["row"]:
            r["file"] = f"{r['file'] or ''} {r['row']}".strip()  # a submission's record path stays visible
        if r["column"]:
            r["file"] = f"{r['file'] or ''}（{r['column']}）" if lang != "en" else f"{r['file'] or ''} ({r['column']})"
    return records


def _watch_row(p: WatchedProject) -> dict[str, Any]:
    return {**vars(p), "rules": "、".join(p.rules), "recommendations": "；".join(p.recommendations)}


def _resolved_rows(resolved: pd.DataFrame, lang: str, max_rows: int) -> list[dict[str, Any]]:
    records = _records(resolved.head(max_rows), ["severity", "rule_id", "title", "department", "project_id", "fiscal_year",
                                                 "nights", "first_seen"])
    for r in records:
        r["severity_text"] = text(r["severity"], lang) if r["severity"] else ""
        r["first_seen"] = iso_date(r["first_seen"]) if r["first_seen"] else None
    return records


def _rule_rows(rules: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    return [{**r, "severity_text": text(r.get("severity", ""), lang), "outcome": text(r.get("outcome", ""), lang),
             "note": r.get("note_en" if lang == "en" else "note", "")} for r in rules]


def _problem_rows(findings: pd.DataFrame, summary: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The input notes of the run, then its data findings."""
    rows = [{"kind": text("输入说明", lang), "code": e.get("code"), "message": e.get("message"), "source": e.get("source")}
            for e in summary.get("errors") or []]
    data = findings[findings["kind"].astype("string").fillna("") == "data"]
    for r in _records(data, ["rule_id", "department", "project_id", "fiscal_year", "message", "file", "row", "column"]):
        rows.append({"kind": text("数据发现", lang), "code": r["rule_id"], "department": r["department"],
                     "project_id": r["project_id"], "fiscal_year": r["fiscal_year"], "message": r["message"],
                     "source": r["file"], "row_number": row_number(r["row"]), "column": r["column"]})
    return rows


class _Book:
    """The workbook being written, with its formats and the print setup shared by every sheet."""

    def __init__(self, path: Path, lang: str, max_rows: int, csv_name: str) -> None:
        self.lang, self.max_rows, self.csv_name = lang, max_rows, csv_name
        self.wb = xlsxwriter.Workbook(str(path), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
            "default_date_format": "yyyy-mm-dd"})
        font = {"font_name": "Noto Sans CJK SC" if lang != "en" else "Calibri", "font_size": 10, "valign": "top"}
        f = self.wb.add_format
        self.formats: dict[str, Format] = {
            TEXT: f({**font, "quote_prefix": True}), WRAP: f({**font, "quote_prefix": True, "text_wrap": True}),
            YEAR: f({**font, "num_format": "0"}), COUNT: f({**font, "num_format": "#,##0"}),
            MONEY: f({**font, "num_format": "#,##0.00"}), DATE: f({**font, "num_format": "yyyy-mm-dd"}),
            "datetime": f({**font, "num_format": "yyyy-mm-dd hh:mm:ss", "align": "left"}),
            "date_left": f({**font, "num_format": "yyyy-mm-dd", "align": "left"}),
            "number_left": f({**font, "num_format": "#,##0", "align": "left"}),
            "header": f({**font, "bold": True, "text_wrap": True, "bg_color": "#E8EDF2", "border": 1, "valign": "vcenter"}),
            "title": f({**font, "bold": True, "font_size": 12}),
            "note": f({**font, "bold": True, "font_color": "#B71C1C"}),
            "bold": f({**font, "bold": True}), "bold_count": f({**font, "bold": True, "num_format": "#,##0"}),
        }

    def close(self) -> None:
        self.wb.close()

    def _sheet(self, name: str) -> Worksheet:
        ws = self.wb.add_worksheet(name[:31])
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        ws.fit_to_pages(1, 0)  # as wide as one page, as many pages long as it takes
        ws.set_footer(f"&L{name}&R{'第 &P 页，共 &N 页' if self.lang != 'en' else 'page &P of &N'}")
        ws.hide_gridlines(0)  # gridlines on paper too
        return ws

    def write_text(self, ws: Worksheet, row: int, col: int, value: Any, fmt: Format | None = None) -> None:
        """A text cell, always a string (never a formula, whatever it starts with)."""
        if value is None or value is pd.NA or value == "":
            return
        ws.write_string(row, col, _CONTROL.sub("\ufffd", str(value))[:EXCEL_CELL_CHARS], fmt or self.formats[TEXT])

    def _cell(self, ws: Worksheet, row: int, col: int, kind: str, value: Any) -> None:
        if value is None or value is pd.NA:
            return
        if kind in (TEXT, WRAP):
            self.write_text(ws, row, col, value, self.formats[kind])
        elif kind == DATE:
            when = iso_date(value)
            if when is not None:
                ws.write_datetime(row, col, dt.datetime(when.year, when.month, when.day), self.formats[DATE])
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            ws.write_number(row, col, value, self.formats[kind])

    def table(self, name: str, columns: Sequence[Col], rows: Any, total: int) -> None:
        """A table sheet: a title line, a header row (frozen, filtered, printed on every page), the rows."""
        ws = self._sheet(name)
        rows = list(rows)
        zh = self.lang != "en"
        title = f"{name}：共 {total:,} 条" if zh else f"{name}: {total:,} rows"
        self.write_text(ws, 0, 0, title, self.formats["title"])
        if total > len(rows):
            note = (f"本表只列出前 {len(rows):,} 条（共 {total:,} 条）；全部见同一运行目录中的 {self.csv_name}。" if zh else
                    f"This sheet lists the first {len(rows):,} of {total:,} rows; all are in {self.csv_name} in the same run folder.")
            self.write_text(ws, 0, 3, note, self.formats["note"])
        headers = [text(c.header, self.lang) for c in columns]
        widths = [c.width or _fitted_width(h, [rec.get(c.name) for rec in rows[:2000]], c.kind) for c, h in zip(columns, headers)]
        for c, width in enumerate(widths):
            ws.set_column(c, c, width)
        ws.set_row(1, row_height([(h, w) for h, w in zip(headers, widths)]))
        for i, header in enumerate(headers):
            self.write_text(ws, 1, i, header, self.formats["header"])
        wrapped = [(c, column.name, widths[c]) for c, column in enumerate(columns) if column.kind == WRAP]
        for r, record in enumerate(rows, 2):
            # Row heights are set here: neither Excel nor Calc grows a row for wrapped text written this way.
            ws.set_row(r, row_height([(record.get(name), width) for _, name, width in wrapped]))
            for c, column in enumerate(columns):
                self._cell(ws, r, c, column.kind, record.get(column.name))
        last = max(len(rows) + 1, 2)
        ws.freeze_panes(2, 0)
        ws.autofilter(1, 0, last, len(columns) - 1)
        ws.repeat_rows(0, 1)
        ws.print_area(0, 0, last, len(columns) - 1)

    def departments(self, departments: list[tuple[str, int, int, int, int]]) -> None:
        """部门统计: counts by department and severity, with a total row outside the filter."""
        name = text("部门统计", self.lang)
        ws = self._sheet(name)
        self.write_text(ws, 0, 0, f"{name}：{len(departments):,} 个部门" if self.lang != "en" else f"{name}: {len(departments):,}",
                        self.formats["title"])
        headers = [text(h, self.lang) for h in ("主管部门", *SEVERITIES, "合计")]
        ws.set_column(0, 0, _fitted_width(headers[0], [d[0] for d in departments], TEXT))
        ws.set_column(1, 4, 10)
        for i, header in enumerate(headers):
            self.write_text(ws, 1, i, header, self.formats["header"])
        for r, row in enumerate(departments, 2):
            self.write_text(ws, r, 0, row[0], self.formats[WRAP])
            for c, n in enumerate(row[1:], 1):
                ws.write_number(r, c, n, self.formats[COUNT])
        total_at = len(departments) + 2
        self.write_text(ws, total_at, 0, text("合计", self.lang), self.formats["bold"])
        for c in range(1, 5):
            ws.write_number(total_at, c, sum(int(row[c]) for row in departments), self.formats["bold_count"])
        ws.freeze_panes(2, 0)
        ws.autofilter(1, 0, max(total_at - 1, 2), 4)  # the total row stays at the bottom when sorting
        ws.repeat_rows(0, 1)

    def overview(self, summary: dict[str, Any]) -> None:
        """概览: the run's facts and figures, the counts the charts draw, and the charts."""
        lang, fm = self.lang, self.formats
        run, counts, changes = summary["run"], summary["counts"], summary.get("changes")
        ws = self._sheet(text("概览", lang))
        ws.fit_to_pages(1, 1)
        as_of_dates = [d for d in (iso_date(p.strip()) for p in str(run.get("as_of") or "").split(",")) if d]
        facts: list[tuple[str, Any, str]] = [
            (text("检查日期", lang), as_of_dates[0] if len(as_of_dates) == 1 else run.get("as_of"),
             "date_left" if len(as_of_dates) == 1 else TEXT),
            (text("配置", lang), run.get("profile"), TEXT), (text("规则包版本", lang), run.get("pack_version"), TEXT),
            (text("规则数", lang), run.get("rules_in_force"), "number_left"), (text("数据来源", lang), run.get("export"), TEXT),
            (text("运行开始", lang), iso_datetime(run.get("started")), "datetime"),
            (text("运行结束", lang), iso_datetime(run.get("finished")), "datetime"),
        ]
        facts += [(input_label(t, lang), rows, "number_left") for t, rows in (summary.get("inputs") or {}).items()]
        facts.append((text("发现总数", lang), counts["total"], "number_left"))
        facts += [(text(s, lang), counts["by_severity"].get(s, 0), "number_left") for s in SEVERITIES]
        facts.append((text("重点关注项目", lang), counts.get("watchlist_projects"), "number_left"))
        facts.append((text("数据问题发现", lang), counts.get("data_findings"), "number_left"))
        if changes is not None:
            facts += [(text(k, lang).capitalize(), changes.get(v), "number_left")
                      for k, v in (("新增", "new"), ("已解决", "resolved"), ("持续", "persisting"))]
        ws.set_column(0, 0, 34)  # before any cell: constant-memory mode writes the columns with the first row
        ws.set_column(1, 1, 22)
        ws.set_column(2, 3, 10)
        self.write_text(ws, 0, 0, text("项目", lang), fm["header"])
        self.write_text(ws, 0, 1, text("值", lang), fm["header"])
        row = 1
        for label, value, kind in facts:
            self.write_text(ws, row, 0, label, fm["bold"])
            if isinstance(value, dt.datetime):
                ws.write_datetime(row, 1, value, fm[kind])
            elif isinstance(value, dt.date):
                ws.write_datetime(row, 1, dt.datetime(value.year, value.month, value.day), fm[kind])
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(row, 1, value, fm[kind])
            else:
                self.write_text(ws, row, 1, value)
            row += 1
        sheet = _quoted(text("概览", lang))

        def table_block(title: str, header: list[str], rows: list[list[Any]]) -> tuple[int, int]:
            """A small table under the facts; the rows (first, last) it occupies."""
            nonlocal row
            row += 1
            self.write_text(ws, row, 0, title, fm["title"])
            row += 1
            for c, h in enumerate(header):
                self.write_text(ws, row, c, h, fm["header"])
            first = row + 1
            for values in rows:
                row += 1
                for c, v in enumerate(values):
                    if isinstance(v, (int, float)):
                        ws.write_number(row, c, v, fm[COUNT])
                    else:
                        self.write_text(ws, row, c, v, fm[WRAP] if c == 0 else fm[TEXT])
            row += 1
            return first, first + len(rows) - 1

        severity_rows = [[text(s, lang), int(counts["by_severity"].get(s, 0))] for s in SEVERITIES]
        sev_first, sev_last = table_block(text("按严重程度", lang), [text("严重程度", lang), text("数量", lang)], severity_rows)
        top_rules = rule_counts(summary)[:10]
        rule_first, rule_last = table_block(text("按规则（前 10 条）", lang), [text("规则", lang), text("数量", lang)],
                                            [[f"{rid} {title}", n] for rid, title, _, n in top_rules])
        top_departments = sorted(department_counts(summary), key=lambda d: (-d[4], -d[1], d[0]))[:10]
        dept_first, dept_last = table_block(text("按主管部门（前 10 个）", lang),
                                            [text("主管部门", lang), *(text(s, lang) for s in SEVERITIES)],
                                            [[d[0], d[1], d[2], d[3]] for d in top_departments])
        ws.freeze_panes(1, 0)

        charts: list[tuple[str, Any]] = []
        severity_chart = self.wb.add_chart({"type": "column"})
        severity_chart.add_series({
            "name": text("按严重程度", lang), "categories": f"={sheet}!$A${sev_first + 1}:$A${sev_last + 1}",
            "values": f"={sheet}!$B${sev_first + 1}:$B${sev_last + 1}", "data_labels": {"value": True},
            "points": [{"fill": {"color": SEVERITY_COLORS[s]}} for s in SEVERITIES]})
        charts.append((text("按严重程度", lang), severity_chart))
        if top_rules:
            rule_chart = self.wb.add_chart({"type": "bar"})
            rule_chart.add_series({
                "name": text("按规则（前 10 条）", lang), "categories": f"={sheet}!$A${rule_first + 1}:$A${rule_last + 1}",
                "values": f"={sheet}!$B${rule_first + 1}:$B${rule_last + 1}", "data_labels": {"value": True},
                "fill": {"color": "#37474F"}})
            rule_chart.set_y_axis({"reverse": True})
            charts.append((text("按规则（前 10 条）", lang), rule_chart))
        if top_departments:
            dept_chart = self.wb.add_chart({"type": "bar", "subtype": "stacked"})
            for c, s in enumerate(SEVERITIES, 1):
                letter = chr(ord("A") + c)
                dept_chart.add_series({
                    "name": text(s, lang), "categories": f"={sheet}!$A${dept_first + 1}:$A${dept_last + 1}",
                    "values": f"={sheet}!${letter}${dept_first + 1}:${letter}${dept_last + 1}",
                    "fill": {"color": SEVERITY_COLORS[s]}})
            dept_chart.set_y_axis({"reverse": True})
            charts.append((text("按主管部门（前 10 个）", lang), dept_chart))
        for i, (title, chart) in enumerate(charts):
            chart.set_title({"name": title, "name_font": {"size": 11}})
            chart.set_legend({"position": "bottom"} if len(chart.series) > 1 else {"none": True})
            chart.set_size({"width": 600, "height": 300})
            ws.insert_chart(i * 16, 5, chart)  # to the right of the figures, one under another


LINE_HEIGHT = 13.5  # points per line of 10-point text


def row_height(cells: Sequence[tuple[Any, float]]) -> float:
    """The height of a row whose texts wrap in columns of the given widths: the most lines any of them takes."""
    lines = 1
    for value, width in cells:
        if value is not None and value is not pd.NA and value != "":
            lines = max(lines, math.ceil(_display_width(value, TEXT) / max(width - 1.5, 1)))
    return LINE_HEIGHT * min(lines, 30) + 2


def _fitted_width(header: str, values: Sequence[Any], kind: str) -> float:
    """A column's width in Excel character units from its header and values (CJK characters count double)."""
    content = max((_display_width(v, kind) for v in values), default=0.0)
    return min(max(_display_width(header, TEXT) * 0.8, content, MIN_WIDTH) + 2, MAX_WIDTH)


def _display_width(value: Any, kind: str) -> float:
    if value is None or value is pd.NA:
        return 0
    if kind == MONEY and isinstance(value, (int, float)):
        value = f"{value:,.2f}"
    elif kind == COUNT and isinstance(value, (int, float)):
        value = f"{value:,.0f}"
    elif kind == DATE:
        return 10
    value = str(value)
    return (len(value.encode()) + len(value)) / 2


def _quoted(sheet_name: str) -> str:
    return "'" + sheet_name.replace("'", "''") + "'"
