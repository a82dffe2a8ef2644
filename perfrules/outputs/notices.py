"""整改通知: one rectification notice per 主管部门, as a workbook and a PDF, ready to send and to file.

A notice addresses one department, says which check it comes from (as-of date, profile, rule pack)
and how many findings it has by severity, then lists them — most severe first — with the project,
the problem, the recommendation and the policy clause, and leaves room for the bureau's deadline and
seal. Findings without a department go to 无部门 (for the bureau itself to sort out).

The PDF uses ReportLab's built-in CID font STSong-Light: the reader's PDF viewer supplies the glyphs,
so nothing depends on fonts installed on the machine that writes it. A notice lists at most
``NOTICE_ROWS`` findings (a department of a province-sized run can have thousands, which nobody
prints); it then says how many more there are and that findings.csv holds them all.

``perfrules nightly`` writes the notices into ``RUN_DIR/notices/``; ``perfrules notices RUN_DIR``
writes them again from a run directory's findings (``read_run_findings``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import xlsxwriter
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from perfrules.errors import Problem, UsageError, Where
from perfrules.findings.model import evidence_text
from perfrules.outputs.workbook import EXCEL_CELL_CHARS, row_height, text
from perfrules.rulepack.model import SEVERITIES

NOTICE_ROWS = 200
NOTICES = "notices"  # the folder of a run directory that holds them
# Nightly writes the notices when the run has at most this many findings (a county's or a city's run). A
# province-sized run has hundreds of departments and thousands of findings each: a PDF of 200 rows takes
# ReportLab about a second, which the nightly run cannot spend 200 times. There ``perfrules notices
# RUN_DIR`` writes them when they are wanted, and the notices folder holds a note saying so.
NIGHTLY_FINDINGS = 5_000
LATER_NOTE = "说明.txt"
NO_DEPARTMENT = "无部门"
FONT = "STSong-Light"
COLUMNS = ("department", "severity", "rule_id", "title", "project_id", "project_name", "fiscal_year", "amount", "paid",
           "message", "recommendation", "source", "evidence", "file", "row")
_UNSAFE_FILE_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")

TEXTS = {
    "title": ("预算绩效管理问题整改通知", "Notice of budget performance findings to rectify"),
    "intro": ("根据 {as_of} 的预算绩效管理规则检查（配置 {profile}，规则包 {pack}），你单位共有 {total} 项问题"
              "（阻断 {block} 项，警告 {warn} 项，提示 {info} 项）。请对照下表逐项核实整改，并于 ____ 年 __ 月 __ 日前"
              "将整改情况书面报送财政部门。",
              "The budget performance check as of {as_of} (profile {profile}, rule pack {pack}) found {total} issue(s) "
              "in your department ({block} block, {warn} warn, {info} info). Please verify and rectify each one below and "
              "report the rectification in writing to the finance bureau by ____-__-__."),
    "more": ("本通知列出最严重的 {shown} 项（共 {total} 项）；全部问题见本次运行目录中的 findings.csv（按主管部门筛选）。",
             "This notice lists the {shown} most severe of {total} issues; all of them are in findings.csv in the run folder "
             "(filter by department)."),
    "sign": ("财政局（盖章）", "Finance bureau (seal)"),
    "date": ("日期：{today}", "Date: {today}"),
    "no": ("序号", "No."), "level": ("严重程度", "Severity"), "project": ("项目", "Project"), "problem": ("问题", "Finding"),
    "advice": ("处理建议", "Recommendation"), "source": ("依据", "Source"), "page": ("第 {page} 页", "page {page}"),
    "evidence": ("证据", "Evidence"), "rule": ("规则", "Rule"),
}


def _t(key: str, lang: str) -> str:
    return TEXTS[key][0 if lang != "en" else 1]


@dataclass
class Notice:
    """One department's notice: its name, its file stem and its findings (most severe first)."""

    department: str
    stem: str
    findings: list[dict[str, Any]]
    total: int
    by_severity: dict[str, int]


def file_stem(department: str, taken: set[str]) -> str:
    """A file name for a department that every file system accepts, distinct from those already ``taken``."""
    stem = _UNSAFE_FILE_CHARS.sub("_", unicodedata.normalize("NFC", department)).strip(" .") or "_"
    stem = stem[:80]
    candidate, n = stem, 2
    while candidate.casefold() in taken:
        candidate, n = f"{stem}_{n}", n + 1
    taken.add(candidate.casefold())
    return candidate


