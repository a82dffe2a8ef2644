"""Every override of every jurisdiction profile changes a finding, shown against the profile without it.

Overrides that restate the document's own number (yongqiao's 50万元, tongxin's checkpoints) are
shown by raising the national default in a copy of the pack: the profile keeps deciding as its
document says while the baseline moves.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import RULES, fired

from perfrules.authoring.rule_tests import deep_merge
from perfrules.evaluation.check import check
from perfrules.inputs.submission import submission_dataset
from perfrules.rulepack.compile import compile_pack
from perfrules.rulepack.pack import load_pack
from perfrules.rulepack.profile import load_profile

BASES = yaml.safe_load((RULES / "tests" / "bases.yaml").read_text(encoding="utf-8"))["bases"]


def project(**overrides):
    return deep_merge(yaml.safe_load(yaml.safe_dump(BASES["clean"])), overrides)


def department(**overrides):
    return deep_merge(yaml.safe_load(yaml.safe_dump(BASES["clean_department"])), overrides)


def findings(pack, profile, projects=(), departments=(), as_of="2022-11-15", rule=None):
    ds = submission_dataset(list(projects), list(departments), "t.json")
    result = check(ds, compile_pack(pack, profile), dt.date.fromisoformat(as_of))
    return [(f.rule_id, f.severity) for f in result.findings if rule is None or f.rule_id == rule]


def pack_copy(tmp_path: Path, edit_pack=None, edit_profile=None) -> object:
    root = tmp_path / "rules"
    shutil.copytree(RULES, root)
    if edit_pack:
        p = root / "pack.yaml"
        p.write_text(edit_pack(p.read_text(encoding="utf-8")), encoding="utf-8")
    if edit_profile:
        name, fn = edit_profile
        p = root / "profiles" / f"{name}.yaml"
        p.write_text(fn(p.read_text(encoding="utf-8")), encoding="utf-8")
    return load_pack(root)


@pytest.fixture(scope="module")
def pack():
    return load_pack(RULES)


def test_every_profile_loads_and_extends_national(pack):
    for name in ("sheyang", "nanchang-gaoxin", "qitai", "tongxin", "yongqiao"):
        assert load_profile(pack, name).chain == ("national", name)


# --- sheyang: 低 is a grade of its own, and 低 or 差 cuts funding ---------------------------------

def test_sheyang_cut_grades_includes_low(pack, tmp_path):
    low = project(prior_evaluation={"grade": "低", "score": 55}, amount=1000000, prior_year_amount=1000000)
    assert findings(pack, "sheyang", [low], rule="PF-P08-POORGRADE") == [("PF-P08-POORGRADE", "阻断")]
    # Without sheyang's cut_grades, 低 — kept as its own grade by sheyang's aliases — would not cut funding.
    without = pack_copy(tmp_path, edit_profile=("sheyang", lambda t: t.replace("  cut_grades: [差, 低]\n", "")))
    assert findings(without, "sheyang", [low], rule="PF-P08-POORGRADE") == []


def test_sheyang_keeps_low_as_its_own_grade(pack):
    """sheyang's grade_aliases leave 低 as its own grade (national maps it to 差)."""
    low = project(prior_evaluation={"grade": "低", "score": 55}, amount=900000, prior_year_amount=1000000)
    ds = submission_dataset([low], [], "t.json")
    national = check(ds, compile_pack(pack, "national"), dt.date(2022, 11, 15))
    sheyang = check(ds, compile_pack(pack, "sheyang"), dt.date(2022, 11, 15))
    assert fired(national, "PF-P08-POORGRADE")[0].evidence["prior_grade_level"] == "差"
    assert fired(sheyang, "PF-P08-POORGRADE")[0].evidence["prior_grade_level"] == "低"


def test_sheyang_counts_low_in_a_low_streak(pack, tmp_path):
    two_low = project(prior_evaluation={"year": 2021, "grade": "低", "score": 50},
                      evaluation_history=[{"year": 2020, "grade": "低", "score": 52}], amount=900000, prior_year_amount=1000000)
    assert findings(pack, "sheyang", [two_low], rule="PF-P13-LOWSTREAK") == [("PF-P13-LOWSTREAK", "警告")]
    without = pack_copy(tmp_path, edit_profile=("sheyang", lambda t: t.replace("  low_grades: [中, 差, 低]\n", "")))
    assert findings(without, "sheyang", [two_low], rule="PF-P13-LOWSTREAK") == []


# --- nanchang-gaoxin: 一般 (中) also cuts funding ---------------------------------------------------

