"""整改通知: one rectification notice per 主管部门, as a workbook and a PDF, ready to send and to file.

A notice addresses one department, says which check it comes from (as-of date, profile, rule pack)
and how many findings it has by severity, then lists them — most severe first — with the project,
the problem, the recommendation and the policy clause, and leaves room for the bureau's deadline and
seal. Findings without a department go to 无部门 (for the bureau itself to sort out).

The PDF uses ReportLab's built-in CID font STSong-Light: the reader's PDF viewer supplies the glyphs,
so nothing depends on fonts installed on the machine that writes it. Its table cells are plain text
wrapped here (a ReportLab Paragraph per cell costs about five times as much).

Every department gets its notice, whatever the size of the run. A department of a province-sized run
can have thousands of findings, which nobody prints and which would cost the nightly run minutes to lay
out; so each file lists the most severe ones up to a cap and says where the rest are:

- the PDF (the letter to print and file) lists at most ``pdf_rows`` and points to the workbook;
- the workbook lists at most ``max_rows``; when the department has more, ``<部门>.csv`` beside it holds
  every one of its findings (the columns of findings.csv) and the workbook and the PDF point to it.

``perfrules nightly`` writes the notices into ``RUN_DIR/notices/`` with ``NIGHTLY_PDF_ROWS`` and
``NIGHTLY_WORKBOOK_ROWS``; ``perfrules notices RUN_DIR`` writes them again from a run directory's
findings (``read_run_findings``), with caps of the user's choosing.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import unicodedata
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
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
from perfrules.outputs.csv_jsonl import CHANGES, csv_table, write_csv
from perfrules.outputs.evidence import shown_evidence
from perfrules.outputs.workbook import EXCEL_CELL_CHARS, row_height, text
from perfrules.rulepack.model import SEVERITIES

NOTICE_ROWS = 200  # rows of a notice's PDF and workbook (``perfrules notices``)
NOTICES = "notices"  # the folder of a run directory that holds them
# Nightly's caps. A province-sized run has about 200 departments with a few thousand findings each: every
# department gets its notice in seconds (benchmarks/nightly.py prints the notices stage), and a county's
# departments, with a few dozen findings each, get them complete.
NIGHTLY_PDF_ROWS = 10
NIGHTLY_WORKBOOK_ROWS = 50
NO_DEPARTMENT = "无部门"
FONT = "STSong-Light"
COLUMNS = ("department", "severity", "rule_id", "title", "requirement", "project_id", "project_name", "fiscal_year", "amount", "paid",
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
    "more": ("本通知列出最严重的 {shown} 项（共 {total} 项）；全部问题见{where}。",
             "This notice lists the {shown} most severe of {total} issues; all of them are in {where}."),
    "attached": ("同时发送的 {name}", "the attached {name}"),
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
    """One department's notice: its name, its file stem, its first findings (most severe first) and where all
    of them are in the run's findings (``positions``)."""

    department: str
    stem: str
    findings: list[dict[str, Any]]
    total: int
    by_severity: dict[str, int]
    positions: np.ndarray | None = None


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
    """The findings grouped by department (most findings first; 无部门 last), the first ``max_rows`` of each as records."""
    if not len(findings):
        return []
    frame = findings.loc[:, [c for c in COLUMNS if c in findings.columns]]
    department = frame["department"].astype("string").fillna(NO_DEPARTMENT)
    severity = frame["severity"].astype("string")
    rank = severity.map({s: i for i, s in enumerate(SEVERITIES)}).fillna(len(SEVERITIES)).astype(int)
    order = pd.DataFrame({"d": department, "r": rank, "i": np.arange(len(frame))}).sort_values(["d", "r", "i"], kind="stable")
    names = order["d"].to_numpy()
    starts = np.flatnonzero(np.r_[True, names[1:] != names[:-1]])
    ends = np.r_[starts[1:], len(names)]
    positions = order["i"].to_numpy()
    # The listed rows of every department are converted at once (a conversion per department cost ~0.1 s each).
    listed = np.concatenate([positions[a:min(b, a + max_rows)] for a, b in zip(starts, ends)])
    shown = frame.iloc[listed]
    records = pa.Table.from_pandas(shown.astype({c: "object" for c in shown.columns if shown[c].dtype == "string"}),
                                   preserve_index=False).to_pylist()
    for r in records:
        r.update({c: None for c in COLUMNS if c not in r})
    counts = pd.crosstab(department, severity)
    taken: set[str] = set()
    notices = []
    at = 0
    for a, b in zip(starts, ends):
        name, n = str(names[a]), min(b - a, max_rows)
        by_severity = {s: int(counts.at[name, s]) if s in counts.columns else 0 for s in SEVERITIES}
        notices.append(Notice(name, "", records[at:at + n], int(b - a), by_severity, positions[a:b]))
        at += n
    notices.sort(key=lambda n: (n.department == NO_DEPARTMENT, -n.by_severity[SEVERITIES[0]], -n.total, n.department))
    for notice in notices:
        notice.stem = file_stem(notice.department, taken)
    return notices


