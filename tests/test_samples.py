"""Every sample gives, under each profile it names, exactly the findings it says it demonstrates."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml
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


EXPORTS = sorted(p for p in (SAMPLES / "exports").iterdir() if p.is_dir())
EXPORT_CASES = [(path, profile) for path in EXPORTS
                for profile in yaml.safe_load((path / "manifest.yaml").read_text(encoding="utf-8"))["expect"]]


@pytest.mark.parametrize("path, profile", EXPORT_CASES, ids=[f"{p.name}@{prof}" for p, prof in EXPORT_CASES])
def test_export_sample_gives_what_it_says(path, profile):
    manifest = yaml.safe_load((path / "manifest.yaml").read_text(encoding="utf-8"))
    assert manifest.get("about")
    expected = sorted((e["rule"], e.get("project_id") or e.get("department"), e["severity"]) for e in manifest["expect"][profile])
    result = check_paths([path], profile=profile)
    got = sorted((f.rule_id, f.project_id or f.department, f.severity) for f in result.findings)
    assert got == expected


def test_each_profile_has_an_export_folder_where_it_differs_from_national():
    for profile in ("sheyang", "nanchang-gaoxin", "qitai", "tongxin"):
        expect = yaml.safe_load((SAMPLES / "exports" / f"{profile}-2022" / "manifest.yaml").read_text(encoding="utf-8"))["expect"]
        assert expect[profile] != expect["national"], profile
    assert (SAMPLES / "exports" / "yongqiao-2022" / "manifest.yaml").is_file()


def test_readme_is_current():
    spec = importlib.util.spec_from_file_location("make_readme", SAMPLES / "make_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (SAMPLES / "README.md").read_text(encoding="utf-8") == module.render(), "run python samples/make_readme.py"


def test_every_sample_states_its_expectation():
    for path in SUBMISSIONS:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert "national" in doc.get("expect", {}), path.name
