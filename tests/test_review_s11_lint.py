"""Review session 11, a policy officer editing a copy of the rules: `perfrules lint` after one realistic mistake.
Each test showed a defect (found as an xfail, strict) that is now fixed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import RULES, SAMPLES


def lint(rules: Path) -> tuple[int, list[dict]]:
    proc = subprocess.run([sys.executable, "-m", "perfrules", "lint", str(rules), "--format", "json"],
                          capture_output=True, text=True, encoding="utf-8", cwd=rules.parent, timeout=300)
    return proc.returncode, json.loads(proc.stdout or "[]")


@pytest.fixture()
def my_rules(tmp_path) -> Path:
    copy = tmp_path / "my-rules"
    shutil.copytree(RULES, copy)
    return copy


def test_one_indentation_mistake_is_one_problem_not_a_cascade(my_rules):
    p_file = my_rules / "P-budgeting.yaml"
    text = p_file.read_text(encoding="utf-8")
    assert "    severity: 阻断\n" in text
    p_file.write_text(text.replace("    severity: 阻断\n", "  severity: 阻断\n", 1), encoding="utf-8")  # PF-P01's severity

    code, problems = lint(my_rules)

    assert code == 1
    assert any(p["code"] == "yaml.syntax" and p["file"].endswith("P-budgeting.yaml") for p in problems)
    # PF-P01-NOGOAL is still written in the file lint could not read; lint cannot say it does not exist.
    claims = [f"{p['file']}:{p['line']} {p['code']} {p['rule_id']}" for p in problems
              if p["code"] != "yaml.syntax" and (p["rule_id"] or "").startswith("PF-P")]
    assert claims == [], f"{len(problems)} problems, among them {claims[:3]}"


def test_an_unreadable_profile_does_not_make_its_rules_never_enabled(my_rules):
    profile = my_rules / "profiles" / "sheyang.yaml"
    text = profile.read_text(encoding="utf-8")
    assert "enable: [PF-M08-PAIDWHILESERIOUS, PF-E08-KEYEVAL]" in text
    profile.write_text(text.replace("  cut_grades:", "\tcut_grades:", 1), encoding="utf-8")

    code, problems = lint(my_rules)

    assert code == 1
    assert [p["code"] for p in problems if p["file"].endswith("sheyang.yaml")] == ["yaml.syntax"]
    assert [p["rule_id"] for p in problems if p["code"] == "lint.never-enabled"] == []


def test_a_quoted_clause_changed_from_the_document_is_reported(my_rules):
    p_file = my_rules / "P-budgeting.yaml"
    verbatim = "财政和资产管理局要对单位填报的绩效目标加强审核，未按要求设定绩效目标或审核未通过的，不得安排预算。"
    assert verbatim in (my_rules / "sources" / "clauses.yaml").read_text(encoding="utf-8")
    text = p_file.read_text(encoding="utf-8")
    assert verbatim in text
    p_file.write_text(text.replace(verbatim, "财政和资产管理局要对单位填报的绩效目标加强审核，未设定绩效目标的，不得安排预算。", 1),
                      encoding="utf-8")

    code, problems = lint(my_rules)

    assert code == 1 and any(p["file"].endswith("P-budgeting.yaml") for p in problems), problems


def test_a_broken_pack_yaml_is_one_problem_for_check(my_rules, tmp_path):
    pack = my_rules / "pack.yaml"
    pack.write_text(pack.read_text(encoding="utf-8") + "\tx\n", encoding="utf-8")

    proc = subprocess.run([sys.executable, "-m", "perfrules", "check", str(SAMPLES / "submissions" / "p01-no-goal.json"),
                           "--rules", str(my_rules)], capture_output=True, text=True, encoding="utf-8", cwd=tmp_path,
                          timeout=300)

    assert proc.returncode == 2
    assert "[yaml.syntax]" in proc.stderr
    assert "[rule.unknown-param]" not in proc.stderr and "[rule.unknown-field]" not in proc.stderr, proc.stderr[:600]
