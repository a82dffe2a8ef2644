"""Department-level rules when the input has no department data (catalogue round 2, "rules that need an absent
table: report PF-D03-ABSENT once, as every rule does; a silent pass is a defect").

* An export (the bureau's whole ledger) whose projects name departments but which has no departments table:
  every department-level rule in force reports PF-D03-ABSENT once, counting the department records its
  projects name (department × fiscal year) — on one machine and over partitions, where a department's
  projects lie in several partitions and are counted once.
* A submission (one filing) without a ``departments`` key makes no claim about departments: the department
  rules are not applicable to it (no finding, no 需整改), and the result says which were not checked and why.
* A submission with ``departments: []`` is complete: a department its projects name has no row, so no goal (P16).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import RULES, SAMPLES

from perfrules.api import check_datasets, check_paths
from perfrules.distributed.layout import buckets
from perfrules.distributed.runner import check_partitioned
from perfrules.distributed.writer import partition_export
from perfrules.evaluation.screening import Screener
from perfrules.inputs.submission import load_submission, submission_dataset
from perfrules.outputs.workbook import rule_outcomes
from perfrules.rulepack.compile import compile_pack
from perfrules.rulepack.pack import load_pack

PACK = load_pack(RULES)
AS_OF = dt.date(2022, 11, 15)
# qitai's documents ask for all four department-level rules (rules/profiles/qitai.yaml)
QITAI_DEPARTMENT_RULES = {"PF-P16-DEPTASPECTS", "PF-M07-DEPTMIDYEAR", "PF-E07-DEPTSELFEVAL", "PF-E11-DEPTBUDGETLINK"}

PROJECTS_HEADER = "项目编码,项目名称,预算年度,地区,主管部门,申请金额\n"
# Two departments in 2022, one of them in 2021 as well: three department records. 县财政局's 2022 projects are
# many, so that over four partitions they lie in more than one.
PROJECTS = ([f"CZ-{i:02d},财政项目{i},2022,qitai,县财政局,100000\n" for i in range(1, 9)]
            + ["WL-01,文旅项目,2022,qitai,县文旅局,100000\n", "CZ-OLD,上年项目,2021,qitai,县财政局,100000\n",
               "NO-DEPT,无部门项目,2022,qitai,,100000\n"])


def _export(folder: Path) -> Path:
    folder.mkdir()
    (folder / "项目.csv").write_text(PROJECTS_HEADER + "".join(PROJECTS), encoding="utf-8")
    (folder / "manifest.yaml").write_text("as_of: 2022-11-15\n", encoding="utf-8")
    return folder


def _department_rules_in_force(profile: str) -> set[str]:
    return {cr.rule.id for cr in compile_pack(PACK, profile).rules if cr.rule.table == "departments" and cr.rule.in_force(AS_OF)}


def _absent_departments(findings: list[Any]) -> dict[str, dict[str, Any]]:
    """The PF-D03-ABSENT findings that say the departments table is absent, by the rule they are about."""
    out = {}
    for f in findings:
        if f.rule_id == "PF-D03-ABSENT" and f.evidence["absent"] == ["departments"]:
            assert f.evidence["rule"] not in out, f"two PF-D03-ABSENT findings for {f.evidence['rule']}"
            out[f.evidence["rule"]] = f.evidence
    return out


def test_qitai_has_the_four_department_rules_in_force():
    assert _department_rules_in_force("qitai") == QITAI_DEPARTMENT_RULES
    assert _department_rules_in_force("national") == set()


def test_an_export_without_a_departments_table_reports_each_department_rule_once(tmp_path):
    result = check_paths([_export(tmp_path / "e")], profile="qitai")
    absent = _absent_departments(result.findings)
    assert absent == {rid: {"rule": rid, "absent": ["departments"], "records": 3} for rid in QITAI_DEPARTMENT_RULES}
    p16 = next(f for f in result.findings if f.rule_id == "PF-D03-ABSENT" and f.evidence["rule"] == "PF-P16-DEPTASPECTS")
    assert p16.message == "输入中没有规则 PF-P16-DEPTASPECTS 所需的 部门整体表，该规则对 3 条记录未能判断，已跳过。"
    assert p16.severity == "警告" and p16.department is None
    assert result.not_checked == []  # an export lacks the data: it is a finding, not "not applicable"
    # under national no department rule is in force: nothing to report
    assert _absent_departments(check_paths([tmp_path / "e"], profile="national").findings) == {}


def test_an_export_whose_projects_name_no_department_reports_nothing_about_departments(tmp_path):
    folder = tmp_path / "e"
    folder.mkdir()
    (folder / "项目.csv").write_text(PROJECTS_HEADER + "X1,项目,2022,qitai,,100000\n", encoding="utf-8")
    assert _absent_departments(check_paths([folder], profile="qitai").findings) == {}


def test_the_partitions_count_each_department_record_once(tmp_path):
    export = _export(tmp_path / "e")
    ids = pd.Series([row.split(",")[0] for row in PROJECTS if ",县财政局," in row and ",2022," in row])
    assert len(set(buckets(ids, 4))) > 1, "the test needs 县财政局's projects in several partitions"
    folder = tmp_path / "parts"
    partition_export(export, folder, 4)
    result, _, _ = check_partitioned(folder, PACK, "qitai", AS_OF, "zh", None)
    one = check_paths([export], profile="qitai", as_of=AS_OF)
    assert _absent_departments(result.findings) == _absent_departments(one.findings)
    assert {e["records"] for e in _absent_departments(result.findings).values()} == {3}
    same = [(f.rule_id, f.message) for f in result.findings if f.rule_id == "PF-D03-ABSENT"]
    assert same == [(f.rule_id, f.message) for f in one.findings if f.rule_id == "PF-D03-ABSENT"]


def test_the_cli_reports_an_export_without_departments(tmp_path):
    export = _export(tmp_path / "e")
    proc = _cli("check", str(export), "--profile", "qitai", "--format", "json", "--fail-on", "警告")
    assert proc.returncode == 1, proc.stderr  # PF-D03-ABSENT is a 警告
    found = [f for f in json.loads(proc.stdout)["findings"] if f["rule_id"] == "PF-D03-ABSENT"
             and f["evidence"]["absent"] == ["departments"]]
    assert sorted(f["evidence"]["rule"] for f in found) == sorted(QITAI_DEPARTMENT_RULES)
    assert {f["evidence"]["records"] for f in found} == {3}


# ---- a submission ----------------------------------------------------------------------------------------------


def _clean() -> dict[str, Any]:
    doc = json.loads((SAMPLES / "submissions" / "clean-project.json").read_text(encoding="utf-8"))
    return copy.deepcopy(doc["projects"][0])  # department 县水利局


def _doc(**extra: Any) -> dict[str, Any]:
    return {"as_of": "2022-11-15", "projects": [_clean()], **extra}


@pytest.fixture(scope="module")
def screener():
    s = Screener(RULES)
    yield s
    s.close()


def _department_findings(findings: list[Any]) -> list[Any]:
    return [f for f in findings if f.rule_id in QITAI_DEPARTMENT_RULES or f.evidence.get("rule") in QITAI_DEPARTMENT_RULES]


def test_a_submission_without_departments_is_not_checked_against_department_rules_on_both_paths(screener, tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_doc(), ensure_ascii=False), encoding="utf-8")
    batch = check_paths([path], profile="qitai")
    durable = screener.screen(_doc(), profile="qitai", name=str(path))
    for result in (batch, durable):
        assert _department_findings(result.findings) == []
        assert {e["rule"] for e in result.not_checked} == QITAI_DEPARTMENT_RULES
        assert {(e["reason"], e["message"], e["source"]) for e in result.not_checked} == \
            {("no-department-data", "未检查：输入不含部门整体数据", str(path))}
        assert QITAI_DEPARTMENT_RULES <= set(result.rules_in_force)  # in force, and said not to have been checked
    assert sorted(e["rule"] for e in batch.not_checked) == sorted(e["rule"] for e in durable.not_checked)
    # the same filing with its department's complete record: the department rules run and the verdict is the same
    complete = {"department": "县水利局", "fiscal_year": 2022, "aspects": "运行成本、管理效率、履职效能、社会效应、可持续发展能力、服务对象满意度",
                "mid_year_monitored": "是", "self_evaluated": "是"}
    with_department = screener.screen(_doc(departments=[complete]), profile="qitai", name="s.json")
    assert with_department.not_checked == []
    assert durable.verdict == with_department.verdict


def test_a_submission_with_an_empty_departments_list_is_complete_p16_fires_on_both_paths(screener):
    doc = _doc(departments=[])
    batch = check_datasets([submission_dataset(doc["projects"], doc["departments"], "s.json")], PACK, "qitai", AS_OF)
    durable = screener.screen(doc, profile="qitai", name="s.json")
    for result in (batch, durable):
        assert [(f.rule_id, f.department) for f in result.findings if f.rule_id == "PF-P16-DEPTASPECTS"] == \
            [("PF-P16-DEPTASPECTS", "县水利局")]
        assert result.not_checked == []
        assert not [f for f in result.findings if f.rule_id == "PF-D03-ABSENT" and f.evidence["absent"] == ["departments"]]
    key = sorted((f.rule_id, f.department, f.severity, f.message) for f in batch.findings)
    assert key == sorted((f.rule_id, f.department, f.severity, f.message) for f in durable.findings)
    assert durable.verdict != "pass"


def test_a_department_key_of_null_is_no_claim_and_the_chinese_key_is_a_claim(tmp_path):
    none = tmp_path / "none.json"
    none.write_text(json.dumps(_doc(departments=None), ensure_ascii=False), encoding="utf-8")
    assert load_submission(none).unclaimed == {"departments"}
    chinese = tmp_path / "zh.json"
    chinese.write_text(json.dumps({"as_of": "2022-11-15", "项目": [_clean()], "部门整体": []}, ensure_ascii=False), encoding="utf-8")
    ds = load_submission(chinese)
    assert ds.unclaimed == set() and "departments" in ds.present


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules.cli.main", *args], capture_output=True, text=True, timeout=300)


def test_the_cli_lists_the_rules_not_checked(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_doc(), ensure_ascii=False), encoding="utf-8")
    as_json = _cli("check", str(path), "--profile", "qitai", "--format", "json", "--fail-on", "never")
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert sorted(e["rule"] for e in doc["not_checked"]) == sorted(QITAI_DEPARTMENT_RULES)
    assert {e["message"] for e in doc["not_checked"]} == {"未检查：输入不含部门整体数据"}
    table = _cli("check", str(path), "--profile", "qitai", "--fail-on", "never")
    line = next(x for x in table.stdout.splitlines() if x.startswith("未检查"))
    assert line.startswith("未检查：输入不含部门整体数据（4 条规则）：")
    assert set(line.split("：")[-1].split("、")) == QITAI_DEPARTMENT_RULES
    english = _cli("screen", str(path), "--profile", "qitai", "--lang", "en")
    line = next(x for x in english.stdout.splitlines() if x.startswith("not checked"))
    assert line.startswith("not checked: the input has no department data (4 rule(s)): ")
    junit = ET.fromstring(_cli("check", str(path), "--profile", "qitai", "--format", "junit", "--fail-on", "never").stdout)
    skipped = {c.get("classname").removeprefix("perfrules."): c.find("skipped").get("message")
               for c in junit.iter("testcase") if c.find("skipped") is not None}
    assert skipped == dict.fromkeys(QITAI_DEPARTMENT_RULES, "未检查：输入不含部门整体数据")
    assert junit.find("testsuite").get("skipped") == "4"


def test_the_service_lists_the_rules_not_checked(tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from perfrules.service.app import create_app
    from perfrules.service.config import ServiceConfig
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    config = ServiceConfig(rules_dir=str(rules), state_dir=str(tmp_path / "state"), decision_log=str(tmp_path / "log"))
    with TestClient(create_app(config)) as client:
        body = client.post("/v1/screen", params={"profile": "qitai"}, json=_doc()).json()
        complete = client.post("/v1/screen", params={"profile": "qitai"}, json=_doc(departments=[])).json()
    assert sorted(e["rule"] for e in body["not_checked"]) == sorted(QITAI_DEPARTMENT_RULES)
    assert {e["message"] for e in body["not_checked"]} == {"未检查：输入不含部门整体数据"}
    assert complete["not_checked"] == [] and "PF-P16-DEPTASPECTS" in {f["rule_id"] for f in complete["findings"]}


def test_the_workbook_rule_sheet_gives_the_reason(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_doc(), ensure_ascii=False), encoding="utf-8")
    result = check_paths([path], profile="qitai")
    rows = rule_outcomes([PACK.rules[r] for r in result.rules_in_force], result.table, None,
                         {e["rule"]: e["reason"] for e in result.not_checked})
    outcome = {r["id"]: (r["outcome"], r["note"], r["note_en"]) for r in rows}
    for rid in QITAI_DEPARTMENT_RULES:
        assert outcome[rid] == ("未检查", "输入不含部门整体数据", "the input has no department data")
    assert "未检查" not in {outcome[r][0] for r in outcome if r not in QITAI_DEPARTMENT_RULES}
