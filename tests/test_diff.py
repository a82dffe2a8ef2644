"""`perfrules diff`: what a rule change does to the same data — added, removed, changed; per rule and department."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner
from conftest import RULES, SAMPLES

from perfrules.cli.main import main

COUNTY = SAMPLES / "exports" / "county-2022"


def head_pack(tmp_path, old, new, file="pack.yaml"):
    head = tmp_path / "head"
    shutil.copytree(RULES, head)
    text = (head / file).read_text(encoding="utf-8")
    assert old in text
    (head / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return head


def diff_json(head, *data, extra=()):
    result = CliRunner().invoke(main, ["diff", "--base", str(RULES), "--head", str(head), *map(str, data), "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_raising_the_ex_ante_threshold_removes_the_findings_below_it(tmp_path):
    head = head_pack(tmp_path, "    default: 500000\n", "    default: 1000000\n")
    doc = diff_json(head, COUNTY, SAMPLES / "submissions" / "p05-exante-at-threshold.json")
    removed = {(c["rule_id"], c["project_id"]) for c in doc["changes"] if c["change"] == "removed"}
    assert removed == {("PF-P05-EXANTE", "GX-003"), ("PF-P05-EXANTE", "SY-2022-105")}
    assert doc["summary"]["added"] == 0 and doc["summary"]["removed"] == 2
    assert doc["summary"]["by_rule"] == {"PF-P05-EXANTE": {"added": 0, "removed": 2, "changed": 0}}
    assert doc["summary"]["by_department"]["县民政局"] == {"added": 0, "removed": 1, "changed": 0}
    assert doc["summary"]["head_total"] == doc["summary"]["base_total"] - 2


def test_a_severity_change_is_reported_as_changed(tmp_path):
    head = head_pack(tmp_path, "    severity: 警告\n    scope: {record: project, stage: execution}\n    when: as_of >= fy_date(params.zero_payment_checkpoint)",
                     "    severity: 阻断\n    scope: {record: project, stage: execution}\n    when: as_of >= fy_date(params.zero_payment_checkpoint)",
                     file="M-execution.yaml")
    doc = diff_json(head, COUNTY)
    [change] = doc["changes"]
    assert change == {"change": "changed", "rule_id": "PF-M02-ZEROPAID", "project_id": "GX-005", "fiscal_year": 2022,
                      "department": "县水利局", "severity": {"base": "警告", "head": "阻断"}, "evidence": {}}


def test_evidence_change_is_reported(tmp_path):
    head = head_pack(tmp_path, "    default: 500000\n", "    default: 400000\n")
    doc = diff_json(head, SAMPLES / "submissions" / "p05-exante-at-threshold.json")
    [change] = doc["changes"]
    assert change["change"] == "changed"
    assert change["evidence"] == {"params.ex_ante_threshold": {"base": 500000, "head": 400000}}


def test_no_change_no_differences():
    doc = diff_json(RULES, COUNTY)
    assert doc["changes"] == [] and doc["summary"]["added"] == doc["summary"]["removed"] == 0


def test_text_report(tmp_path):
    head = head_pack(tmp_path, "    default: 500000\n", "    default: 1000000\n")
    result = CliRunner().invoke(main, ["diff", "--base", str(RULES), "--head", str(head), str(COUNTY), "--lang", "en"])
    assert result.exit_code == 0
    assert "0 added, 1 removed, 0 changed" in result.output
    assert "- PF-P05-EXANTE GX-003 2022" in result.output
