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
