"""The ``perfrules`` command line: a thin click layer over ``perfrules.api``.

Exit codes, in one place: 0 no finding reaches ``--fail-on``; 1 one does; 2 a usage error, an
invalid rule pack, or an input that cannot be read at all.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, Callable

import click

from . import catalogue
from .api import check_paths, compile_rules, default_rules_dir
from .ruletests import CaseRunner, load_cases
from .data import Dataset, load_input, load_inputs
from .impact import compare, render_text as render_impact
from .lint import lint
from .explain import explain, render_text as render_explanation
from .spec.compile import compile_pack
from .spec.model import RulePack
from .spec.pack import load_pack
from .spec.profile import DEFAULT_PROFILE, available_profiles, load_profile
from .errors import PerfrulesError
from .findings import exit_code
from .output import render_result, write_atomic

FAIL_ON = {"阻断": "阻断", "警告": "警告", "提示": "提示", "block": "阻断", "warn": "警告", "info": "提示", "never": "never"}


def _as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"须为 YYYY-MM-DD 日期，实际为 {value!r}。(must be a YYYY-MM-DD date, got {value!r}.)")


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--rules, --profile, --as-of and --lang, shared by the commands that evaluate rules."""
    fn = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                      help="输出语言 (output language).")(fn)
    fn = click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD",
                      help="数据所述日期；默认取导出清单中的 as_of，否则为今天。(as-of date; default: the export manifest's, else today.)")(fn)
    fn = click.option("--profile", metavar="NAME", help="地区配置，默认 national。(jurisdiction profile; default national.)")(fn)
    fn = click.option("--rules", "rules_dir", type=click.Path(), metavar="DIR",
                      help="规则目录，默认为自带的 rules/。(rules directory; default: the bundled rules/.)")(fn)
    return fn


