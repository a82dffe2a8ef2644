"""``check`` and ``screen``: findings for submissions and exports, and the pre-approval verdict."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from perfrules.api import check_paths, default_rules_dir
from perfrules.atomic import refuse_inputs
from perfrules.cli.maps import map_option
from perfrules.cli.options import FAIL_ON, common_options, remember_lang
from perfrules.cli.partition import engine_options, make_engine
from perfrules.evaluation.check import CheckResult, merge_results
from perfrules.findings.model import evidence_labels, exit_code
from perfrules.findings.table import with_input
from perfrules.outputs.console import render_result, to_table, write_atomic
from perfrules.outputs.junit import check_junit
from perfrules.rulepack.pack import load_pack


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@common_options
@map_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "junit"]), default="table", show_default=True,
              help="输出格式：table 终端阅读，json，csv（Excel 可直接打开），junit（CI 测试报告，每条规则一个用例）。"
                   "(output format: table, json, csv, or junit for CI: a testcase per rule.)")
@click.option("--output", "-o", type=click.Path(dir_okay=False), metavar="FILE",
              help="写入文件（整体写入或不写）。(write to FILE, whole or not at all.)")
@click.option("--fail-on", "fail_on", type=click.Choice(list(FAIL_ON)), default="阻断", show_default=True,
              help="达到此严重程度时退出码为 1。(exit 1 when a finding reaches this severity.)")
@engine_options
def check(inputs: tuple[str, ...], rules_dir: str | None, profile: str | None, as_of: dt.date | None, lang: str,
          column_map: str | None, fmt: str, output: str | None, fail_on: str, engine: str, scheduler: str | None,
          workers: int | None, memory_limit: str | None) -> None:
    """检查申报文件或导出目录。Check submissions (JSON/YAML) or export folders (CSV/XLSX/Parquet).

    INPUTS 可以是文件或目录，可给多个；每项发现和说明都注明来自哪个输入。
    INPUTS are files or folders, several allowed; each finding and note names its input.

    \b
    退出码 Exit: 0 无发现达到 --fail-on；1 有；2 用法、输入或输出错误；
    3 perfrules 自身缺陷（见 --debug）。

    \b
    示例 Examples:
      perfrules check samples/submissions/ --format json --fail-on 警告
      perfrules check samples/exports/county-2022 --format csv -o findings.csv
      perfrules check samples/exports/county-2022 --format junit -o check.xml --fail-on never
    """
    remember_lang(lang)
    if output:
        refuse_inputs(output, list(inputs))  # before the check, which may take minutes
    started = time.perf_counter()
    dask = make_engine(engine, scheduler, workers, memory_limit)
    if dask is not None:  # partitioned datasets, partition by partition on a Dask cluster
        from perfrules.distributed.runner import check_partitioned_paths
        options = dask.options
        result = _check(list(inputs), lambda paths: check_partitioned_paths(paths, rules_dir, profile, as_of, lang, options))
    else:
        result = _check(list(inputs), lambda paths: check_paths(paths, rules_dir, profile, as_of, lang, column_map))
    if fmt == "junit":
        text = check_junit(result, FAIL_ON[fail_on], lang, time.perf_counter() - started)
    elif fmt == "table":  # evidence named by the data contract's headers and the pack's titles
        text = to_table(result, lang, evidence_labels(load_pack(rules_dir or default_rules_dir()), lang))
    else:
        text = render_result(result, fmt, lang)
    if output:
        write_atomic(output, text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    else:
        click.echo(text, nl=False)
    sys.exit(exit_code(result.worst(), FAIL_ON[fail_on]))


def _check(inputs: list[str], check_inputs: Callable[[list[str]], CheckResult]) -> CheckResult:
    """One input is checked as it is; several are checked one by one, each finding naming its input."""
    if len(inputs) == 1:
        return check_inputs(inputs)
    results = []
    for name in inputs:
        result = check_inputs([name])
        results.append(dataclasses.replace(result, found=with_input(result.table, name), _table=None, _findings=None))
    return merge_results(results)


@click.command(name="screen")
@click.argument("submission", type=click.Path())
@common_options(reads="submission")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="输出格式 (output format).")
@click.option("--fail-on", "fail_on", type=click.Choice(list(FAIL_ON)), default="阻断", show_default=True,
              help="达到此严重程度时退出码为 1。(exit 1 when a finding reaches this severity.)")
def screen_command(submission: str, rules_dir: str | None, profile: str | None, as_of: dt.date | None, lang: str,
                   fmt: str, fail_on: str) -> None:
    """审核前筛查一份申报（durable-rules 引擎）：通过 / 需整改 / 不予通过。Screen one submission before approval.

    SUBMISSION 是一个 JSON/YAML 申报文件；检查日期默认取文件中的 as_of，否则为今天。
    SUBMISSION is one JSON/YAML file; the as-of date defaults to its as_of, else today.

    \b
    示例 Example:
      perfrules screen samples/submissions/p05-exante-at-threshold.json
      perfrules screen samples/submissions/p05-exante-at-threshold.json --format json --lang en
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
        click.echo(to_table(result, lang, evidence_labels(screener.pack, lang)), nl=False)
    sys.exit(exit_code(result.worst(), FAIL_ON[fail_on]))
