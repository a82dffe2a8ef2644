"""The nightly report as one self-contained HTML page: figures, charts, the watchlist and a searchable table.

A director reads it top down: the figures, the charts (by severity, the trend by as-of date, by rule and
by department), the 重点关注台账 and the findings. What only the people running the check need (exit
code, stage timings, input notes with their codes, row counts) is folded into an appendix at the end.

Nothing is fetched when the page is opened: the CSS, the script and the charts (SVG) are inline and the
fonts are the reader's own. Every headline figure sits in an element with a ``data-figure`` attribute
whose text is exactly the number, so tests (and anyone scripting the page) can compare it with
summary.json. The first ``FIRST_ROWS`` rows of the watchlist and of the findings are in the HTML itself
(they show without JavaScript and print); a small script then draws the table from the rows embedded as
JSON, at most ``max_rows`` of them (most severe first), with search and filters; when there are more,
the page says so. The print stylesheet drops the scroll boxes and the controls and starts each section
on a new page. The page links the run's other files, those that exist.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from perfrules.outputs.workbook import (
    WatchedProject,
    department_counts,
    rule_counts,
    status_text,
    table_name,
    text,
    watchlist,
)
from perfrules.rulepack.model import SEVERITIES

TOP_BARS = 20
FIRST_ROWS = 100  # rows of each table written into the HTML (shown without JavaScript, printed)
NO_DEPARTMENT = "（无部门）"
# The run directory's other files, as the page links them (only those that exist are linked).
RUN_FILES = (("findings.csv", "发现清单 CSV", "findings (CSV)"), ("findings.jsonl", "发现清单 JSON Lines", "findings (JSON Lines)"),
             ("report.xlsx", "工作簿", "workbook"), ("notices", "整改通知（按部门）", "notices by department"),
             ("summary.json", "运行摘要 JSON", "run summary (JSON)"))
MAX_ERRORS = 1000  # data problems listed on the page; summary.json has them all
SEVERITY_COLORS = dict(zip(SEVERITIES, ("#c62828", "#ef6c00", "#1565c0")))
TOTAL_COLOR = "#37474f"
CHART_WIDTH = 620
BAR_ROW = 24
UNIT_PX = 7.2  # width of one display unit (half a CJK character) at the charts' 12px font
LABEL_UNITS = 34  # longest bar label, in display units

# The fields of a finding embedded for the table (and searched by the search box).
ROW_FIELDS = ("severity", "rule_id", "title", "requirement", "department", "project_id", "project_name",
              "fiscal_year", "message", "recommendation", "source", "status", "nights", "file", "row")

HTML_EN = {
    "预算绩效规则检查日报": "Budget performance nightly check", "运行": "Run", "至": "to", "用时": "took",
    "秒": "s", "退出码": "exit code", "按严重程度": "By severity", "按规则（前 20 条）": "By rule (top 20)",
    "按主管部门（前 20 个）": "By department (top 20)", "趋势": "Trend", "首次运行": "First run",
    "发现清单": "Findings", "搜索": "Search", "全部严重程度": "All severities", "全部规则": "All rules",
    "全部部门": "All departments", "显示": "Showing", "条": "", "数据问题": "Data problems", "无": "None",
    "各阶段用时": "Timings", "阶段": "Stage", "表": "Table", "输入": "Inputs", "行数": "Rows", "项目": "Project",
    "位置": "Location", "没有符合条件的发现。": "No finding matches.", "需要启用 JavaScript 才能搜索和筛选；下表为前 {n} 条。":
    "Search and filters need JavaScript; the table below shows the first {n}.", "附录：运行细节": "Appendix: run details",
    "文件": "Files", "按检查日期的趋势": "Trend by as-of date", "重新检查": "re-checked",
    "运行于": "run on", "数据来源": "Export", "运行时间": "Run time", "（无部门）": "(no department)",
    "注：{runs} 重新检查了较早的检查日期；每个检查日期取最近一次运行。":
    "Note: {runs} re-checked an earlier as-of date; each as-of date shows its latest run.",
    "打印版列出表中已显示的行；完整清单见 findings.csv。": "The printout lists the rows shown; findings.csv has them all.",
}
STAGES_ZH = {"load": "读取数据", "facts": "生成事实", "evaluate": "规则评估", "findings": "生成发现", "compare": "对比上次运行", "write": "写出结果",
             "total": "合计"}


def _t(zh: str, lang: str) -> str:
    if lang != "en":
        return zh
    return HTML_EN[zh] if zh in HTML_EN else text(zh, lang)


def _e(value: Any) -> str:
    """Text from the data, escaped for HTML (NA as empty)."""
    return "" if value is None or value is pd.NA else html.escape(str(value))


def _script_json(value: Any) -> str:
    """JSON safe inside <script>: every "<" escaped, so no "</script>" or "<!--" can end the element early."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def write_html(path: str | Path, findings: pd.DataFrame, summary: dict[str, Any], history: list[dict[str, Any]],
               resolved: pd.DataFrame | None = None, lang: str = "zh", max_rows: int = 20000,
               files: Sequence[str] | None = None) -> None:
    """Write the report page to ``path``; ``files``: the run directory's files to link (default: those beside it now)."""
    path = Path(path)
    if files is None:
        files = [name for name, _, _ in RUN_FILES if (path.parent / name).exists()]
    path.write_text(render_html(findings, summary, history, resolved, lang, max_rows, files), encoding="utf-8")


