"""`perfrules explain`: the condition, every sub-expression's value on the record, resolved parameters, the verdict."""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import SAMPLES

from perfrules.cli.main import main

SUB = SAMPLES / "submissions"


def explain_json(*args):
    result = CliRunner().invoke(main, ["explain", *map(str, args), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fired_rule_shows_values_params_and_escalation():
    [e] = explain_json(SUB / "p08-poor-grade-cut.json", "--rule", "PF-P08-POORGRADE")
    assert (e["verdict"], e["severity"], e["state"]) == ("fires", "警告", "in_force")
    steps = {s["expression"]: s["value"] for s in e["steps"]}
    assert steps["prior_grade_level"] == "差"
    assert steps["amount >= prior_year_amount"] is False      # the escalation did not apply: amount was cut
    assert steps["amount"] == 800000 and steps["prior_year_amount"] == 1000000
    assert e["params"]["cut_grades"] == {"value": ["差"], "set_in": "pack.yaml"}


def test_rule_that_did_not_fire_says_which_part_was_false():
    [e] = explain_json(SUB / "clean-project.json", "--rule", "PF-P05-EXANTE")
    assert e["verdict"] == "quiet"
    steps = {s["expression"]: s["value"] for s in e["steps"]}
    assert steps["ex_ante_report_id is None"] is False
    assert steps["is_new"] is True


def test_profile_changes_the_parameters_shown_and_the_verdict():
    [e] = explain_json(SUB / "p08-poor-grade-cut.json", "--rule", "PF-P08-POORGRADE", "--profile", "nanchang-gaoxin")
    assert e["profile"] == ["national", "nanchang-gaoxin"]
    assert e["params"]["cut_grades"] == {"value": ["中", "差"], "set_in": "nanchang-gaoxin.yaml"}


def test_unknown_outcome_is_explained(tmp_path):
    doc = json.loads((SUB / "clean-project.json").read_text(encoding="utf-8"))
    p = doc["projects"][0]
    del p["payments"]
    p["execution"]["paid_to_date"] = None
    path = tmp_path / "unknown.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    [e] = explain_json(path, "--rule", "PF-M02-ZEROPAID")
    assert e["verdict"] == "unknown"
    steps = {s["expression"]: s["value"] for s in e["steps"]}
    assert steps["paid == 0.0"] is None and steps["paid"] is None
    assert steps["as_of >= fy_date(params.zero_payment_checkpoint)"] is True


def test_text_output_in_both_languages():
    zh = CliRunner().invoke(main, ["explain", str(SUB / "p08-poor-grade-not-cut.json"), "--rule", "PF-P08-POORGRADE"])
    assert "结论: 触发（阻断）" in zh.output and "升级为 阻断 的条件  →  是" in zh.output
    en = CliRunner().invoke(main, ["explain", str(SUB / "p08-poor-grade-not-cut.json"), "--rule", "PF-P08-POORGRADE", "--lang", "en"])
    assert "verdict: fires (阻断)" in en.output and "A poor evaluation result" in en.output


def test_unknown_rule_is_a_usage_error_with_a_suggestion():
    result = CliRunner().invoke(main, ["explain", str(SUB / "clean-project.json"), "--rule", "PF-P05-EXANT", "--lang", "en"])
    assert result.exit_code == 2
    assert "no rule 'PF-P05-EXANT'" in result.output and "Did you mean 'PF-P05-EXANTE'?" in result.output
