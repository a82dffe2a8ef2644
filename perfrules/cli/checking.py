"""``check`` and ``screen``: findings for submissions and exports, and the pre-approval verdict."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from perfrules.api import check_paths
from perfrules.cli.options import FAIL_ON, common_options, remember_lang
from perfrules.cli.partition import engine_options, make_engine
from perfrules.findings.model import exit_code
from perfrules.outputs.console import render_result, write_atomic


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@common_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="输出格式 (output format).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="写入文件（整体写入或不写）。(write to a file, whole or not at all.)")
@click.option("--fail-on", "fail_on", type=click.Choice(list(FAIL_ON)), default="阻断", show_default=True,
              help="达到此严重程度时退出码为 1。(exit 1 when a finding reaches this severity.)")
@engine_options
def check(inputs: tuple[str, ...], rules_dir: str | None, profile: str | None, as_of: dt.date | None, lang: str,
          fmt: str, output: str | None, fail_on: str, engine: str, scheduler: str | None, workers: int | None,
          memory_limit: str | None) -> None:
    """检查提交文件或导出目录。Check submissions (JSON/YAML) or export folders (CSV/XLSX/Parquet).

    \b
    示例 Example:
      perfrules check samples/submissions/ --format json --fail-on 警告
    """
    remember_lang(lang)
    dask = make_engine(engine, scheduler, workers, memory_limit)
    if dask is not None:  # partitioned datasets, partition by partition on a Dask cluster
        from perfrules.distributed.runner import check_partitioned_paths
        result = check_partitioned_paths(list(inputs), rules_dir, profile, as_of, lang, dask.options)
    else:
        result = check_paths(list(inputs), rules_dir, profile, as_of, lang)
    text = render_result(result, fmt, lang)
    if output:
        write_atomic(output, text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    else:
        click.echo(text, nl=False)
    sys.exit(exit_code(result.worst(), FAIL_ON[fail_on]))


@click.command(name="screen")
@click.argument("submission", type=click.Path())
@common_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--fail-on", "fail_on", type=click.Choice(list(FAIL_ON)), default="阻断", show_default=True,
              help="达到此严重程度时退出码为 1。(exit 1 when a finding reaches this severity.)")
def screen_command(submission: str, rules_dir: str | None, profile: str | None, as_of: dt.date | None, lang: str,
                   fmt: str, fail_on: str) -> None:
    """审核前筛查一份申报（durable-rules 引擎）：通过 / 需整改 / 不予通过。Screen one submission before approval.

    \b
    示例 Example:
      perfrules screen samples/submissions/p05-exante-at-threshold.json
    """
    remember_lang(lang)
    from perfrules.evaluation.screening import VERDICTS, Screener  # durable-rules is imported only when screening
    from perfrules.inputs.submission import read_document
    screener = Screener(rules_dir, profile)
    try:
        result = screener.screen(read_document(Path(submission), submission), as_of=as_of, lang=lang, name=submission)
    finally:
        screener.close()
    if fmt == "json":
        click.echo(render_result(result, "json", lang), nl=False)
    else:
        zh = lang != "en"
        mark = {"pass": "✔", "rectify": "!", "reject": "✘"}[result.verdict]
        click.echo(f"{mark} {'审核结论：' if zh else 'verdict: '}{VERDICTS[result.verdict][0 if zh else 1]}")
        click.echo(render_result(result, "table", lang), nl=False)
    sys.exit(exit_code(result.worst(), FAIL_ON[fail_on]))