def render_html(findings: pd.DataFrame, summary: dict[str, Any], history: list[dict[str, Any]],
                resolved: pd.DataFrame | None = None, lang: str = "zh", max_rows: int = 20000,
                files: Sequence[str] = ()) -> str:
    """The report page as a string, linking ``files`` of the run directory."""
    title = _t("预算绩效规则检查日报", lang)
    sections = [
        _header(summary, lang, files), _figures(summary, lang), _charts(summary, history, lang),
        _watchlist_section(watchlist(findings), lang, max_rows), _findings_section(findings, lang, max_rows),
    ]
    if resolved is not None:
        sections.append(_resolved_section(resolved, lang, max_rows))
    sections.append(_run_section(summary, lang))
    return (f'<!DOCTYPE html>\n<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{_CSS}</style></head><body><main>{''.join(sections)}</main>"
            f"<script>{_SCRIPT}</script></body></html>\n")


def _header(summary: dict[str, Any], lang: str, files: Sequence[str] = ()) -> str:
    run = summary["run"]
    facts = [(_t("检查日期", lang), run.get("as_of")), (_t("配置", lang), run.get("profile")),
             (_t("规则包版本", lang), run.get("pack_version")), (_t("规则数", lang), run.get("rules_in_force"))]
    items = "".join(f"<span><b>{_e(k)}</b> {_e(v)}</span>" for k, v in facts if v is not None)
    links = [(name, zh if lang != "en" else en) for name, zh, en in RUN_FILES if name in files]
    nav = ""
    if links:
        anchors = "".join(f'<a href="{_e(name)}{"/" if "." not in name else ""}">{_e(label)}</a>' for name, label in links)
        nav = f'<nav class="files"><b>{_e(_t("文件", lang))}</b>{anchors}</nav>'
    return f'<header><h1>{_e(_t("预算绩效规则检查日报", lang))}</h1><p class="meta">{items}</p>{nav}</header>'


def _run_time(summary: dict[str, Any], lang: str) -> str:
    """2026-11-21 02:00:00 至 02:00:03，用时 3.0 秒."""
    run, seconds = summary["run"], (summary.get("timings") or {}).get("total")
    started, finished = (str(run.get(k) or "").replace("T", " ") for k in ("started", "finished"))
    if started[:10] == finished[:10]:
        finished = finished[11:]
    span = f"{started} {_t('至', lang)} {finished}" if finished else started
    if seconds is None:
        return span
    return f"{span}{'，' if lang != 'en' else ', '}{_t('用时', lang)} {seconds:.1f} {_t('秒', lang)}"


@dataclass
class _Figure:
    key: str
    label: str
    value: int
    color: str


def _figures(summary: dict[str, Any], lang: str) -> str:
    counts, changes = summary["counts"], summary.get("changes")
    figures = [_Figure("total", _t("发现总数", lang), counts["total"], TOTAL_COLOR)]
    figures += [_Figure(f"severity-{s}", text(s, lang), counts["by_severity"].get(s, 0), SEVERITY_COLORS[s])
                for s in SEVERITIES]
    figures.append(_Figure("watchlist", _t("重点关注项目", lang), counts.get("watchlist_projects", 0), "#6a1b9a"))
    figures.append(_Figure("data-findings", _t("数据问题发现", lang), counts.get("data_findings", 0), "#546e7a"))
    if changes is not None:
        figures += [_Figure(key, _t(zh, lang).capitalize(), changes.get(key, 0), "#00897b")
                    for key, zh in (("new", "新增"), ("resolved", "已解决"), ("persisting", "持续"))]
    cards = "".join(f'<div class="figure" style="border-color:{f.color}"><div class="label">{_e(f.label)}</div>'
                    f'<div class="value" data-figure="{_e(f.key)}">{int(f.value)}</div></div>' for f in figures)
    return f'<section class="figures">{cards}</section>'


# Charts -------------------------------------------------------------------------------------------------------

@dataclass
class _Bar:
    label: str
    segments: list[tuple[int, str]]  # (count, colour), drawn one after another
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(n for n, _ in self.segments)


