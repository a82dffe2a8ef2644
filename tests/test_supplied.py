"""Supplied means complete (issue 14, point 1): a related table the input has is the whole record of it.

A project with no rows in a supplied table (an export's table file, a submission's list key even ``[]``)
has none: ``count`` 0, ``sum`` 0, ``any`` false … Only an absent table or key is missing data. Both
evaluators (the vectorised fact layer and the per-record one the durable path reads) agree on every
aggregate over every related table, and ``perfrules check`` puts a project without payment rows in a
supplied payments table on the 重点关注台账 (M02) after 10月31日.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import RULES

from perfrules.evaluation.facts import build_facts
from perfrules.evaluation.functions import AGGREGATES
from perfrules.evaluation.record_facts import record_values, submission_records
from perfrules.inputs.submission import submission_dataset
from perfrules.rulepack.compile import compile_pack
from perfrules.rulepack.pack import load_pack

AS_OF = dt.date(2022, 11, 15)

# Per related table: a value and a condition on its rows, and how a submission lists its rows.
TABLES = {
    "payments": ("amount", "amount > 0", lambda rows: {"payments": rows}),
    "indicators": ("target_value", 'level1 == "产出指标"', lambda rows: {"performance_goal": {"indicators": rows}}),
    "monitoring": ("month", "goal_deviation", lambda rows: {"monitoring": rows}),
    "evaluations": ("score", 'grade == "差"', lambda rows: {"evaluation_history": rows}),
}
ROWS = {
    "payments": [{"date": "2022-05-01", "amount": 100}],
    "indicators": [{"level1": "产出指标", "target_value": 95}],
    "monitoring": [{"month": "2022-03", "goal_deviation": True}],
    "evaluations": [{"year": 2021, "grade": "差", "score": 55}],
}
NO_ROWS = {"count": 0.0, "count_distinct": 0.0, "sum": 0.0, "any": False, "all": True, "streak": 0.0,
           "min": None, "max": None, "top": None, "streak_start": None}


def _expr(func: str, table: str) -> str:
    value, cond, _ = TABLES[table]
    if func in ("count", "any", "all", "streak"):
        return f"{func}({table}, {cond})"
    if func == "streak_start":
        return f"{func}({table}, {value}, {cond})"
    if func == "sum" and table == "monitoring":
        value = "1"  # sum takes a number; a monitoring report has none
    return f"{func}({table}, {value})"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return every_aggregate_pack(tmp_path_factory.mktemp("pack"))


def every_aggregate_pack(tmp: Path):
    """A pack whose derived facts are every aggregate over every related table."""
    derived = "\n".join(f"  {f}_{t}: {{expr: {json.dumps(_expr(f, t), ensure_ascii=False)}, title: {f}_{t}}}"
                        for f in AGGREGATES for t in TABLES)
    reads_all = " or ".join(f"present({f}_{t})" for f in AGGREGATES for t in TABLES)  # compiling keeps what rules read
    (tmp / "pack.yaml").write_text(f'pack: {{name: t, version: "1"}}\nparams: {{}}\nderived:\n{derived}\n', encoding="utf-8")
    (tmp / "rules.yaml").write_text(textwrap.dedent("""
        rules:
          - id: T-X01-TEST
            title: 测试
            title_en: test
            requirement: [P01]
            severity: 提示
            scope: {record: project, stage: data}
            when: amount > 0 or READS_ALL
            message: {zh: 测试, en: test}
            recommendation: {zh: 测试, en: test}
            source: [{document: d, clause: c, text: t}]
        """).replace("READS_ALL", reads_all), encoding="utf-8")
    (tmp / "profiles").mkdir()
    (tmp / "profiles" / "national.yaml").write_text("profile: national\ntitle: 基线\n", encoding="utf-8")
    compiled = compile_pack(load_pack(tmp), "national")
    assert len(compiled.derived) == len(AGGREGATES) * len(TABLES)
    return compiled


def plain_value(value: Any) -> Any:
    """A fact's value as plain Python: missing as None, flags as bool, numbers as float, dates as date."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.date()
    return float(value) if isinstance(value, (int, float, np.integer, np.floating)) else value


