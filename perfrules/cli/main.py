"""The ``perfrules`` command line: a thin click layer over ``perfrules.api``.

Exit codes, in one place: 0 no finding reaches ``--fail-on``; 1 one does; 2 a usage error, an
invalid rule pack, an input that cannot be read, or an I/O failure (one line naming the file); 3 a
defect in perfrules itself (an unexpected exception: one line, and with ``--debug`` the traceback in
a log file whose path the line gives).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import traceback
from typing import Any

import click

from perfrules.cli import authoring, checking, maps, nightly, notices, serve
from perfrules.cli.options import LANG_KEY
from perfrules.cli.partition import partition_command
from perfrules.cli.version import print_version
from perfrules.errors import PerfrulesError

DEBUG_KEY = "perfrules.debug"


class PerfrulesGroup(click.Group):
    """Turns domain errors into messages and exit code 2, and anything unexpected into exit code 3, at one point."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PerfrulesError as exc:
            click.echo(exc.text(ctx.meta.get(LANG_KEY, "zh")), err=True)
            ctx.exit(2)
        except click.UsageError as exc:
            if ctx.meta.get(LANG_KEY, "zh") == "en":
                raise
            raise ChineseUsageError(exc) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except OSError as exc:  # an I/O failure no loader named more precisely: still the user's to fix
            click.echo(io_failure(exc, ctx.meta.get(LANG_KEY, "zh")), err=True)
            ctx.exit(2)
        except Exception as exc:  # noqa: BLE001 - the guard: a defect must not look like findings (exit 1)
            click.echo(internal_error(exc, ctx.meta.get(LANG_KEY, "zh"), bool(ctx.meta.get(DEBUG_KEY))), err=True)
            ctx.exit(3)


class ChineseUsageError(click.UsageError):
    """click's own usage error (a missing or unknown option, a value not allowed), said in Chinese first with
    click's English beside it, as perfrules' own errors are; the usage line and the help hint stay as click gives them."""

    def __init__(self, original: click.UsageError):
        super().__init__(original.format_message(), original.ctx)
        self.original = original

    def format_message(self) -> str:
        exc, en = self.original, self.original.format_message()
        if isinstance(exc, click.NoSuchOption):
            zh = f"没有选项 {exc.option_name}" + (f"（是否要用 {'、'.join(sorted(exc.possibilities))}）" if exc.possibilities else "")
        elif isinstance(exc, click.MissingParameter):
            zh = f"缺少必需的{'选项' if isinstance(exc.param, click.Option) else '参数'} {_hint(exc)}".rstrip()
        elif isinstance(exc, click.BadParameter):
            zh = f"{_hint(exc)} 的取值不可用".lstrip()
        else:
            zh = "命令行用法有误"
        return f"{zh}。({en})"

    def show(self, file: Any = None) -> None:
        file = file or sys.stderr
        if self.ctx is not None:
            click.echo(f"{self.ctx.get_usage()}\nTry '{self.ctx.command_path} --help' for help.\n", file=file)
        click.echo(f"错误：{self.format_message()}", file=file)


def _hint(exc: click.MissingParameter | click.BadParameter) -> str:
    if exc.param_hint is not None:
        return exc.param_hint if isinstance(exc.param_hint, str) else " / ".join(exc.param_hint)
    return " / ".join(exc.param.opts) if exc.param is not None else ""


def io_failure(exc: OSError, lang: str) -> str:
    """One line for an I/O failure: the file and the system's reason."""
    where = exc.filename or "?"
    why = exc.strerror or str(exc)
    if lang == "en":
        return f"{where}: input/output failure: {why}. [io.failed]"
    return f"{where}：读写失败：{why}。(input/output failure: {why}.) [io.failed]"


def internal_error(exc: BaseException, lang: str, debug: bool) -> str:
    """One line for a defect in perfrules; with ``debug`` the traceback goes to a log file named in the line."""
    what = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")[:300]
    log = ""
    if debug:
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        fd, log = tempfile.mkstemp(prefix=f"perfrules-{stamp}-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"perfrules {' '.join(sys.argv[1:])}\n")
            fh.write("".join(traceback.format_exception(exc)))
    if lang == "en":
        tail = f" Details are in {log}." if log else " Run again with --debug to keep the details in a log file."
        return f"perfrules: internal error ({what}); this is a defect in perfrules, not in your data.{tail} [internal.error]"
    tail_zh = f"详细信息见 {log}。" if log else "加 --debug 重新运行可把详细信息写入日志文件。"
    return f"perfrules：内部错误（{what}），这是 perfrules 的缺陷，不是数据的问题。{tail_zh} (internal error) [internal.error]"


def _remember_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.meta[DEBUG_KEY] = value
    return value


@click.group(cls=PerfrulesGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=print_version,
              help="显示版本与默认规则包版本。(show the version and the default rule pack's version.)")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_remember_debug,
              help="内部错误（退出码 3）时把详细信息写入日志文件。(on an internal error, exit 3, write the traceback to a log file.)")
def main() -> None:
    """perfrules：预算绩效管理合规检查。Compliance checks for budget performance management.

    退出码 Exit codes: 0 无达到 --fail-on 的发现 (no finding reaches --fail-on); 1 有 (one does);
    2 用法、规则包、输入或读写错误 (a usage, rule pack, input or I/O error); 3 perfrules 内部错误 (a defect in perfrules).

    \b
    示例 Examples:
      perfrules check samples/submissions/
      perfrules check samples/exports/county-2022 --format json --output out.json
    """


for command in (checking.check, checking.screen_command, nightly.nightly_command, authoring.rules_command,
                authoring.explain_command, authoring.lint_command, authoring.diff_command, authoring.test_command,
                notices.notices_command, maps.maps_command, maps.map_check_command, serve.serve_command,
                serve.decisions_command):
    main.add_command(command)
main.add_command(partition_command)


if __name__ == "__main__":  # pragma: no cover
    main()
