"""``perfrules --version``: the package's version and the default rule pack's."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click

from perfrules.rulepack.pack import default_rules_dir, load_pack


def package_version() -> str:
    """The installed distribution's version (``0+unknown`` when run from an uninstalled checkout)."""
    try:
        return version("perfrules")
    except PackageNotFoundError:
        return "0+unknown"


def print_version(ctx: click.Context, param: click.Parameter, value: bool) -> Any:
    """Eager ``--version`` callback: prints both versions and exits 0."""
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"perfrules {package_version()}（规则包 rule pack {load_pack(default_rules_dir()).version}）")
    ctx.exit(0)