def _charts(summary: dict[str, Any], history: list[dict[str, Any]], lang: str) -> str:
    counts = summary["counts"]
    by_severity = [_Bar(text(s, lang), [(counts["by_severity"].get(s, 0), SEVERITY_COLORS[s])], {"data-severity": s})
                   for s in SEVERITIES]
    by_rule = [_Bar(f"{rule_id} {title}", [(n, SEVERITY_COLORS.get(severity, TOTAL_COLOR))],
                    {"data-rule": rule_id, "data-count": str(n)})
               for rule_id, title, severity, n in rule_counts(summary)[:TOP_BARS]]
    departments = sorted(department_counts(summary), key=lambda d: (-d[4], -d[1], d[0]))[:TOP_BARS]
    by_department = [_Bar(name, [(n, SEVERITY_COLORS[s]) for n, s in zip(d, SEVERITIES)],
                          {"data-department": name, "data-count": str(total)})
                     for name, *d, total in departments]
    legend = _legend([(text(s, lang), SEVERITY_COLORS[s], None) for s in SEVERITIES])
    cards = [
        _card(_t("按严重程度", lang), _bar_chart(by_severity, lang)),
        _card(_t("按检查日期的趋势", lang), _trend_chart(history, lang)),
        _card(_t("按规则（前 20 条）", lang), _bar_chart(by_rule, lang) + legend),
        _card(_t("按主管部门（前 20 个）", lang), _bar_chart(by_department, lang) + legend),
    ]
    return f'<section class="charts">{"".join(cards)}</section>'


def _card(title: str, body: str) -> str:
    return f'<div class="card"><h2>{_e(title)}</h2>{body}</div>'


def _legend(items: list[tuple[str, str, int | None]]) -> str:
    entries = "".join(f'<span><i style="background:{color}"></i>{_e(label)}'
                      f'{"" if value is None else f" <b>{value:,}</b>"}</span>' for label, color, value in items)
    return f'<p class="legend">{entries}</p>'


def _units(char: str) -> int:
    """Display width of a character: 2 for CJK and full-width forms, 1 otherwise."""
    return 2 if ord(char) >= 0x2E80 else 1


def _clip(label: str, units: int) -> str:
    """``label`` cut to ``units`` display units, with "…" when cut."""
    if sum(map(_units, label)) <= units:
        return label
    out, used = "", 0
    for char in label:
        if used + _units(char) > units - 2:
            return out + "…"
        out, used = out + char, used + _units(char)
    return out


def _bar_chart(bars: list[_Bar], lang: str) -> str:
    """Horizontal bars, each labelled with its name and its number."""
    if not bars:
        return f'<p class="empty">{_e(_t("无", lang))}</p>'
    labels = [_clip(b.label, LABEL_UNITS) for b in bars]
    label_width = max(sum(map(_units, s)) for s in labels) * UNIT_PX + 14
    room = CHART_WIDTH - label_width - 64
    largest = max(b.total for b in bars) or 1
    rows = []
    for i, (bar, label) in enumerate(zip(bars, labels)):
        top, x = 4 + i * BAR_ROW, label_width
        rects = []
        for count, color in bar.segments:
            width = room * count / largest
            if count:
                rects.append(f'<rect x="{x:.1f}" y="{top + 3}" width="{max(width, 1.5):.1f}" height="{BAR_ROW - 8}" '
                             f'rx="2" fill="{color}"/>')
            x += width
        attributes = "".join(f' {k}="{_e(v)}"' for k, v in bar.attributes.items())
        middle = top + BAR_ROW / 2
        rows.append(f'<g class="bar"{attributes}><title>{_e(bar.label)}: {bar.total:,}</title>'
                    f'<text x="{label_width - 8:.1f}" y="{middle:.1f}" text-anchor="end" dominant-baseline="central">'
                    f'{_e(label)}</text>{"".join(rects)}'
                    f'<text class="count" x="{x + 6:.1f}" y="{middle:.1f}" dominant-baseline="central">{bar.total:,}</text></g>')
    height = len(bars) * BAR_ROW + 8
    return (f'<svg class="chart" viewBox="0 0 {CHART_WIDTH} {height}" width="100%" role="img">'
            f'{"".join(rows)}</svg>')


def _axis_step(largest: int) -> int:
    """The smallest of 1, 2, 5 × 10ⁿ that covers ``largest`` in at most five steps."""
    power = 1
    while True:
        for factor in (1, 2, 5):
            if power * factor * 5 >= largest:
                return power * factor
        power *= 10


