"""Right verdicts at the edges: lint rejects what evaluation would, rule files are read whole, both paths agree on odd years."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import RULES, SAMPLES

from perfrules.cli.main import main

M = "M-execution.yaml"
M02_WHEN = "when: as_of >= fy_date(params.zero_payment_checkpoint) and paid == 0"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--lang", "en"])
    assert not (result.exception and not isinstance(result.exception, SystemExit)), result.exception
    return result.exit_code, result.stdout + result.stderr


def pack_with(tmp_path: Path, edit: Callable[[Path], None]) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    edit(rules)
    return rules


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("new_when, reason, words", [
    ("when: fy_date('abc') < as_of and paid == 0", "rule.type", 'fy_date() takes a "MM-DD" month-day every year has'),
    ("when: fy_date('02-29') < as_of and paid == 0", "rule.type", "'02-29'"),
    ("when: month_end(13) < as_of and paid == 0", "rule.type", "month_end() takes a month 1-12, got 13"),
    ("when: " + "not " * 350 + "(paid == 0)", "rule.too-deep", "deeper than 40 levels"),
    ("when: paid == " + "(" * 60 + "1" + " + 1)" * 60, "rule.too-deep", "deeper than 40 levels"),
    ("when: paid == " + "9" * 400, "rule.type", "out of range"),
    ("when: paid / 0 > 1", "rule.division-by-zero", "divides by zero"),
])
def test_lint_rejects_conditions_evaluation_would_reject(tmp_path: Path, new_when: str, reason: str, words: str) -> None:
    rules = pack_with(tmp_path, lambda r: replace_in(r / M, M02_WHEN, new_when))
    code, text = cli("lint", str(rules))
    assert code == 1 and "Traceback" not in text
    line = next(line for line in text.splitlines() if f"[{reason}]" in line)
    assert "M-execution.yaml:" in line and "rule PF-M02-ZEROPAID" in line and words in line
    code, text = cli("check", str(SAMPLES / "submissions" / "clean-project.json"), "--rules", str(rules))
    assert code == 2 and f"[{reason}]" in text  # and check refuses the pack rather than crash on it


def test_an_impossible_checkpoint_parameter_fails_lint(tmp_path: Path) -> None:
    rules = pack_with(tmp_path, lambda r: replace_in(r / "pack.yaml", 'default: "10-31"', 'default: "02-29"'))
    code, text = cli("lint", str(rules))
    assert code == 1 and "[pack.param-default]" in text and "'02-29'" in text


def test_a_second_when_is_a_duplicate_key_not_a_silent_winner(tmp_path: Path) -> None:
    rules = pack_with(tmp_path, lambda r: replace_in(r / M, M02_WHEN, M02_WHEN + "\n    when: paid > 0"))
    code, text = cli("lint", str(rules))
    assert code == 1
    assert any("[yaml.duplicate-key]" in line and "M-execution.yaml:12:5" in line and "'when'" in line for line in text.splitlines())


def test_duplicate_keys_in_a_profile_are_refused(tmp_path: Path) -> None:
    def twice(rules: Path) -> None:
        path = rules / "profiles" / "qitai.yaml"
        path.write_text(path.read_text(encoding="utf-8") + "extends: national\n", encoding="utf-8")
    code, text = cli("lint", str(pack_with(tmp_path, twice)))
    assert code == 1 and "[yaml.duplicate-key]" in text and "qitai.yaml" in text


def test_a_test_case_for_a_rule_that_does_not_exist_fails(tmp_path: Path) -> None:
    def ghost(rules: Path) -> None:
        (rules / "tests" / "ghost.yaml").write_text(
            "cases:\n  - name: ghost\n    rule: PF-M02-ZEROPAYD\n    project: {base: clean}\n    expect: []\n", encoding="utf-8")
    rules = pack_with(tmp_path, ghost)
    code, text = cli("lint", str(rules))
    assert code == 1 and "[tests.unknown-rule]" in text and "ghost.yaml:2" in text and "Did you mean 'PF-M02-ZEROPAID'?" in text
    code, text = cli("test", str(rules))
    assert code == 1 and "ghost" in text


@pytest.mark.parametrize("kind", ["dangling", "gbk", "binary", "folder"])
def test_every_rule_file_is_read_or_reported(tmp_path: Path, kind: str) -> None:
    def add(rules: Path) -> None:
        path = rules / "Z-extra.yaml"
        if kind == "dangling":
            os.symlink(tmp_path / "gone.yaml", path)
        elif kind == "gbk":
            path.write_bytes("rules: []\n# 中文注释\n".encode("gbk"))
        elif kind == "binary":
            path.write_bytes(b"\x00\x01rules")
        else:
            path.mkdir()
    rules = pack_with(tmp_path, add)
    code, text = cli("lint", str(rules))
    assert code == 1 and "Z-extra.yaml" in text and "Traceback" not in text
    code, text = cli("check", str(SAMPLES / "submissions" / "clean-project.json"), "--rules", str(rules))
    assert code == 2 and "Z-extra.yaml" in text  # never a pack silently smaller than the folder


@pytest.mark.parametrize("year", [3000, 1066, -5])
def test_a_fiscal_year_outside_the_supported_range_gets_the_same_answer_on_both_paths(tmp_path: Path, clean_project: dict,
                                                                                       year: int) -> None:
    clean_project["fiscal_year"] = year
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"projects": [clean_project], "as_of": "2022-11-15"}, ensure_ascii=False), encoding="utf-8")
    checked = json.loads(CliRunner().invoke(main, ["check", str(path), "--format", "json", "--lang", "en"]).stdout)
    screened = json.loads(CliRunner().invoke(main, ["screen", str(path), "--format", "json", "--lang", "en"]).stdout)
    assert screened["findings"] == checked["findings"]
    assert {f["rule_id"] for f in checked["findings"]} <= {"PF-D03-UNREADABLE", "PF-D03-MISSING"}  # no E01, no P12
    unreadable = [f for f in checked["findings"] if f["rule_id"] == "PF-D03-UNREADABLE"]
    assert len(unreadable) == 1 and "1900–2200" in unreadable[0]["message"]


@pytest.mark.parametrize("column, value", [("start_date", "2250-01-01"), ("end_date", "1800-06-30"), ("start_date", "9999-12-31")])
def test_dates_outside_the_supported_range_are_data_findings_on_both_paths(tmp_path: Path, clean_project: dict,
                                                                           column: str, value: str) -> None:
    clean_project[column] = value
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"projects": [clean_project], "as_of": "2022-11-15"}, ensure_ascii=False), encoding="utf-8")
    checked = json.loads(CliRunner().invoke(main, ["check", str(path), "--format", "json", "--lang", "en"]).stdout)
    screened = json.loads(CliRunner().invoke(main, ["screen", str(path), "--format", "json", "--lang", "en"]).stdout)
    assert screened["findings"] == checked["findings"]
    assert [f["evidence"]["value"] for f in checked["findings"] if f["rule_id"] == "PF-D03-UNREADABLE"] == [value]


def test_an_export_date_outside_the_range_is_a_finding_not_a_wrapped_date(tmp_path: Path) -> None:
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "projects.csv").write_text("project_id,fiscal_year,amount,start_date\nA,2022,1,2300-01-01\nB,3000,1,2022-01-01\n")
    code, text = cli("check", str(tmp_path / "e"), "--format", "json")
    doc = json.loads(text)
    bad = sorted((f["project_id"], f["location"]["column"]) for f in doc["findings"] if f["rule_id"] == "PF-D03-UNREADABLE")
    assert bad == [("A", "start_date"), ("B", "fiscal_year")]


def test_a_rule_that_divides_by_zero_is_a_rule_problem_on_both_paths(tmp_path: Path, clean_project: dict) -> None:
    clean_project["execution"]["budget"] = 0  # execution_rate = paid / budget: every value it reads is present
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"projects": [clean_project], "as_of": "2022-11-15"}, ensure_ascii=False), encoding="utf-8")
    checked = json.loads(CliRunner().invoke(main, ["check", str(path), "--format", "json", "--lang", "en"]).stdout)
    screened = json.loads(CliRunner().invoke(main, ["screen", str(path), "--format", "json", "--lang", "en"]).stdout)
    assert screened["findings"] == checked["findings"]
    [m01] = [f for f in checked["findings"] if f["evidence"].get("rule") == "PF-M01-MIDYEAR"]
    assert m01["evidence"] == {"rule": "PF-M01-MIDYEAR", "missing": [], "uncomputed": ["execution_rate"]}
    assert "the rule needs fixing" in m01["message"] and "needs data the record lacks" not in m01["message"]


def test_a_division_by_zero_in_a_condition_itself_names_the_rule_not_the_data(tmp_path: Path, clean_project: dict) -> None:
    rules = pack_with(tmp_path, lambda r: replace_in(r / M, M02_WHEN, "when: as_of > date('2000-01-01') and paid / (amount - amount) > 1"))
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"projects": [clean_project], "as_of": "2022-11-15"}, ensure_ascii=False), encoding="utf-8")
    doc = json.loads(CliRunner().invoke(main, ["check", str(path), "--rules", str(rules), "--format", "json", "--lang", "en"]).stdout)
    [m02] = [f for f in doc["findings"] if f["evidence"].get("rule") == "PF-M02-ZEROPAID"]
    assert m02["evidence"]["missing"] == [] and "division by zero" in m02["message"]
