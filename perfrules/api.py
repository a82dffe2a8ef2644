"""The library API: load a pack, compile it for a profile, check inputs. The CLI is a thin layer over this."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Iterable

from .data import Dataset, load_inputs
from .engine import CheckResult, check_all, merge_results
from .jurisdiction import split_by_jurisdiction
from .spec.compile import CompiledPack, compile_pack
from .spec.model import RulePack
from .spec.profile import available_profiles, load_profile
from .spec.pack import load_pack


def default_rules_dir() -> Path:
    """The bundled rules: ``$PERFRULES_RULES``, else ``rules/`` beside the package, else ``./rules``."""
    env = os.environ.get("PERFRULES_RULES")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[1] / "rules"
    if not beside.is_dir():
        return Path("rules")
    try:
        return beside.relative_to(Path.cwd())  # shorter paths in messages
    except ValueError:
        return beside


def compile_rules(rules_dir: str | Path | None = None, profile: str | None = None) -> CompiledPack:
    """Load and compile a rules directory for a profile (default: the national baseline)."""
    return compile_pack(load_pack(rules_dir or default_rules_dir()), profile)


def check_datasets(datasets: list[Dataset], pack: RulePack, profile: str | None = None,
                   as_of: dt.date | None = None, lang: str = "zh") -> CheckResult:
    """Check loaded inputs: under ``profile`` if given, else each record under its jurisdiction's profile."""
    compiled: dict[str, CompiledPack] = {}

    def for_profile(name: str) -> CompiledPack:
        if name not in compiled:
            compiled[name] = compile_pack(pack, name)
        return compiled[name]

    if profile:
        return check_all(datasets, for_profile(profile), as_of, lang)
    known = available_profiles(pack)
    parts = [(name, part) for d in datasets for name, part in split_by_jurisdiction(d, known).items()]
    results = [check_all([part], for_profile(name), as_of or part.as_of, lang) for name, part in parts]
    return merge_results(results)


def check_paths(inputs: Iterable[str | Path], rules_dir: str | Path | None = None, profile: str | None = None,
                as_of: dt.date | str | None = None, lang: str = "zh") -> CheckResult:
    """Load submissions and/or export folders and check them (each input at its own as-of date unless given)."""
    pack = load_pack(rules_dir or default_rules_dir())
    if profile:
        load_profile(pack, profile)  # an unknown profile is a usage error before any input is read
    when = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    return check_datasets(load_inputs(list(inputs)), pack, profile, when, lang)
