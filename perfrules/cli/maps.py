"""``maps`` and ``map-check``: the bundled column maps, and what a map finds in an export; ``--map`` for the other commands."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from perfrules.cli.options import _as_of, remember_lang

MAP_HELP = ("列映射：自带映射名（如 fasp2，见 perfrules maps）或映射文件；默认取导出清单中的 map:，否则按 perfrules 自身列名。"
            "(column map: a bundled name such as fasp2, or a map file; default: the export manifest's map:, else perfrules' own names.)")


def map_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--map NAME|FILE``, shared by every command that reads export folders."""
    return click.option("--map", "column_map", metavar="NAME|FILE", help=MAP_HELP)(fn)


@click.command(name="maps")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="输出格式 (output format).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="输出语言 (output language).")
def maps_command(fmt: str, lang: str) -> None:
    """列出自带的列映射。List the bundled column maps.

    \b
    示例 Example:
      perfrules maps --format json
    """
    remember_lang(lang)
    from perfrules.inputs.column_map import bundled_map_names, load_column_map
    maps = [load_column_map(name) for name in bundled_map_names()]
    if fmt == "json":
        click.echo(json.dumps([{"map": m.name, "title": m.title, "title_en": m.title_en, "file": str(m.path),
                                "tables": {t: {"files": list(tm.files), "columns": len(tm.columns)} for t, tm in m.tables.items()}}
                               for m in maps], ensure_ascii=False, indent=2))
        return
    for m in maps:
        title = m.title_en if lang == "en" and m.title_en else m.title
        tables = ", ".join(f"{t}({len(tm.columns)})" for t, tm in m.tables.items())
        click.echo(f"{m.name}  {title}")
        click.echo(f"    {'表（映射的列数）' if lang != 'en' else 'tables (mapped columns)'}: {tables}")
        click.echo(f"    {m.path}")


@click.command(name="map-check")
@click.argument("export", type=click.Path())
@map_option
@click.option("--rules", "rules_dir", type=click.Path(), metavar="DIR", help="规则目录，默认为自带的 rules/。(rules directory.)")
@click.option("--profile", metavar="NAME", help="地区配置；默认按记录的 jurisdiction（否则 national）。(profile; default: the records' jurisdictions, else national.)")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD", help="按此日期判断规则是否生效；默认取导出清单中的 as_of。(which rules are in force; default: the manifest's as_of.)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="输出格式 (output format).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="输出语言 (output language).")
def map_check_command(export: str, column_map: str | None, rules_dir: str | None, profile: str | None,
                      as_of: dt.date | None, fmt: str, lang: str) -> None:
    """报告列映射在导出中找到和缺少的字段，以及因此无法运行的规则。Report, per table, the contract fields a map finds in an
    export, those it misses, and the rules in force that cannot run for lack of them.

    规则"无法运行"即 check 对它报告 PF-D03-ABSENT（导出按 check 的方式检查一遍）。

    A rule cannot run when check reports PF-D03-ABSENT for it (the export is checked as check checks it).

    Exit 0 when every rule in force can run, 1 when some cannot.

    \b
    示例 Example:
      perfrules map-check samples/exports/fasp2-2022 --map fasp2
    """
    remember_lang(lang)
    from pathlib import Path

    from perfrules.authoring.map_check import check_map, render_text
    from perfrules.errors import InputError, Problem, Where
    from perfrules.inputs.column_map import DEFAULT_MAP, load_column_map, manifest_map
    from perfrules.inputs.export import MANIFEST_NAMES
    from perfrules.rulepack.pack import default_rules_dir, load_pack
    from perfrules.rulepack.profile import load_profile
    folder = Path(export)
    if not folder.is_dir():
        raise InputError([Problem("input.not-found", f"导出目录不存在：{export!r}。", f"export folder {export!r} does not exist.", Where(file=export))])
    chosen = load_column_map(column_map) if column_map else manifest_map(folder, MANIFEST_NAMES) or load_column_map(DEFAULT_MAP)
    pack = load_pack(rules_dir or default_rules_dir())
    if profile:
        load_profile(pack, profile)  # an unknown profile is a usage error before the export is read
    report = check_map(folder, chosen, pack, profile, as_of, lang)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(report, lang), nl=False)
    sys.exit(1 if report.blocked_rules() else 0)
