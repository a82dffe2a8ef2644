"""The nightly reports: the workbook's sheets and the self-contained HTML page, from fabricated findings."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from browser import dump_dom, screenshot

from perfrules.outputs.html_page import render_html, write_html
from perfrules.outputs.workbook import rule_outcomes, write_xlsx
from perfrules.rulepack.model import Rule, Text

TEXT = pd.StringDtype("pyarrow")
STRING_COLUMNS = ("rule_id", "title", "severity", "kind", "stage", "project_id", "project_name", "department",
                  "message", "recommendation", "requirement", "source", "evidence", "file", "row", "status")
SOURCE = "《同心县预算绩效管理办法》（同心县） 二、(三)"
SHEETS_ZH = ["概览", "阻断", "警告", "提示", "重点关注台账", "部门统计", "已解决", "规则执行情况", "数据问题"]
FINDING_HEADERS_ZH = ["规则编号", "规则", "主管部门", "项目编码", "项目名称", "预算年度", "申请金额(元)", "已支付(元)", "问题",
                      "处理建议", "依据", "证据", "状态", "持续次数", "文件", "行"]
INJECTION = "</script><b>x"


def finding(rule_id: str, severity: str, project_id: str | None, department: str | None, *, fiscal_year: int | None = 2022,
            watchlist: bool = False, amount: float | None = None, paid: float | None = None, status: str | None = "new",
            nights: int | None = 1, message: str = "", recommendation: str = "", name: str | None = None,
            kind: str = "rule") -> dict[str, Any]:
    return {
        "rule_id": rule_id, "title": f"{rule_id} 的标题", "severity": severity, "kind": kind, "stage": "执行",
        "project_id": project_id, "project_name": name or (f"{project_id} 项目" if project_id else None),
        "fiscal_year": fiscal_year, "department": department, "amount": amount, "paid": paid,
        "message": message or f"{project_id or department} 触发 {rule_id}", "recommendation": recommendation or f"处理 {rule_id}",
        "requirement": "M02", "source": SOURCE, "evidence": json.dumps({"paid": paid}), "file": "项目.csv",
        "row": str(len(rule_id)), "watchlist": watchlist, "status": status, "nights": nights,
    }


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Findings typed as the nightly run gives them: Arrow strings, nullable integers and floats."""
    return pd.DataFrame(rows).astype({c: TEXT for c in STRING_COLUMNS} | {
        "fiscal_year": "Int64", "nights": "Int64", "amount": "Float64", "paid": "Float64", "watchlist": bool})


@pytest.fixture()
def findings() -> pd.DataFrame:
    return frame([
        finding("PF-M01-NOGOAL", "阻断", "P001", "县水利局", watchlist=True, amount=1_200_000, paid=0,
                recommendation="补充绩效目标"),
        finding("PF-D03-BADVALUE", "阻断", "P002", "县教育局", kind="data", status="persisting", nights=3,
                message=f"申请金额无法读取 {INJECTION}"),
        finding("PF-M02-ZEROPAID", "警告", "P001", "县水利局", watchlist=True, amount=1_200_000, paid=None,
                status="persisting", nights=4, recommendation="督促支付"),
        finding("PF-M02-ZEROPAID", "警告", "P003", "县卫健委", watchlist=True, amount=500_000.5, paid=1234.56,
                recommendation="督促支付", name="<i>饮水</i> & 巩固"),
        finding("PF-M05-LOWRATE", "警告", "P001", "县水利局", fiscal_year=2023, watchlist=True, amount=80_000, paid=100,
                recommendation="督促支付"),
        finding("PF-X01-DEPT", "警告", None, "县财政局", fiscal_year=None),
        finding("PF-M09-NOTE", "提示", "P004", "县教育局"),
    ])


def summary_of(findings: pd.DataFrame, changes: dict[str, int] | None = None) -> dict[str, Any]:
    """summary.json for the findings, counted the way the nightly run counts them."""
    by_rule: dict[str, dict[str, Any]] = {}
    for f in findings.itertuples():
        entry = by_rule.setdefault(f.rule_id, {"title": f.title, "severity": f.severity, "count": 0})
        entry["count"] += 1
    by_department: dict[str, dict[str, int]] = {}
    for f in findings.itertuples():
        counts = by_department.setdefault(f.department, {"阻断": 0, "警告": 0, "提示": 0, "total": 0})
        counts[f.severity] += 1
        counts["total"] += 1
    flagged = findings[findings["watchlist"]]
    return {
        "run": {"started": "2026-11-21T02:00:00", "finished": "2026-11-21T02:00:03", "as_of": "2022-11-15",
                "profile": "national", "pack_version": "2026.11.1", "rules_in_force": 27,
                "export": "samples/exports/county-2022", "exit_code": 1},
        "inputs": {"projects": 1000, "indicators": 5000, "payments": 6000, "monitoring": 1000, "evaluations": 2000,
                   "departments": 0},
        "counts": {"total": len(findings),
                   "by_severity": {s: int((findings["severity"] == s).sum()) for s in ("阻断", "警告", "提示")},
                   "by_rule": by_rule, "by_department": by_department,
                   "watchlist_projects": len(flagged[["project_id", "fiscal_year"]].drop_duplicates()),
                   "data_findings": int((findings["kind"] == "data").sum())},
        "changes": changes,
        "errors": [{"code": "input.malformed-row", "message": "项目.csv 第 7 行 金额 <无法读取>", "source": "项目.csv:7"}],
        "timings": {"load": 1.2, "facts": 0.5, "evaluate": 0.2, "findings": 0.3, "write": 0.8, "total": 3.0},
    }


