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
    low = project(prior_evaluation={"grade": "低", "score": 55, "evaluator": "财政重点评价"}, amount=1000000, prior_year_amount=1000000)
    assert findings(pack, "sheyang", [low], rule="PF-P08-POORGRADE") == [("PF-P08-POORGRADE", "阻断")]
    # Without sheyang's cut_grades, 低 — kept as its own grade by sheyang's aliases — would not cut funding.
    without = pack_copy(tmp_path, edit_profile=("sheyang", lambda t: t.replace("  cut_grades: [差, 低]\n", "")))
    assert findings(without, "sheyang", [low], rule="PF-P08-POORGRADE") == []


def test_sheyang_keeps_low_as_its_own_grade(pack):
    """sheyang's grade_aliases leave 低 as its own grade (national maps it to 差)."""
    low = project(prior_evaluation={"grade": "低", "score": 55, "evaluator": "财政重点评价"}, amount=900000, prior_year_amount=1000000)
    ds = submission_dataset([low], [], "t.json")
    national = check(ds, compile_pack(pack, "national"), dt.date(2022, 11, 15))
    sheyang = check(ds, compile_pack(pack, "sheyang"), dt.date(2022, 11, 15))
    assert fired(national, "PF-P08-POORGRADE")[0].evidence["prior_grade_level"] == "差"
    assert fired(sheyang, "PF-P08-POORGRADE")[0].evidence["prior_grade_level"] == "低"


def test_sheyang_cuts_only_on_a_key_evaluation(pack, tmp_path):
    """sheyang's cut_evaluators: （八）"对镇级财政重点绩效评价结果为低或差的" — a 单位自评 of 差 does not cut there."""
    self_poor = project(prior_evaluation={"grade": "差", "score": 50, "evaluator": "单位自评"}, amount=1000000, prior_year_amount=1000000)
    key_poor = project(prior_evaluation={"grade": "差", "score": 50, "evaluator": "财政重点评价"}, amount=1000000, prior_year_amount=1000000)
    assert findings(pack, "sheyang", [self_poor], rule="PF-P08-POORGRADE") == []
    assert findings(pack, "sheyang", [key_poor], rule="PF-P08-POORGRADE") == [("PF-P08-POORGRADE", "阻断")]
    assert findings(pack, "national", [self_poor], rule="PF-P08-POORGRADE") == [("PF-P08-POORGRADE", "阻断")]
    without = pack_copy(tmp_path, edit_profile=("sheyang", lambda t: t.replace("  cut_evaluators: [财政重点评价]", "")))
    assert findings(without, "sheyang", [self_poor], rule="PF-P08-POORGRADE") == [("PF-P08-POORGRADE", "阻断")]


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


def test_nanchang_publishes_average_and_poor_results(pack, tmp_path):
    """nanchang-gaoxin's publish_grades: (十)"对评价结果一般或差的项目,要进行公开通报" — E03 is on there only."""
    average = project(prior_evaluation={"grade": "一般", "score": 70, "published": False})
    assert findings(pack, "nanchang-gaoxin", [average], rule="PF-E03-PUBLISHPOOR") == [("PF-E03-PUBLISHPOOR", "警告")]
    for other in ("national", "sheyang", "qitai", "tongxin", "yongqiao"):
        assert findings(pack, other, [average], rule="PF-E03-PUBLISHPOOR") == [], other
        assert findings(pack, other, [average], rule="PF-E04-RESULTPUBLISH") == [("PF-E04-RESULTPUBLISH", "提示")], other
    without = pack_copy(tmp_path, edit_profile=("nanchang-gaoxin", lambda t: t.replace("  publish_grades: [中, 差, 低]", "")))
    assert findings(without, "nanchang-gaoxin", [average], rule="PF-E03-PUBLISHPOOR") == []


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


# --- backed in every profile (policy catalogue round 2) -------------------------------------------

PROFILE_DOCUMENT = {"sheyang": "射财绩〔2021〕10号", "nanchang-gaoxin": "《关于全面实施预算绩效管理的实施意见》（南昌高新区）",
                    "qitai": "奇财预〔2018〕140号", "tongxin": "《预算绩效管理工作开展情况说明》（同心县）",
                    "yongqiao": "《关于宿州市埇桥区预算绩效管理工作开展情况的说明》"}