def notices_of(findings: pd.DataFrame, max_rows: int = NOTICE_ROWS) -> list[Notice]:
    """The findings grouped by department (most findings first; 无部门 last), at most ``max_rows`` rows each."""
    if not len(findings):
        return []
    frame = findings.loc[:, [c for c in COLUMNS if c in findings.columns]]
    department = frame["department"].astype("string").fillna(NO_DEPARTMENT)
    rank = frame["severity"].astype("string").map({s: i for i, s in enumerate(SEVERITIES)}).fillna(len(SEVERITIES))
    order = pd.DataFrame({"d": department, "r": rank.astype(int), "i": range(len(frame))}).sort_values(["d", "r", "i"], kind="stable")
    taken: set[str] = set()
    notices = []
    for name, group in order.groupby("d", sort=False):
        positions = group["i"].to_numpy()
        shown = frame.iloc[positions[:max_rows]]
        records = pa.Table.from_pandas(shown.astype({c: "object" for c in shown.columns if shown[c].dtype == "string"}),
                                       preserve_index=False).to_pylist()
        for r in records:
            r.update({c: None for c in COLUMNS if c not in r})
        severity_counts = frame["severity"].iloc[positions].value_counts()
        notices.append(Notice(str(name), "", records, len(positions), {s: int(severity_counts.get(s, 0)) for s in SEVERITIES}))
    notices.sort(key=lambda n: (n.department == NO_DEPARTMENT, -n.by_severity[SEVERITIES[0]], -n.total, n.department))
    for n in notices:
        n.stem = file_stem(n.department, taken)
    return notices


def write_notices(folder: str | Path, findings: pd.DataFrame, summary: dict[str, Any], lang: str = "zh",
                  labels: dict[str, str] | None = None, max_rows: int = NOTICE_ROWS, pdf: bool = True,
                  departments: Collection[str] | None = None) -> list[Path]:
    """Write ``<department>.xlsx`` and ``<department>.pdf`` for each department (or those in ``departments``) into
    ``folder``; the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for notice in notices_of(findings, max_rows):
        if departments is not None and notice.department not in departments:
            continue
        written.append(write_notice_xlsx(folder / f"{notice.stem}.xlsx", notice, summary, lang, labels or {}))
        if pdf:
            written.append(write_notice_pdf(folder / f"{notice.stem}.pdf", notice, summary, lang))
    return written


def write_nightly_notices(folder: str | Path, findings: pd.DataFrame, summary: dict[str, Any], lang: str = "zh",
                          labels: dict[str, str] | None = None) -> list[Path]:
    """Nightly's notices: all of them for a run of at most ``NIGHTLY_FINDINGS`` findings, else a note on how to make them."""
    if len(findings) <= NIGHTLY_FINDINGS:
        return write_notices(folder, findings, summary, lang, labels)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    note = folder / LATER_NOTE
    note.write_text(
        f"本次运行有 {len(findings):,} 项发现（超过 {NIGHTLY_FINDINGS:,} 项），nightly 未逐部门写出整改通知。\n"
        f"需要时运行：perfrules notices <运行目录>（可用 --department 只写某些部门）。\n\n"
        f"This run has {len(findings):,} findings (more than {NIGHTLY_FINDINGS:,}); nightly did not write the notices.\n"
        "When they are wanted: perfrules notices <run folder> (--department for some departments only).\n", encoding="utf-8")
    return [note]


def _intro(notice: Notice, summary: dict[str, Any], lang: str) -> str:
    run = summary.get("run", {})
    block, warn, info = (notice.by_severity.get(s, 0) for s in SEVERITIES)
    return _t("intro", lang).format(as_of=run.get("as_of", ""), profile=run.get("profile", ""), pack=run.get("pack_version", ""),
                                    total=f"{notice.total:,}", block=f"{block:,}", warn=f"{warn:,}", info=f"{info:,}")


def _more(notice: Notice, lang: str) -> str | None:
    if notice.total <= len(notice.findings):
        return None
    return _t("more", lang).format(shown=f"{len(notice.findings):,}", total=f"{notice.total:,}")


def _clean(value: Any) -> str:
    return "" if value is None or value is pd.NA else _CONTROL.sub("\ufffd", str(value))


def _today(summary: dict[str, Any]) -> str:
    finished = str(summary.get("run", {}).get("finished") or summary.get("run", {}).get("started") or "")
    return finished[:10] or dt.date.today().isoformat()


# The workbook --------------------------------------------------------------------------------------------------

NOTICE_XLSX_COLUMNS = (("no", 5), ("level", 8), ("rule", 18), ("project", 24), ("problem", 36), ("advice", 30),
                       ("source", 22), ("evidence", 28))


