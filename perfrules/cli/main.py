"""The ``perfrules`` command line: a thin click layer over ``perfrules.api``.

Exit codes, in one place: 0 no finding reaches ``--fail-on``; 1 one does; 2 a usage error, an
invalid rule pack, or an input that cannot be read at all.
"""

from __future__ import annotations

from typing import Any

import click

from perfrules.cli import authoring, checking, nightly
from perfrules.cli.options import LANG_KEY
from perfrules.cli.partition import partition_command
from perfrules.cli.version import print_version
from perfrules.errors import PerfrulesError


class PerfrulesGroup(click.Group):
    """Turns domain errors into messages and exit code 2 at one point."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PerfrulesError as exc:
            click.echo(exc.text(ctx.meta.get(LANG_KEY, "zh")), err=True)
            ctx.exit(2)


@click.group(cls=PerfrulesGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=print_version,
              help="显示版本与默认规则包版本。(show the version and the default rule pack's version.)")
def main() -> None:
    """perfrules：预算绩效管理合规检查。Compliance checks for budget performance management.

    \b
    示例 Examples:
      perfrules check samples/submissions/
      perfrules check samples/exports/county-2022 --format json --output out.json
    """


for command in (checking.check, checking.screen_command, nightly.nightly_command, authoring.rules_command,
                authoring.explain_command, authoring.lint_command, authoring.diff_command, authoring.test_command):
    main.add_command(command)
main.add_command(partition_command)


if __name__ == "__main__":  # pragma: no cover
    main()
