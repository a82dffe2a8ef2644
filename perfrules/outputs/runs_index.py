"""``index.html`` in the runs folder: every nightly run beside it, newest first, with its figures and links.

Nightly writes it after each run into the folder that holds the run directories (the parent of
``--out``), reading each sibling's summary.json; a folder without a readable summary.json is not a run
and is left out. The page is written whole or not at all (a temporary file renamed into place).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from perfrules.atomic import write_atomic
from perfrules.outputs.workbook import text
from perfrules.rulepack.model import SEVERITIES

INDEX = "index.html"
GENERATOR = '<meta name="generator" content="perfrules runs index">'  # how a later run knows the page is ours
EN = {"预算绩效规则检查：全部运行": "Budget performance checks: all runs", "运行目录": "Run folder", "检查日期": "As of",
      "运行结束": "Finished", "配置": "Profile", "项目数": "Projects", "发现总数": "Findings", "新增": "New",
      "已解决": "Resolved", "报告": "Report", "工作簿": "Workbook", "整改通知": "Notices", "共 {n} 次运行": "{n} run(s)"}


def _t(zh: str, lang: str) -> str:
    return EN.get(zh, text(zh, lang)) if lang == "en" else zh


def _e(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


def runs_in(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The run directories in ``folder`` with their summaries, newest first."""
    runs = []
    for child in folder.iterdir():
        if child.name.startswith(".") or not child.is_dir():
            continue  # a run being written (.name.tmp-…) or an old one being removed
        try:
            summary = json.loads((child / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(summary, dict) and isinstance(summary.get("run"), dict):
            runs.append((child, summary))
    return sorted(runs, key=lambda r: (str(r[1]["run"].get("finished") or r[1]["run"].get("started") or ""), r[0].name),
                  reverse=True)


def render_index(folder: Path, lang: str = "zh") -> str:
    """The index page of the run directories in ``folder``."""
    runs = runs_in(folder)
    headers = ["运行目录", "检查日期", "运行结束", "配置", "项目数", "发现总数", *SEVERITIES, "新增", "已解决", "报告"]
    numeric = {4, 5, 6, 7, 8, 9, 10}
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{_e(_t(h, lang))}</th>' for i, h in enumerate(headers))
    rows = []
    for path, summary in runs:
        run, counts, changes = summary["run"], summary.get("counts", {}), summary.get("changes") or {}
        name = path.name
        links = [(f"{name}/report.html", "报告"), (f"{name}/report.xlsx", "工作簿"), (f"{name}/notices/", "整改通知")]
        anchors = " ".join(f'<a href="{_e(href)}">{_e(_t(label, lang))}</a>' for href, label in links
                           if (folder / href.rstrip("/")).exists())
        by_severity = counts.get("by_severity", {})
        cells = [f'<a href="{_e(name)}/report.html">{_e(name)}</a>' if (path / "report.html").exists() else _e(name),
                 _e(run.get("as_of")), _e(str(run.get("finished") or "").replace("T", " ")), _e(run.get("profile")),
                 _count((summary.get("inputs") or {}).get("projects")), _count(counts.get("total")),
                 *(_count(by_severity.get(s)) for s in SEVERITIES), _count(changes.get("new")), _count(changes.get("resolved")),
                 anchors]
        rows.append("<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{c}</td>' for i, c in enumerate(cells))
                    + "</tr>")
    title = _t("预算绩效规则检查：全部运行", lang)
    return (f'<!DOCTYPE html>\n<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">{GENERATOR}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title><style>{_CSS}</style>'
            f'</head><body><main><h1>{_e(title)}</h1><p class="meta">{_e(_t("共 {n} 次运行", lang).format(n=len(runs)))}</p>'
            f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></main></body></html>\n')


def _count(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def write_index(folder: str | Path, lang: str = "zh") -> Path | None:
    """Write ``folder/index.html`` (whole or not at all), unless an index.html that perfrules did not write is there."""
    folder = Path(folder)
    target = folder / INDEX
    if target.exists() or target.is_symlink():
        try:
            ours = not target.is_symlink() and target.is_file() and GENERATOR in target.read_text(encoding="utf-8", errors="replace")
        except OSError:
            ours = False
        if not ours:
            return None  # someone else's page: never replaced
    write_atomic(target, render_index(folder, lang))
    return target


_CSS = """
body { margin: 0; color: #1f2933; font-size: 14px; line-height: 1.5; background: #f4f6f8;
       font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
.meta { color: #616e7c; margin: 0 0 12px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { padding: 6px 10px; border-bottom: 1px solid #e1e5ea; text-align: left; white-space: nowrap; }
th { background: #eef1f4; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
a { color: #1565c0; }
@media print { body { background: #fff; } main { padding: 0; } }
"""