def write_notice_xlsx(path: Path, notice: Notice, summary: dict[str, Any], lang: str, labels: dict[str, str]) -> Path:
    """The notice as a one-sheet workbook laid out like the letter, printable on A4 landscape."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False})
    try:
        base = {"font_name": "Noto Sans CJK SC", "font_size": 10, "valign": "top"}
        title = wb.add_format({**base, "bold": True, "font_size": 16, "align": "center"})
        para = wb.add_format({**base, "text_wrap": True, "quote_prefix": True})
        header = wb.add_format({**base, "bold": True, "bg_color": "#E8EDF2", "border": 1, "text_wrap": True})
        cell = wb.add_format({**base, "text_wrap": True, "border": 1, "quote_prefix": True})
        number = wb.add_format({**base, "border": 1, "num_format": "0"})
        note = wb.add_format({**base, "bold": True, "font_color": "#B71C1C", "text_wrap": True})
        ws = wb.add_worksheet(text("整改通知", lang) if lang != "en" else "Notice")
        ws.set_landscape()
        ws.set_paper(9)
        ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
        ws.fit_to_pages(1, 0)
        ws.set_footer("&C" + (_t("page", lang).format(page="&P")) + " / &N")
        last = len(NOTICE_XLSX_COLUMNS) - 1
        for c, (_, width) in enumerate(NOTICE_XLSX_COLUMNS):
            ws.set_column(c, c, width)

        def text_cell(r: int, c: int, value: Any, fmt: Any) -> None:
            value = _clean(value)
            if value:
                ws.write_string(r, c, value[:EXCEL_CELL_CHARS], fmt)

        ws.set_row(0, 26)
        ws.merge_range(0, 0, 0, last, "", title)
        text_cell(0, 0, _t("title", lang), title)
        ws.merge_range(2, 0, 2, last, "", para)
        text_cell(2, 0, f"{notice.department}{'：' if lang != 'en' else ':'}", para)
        ws.set_row(3, 44)
        ws.merge_range(3, 0, 3, last, "", para)
        text_cell(3, 0, _intro(notice, summary, lang), para)
        row = 5
        more = _more(notice, lang)
        if more:
            ws.merge_range(4, 0, 4, last, "", note)
            text_cell(4, 0, more, note)
            ws.set_row(4, 30)
        for c, (key, _) in enumerate(NOTICE_XLSX_COLUMNS):
            text_cell(row, c, _t(key, lang), header)
        header_row = row
        for i, f in enumerate(notice.findings, 1):
            row += 1
            texts = _row_texts(f, lang, labels)
            ws.set_row(row, row_height([(t, w) for t, (_, w) in zip(texts, NOTICE_XLSX_COLUMNS[2:])]))
            ws.write_number(row, 0, i, number)
            text_cell(row, 1, text(f["severity"], lang) if f["severity"] else "", cell)
            for c, value in enumerate(texts, 2):
                text_cell(row, c, value, cell)
        ws.repeat_rows(header_row)
        ws.freeze_panes(header_row + 1, 0)
        row += 2
        text_cell(row, last - 1, _t("sign", lang), para)
        text_cell(row + 1, last - 1, _t("date", lang).format(today=_today(summary)), para)
    finally:
        wb.close()
    return path


def _project(f: dict[str, Any], lang: str) -> str:
    parts = [p for p in (_clean(f["project_id"]), _clean(f["project_name"])) if p]
    year = f["fiscal_year"]
    if year is not None and year is not pd.NA:
        parts.append(f"{int(year)}{'年度' if lang != 'en' else ''}")
    return " ".join(parts)


def _row_texts(f: dict[str, Any], lang: str, labels: dict[str, str]) -> list[str]:
    """The rule, project, problem, advice, source and evidence texts of a finding's row."""
    try:
        evidence = evidence_text(json.loads(f["evidence"] or "{}"), labels, lang)
    except (TypeError, ValueError):
        evidence = _clean(f["evidence"])
    rule = " ".join(p for p in (_clean(f["rule_id"]), _clean(f["title"])) if p)
    return [rule, _project(f, lang), _clean(f["message"]), _clean(f["recommendation"]), _clean(f["source"]), evidence]


# The PDF -------------------------------------------------------------------------------------------------------

