"""Every rule's YAML cases, run by the same generic runner ``perfrules test`` uses, and their coverage."""

from __future__ import annotations

import pytest
from conftest import RULES

from perfrules.authoring.rule_tests import CaseRunner, coverage, load_cases
from perfrules.rulepack.pack import load_pack

PACK = load_pack(RULES)
CASES = load_cases(RULES)
RUNNER = CaseRunner(PACK)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_case(case):
    result = RUNNER.run(case)
    assert result.passed, f"{case.where.file}:{case.where.line} {case.name}\n{result.diff()}"


def test_every_rule_has_a_case_that_fires_and_one_that_stays_quiet():
    cov = coverage(CASES)
    for rule_id in PACK.rules:
        assert cov.get(rule_id, {}).get("fires", 0) >= 1, f"{rule_id} has no case that makes it fire"
        assert cov.get(rule_id, {}).get("quiet", 0) >= 1, f"{rule_id} has no case that keeps it quiet"


def test_cases_name_existing_rules():
    for case in CASES:
        for rid in case.rules:
            assert rid in PACK.rules, f"{case.id} names unknown rule {rid}"


def test_the_runner_reports_a_wrong_expectation():
    case = next(c for c in CASES if c.rules == ["PF-P05-EXANTE"] and c.expect)
    wrong = type(case)(**{**case.__dict__, "expect": [{"severity": "警告"}]})
    result = RUNNER.run(wrong)
    assert not result.passed
    assert result.missing == [{"rule": "PF-P05-EXANTE", "severity": "警告", "project_id": "T-001"}]
    assert [u["severity"] for u in result.unexpected] == ["阻断"]
