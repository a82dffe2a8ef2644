"""The morning workbook (.xlsx): an overview, the findings by severity, the 重点关注台账 and counts by department.

The workbook is written directly as SpreadsheetML (a zip of XML parts) instead of through xlsxwriter or
openpyxl. Those make several Python calls per cell, and a nightly run can have 500,000 findings of 14
columns each: xlsxwriter in constant-memory mode took 126 s for that on the development machine, this
module 8 s. Here the cells of a column are built as XML by Arrow compute functions, a chunk of rows at a
time, and streamed into the zip. Text goes into the shared-string table once per column and chunk, so a
title, source or piece of advice repeated on 50,000 rows is stored once.

The labels, the watchlist grouping and the department and rule counts are also used by the HTML report.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from xml.sax.saxutils import escape as xml_escape

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfrules.language.fields import TABLES
from perfrules.rulepack.model import SEVERITIES, SEVERITY_EN

SHEET_ROWS = 1_048_575  # data rows a sheet holds below its header row; more continue on "警告 (2)"
CHUNK_ROWS = 50_000  # rows built and compressed at a time
MAX_WIDTH = 60
MIN_WIDTH = 6

# Column kinds and the cell style (index into cellXfs in _STYLES) each is written with.
TEXT, YEAR, COUNT, MONEY = "text", "year", "count", "money"
_NORMAL, _BOLD, _MONEY, _COUNT, _BOLD_COUNT = range(5)
_KIND_STYLE = {TEXT: _NORMAL, YEAR: _NORMAL, COUNT: _COUNT, MONEY: _MONEY}

EN = {
    "概览": "Overview", "重点关注台账": "Watchlist", "部门统计": "Departments", "已解决": "Resolved",
    "项目": "Item", "值": "Value", "检查日期": "As of", "配置": "Profile", "规则包版本": "Rule pack version",
    "规则数": "Rules in force", "数据来源": "Export", "运行开始": "Run started", "运行结束": "Run finished",
    "发现总数": "Findings", "重点关注项目": "Watchlist projects",
    "数据问题发现": "Data findings", "新增": "new", "持续": "persisting",
    "规则编号": "Rule", "规则": "Title", "严重程度": "Severity", "数量": "Count", "主管部门": "Department",
    "项目编码": "Project code", "项目名称": "Project name", "预算年度": "Fiscal year", "问题": "Finding",
    "处理建议": "Recommendation", "依据": "Source", "状态": "Status", "持续次数": "Nights", "文件": "File",
    "行": "Row", "申请金额(元)": "Requested (yuan)", "已支付(元)": "Paid (yuan)", "触发规则": "Rules",
    "合计": "Total", "首次发现": "First seen",
}


def text(zh: str, lang: str) -> str:
    """A label in the run language: the Chinese text itself, or its English form."""
    return zh if lang != "en" else EN.get(zh, SEVERITY_EN.get(zh, zh))


def status_text(status: Any, lang: str) -> str:
    """新增/持续 (new/persisting) for a finding's status; blank when the run had no previous state."""
    return {"new": text("新增", lang), "persisting": text("持续", lang)}.get(status, "") if isinstance(status, str) else ""


