"""A severity that cannot be decided (policy catalogue round 2): P08 fires for a 差 grade, and its 阻断 escalation
needs the prior-year amount. Without it P08 fires at its base severity (警告) AND a D03 finding names the
missing value; a whole export without the column gets one PF-D03-ABSENT. Through the CLI, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEADER = "项目编码,项目名称,预算年度,主管部门,申请金额,上年预算金额,是否新增,上年评价等级\n"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules.cli.main", *args], capture_output=True, text=True, timeout=300)


def _check(export: Path, fail_on: str = "never") -> tuple[int, list[dict]]:
    proc = _cli("check", str(export), "--as-of", "2022-03-01", "--format", "json", "--fail-on", fail_on)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)["findings"]


def _about_p08(findings: list[dict], project: str | None) -> list[tuple[str, str, dict]]:
    return sorted((f["rule_id"], f["severity"], f["evidence"]) for f in findings
                  if f["project_id"] == project and (f["rule_id"] == "PF-P08-POORGRADE"
                                                     or f["evidence"].get("rule") == "PF-P08-POORGRADE"))


def test_a_blank_prior_year_amount_gives_the_base_severity_and_a_d03_naming_it(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "项目.csv").write_text(HEADER +
                                    "B1,项目甲,2022,县水利局,1200000,,否,差\n"           # no prior-year amount
                                    "B2,项目乙,2022,县水利局,1200000,1000000,否,差\n"    # not cut: 阻断
                                    "B3,项目丙,2022,县水利局,900000,1000000,否,差\n",    # cut: 警告, nothing missing
                                    encoding="utf-8")
    code, findings = _check(export)
    assert code == 0
    b1 = _about_p08(findings, "B1")
    assert [(rule, severity) for rule, severity, _ in b1] == [("PF-D03-MISSING", "警告"), ("PF-P08-POORGRADE", "警告")]
    d03 = next(f for f in findings if f["project_id"] == "B1" and f["rule_id"] == "PF-D03-MISSING")
    assert d03["evidence"] == {"rule": "PF-P08-POORGRADE", "missing": ["prior_year_amount"], "escalate": "阻断",
                               "headers": {"prior_year_amount": "上年预算金额"}}  # the file's own header
    assert "上年预算金额" in d03["message"] and "阻断" in d03["message"]
    assert [(r, s) for r, s, _ in _about_p08(findings, "B2")] == [("PF-P08-POORGRADE", "阻断")]
    assert [(r, s) for r, s, _ in _about_p08(findings, "B3")] == [("PF-P08-POORGRADE", "警告")]
    # the 警告 reaches --fail-on 警告: exit 1
    assert _check(export, fail_on="警告")[0] == 1


def test_an_export_without_the_prior_year_amount_column_reports_it_once(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "项目.csv").write_text("项目编码,项目名称,预算年度,主管部门,申请金额,是否新增,上年评价等级\n"
                                    "C1,项目甲,2022,县水利局,1200000,否,差\n"
                                    "C2,项目乙,2022,县水利局,1200000,否,差\n", encoding="utf-8")
    _, findings = _check(export)
    for project in ("C1", "C2"):
        assert [(r, s) for r, s, _ in _about_p08(findings, project)] == [("PF-P08-POORGRADE", "警告")]
    absent = [f for f in findings if f["rule_id"] == "PF-D03-ABSENT" and f["evidence"].get("rule") == "PF-P08-POORGRADE"]
    assert [f["evidence"] for f in absent] == [
        {"rule": "PF-P08-POORGRADE", "absent": ["projects.prior_year_amount"], "records": 2, "escalate": "阻断"}]
