"""Effective dates: a rule applies from ``effective_from`` (that day included) until ``effective_to`` (the
first day it no longer applies), judged by the check's as-of date — in ``check``, ``rules --as-of``,
``explain``, ``diff`` and the YAML rule cases; and an old rule replaced by a new one on a date.

Each test builds a copy of the bundled pack in tmp_path and edits its YAML, as a policy officer would.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import RULES, SAMPLES

from perfrules.cli.main import main

RULE = "PF-P05-EXANTE"
FROM, TO = "2022-07-01", "2023-01-01"
AT_THRESHOLD = SAMPLES / "submissions" / "p05-exante-at-threshold.json"  # SY-2022-105: P05 阻断, as_of 2022-11-15
COUNTY = SAMPLES / "exports" / "county-2022"  # as_of 2022-10-31: P05 on GX-003, and a D03 finding about P05 on GX-007

# as-of date → (state of the rule, whether it applies)
WINDOW = [
    ("2022-06-30", "not_yet", False),   # the day before effective_from
    ("2022-07-01", "in_force", True),   # effective_from itself applies
    ("2022-12-31", "in_force", True),   # the last day in force
    ("2023-01-01", "expired", False),   # effective_to itself does not apply
    ("2024-06-01", "expired", False),
]


# ----------------------------------------------------------------------------------------- helpers


def cli(*args: object, codes: tuple[int, ...] = (0,)) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code in codes, result.output
    return result.stdout


def cli_json(*args: object) -> object:
    return json.loads(cli(*args, "--format", "json"))


def copy_pack(tmp_path: Path, name: str = "dated") -> Path:
    """The bundled pack without its rule cases (a tests/ folder holds only the shared bases)."""
    root = tmp_path / name
    shutil.copytree(RULES, root, ignore=shutil.ignore_patterns("tests"))
    (root / "tests").mkdir()
    shutil.copy(RULES / "tests" / "bases.yaml", root / "tests" / "bases.yaml")
    return root


def date_rule(pack: Path, rule_id: str, effective_from: str | None = None, effective_to: str | None = None) -> None:
    """Add effective dates under the rule's ``id:`` line, in whichever rule file holds it."""
    anchor = f"  - id: {rule_id}\n"
    [path] = [p for p in pack.glob("*.yaml") if anchor in p.read_text(encoding="utf-8")]
    lines = "".join(f'    {key}: "{value}"\n' for key, value in (("effective_from", effective_from),
                                                                  ("effective_to", effective_to)) if value)
    path.write_text(path.read_text(encoding="utf-8").replace(anchor, anchor + lines, 1), encoding="utf-8")


@pytest.fixture()
def dated(tmp_path: Path) -> Path:
    pack = copy_pack(tmp_path)
    date_rule(pack, RULE, FROM, TO)
    return pack


def findings(pack: Path, data: Path, *extra: object) -> list[dict]:
    doc = cli_json("check", data, "--rules", pack, "--fail-on", "never", *extra)
    return doc["findings"]


def state_of(pack: Path, rule_id: str, *extra: object) -> str:
    doc = cli_json("rules", "--rules", pack, *extra)
    return next(r["state"] for r in doc["rules"] if r["id"] == rule_id)


def submission(tmp_path: Path, projects: list[dict], as_of: str | None = None, name: str = "data.json") -> Path:
    doc = {"projects": projects} | ({"as_of": as_of} if as_of else {})
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def new_project(project_id: str, amount: int) -> dict:
    """The clean sample project as a new, non-major application without an ex-ante report."""
    base = json.loads((SAMPLES / "submissions" / "clean-project.json").read_text(encoding="utf-8"))["projects"][0]
    project = copy.deepcopy(base)
    project.update(project_id=project_id, amount=amount, is_new=True, is_major=False, jurisdiction="national")
    project.pop("ex_ante_assessment", None)
    return project


# ----------------------------------------------------------------------------------------- one dated rule


def test_the_dated_pack_is_lint_clean(dated: Path) -> None:
    assert cli("lint", dated).strip() == "没有发现问题"


