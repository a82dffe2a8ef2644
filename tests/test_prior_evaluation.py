"""A project's prior-year evaluation, when the evaluations table has several for that year, is the most
authoritative one (财政重点评价 > 第三方 > 部门评价 > 单位自评, the rule top() reads; one definition,
``perfrules.language.functions.authority_ranks``), whatever the rows' order: on the batch loaders (an
export, with unique and with repeated project ids; a submission) and on the per-record path. The precedence is
the profile's ``params.evaluation_precedence`` (a profile that reverses it: tests/test_round2_precedence.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import RULES

from perfrules.evaluation.record_facts import record_values, submission_records
from perfrules.inputs.dataset import with_prior_from_evaluations
from perfrules.inputs.export import load_export
from perfrules.inputs.submission import submission_dataset
from perfrules.rulepack.compile import compile_pack
from perfrules.rulepack.pack import load_pack

COMPILED = compile_pack(load_pack(RULES))  # the national baseline: the pack's default precedence

SELF = "A1,2021,良,86,是,单位自评\n"
KEY = "A1,2021,差,55,否,财政重点评价\n"
DEPT = "A1,2021,中,70,否,部门评价\n"
EVAL_HEADER = "项目编码,评价年度,评价等级,评价得分,是否开展自评,评价方式\n"


def _export(folder: Path, rows: list[str], projects: str = "A1,项目甲,2022,县水利局,1200000,1000000,否\n") -> Path:
    folder.mkdir()
    (folder / "项目.csv").write_text("项目编码,项目名称,预算年度,主管部门,申请金额,上年预算金额,是否新增\n" + projects, encoding="utf-8")
    (folder / "绩效评价.csv").write_text(EVAL_HEADER + "".join(rows), encoding="utf-8")
    return folder


def _prior(ds, project: str = "A1") -> dict:
    p = with_prior_from_evaluations(ds, COMPILED.params).frame("projects")
    row = p[p["project_id"] == project].iloc[0]
    return {k: (None if str(row[k]) in ("<NA>", "nan") else row[k]) for k in ("prior_grade", "prior_evaluator", "prior_score")}


@pytest.mark.parametrize("rows", [[SELF, KEY], [KEY, SELF], [SELF, DEPT, KEY], [KEY, DEPT, SELF], [DEPT, SELF]],
                         ids=["self-then-key", "key-then-self", "three-key-last", "three-key-first", "dept-and-self"])
def test_an_export_takes_the_most_authoritative_prior_year_evaluation(tmp_path, rows):
    expected = {"财政重点评价": ("差", 55.0), "部门评价": ("中", 70.0)}
    lead = "财政重点评价" if KEY in rows else "部门评价"
    ds = load_export(_export(tmp_path / "e", rows))
    prior = _prior(ds)
    assert (prior["prior_evaluator"], prior["prior_grade"], float(prior["prior_score"])) == (lead, *expected[lead])


def test_repeated_project_ids_match_on_id_and_year_and_still_take_the_most_authoritative(tmp_path):
    # A1 has records for 2022 and 2023 (ids not unique: the loader matches on id and year together).
    projects = "A1,项目甲,2022,县水利局,1200000,1000000,否\nA1,项目甲,2023,县水利局,1200000,1000000,否\n"
    rows = [KEY, SELF, "A1,2022,良,88,是,单位自评\n", "A1,2022,优,92,否,第三方\n"]
    ds = load_export(_export(tmp_path / "e", rows, projects))
    p = with_prior_from_evaluations(ds, COMPILED.params).frame("projects")
    got = sorted((int(r.fiscal_year), r.prior_evaluator, r.prior_grade) for r in p.itertuples())
    assert got == [(2022, "财政重点评价", "差"), (2023, "第三方", "优")]


def test_equally_ranked_evaluations_lead_in_file_order(tmp_path):
    first, second = "A1,2021,中,70,是,单位自评\n", "A1,2021,差,50,是,单位自评\n"
    assert _prior(load_export(_export(tmp_path / "a", [first, second])))["prior_grade"] == "中"
    assert _prior(load_export(_export(tmp_path / "b", [second, first])))["prior_grade"] == "差"


HISTORY = [{"year": 2021, "grade": "良", "score": 86, "self_evaluated": True, "evaluator": "单位自评"},
           {"year": 2021, "grade": "差", "score": 55, "self_evaluated": False, "evaluator": "财政重点评价"}]


@pytest.mark.parametrize("history", [HISTORY, HISTORY[::-1]], ids=["self-then-key", "key-then-self"])
def test_a_submission_takes_it_on_both_paths(history):
    project = {"project_id": "S1", "fiscal_year": 2022, "amount": 1200000, "prior_year_amount": 1000000,
               "is_new": False, "evaluation_history": history}
    batch = with_prior_from_evaluations(submission_dataset([project], None, "s.json"), COMPILED.params).frame("projects").iloc[0]
    assert (batch["prior_evaluator"], batch["prior_grade"]) == ("财政重点评价", "差")
    record = submission_records([project], None, "s.json").projects[0]
    per_record = record_values(record, COMPILED, "projects", dt.date(2022, 3, 1))
    assert (per_record["prior_evaluator"], per_record["prior_grade"]) == ("财政重点评价", "差")


def test_p08_reads_the_key_evaluation_whichever_row_comes_last(tmp_path):
    from perfrules.api import check_datasets
    for name, rows in (("a", [SELF, KEY]), ("b", [KEY, SELF])):
        ds = load_export(_export(tmp_path / name, rows))
        found = [f for f in check_datasets([ds], load_pack(RULES), "national", dt.date(2022, 3, 1)).findings
                 if f.rule_id == "PF-P08-POORGRADE"]
        assert [(f.project_id, f.severity, f.evidence["prior_grade"]) for f in found] == [("A1", "阻断", "差")]
