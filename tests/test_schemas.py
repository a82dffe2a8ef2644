"""The data-shape schemas agree with the field catalogue, and the samples conform to them."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from conftest import ROOT, SAMPLES

from perfrules.language.fields import NESTED_PREFIXES, PROJECTS, TABLES

SCHEMAS = ROOT / "schemas"
RULES_DIR = ROOT / "rules"


def _load(name):
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def test_schemas_are_valid_json_schemas():
    for path in SCHEMAS.glob("*.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


def test_export_schema_lists_every_catalogue_column_with_its_chinese_title():
    defs = _load("export-tables.schema.json")["$defs"]
    assert set(defs) == set(TABLES)
    for name, table in TABLES.items():
        props = defs[name]["properties"]
        assert set(props) == {c.name for c in table.columns}, name
        assert {k: v["title"] for k, v in props.items()} == {c.name: c.zh for c in table.columns}
        assert defs[name]["required"] == list(table.required)


def test_submission_schema_covers_every_project_column():
    project = _load("submission.schema.json")["$defs"]["project"]["properties"]
    flat = set(project)
    for obj, prefix in NESTED_PREFIXES.items():
        flat |= {prefix + k for k in project[obj]["properties"]}
    assert {c.name for c in PROJECTS.columns} - flat == {"has_goal"}  # has_goal: whether performance_goal is given


@pytest.mark.parametrize("path", sorted((SAMPLES / "submissions").glob("*.*")), ids=lambda p: p.name)
def test_samples_conform(path):
    doc = json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json" else yaml.safe_load(path.read_text(encoding="utf-8"))
    jsonschema.validate(doc, _load("submission.schema.json"))


def test_schema_rejects_a_project_without_id():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"fiscal_year": 2022, "amount": 1}, _load("submission.schema.json"))


@pytest.mark.parametrize("path", sorted([*RULES_DIR.glob("*.yaml"), *(RULES_DIR / "profiles").glob("*.yaml"), *(RULES_DIR / "tests").glob("*.yaml")]),
                         ids=lambda p: str(p.relative_to(RULES_DIR)))
def test_every_bundled_rule_file_names_its_schema_for_editors(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema="), path
    schema = (path.parent / first.split("$schema=", 1)[1].strip()).resolve()
    assert schema.is_file() and schema.parent == SCHEMAS.resolve()
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    from perfrules.yaml_source import load_yaml
    jsonschema.validate(load_yaml(path).data, json.loads(schema.read_text(encoding="utf-8")))
    assert doc is not None


def test_rule_schema_fields_carry_chinese_descriptions():
    rule = _load("rule-pack.schema.json")["$defs"]["rule"]["properties"]
    for name in ("id", "title", "requirement", "severity", "when", "source"):
        assert any("\u4e00" <= ch <= "\u9fff" for ch in rule[name]["description"]), name


# --- Round 2 input fields: read by both loaders through the field catalogue ------------------------

def _export_with_round_2_fields(folder):
    folder.mkdir()
    (folder / "项目.csv").write_text(
        "项目编码,预算年度,申请金额(元),预算批复日期,主管部门\nQT-1,2022,100000,2022年3月15日,县水利局\n", encoding="utf-8-sig")
    (folder / "部门整体.csv").write_text(
        "主管部门,预算年度,整体绩效目标方面,是否开展年中监控,是否开展整体自评,整体绩效评价等级,部门预算金额(万元),上年部门预算金额\n"
        "县水利局,2022,运行成本、管理效率、履职效能、社会效应、可持续发展能力、服务对象满意度,是,否,不合格,500,\"5,000,000\"\n",
        encoding="utf-8-sig")
    (folder / "manifest.yaml").write_text("as_of: 2023-02-01\n", encoding="utf-8")
    return folder


def test_export_loader_reads_the_round_2_fields_by_their_chinese_headers(tmp_path):
    from perfrules.inputs import load_input
    (ds,) = load_input(_export_with_round_2_fields(tmp_path / "qitai-2022"))
    project = ds.frame("projects").iloc[0]
    assert str(project["budget_approved_on"])[:10] == "2022-03-15"
    dept = ds.frame("departments").iloc[0]
    assert (bool(dept["self_evaluated"]), dept["overall_grade"], float(dept["budget"]), float(dept["prior_year_budget"])) == \
        (False, "差", 5_000_000.0, 5_000_000.0)


def test_submission_loader_reads_the_round_2_department_fields():
    from perfrules.inputs.submission import submission_dataset
    ds = submission_dataset([], [{"department": "县水利局", "fiscal_year": 2022, "self_evaluated": "是", "overall_grade": "一般",
                                  "budget": "450万", "prior_year_budget": 5000000}], "t.json")
    dept = ds.frame("departments").iloc[0]
    assert (bool(dept["self_evaluated"]), dept["overall_grade"], float(dept["budget"]), float(dept["prior_year_budget"])) == \
        (True, "一般", 4_500_000.0, 5_000_000.0)


def test_cli_checks_the_round_2_department_rules_on_an_export(tmp_path):
    import subprocess
    import sys
    folder = _export_with_round_2_fields(tmp_path / "qitai-2022")
    done = subprocess.run([sys.executable, "-m", "perfrules", "check", str(folder), "--profile", "qitai", "--format", "json"],
                          capture_output=True, text=True, encoding="utf-8", check=False)
    assert done.returncode == 0, done.stderr  # 警告 only: below the default --fail-on
    found = {(f["rule_id"], f.get("department")) for f in json.loads(done.stdout)["findings"]}
    # 是否开展整体自评 否 after the fiscal year → E07; 不合格 (差) and 500万 not below 5,000,000 → E11
    assert {("PF-E07-DEPTSELFEVAL", "县水利局"), ("PF-E11-DEPTBUDGETLINK", "县水利局")} <= found