@pytest.mark.parametrize(("as_of", "state", "applies"), WINDOW)
def test_check_applies_the_rule_only_inside_its_window(dated: Path, as_of: str, state: str, applies: bool) -> None:
    rules = {f["rule_id"] for f in findings(dated, AT_THRESHOLD, "--as-of", as_of)}
    assert (RULE in rules) is applies
    in_force = cli_json("check", AT_THRESHOLD, "--rules", dated, "--fail-on", "never", "--as-of", as_of)["summary"]["rules_in_force"]
    everything = cli_json("check", AT_THRESHOLD, "--rules", RULES, "--fail-on", "never", "--as-of", as_of)["summary"]["rules_in_force"]
    assert in_force == everything - (0 if applies else 1)


def test_the_undated_rule_applies_on_every_one_of_those_days() -> None:
    for as_of, _, _ in WINDOW:
        assert RULE in {f["rule_id"] for f in findings(RULES, AT_THRESHOLD, "--as-of", as_of)}


@pytest.mark.parametrize(("as_of", "state", "applies"), WINDOW)
def test_rules_listing_shows_the_state_on_the_as_of_date(dated: Path, as_of: str, state: str, applies: bool) -> None:
    doc = cli_json("rules", "--rules", dated, "--as-of", as_of)
    states = {r["id"]: r["state"] for r in doc["rules"]}
    assert states[RULE] == state
    assert states["PF-P01-NOGOAL"] == "in_force" and states["PF-P07-NOSELFEVAL"] == "disabled"


def test_rules_listing_text_names_the_state(dated: Path) -> None:
    lines = {a: next(line for line in cli("rules", "--rules", dated, "--as-of", a).splitlines() if line.startswith(RULE))
             for a in ("2022-06-30", "2022-07-01", "2023-01-01")}
    assert lines["2022-06-30"].endswith("尚未生效")
    assert lines["2022-07-01"].endswith("生效") and not lines["2022-07-01"].endswith("尚未生效")
    assert lines["2023-01-01"].endswith("已失效")


@pytest.mark.parametrize(("as_of", "state", "applies"), WINDOW)
def test_explain_shows_state_and_verdict(dated: Path, as_of: str, state: str, applies: bool) -> None:
    [e] = cli_json("explain", AT_THRESHOLD, "--rules", dated, "--rule", RULE, "--as-of", as_of)
    assert (e["as_of"], e["state"], e["effective"]) == (as_of, state, {"from": FROM, "to": TO})
    assert (e["verdict"], e["severity"]) == (("fires", "阻断") if applies else ("not_applied", None))
    # The condition is still evaluated, so the reader sees it would have fired.
    assert e["steps"][0]["value"] is True


def test_explain_text_outside_the_window(dated: Path) -> None:
    before = cli("explain", AT_THRESHOLD, "--rules", dated, "--rule", RULE, "--as-of", "2022-06-30")
    assert "状态: 尚未生效（自 2022-07-01 起生效" in before and "结论: 未适用" in before
    after = cli("explain", AT_THRESHOLD, "--rules", dated, "--rule", RULE, "--as-of", "2023-01-01", "--lang", "en")
    assert "state: no longer in force (applies from 2022-07-01; no longer applies from 2023-01-01)" in after
    assert "verdict: not applied" in after
    inside = cli("explain", AT_THRESHOLD, "--rules", dated, "--rule", RULE, "--as-of", "2022-07-01")
    assert "状态: 生效\n" in inside and "结论: 触发（阻断）" in inside


def test_explain_takes_the_date_from_the_data(dated: Path) -> None:
    [e] = cli_json("explain", AT_THRESHOLD, "--rules", dated, "--rule", RULE)  # the file's as_of: 2022-11-15
    assert (e["as_of"], e["state"], e["verdict"]) == ("2022-11-15", "in_force", "fires")


