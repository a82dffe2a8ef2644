"""Both input shapes normalise into the same tables; messy real-world values are read; bad ones are reported."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from conftest import SAMPLES, fired

from perfrules.errors import InputError
from perfrules.evaluation.check import check
from perfrules.inputs import load_input
from perfrules.inputs.dataset import with_prior_from_evaluations
from perfrules.inputs.export import load_export
from perfrules.inputs.submission import load_submission

COUNTY = SAMPLES / "exports" / "county-2022"


@pytest.fixture(scope="module")
def county():
    return load_export(COUNTY)


def test_gbk_chinese_headers_and_units(county):
    p = county.frame("projects").set_index("project_id")
    assert p.loc["GX-001", "amount"] == 1_200_000          # 申请金额(万元) = 120
    assert p.loc["GX-003", "amount"] == 500_000            # "50万元": the value's own unit wins over the header's
    assert p.loc["GX-008", "amount"] == 1_200_000          # full-width "１２０"
    assert p.loc["GX-008", "prior_year_amount"] == 1_000_000  # "１，０００，０００"
    assert p.loc["GX-001", "prior_year_amount"] == 1_000_000  # "1,000,000.00"
    assert pd.isna(p.loc["GX-003", "prior_year_amount"])       # "-" is blank
    assert p.loc["GX-008", "is_new"] is True or p.loc["GX-008", "is_new"] == True  # "√"
    assert p.loc["GX-004", "is_new"] == False                  # "N"
    assert p.loc["GX-001", "end_date"] == pd.Timestamp("2022-12-31")  # "2022年12月31日"
    assert p.loc["GX-001", "start_date"] == pd.Timestamp("2022-01-01")  # "2022/01/01"
    assert p.loc["GX-001", "prior_grade"] == "良"            # 良好
    assert p.loc["GX-004", "prior_grade"] == "差"            # 较差
    assert p.loc["GX-006", "prior_grade"] == "优"            # 优秀
    assert p.loc["GX-002", "project_name"] == "乡村道路养护"


def test_bom_csv_xlsx_serial_dates_and_parquet(county):
    ind = county.frame("indicators")
    assert len(ind) == 14 and set(ind["level1"]) == {"产出指标", "效益指标"}
    pay = county.frame("payments")
    first = pay[pay["project_id"] == "GX-001"].sort_values("date")
    assert list(first["date"]) == [pd.Timestamp("2022-03-30"), pd.Timestamp("2022-06-30")]  # Excel serials 44650, 44742
    assert pay.loc[pay["project_id"] == "GX-008", "amount"].tolist() == [600000]  # "600,000" text cell
    assert pay.loc[pay["project_id"] == "GX-008", "date"].tolist() == [pd.Timestamp("2022-04-08")]  # 2022年4月8日
    ev = county.frame("evaluations")
    assert ev.loc[(ev["project_id"] == "GX-004") & (ev["year"] == 2021), "grade"].tolist() == ["差"]


def test_manifest_as_of_and_absent_tables(county):
    assert county.as_of == dt.date(2022, 10, 31)
    assert county.present == {"projects", "indicators", "payments", "evaluations"}
    codes = {(n.code, n.table) for n in county.notes}
    assert ("input.absent-table", "monitoring") in codes and ("input.absent-table", "departments") in codes


def test_unreadable_value_is_a_finding_naming_file_row_column(county, compiled):
    [issue] = county.issues
    assert (issue.source, issue.row, issue.header, issue.value) == ("项目.csv", "8", "申请金额(万元)", "一百万")
    result = check(county, compiled, county.as_of)
    [bad] = fired(result, "PF-D03-UNREADABLE")
    assert bad.location == {"file": "项目.csv", "row": "8", "column": "申请金额(万元)"}
    assert bad.project_id == "GX-007" and bad.fiscal_year == 2022
    # The row is still checked by the rules that do not need the amount …
    assert fired(result, "PF-P01-NOGOAL") == [f for f in fired(result, "PF-P01-NOGOAL") if f.project_id != "GX-007"]
    # … and the one that does says so, naming the field.
    [missing] = fired(result, "PF-D03-MISSING")
    assert missing.project_id == "GX-007"
    assert missing.evidence == {"rule": "PF-P05-EXANTE", "missing": ["amount"], "headers": {"amount": "申请金额(万元)"}}
    assert "需要的数据缺失：申请金额(万元)；" in missing.message  # the file's own header, not "amount"


def test_export_findings(county, compiled):
    result = check(county, compiled, county.as_of)
    got = {(f.rule_id, f.project_id, f.severity) for f in result.findings if f.kind == "rule"}
    assert got == {
        ("PF-P01-NOGOAL", "GX-002", "阻断"), ("PF-P05-EXANTE", "GX-003", "阻断"),
        ("PF-P08-POORGRADE", "GX-004", "阻断"), ("PF-M02-ZEROPAID", "GX-005", "警告"),
        ("PF-D01-BUDGETBOOK", "GX-006", "阻断"),
        ("PF-P13-LOWSTREAK", "GX-004", "警告"),     # 2020 中, 2021 较差: two low years in a row
        ("PF-P10-GOODGRADE", "GX-006", "提示"),     # 优秀 last year
        # GX-004's 2021 evaluation (from 绩效评价.parquet): goals not met, no explanation, 较差 and not published
        # (公开通报, E03, is 南昌高新区's alone: under national the unpublished result is E04's 提示)
        ("PF-E02-NOEXPLANATION", "GX-004", "警告"), ("PF-E04-RESULTPUBLISH", "GX-004", "提示"),
        # paid ÷ budget below 0.5 after 6月30日: 1/3, 0.2, 0.375, 0, 0.3 (GX-006 and GX-008 are exactly 0.5)
        ("PF-M01-MIDYEAR", "GX-002", "警告"), ("PF-M01-MIDYEAR", "GX-003", "警告"), ("PF-M01-MIDYEAR", "GX-004", "警告"),
        ("PF-M01-MIDYEAR", "GX-005", "警告"), ("PF-M01-MIDYEAR", "GX-007", "警告"),
    }
    m02 = fired(result, "PF-M02-ZEROPAID")[0]
    assert m02.location == {"file": "项目.csv", "row": "6"}


def test_prior_evaluation_filled_from_the_evaluations_table(county, compiled):
    # read as the file has it; filled under the profile checked (its evaluation precedence)
    assert county.frame("projects").set_index("project_id")["prior_published"].isna().all()
    p = with_prior_from_evaluations(county, compiled.params).frame("projects").set_index("project_id")
    # 项目.csv has 上年评价等级 but no 上年评价是否公开 / 上年目标是否完成: those come from the 2021 row of 绩效评价.parquet.
    assert p.loc["GX-004", "prior_published"] == False and p.loc["GX-004", "prior_goals_met"] == False
    assert p.loc["GX-004", "prior_rectification"] == "未完成" and p.loc["GX-004", "prior_year"] == 2021
    assert p.loc["GX-001", "prior_grade"] == "良"             # given in 项目.csv (良好); the table agrees
    assert "prior_published" not in county.absent_columns["projects"]
    assert pd.isna(p.loc["GX-003", "prior_grade"])            # no evaluation row: stays missing


@pytest.mark.parametrize("twice", [False, True])
def test_prior_evaluation_is_the_leading_row_of_the_year_before(tmp_path, twice, compiled):
    # With each project id once, evaluations are matched by id and year; a project with two records
    # (twice=True) is matched on id and fiscal year together. Both give each record its own prior year.
    folder = tmp_path / "export"
    folder.mkdir()
    rows = ["A-1,2022,", "B-1,2022,中"] + (["A-1,2023,"] if twice else [])
    (folder / "projects.csv").write_text("project_id,fiscal_year,prior_grade\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (folder / "evaluations.csv").write_text(
        "project_id,year,grade,published\n"
        "A-1,2021,良,true\nA-1,2021,差,false\nA-1,2022,优,true\nB-1,2021,差,true\nC-1,2021,差,true\n", encoding="utf-8")
    p = with_prior_from_evaluations(load_export(folder), compiled.params).frame("projects")
    got = [(r.project_id, r.fiscal_year, r.prior_grade, r.prior_published, r.prior_year) for r in p.itertuples()]
    want = [("A-1", 2022, "良", True, 2021),     # two 2021 rows of equal authority (no evaluator): the first leads, as in top()
            ("B-1", 2022, "中", True, 2021)]     # a grade the projects table gives is kept
    assert got == want + ([("A-1", 2023, "优", True, 2022)] if twice else [])


def test_parquet_columns_no_rule_reads_are_kept_as_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    folder = tmp_path / "export"
    folder.mkdir()
    pq.write_table(pa.table({"project_id": ["A-1", "A-2", "A-3"], "fiscal_year": [2022, 2022, 2022],
                             "budget_type": ["一般公共预算", None, "一般公共预算"], "备注": ["甲", "甲", None]}),
                   folder / "projects.parquet")
    p = load_export(folder).frame("projects")
    assert p["budget_type"].tolist()[::2] == ["一般公共预算", "一般公共预算"] and pd.isna(p["budget_type"].iloc[1])
    assert isinstance(p["备注"].dtype, pd.CategoricalDtype) and p["备注"].tolist()[:2] == ["甲", "甲"]


def test_parquet_file_of_several_row_groups(tmp_path):
    """Row groups each carry their own dictionary: values, unreadable cells and row numbers come out as one table."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    folder = tmp_path / "export"
    folder.mkdir()
    grades = ["优", "良", "差", "无此等级", None, "良", "中"]
    pq.write_table(pa.table({"project_id": [f"A-{i}" for i in range(7)], "fiscal_year": [2022] * 7,
                             "prior_grade": grades, "budget_type": ["一般公共预算", "政府性基金预算"] * 3 + ["-"]}),
                   folder / "projects.parquet", row_group_size=2)
    assert pq.ParquetFile(folder / "projects.parquet").num_row_groups == 4
    ds = load_export(folder)
    p = ds.frame("projects")
    assert p["project_id"].tolist() == [f"A-{i}" for i in range(7)]
    assert p["budget_type"].tolist()[:6] == ["一般公共预算", "政府性基金预算"] * 3 and pd.isna(p["budget_type"].iloc[6])
    assert [(i.row, i.column, i.value) for i in ds.issues] == [("4", "prior_grade", "无此等级")]
    assert p["prior_grade"].tolist()[:3] == ["优", "良", "差"] and p["prior_grade"].tolist()[5:] == ["良", "中"]