def resolved_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "rule_id": ["PF-M03-OLD"], "title": ["已解决的规则"], "severity": ["警告"], "project_id": ["P009"],
        "fiscal_year": pd.array([2022], dtype="Int64"), "department": ["县水利局"],
        "nights": pd.array([5], dtype="Int64"), "first_seen": ["2026-11-16"],
    }).astype({"rule_id": TEXT, "title": TEXT, "severity": TEXT, "project_id": TEXT, "department": TEXT, "first_seen": TEXT})


HISTORY = [
    {"finished": "2026-11-19T02:00:03", "as_of": "2022-11-13", "total": 9, "by_severity": {"阻断": 3, "警告": 5, "提示": 1}},
    {"finished": "2026-11-20T02:00:03", "as_of": "2022-11-14", "total": 8, "by_severity": {"阻断": 2, "警告": 5, "提示": 1}},
    {"finished": "2026-11-21T02:00:03", "as_of": "2022-11-15", "total": 7, "by_severity": {"阻断": 2, "警告": 4, "提示": 1}},
]
CHANGES = {"new": 4, "resolved": 1, "persisting": 3}


def sheet_rows(ws: Any) -> list[tuple[Any, ...]]:
    return list(ws.iter_rows(values_only=True))


# The workbook --------------------------------------------------------------------------------------------------

RULES = [{"id": "PF-M01-NOGOAL", "title": "未设定绩效目标", "severity": "阻断", "count": 1, "outcome": "有发现", "note": "", "note_en": ""},
         {"id": "PF-E04-GOALPUBLISH", "title": "绩效目标未公开", "severity": "提示", "count": 0, "outcome": "未执行",
          "note": "输入缺少项目.绩效目标是否公开，7 条记录未判定", "note_en": "the input lacks projects.goal_published"},
         {"id": "PF-P02-X", "title": "其他", "severity": "警告", "count": 0, "outcome": "未触发", "note": "", "note_en": ""}]


def summary_with_rules(findings: pd.DataFrame, changes: dict[str, int] | None = None) -> dict[str, Any]:
    return summary_of(findings, changes) | {"rules": RULES}


@pytest.fixture()
def workbook(tmp_path: Path, findings: pd.DataFrame) -> openpyxl.Workbook:
    path = tmp_path / "report.xlsx"
    write_xlsx(path, findings, summary_with_rules(findings, CHANGES), resolved=resolved_frame(),
               labels={"paid": "已支付金额"})
    return openpyxl.load_workbook(path)


def table_of(ws: Any) -> list[dict[str, Any]]:
    """A table sheet's rows (below its title line and header row) as header → value."""
    rows = sheet_rows(ws)
    return [dict(zip(rows[1], r)) for r in rows[2:]]


def test_workbook_sheets_headers_frozen_filtered_and_printable(workbook: openpyxl.Workbook) -> None:
    assert workbook.sheetnames == SHEETS_ZH
    for ws in workbook.worksheets[1:]:
        assert ws.freeze_panes == "A3", ws.title
        assert all(cell.font.b for cell in ws[2] if cell.value is not None), ws.title
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9, ws.title
        assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0) and ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows == "$1:$2", ws.title
        assert "&P" in ws.oddFooter.right.text
    for name in ("阻断", "警告", "提示"):
        assert [c.value for c in workbook[name][2]] == FINDING_HEADERS_ZH
    assert workbook["阻断"].auto_filter.ref == "A2:P4"
    assert workbook["重点关注台账"].auto_filter.ref == "A2:I5"
    assert workbook["概览"].auto_filter.ref is None
    assert workbook["警告"]["I3"].alignment.wrap_text  # 问题 wraps