def test_a_rule_not_in_force_reports_no_data_findings_either(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    date_rule(pack, RULE, effective_from="2022-11-01")  # after the export's as_of (2022-10-31, from its manifest)
    about_p05 = lambda fs: {(f["rule_id"], f["project_id"]) for f in fs if RULE in (f["rule_id"], f["evidence"].get("rule"))}
    assert about_p05(findings(pack, COUNTY)) == set()
    assert about_p05(findings(pack, COUNTY, "--as-of", "2022-11-01")) == {(RULE, "GX-003"), ("PF-D03-MISSING", "GX-007")}
    assert about_p05(findings(RULES, COUNTY)) == {(RULE, "GX-003"), ("PF-D03-MISSING", "GX-007")}


def test_diff_shows_what_the_dates_change(dated: Path) -> None:
    before = cli_json("diff", "--base", RULES, "--head", dated, AT_THRESHOLD, "--as-of", "2022-06-30")
    assert [(c["change"], c["rule_id"], c["project_id"]) for c in before["changes"]] == [("removed", RULE, "SY-2022-105")]
    inside = cli_json("diff", "--base", RULES, "--head", dated, AT_THRESHOLD, "--as-of", "2022-07-01")
    assert inside["changes"] == []


def test_rule_cases_honour_their_as_of(dated: Path) -> None:
    (dated / "tests" / "dated.yaml").write_text(f"""cases:
  - name: 生效前一天
    rule: {RULE}
    as_of: "2022-06-30"
    project: {{base: clean, is_new: true, amount: 500000, ex_ante_assessment: null}}
    expect: []
  - name: 生效当天
    rule: {RULE}
    as_of: 2022-07-01
    project: {{base: clean, is_new: true, amount: 500000, ex_ante_assessment: null}}
    expect: [{{severity: 阻断}}]
  - name: 失效前一天
    rule: {RULE}
    as_of: "2022-12-31"
    project: {{base: clean, is_new: true, amount: 500000, ex_ante_assessment: null}}
    expect: [{{severity: 阻断}}]
  - name: 失效当天
    rule: {RULE}
    as_of: "2023-01-01"
    project: {{base: clean, is_new: true, amount: 500000, ex_ante_assessment: null}}
    expect: []
""", encoding="utf-8")
    out = cli("test", dated)
    assert out.rstrip().endswith("4 passed, 0 failed"), out
    # Swap the expectations: every case now fails, so the dates really decided the outcomes.
    text = (dated / "tests" / "dated.yaml").read_text(encoding="utf-8")
    swapped = text.replace("expect: []", "expect: [X]").replace("expect: [{severity: 阻断}]", "expect: []").replace("[X]", "[{severity: 阻断}]")
    (dated / "tests" / "dated.yaml").write_text(swapped, encoding="utf-8")
    assert cli("test", dated, codes=(1,)).rstrip().endswith("0 passed, 4 failed")


# ----------------------------------------------------------------------------------------- replaced on a date

NEW_RULE = "PF-P05-EXANTE2023"
REPLACEMENT = f"""# yaml-language-server: $schema=../schemas/rule-pack.schema.json
params:
  ex_ante_threshold_2023:
    type: money
    default: 1000000
    unit: 元
    title: 2023 年起须开展事前绩效评估的新增项目金额门槛（含本数）
    title_en: From 2023, the amount from which a new project needs an ex-ante assessment (inclusive)

rules:
  - id: {NEW_RULE}
    title: 新增重大政策和项目须事前绩效评估（2023 年起门槛 100 万元）
    title_en: New major policies and projects need an ex-ante assessment (threshold 1,000,000 from 2023)
    requirement: [P05]
    severity: 阻断
    effective_from: "2023-01-01"
    scope: {{record: project, stage: budgeting}}
    when: |
      is_new
      and (is_major or amount >= params.ex_ante_threshold_2023)
      and ex_ante_report_id is None
    message:
      zh: 新增项目 {{project_id}} 申请金额 {{amount}}（门槛 {{params.ex_ante_threshold_2023}}），未提供事前绩效评估报告。
      en: New project {{project_id}} asks for {{amount}} (threshold {{params.ex_ante_threshold_2023}}) with no ex-ante assessment report.
    recommendation:
      zh: 原则上不予审核预算；先开展事前绩效评估。
      en: Do not review the budget; carry out an ex-ante assessment first.
    source:
      - document: 《关于宿州市埇桥区预算绩效管理工作开展情况的说明》
        clause: 开展事前绩效评估 2.
        text: 对未提供事前绩效评估报告的，原则上不予审核预算；对论证不充分、无法有效支撑评估结论的，出具书面审核意见后予以退回；对事前绩效评估报告审核通过且确有必要实施的政策和项目，在年度预算安排时予以统筹考虑。
"""


@pytest.fixture()
def replaced(tmp_path: Path) -> Path:
    """PF-P05-EXANTE (500000) ends on 2023-01-01; PF-P05-EXANTE2023 (1000000) starts that day."""
    pack = copy_pack(tmp_path, "replaced")
    date_rule(pack, RULE, effective_to="2023-01-01")
    (pack / "P-exante-2023.yaml").write_text(REPLACEMENT, encoding="utf-8")
    return pack


@pytest.fixture()
def two_projects(tmp_path: Path) -> Path:
    return submission(tmp_path, [new_project("BIG", 1_200_000), new_project("MID", 600_000)])


def test_replacement_pack_is_lint_clean(replaced: Path) -> None:
    assert cli("lint", replaced).strip() == "没有发现问题"


@pytest.mark.parametrize(("as_of", "expected"), [
    ("2022-12-31", {(RULE, "BIG"), (RULE, "MID")}),   # only the old rule: 500000 threshold
    ("2023-01-01", {(NEW_RULE, "BIG")}),               # only the new rule: 1000000 threshold
])
def test_only_one_of_old_and_new_applies_each_day(replaced: Path, two_projects: Path, as_of: str, expected: set) -> None:
    got = {(f["rule_id"], f["project_id"]) for f in findings(replaced, two_projects, "--as-of", as_of)
           if f["rule_id"] in (RULE, NEW_RULE)}
    assert got == expected


@pytest.mark.parametrize(("as_of", "old", "new"), [("2022-12-31", "in_force", "not_yet"), ("2023-01-01", "expired", "in_force")])
def test_rules_listing_on_the_changeover(replaced: Path, as_of: str, old: str, new: str) -> None:
    assert (state_of(replaced, RULE, "--as-of", as_of), state_of(replaced, NEW_RULE, "--as-of", as_of)) == (old, new)


@pytest.mark.parametrize(("as_of", "old", "new"), [("2022-12-31", "fires", "not_applied"), ("2023-01-01", "not_applied", "fires")])
def test_explain_on_the_changeover(replaced: Path, two_projects: Path, as_of: str, old: str, new: str) -> None:
    verdict = lambda rid: cli_json("explain", two_projects, "--rules", replaced, "--rule", rid, "--record", "BIG", "--as-of", as_of)[0]["verdict"]
    assert (verdict(RULE), verdict(NEW_RULE)) == (old, new)


def test_rule_cases_pin_the_changeover(replaced: Path) -> None:
    (replaced / "tests" / "changeover.yaml").write_text(f"""cases:
  - name: 2022-12-31 按旧门槛 50 万元
    rule: [{RULE}, {NEW_RULE}]
    as_of: "2022-12-31"
    project: {{base: clean, is_new: true, amount: 600000, ex_ante_assessment: null}}
    expect: [{{rule: {RULE}, severity: 阻断}}]
  - name: 2023-01-01 按新门槛 100 万元，60 万元不须评估
    rule: [{RULE}, {NEW_RULE}]
    as_of: "2023-01-01"
    project: {{base: clean, is_new: true, amount: 600000, ex_ante_assessment: null}}
    expect: []
  - name: 2023-01-01 起 120 万元只由新规则报告
    rule: [{RULE}, {NEW_RULE}]
    as_of: "2023-01-01"
    project: {{base: clean, is_new: true, amount: 1200000, ex_ante_assessment: null}}
    expect: [{{rule: {NEW_RULE}, severity: 阻断, evidence: {{params.ex_ante_threshold_2023: 1000000}}}}]
""", encoding="utf-8")
    out = cli("test", replaced)
    assert out.rstrip().endswith("3 passed, 0 failed"), out


# ----------------------------------------------------------------------------------------- known gaps


@pytest.mark.parametrize("effective_to", ["2022-07-01", "2022-01-01"])
def test_lint_reports_a_rule_that_is_never_in_force(tmp_path: Path, effective_to: str) -> None:
    pack = copy_pack(tmp_path)
    date_rule(pack, RULE, "2022-07-01", effective_to)
    problems = json.loads(cli("lint", pack, "--format", "json", codes=(0, 1)))
    assert any(p["rule_id"] == RULE for p in problems), problems


def test_rules_listing_without_as_of_agrees_with_check(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    date_rule(pack, RULE, effective_to="2001-01-01")
    undated = submission(tmp_path, [new_project("BIG", 1_200_000)])  # no as_of: checked as of today
    assert RULE not in {f["rule_id"] for f in findings(pack, undated)}
    assert state_of(pack, RULE) != "in_force"


def test_explain_does_not_present_effective_to_as_the_last_day(dated: Path) -> None:
    text = cli("explain", AT_THRESHOLD, "--rules", dated, "--rule", RULE, "--as-of", "2023-01-01")
    assert "状态: 已失效" in text
    assert "2023-01-01 止" not in text