def test_nanchang_cuts_average_grades(pack):
    """nanchang-gaoxin's cut_grades add 中 (一般)."""
    average = project(prior_evaluation={"grade": "一般", "score": 70}, amount=900000, prior_year_amount=1000000)
    assert findings(pack, "national", [average], rule="PF-P08-POORGRADE") == []
    assert findings(pack, "nanchang-gaoxin", [average], rule="PF-P08-POORGRADE") == [("PF-P08-POORGRADE", "警告")]


# --- yongqiao: its own 50万元 threshold ---------------------------------------------------------

def test_yongqiao_threshold_stays_when_the_baseline_moves(tmp_path):
    """yongqiao's ex_ante_threshold is its own document's 50万元."""
    raised = pack_copy(tmp_path, edit_pack=lambda t: t.replace("default: 500000", "default: 1000000"))
    new = project(is_new=True, amount=600000, ex_ante_assessment=None)
    assert findings(raised, "national", [new], rule="PF-P05-EXANTE") == []
    assert findings(raised, "yongqiao", [new], rule="PF-P05-EXANTE") == [("PF-P05-EXANTE", "阻断")]


# --- tongxin: its own 10月31日 checkpoint ---------------------------------------------------------

def test_tongxin_zero_payment_checkpoint_stays_when_the_baseline_moves(tmp_path):
    later = pack_copy(tmp_path, edit_pack=lambda t: t.replace('default: "10-31"', 'default: "11-30"'))
    idle = project(payments=[], execution={"paid_to_date": 0})
    assert findings(later, "national", [idle], as_of="2022-11-01", rule="PF-M02-ZEROPAID") == []
    assert findings(later, "tongxin", [idle], as_of="2022-11-01", rule="PF-M02-ZEROPAID") == [("PF-M02-ZEROPAID", "警告")]


def test_tongxin_mid_year_and_recovery_checkpoints_stay_when_the_baseline_moves(tmp_path):
    moved = pack_copy(tmp_path, edit_pack=None)
    for f in (moved_dir := Path(moved.directory)).glob("M-execution.yaml"):
        text = f.read_text(encoding="utf-8")
        f.write_text(text.replace('default: "06-30"', 'default: "07-31"', 1).replace('default: "11-30"', 'default: "12-15"', 1), encoding="utf-8")
    moved = load_pack(moved_dir)
    assert moved.params["mid_year_checkpoint"].default == "07-31" and moved.params["recovery_checkpoint"].default == "12-15"
    slow = project(payments=[{"date": "2022-03-01", "amount": 100000}], execution={"paid_to_date": 100000})
    # 2022-07-01: past tongxin's 6月底 but not the moved national checkpoint.
    assert findings(moved, "national", [slow], as_of="2022-07-01", rule="PF-M01-MIDYEAR") == []
    assert findings(moved, "tongxin", [slow], as_of="2022-07-01", rule="PF-M01-MIDYEAR") == [("PF-M01-MIDYEAR", "警告")]
    assert findings(moved, "national", [slow], as_of="2022-12-01", rule="PF-M03-RECOVERY") == []
    assert findings(moved, "tongxin", [slow], as_of="2022-12-01", rule="PF-M03-RECOVERY") == [("PF-M03-RECOVERY", "警告")]


def test_every_enabled_rule_is_off_in_national_and_fires_in_a_case_of_its_profile(pack):
    from perfrules.authoring.rule_tests import load_cases
    cases = load_cases(RULES)
    national = load_profile(pack, "national").enabled
    for name in ("sheyang", "nanchang-gaoxin", "qitai", "tongxin", "yongqiao"):
        doc = yaml.safe_load((RULES / "profiles" / f"{name}.yaml").read_text(encoding="utf-8"))
        for rule_id in doc.get("enable") or []:
            assert rule_id not in national, f"{rule_id} is already on in national: enabling it in {name} changes nothing"
            assert any(c.profile == name and any(e.get("rule", c.rules[0]) == rule_id for e in c.expect) for c in cases), \
                f"no case shows {rule_id} firing under {name}"


def test_every_parameter_override_is_exercised_here():
    """Keeps this file in step with the profiles: for each parameter a profile overrides, a test named
    for that profile names the parameter in its body."""
    import ast
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    bodies = {f.name: ast.get_source_segment(Path(__file__).read_text(encoding="utf-8"), f) or ""
              for f in tree.body if isinstance(f, ast.FunctionDef)}
    for name in ("sheyang", "nanchang-gaoxin", "qitai", "tongxin", "yongqiao"):
        doc = yaml.safe_load((RULES / "profiles" / f"{name}.yaml").read_text(encoding="utf-8"))
        prefix = "test_" + name.split("-")[0] + "_"
        for param in doc.get("params") or {}:
            assert any(fn.startswith(prefix) and param in body for fn, body in bodies.items()), \
                f"no test_{name.split('-')[0]}_… names the {name} override {param!r}"
