"""JUnit XML: ``perfrules test --format junit`` (a testcase per rule case) and ``check --format junit`` (per rule)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import RULES, SAMPLES


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules.cli.main", *args], capture_output=True, text=True, timeout=600)


def one_wrong_case(tmp_path: Path) -> Path:
    """The rules with only the D02 cases, the first of which now expects the wrong severity."""
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    for other in (copy / "tests").glob("*.yaml"):
        if other.name not in ("D02.yaml", "bases.yaml"):
            other.unlink()
    case = copy / "tests" / "D02.yaml"
    text = case.read_text(encoding="utf-8")
    case.write_text(text.replace("expect: [{severity: 阻断, evidence: {expense_category: 专项类}}]",
                                 "expect: [{severity: 提示, evidence: {expense_category: 专项类}}]", 1), encoding="utf-8")
    return copy


def test_rule_cases_as_junit(tmp_path: Path) -> None:
    rules = one_wrong_case(tmp_path)
    out = tmp_path / "cases.xml"
    done = cli("test", str(rules), "--format", "junit", "-o", str(out))
    assert done.returncode == 1 and done.stdout == ""
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures")) == ("4", "1")
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "D02" and suite.get("file", "").endswith("D02.yaml")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["支出类别不是三类之一", "人员类，不触发", "运转类，不触发", "支出类别缺失，报告数据问题"]
    assert [c.get("line") for c in cases] == ["3", "7", "11", "15"]
    failure = cases[0].find("failure")
    assert failure is not None and '- {"rule": "PF-D02-EXPENSECAT", "severity": "提示"' in (failure.text or "")
    assert '+ {"rule": "PF-D02-EXPENSECAT", "severity": "阻断"' in (failure.text or "")
    assert all(c.find("failure") is None for c in cases[1:])
    assert {p.get("name"): p.get("value") for p in cases[0].iter("property")}["rules"] == "PF-D02-EXPENSECAT"


def test_check_as_junit_fails_exactly_the_rules_that_reach_fail_on(tmp_path: Path) -> None:
    out = tmp_path / "check.xml"
    done = cli("check", str(SAMPLES / "exports" / "county-2022"), "--format", "junit", "-o", str(out), "--fail-on", "警告")
    assert done.returncode == 1
    root = ET.parse(out).getroot()
    cases = {c.get("classname", "").removeprefix("perfrules."): c for c in root.iter("testcase")}
    assert "PF-P01-NOGOAL" in cases and cases["PF-P01-NOGOAL"].find("failure") is not None
    assert cases["PF-P01-NOGOAL"].find("failure").get("type") == "阻断"  # type: ignore[union-attr]
    assert "GX-002" in (cases["PF-P01-NOGOAL"].find("failure").text or "")  # type: ignore[union-attr]
    midyear = cases["PF-M01-MIDYEAR"].find("failure")
    assert midyear is not None and midyear.get("message") == "5 项发现达到 警告"
    info = cases["PF-P10-GOODGRADE"]  # 提示 is below --fail-on 警告: listed, not failed
    assert info.find("failure") is None and "GX-006" in (info.findtext("system-out") or "")
    quiet = [c for c in cases.values() if c.find("failure") is None and c.find("system-out") is None]
    assert quiet and int(root.get("tests", 0)) == len(cases) >= 27
    assert int(root.get("failures", 0)) == sum(c.find("failure") is not None for c in cases.values())
    assert "monitoring" in (root.find("testsuite").findtext("system-out") or "")  # type: ignore[union-attr]
    done = cli("check", str(SAMPLES / "exports" / "county-2022"), "--format", "junit", "--fail-on", "never")
    assert done.returncode == 0 and ET.fromstring(done.stdout.encode()).get("failures") == "0"