def _coverage(*args):
    import json
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "perfrules", "rules", "--coverage", *args], capture_output=True, text=True,
                          encoding="utf-8", check=False)
    return done.returncode, (json.loads(done.stdout) if "json" in args else done.stdout), done.stderr


@pytest.mark.parametrize("name", ["national", *PROFILE_DOCUMENT])
def test_every_rule_in_force_is_backed_by_its_profiles_document_or_the_baseline(name, pack):
    code, doc, err = _coverage("--profile", name, "--format", "json")
    assert code == 0, err
    assert doc["profile"] == name and doc["unbacked"] == []
    assert [b["rule"] for b in doc["backing"]] == [r for r in pack.rules if r in load_profile(pack, name).enabled]
    for b in doc["backing"]:
        if b["kind"] == "document":  # the clause shown is one of the profile's own document
            assert {s["document"] for s in b["sources"]} == {PROFILE_DOCUMENT.get(name, "财预〔2020〕10号")}, b
        else:
            assert b["kind"] == "baseline" and b["sources"], b


def test_a_rule_with_only_another_jurisdictions_source_is_off_there(pack):
    """E03 is asked for by 南昌高新区's (十) alone; P18 by 同心县, E09 by 埇桥区: each is on in its own profile only."""
    only = {"PF-E03-PUBLISHPOOR": "nanchang-gaoxin", "PF-P18-GOALSUNMET": "tongxin", "PF-E09-BONDTHIRDPARTY": "yongqiao",
            "PF-M09-DIRECTFUNDS": "tongxin", "PF-E08-KEYEVAL": "sheyang", "PF-P17-GOALUNREVIEWED": "qitai"}
    for rule_id, home in only.items():
        on = [n for n in ("national", *PROFILE_DOCUMENT) if rule_id in load_profile(pack, n).enabled]
        assert on == [home], rule_id


def test_coverage_table_shows_the_clause_that_backs_each_rule():
    code, out, _ = _coverage("--profile", "qitai")
    assert code == 0
    assert "PF-P17-GOALUNREVIEWED  (P17)  ←  本配置依据文件：奇财预〔2018〕140号 二、（二）2、" in out.splitlines()
    assert "PF-M02-ZEROPAID  (M02)  ←  全国基线：《预算绩效管理工作开展情况说明》（同心县） 二、(三)" in out.splitlines()
    assert "PF-E05-GRADESCORE  (E05)  ←  全国基线：财预〔2020〕10号 等级划分" in out.splitlines()
    assert "PF-E03-PUBLISHPOOR" not in out.split("生效的规则及其依据")[1]
    code, out, _ = _coverage("--profile", "nanchang-gaoxin", "--lang", "en")
    assert "PF-E03-PUBLISHPOOR  (E03)  ←  the profile's document: 《关于全面实施预算绩效管理的实施意见》（南昌高新区） (十)" in out.splitlines()


def test_lint_warns_when_a_rule_in_force_has_no_backing(tmp_path):
    import subprocess
    import sys
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    qitai = copy / "profiles" / "qitai.yaml"
    qitai.write_text(qitai.read_text(encoding="utf-8") + "disable: []\n", encoding="utf-8")
    text = qitai.read_text(encoding="utf-8").replace("enable: [PF-M07-MONTHLY,", "enable: [PF-E03-PUBLISHPOOR, PF-M07-MONTHLY,")
    qitai.write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "perfrules", "lint", str(copy), "--format", "json"], capture_output=True,
                          text=True, encoding="utf-8", check=False)
    import json
    problems = json.loads(done.stdout)
    assert done.returncode == 1
    assert [(p["code"], p["rule_id"]) for p in problems] == [("lint.unbacked", "PF-E03-PUBLISHPOOR")]
    assert "qitai" in problems[0]["message"] and "E03" in problems[0]["message"]
    code, doc, _ = _coverage("--rules", str(copy), "--profile", "qitai", "--format", "json")
    assert code == 1 and doc["unbacked"] == ["PF-E03-PUBLISHPOOR"]