def trend_points(history: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The runs to plot, one per as-of date (its latest run), oldest as-of first; and the runs that re-checked
    an as-of date no later than one already checked before them."""
    latest: dict[str, dict[str, Any]] = {}
    rechecks, seen = [], ""
    for run in history:
        as_of = str(run.get("as_of") or run.get("finished") or "")
        if seen and as_of <= seen:
            rechecks.append(run)
        seen = max(seen, as_of)
        latest[as_of] = run
    return [latest[k] for k in sorted(latest)], rechecks


def _trend_chart(history: list[dict[str, Any]], lang: str) -> str:
    """Total and per-severity counts by as-of date (the date the data describe, not the day of the run); a run
    that re-checked an earlier as-of date is noted. One point is marked 首次运行."""
    if not history:
        return f'<p class="empty">{_e(_t("无", lang))}</p>'
    points, rechecks = trend_points(history)
    width, height, left, right, top, bottom = CHART_WIDTH, 250, 52, 24, 22, 34
    inset = 36  # keeps the first and last points (and their date labels) off the chart's edges
    plot_width, plot_height = width - left - right - 2 * inset, height - top - bottom
    series = [(_t("合计", lang), TOTAL_COLOR, [int(h.get("total", 0)) for h in points])]
    series += [(text(s, lang), SEVERITY_COLORS[s], [int(h.get("by_severity", {}).get(s, 0)) for h in points])
               for s in SEVERITIES]
    largest = max(max(values) for _, _, values in series) or 1
    step = _axis_step(largest)
    ticks = -(-largest // step)
    ceiling = step * ticks
    runs = len(points)

    def x(i: int) -> float:
        return left + inset + (plot_width * i / (runs - 1) if runs > 1 else plot_width / 2)

    def y(v: float) -> float:
        return top + plot_height * (1 - v / ceiling)

    parts = []
    for tick in range(ticks + 1):
        value = step * tick
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
                     f'<text class="axis" x="{left - 6}" y="{y(value):.1f}" text-anchor="end" dominant-baseline="central">'
                     f'{value:,.0f}</text>')
    label_every = max(1, -(-runs // 6))
    for i, run in enumerate(points):
        if i % label_every == 0 or i == runs - 1:
            day = str(run.get("as_of") or run.get("finished") or "")[:10]
            parts.append(f'<text class="axis" x="{x(i):.1f}" y="{height - 12}" text-anchor="middle" data-as-of="{_e(day)}">'
                         f'{_e(day)}</text>')
    rechecked = {id(r) for r in rechecks}
    for name, color, values in series:
        if runs > 1:
            line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
            parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, (value, run) in enumerate(zip(values, points)):
            when = _e(f"{_t('检查日期', lang)} {run.get('as_of', '')} · {_t('运行于', lang)} {run.get('finished', '')}")
            ring = ' stroke="#000" stroke-width="1.5"' if id(run) in rechecked else ""
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3.5" fill="{color}"{ring}>'
                         f"<title>{_e(name)} {value:,} · {when}</title></circle>")
    totals = series[0][2]
    if runs <= 15:  # label the total at each point; beyond that the numbers would collide
        parts += [f'<text class="count" x="{x(i):.1f}" y="{y(v) - 9:.1f}" text-anchor="middle">{v:,}</text>'
                  for i, v in enumerate(totals)]
    if len(history) == 1:
        parts.append(f'<text class="first-run" x="{left + 8}" y="{top + 4}" dominant-baseline="hanging">'
                     f'{_e(_t("首次运行", lang))}</text>')
    legend = _legend([(name, color, values[-1]) for name, color, values in series])
    note = ""
    if rechecks:
        which = "、".join(f"{str(r.get('finished', ''))[:16].replace('T', ' ')}（{r.get('as_of', '')}）" for r in rechecks[-5:])
        note = f'<p class="note recheck">{_e(_t("注：{runs} 重新检查了较早的检查日期；每个检查日期取最近一次运行。", lang).format(runs=which))}</p>'
    return f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img">{"".join(parts)}</svg>{legend}{note}'


# Tables -------------------------------------------------------------------------------------------------------

def _number(value: Any) -> str:
    return "" if value is None or value is pd.NA else str(value)


def _table(headers: list[str], rows: list[list[str]], numeric: set[int], body_id: str | None = None) -> str:
    """A table of already-escaped cells; columns in ``numeric`` are right-aligned."""
    align = [' class="num"' if i in numeric else "" for i in range(len(headers))]
    head = "".join(f"<th{align[i]}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{align[i]}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>" for row in rows)
    tbody = f'<tbody id="{body_id}">' if body_id else "<tbody>"
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead>{tbody}{body}</tbody></table></div>'


def _limit_note(listed: int, total: int, where: str, lang: str) -> str:
    if total <= listed:
        return ""
    if lang == "en":
        note = f"The table lists the first {listed:,} of {total:,}; the full list is in {where}."
    else:
        note = f"表中列出前 {listed:,} 条（共 {total:,} 条）；完整清单见 {where}。"
    return f'<p class="note">{_e(note)}</p>'


def _watchlist_section(projects: list[WatchedProject], lang: str, max_rows: int) -> str:
    """The 重点关注台账 table, drawn by the page script from the embedded projects."""
    headers = [text(h, lang) for h in ("主管部门", "项目编码", "项目名称", "预算年度", "申请金额(元)", "已支付(元)",
                                       "触发规则", "处理建议", "持续次数")]
    embedded = [dict(vars(p)) for p in projects[:max_rows]]  # flat fields: no deep copy (asdict) needed
    if embedded:
        first = [_watch_cells(p) for p in embedded[:FIRST_ROWS]]
        body = (_table(headers, first, {3, 4, 5, 8}, body_id="watchlist-body")
                + f'<script type="application/json" id="watchlist-data">{_script_json(embedded)}</script>')
    else:
        body = f'<p class="empty">{_e(_t("无", lang))}</p>'
    note = _limit_note(len(embedded), len(projects), "report.xlsx", lang)
    return (f'<section id="watchlist"><h2>{_e(text("重点关注台账", lang))} '
            f'<small>{len(projects):,}</small></h2>{note}{body}</section>')


def _money(value: Any) -> str:
    return "" if value is None or value is pd.NA else f"{float(value):,.2f}"


def _watch_cells(p: dict[str, Any]) -> list[str]:
    """A watchlist row's cells as the page script draws them."""
    return [_e(p["department"]), _e(p["project_id"]), _e(p["project_name"]), _number(p["fiscal_year"]), _money(p["amount"]),
            _money(p["paid"]), _e("、".join(p["rules"])), _e("；".join(p["recommendations"])), _number(p["nights"])]


def _finding_row(r: dict[str, Any], lang: str) -> str:
    """A findings row as the page script draws it (``render`` in _SCRIPT)."""
    year = _number(r["fiscal_year"])
    name = _e(r["project_name"])
    project = f'<span class="id">{_e(r["project_id"])}</span><br><small>{name}{" · " if name and year else ""}{year}</small>'
    place = (_e(r["file"]) + (":" + _e(r["row"]) if r["row"] else "")) if r["file"] else ""
    severity = r["severity"]
    rank = SEVERITIES.index(severity) if severity in SEVERITIES else -1
    status = r["status"] if isinstance(r["status"], str) else ""
    return (f'<tr><td><span class="sev sev-{rank}">{_e(text(severity, lang) if severity else "")}</span></td>'
            f'<td><span class="id">{_e(r["rule_id"])}</span><br><small>{_e(r["title"])}</small></td>'
            f'<td>{_e(r["department"])}</td><td>{project}</td><td>{_e(r["message"])}</td><td>{_e(r["recommendation"])}</td>'
            f'<td><small>{_e(r["source"])}</small></td><td class="status-{_e(status)}">{_e(status_text(status, lang))}</td>'
            f'<td class="num">{_number(r["nights"])}</td><td class="place"><small>{place}</small></td></tr>')


def _findings_section(findings: pd.DataFrame, lang: str, max_rows: int) -> str:
    embedded = pa.Table.from_pandas(findings.head(max_rows).loc[:, list(ROW_FIELDS)], preserve_index=False).to_pylist()
    labels = {"severity": {s: text(s, lang) for s in SEVERITIES},
              "status": {s: status_text(s, lang) for s in ("new", "persisting")},
              "empty": _t("没有符合条件的发现。", lang), "noDepartment": _t("（无部门）", lang)}
    headers = [text("严重程度", lang), text("规则", lang), text("主管部门", lang), _t("项目", lang), text("问题", lang),
               text("处理建议", lang), text("依据", lang), text("状态", lang), text("持续次数", lang), _t("位置", lang)]
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    first = min(len(embedded), FIRST_ROWS)
    note = _limit_note(len(embedded), len(findings), "findings.csv / findings.jsonl", lang)
    controls = (f'<div class="controls"><input id="filter-text" type="search" placeholder="{_e(_t("搜索", lang))}" '
                f'aria-label="{_e(_t("搜索", lang))}">'
                f'<select id="filter-severity"><option value="">{_e(_t("全部严重程度", lang))}</option></select>'
                f'<select id="filter-rule"><option value="">{_e(_t("全部规则", lang))}</option></select>'
                f'<select id="filter-department"><option value="">{_e(_t("全部部门", lang))}</option></select>'
                f'<span class="shown">{_e(_t("显示", lang))} <b data-figure="shown">{len(embedded)}</b> '
                f'{_e(_t("条", lang))}</span></div>')
    return (f'<section id="findings"><h2>{_e(_t("发现清单", lang))} <small>{len(findings):,}</small></h2>{note}{controls}'
            f'<noscript><p class="note">{_e(_t("需要启用 JavaScript 才能搜索和筛选；下表为前 {n} 条。", lang).format(n=first))}'
            f'</p></noscript><p class="note print-only">{_e(_t("打印版列出表中已显示的行；完整清单见 findings.csv。", lang))}</p>'
            f'<div class="scroll tall"><table class="findings"><thead><tr>{head}</tr></thead>'
            f'<tbody id="findings-body">{"".join(_finding_row(r, lang) for r in embedded[:FIRST_ROWS])}</tbody></table></div>'
            f'<script type="application/json" id="findings-data">{_script_json(embedded)}</script>'
            f'<script type="application/json" id="report-labels">{_script_json(labels)}</script></section>')


def _resolved_section(resolved: pd.DataFrame, lang: str, max_rows: int) -> str:
    fields = ("severity", "rule_id", "title", "department", "project_id", "fiscal_year", "nights", "first_seen")
    headers = [text(h, lang) for h in ("严重程度", "规则编号", "规则", "主管部门", "项目编码", "预算年度", "持续次数", "首次发现")]
    records = pa.Table.from_pandas(resolved.head(max_rows).loc[:, list(fields)], preserve_index=False).to_pylist()
    rows = [[_e(text(r["severity"], lang)), _e(r["rule_id"]), _e(r["title"]), _e(r["department"]), _e(r["project_id"]),
             _number(r["fiscal_year"]), _number(r["nights"]), _e(r["first_seen"])] for r in records]
    body = _table(headers, rows, {5, 6}) if rows else f'<p class="empty">{_e(_t("无", lang))}</p>'
    note = _limit_note(len(rows), len(resolved), "report.xlsx", lang)
    return (f'<section id="resolved"><details><summary><h2>{_e(text("已解决", lang))} <small>{len(resolved):,}</small>'
            f"</h2></summary>{note}{body}</details></section>")


def _run_section(summary: dict[str, Any], lang: str) -> str:
    """The appendix, folded: how the run went (times, exit code, export), its input notes, stage timings and row counts."""
    run = summary["run"]
    errors = summary.get("errors") or []
    if errors:
        items = "".join(f"<li><code>{_e(e.get('code'))}</code> {_e(e.get('message'))} <small>{_e(e.get('source'))}</small></li>"
                        for e in errors[:MAX_ERRORS])
        problems = _limit_note(min(len(errors), MAX_ERRORS), len(errors), "summary.json", lang) + f'<ul class="errors">{items}</ul>'
    else:
        problems = f'<p class="empty">{_e(_t("无", lang))}</p>'
    timings = [[_e(STAGES_ZH.get(stage, stage) if lang != "en" else stage), f"{float(seconds):.2f}"]
               for stage, seconds in (summary.get("timings") or {}).items()]
    inputs = [[_e(table_name(table, lang)), f"{int(rows):,}"] for table, rows in (summary.get("inputs") or {}).items()]
    facts = [(_t("运行时间", lang), _run_time(summary, lang)), (_t("退出码", lang), run.get("exit_code")),
             (_t("数据来源", lang), run.get("export"))]
    run_facts = "".join(f"<span><b>{_e(k)}</b> {_e(v)}</span>" for k, v in facts if v is not None)
    return (f'<section class="appendix" id="appendix"><details><summary><h2>{_e(_t("附录：运行细节", lang))}</h2></summary>'
            f'<p class="meta">{run_facts}</p><div class="run">'
            f'<div class="card"><h2>{_e(_t("数据问题", lang))} <small>{len(errors):,}</small></h2>{problems}</div>'
            f'<div class="card"><h2>{_e(_t("各阶段用时", lang))}</h2>'
            f'{_table([_t("阶段", lang), _t("秒", lang)], timings, {1})}</div>'
            f'<div class="card"><h2>{_e(_t("输入", lang))}</h2>{_table([_t("表", lang), _t("行数", lang)], inputs, {1})}</div>'
            "</div></details></section>")


_CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e1e5ea; --paper: #fff; --ground: #f4f6f8;
        --block: #c62828; --warn: #ef6c00; --info: #1565c0; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--ground); color: var(--ink); font-size: 14px; line-height: 1.5;
       font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif; }
