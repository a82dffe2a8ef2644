"""Options and conventions shared by the commands: --rules/--profile/--as-of/--lang, --fail-on, the language of errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import click

FAIL_ON = {"阻断": "阻断", "警告": "警告", "提示": "提示", "block": "阻断", "warn": "警告", "info": "提示", "never": "never"}


def _as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"须为 YYYY-MM-DD 日期，实际为 {value!r}。(must be a YYYY-MM-DD date, got {value!r}.)") from None


# Where --as-of defaults from, by what the command reads.
AS_OF_DEFAULT = {
    "any": "检查日期；默认取每个输入自己的 as_of（导出目录的 manifest.yaml 或申报文件中），否则为今天。"
           "(as-of date; default: each input's own as_of, from an export's manifest.yaml or the submission, else today.)",
    "submission": "检查日期；默认取申报文件中的 as_of，否则为今天。(as-of date; default: the submission's as_of, else today.)",
    "export": "检查日期；默认取导出目录 manifest.yaml 中的 as_of，否则为今天。"
              "(as-of date; default: the as_of of the export's manifest.yaml, else today.)",
}


def common_options(fn: Callable[..., Any] | None = None, *, reads: str = "any") -> Any:
    """--rules, --profile, --as-of and --lang, shared by the commands that evaluate rules; ``reads`` (any,
    submission, export) says where the command's --as-of defaults from. ``@common_options`` or
    ``@common_options(reads="export")``."""
    if fn is None:
        return lambda f: common_options(f, reads=reads)
    fn = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                      help="输出语言 (output language).")(fn)
    fn = click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD", help=AS_OF_DEFAULT[reads])(fn)
    fn = click.option("--profile", metavar="NAME", help="地区配置；默认按每条记录的“地区”(jurisdiction) 选用，未填或未知时为 national。"
                           "(jurisdiction profile; default: each record's jurisdiction, else national.)")(fn)
    fn = click.option("--rules", "rules_dir", type=click.Path(), metavar="DIR",
                      help="规则目录，默认为自带的 rules/。(rules directory; default: the bundled rules/.)")(fn)
    return fn


LANG_KEY = "perfrules.lang"


def remember_lang(lang: str) -> None:
    """Record the command's --lang where the group's error handler finds it (ctx.meta is shared)."""
    click.get_current_context().meta[LANG_KEY] = lang