def test_rows_are_tall_enough_for_their_wrapped_text(tmp_path: Path, findings: pd.DataFrame) -> None:
    findings.loc[0, "message"] = "很长的问题描述" * 20  # 140 CJK characters in a column 30 wide: about 10 lines
    write_xlsx(tmp_path / "f.xlsx", findings, summary_of(findings))
    ws = openpyxl.load_workbook(tmp_path / "f.xlsx")["阻断"]
    assert ws.row_dimensions[3].height >= 9 * 13.5
    assert ws.row_dimensions[4].height < ws.row_dimensions[3].height / 2


def test_severity_sheets_hold_their_rows_with_amounts_and_evidence(workbook: openpyxl.Workbook) -> None:
    block, warn, info = (table_of(workbook[n]) for n in ("阻断", "警告", "提示"))
    assert [r["项目编码"] for r in block] == ["P001", "P002"]
    assert [r["项目编码"] for r in warn] == ["P001", "P003", "P001", None]
    assert [r["项目编码"] for r in info] == ["P004"]
    assert sheet_rows(workbook["阻断"])[0][0] == "阻断：共 2 条"
    assert block[0] == {"规则编号": "PF-M01-NOGOAL", "规则": "PF-M01-NOGOAL 的标题", "主管部门": "县水利局", "项目编码": "P001",
                        "项目名称": "P001 项目", "预算年度": 2022, "申请金额(元)": 1_200_000, "已支付(元)": 0,
                        "问题": "P001 触发 PF-M01-NOGOAL", "处理建议": "补充绩效目标", "依据": SOURCE,
                        "证据": "已支付金额：0元", "状态": "新增", "持续次数": 1, "文件": "项目.csv", "行": 13}
    assert block[1]["问题"] == f"申请金额无法读取 {INJECTION}"
    assert (block[1]["状态"], block[1]["持续次数"]) == ("持续", 3)
    assert warn[1]["证据"] == "已支付金额：1,234.56元"
    assert (warn[3]["主管部门"], warn[3]["项目名称"], warn[3]["预算年度"]) == ("县财政局", None, None)
    ws = workbook["警告"]
    assert ws["G4"].number_format == "#,##0.00" and ws["P3"].data_type == "n" and isinstance(ws["P3"].value, int)


def test_detail_sheets_stop_at_max_rows_with_a_note_pointing_to_the_csv(tmp_path: Path, findings: pd.DataFrame) -> None:
    write_xlsx(tmp_path / "f.xlsx", findings, summary_of(findings), max_rows=2)
    wb = openpyxl.load_workbook(tmp_path / "f.xlsx")
    assert [r["项目编码"] for r in table_of(wb["警告"])] == ["P001", "P003"]
    title = sheet_rows(wb["警告"])[0]
    assert title[0] == "警告：共 4 条"
    assert title[3] == "本表只列出前 2 条（共 4 条）；全部见同一运行目录中的 findings.csv。"
    assert wb["警告"]["D1"].font.b and wb["警告"]["D1"].font.color.rgb.endswith("B71C1C")
    assert sheet_rows(wb["阻断"])[0][3] is None  # two of two: no note
    with pytest.raises(ValueError):
        write_xlsx(tmp_path / "g.xlsx", findings, summary_of(findings), max_rows=0)


def test_severity_sheet_is_there_when_empty(tmp_path: Path, findings: pd.DataFrame) -> None:
    without_info = findings[findings["severity"] != "提示"].reset_index(drop=True)
    write_xlsx(tmp_path / "f.xlsx", without_info, summary_of(without_info))
    wb = openpyxl.load_workbook(tmp_path / "f.xlsx")
    assert wb.sheetnames == ["概览", "阻断", "警告", "提示", "重点关注台账", "部门统计", "数据问题"]
    assert sheet_rows(wb["提示"]) == [("提示：共 0 条", *[None] * 15), tuple(FINDING_HEADERS_ZH)]


def test_watchlist_sheet_has_one_row_per_project(workbook: openpyxl.Workbook) -> None:
    ws = workbook["重点关注台账"]
    rows = sheet_rows(ws)
    assert rows[1] == ("主管部门", "项目编码", "项目名称", "预算年度", "申请金额(元)", "已支付(元)", "触发规则", "处理建议", "持续次数")
    assert rows[2:] == [
        ("县卫健委", "P003", "<i>饮水</i> & 巩固", 2022, 500000.5, 1234.56, "PF-M02-ZEROPAID", "督促支付", 1),
        ("县水利局", "P001", "P001 项目", 2022, 1200000, 0, "PF-M01-NOGOAL、PF-M02-ZEROPAID", "补充绩效目标；督促支付", 4),
        ("县水利局", "P001", "P001 项目", 2023, 80000, 100, "PF-M05-LOWRATE", "督促支付", 1),
    ]
    assert ws["E3"].number_format == "#,##0.00" and ws["F4"].number_format == "#,##0.00"
    assert isinstance(ws["E3"].value, float)


