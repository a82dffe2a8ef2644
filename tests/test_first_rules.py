"""The first six rules (P01, P02, P05, P08, M02, D01): each fires on its violating case, not on its clean neighbour."""

from __future__ import annotations

import pytest
from conftest import fired, run


def test_clean_project_has_no_findings(compiled, clean_project):
    assert run(compiled, [clean_project]).findings == []


def test_p01_fires_without_a_goal(compiled, clean_project):
    clean_project["performance_goal"] = None
    [f] = fired(run(compiled, [clean_project]), "PF-P01-NOGOAL")
    assert (f.severity, f.project_id, f.requirement) == ("阻断", "SY-2022-001", ["P01"])
    assert f.evidence == {"has_goal": False}
    assert "未设定绩效目标" in f.message


def test_p01_quiet_with_a_goal_even_unreviewed(compiled, clean_project):
    clean_project["performance_goal"]["review_status"] = "未审核"
    assert fired(run(compiled, [clean_project]), "PF-P01-NOGOAL") == []


def test_p02_fires_when_goal_rejected(compiled, clean_project):
    clean_project["performance_goal"]["review_status"] = "未通过"
    [f] = fired(run(compiled, [clean_project]), "PF-P02-GOALREJECTED")
    assert f.severity == "阻断"
    assert f.evidence["goal_review_status"] == "未通过"


@pytest.mark.parametrize("status", ["通过", "未审核"])
def test_p02_quiet_for_other_statuses(compiled, clean_project, status):
    clean_project["performance_goal"]["review_status"] = status
    assert fired(run(compiled, [clean_project]), "PF-P02-GOALREJECTED") == []


def _new_without_report(project, amount, major=False):
    project.update(amount=amount, is_new=True, is_major=major, ex_ante_assessment=None)
    return project


def test_p05_fires_at_exactly_500000(compiled, clean_project):
    [f] = fired(run(compiled, [_new_without_report(clean_project, 500000)]), "PF-P05-EXANTE")
    assert f.severity == "阻断"
    assert f.evidence["amount"] == 500000
    assert f.evidence["params.ex_ante_threshold"] == 500000


def test_p05_quiet_just_below_threshold(compiled, clean_project):
    assert fired(run(compiled, [_new_without_report(clean_project, 499999.99)]), "PF-P05-EXANTE") == []


def test_p05_fires_below_threshold_when_major(compiled, clean_project):
    assert len(fired(run(compiled, [_new_without_report(clean_project, 100000, major=True)]), "PF-P05-EXANTE")) == 1


def test_p05_quiet_for_continuing_project(compiled, clean_project):
    project = _new_without_report(clean_project, 2000000)
    project["is_new"] = False
    assert fired(run(compiled, [project]), "PF-P05-EXANTE") == []


def test_p05_quiet_with_report(compiled, clean_project):
    clean_project.update(amount=2000000, is_new=True)
    assert fired(run(compiled, [clean_project]), "PF-P05-EXANTE") == []


def test_p05_threshold_is_a_parameter(compiled, clean_project):
    compiled.params["ex_ante_threshold"] = 1000000
    try:
        assert fired(run(compiled, [_new_without_report(clean_project, 600000)]), "PF-P05-EXANTE") == []
    finally:
        compiled.params["ex_ante_threshold"] = 500000


def test_p05_amount_in_wan(compiled, clean_project):
    project = _new_without_report(clean_project, "50")
    project["amount_unit"] = "万元"
    [f] = fired(run(compiled, [project]), "PF-P05-EXANTE")
    assert f.evidence["amount"] == 500000


@pytest.mark.parametrize("grade", ["差", "较差", "低"])
def test_p08_blocks_when_not_cut(compiled, clean_project, grade):
    clean_project["prior_evaluation"]["grade"] = grade
    clean_project.update(amount=1000000, prior_year_amount=1000000)
    [f] = fired(run(compiled, [clean_project]), "PF-P08-POORGRADE")
    assert f.severity == "阻断"
    assert f.evidence["prior_grade_level"] == "差"


def test_p08_warns_when_cut(compiled, clean_project):
    clean_project["prior_evaluation"]["grade"] = "差"
    clean_project.update(amount=999999, prior_year_amount=1000000)
    [f] = fired(run(compiled, [clean_project]), "PF-P08-POORGRADE")
    assert f.severity == "警告"


