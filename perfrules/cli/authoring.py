"""The policy officer's commands: ``rules``, ``lint``, ``test``, ``explain`` and ``diff``."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

import perfrules.rulepack.catalogue as catalogue
from perfrules.api import compile_rules, default_rules_dir
from perfrules.atomic import refuse_inputs, write_atomic
from perfrules.authoring.diff import compare
from perfrules.authoring.diff import render_text as render_impact
from perfrules.authoring.explain import explain
from perfrules.authoring.explain import render_text as render_explanation
from perfrules.authoring.lint import lint
from perfrules.authoring.rule_tests import CaseRunner, load_cases
from perfrules.cli.maps import map_option
from perfrules.cli.options import _as_of, common_options, remember_lang
from perfrules.inputs import Dataset, load_input, load_inputs
from perfrules.outputs.junit import cases_junit
from perfrules.rulepack.compile import compile_pack
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.pack import load_pack
from perfrules.rulepack.profile import DEFAULT_PROFILE, available_profiles, load_profile


@click.command(name="rules")
@click.option("--rules", "rules_dir", type=click.Path(), metavar="DIR", help="规则目录 (rules directory).")
@click.option("--profile", metavar="NAME", help="地区配置，默认 national。(profile; default national.)")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD", help="按此日期判断规则是否生效，默认今天。(show which rules are in force on this date; default today.)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="输出格式 (output format).")
@click.option("--coverage", is_flag=True, help="列出政策目录每项要求及实现它的规则；有要求无规则时退出码 1。(list catalogue coverage; exit 1 on a gap.)")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="输出语言 (output language).")
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
        backed = catalogue.profile_backing(compiled)
        unbacked = [b["rule"] for b in backed if b["kind"] == "none"]
        if fmt == "json":
            click.echo(json.dumps({"requirements": rows, "gaps": gaps, "profile": compiled.profile.name,
                                   "backing": backed, "unbacked": unbacked}, ensure_ascii=False, indent=2))
        else:
            for r in rows:
                click.echo(f"{r['id']}  {r['title']}  →  {', '.join(r['rules']) or ('（无规则）' if lang != 'en' else '(no rule)')}")
            click.echo(("缺口：" if lang != "en" else "gaps: ") + (", ".join(gaps) or ("无" if lang != "en" else "none")))
            _echo_backing(compiled.profile.name, backed, lang)
        sys.exit(1 if gaps or unbacked or not rows else 0)
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


def _echo_backing(profile: str, backed: list[dict[str, Any]], lang: str) -> None:
    """Each rule in force under the profile, with the clause of its document (or the baseline) that backs it."""
    zh = lang != "en"
    click.echo("")
    click.echo(f"配置 {profile} 中生效的规则及其依据：" if zh else f"rules in force in profile {profile} and what backs them:")
    for b in backed:
        label = catalogue.BACKING_TEXT[str(b["kind"])][0 if zh else 1]
        where = ("；" if zh else "; ").join(f"{s['document']} {s['clause']}" for s in b["sources"])
        click.echo(f"{b['rule']}  ({', '.join(b['requirement'])})  ←  {label}{(('：' if zh else ': ') + where) if where else ''}")


@click.command(name="explain")
@click.argument("submission", type=click.Path())
@click.option("--rule", "rule_id", required=True, metavar="RULE_ID", help="要解释的规则编号。(the rule to explain.)")
@click.option("--record", metavar="ID", help="只解释该项目编码（或部门）。(only this project id or department.)")
@common_options
@map_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="输出格式 (output format).")
def explain_command(submission: str, rule_id: str, record: str | None, rules_dir: str | None, profile: str | None,
                    as_of: dt.date | None, lang: str, column_map: str | None, fmt: str) -> None:
    """解释一条规则在一条记录上为何触发或未触发。Explain why a rule fired, or did not, on a record.

    \b
    示例 Example:
      perfrules explain samples/submissions/p08-poor-grade-cut.json --rule PF-P08-POORGRADE
    """
    remember_lang(lang)
    pack = load_pack(rules_dir or default_rules_dir())
    explanations = []
    for dataset in load_input(submission, column_map):
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


@click.command(name="lint")
@click.argument("rules_dir", required=False, type=click.Path())
@click.option("--profile", metavar="NAME", help="只检查该配置（默认检查全部配置）。(check only this profile; default all.)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="输出格式 (output format).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="输出语言 (output language).")
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


@click.command(name="diff")
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option("--base", "base_dir", required=True, type=click.Path(), metavar="OLD_RULES_DIR", help="改动前的规则目录。(rules before the change.)")
@click.option("--head", "head_dir", required=True, type=click.Path(), metavar="NEW_RULES_DIR", help="改动后的规则目录。(rules after the change.)")
@click.option("--profile", metavar="NAME", help="地区配置；默认按记录的 jurisdiction。(profile; default: each record's jurisdiction.)")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD", help="检查日期；默认取每个输入自己的 as_of，否则为今天。(as-of date; default: each input's own, else today.)")
@map_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="输出格式 (output format).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="输出语言 (output language).")
def diff_command(data: tuple[str, ...], base_dir: str, head_dir: str, profile: str | None, as_of: dt.date | None,
                 column_map: str | None, fmt: str, lang: str) -> None:
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
    impact = compare(load_inputs(list(data), column_map), base, head, profile, as_of, lang)
    if fmt == "json":
        click.echo(json.dumps(impact.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_impact(impact, lang), nl=False)


@click.command(name="test")
@click.argument("rules_dir", required=False, type=click.Path())
@click.option("--profile", metavar="NAME", help="只运行该配置的用例。(run only the cases of this profile.)")
@click.option("--format", "fmt", type=click.Choice(["table", "junit"]), default="table", show_default=True,
              help="table 逐条列出；junit 为 CI 可读的 JUnit XML（每个用例一个 testcase）。(junit: JUnit XML for CI, a testcase per case.)")
@click.option("--output", "-o", type=click.Path(dir_okay=False), metavar="FILE",
              help="写入文件（整体写入或不写）。(write to FILE, whole or not at all.)")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="输出语言 (output language).")
def test_command(rules_dir: str | None, profile: str | None, fmt: str, output: str | None, lang: str) -> None:
    """运行规则目录 tests/ 中的用例。Run the rule test cases in RULES_DIR/tests.

    每个用例：输入记录 → 期望的发现；失败时显示期望(-)与实际(+)的差异。退出码：全部通过 0，有失败 1。
    Each case: records in, expected findings out; a failure shows expected (-) and actual (+). Exit 1 on any failure.

    \b
    示例 Examples:
      perfrules test rules/
      perfrules test rules/ --profile qitai
      perfrules test rules/ --format junit -o rule-tests.xml
    """
    remember_lang(lang)
    root = rules_dir or str(default_rules_dir())
    if output:
        refuse_inputs(output, [root])
    pack = load_pack(root)
    cases = [c for c in load_cases(root) if profile is None or c.profile == profile]
    runner = CaseRunner(pack)
    results, seconds, lines = [], [], []
    for case in cases:
        started = time.perf_counter()
        result = runner.run(case)
        seconds.append(time.perf_counter() - started)
        results.append(result)
        mark = ("通过" if lang != "en" else "PASS") if result.passed else ("失败" if lang != "en" else "FAIL")
        lines.append(f"{mark}  {Path(case.where.file or '').name}:{case.where.line}  [{case.profile}] {', '.join(case.rules)}  {case.name}")
        if not result.passed:
            lines.append(result.diff())
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(cases) - failed} passed, {failed} failed")
    text = cases_junit(results, seconds, lang) if fmt == "junit" else "\n".join(lines) + "\n"
    if output:
        write_atomic(output, text)
    else:
        click.echo(text, nl=False)
    sys.exit(1 if failed else 0)