def test_department_sheet_counts_and_total(workbook: openpyxl.Workbook) -> None:
    rows = sheet_rows(workbook["部门统计"])
    assert rows[1:] == [
        ("主管部门", "阻断", "警告", "提示", "合计"),
        ("县水利局", 1, 2, 0, 3),
        ("县教育局", 1, 0, 1, 2),
        ("县卫健委", 0, 1, 0, 1),
        ("县财政局", 0, 1, 0, 1),
        ("合计", 2, 4, 1, 7),
    ]
    assert workbook["部门统计"].auto_filter.ref == "A2:E6"  # the total row stays out of sorting
    assert workbook["部门统计"]["E7"].font.b


def test_overview_facts_are_typed_and_charts_are_native(workbook: openpyxl.Workbook, tmp_path: Path) -> None:
    rows = sheet_rows(workbook["概览"])
    facts = {r[0]: r[1] for r in rows if r[0] is not None}
    assert facts["检查日期"] == dt.datetime(2022, 11, 15) and workbook["概览"]["B2"].number_format == "yyyy-mm-dd"
    assert facts["运行开始"] == dt.datetime(2026, 11, 21, 2, 0, 0)
    assert facts["配置"] == "national" and facts["规则包版本"] == "2026.11.1"
    assert facts["规则数"] == 27 and facts["项目表行数"] == 1000 and facts["支付明细表行数"] == 6000
    assert (facts["发现总数"], facts["阻断"], facts["警告"], facts["提示"]) == (7, 2, 4, 1)
    assert (facts["新增"], facts["已解决"], facts["持续"]) == (4, 1, 3)
    header_at = rows.index(("规则", "数量", None, None))
    assert rows[header_at + 1][:2] == ("PF-M02-ZEROPAID PF-M02-ZEROPAID 的标题", 2)
    with zipfile.ZipFile(tmp_path / "report.xlsx") as z:
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
        xml = [z.read(n).decode() for n in charts]
    assert len(charts) == 3
    assert "<c:barChart>" in xml[0] and "$A$" in xml[0]
    assert "按主管部门（前 10 个）" in "".join(xml)


def test_overview_without_state_has_no_changes(tmp_path: Path, findings: pd.DataFrame) -> None:
    findings["status"] = pd.array([None] * len(findings), dtype=TEXT)
    findings["nights"] = pd.array([None] * len(findings), dtype="Int64")
    write_xlsx(tmp_path / "f.xlsx", findings, summary_of(findings, changes=None))
    wb = openpyxl.load_workbook(tmp_path / "f.xlsx")
    assert "新增" not in [r[0] for r in sheet_rows(wb["概览"])]
    assert "已解决" not in wb.sheetnames and "规则执行情况" not in wb.sheetnames
    assert {(r["状态"], r["持续次数"]) for r in table_of(wb["警告"])} == {(None, None)}


def test_resolved_sheet_has_a_real_date(workbook: openpyxl.Workbook) -> None:
    assert sheet_rows(workbook["已解决"])[1:] == [
        ("严重程度", "规则编号", "规则", "主管部门", "项目编码", "预算年度", "持续次数", "首次发现"),
        ("警告", "PF-M03-OLD", "已解决的规则", "县水利局", "P009", 2022, 5, dt.datetime(2026, 11, 16)),
    ]
    assert workbook["已解决"]["H3"].number_format == "yyyy-mm-dd"


def test_rules_sheet_lists_every_rule_in_force_with_its_outcome(workbook: openpyxl.Workbook) -> None:
    assert table_of(workbook["规则执行情况"]) == [
        {"规则编号": "PF-M01-NOGOAL", "规则": "未设定绩效目标", "严重程度": "阻断", "发现数": 1, "执行情况": "有发现", "说明": None},
        {"规则编号": "PF-E04-GOALPUBLISH", "规则": "绩效目标未公开", "严重程度": "提示", "发现数": 0, "执行情况": "未执行",
         "说明": "输入缺少项目.绩效目标是否公开，7 条记录未判定"},
        {"规则编号": "PF-P02-X", "规则": "其他", "严重程度": "警告", "发现数": 0, "执行情况": "未触发", "说明": None},
    ]


def test_data_problems_sheet_lists_input_notes_and_data_findings(workbook: openpyxl.Workbook) -> None:
    rows = table_of(workbook["数据问题"])
    assert [(r["类别"], r["代码"]) for r in rows] == [("输入说明", "input.malformed-row"), ("数据发现", "PF-D03-BADVALUE")]
    assert rows[1]["项目编码"] == "P002" and rows[1]["来源"] == "项目.csv" and rows[1]["行"] == 15


