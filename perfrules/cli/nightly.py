"""``nightly``: the cron job over an export folder."""

from __future__ import annotations

import datetime as dt
import sys

import click

from perfrules.cli.maps import map_option
from perfrules.cli.options import FAIL_ON, common_options, remember_lang
from perfrules.cli.partition import engine_options, make_engine
from perfrules.outputs.workbook import DETAIL_ROWS, EXCEL_ROWS

MAX_WORKBOOK_ROWS = EXCEL_ROWS - 2  # a sheet's title line and header row come first


def _workbook_rows(ctx: click.Context, param: click.Parameter, value: str | None) -> int:
    """``--workbook-max-rows``: a whole number from 1 to what a sheet holds, said in both languages otherwise."""
    if value is None:
        return DETAIL_ROWS
    text = str(value).strip().replace(",", "").replace("_", "")
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKBOOK_ROWS:
        raise click.BadParameter(f"须为 1 到 {MAX_WORKBOOK_ROWS:,} 之间的整数，实际为 {value!r}。"
                                 f"(must be a whole number from 1 to {MAX_WORKBOOK_ROWS:,}, got {value!r}.)")
    return int(text)


@click.command(name="nightly")
@click.argument("export", type=click.Path())
@click.option("--out", "out", required=True, type=click.Path(), metavar="RUN_DIR",
              help="运行目录（整体写出或不写）。(run directory, written whole or not at all:) "
                   "findings.jsonl findings.csv report.xlsx report.html summary.json notices/")
@click.option("--state", "state", type=click.Path(), metavar="STATE_DIR",
              help="状态目录：与上次运行对比新增/已解决/持续。(state directory: new/resolved/persisting since the last run.)")
@common_options
@map_option
@click.option("--fail-on", "fail_on", type=click.Choice(list(FAIL_ON)), default="阻断", show_default=True,
              help="达到此严重程度时退出码为 1。(exit 1 when a finding reaches this severity.)")
@click.option("--workbook-max-rows", "workbook_max_rows", callback=_workbook_rows, metavar="N",
              help=f"report.xlsx 每张明细表（阻断/警告/提示、重点关注台账、已解决、数据问题）最多列出的行数，默认 {DETAIL_ROWS:,}；"
                   f"超出时表头上方注明共多少条、全部见 findings.csv。例：--workbook-max-rows 20000。"
                   f"(most rows per detail sheet of report.xlsx, default {DETAIL_ROWS:,}; beyond it the sheet says how many "
                   "there are and that findings.csv holds them all. Example: --workbook-max-rows 20000.)")
@click.option("--quiet", "-q", is_flag=True, help="不在 stderr 输出进度和一行摘要。(no progress bar or summary line on stderr.)")
@engine_options
def nightly_command(export: str, out: str, state: str | None, rules_dir: str | None, profile: str | None,
                    as_of: dt.date | None, lang: str, column_map: str | None, fail_on: str, workbook_max_rows: int, quiet: bool, engine: str,
                    scheduler: str | None, workers: int | None, memory_limit: str | None) -> None:
    """每晚检查一个导出目录，生成报告并与上次运行对比。Nightly check of an export folder, with reports and changes.

    \b
    示例 Example (cron):
      perfrules nightly /data/export/today --out /data/runs/$(date +%F) --state /data/perfrules-state --quiet
      perfrules nightly /data/export/today --out /data/runs/today --workbook-max-rows 20000
    """
    remember_lang(lang)
    from perfrules.nightly.run import one_line, run_nightly, terminal_progress
    run = run_nightly(export, out, state, rules_dir, profile, as_of, lang, FAIL_ON[fail_on], terminal_progress(quiet, lang),
                      make_engine(engine, scheduler, workers, memory_limit), column_map=column_map,
                      workbook_max_rows=workbook_max_rows)
    if not quiet:
        click.echo(one_line(run.summary, run.out, lang), err=True)
    sys.exit(run.exit_code)
