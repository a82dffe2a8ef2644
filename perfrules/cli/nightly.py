"""``nightly``: the cron job over an export folder."""

from __future__ import annotations

import datetime as dt
import sys

import click

from perfrules.cli.maps import map_option
from perfrules.cli.options import FAIL_ON, common_options, remember_lang
from perfrules.cli.partition import engine_options, make_engine


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
@click.option("--quiet", "-q", is_flag=True, help="不在 stderr 输出进度和一行摘要。(no progress bar or summary line on stderr.)")
@engine_options
def nightly_command(export: str, out: str, state: str | None, rules_dir: str | None, profile: str | None,
                    as_of: dt.date | None, lang: str, column_map: str | None, fail_on: str, quiet: bool, engine: str,
                    scheduler: str | None, workers: int | None, memory_limit: str | None) -> None:
    """每晚检查一个导出目录，生成报告并与上次运行对比。Nightly check of an export folder, with reports and changes.

    \b
    示例 Example (cron):
      perfrules nightly /data/export/today --out /data/runs/$(date +%F) --state /data/perfrules-state --quiet
    """
    remember_lang(lang)
    from perfrules.nightly.run import one_line, run_nightly, terminal_progress
    run = run_nightly(export, out, state, rules_dir, profile, as_of, lang, FAIL_ON[fail_on], terminal_progress(quiet, lang),
                      make_engine(engine, scheduler, workers, memory_limit), column_map=column_map)
    if not quiet:
        click.echo(one_line(run.summary, run.out, lang), err=True)
    sys.exit(run.exit_code)
