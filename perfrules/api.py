"""The library API: load a pack, compile it for a profile, check inputs. The CLI is a thin layer over this."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from perfrules.evaluation.check import CheckResult, check_all, merge_results
from perfrules.inputs import Dataset, load_inputs
from perfrules.inputs.column_map import ColumnMap
from perfrules.inputs.jurisdiction import split_by_jurisdiction
from perfrules.rulepack.compile import CompiledPack, compile_pack
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.pack import default_rules_dir, load_pack
from perfrules.rulepack.profile import available_profiles, load_profile


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
                as_of: dt.date | str | None = None, lang: str = "zh", column_map: ColumnMap | str | None = None) -> CheckResult:
    """Load submissions and/or export folders and check them (each input at its own as-of date unless given).

    ``column_map`` (a map, or its name or file) says how export folders from another system read.
    """
    pack = load_pack(rules_dir or default_rules_dir())
    if profile:
        load_profile(pack, profile)  # an unknown profile is a usage error before any input is read
    when = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    return check_datasets(load_inputs(list(inputs), column_map), pack, profile, when, lang)