_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def write_notice_pdf(path: Path, notice: Notice, summary: dict[str, Any], lang: str) -> Path:
    """The notice as an A4 PDF with the Chinese font embedded by reference (STSong-Light)."""
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=16, wordWrap="CJK")
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=10)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11.5)
    head = ParagraphStyle("head", parent=small, textColor=colors.black)
    note = ParagraphStyle("note", parent=body, textColor=colors.HexColor("#B71C1C"))
    right = ParagraphStyle("right", parent=body, alignment=2)

    def p(value: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(_escape(value), style)

    story: list[Any] = [p(_t("title", lang), title), p(f"{notice.department}{'：' if lang != 'en' else ':'}", body),
                        Spacer(1, 4), p(_intro(notice, summary, lang), body), Spacer(1, 6)]
    more = _more(notice, lang)
    if more:
        story += [p(more, note), Spacer(1, 6)]
    header = [p(_t(k, lang), head) for k in ("no", "level", "project", "problem", "advice", "source")]
    rows = [header]
    for i, f in enumerate(notice.findings, 1):
        rule, project, message, advice, source, _ = _row_texts(f, lang, {})
        level = text(f["severity"], lang) if f["severity"] else ""
        who = Paragraph("<br/>".join(_escape(t) for t in (project, rule) if t), small)
        rows.append([p(str(i), small), p(level, small), who, p(message, small), p(advice, small), p(source, small)])
    widths = [1.0 * cm, 1.6 * cm, 3.6 * cm, 5.2 * cm, 3.9 * cm, 2.7 * cm]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9AA5B1")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EDF2")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    story += [table, Spacer(1, 24), p(_t("sign", lang), right), p(_t("date", lang).format(today=_today(summary)), right)]

    def footer(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawCentredString(A4[0] / 2, 1.0 * cm, f"{notice.department}  " + _t("page", lang).format(page=doc.page))
        canvas.restoreState()

    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=1.5 * cm, rightMargin=1.5 * cm, topMargin=1.6 * cm,
                            bottomMargin=1.6 * cm, title=f"{_t('title', lang)} · {notice.department}", author="perfrules")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return path


def _escape(value: str) -> str:
    """Text for a ReportLab paragraph (a small XML dialect): markup characters escaped, kept line breaks."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")


# From a run directory ------------------------------------------------------------------------------------------

def read_run_findings(run_dir: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A run directory's findings (findings.jsonl, with names and amounts from findings.csv) and summary.json."""
    run_dir = Path(run_dir)
    for name in ("summary.json", "findings.jsonl", "findings.csv"):
        if not (run_dir / name).is_file():
            raise UsageError([Problem("notices.not-run-dir", f"{run_dir} 不是 nightly 运行目录：缺少 {name}。",
                                      f"{run_dir} is not a nightly run folder: {name} is missing.", Where(file=str(run_dir / name)),
                                      "给出 perfrules nightly --out 写出的目录。", "Give a folder written by perfrules nightly --out.")])
    summary = _read_json(run_dir / "summary.json")
    records = list(_jsonl(run_dir / "findings.jsonl"))
    extra = pd.read_csv(run_dir / "findings.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if len(extra) != len(records):
        raise UsageError([Problem("notices.mismatch", f"{run_dir} 中 findings.csv 有 {len(extra)} 行，findings.jsonl 有 {len(records)} 行。",
                                  f"In {run_dir}, findings.csv has {len(extra)} rows and findings.jsonl {len(records)}.",
                                  Where(file=str(run_dir / "findings.csv")), "重新运行 nightly。", "Run nightly again.")])

    def column(zh: str, en: str) -> list[str]:
        name = zh if zh in extra.columns else en
        values = extra[name].tolist() if name in extra.columns else [""] * len(extra)
        return [_unquote(v) for v in values]

    names, amounts, paid = column("项目名称", "project_name"), column("申请金额(元)", "amount"), column("已支付(元)", "paid")
    rows = []
    for r, name, amount, paid_value in zip(records, names, amounts, paid):
        location = r.get("location") or {}
        rows.append({"department": r.get("department"), "severity": r.get("severity"), "rule_id": r.get("rule_id"),
                     "title": r.get("title"), "project_id": r.get("project_id"), "project_name": name or None,
                     "fiscal_year": r.get("fiscal_year"), "amount": _number(amount), "paid": _number(paid_value),
                     "message": r.get("message"), "recommendation": r.get("recommendation"),
                     "source": "；".join(f"{s.get('document', '')} {s.get('clause', '')}" for s in r.get("source") or []),
                     "evidence": json.dumps(r.get("evidence") or {}, ensure_ascii=False), "file": location.get("file"),
                     "row": location.get("row")})
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["fiscal_year"] = frame["fiscal_year"].astype("Int64")
    return frame, summary


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError([Problem("notices.bad-file", f"无法读取 {path}：{exc}", f"cannot read {path}: {exc}", Where(file=str(path)),
                                  "重新运行 nightly。", "Run nightly again.")]) from None
    return value if isinstance(value, dict) else {}


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise UsageError([Problem("notices.bad-line", f"{path.name} 第 {number} 行不是 JSON：{exc}",
                                          f"{path.name} line {number} is not JSON: {exc}", Where(file=str(path), line=number),
                                          "重新运行 nightly。", "Run nightly again.")]) from None


def _unquote(value: str) -> str:
    """A findings.csv cell without the quote that marks formula-like text (``perfrules.outputs.cells``)."""
    return value[1:] if value.startswith("'") and len(value) > 1 and value[1] in "=+-@\t\r" else value


def _number(value: str) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def listing(paths: Sequence[Path]) -> list[str]:
    """The file names written, for a command's output."""
    return [p.name for p in paths]
