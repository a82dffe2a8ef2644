"""`perfrules rules`: the listing, catalogue coverage, and which profile checks which record."""

from __future__ import annotations

import json
import re
import shutil

from click.testing import CliRunner
from conftest import RULES, SHARED, fired

from perfrules.api import check_datasets
from perfrules.cli.main import main
from perfrules.inputs.submission import submission_dataset
from perfrules.rulepack.catalogue import load_requirements
from perfrules.rulepack.pack import load_pack


def test_requirements_file_matches_the_catalogue():
    path = SHARED / "docs" / "policy-catalogue.md"
    if not path.is_file():
        import pytest
        pytest.skip("../shared/docs is not beside this checkout")
    text = path.read_text(encoding="utf-8")
    first, round2 = text.split("\n## Round 2", 1)
    # Round 2's corrections table reuses existing ids (its rows hold no title); its new requirements table adds ids.
    new = round2.split("### New requirements", 1)[1]
    row = re.compile(r"^\| ([PMED]\d\d) \| ([^|]+?) \|", re.M)
    catalogue = {m.group(1): m.group(2).strip() for part in (first, new) for m in row.finditer(part)}
    shipped = {r.id: r.title for r in load_requirements(load_pack(RULES))}
    assert shipped == catalogue and len(shipped) == 41
    assert {"P17", "P18", "M08", "M09", "E07", "E08", "E09", "E10", "E11"} <= set(shipped)


def test_coverage_lists_every_round_2_requirement_with_its_rules():
    result = CliRunner().invoke(main, ["rules", "--coverage", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rules = {r["id"]: r["rules"] for r in doc["requirements"]}
    assert rules["P17"] == ["PF-P17-GOALUNREVIEWED"] and rules["P18"] == ["PF-P18-GOALSUNMET"]
    assert rules["M08"] == ["PF-M08-PAIDWHILESERIOUS"] and rules["M09"] == ["PF-M09-DIRECTFUNDS"]
    assert rules["E07"] == ["PF-E07-DEPTSELFEVAL"] and rules["E08"] == ["PF-E08-KEYEVAL"]
    assert rules["E09"] == ["PF-E09-BONDTHIRDPARTY"] and rules["E10"] == ["PF-E10-SERVICEFUNDEVAL"]
    assert rules["E11"] == ["PF-E11-DEPTBUDGETLINK"]
    assert doc["gaps"] == [] and doc["unbacked"] == []


def test_coverage_exits_1_on_a_gap_and_names_it(tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    text = (copy / "D-data.yaml").read_text(encoding="utf-8")
    (copy / "D-data.yaml").write_text(text.replace("requirement: [D01]", "requirement: [D02]"), encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "--coverage", "--rules", str(copy), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert "D01" in doc["gaps"]
    assert next(r for r in doc["requirements"] if r["id"] == "D03")["rules"] == ["PF-D03-UNREADABLE", "PF-D03-MISSING", "PF-D03-ABSENT"]


def test_rules_listing_shows_resolved_params_and_where_they_were_set():
    result = CliRunner().invoke(main, ["rules", "--profile", "nanchang-gaoxin", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["chain"] == ["national", "nanchang-gaoxin"]
    p08 = next(r for r in doc["rules"] if r["id"] == "PF-P08-POORGRADE")
    assert p08["params"]["cut_grades"] == {"value": ["中", "差"], "set_in": "nanchang-gaoxin.yaml"}
    assert p08["params"]["grade_aliases"]["set_in"] == "pack.yaml"   # read through the derived prior_grade_level
    assert p08["requirement"] == ["P08"] and p08["source"][0]["document"] == "射财绩〔2021〕10号"


def test_rules_table_mentions_every_rule():
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == 0
    for rule_id in load_pack(RULES).rules:
        assert rule_id in result.output


def _poor(pid, jurisdiction, grade="一般"):
    return {"project_id": pid, "fiscal_year": 2022, "jurisdiction": jurisdiction, "amount": 100, "prior_year_amount": 100,
            "budget_type": "一般公共预算", "is_new": False, "performance_goal": {"review_status": "通过"},
            "prior_evaluation": {"year": 2021, "grade": grade, "score": 70}}


def test_each_record_is_checked_under_its_jurisdiction():
    ds = submission_dataset([_poor("A", "nanchang-gaoxin"), _poor("B", "national"), _poor("C", None)], [], "t.json")
    result = check_datasets([ds], load_pack(RULES), None, None)
    # 一般 (=中) cuts funding in 南昌高新区 only.
    assert [f.project_id for f in fired(result, "PF-P08-POORGRADE")] == ["A"]
    assert set(result.profile.split(", ")) == {"nanchang-gaoxin", "national"}


def test_profile_option_wins_over_jurisdiction():
    ds = submission_dataset([_poor("A", "nanchang-gaoxin"), _poor("B", "national")], [], "t.json")
    result = check_datasets([ds], load_pack(RULES), "national", None)
    assert fired(result, "PF-P08-POORGRADE") == []
    result = check_datasets([ds], load_pack(RULES), "nanchang-gaoxin", None)
    assert sorted(f.project_id for f in fired(result, "PF-P08-POORGRADE")) == ["A", "B"]


def test_unknown_jurisdiction_falls_back_to_national_with_a_note():
    ds = submission_dataset([_poor("A", "atlantis")], [], "t.json")
    result = check_datasets([ds], load_pack(RULES), None, None)
    assert result.profile == "national"
    assert any("atlantis" in e["message"] for e in result.errors)


def test_related_rows_follow_their_project_when_split():
    a = _poor("A", "nanchang-gaoxin")
    b = {**_poor("B", "national", grade="良"), "payments": [{"date": "2022-01-05", "amount": 0}], "execution": {"paid_to_date": 5}}
    a["payments"] = [{"date": "2022-01-05", "amount": 7}]
    ds = submission_dataset([a, b], [], "t.json")
    result = check_datasets([ds], load_pack(RULES), None, None)
    # B's only payment is 0 → M02 fires on B only; A's payment row did not leak to B, nor B's to A.
    assert [f.project_id for f in fired(result, "PF-M02-ZEROPAID")] == ["B"]
