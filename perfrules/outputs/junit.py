"""JUnit XML, the format CI systems (GitLab, Jenkins, GitHub's test reporters) read as test results.

``perfrules test --format junit``: one ``testcase`` per rule test case, a ``failure`` holding the
expected(-)/actual(+) difference when it fails. ``perfrules check --format junit``: one ``testcase``
per rule in force (and per data rule that found something); a rule's findings that reach
``--fail-on`` are its ``failure``, findings below it are listed in its ``system-out``, so the XML
fails exactly when the exit code is 1. The input notes go to the suite's ``system-out``.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from perfrules.authoring.rule_tests import CaseResult
from perfrules.evaluation.check import CheckResult
from perfrules.findings.model import Finding, severity_rank
from perfrules.rulepack.model import SEVERITIES

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    """Text XML 1.0 can hold (control characters are not allowed, even escaped)."""
    return _NOT_XML.sub("\ufffd", text)


def _document(suites: ET.Element) -> str:
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def cases_junit(results: Sequence[CaseResult], seconds: Sequence[float], lang: str = "zh") -> str:
    """The rule test cases' results: a test suite per test file, a testcase per case."""
    suites = ET.Element("testsuites", name="perfrules test", tests=str(len(results)),
                        failures=str(sum(not r.passed for r in results)), time=f"{sum(seconds):.3f}")
    by_file: dict[str, list[tuple[CaseResult, float]]] = {}
    for result, took in zip(results, seconds):
        by_file.setdefault(result.case.where.file or "tests", []).append((result, took))
    for file, items in by_file.items():
        suite = ET.SubElement(suites, "testsuite", name=Path(file).stem, file=file, tests=str(len(items)),
                              failures=str(sum(not r.passed for r, _ in items)), errors="0", skipped="0",
                              time=f"{sum(t for _, t in items):.3f}")
        for result, took in items:
            case = result.case
            testcase = ET.SubElement(suite, "testcase", name=_clean(case.name), classname=f"{Path(file).stem}.{case.profile}",
                                     file=file, line=str(case.where.line or 0), time=f"{took:.3f}")
            ET.SubElement(testcase, "properties").extend(
                [ET.Element("property", name="rules", value=", ".join(case.rules)),
                 ET.Element("property", name="profile", value=case.profile),
                 ET.Element("property", name="as_of", value=case.as_of.isoformat())])
            if not result.passed:
                message = "期望与实际的发现不同" if lang != "en" else "expected and actual findings differ"
                failure = ET.SubElement(testcase, "failure", message=message, type="findings")
                failure.text = _clean(result.diff())
    return _document(suites)


def _finding_line(f: Finding, lang: str) -> str:
    who = " ".join(str(x) for x in (f.department, f.project_id, f.fiscal_year) if x)
    where = f.location.get("file", "")
    if f.location.get("row"):
        where += f":{f.location['row']}"
    return f"[{f.severity}] {who}: {f.message}" + (f" ({where})" if where else "")


def check_junit(result: CheckResult, fail_on: str, lang: str = "zh", seconds: float | None = None) -> str:
    """A check's findings as test results: a testcase per rule, failing when its findings reach ``fail_on``."""
    threshold = len(SEVERITIES) - 1 if fail_on == "never" else SEVERITIES.index(fail_on)
    by_rule: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    rule_ids = list(dict.fromkeys([*result.rules_in_force, *by_rule]))
    failing = {r for r, found in by_rule.items()
               if fail_on != "never" and any(severity_rank(f.severity) <= threshold for f in found)}
    skipped = {e["rule"]: e["message"] for e in result.not_checked if e["rule"] not in by_rule}
    name = "perfrules check " + result.as_of.isoformat()
    suites = ET.Element("testsuites", name=name, tests=str(len(rule_ids)), failures=str(len(failing)),
                        time=f"{seconds or 0:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=name, tests=str(len(rule_ids)), failures=str(len(failing)), errors="0",
                          skipped=str(len(skipped)), time=f"{seconds or 0:.3f}", timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"))
    ET.SubElement(suite, "properties").extend(
        [ET.Element("property", name=k, value=str(v)) for k, v in
         (("as_of", ", ".join(d.isoformat() for d in result.as_of_dates)), ("profile", result.profile),
          ("pack_version", result.pack_version), ("fail_on", fail_on))])
    for rule_id in rule_ids:
        found = by_rule.get(rule_id, [])
        title = found[0].title if found else ""
        testcase = ET.SubElement(suite, "testcase", name=_clean(f"{rule_id} {title}".strip()), classname=f"perfrules.{rule_id}",
                                 time="0")
        reaching = [f for f in found if fail_on != "never" and severity_rank(f.severity) <= threshold]
        below = [f for f in found if f not in reaching]
        if reaching:
            worst = min((f.severity for f in reaching), key=severity_rank)
            message = (f"{len(reaching)} 项发现达到 {fail_on}" if lang != "en" else f"{len(reaching)} finding(s) at or above {fail_on}")
            failure = ET.SubElement(testcase, "failure", message=message, type=worst)
            failure.text = _clean("\n".join(_finding_line(f, lang) for f in reaching))
        if rule_id in skipped:  # not applicable to the input (a submission without departments)
            ET.SubElement(testcase, "skipped", message=_clean(skipped[rule_id]))
        if below:
            ET.SubElement(testcase, "system-out").text = _clean("\n".join(_finding_line(f, lang) for f in below))
    if result.errors:
        ET.SubElement(suite, "system-out").text = _clean("\n".join(
            f"{e.get('code', '')} {e.get('message', '')} ({e.get('source', '')})" for e in result.errors))
    return _document(suites)