@pytest.mark.parametrize("grade", ["优", "良", "中", "一般"])
def test_p08_quiet_for_other_grades(compiled, clean_project, grade):
    clean_project["prior_evaluation"]["grade"] = grade
    assert fired(run(compiled, [clean_project]), "PF-P08-POORGRADE") == []


def test_p08_quiet_without_prior_evaluation(compiled, clean_project):
    clean_project["prior_evaluation"] = None
    result = run(compiled, [clean_project])
    assert fired(result, "PF-P08-POORGRADE") == [] and fired(result, "PF-D03-MISSING") == []


def _zero_paid(project):
    project["payments"] = []
    project["execution"]["paid_to_date"] = 0
    return project


def test_m02_fires_on_october_31(compiled, clean_project):
    [f] = fired(run(compiled, [_zero_paid(clean_project)], as_of="2022-10-31"), "PF-M02-ZEROPAID")
    assert f.severity == "警告"
    assert f.evidence["paid"] == 0
    assert "列入重点关注台账" in f.recommendation


def test_m02_quiet_on_october_30(compiled, clean_project):
    assert fired(run(compiled, [_zero_paid(clean_project)], as_of="2022-10-30"), "PF-M02-ZEROPAID") == []


def test_m02_counts_only_payments_up_to_as_of(compiled, clean_project):
    clean_project["payments"] = [{"date": "2022-11-05", "amount": 1000}]
    assert len(fired(run(compiled, [clean_project], as_of="2022-10-31"), "PF-M02-ZEROPAID")) == 1
    assert fired(run(compiled, [clean_project], as_of="2022-11-05"), "PF-M02-ZEROPAID") == []


def test_m02_uses_paid_to_date_without_payment_rows(compiled, clean_project):
    del clean_project["payments"]
    clean_project["execution"]["paid_to_date"] = 0
    assert len(fired(run(compiled, [clean_project], as_of="2022-12-01"), "PF-M02-ZEROPAID")) == 1
    clean_project["execution"]["paid_to_date"] = 1
    assert fired(run(compiled, [clean_project], as_of="2022-12-01"), "PF-M02-ZEROPAID") == []


def test_m02_unknown_paid_is_a_data_finding(compiled, clean_project):
    del clean_project["payments"]
    clean_project["execution"]["paid_to_date"] = None
    result = run(compiled, [clean_project], as_of="2022-11-01")
    assert fired(result, "PF-M02-ZEROPAID") == []
    [d] = [f for f in fired(result, "PF-D03-MISSING") if f.evidence["rule"] == "PF-M02-ZEROPAID"]
    # paid = coalesce(sum over payment rows, paid_to_date): this submission has neither.
    # The evidence keeps the engine's names; the message and the headers entry name them as the submission did.
    assert d.evidence == {"rule": "PF-M02-ZEROPAID", "missing": ["payments", "paid_to_date"],
                          "headers": {"paid_to_date": "execution.paid_to_date"}}
    assert "需要的数据缺失：支付明细表、execution.paid_to_date；" in d.message
    assert d.requirement == ["D03"]


def test_d01_fires_for_unknown_book(compiled, clean_project):
    clean_project["budget_type"] = "专项预算"
    [f] = fired(run(compiled, [clean_project]), "PF-D01-BUDGETBOOK")
    assert f.severity == "阻断" and f.evidence["budget_type"] == "专项预算"


@pytest.mark.parametrize("book", ["一般公共预算", "政府性基金预算", "国有资本经营预算", "社会保险基金预算"])
def test_d01_quiet_for_the_four_books(compiled, clean_project, book):
    clean_project["budget_type"] = book
    assert fired(run(compiled, [clean_project]), "PF-D01-BUDGETBOOK") == []


def test_d01_missing_budget_type_is_d03(compiled, clean_project):
    del clean_project["budget_type"]
    result = run(compiled, [clean_project])
    [d] = fired(result, "PF-D03-MISSING")
    assert d.evidence["missing"] == ["budget_type"] and d.evidence["rule"] == "PF-D01-BUDGETBOOK"


def test_english_texts(compiled, clean_project):
    clean_project["performance_goal"] = None
    [f] = fired(run(compiled, [clean_project], lang="en"), "PF-P01-NOGOAL")
    assert f.message.startswith("Project SY-2022-001") and f.title == "No performance goal, no budget"