def test_rule_outcomes_from_a_findings_table() -> None:
    rules = [Rule(i, f"{i} 标题", "", ("M02",), "警告", "project", "执行", None, "", Text("", ""), Text("", ""), ())
             for i in ("R-FOUND", "R-ABSENT", "R-MISSING", "R-QUIET")]
    found = frame([finding("R-FOUND", "警告", "P1", "县水利局"), finding("R-FOUND", "警告", "P2", "县水利局"),
                   finding("PF-D03-ABSENT", "阻断", None, None, kind="data"),
                   finding("PF-D03-MISSING", "阻断", "P3", "县水利局", kind="data")])
    found["about"] = pd.array([None, None, "R-ABSENT", "R-MISSING"], dtype=TEXT)
    found.loc[2, "evidence"] = json.dumps({"rule": "R-ABSENT", "absent": ["projects.goal_published"], "records": 7})
    outcomes = {r["id"]: r for r in rule_outcomes(rules, found, {"projects.goal_published": "项目.绩效目标是否公开"})}
    assert [(r["count"], r["outcome"]) for r in outcomes.values()] == [(2, "有发现"), (0, "未执行"), (0, "部分记录未判定"),
                                                                      (0, "未触发")]
    assert outcomes["R-ABSENT"]["note"] == "输入缺少项目.绩效目标是否公开，7 条记录未判定"
    assert outcomes["R-MISSING"]["note"] == "1 条记录缺少所需数据，未判定"


def test_english_workbook(tmp_path: Path, findings: pd.DataFrame) -> None:
    write_xlsx(tmp_path / "f.xlsx", findings, summary_with_rules(findings, CHANGES), resolved=resolved_frame(), lang="en")
    wb = openpyxl.load_workbook(tmp_path / "f.xlsx")
    assert wb.sheetnames == ["Overview", "block", "warn", "info", "Watchlist", "Departments", "Resolved", "Rules run",
                             "Data problems"]
    assert [c.value for c in wb["warn"][2]] == [
        "Rule", "Title", "Department", "Project code", "Project name", "Fiscal year", "Requested (yuan)", "Paid (yuan)",
        "Finding", "Recommendation", "Source", "Evidence", "Status", "Nights", "File", "Row"]
    assert [r["Status"] for r in table_of(wb["block"])] == ["new", "persisting"]
    assert sheet_rows(wb["Departments"])[-1] == ("Total", 2, 4, 1, 7)
    assert [r["Outcome"] for r in table_of(wb["Rules run"])] == ["findings", "not run", "no finding"]
    assert "As of" in [r[0] for r in sheet_rows(wb["Overview"])]


def test_formula_like_text_is_a_text_cell(tmp_path: Path, findings: pd.DataFrame) -> None:
    findings.loc[0, "project_name"] = '=HYPERLINK("http://example.invalid","点我")'
    findings.loc[0, "department"] = "@SUM(1)"
    write_xlsx(tmp_path / "f.xlsx", findings, summary_of(findings))
    ws = openpyxl.load_workbook(tmp_path / "f.xlsx")["阻断"]
    assert (ws["E3"].value, ws["E3"].data_type, ws["E3"].quotePrefix) == (findings.loc[0, "project_name"], "s", True)
    assert (ws["C3"].value, ws["C3"].data_type) == ("@SUM(1)", "s")


def test_plain_object_columns_and_awkward_text(tmp_path: Path, findings: pd.DataFrame) -> None:
    plain = findings.astype(object).where(findings.notna(), None)
    plain.loc[6, "message"] = "控制字符\x07\x00与 <标签> & \"引号\"  "
    plain.loc[6, "recommendation"] = ""
    write_xlsx(tmp_path / "f.xlsx", plain, summary_of(findings))
    info = table_of(openpyxl.load_workbook(tmp_path / "f.xlsx")["提示"])[0]
    assert info["问题"] == "控制字符\ufffd\ufffd与 <标签> & \"引号\"  "
    assert info["处理建议"] is None
    assert info["预算年度"] == 2022


# The HTML page -------------------------------------------------------------------------------------------------