# The columns of a severity sheet: header, findings column, kind.
FINDING_COLUMNS = (
    ("严重程度", "severity", TEXT), ("规则编号", "rule_id", TEXT), ("规则", "title", TEXT),
    ("主管部门", "department", TEXT), ("项目编码", "project_id", TEXT), ("项目名称", "project_name", TEXT),
    ("预算年度", "fiscal_year", YEAR), ("问题", "message", TEXT), ("处理建议", "recommendation", TEXT),
    ("依据", "source", TEXT), ("状态", "status", TEXT), ("持续次数", "nights", COUNT), ("文件", "file", TEXT),
    ("行", "row", TEXT),
)
WATCHLIST_COLUMNS = (
    ("主管部门", TEXT), ("项目编码", TEXT), ("项目名称", TEXT), ("预算年度", YEAR), ("申请金额(元)", MONEY),
    ("已支付(元)", MONEY), ("触发规则", TEXT), ("处理建议", TEXT), ("持续次数", COUNT),
)
RESOLVED_COLUMNS = (
    ("严重程度", "severity", TEXT), ("规则编号", "rule_id", TEXT), ("规则", "title", TEXT),
    ("主管部门", "department", TEXT), ("项目编码", "project_id", TEXT), ("预算年度", "fiscal_year", YEAR),
    ("持续次数", "nights", COUNT), ("首次发现", "first_seen", TEXT),
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


def write_xlsx(path: str | Path, findings: pd.DataFrame, summary: dict[str, Any],
               resolved: pd.DataFrame | None = None, lang: str = "zh") -> None:
    """Write the workbook to ``path``: 概览, 阻断, 警告, 提示, 重点关注台账, 部门统计 and, given ``resolved``, 已解决."""
    with _Workbook(Path(path)) as book:
        _overview_sheet(book, summary, lang)
        columns = {name: _arrow(findings[name], kind) for _, name, kind in FINDING_COLUMNS}
        columns["status"] = _relabel(columns["status"], {"new": text("新增", lang), "persisting": text("持续", lang)})
        for severity in SEVERITIES:
            _severity_sheets(book, columns, severity, lang)
        _watchlist_sheet(book, watchlist(findings), lang)
        _department_sheet(book, department_counts(summary), lang)
        if resolved is not None:
            _resolved_sheet(book, resolved, lang)


def _overview_sheet(book: _Workbook, summary: dict[str, Any], lang: str) -> None:
    run, counts, changes = summary["run"], summary["counts"], summary.get("changes")
    facts: list[list[Any]] = [
        [text("检查日期", lang), run.get("as_of")], [text("配置", lang), run.get("profile")],
        [text("规则包版本", lang), run.get("pack_version")], [text("规则数", lang), run.get("rules_in_force")],
        [text("数据来源", lang), run.get("export")], [text("运行开始", lang), run.get("started")],
        [text("运行结束", lang), run.get("finished")],
    ]
    facts += [[input_label(table, lang), rows] for table, rows in summary.get("inputs", {}).items()]
    facts.append([text("发现总数", lang), counts["total"]])
    facts += [[text(s, lang), counts["by_severity"].get(s, 0)] for s in SEVERITIES]
    facts.append([text("重点关注项目", lang), counts.get("watchlist_projects")])
    facts.append([text("数据问题发现", lang), counts.get("data_findings")])
    if changes is not None:
        facts += [[text(k, lang).capitalize(), changes.get(v)] for k, v in (("新增", "new"), ("已解决", "resolved"), ("持续", "persisting"))]

    rule_header = [text(h, lang) for h in ("规则编号", "规则", "严重程度", "数量")]
    rules = [[rule_id, title, text(severity, lang), n] for rule_id, title, severity, n in rule_counts(summary)]
    header = [text("项目", lang), text("值", lang)]
    widths = _widths_of_values([header, *facts, rule_header, *rules], len(rule_header))
    rules_at = len(facts) + 3  # after the facts and one blank row

    def body() -> Iterator[bytes]:
        yield book.value_rows(2, facts, _NORMAL)
        yield book.value_rows(rules_at, [rule_header], _BOLD)
        yield book.value_rows(rules_at + 1, rules, _NORMAL)

    book.add_sheet(text("概览", lang), header, widths, body(), last_row=rules_at + len(rules), autofilter=False)


def _severity_sheets(book: _Workbook, columns: dict[str, pa.Array], severity: str, lang: str) -> None:
    selected = pc.equal(columns["severity"], severity)
    arrays = [columns[name].filter(selected) for _, name, _ in FINDING_COLUMNS]
    arrays[0] = pa.array([text(severity, lang)] * len(arrays[0]), pa.large_string())
    headers = [text(h, lang) for h, _, _ in FINDING_COLUMNS]
    kinds = [kind for _, _, kind in FINDING_COLUMNS]
    n = len(arrays[0])
    for part, start in enumerate(range(0, max(n, 1), SHEET_ROWS), 1):
        name = text(severity, lang) + (f" ({part})" if part > 1 else "")
        book.add_table_sheet(name, headers, [a.slice(start, SHEET_ROWS) for a in arrays], kinds)


def _watchlist_sheet(book: _Workbook, projects: list[WatchedProject], lang: str) -> None:
    arrays = [
        _strings([p.department for p in projects]), _strings([p.project_id for p in projects]),
        _strings([p.project_name for p in projects]), pa.array([p.fiscal_year for p in projects], pa.int64()),
        pa.array([p.amount for p in projects], pa.float64()), pa.array([p.paid for p in projects], pa.float64()),
        _strings(["、".join(p.rules) for p in projects]), _strings(["；".join(p.recommendations) for p in projects]),
        pa.array([p.nights for p in projects], pa.int64()),
    ]
    book.add_table_sheet(text("重点关注台账", lang), [text(h, lang) for h, _ in WATCHLIST_COLUMNS], arrays,
                         [kind for _, kind in WATCHLIST_COLUMNS])


def _department_sheet(book: _Workbook, departments: list[tuple[str, int, int, int, int]], lang: str) -> None:
    header = [text(h, lang) for h in ("主管部门", *SEVERITIES, "合计")]
    total = [text("合计", lang), *(sum(r[i] for r in departments) for i in range(1, 5))]
    rows = [list(r) for r in departments]
    widths = _widths_of_values([header, *rows, total], len(header))
    total_at = len(rows) + 2

    def body() -> Iterator[bytes]:
        yield book.value_rows(2, rows, [_NORMAL] + [_COUNT] * 4)
        yield book.value_rows(total_at, [total], [_BOLD] + [_BOLD_COUNT] * 4)

    # The filter covers the departments only, so sorting them leaves the total row at the bottom.
    book.add_sheet(text("部门统计", lang), header, widths, body(), last_row=total_at, autofilter=True,
                   filter_rows=total_at - 1)


def _resolved_sheet(book: _Workbook, resolved: pd.DataFrame, lang: str) -> None:
    arrays = [_arrow(resolved[name], kind) for _, name, kind in RESOLVED_COLUMNS]
    arrays[0] = _relabel(arrays[0], {s: text(s, lang) for s in SEVERITIES})
    book.add_table_sheet(text("已解决", lang), [text(h, lang) for h, _, _ in RESOLVED_COLUMNS], arrays,
                         [kind for _, _, kind in RESOLVED_COLUMNS])


# Arrow columns ------------------------------------------------------------------------------------------------

def _arrow(series: pd.Series, kind: str) -> pa.Array:
    """A findings column as an Arrow array of the kind's type, NA as null."""
    if kind == TEXT:
        array, arrow_type = pa.array(series.astype("string")), pa.large_string()
    elif kind == MONEY:
        array, arrow_type = pa.array(series.astype("Float64")), pa.float64()
    else:
        array, arrow_type = pa.array(series.astype("Int64")), pa.int64()
    return array.cast(arrow_type)


def _strings(values: list[str | None]) -> pa.Array:
    return pa.array(values, pa.large_string())


def _relabel(array: pa.Array, labels: dict[str, str]) -> pa.Array:
    """Each value replaced by its label; values without one are kept."""
    keys = pa.array(list(labels), pa.large_string())
    mapped = pa.array(list(labels.values()), pa.large_string()).take(pc.index_in(array, value_set=keys))
    return pc.coalesce(mapped, array)


def _display_width(value: Any) -> float:
    """Width in Excel character units: CJK characters (3 bytes in UTF-8) count double."""
    if value is None:
        return 0
    if isinstance(value, float):
        value = f"{value:,.2f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return (len(value.encode()) + len(value)) / 2


def _column_width(header: str, content: float) -> float:
    return min(max(_display_width(header), content, MIN_WIDTH) + 2, MAX_WIDTH)


def _widths_of_values(rows: Sequence[Sequence[Any]], ncols: int) -> list[float]:
    content = [max((_display_width(r[i]) for r in rows if i < len(r)), default=0) for i in range(ncols)]
    return [_column_width("", w) for w in content]


def _widths_of_arrays(headers: Sequence[str], arrays: Sequence[pa.Array], kinds: Sequence[str]) -> list[float]:
    widths = []
    for header, array, kind in zip(headers, arrays, kinds):
        content = 0.0
        if len(array) and array.null_count < len(array):
            if kind == TEXT:  # the same measure as _display_width, over the whole column at once
                content = pc.max(pc.add(pc.binary_length(array), pc.utf8_length(array))).as_py() / 2
            else:
                largest = pc.max(pc.abs(array)).as_py()
                content = _display_width(float(largest) if kind == MONEY else int(largest))
        widths.append(_column_width(header, content))
    return widths


# SpreadsheetML ------------------------------------------------------------------------------------------------

_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS = f'{_MAIN_NS} xmlns:r="{_REL}"'
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
# cellXfs in the order of _NORMAL, _BOLD, _MONEY, _COUNT, _BOLD_COUNT; numFmtId 3 is Excel's built-in "#,##0".
_STYLES = (
    f'{_XML}<styleSheet {_MAIN_NS}>'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="#,##0.00"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="3" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
_INVALID_XML_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"  # not allowed in XML 1.0 (RE2 syntax)
_EXCEL_CELL_CHARS = 32_767


def _column_letter(index: int) -> str:
    """A for 0, Z for 25, AA for 26."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _concatenated(array: pa.Array) -> memoryview:
    """The values of a string array without nulls, one after another, straight from its data buffer."""
    if len(array) == 0:
        return memoryview(b"")
    _, offsets, data = array.buffers()
    offsets = memoryview(offsets).cast("i" if array.type == pa.string() else "q")
    return memoryview(data)[offsets[array.offset]:offsets[array.offset + len(array)]]


@dataclass
class _SheetEntry:
    name: str
    filter_ref: str | None


class _Workbook:
    """An .xlsx being written: sheets are streamed into the zip as they are added, shared strings and the
    workbook parts at the end."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        # The shared-string table, in pieces: each piece is the distinct values of one chunk of one column
        # (deduplicating across chunks would need a Python lookup per distinct value, the slow part).
        self._string_pieces: list[pa.Array] = []
        self._string_count = 0
        self._sheets: list[_SheetEntry] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if exc_type is None:
                self._finish()
        finally:
            self._zip.close()

    def string_ids(self, array: pa.Array) -> pa.Array:
        """The shared-string index of each value (null stays null), its distinct values added to the table."""
        encoded = pc.dictionary_encode(array)
        first = self._string_count
        self._string_pieces.append(encoded.dictionary.cast(pa.large_string()))
        self._string_count += len(encoded.dictionary)
        return pc.add(encoded.indices.cast(pa.int64()), first)

    def value_rows(self, first_row: int, rows: Sequence[Sequence[Any]], styles: int | Sequence[int]) -> bytes:
        """A few rows of Python values (str, int, float or None) as XML, cell by cell."""
        strings = [v for row in rows for v in row if isinstance(v, str) and v]
        ids = iter(range(self._string_count, self._string_count + len(strings)))
        self._string_pieces.append(pa.array(strings, pa.large_string()))
        self._string_count += len(strings)
        parts = []
        for r, values in enumerate(rows, first_row):
            cells = []
            for c, value in enumerate(values):
                style = styles if isinstance(styles, int) else styles[c]
                ref = f'{_column_letter(c)}{r}'
                s = f' s="{style}"' if style else ""
                if isinstance(value, str) and value:
                    cells.append(f'<c r="{ref}"{s} t="s"><v>{next(ids)}</v></c>')
                elif isinstance(value, (int, float)) and not isinstance(value, bool) and pd.notna(value):
                    cells.append(f'<c r="{ref}"{s}><v>{value}</v></c>')
            parts.append(f'<row r="{r}">{"".join(cells)}</row>')
        return "".join(parts).encode()

    def table_rows(self, first_row: int, arrays: Sequence[pa.Array], kinds: Sequence[str]) -> Iterator[bytes]:
        """Rows of Arrow columns as XML, built column-wise a chunk at a time."""
        for start in range(0, len(arrays[0]), CHUNK_ROWS):
            chunk = [a.slice(start, CHUNK_ROWS) for a in arrays]
            row_numbers = pc.cast(pa.array(range(first_row + start, first_row + start + len(chunk[0]))), pa.string())
            cells = [self._cells(_column_letter(c), row_numbers, array, kind) for c, (array, kind) in enumerate(zip(chunk, kinds))]
            rows = pc.binary_join_element_wise('<row r="', row_numbers, '">', *cells, "</row>", "")
            yield bytes(_concatenated(rows))

    def _cells(self, letter: str, row_numbers: pa.Array, array: pa.Array, kind: str) -> pa.Array:
        if kind == TEXT:
            array = pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)
            values, attributes = pc.cast(self.string_ids(array), pa.string()), ' t="s"'
        else:
            if kind == MONEY:
                array = pc.if_else(pc.is_finite(array), array, pa.scalar(None, pa.float64()))
            values, attributes = pc.cast(array, pa.string()), ""
        style = _KIND_STYLE[kind]
        if style:
            attributes = f' s="{style}"' + attributes
        cells = pc.binary_join_element_wise(f'<c r="{letter}', row_numbers, f'"{attributes}><v>', values, "</v></c>", "")
        return pc.fill_null(cells, "")

    def add_table_sheet(self, name: str, headers: Sequence[str], arrays: Sequence[pa.Array], kinds: Sequence[str]) -> None:
        """A sheet of a header row and one row per array element, with a filter over all of it."""
        self.add_sheet(name, headers, _widths_of_arrays(headers, arrays, kinds), self.table_rows(2, arrays, kinds),
                       last_row=len(arrays[0]) + 1, autofilter=True)

    def add_sheet(self, name: str, headers: Sequence[str], widths: Sequence[float], body: Iterable[bytes],
                  last_row: int, autofilter: bool, filter_rows: int | None = None) -> None:
        """Stream one sheet: a bold, frozen header row, then ``body`` (the XML of rows 2…``last_row``)."""
        last_column = _column_letter(len(widths) - 1)
        filter_ref = f"A1:{last_column}{filter_rows or last_row}" if autofilter else None
        selected = ' tabSelected="1"' if not self._sheets else ""
        columns = "".join(f'<col min="{i}" max="{i}" width="{w:.1f}" customWidth="1"/>' for i, w in enumerate(widths, 1))
        head = (f'{_XML}<worksheet {_NS}><dimension ref="A1:{last_column}{last_row}"/>'
                f'<sheetViews><sheetView{selected} workbookViewId="0">'
                '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
                f'<sheetFormatPr defaultRowHeight="15"/><cols>{columns}</cols><sheetData>')
        auto_filter = f'<autoFilter ref="{filter_ref}"/>' if filter_ref else ""
        tail = (f'</sheetData>{auto_filter}'
                '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>')
        self._sheets.append(_SheetEntry(name, filter_ref))
        with self._zip.open(f"xl/worksheets/sheet{len(self._sheets)}.xml", "w") as part:
            part.write(head.encode())
            part.write(self.value_rows(1, [headers], _BOLD))
            for block in body:
                part.write(block)
            part.write(tail.encode())

    def _finish(self) -> None:
        self._zip.writestr("xl/sharedStrings.xml", self._shared_strings())
        self._zip.writestr("xl/styles.xml", _STYLES)
        sheets = "".join(f'<sheet name="{_attribute(s.name)}" sheetId="{i}" r:id="rId{i}"/>'
                         for i, s in enumerate(self._sheets, 1))
        filters = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"{xml_escape(_quoted(s.name))}!{_absolute(s.filter_ref)}</definedName>"
            for i, s in enumerate(self._sheets) if s.filter_ref)
        self._zip.writestr("xl/workbook.xml", f'{_XML}<workbook {_NS}><bookViews><workbookView activeTab="0"/></bookViews>'
                                              f'<sheets>{sheets}</sheets>'
                                              f'{f"<definedNames>{filters}</definedNames>" if filters else ""}</workbook>')
        n = len(self._sheets)
        relations = [(f"rId{i}", "worksheet", f"worksheets/sheet{i}.xml") for i in range(1, n + 1)]
        relations += [(f"rId{n + 1}", "styles", "styles.xml"), (f"rId{n + 2}", "sharedStrings", "sharedStrings.xml")]
        self._zip.writestr("xl/_rels/workbook.xml.rels", _relationships(relations))
        self._zip.writestr("_rels/.rels", _relationships([("rId1", "officeDocument", "xl/workbook.xml")]))
        overrides = [("/xl/workbook.xml", f"{_CT}.sheet.main+xml"), ("/xl/styles.xml", f"{_CT}.styles+xml"),
                     ("/xl/sharedStrings.xml", f"{_CT}.sharedStrings+xml")]
        overrides += [(f"/xl/worksheets/sheet{i}.xml", f"{_CT}.worksheet+xml") for i in range(1, n + 1)]
        self._zip.writestr("[Content_Types].xml", (
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            + "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides) + "</Types>"))

    def _shared_strings(self) -> bytes:
        values = pa.concat_arrays(self._string_pieces).cast(pa.string())
        values = pc.utf8_slice_codeunits(values, 0, _EXCEL_CELL_CHARS)
        values = pc.replace_substring_regex(values, _INVALID_XML_CHARS, "\ufffd")
        for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            values = pc.replace_substring(values, raw, entity)
        items = pc.binary_join_element_wise('<si><t xml:space="preserve">', values, "</t></si>", "")
        head = f'{_XML}<sst {_MAIN_NS} uniqueCount="{len(values)}">'.encode()
        return head + bytes(_concatenated(items)) + b"</sst>"


def _attribute(value: str) -> str:
    return xml_escape(value, {'"': "&quot;"})


def _quoted(sheet_name: str) -> str:
    return "'" + sheet_name.replace("'", "''") + "'"


def _absolute(ref: str) -> str:
    """A1:N9 as $A$1:$N$9."""
    return re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", ref)


def _relationships(relations: Sequence[tuple[str, str, str]]) -> str:
    items = "".join(
        f'<Relationship Id="{rid}" Type="{_REL}/{kind}" Target="{target}"/>' for rid, kind, target in relations)
    return f'{_XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{items}</Relationships>'
