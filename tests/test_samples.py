"""Every sample gives, under each profile it names, exactly the findings it says it demonstrates."""

from __future__ import annotations

import json

import pytest

from conftest import SAMPLES
from perfrules.api import check_paths

SUBMISSIONS = sorted((SAMPLES / "submissions").glob("*.json"))
CASES = [(path, profile) for path in SUBMISSIONS
         for profile in json.loads(path.read_text(encoding="utf-8")).get("expect", {"national": None})]


def _who(f: dict) -> str:
    return f.get("project_id") or f.get("department")


@pytest.mark.parametrize("path, profile", CASES, ids=[f"{p.name}@{prof}" for p, prof in CASES])
def test_sample_gives_what_it_says(path, profile):
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc.get("about"), f"{path.name} does not say what it demonstrates"
    expected = sorted((e["rule"], e.get("project_id") or e.get("department"), e["severity"]) for e in doc["expect"][profile])
    result = check_paths([path], profile=profile)
    got = sorted((f.rule_id, f.project_id or f.department, f.severity) for f in result.findings)
    assert got == expected


def test_every_sample_states_its_expectation():
    for path in SUBMISSIONS:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert "national" in doc.get("expect", {}), path.name