main { max-width: 1360px; margin: 0 auto; padding: 20px 24px 40px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
.meta { margin: 0; color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 18px; }
.meta b { color: var(--ink); font-weight: 600; }
.export { margin: 2px 0 0; color: var(--muted); font-size: 12px; }
h2 { font-size: 16px; margin: 0 0 10px; }
h2 small { color: var(--muted); font-weight: normal; margin-left: 6px; }
section { margin-top: 20px; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(118px, 1fr)); gap: 10px; }
.figure { background: var(--paper); border: 1px solid var(--line); border-left: 5px solid; border-radius: 6px;
          padding: 8px 14px; }
.figure .label { color: var(--muted); font-size: 13px; }
.figure .value { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: 6px; padding: 14px 16px; }
svg.chart { display: block; max-width: 720px; }
svg text { font-size: 12px; fill: var(--ink); }
svg text.count { font-weight: 600; }
svg text.axis { fill: var(--muted); font-size: 11px; }
svg text.first-run { fill: var(--muted); font-size: 13px; }
svg line.grid { stroke: var(--line); }
.legend { margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 4px 16px; color: var(--muted); font-size: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
.legend b { color: var(--ink); }
.scroll { max-height: 520px; overflow: auto; background: var(--paper); border: 1px solid var(--line); border-radius: 6px; }
.scroll.tall { max-height: 820px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { position: sticky; top: 0; background: #eef1f4; font-weight: 600; white-space: nowrap; z-index: 1; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
#watchlist td:nth-child(2) { white-space: nowrap; }
#watchlist td:nth-child(3), #watchlist td:nth-child(8) { min-width: 180px; }
table.findings td { font-size: 13px; }
table.findings td:nth-child(2) { min-width: 150px; }
table.findings td:nth-child(3) { min-width: 96px; }
table.findings td:nth-child(4) { min-width: 124px; }
table.findings td:nth-child(5), table.findings td:nth-child(6) { min-width: 200px; }
table.findings td:nth-child(7) { min-width: 150px; }
table.findings .id, table.findings td.place, table.findings td:nth-child(8) { white-space: nowrap; }
td small, li small { color: var(--muted); }
.sev { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-size: 12px; white-space: nowrap; }
.sev-0 { background: var(--block); } .sev-1 { background: var(--warn); } .sev-2 { background: var(--info); }
.status-new { color: #00796b; font-weight: 600; }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-bottom: 10px; }
.controls input, .controls select { font: inherit; padding: 5px 8px; border: 1px solid #c5ccd3; border-radius: 4px;
                                    background: var(--paper); }
.controls input { flex: 1 1 260px; }
.controls select { max-width: 260px; }
.shown { color: var(--muted); margin-left: auto; }
.note { background: #fff8e1; border: 1px solid #ffe082; border-radius: 4px; padding: 6px 10px; margin: 0 0 10px; }
.empty { color: var(--muted); }
details summary { cursor: pointer; }
details summary h2 { display: inline; }
.run { display: grid; grid-template-columns: 2fr 1fr 1fr; gap: 16px; align-items: start; }
.run .scroll { max-height: 360px; }
ul.errors { margin: 0; padding-left: 18px; max-height: 360px; overflow: auto; }
code { background: #eef1f4; padding: 0 4px; border-radius: 3px; font-size: 12px; }
@media (max-width: 900px) { .run { grid-template-columns: 1fr; } .charts { grid-template-columns: 1fr; } }
nav.files { margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; }
nav.files b { color: var(--muted); font-weight: 600; }
.appendix > details > summary h2 { color: var(--muted); }
.appendix .meta { margin: 6px 0 12px; }
.print-only { display: none; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { background: #fff; font-size: 11px; }
  main { max-width: none; padding: 0; }
  .scroll, .scroll.tall, .run .scroll, ul.errors { max-height: none; overflow: visible; border: 0; }
  th { position: static; }
  .controls, noscript, nav.files, .appendix { display: none; }
  .print-only { display: block; }
  .charts { grid-template-columns: 1fr 1fr; gap: 8px; }
  .charts .card, .figure, tr { break-inside: avoid; }
  #watchlist, #findings { break-before: page; }
  .card { border: 0; padding: 4px; }
  table.findings { table-layout: fixed; }
  table.findings td { font-size: 10px; min-width: 0 !important; padding: 4px 6px; }
  table.findings th:nth-child(1) { width: 6%; } table.findings th:nth-child(2) { width: 13%; }
  table.findings th:nth-child(3) { width: 8%; } table.findings th:nth-child(4) { width: 10%; }
  table.findings th:nth-child(5) { width: 21%; } table.findings th:nth-child(6) { width: 18%; }
  table.findings th:nth-child(7) { width: 12%; } table.findings th:nth-child(8) { width: 4%; }
  table.findings th:nth-child(9) { width: 3%; } table.findings th:nth-child(10) { width: 5%; }
  table.findings th { white-space: normal; font-size: 10px; }
}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var BATCH = 200;  // rows drawn at a time; the next batch when the reader scrolls near the end
  function data(id) { return JSON.parse(document.getElementById(id).textContent); }
  var labels = data("report-labels");
  var severities = Object.keys(labels.severity);
  var ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};
  function esc(v) { return v == null ? "" : String(v).replace(/[&<>"']/g, function (c) { return ENTITIES[c]; }); }
  function money(v) {
    return v == null ? "" : Number(v).toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  }

  // Shows rows in a table body a batch at a time, so that 20,000 rows open as fast as 200: laying out
  // every row of a long table up front takes the browser many seconds.
  function lister(tbody, columns, render) {
    var box = tbody.closest(".scroll"), items = [], drawn = 0;
    function more() {
      tbody.insertAdjacentHTML("beforeend", items.slice(drawn, drawn + BATCH).map(render).join(""));
      drawn = Math.min(drawn + BATCH, items.length);
    }
    box.addEventListener("scroll", function () {
      if (drawn < items.length && box.scrollTop + box.clientHeight > box.scrollHeight - 600) { more(); }
    });
    return function show(list) {
      items = list;
      drawn = 0;
      box.scrollTop = 0;
      tbody.innerHTML = list.length ? "" :
        "<tr><td colspan=\"" + columns + "\" class=\"empty\">" + esc(labels.empty) + "</td></tr>";
      more();
    };
  }

  var watchlistBody = document.getElementById("watchlist-body");
  if (watchlistBody) {
    lister(watchlistBody, 9, function (p) {
      return "<tr><td>" + esc(p.department) + "</td><td>" + esc(p.project_id) + "</td><td>" + esc(p.project_name) +
        "</td><td class=\"num\">" + esc(p.fiscal_year) + "</td><td class=\"num\">" + money(p.amount) +
        "</td><td class=\"num\">" + money(p.paid) + "</td><td>" + esc(p.rules.join("、")) + "</td><td>" +
        esc(p.recommendations.join("；")) + "</td><td class=\"num\">" + esc(p.nights) + "</td></tr>";
    })(data("watchlist-data"));
  }

  var rows = data("findings-data");
  var NONE = "__perfrules_no_department__";  // the option for findings without a department
  var shown = document.querySelector('[data-figure="shown"]');
  var search = document.getElementById("filter-text");
  var filters = {severity: document.getElementById("filter-severity"), rule_id: document.getElementById("filter-rule"),
                 department: document.getElementById("filter-department")};
  var SEARCHED = ["severity", "rule_id", "title", "requirement", "department", "project_id", "project_name",
                  "fiscal_year", "message", "recommendation", "source", "file", "row"];
  var haystacks = rows.map(function (r) {
    return SEARCHED.map(function (k) { return r[k] == null ? "" : String(r[k]); }).join("\n").toLowerCase();
  });

  function addOptions(select, values) {
    values.forEach(function (v) {
      var option = document.createElement("option");
      option.value = v[0];
      option.textContent = v[1];
      select.appendChild(option);
    });
  }
  function distinct(key, label) {
    var seen = {};
    rows.forEach(function (r) { if (r[key] != null && !(r[key] in seen)) { seen[r[key]] = label(r); } });
    return Object.keys(seen).sort().map(function (k) { return [k, seen[k]]; });
  }
  addOptions(filters.severity, severities.filter(function (s) { return rows.some(function (r) { return r.severity === s; }); })
    .map(function (s) { return [s, labels.severity[s]]; }));
  addOptions(filters.rule_id, distinct("rule_id", function (r) { return r.rule_id + " " + (r.title || ""); }));
  addOptions(filters.department, distinct("department", function (r) { return r.department; }));
  if (rows.some(function (r) { return r.department == null; })) { addOptions(filters.department, [[NONE, labels.noDepartment]]); }

  var showFindings = lister(document.getElementById("findings-body"), 10, function (r) {
    var year = r.fiscal_year != null ? esc(r.fiscal_year) : "";
    var project = "<span class=\"id\">" + esc(r.project_id) + "</span><br><small>" + esc(r.project_name) +
      (r.project_name && year ? " · " : "") + year + "</small>";
    var place = r.file ? esc(r.file) + (r.row ? ":" + esc(r.row) : "") : "";
    return "<tr><td><span class=\"sev sev-" + severities.indexOf(r.severity) + "\">" +
      esc(labels.severity[r.severity] || r.severity) + "</span></td><td><span class=\"id\">" + esc(r.rule_id) +
      "</span><br><small>" + esc(r.title) + "</small></td><td>" + esc(r.department) + "</td><td>" + project +
      "</td><td>" + esc(r.message) + "</td><td>" + esc(r.recommendation) + "</td><td><small>" + esc(r.source) +
      "</small></td><td class=\"status-" + esc(r.status) + "\">" + esc(labels.status[r.status] || "") +
      "</td><td class=\"num\">" + esc(r.nights) + "</td><td class=\"place\"><small>" + place + "</small></td></tr>";
  });
  function filterFindings() {
    var terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var matching = rows.filter(function (r, i) {
      for (var key in filters) {
        var wanted = filters[key].value;
        if (wanted && (wanted === NONE ? r[key] != null : r[key] !== wanted)) { return false; }
      }
      return terms.every(function (t) { return haystacks[i].indexOf(t) !== -1; });
    });
    showFindings(matching);
    shown.textContent = String(matching.length);
  }
  var pending;
  search.addEventListener("input", function () { clearTimeout(pending); pending = setTimeout(filterFindings, 150); });
  search.addEventListener("change", filterFindings);
  Object.keys(filters).forEach(function (key) { filters[key].addEventListener("change", filterFindings); });
  filterFindings();
})();
"""
