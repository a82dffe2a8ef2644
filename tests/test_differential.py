"""The durable-rules path and the pandas batch path give the same findings — the same row of the findings
table: rule, record, severity, evidence, message, amounts, watch list — on every sample, every rule case, and 500 generated submissions.

A disagreement is fixed in a backend, never by loosening this test.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import RULES, SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_supplied import every_aggregate_pack, plain_value

from perfrules.api import check_datasets
from perfrules.authoring.rule_tests import load_cases
from perfrules.evaluation.durable import available
from perfrules.evaluation.facts import build_facts
from perfrules.evaluation.record_facts import record_values, submission_records
from perfrules.inputs.submission import submission_dataset
from perfrules.rulepack.pack import load_pack

pytestmark = pytest.mark.skipif(not available()[0], reason=available()[1])

PACK = load_pack(RULES)
PROFILES = ["national", "sheyang", "nanchang-gaoxin", "qitai", "tongxin", "yongqiao"]


@pytest.fixture(scope="module")
def screener():
    from perfrules.evaluation.screening import Screener
    s = Screener(pack=PACK)
    yield s
    s.close()


def _key(findings) -> list[str]:
    """Each finding's whole row of the findings table (project name, amounts and watch list included) and its
    JSON form: the two paths make the same rows."""
    return sorted(json.dumps([f.row, f.to_dict()], ensure_ascii=False, sort_keys=True, default=str) for f in findings)


def both(screener, projects, departments, as_of, profile, prefix="projects"):
    ds = submission_dataset(projects, departments, "s.json", prefix)
    batch = check_datasets([ds], PACK, profile, as_of)
    doc = {"projects": projects, "departments": departments}  # departments None: no claim, as a document without the key
    durable = screener.screen(doc if prefix == "projects" else projects[0], profile=profile, as_of=as_of, name="s.json")
    return batch, durable


def assert_same(batch, durable):
    assert _key(durable.findings) == _key(batch.findings)
    assert durable.errors == batch.errors


SAMPLE_FILES = sorted((SAMPLES / "submissions").glob("*.json"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_samples_agree(screener, path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    as_of = dt.date.fromisoformat(doc["as_of"])
    for profile in [None, *doc["expect"]]:
        assert_same(*both(screener, doc.get("projects", []), doc.get("departments"), as_of, profile))


CASES = load_cases(RULES)


def test_rule_cases_agree(screener):
    for case in CASES:
        batch, durable = both(screener, case.projects, case.departments, case.as_of, case.profile)
        assert _key(durable.findings) == _key(batch.findings), case.id


# --- generated submissions ---------------------------------------------------------------------

maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
flag = st.sampled_from([True, False, None, "是", "否", "Y", "N"])
money = st.one_of(st.sampled_from([0, 1, 299999.99, 300000, 499999.99, 500000, 500000.01, 1000000, "50万", "50万元",
                                   "1,000,000.00", "５０００００", "", "-", None, "一百万"]),
                  st.floats(min_value=0, max_value=5e6, allow_nan=False).map(lambda x: round(x, 2)))
grade = st.sampled_from(["优", "良", "中", "差", "优秀", "良好", "一般", "较差", "低", None, "", "A"])
day = st.dates(dt.date(2020, 12, 25), dt.date(2023, 1, 5)).map(lambda d: d.isoformat())
date_value = st.one_of(st.none(), day, st.sampled_from(["2021-12-31", "2022-01-01", "2022-12-31", "2023-01-01",
                                                        "2022年10月31日", "2022/06/30", "not a date"]))
indicator = st.fixed_dictionaries({}, optional={
    "level1": st.sampled_from(["产出指标", "效益指标", "满意度指标", "成本指标", None]),
    "level2": st.sampled_from(["数量指标", "质量指标", None]),
    "target": maybe(st.sampled_from(["≥95%", "1项"])),
    "target_value": maybe(st.sampled_from([0, 1, 95, "95"])),
})
goal = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "review_status": st.sampled_from(["未审核", "通过", "未通过", None]),
    "multi_year": flag, "published": flag,
    "indicators": st.lists(indicator, max_size=14),
}))
evaluation = st.fixed_dictionaries({"year": st.sampled_from([2018, 2019, 2020, 2021, 2022])}, optional={
    "grade": grade, "score": maybe(st.sampled_from([0, 55, 59.99, 60, 79.9, 80, 89.99, 90, 100]))})
prior = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "year": st.sampled_from([2020, 2021, None]), "self_evaluated": flag, "score": maybe(st.sampled_from([50, 60, 75, 80, 90, 95])),
    "grade": grade, "goals_met": flag, "explanation": st.sampled_from([None, "", "已说明原因"]),
    "rectification": st.sampled_from(["已完成", "未完成", "无需", None]), "published": flag}))
execution = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "budget": money, "paid_to_date": money, "carryover_years": st.sampled_from([0, 1, 2, 3, None]),
    "ppp_subsidy_paid": st.sampled_from([0, 100000, None])}))
month = st.integers(1, 12).map(lambda m: f"2022-{m:02d}")
monitoring = st.fixed_dictionaries({"month": month}, optional={
    "goal_deviation": flag, "poor_execution": flag, "serious_problem": flag})
payment = st.fixed_dictionaries({"date": date_value, "amount": money})
project = st.fixed_dictionaries({"project_id": st.just("G-1"), "fiscal_year": st.sampled_from([2021, 2022, 2022, 2022])}, optional={
    "amount": money, "prior_year_amount": money, "is_new": flag, "is_major": flag, "kind": st.sampled_from(["项目", "政策"]),
    "budget_type": st.sampled_from(["一般公共预算", "政府性基金预算", "国有资本经营预算", "社会保险基金预算", "专项资金", None]),
    "expense_category": st.sampled_from(["人员类", "运转类", "特定目标类", "其他", None]),
    "funding_sources": maybe(st.lists(st.sampled_from(["专项资金", "PPP", "转移支付"]), max_size=3)),
    "start_date": date_value, "end_date": date_value, "responsible_person": st.sampled_from([None, "", "王芳"]),
    "department": st.just("县水利局"), "performance_goal": goal,
    "ex_ante_assessment": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
        "report_id": st.sampled_from([None, "R-1"]), "conclusion": st.sampled_from(["通过", "退回", "论证不充分", None])})),
    "prior_evaluation": prior, "evaluation_history": st.lists(evaluation, max_size=4), "execution": execution,
    "monitoring": st.lists(monitoring, max_size=12), "payments": st.lists(payment, max_size=5),
})
department = st.fixed_dictionaries({"department": st.just("县水利局"), "fiscal_year": st.just(2022)}, optional={
    "overall_goal": st.fixed_dictionaries({}, optional={
        "aspects": maybe(st.lists(st.sampled_from(["运行成本", "管理效率", "履职效能", "社会效应", "可持续发展能力", "服务对象满意度"]),
                                  max_size=6, unique=True)),
        "mid_year_monitored": flag})})
as_of = st.sampled_from(["2022-06-29", "2022-06-30", "2022-07-01", "2022-10-30", "2022-10-31", "2022-11-29", "2022-11-30",
                         "2022-12-31", "2023-01-01", "2023-03-15"]).map(dt.date.fromisoformat)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(projects=st.lists(project, min_size=1, max_size=2), departments=st.lists(department, max_size=1),
       when=as_of, profile=st.sampled_from(PROFILES))
def test_generated_submissions_agree(screener, projects, departments, when, profile):
    assert_same(*both(screener, projects, departments, when, profile))


# --- every aggregate, supplied (with rows or empty) and absent ----------------------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                   HealthCheck.function_scoped_fixture])
@given(projects=st.lists(project, min_size=1, max_size=3), when=as_of)
def test_every_aggregate_agrees_on_generated_submissions(every_aggregate, projects, when):
    # Generated projects have each list key (payments, monitoring, evaluation_history, indicators) with rows, as
    # [] or not at all: the vectorised fact layer (batch path) and the per-record one (durable path) agree on
    # every aggregate of the language over every related table.
    names = [d.fact.name for d in every_aggregate.derived]
    frame = build_facts(submission_dataset(projects, [], "s.json"), every_aggregate, when).frames["projects"]
    records = submission_records(projects, [], "s.json").projects
    for i, rec in enumerate(records):
        values = record_values(rec, every_aggregate, "projects", when)
        assert {n: plain_value(frame[n].iloc[i]) for n in names} == {n: plain_value(values[n]) for n in names}


@pytest.fixture(scope="module")
def every_aggregate(tmp_path_factory):
    return every_aggregate_pack(tmp_path_factory.mktemp("pack"))


def test_an_unreadable_payment_date_is_reported_once_on_both_paths(screener):
    # Found by the generated test after the merges: the batch path reported an unreadable date once, the per-record
    # path also as an unplaceable row (a second PF-D03-UNREADABLE with value '').
    project = {"project_id": "G-1", "fiscal_year": 2022, "amount": 100000, "has_goal": True,
               "payments": [{"date": "not a date", "amount": 100}]}
    batch, durable = both(screener, [project], [], dt.date(2022, 11, 15), "national")
    assert_same(batch, durable)
    dates = [f for f in batch.findings if f.rule_id == "PF-D03-UNREADABLE" and f.location.get("column") == "date"]
    assert [f.evidence["value"] for f in dates] == ["not a date"]