class PerfrulesGroup(click.Group):
    """Turns domain errors into messages and exit code 2 at one point."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PerfrulesError as exc:
            click.echo(exc.text(ctx.meta.get(LANG_KEY, "zh")), err=True)
            ctx.exit(2)


LANG_KEY = "perfrules.lang"


def remember_lang(lang: str) -> None:
    """Record the command's --lang where the group's error handler finds it (ctx.meta is shared)."""
    click.get_current_context().meta[LANG_KEY] = lang


@click.group(cls=PerfrulesGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="perfrules")
def main() -> None:
    """perfrules：预算绩效管理合规检查。Compliance checks for budget performance management.

    \b
    示例 Examples:
      perfrules check samples/submissions/
      perfrules check samples/exports/county-2022 --format json --output out.json
    """


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@common_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="输出格式 (output format).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="写入文件（整体写入或不写）。(write to a file, whole or not at all.)")
@click.option("--fail-on", "fail_on", type=click.Choice(list(FAIL_ON)), default="阻断", show_default=True,
              help="达到此严重程度时退出码为 1。(exit 1 when a finding reaches this severity.)")
def check(inputs: tuple[str, ...], rules_dir: str | None, profile: str | None, as_of: dt.date | None, lang: str,
          fmt: str, output: str | None, fail_on: str) -> None:
    """检查提交文件或导出目录。Check submissions (JSON/YAML) or export folders (CSV/XLSX/Parquet).

    \b
    示例 Example:
      perfrules check samples/submissions/ --format json --fail-on 警告
    """
    remember_lang(lang)
    result = check_paths(list(inputs), rules_dir, profile, as_of, lang)
    text = render_result(result, fmt, lang)
    if output:
        write_atomic(output, text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    else:
        click.echo(text, nl=False)
    sys.exit(exit_code(result.worst(), FAIL_ON[fail_on]))


@main.command(name="screen")
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
    from .screening import VERDICTS, Screener  # durable-rules is imported only when screening
    from .data.submission import read_document
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


@main.command(name="nightly")
@click.argument("export", type=click.Path())
@click.option("--out", "out", required=True, type=click.Path(), metavar="RUN_DIR",
              help="运行目录：写出 findings.jsonl/.csv、report.xlsx/.html、summary.json（整体写出或不写）。(run directory, written whole or not at all.)")
@click.option("--state", "state", type=click.Path(), metavar="STATE_DIR",
              help="状态目录：与上次运行对比新增/已解决/持续。(state directory: new/resolved/persisting since the last run.)")
@common_options
@click.option("--fail-on", "fail_on", type=click.Choice(list(FAIL_ON)), default="阻断", show_default=True,
              help="达到此严重程度时退出码为 1。(exit 1 when a finding reaches this severity.)")
@click.option("--quiet", "-q", is_flag=True, help="不在 stderr 输出进度和一行摘要。(no progress bar or summary line on stderr.)")
def nightly_command(export: str, out: str, state: str | None, rules_dir: str | None, profile: str | None,
                    as_of: dt.date | None, lang: str, fail_on: str, quiet: bool) -> None:
    """每晚检查一个导出目录，生成报告并与上次运行对比。Nightly check of an export folder, with reports and changes.

    \b
    示例 Example (cron):
      perfrules nightly /data/export/today --out /data/runs/$(date +%F) --state /data/perfrules-state --quiet
    """
    remember_lang(lang)
    from .nightly import one_line, run_nightly, terminal_progress
    run = run_nightly(export, out, state, rules_dir, profile, as_of, lang, FAIL_ON[fail_on], terminal_progress(quiet, lang))
    if not quiet:
        click.echo(one_line(run.summary, run.out, lang), err=True)
    sys.exit(run.exit_code)


@main.command(name="rules")
@click.option("--rules", "rules_dir", type=click.Path(), metavar="DIR", help="规则目录 (rules directory).")
@click.option("--profile", metavar="NAME", help="地区配置，默认 national。(profile; default national.)")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD", help="按此日期判断规则是否生效，默认今天。(show which rules are in force on this date; default today.)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--coverage", is_flag=True, help="列出政策目录每项要求及实现它的规则；有要求无规则时退出码 1。(list catalogue coverage; exit 1 on a gap.)")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def rules_command(rules_dir: str | None, profile: str | None, as_of: dt.date | None, fmt: str, coverage: bool, lang: str) -> None:
    """列出规则及其参数、出处。List the rules in force with resolved parameters and sources.

    \b
    示例 Examples:
      perfrules rules --profile qitai
      perfrules rules --coverage
    """
    remember_lang(lang)
    compiled = compile_rules(rules_dir, profile)
    if coverage:
        rows = catalogue.coverage(compiled.pack)
        gaps = [r["id"] for r in rows if not r["rules"]]
        if fmt == "json":
            click.echo(json.dumps({"requirements": rows, "gaps": gaps}, ensure_ascii=False, indent=2))
        else:
            for r in rows:
                click.echo(f"{r['id']}  {r['title']}  →  {', '.join(r['rules']) or ('（无规则）' if lang != 'en' else '(no rule)')}")
            click.echo(("缺口：" if lang != "en" else "gaps: ") + (", ".join(gaps) or ("无" if lang != "en" else "none")))
        sys.exit(1 if gaps or not rows else 0)
    rows = catalogue.rule_listing(compiled, as_of or dt.date.today())  # as check does: today unless told
    if fmt == "json":
        click.echo(json.dumps({"profile": compiled.profile.name, "chain": list(compiled.profile.chain),
                               "pack_version": compiled.pack.version, "rules": rows}, ensure_ascii=False, indent=2, default=str))
        return
    zh = lang != "en"
    click.echo(f"{'配置' if zh else 'profile'} {' → '.join(compiled.profile.chain)}  {'规则包' if zh else 'pack'} {compiled.pack.version}")
    for r in rows:
        click.echo("")
        click.echo(f"{r['id']}  [{r['severity']}{'→' + r['escalate'] if r['escalate'] else ''}]  {r['title'] if zh else r['title_en']}  ({', '.join(r['requirement'])})  {catalogue.STATE_TEXT[r['state']][0 if zh else 1]}")
        if r["when"] != "(engine)":
            click.echo(f"    {'条件' if zh else 'when'}: {' '.join(r['when'].split())}")
        for name, p in r["params"].items():
            click.echo(f"    params.{name} = {p['value']!r}  ({p['set_in']})")
        click.echo(f"    {'依据' if zh else 'source'}: " + "；".join(f"{s['document']} {s['clause']}" for s in r["source"]))


@main.command(name="explain")
@click.argument("submission", type=click.Path())
@click.option("--rule", "rule_id", required=True, metavar="RULE_ID", help="要解释的规则编号。(the rule to explain.)")
@click.option("--record", metavar="ID", help="只解释该项目编码（或部门）。(only this project id or department.)")
@common_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def explain_command(submission: str, rule_id: str, record: str | None, rules_dir: str | None, profile: str | None,
                    as_of: dt.date | None, lang: str, fmt: str) -> None:
    """解释一条规则在一条记录上为何触发或未触发。Explain why a rule fired, or did not, on a record.

    \b
    示例 Example:
      perfrules explain samples/submissions/p08-poor-grade-cut.json --rule PF-P08-POORGRADE
    """
    remember_lang(lang)
    pack = load_pack(rules_dir or default_rules_dir())
    explanations = []
    for dataset in load_input(submission):
        chosen = profile or _jurisdiction_profile(dataset, pack)
        compiled = compile_pack(pack, chosen)
        explanations += explain(dataset, compiled, rule_id, as_of or dataset.as_of or dt.date.today(), record)
    if fmt == "json":
        click.echo(json.dumps([e.to_dict() for e in explanations], ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(render_explanation(e, lang) for e in explanations), nl=False)


def _jurisdiction_profile(dataset: Dataset, pack: RulePack) -> str:
    names = available_profiles(pack)
    values = [v for t in ("projects", "departments") for v in dataset.frame(t)["jurisdiction"].dropna().astype(str)]
    known = [v for v in values if v in names]
    return known[0] if known else DEFAULT_PROFILE


@main.command(name="lint")
@click.argument("rules_dir", required=False, type=click.Path())
@click.option("--profile", metavar="NAME", help="只检查该配置（默认检查全部配置）。(check only this profile; default all.)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def lint_command(rules_dir: str | None, profile: str | None, fmt: str, lang: str) -> None:
    """检查规则目录中的所有问题（一次全部列出）。Report everything wrong with a rules directory at once.

    Exit 0 when clean, 1 when problems are found.

    \b
    示例 Example:
      perfrules lint rules/ --profile qitai
    """
    remember_lang(lang)
    problems = lint(rules_dir or str(default_rules_dir()), profile)
    if fmt == "json":
        click.echo(json.dumps([{"code": p.code, "file": p.where.file, "line": p.where.line, "column": p.where.column,
                                "rule_id": p.where.rule_id, "field": p.where.field, "message": p.zh if lang != "en" else p.en,
                                "hint": p.hint_zh if lang != "en" else p.hint_en} for p in problems], ensure_ascii=False, indent=2))
    else:
        for p in problems:
            click.echo(p.text(lang))
        click.echo((f"{len(problems)} 个问题" if lang != "en" else f"{len(problems)} problem(s)") if problems else
                   ("没有发现问题" if lang != "en" else "no problems"))
    sys.exit(1 if problems else 0)


@main.command(name="diff")
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option("--base", "base_dir", required=True, type=click.Path(), metavar="OLD_RULES_DIR", help="改动前的规则目录。(rules before the change.)")
@click.option("--head", "head_dir", required=True, type=click.Path(), metavar="NEW_RULES_DIR", help="改动后的规则目录。(rules after the change.)")
@click.option("--profile", metavar="NAME", help="地区配置；默认按记录的 jurisdiction。(profile; default: each record's jurisdiction.)")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD", help="检查日期。(as-of date.)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def diff_command(data: tuple[str, ...], base_dir: str, head_dir: str, profile: str | None, as_of: dt.date | None,
                 fmt: str, lang: str) -> None:
    """比较改动前后两套规则在同一数据上的发现。Compare the findings of two rule packs on the same data.

    \b
    示例 Example (raise the ex-ante threshold, see what it does to last night's data):
      perfrules diff --base rules/ --head my-rules/ samples/exports/county-2022
    """
    remember_lang(lang)
    base, head = load_pack(base_dir), load_pack(head_dir)
    for pack in (base, head):
        if profile:
            load_profile(pack, profile)
    impact = compare(load_inputs(list(data)), base, head, profile, as_of, lang)
    if fmt == "json":
        click.echo(json.dumps(impact.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_impact(impact, lang), nl=False)


@main.command(name="test")
@click.argument("rules_dir", required=False, type=click.Path())
@click.option("--profile", metavar="NAME", help="只运行该配置的用例。(run only the cases of this profile.)")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def test_command(rules_dir: str | None, profile: str | None, lang: str) -> None:
    """运行规则目录 tests/ 中的用例。Run the rule test cases in RULES_DIR/tests.

    每个用例：输入记录 → 期望的发现；失败时显示期望(-)与实际(+)的差异。Exit 1 on any failure.

    \b
    示例 Example:
      perfrules test rules/
    """
    remember_lang(lang)
    root = rules_dir or str(default_rules_dir())
    pack = load_pack(root)
    cases = [c for c in load_cases(root) if profile is None or c.profile == profile]
    runner = CaseRunner(pack)
    failed = 0
    for case in cases:
        result = runner.run(case)
        mark = ("通过" if lang != "en" else "PASS") if result.passed else ("失败" if lang != "en" else "FAIL")
        click.echo(f"{mark}  {Path(case.where.file or '').name}:{case.where.line}  [{case.profile}] {', '.join(case.rules)}  {case.name}")
        if not result.passed:
            failed += 1
            click.echo(result.diff())
    passed = len(cases) - failed
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