def _both(compiled, projects: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every derived aggregate per project: from the vectorised fact layer, and from the per-record one."""
    names = [d.fact.name for d in compiled.derived]
    frame = build_facts(submission_dataset(projects, [], "s.json"), compiled, AS_OF).frames["projects"]
    vectorised = [{n: plain_value(frame[n].iloc[i]) for n in names} for i in range(len(frame))]
    records = submission_records(projects, [], "s.json").projects
    per_record = [{n: plain_value(record_values(r, compiled, "projects", AS_OF)[n]) for n in names} for r in records]
    return vectorised, per_record


@pytest.mark.parametrize("table", list(TABLES))
def test_every_aggregate_over_a_supplied_table_without_the_projects_rows(compiled, table):
    # Project 0 has rows; project 1 has the key with no rows; project 2 has no key (the submission still has
    # the table, through project 0): both projects without rows have none.
    listing = TABLES[table][2]
    projects = [{"project_id": "A", "fiscal_year": 2022, **listing(ROWS[table])},
                {"project_id": "B", "fiscal_year": 2022, **listing([])},
                {"project_id": "C", "fiscal_year": 2022}]
    vectorised, per_record = _both(compiled, projects)
    assert vectorised == per_record
    for func in AGGREGATES:
        assert [vectorised[i][f"{func}_{table}"] for i in (1, 2)] == [NO_ROWS[func]] * 2, func
    assert vectorised[0][f"count_{table}"] == 1.0 and vectorised[0][f"any_{table}"] is True


@pytest.mark.parametrize("table", list(TABLES))
def test_an_empty_list_is_a_supplied_table_and_no_key_is_an_absent_one(compiled, table):
    listing = TABLES[table][2]
    supplied, _ = _both(compiled, [{"project_id": "B", "fiscal_year": 2022, **listing([])}])
    absent, absent_record = _both(compiled, [{"project_id": "B", "fiscal_year": 2022}])
    assert absent == absent_record
    for func in AGGREGATES:
        assert supplied[0][f"{func}_{table}"] == NO_ROWS[func], func
        assert absent[0][f"{func}_{table}"] is None, func


# --- M02 through the CLI ----------------------------------------------------------------------------------

def _export(folder: Path, with_payments: bool = True) -> Path:
    folder.mkdir()
    (folder / "项目.csv").write_text("项目编码,项目名称,预算年度,主管部门,申请金额,预算金额,是否新增\n"
                                   "A1,项目甲,2022,县水利局,100000,100000,是\n"
                                   "A2,项目乙,2022,县水利局,100000,100000,是\n", encoding="utf-8")
    if with_payments:  # A2 has no row: it paid nothing
        (folder / "支付明细.csv").write_text("项目编码,预算年度,支付日期,支付金额\nA1,2022,2022-05-20,60000\n", encoding="utf-8")
    return folder


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules.cli.main", *args], capture_output=True, text=True, timeout=300)


def _findings(proc: subprocess.CompletedProcess[str], project: str) -> list[str]:
    return [f["rule_id"] for f in json.loads(proc.stdout)["findings"] if f["project_id"] == project]


def test_m02_watch_lists_a_project_without_rows_in_a_supplied_payments_table(tmp_path):
    assert load_pack(RULES).rules["PF-M02-ZEROPAID"].watchlist  # M02's findings are the 重点关注台账
    export = _export(tmp_path / "export")
    after = _cli("check", str(export), "--as-of", "2022-11-15", "--format", "json", "--fail-on", "警告")
    assert after.returncode == 1, after.stderr
    assert "PF-M02-ZEROPAID" in _findings(after, "A2")
    assert "PF-M02-ZEROPAID" not in _findings(after, "A1")
    assert not [r for r in _findings(after, "A2") if r.startswith("PF-D03")]  # no "data missing" for A2
    before = _cli("check", str(export), "--as-of", "2022-10-30", "--format", "json", "--fail-on", "never")
    assert before.returncode == 0 and "PF-M02-ZEROPAID" not in _findings(before, "A2")


def test_nightly_counts_the_project_on_the_watch_list(tmp_path):
    export = _export(tmp_path / "export")
    proc = _cli("nightly", str(export), "--out", str(tmp_path / "run"), "--as-of", "2022-11-15", "--quiet", "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["watchlist_projects"] == 1
    assert summary["counts"]["by_rule"]["PF-M02-ZEROPAID"]["count"] == 1


def test_without_a_payments_table_m02_cannot_decide(tmp_path):
    # An absent table is missing data: reported once (PF-D03-ABSENT), never taken as "nothing paid".
    export = _export(tmp_path / "export", with_payments=False)
    proc = _cli("check", str(export), "--as-of", "2022-11-15", "--format", "json", "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    assert not [f for f in findings if f["rule_id"] == "PF-M02-ZEROPAID"]
    absent = [f for f in findings if f["rule_id"] == "PF-D03-ABSENT" and f["evidence"]["rule"] == "PF-M02-ZEROPAID"]
    assert len(absent) == 1 and "payments" in absent[0]["evidence"]["absent"]


def test_a_submission_with_payments_empty_is_watch_listed_on_both_paths(compiled):
    from perfrules.api import check_datasets
    from perfrules.evaluation.durable import available
    project = {"project_id": "S1", "fiscal_year": 2022, "amount": 100000, "execution": {"budget": 100000}, "payments": []}
    pack = load_pack(RULES)
    batch = check_datasets([submission_dataset([project], [], "s.json")], pack, "national", AS_OF)
    assert "PF-M02-ZEROPAID" in {f.rule_id for f in batch.findings}
    no_key = {k: v for k, v in project.items() if k != "payments"}
    missing = check_datasets([submission_dataset([no_key], [], "s.json")], pack, "national", AS_OF)
    assert "PF-M02-ZEROPAID" not in {f.rule_id for f in missing.findings}
    assert any(f.rule_id.startswith("PF-D03") and f.evidence.get("rule") == "PF-M02-ZEROPAID" for f in missing.findings)
    if available()[0]:
        from perfrules.evaluation.screening import Screener
        screener = Screener(pack=pack, profile="national")
        try:
            assert "PF-M02-ZEROPAID" in {f.rule_id for f in screener.screen(project, as_of=AS_OF).findings}
            assert "PF-M02-ZEROPAID" not in {f.rule_id for f in screener.screen(no_key, as_of=AS_OF).findings}
        finally:
            screener.close()
