"""The year's most authoritative evaluation is the profile's (``params.evaluation_precedence``), on every path.

A project's prior-year evaluation (``prior_*``) is taken from the evaluations table when that year has several;
which one leads is the profile's precedence, not the pack's default: the batch path (an export, with and
without ``--profile``), the per-record screening path, the partitioned path and the CLI all read the same.
A profile that reverses the precedence (单位自评 first) turns the prior-year grade, and so P08/P09/P10, round.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import RULES

from perfrules.api import check_paths
from perfrules.distributed.runner import check_partitioned
from perfrules.distributed.writer import partition_export
from perfrules.evaluation.screening import Screener
from perfrules.rulepack.pack import load_pack

AS_OF = dt.date(2022, 11, 15)
GRADE_RULES = ("PF-P08-POORGRADE", "PF-P09-AVERAGEGRADE", "PF-P10-GOODGRADE")
REVERSED = ["单位自评", "部门评价", "第三方", "财政重点评价"]

# Two prior-year (2021) evaluations of each project, the more authoritative one by the pack's default second.
EVALUATIONS = {
    "A1": [("单位自评", "优", 92), ("财政重点评价", "差", 55)],  # default: 差 (P08); reversed: 优 (P10)
    "A2": [("部门评价", "中", 70), ("第三方", "差", 50)],        # default: 差 (P08); reversed: 中 (P09)
}
DEFAULT = {("PF-P08-POORGRADE", "A1", "阻断", "差"), ("PF-P08-POORGRADE", "A2", "阻断", "差")}
REVERSED_FINDINGS = {("PF-P10-GOODGRADE", "A1", "提示", "优"), ("PF-P09-AVERAGEGRADE", "A2", "提示", "中")}


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> Path:
    """The bundled rules plus a profile ``reversed`` that only reverses the evaluation precedence."""
    out = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(RULES, out)
    (out / "profiles" / "reversed.yaml").write_text(
        "profile: reversed\ntitle: 评价权威顺序倒置（测试用）\nextends: national\n"
        f"params:\n  evaluation_precedence: [{', '.join(REVERSED)}]\n", encoding="utf-8")
    return out


def _export(folder: Path, jurisdictions: dict[str, str] | None = None) -> Path:
    folder.mkdir()
    j = jurisdictions or {}
    (folder / "项目.csv").write_text(
        "项目编码,项目名称,预算年度,地区,主管部门,申请金额,上年预算金额,是否新增\n"
        + "".join(f"{p},项目{p},2022,{j.get(p, 'national')},县水利局,1200000,1000000,否\n" for p in EVALUATIONS), encoding="utf-8")
    (folder / "绩效评价.csv").write_text(
        "项目编码,评价年度,评价等级,评价得分,评价方式\n"
        + "".join(f"{p},2021,{grade},{score},{who}\n" for p, rows in EVALUATIONS.items() for who, grade, score in rows),
        encoding="utf-8")
    (folder / "manifest.yaml").write_text("as_of: 2022-11-15\n", encoding="utf-8")
    return folder


def _submission(jurisdictions: dict[str, str] | None = None) -> dict[str, Any]:
    j = jurisdictions or {}
    return {"as_of": "2022-11-15", "projects": [
        {"project_id": p, "project_name": f"项目{p}", "fiscal_year": 2022, "jurisdiction": j.get(p, "national"),
         "department": "县水利局", "amount": 1200000, "prior_year_amount": 1000000, "is_new": False,
         "evaluation_history": [{"year": 2021, "grade": grade, "score": score, "evaluator": who} for who, grade, score in rows]}
        for p, rows in EVALUATIONS.items()]}


def _grades(findings: list[Any]) -> set[tuple[str, str, str, str]]:
    return {(f.rule_id, f.project_id, f.severity, f.evidence["prior_grade"]) for f in findings if f.rule_id in GRADE_RULES}


def test_the_profile_only_changes_the_precedence(rules):
    pack = load_pack(rules)
    assert pack.params["evaluation_precedence"].default == ["财政重点评价", "第三方", "部门评价", "单位自评"]


@pytest.mark.parametrize("profile, expected", [("national", DEFAULT), ("reversed", REVERSED_FINDINGS)])
def test_the_batch_path_takes_the_profile_s_precedence(rules, tmp_path, profile, expected):
    assert _grades(check_paths([_export(tmp_path / "e")], rules_dir=rules, profile=profile).findings) == expected


@pytest.mark.parametrize("profile, expected", [("national", DEFAULT), ("reversed", REVERSED_FINDINGS)])
def test_the_per_record_path_takes_the_profile_s_precedence(rules, profile, expected):
    screener = Screener(rules)
    try:
        result = screener.screen(_submission(), profile=profile, name="s.json")
    finally:
        screener.close()
    assert _grades(result.findings) == expected


@pytest.mark.parametrize("profile, expected", [("national", DEFAULT), ("reversed", REVERSED_FINDINGS)])
def test_the_partitioned_path_takes_the_profile_s_precedence(rules, tmp_path, profile, expected):
    folder = tmp_path / "parts"
    partition_export(_export(tmp_path / "e"), folder, 2)
    result, _, _ = check_partitioned(folder, load_pack(rules), profile, AS_OF, "zh", None)
    assert _grades(result.findings) == expected


def test_each_record_s_jurisdiction_chooses_its_precedence_on_every_path(rules, tmp_path):
    """Without --profile, A2's jurisdiction names the reversed profile; A1 stays national."""
    mixed = {("PF-P08-POORGRADE", "A1", "阻断", "差"), ("PF-P09-AVERAGEGRADE", "A2", "提示", "中")}
    export = _export(tmp_path / "e", {"A2": "reversed"})
    assert _grades(check_paths([export], rules_dir=rules).findings) == mixed
    folder = tmp_path / "parts"
    partition_export(export, folder, 2)
    assert _grades(check_partitioned(folder, load_pack(rules), None, AS_OF, "zh", None)[0].findings) == mixed
    screener = Screener(rules)
    try:
        assert _grades(screener.screen(_submission({"A2": "reversed"}), name="s.json").findings) == mixed
    finally:
        screener.close()


def test_the_cli_takes_the_profile_s_precedence(rules, tmp_path):
    export = _export(tmp_path / "e")
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_submission(), ensure_ascii=False), encoding="utf-8")
    for args in (["check", str(export)], ["check", str(path)], ["screen", str(path)]):
        proc = subprocess.run([sys.executable, "-m", "perfrules.cli.main", *args, "--rules", str(rules), "--profile", "reversed",
                               "--format", "json", "--fail-on", "never"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (args, proc.stderr)
        found = {(f["rule_id"], f["project_id"], f["severity"], f["evidence"]["prior_grade"])
                 for f in json.loads(proc.stdout)["findings"] if f["rule_id"] in GRADE_RULES}
        assert found == REVERSED_FINDINGS, args
