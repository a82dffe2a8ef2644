"""`perfrules test`: runs the rule cases, prints pass/fail per case with a diff, exits 1 on a failure."""

from __future__ import annotations

import shutil

from click.testing import CliRunner
from conftest import RULES

from perfrules.cli.main import main


def test_bundled_cases_pass():
    # tests/test_rule_cases.py runs every case; here the command itself, on one profile's cases.
    result = CliRunner().invoke(main, ["test", str(RULES), "--profile", "qitai"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"{len(lines) - 1} passed, 0 failed" and len(lines) > 3
    assert all("[qitai]" in line for line in lines[:-1])


def test_a_wrong_expectation_fails_with_a_diff(tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    for other in (copy / "tests").glob("*.yaml"):
        if other.name not in ("P05-P08.yaml", "bases.yaml"):
            other.unlink()
    case = copy / "tests" / "P05-P08.yaml"
    text = case.read_text(encoding="utf-8")
    case.write_text(text.replace("expect: [{severity: 阻断, evidence: {amount: 500000, params.ex_ante_threshold: 500000}}]",
                                 "expect: [{severity: 警告}]", 1), encoding="utf-8")
    result = CliRunner().invoke(main, ["test", str(copy), "--lang", "en"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    fail = next(i for i, line in enumerate(lines) if line.startswith("FAIL"))
    assert "PF-P05-EXANTE" in lines[fail] and "P05-P08.yaml:" in lines[fail]
    assert lines[fail + 1].startswith('  - {"rule": "PF-P05-EXANTE", "severity": "警告"')
    assert lines[fail + 2].startswith('  + {"rule": "PF-P05-EXANTE", "severity": "阻断"')
    assert lines[-1].endswith(" passed, 1 failed")


def test_a_case_naming_an_unknown_base_is_a_load_error(tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    (copy / "tests" / "bad.yaml").write_text("cases:\n  - name: x\n    rule: PF-P01-NOGOAL\n    project: {base: nosuch}\n    expect: []\n",
                                            encoding="utf-8")
    result = CliRunner().invoke(main, ["test", str(copy)])
    assert result.exit_code == 2
    assert "bad.yaml:2" in result.output and "nosuch" in result.output