def write_notices(folder: str | Path, findings: pd.DataFrame, summary: dict[str, Any], lang: str = "zh",
                  labels: dict[str, str] | None = None, max_rows: int = NOTICE_ROWS, pdf: bool = True,
                  departments: Collection[str] | None = None, pdf_rows: int | None = None) -> list[Path]:
    """Write ``<department>.xlsx`` and ``<department>.pdf`` for each department (or those in ``departments``) into
    ``folder``, and ``<department>.csv`` for a department with more than ``max_rows`` findings; the files written.

    The workbook lists at most ``max_rows`` findings, the PDF at most ``pdf_rows`` (default: ``max_rows``)."""
    if max_rows < 1 or (pdf_rows is not None and pdf_rows < 1):
        raise ValueError("max_rows and pdf_rows must be at least 1")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pdf_rows = min(pdf_rows or max_rows, max_rows)
    written = []
    notices = [n for n in notices_of(findings, max_rows) if departments is None or n.department in departments]
    write_department_csvs(folder, findings, [n for n in notices if n.total > max_rows], lang)
    for notice in notices:
        complete = folder / f"{notice.stem}.csv" if notice.total > max_rows else None
        written.append(write_notice_xlsx(folder / f"{notice.stem}.xlsx", notice, summary, lang, labels or {}, complete))
        if complete is not None:
            written.append(complete)
        if pdf:
            elsewhere = complete or folder / f"{notice.stem}.xlsx"  # the file that holds all of them
            written.append(write_notice_pdf(folder / f"{notice.stem}.pdf", notice, summary, lang, pdf_rows, elsewhere))
    return written


def write_department_csvs(folder: Path, findings: pd.DataFrame, notices: Sequence[Notice], lang: str) -> None:
    """``<stem>.csv`` for each of ``notices``: every finding of its department, with the columns of findings.csv
    (UTF-8 with BOM, formula-like text quoted).

    The findings are converted to CSV columns once and each file takes its department's rows: a conversion per
    department cost 1.9–2.4 s of CPU for a 1M-project run's 200 departments (2026-12-06). A department's file has
    the change columns (status, nights) that its own findings fill, as findings.csv has those its findings fill."""
    changes = [name for name in CHANGES if name in findings]
    filled = {name: findings[name].notna().to_numpy() for name in changes}
    if "requirement" not in findings.columns:
        findings = findings.assign(requirement="")
    tables: dict[tuple[str, ...], pa.Table] = {}
    for notice in notices:
        assert notice.positions is not None
        shown = tuple(name for name in changes if filled[name][notice.positions].any())
        if shown not in tables:
            tables[shown] = csv_table(findings, lang, shown)
        write_csv(folder / f"{notice.stem}.csv", tables[shown].take(pa.array(notice.positions)))


def write_nightly_notices(folder: str | Path, findings: pd.DataFrame, summary: dict[str, Any], lang: str = "zh",
                          labels: dict[str, str] | None = None) -> list[Path]:
    """Nightly's notices: every department's, capped at ``NIGHTLY_WORKBOOK_ROWS`` and ``NIGHTLY_PDF_ROWS`` rows."""
    return write_notices(folder, findings, summary, lang, labels, NIGHTLY_WORKBOOK_ROWS, pdf_rows=NIGHTLY_PDF_ROWS)


def _intro(notice: Notice, summary: dict[str, Any], lang: str) -> str:
    run = summary.get("run", {})
    block, warn, info = (notice.by_severity.get(s, 0) for s in SEVERITIES)
    return _t("intro", lang).format(as_of=run.get("as_of", ""), profile=run.get("profile", ""), pack=run.get("pack_version", ""),
                                    total=f"{notice.total:,}", block=f"{block:,}", warn=f"{warn:,}", info=f"{info:,}")


def _more(notice: Notice, shown: int, where: Path | None, lang: str) -> str | None:
    """The note of a notice that lists ``shown`` of its findings: how many there are and which file holds them all."""
    if notice.total <= shown:
        return None
    name = where.name if where is not None else "findings.csv"
    place = _t("attached", lang).format(name=name)
    return _t("more", lang).format(shown=f"{shown:,}", total=f"{notice.total:,}", where=place)


def _clean(value: Any) -> str:
    return "" if value is None or value is pd.NA else _CONTROL.sub("\ufffd", str(value))


def _today(summary: dict[str, Any]) -> str:
    finished = str(summary.get("run", {}).get("finished") or summary.get("run", {}).get("started") or "")
    return finished[:10] or dt.date.today().isoformat()


# The workbook --------------------------------------------------------------------------------------------------

