"""Shared fixtures: the bundled pack compiled once, and a helper that checks in-memory projects."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from perfrules.evaluation.check import CheckResult, check
from perfrules.inputs.submission import submission_dataset
from perfrules.rulepack.compile import CompiledPack, compile_pack
from perfrules.rulepack.pack import load_pack

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
SAMPLES = ROOT / "samples"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def compiled() -> CompiledPack:
    return compile_pack(load_pack(RULES))


@pytest.fixture()
def clean_project() -> dict[str, Any]:
    """The clean sample project: every rule stays quiet on it."""
    doc = json.loads((SAMPLES / "submissions" / "clean-project.json").read_text(encoding="utf-8"))
    return copy.deepcopy(doc["projects"][0])


def run(compiled: CompiledPack, projects: list[dict[str, Any]], as_of: str = "2022-11-15",
        departments: list[dict[str, Any]] | None = None, lang: str = "zh") -> CheckResult:
    """Check in-memory projects with the compiled pack."""
    ds = submission_dataset(projects, departments, "test.json")
    return check(ds, compiled, dt.date.fromisoformat(as_of), lang)


def fired(result: CheckResult, rule_id: str) -> list[Any]:
    """The findings of one rule."""
    return [f for f in result.findings if f.rule_id == rule_id]
