"""One findings model: one schema, one key, one order; ``Finding`` a view of a row; one JSON and one CSV form."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pyarrow as pa
from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from perfrules.api import check_paths
from perfrules.findings import table as finding_table
from perfrules.findings.model import Finding, sort_findings
from perfrules.findings.schema import PARTS, SCHEMA, finding_keys, sort_indices
from perfrules.outputs.console import to_csv
from perfrules.outputs.csv_jsonl import jsonl_lines
from perfrules.rulepack.model import SEVERITIES

SOURCE = [{"document": "射财绩〔2021〕10号", "clause": "（五）"}]


def finding(rule_id: str = "PF-P01-NOGOAL", severity: str = "阻断", project_id: str | None = "P1",
            fiscal_year: int | None = 2022, department: str | None = "县水利局", kind: str = "rule",
            evidence: dict | None = None, location: dict | None = None) -> Finding:
    return Finding.of(rule_id, "无绩效目标不安排预算", ["P01"], severity, "budgeting", project_id, fiscal_year, department,
                      "未设定绩效目标。", "不得安排预算。", SOURCE, evidence or {"has_goal": False}, location or {}, kind=kind)


texts = st.one_of(st.none(), st.sampled_from(["", "A", "B", "县水利局", "县教育局", "P1", "P10", "P2", "Ω"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SEVERITIES), st.sampled_from(["PF-P01-NOGOAL", "PF-M02-ZEROPAID", "PF-D03-MISSING"]),
                          texts, texts, st.one_of(st.none(), st.integers(2019, 2024))), max_size=12))
def test_a_table_and_a_list_of_findings_sort_alike(rows) -> None:
    findings = [finding(rule_id=r, severity=s, department=d, project_id=p, fiscal_year=y) for s, r, d, p, y in rows]
    table = finding_table.from_findings(findings)
    by_table = [findings[i] for i in sort_indices(table).to_pylist()]
    assert [f.row for f in by_table] == [f.row for f in sort_findings(findings)]


def test_a_findings_table_has_the_one_schema_and_its_findings_are_views_of_its_rows() -> None:
    result = check_paths([SAMPLES / "exports" / "county-2022"])
    table = result.table
    assert pa.Table.from_pandas(table, preserve_index=False).schema.equals(SCHEMA)
    for finding_, (_, row) in zip(result.findings, table.iterrows()):
        assert finding_.row == {k: None if pd.isna(row[k]) else row[k] for k in PARTS.names}
        assert finding_.evidence == json.loads(row["evidence"]) and finding_.requirement == row["requirement"].split("、")


def test_the_key_is_rule_about_subject_and_year() -> None:
    project = finding(project_id="P1", fiscal_year=2022)
    department = finding(rule_id="PF-D01-BUDGETBOOK", project_id=None, department="县水利局", fiscal_year=None)
    undecided = finding(rule_id="PF-D03-MISSING", kind="data", evidence={"rule": "PF-M02-ZEROPAID", "missing": ["payments"]})
    keys = finding_keys(finding_table.from_findings([project, department, undecided])).to_pylist()
    assert keys == ["PF-P01-NOGOAL||P1|2022", "PF-D01-BUDGETBOOK||县水利局|", "PF-D03-MISSING|PF-M02-ZEROPAID|P1|2022"]


def test_json_lines_are_each_findings_json_form_with_line_numbers_as_numbers() -> None:
    located = [finding(location={"file": "项目.csv", "row": "7"}),
               finding(project_id="P2", location={"file": "s.json", "row": "projects[0]"}),
               finding(project_id="P3", location={"file": "项目.csv", "row": "007", "column": "申请金额"}),
               finding(project_id="P4")]
    table = finding_table.finish([finding_table.from_findings(located)])
    findings = finding_table.to_findings(table, {"PF-P01-NOGOAL": SOURCE})
    lines = [json.loads(line) for line in jsonl_lines(table, {"PF-P01-NOGOAL": SOURCE}).to_pylist()]
    assert lines == [f.to_dict() for f in findings]
    assert [line["location"].get("row") for line in lines] == [7, "projects[0]", "007", None]


def test_check_csv_is_the_nightly_csv_form_with_names_and_amounts() -> None:
    result = check_paths([SAMPLES / "exports" / "county-2022"])
    rows = list(csv.reader(io.StringIO(to_csv(result))))
    header, body = rows[0], rows[1:]
    assert header[-3:] == ["项目名称", "申请金额(元)", "已支付(元)"]
    assert len(body) == len(result.table)
    first = result.table.iloc[0]
    assert body[0][header.index("规则编号")] == first["rule_id"]
    assert body[0][header.index("项目名称")] == (first["project_name"] if first["project_name"] is not None else "")
    assert body[0][header.index("行")] == first["row"]