NOTICE_XLSX_COLUMNS = (("no", 5), ("level", 8), ("rule", 18), ("project", 24), ("problem", 36), ("advice", 30),
                       ("source", 22), ("evidence", 28))


def write_notice_xlsx(path: Path, notice: Notice, summary: dict[str, Any], lang: str, labels: dict[str, str],
                      complete: Path | None = None) -> Path:
    """The notice as a one-sheet workbook laid out like the letter, printable on A4 landscape; ``complete`` is the
    file that holds all of the department's findings when the notice lists only some."""
    # in_memory: no temporary file per worksheet (creating and removing them cost more than writing a short notice)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
                                         "in_memory": True})
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
        more = _more(notice, len(notice.findings), complete, lang)
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
        evidence = shown_evidence(json.loads(f["evidence"] or "{}"), labels, lang)
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


CELL_SIZE, CELL_LEADING = 8.5, 11.5
CELL_LINES = 40  # a cell longer than this is cut (a table row must fit on a page)
PDF_WIDTHS = (1.0 * cm, 1.6 * cm, 3.6 * cm, 5.2 * cm, 3.9 * cm, 2.7 * cm)
_PADDING = 3


def write_notice_pdf(path: Path, notice: Notice, summary: dict[str, Any], lang: str, rows: int | None = None,
                     elsewhere: Path | None = None) -> Path:
    """The notice as an A4 PDF with the Chinese font embedded by reference (STSong-Light), listing the first ``rows``
    findings (default: all the notice holds); ``elsewhere`` is the file that holds all of them."""
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=16, wordWrap="CJK")
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=10)
    note = ParagraphStyle("note", parent=body, textColor=colors.HexColor("#B71C1C"))
    right = ParagraphStyle("right", parent=body, alignment=2)

    def p(value: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(_escape(value), style)

    listed = notice.findings[:rows] if rows is not None else notice.findings
    story: list[Any] = [p(_t("title", lang), title), p(f"{notice.department}{'：' if lang != 'en' else ':'}", body),
                        Spacer(1, 4), p(_intro(notice, summary, lang), body), Spacer(1, 6)]
    more = _more(notice, len(listed), elsewhere, lang)
    if more:
        story += [p(more, note), Spacer(1, 6)]
    cells = [[_t(k, lang) for k in ("no", "level", "project", "problem", "advice", "source")]]
    for i, f in enumerate(listed, 1):
        rule, project, message, advice, source, _ = _row_texts(f, lang, {})
        level = text(f["severity"], lang) if f["severity"] else ""
        cells.append([str(i), level, "\n".join(t for t in (project, rule) if t), message, advice, source])
    wrapped = [[_wrap(value, width - 2 * _PADDING) for value, width in zip(row, PDF_WIDTHS)] for row in cells]
    table = Table(wrapped, colWidths=list(PDF_WIDTHS), repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), font, CELL_SIZE, CELL_LEADING),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9AA5B1")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EDF2")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), _PADDING), ("RIGHTPADDING", (0, 0), (-1, -1), _PADDING),
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


@functools.cache
def _char_width(char: str) -> float:
    return float(pdfmetrics.stringWidth(char, _font(), CELL_SIZE))


def _wrap(value: str, width: float) -> str:
    """``value`` broken into lines no wider than ``width`` points: anywhere between Chinese characters, at a space
    within other text when there is one, and at most ``CELL_LINES`` lines."""
    lines: list[str] = []
    for paragraph in value.split("\n"):
        line, used = "", 0.0
        for char in paragraph:
            w = _char_width(char)
            if used + w > width and line:
                cut = line.rfind(" ") if not _is_wide(char) else -1
                if cut > 0:
                    lines.append(line[:cut])
                    line = line[cut + 1:]
                else:
                    lines.append(line)
                    line = ""
                used = sum(_char_width(c) for c in line)
            line += char
            used += w
        lines.append(line)
    if len(lines) > CELL_LINES:
        lines = [*lines[:CELL_LINES - 1], lines[CELL_LINES - 1][:-1] + "…"]
    return "\n".join(lines)


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


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
                     "title": r.get("title"), "requirement": "、".join(r.get("requirement") or []), "project_id": r.get("project_id"), "project_name": name or None,
                     "fiscal_year": r.get("fiscal_year"), "amount": _number(amount), "paid": _number(paid_value),
                     "message": r.get("message"), "recommendation": r.get("recommendation"),
                     "source": "；".join(f"{s.get('document', '')} {s.get('clause', '')}" for s in r.get("source") or []),
                     "evidence": json.dumps(r.get("evidence") or {}, ensure_ascii=False), "file": location.get("file"),
                     "row": location.get("row")})
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["fiscal_year"] = frame["fiscal_year"].astype("Int64")
    if any(isinstance(r, str) for r in frame["row"]):  # a place in a submission: every row as text, one kind
        frame["row"] = [None if pd.isna(r) else str(r) for r in frame["row"]]  # (departments' CSVs convert together)
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
