"""The library API: load a pack, compile it for a profile, check inputs. The CLI is a thin layer over this."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Iterable

from .data import load_inputs
from .engine import CheckResult, check_all
from .spec.compile import CompiledPack, compile_pack
from .spec.pack import load_pack


def default_rules_dir() -> Path:
    """The bundled rules: ``$PERFRULES_RULES``, else ``rules/`` beside the package, else ``./rules``."""
    env = os.environ.get("PERFRULES_RULES")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[1] / "rules"
    return beside if beside.is_dir() else Path("rules")


def compile_rules(rules_dir: str | Path | None = None, profile: str | None = None) -> CompiledPack:
    """Load and compile a rules directory for a profile (default: the national baseline)."""
    return compile_pack(load_pack(rules_dir or default_rules_dir()), profile)


def check_paths(inputs: Iterable[str | Path], rules_dir: str | Path | None = None, profile: str | None = None,
                as_of: dt.date | str | None = None, lang: str = "zh") -> CheckResult:
    """Load submissions and/or export folders and check them (each input at its own as-of date unless given)."""
    compiled = compile_rules(rules_dir, profile)
    when = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    return check_all(load_inputs(list(inputs)), compiled, when, lang)