def test_same_project_same_findings_in_both_shapes(compiled, tmp_path):
    """A project written as an export row and as a submission gives the same findings."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "projects.csv").write_text(
        "project_id,fiscal_year,amount,is_new,is_major,has_goal,goal_review_status,budget_type,paid_to_date,budget\n"
        "A-1,2022,500000,true,false,true,通过,一般公共预算,0,500000\n", encoding="utf-8")
    sub = tmp_path / "a.json"
    sub.write_text(json.dumps({"project_id": "A-1", "fiscal_year": 2022, "amount": 500000, "is_new": True,
                               "is_major": False, "budget_type": "一般公共预算",
                               "performance_goal": {"review_status": "通过"},
                               "execution": {"paid_to_date": 0, "budget": 500000}}), encoding="utf-8")
    as_of = dt.date(2022, 11, 1)
    a = check(load_export(folder), compiled, as_of)
    b = check(load_submission(sub), compiled, as_of)
    # Rules run unchanged on both shapes; how missing data is reported differs by design (an export that
    # lacks a column says so once, a submission names what each record lacks), so compare rule findings.
    key = lambda r: sorted((f.rule_id, f.project_id, f.severity, json.dumps(f.to_dict()["evidence"], sort_keys=True))
                           for f in r.findings if f.kind == "rule")
    assert key(a) == key(b)
    assert {f.rule_id for f in a.findings if f.kind == "rule"} == {"PF-P05-EXANTE", "PF-M02-ZEROPAID", "PF-M01-MIDYEAR"}
    about = lambda r: sorted({f.evidence["rule"] for f in r.findings if f.kind == "data"})
    assert about(a) == about(b)


def test_submission_with_chinese_keys(compiled, tmp_path):
    sub = tmp_path / "zh.yaml"
    sub.write_text("项目编码: Z-1\n预算年度: 2022\n申请金额: 50万\n是否新增: 是\n是否重大: 否\n预算类型: 一般公共预算\n"
                   "绩效目标:\n  review_status: 通过\n", encoding="utf-8")
    ds = load_submission(sub)
    row = ds.frame("projects").iloc[0]
    assert (row["project_id"], row["amount"], row["is_new"], row["has_goal"]) == ("Z-1", 500000, True, True)


def test_missing_projects_table_is_exit_2_error(tmp_path):
    (tmp_path / "payments.csv").write_text("project_id,fiscal_year,date,amount\nA,2022,2022-01-01,1\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_export(tmp_path)
    assert exc.value.problems[0].code == "input.no-projects"


def test_missing_required_column(tmp_path):
    (tmp_path / "项目.csv").write_text("项目名称,申请金额\n甲,1\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_export(tmp_path)
    p = exc.value.problems[0]
    assert p.code == "input.missing-column" and "project_id" in p.en and p.where.file.endswith("项目.csv")


def test_malformed_csv_line_is_reported_and_rest_kept(tmp_path):
    (tmp_path / "projects.csv").write_text(
        "project_id,fiscal_year,amount\nA,2022,1\nB,2022,2,extra,fields\nC,2022,3\n", encoding="utf-8")
    ds = load_export(tmp_path)
    assert ds.frame("projects")["project_id"].tolist() == ["A", "C"]
    assert ds.frame("projects")["_row"].tolist() == [2, 4]  # a file's row numbers stay integers
    [note] = [n for n in ds.notes if n.code == "input.malformed-row"]
    assert "line 3" in note.en


def test_excel_project_table(tmp_path, compiled):
    pd.DataFrame({"项目编码": ["X-1"], "预算年度": [2022], "申请金额(元)": [600000], "是否新增": ["是"],
                  "是否重大": ["否"], "是否设定绩效目标": ["是"], "预算类型": ["一般公共预算"],
                  "事前评估报告编号": [None]}).to_excel(tmp_path / "项目.xlsx", index=False)
    ds = load_export(tmp_path)
    assert ds.frame("projects")["_row"].tolist() == [2]
    result = check(ds, compiled, dt.date(2022, 3, 1))
    assert [f.rule_id for f in result.findings if f.kind == "rule"] == ["PF-P05-EXANTE"]


def test_folder_of_submissions_is_one_dataset_per_file():
    datasets = load_input(SAMPLES / "submissions")
    assert len(datasets) == len(list((SAMPLES / "submissions").glob("*.json")))


def test_nonexistent_input():
    with pytest.raises(InputError) as exc:
        load_input("no/such/path")
    assert exc.value.problems[0].code == "input.not-found"