class FigureParser(HTMLParser):
    """Collects data-figure texts, chart bar attributes and the JSON blocks of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.bars: list[dict[str, str]] = []
        self.scripts: dict[str, str] = {}
        self.rendered_rows: Counter[str] = Counter()  # <tr> in each table body with an id, after scripts ran
        self._open: tuple[str, str] | None = None
        self._body: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "data-figure" in a:
            self._open = ("figure", a["data-figure"])
        elif tag == "script" and a.get("type") == "application/json":
            self._open = ("script", a["id"])
        if "data-count" in a:
            self.bars.append(a)
        if tag == "tbody":
            self._body = a.get("id")
        elif tag == "tr" and self._body:
            self.rendered_rows[self._body] += 1

    def handle_endtag(self, tag: str) -> None:
        self._open = None  # figures and JSON blocks hold text only
        if tag == "tbody":
            self._body = None

    def handle_data(self, data: str) -> None:
        if self._open:
            kind, key = self._open
            target = self.figures if kind == "figure" else self.scripts
            target[key] = target.get(key, "") + data


def parse(page: str) -> FigureParser:
    parser = FigureParser()
    parser.feed(page)
    return parser


def expected_figures(summary: dict[str, Any]) -> dict[str, str]:
    counts = summary["counts"]
    figures = {"total": counts["total"], "watchlist": counts["watchlist_projects"], "data-findings": counts["data_findings"]}
    figures |= {f"severity-{s}": n for s, n in counts["by_severity"].items()}
    figures |= summary["changes"] or {}
    return {k: str(v) for k, v in figures.items()}


@pytest.fixture()
def page(tmp_path: Path, findings: pd.DataFrame) -> tuple[Path, dict[str, Any]]:
    summary = summary_of(findings, CHANGES)
    path = tmp_path / "report.html"
    write_html(path, findings, summary, HISTORY, resolved=resolved_frame())
    return path, summary


def test_page_needs_no_network(page: tuple[Path, dict[str, Any]]) -> None:
    text = page[0].read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.IGNORECASE)
    assert not re.search(r"url\(", text, re.IGNORECASE)
    assert not re.search(r"<link\b|<script[^>]*\bsrc=|<img\b|@import", text, re.IGNORECASE)
    assert "http://" not in text and "https://" not in text


def test_page_figures_equal_the_summary(page: tuple[Path, dict[str, Any]]) -> None:
    path, summary = page
    parsed = parse(path.read_text(encoding="utf-8"))
    shown = parsed.figures.pop("shown")
    assert parsed.figures == expected_figures(summary)
    assert parsed.figures["severity-阻断"] == "2" and parsed.figures["resolved"] == "1"
    assert shown == "7"


def test_page_without_state_shows_no_changes(tmp_path: Path, findings: pd.DataFrame) -> None:
    summary = summary_of(findings, None)
    write_html(tmp_path / "r.html", findings, summary, HISTORY[-1:])
    parsed = parse((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert not {"new", "resolved", "persisting"} & set(parsed.figures)
    assert "首次运行" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_embedded_rows_round_trip(page: tuple[Path, dict[str, Any]], findings: pd.DataFrame) -> None:
    rows = json.loads(parse(page[0].read_text(encoding="utf-8")).scripts["findings-data"])
    assert len(rows) == 7
    assert [r["project_id"] for r in rows] == ["P001", "P002", "P001", "P003", "P001", None, "P004"]
    assert rows[1]["message"] == f"申请金额无法读取 {INJECTION}"
    assert rows[5] == {"severity": "警告", "rule_id": "PF-X01-DEPT", "title": "PF-X01-DEPT 的标题", "requirement": "M02",
                       "department": "县财政局", "project_id": None, "project_name": None, "fiscal_year": None,
                       "message": "县财政局 触发 PF-X01-DEPT", "recommendation": "处理 PF-X01-DEPT", "source": SOURCE,
                       "status": "new", "nights": 1, "file": "项目.csv", "row": "11"}


def test_text_from_the_data_is_escaped(page: tuple[Path, dict[str, Any]]) -> None:
    text = page[0].read_text(encoding="utf-8")
    assert INJECTION not in text and "<b>x" not in text and "<i>饮水" not in text
    assert "&lt;无法读取&gt;" in text  # a data problem, in the page itself
    assert text.count("</script>") == 4  # three JSON blocks and the page script, none cut short
    assert json.loads(parse(text).scripts["watchlist-data"])[0]["project_name"] == "<i>饮水</i> & 巩固"


def test_embedded_watchlist_has_one_row_per_project(page: tuple[Path, dict[str, Any]]) -> None:
    projects = json.loads(parse(page[0].read_text(encoding="utf-8")).scripts["watchlist-data"])
    assert [(p["project_id"], p["fiscal_year"], p["rules"], p["amount"], p["paid"], p["nights"]) for p in projects] == [
        ("P003", 2022, ["PF-M02-ZEROPAID"], 500000.5, 1234.56, 1),
        ("P001", 2022, ["PF-M01-NOGOAL", "PF-M02-ZEROPAID"], 1200000, 0, 4),
        ("P001", 2023, ["PF-M05-LOWRATE"], 80000, 100, 1),
    ]
    assert projects[1]["recommendations"] == ["补充绩效目标", "督促支付"]


def test_page_says_when_rows_are_left_out(tmp_path: Path, findings: pd.DataFrame) -> None:
    write_html(tmp_path / "r.html", findings, summary_of(findings, CHANGES), HISTORY, max_rows=3)
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    parsed = parse(text)
    assert "表中列出前 3 条（共 7 条）；完整清单见 findings.csv / findings.jsonl。" in text
    assert [r["rule_id"] for r in json.loads(parsed.scripts["findings-data"])] == [
        "PF-M01-NOGOAL", "PF-D03-BADVALUE", "PF-M02-ZEROPAID"]
    assert parsed.figures["shown"] == "3" and parsed.figures["total"] == "7"
    write_html(tmp_path / "all.html", findings, summary_of(findings, CHANGES), HISTORY)
    assert "表中列出前" not in (tmp_path / "all.html").read_text(encoding="utf-8")


def test_chart_bars_carry_their_counts(page: tuple[Path, dict[str, Any]]) -> None:
    path, summary = page
    parsed = parse(path.read_text(encoding="utf-8"))
    rules = {b["data-rule"]: int(b["data-count"]) for b in parsed.bars if "data-rule" in b}
    departments = {b["data-department"]: int(b["data-count"]) for b in parsed.bars if "data-department" in b}
    assert rules == {rule: r["count"] for rule, r in summary["counts"]["by_rule"].items()}
    assert departments == {"县水利局": 3, "县教育局": 2, "县卫健委": 1, "县财政局": 1}
    assert [b["data-department"] for b in parsed.bars if "data-department" in b][:2] == ["县水利局", "县教育局"]


def test_rule_chart_shows_the_top_twenty(tmp_path: Path) -> None:
    many = frame([finding(f"PF-R{i:02d}", "提示", f"P{i}{j}", "县水利局") for i in range(25) for j in range(i + 1)])
    write_html(tmp_path / "r.html", many, summary_of(many), HISTORY)
    bars = [b for b in parse((tmp_path / "r.html").read_text(encoding="utf-8")).bars if "data-rule" in b]
    assert [b["data-rule"] for b in bars] == [f"PF-R{i:02d}" for i in range(24, 4, -1)]
    assert bars[0]["data-count"] == "25"


def test_trend_draws_every_run_by_its_as_of_date(page: tuple[Path, dict[str, Any]]) -> None:
    text = page[0].read_text(encoding="utf-8")
    assert text.count("<polyline") == 4  # total and the three severities
    assert "首次运行" not in text and "重新检查" not in text
    assert re.findall(r'data-as-of="([^"]+)"', text) == ["2022-11-13", "2022-11-14", "2022-11-15"]


def test_a_run_rechecking_an_earlier_as_of_date_is_noted(tmp_path: Path, findings: pd.DataFrame) -> None:
    again = {"finished": "2026-11-22T02:00:03", "as_of": "2022-11-14", "total": 6, "by_severity": {"阻断": 1, "警告": 4, "提示": 1}}
    page = render_html(findings, summary_of(findings, CHANGES), [*HISTORY, again])
    assert re.findall(r'data-as-of="([^"]+)"', page) == ["2022-11-13", "2022-11-14", "2022-11-15"]
    assert "注：2026-11-22 02:00（2022-11-14） 重新检查了较早的检查日期；每个检查日期取最近一次运行。" in page
    totals = re.findall(r'<text class="count" x="[\d.]+" y="[\d.]+" text-anchor="middle">(\d+)</text>', page)
    assert totals == ["9", "6", "7"]  # the re-run's 6 replaces the earlier 8 of 2022-11-14


def test_first_rows_are_in_the_html_without_javascript(page: tuple[Path, dict[str, Any]], findings: pd.DataFrame) -> None:
    parsed = parse(page[0].read_text(encoding="utf-8"))
    assert parsed.rendered_rows == {"findings-body": len(findings), "watchlist-body": 3}
    text = page[0].read_text(encoding="utf-8")
    assert '<td class="num">500,000.50</td><td class="num">1,234.56</td>' in text
    assert "需要启用 JavaScript 才能搜索和筛选；下表为前 7 条。" in text


def test_internals_are_in_a_folded_appendix_and_the_header_is_for_directors(page: tuple[Path, dict[str, Any]]) -> None:
    text = page[0].read_text(encoding="utf-8")
    header = text[text.index("<header>"):text.index("</header>")]
    assert "退出码" not in header and "用时" not in header and "input." not in header
    appendix = text[text.index('<section class="appendix"'):]
    assert appendix.startswith('<section class="appendix" id="appendix"><details><summary>')
    assert "退出码" in appendix and "<code>input.malformed-row</code>" in appendix and "规则评估" in appendix
    assert text.index('id="findings"') < text.index('class="appendix"')


def test_links_only_to_files_that_exist(tmp_path: Path, findings: pd.DataFrame) -> None:
    (tmp_path / "findings.csv").write_text("x", encoding="utf-8")
    (tmp_path / "notices").mkdir()
    write_html(tmp_path / "report.html", findings, summary_of(findings), HISTORY)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert re.findall(r'<a href="([^"]+)"', text) == ["findings.csv", "notices/"]
    page = render_html(findings, summary_of(findings), HISTORY, files=["report.xlsx", "summary.json"])
    assert re.findall(r'<a href="([^"]+)"', page) == ["report.xlsx", "summary.json"]
    assert "findings.xlsx" not in page


def test_english_page(tmp_path: Path, findings: pd.DataFrame) -> None:
    summary = summary_of(findings, CHANGES)
    write_html(tmp_path / "r.html", findings, summary, HISTORY[-1:], lang="en", max_rows=2)
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<title>Budget performance nightly check</title>" in text
    assert "The table lists the first 2 of 7; the full list is in findings.csv / findings.jsonl." in text
    assert "First run" in text and "预算绩效规则检查日报" not in text
    assert parse(text).figures["severity-阻断"] == "2"


def test_page_lists_data_problems_and_timings(page: tuple[Path, dict[str, Any]]) -> None:
    text = page[0].read_text(encoding="utf-8")
    assert "<code>input.malformed-row</code> 项目.csv 第 7 行 金额 &lt;无法读取&gt;" in text
    assert re.search(r"<td>规则评估</td><td class=\"num\">0\.20</td>", text)
    assert 'font-family: "Noto Sans CJK SC"' in text


# In a browser --------------------------------------------------------------------------------------------------

def test_rendered_page_in_chromium(tmp_path: Path, findings: pd.DataFrame) -> None:
    summary = summary_of(findings, CHANGES)
    path = tmp_path / "report.html"
    write_html(path, findings, summary, HISTORY, resolved=resolved_frame(), max_rows=5)
    dom = dump_dom(path)
    parsed = parse(dom)
    embedded = json.loads(parsed.scripts["findings-data"])
    assert parsed.figures.pop("shown") == str(len(embedded)) == "5"
    assert parsed.figures == expected_figures(summary)
    assert parsed.rendered_rows == {"findings-body": 5, "watchlist-body": 3}
    # Text from the data reaches the DOM as text, escaped by the page script.
    assert "<td>&lt;i&gt;饮水&lt;/i&gt; &amp; 巩固</td>" in dom and "<i>饮水" not in dom
    assert f"申请金额无法读取 {INJECTION.replace('<', '&lt;').replace('>', '&gt;')}" in dom
    assert '<td class="num">500,000.50</td><td class="num">1,234.56</td>' in dom
    png = screenshot(path, tmp_path / "report.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000


def test_no_department_filter_in_chromium(tmp_path: Path, findings: pd.DataFrame) -> None:
    summary = summary_of(findings, CHANGES)
    findings.loc[5, "department"] = None
    page = render_html(findings, summary, HISTORY)
    reader = """<script>
      var select = document.getElementById("filter-department");
      document.body.setAttribute("data-options", Array.from(select.options).map(function (o) { return o.text; }).join("|"));
      select.value = select.options[select.options.length - 1].value; select.dispatchEvent(new Event("change"));
    </script></body>"""
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", reader), encoding="utf-8")
    dom = dump_dom(path)
    options = re.search(r'data-options="([^"]*)"', dom)
    assert options is not None and options.group(1).split("|") == ["全部部门", "县卫健委", "县教育局", "县水利局", "（无部门）"]
    parsed = parse(dom)
    assert parsed.figures["shown"] == "1" and parsed.rendered_rows["findings-body"] == 1
    body = dom[dom.index('id="findings-body"'):]
    assert "PF-X01-DEPT" in body[:body.index("</tbody>")]


def test_filters_and_search_in_chromium(tmp_path: Path, findings: pd.DataFrame) -> None:
    page = render_html(findings, summary_of(findings, CHANGES), HISTORY)
    # What a reader does: pick 警告 and 县水利局, then search for a rule id (lower case matches too).
    reader = """<script>
      function set(id, value) { var e = document.getElementById(id); e.value = value; e.dispatchEvent(new Event("change")); }
      set("filter-severity", "警告"); set("filter-department", "县水利局"); set("filter-text", "pf-m05");
    </script></body>"""
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", reader), encoding="utf-8")
    dom = dump_dom(path)
    parsed = parse(dom)
    assert parsed.figures["shown"] == "1"
    assert parsed.rendered_rows["findings-body"] == 1
    body = dom[dom.index('id="findings-body"'):]
    assert "PF-M05-LOWRATE" in body[:body.index("</tbody>")]
