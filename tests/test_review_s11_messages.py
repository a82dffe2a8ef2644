"""Review session 11, ordinary user mistakes at the command line: each must be exit 2 with a Chinese-first line
naming the file and field. Each test showed a defect (found as an xfail, strict) that is now fixed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import RULES, SAMPLES

SUBMISSION = SAMPLES / "submissions" / "p01-no-goal.json"
CJK = re.compile(r"[\u4e00-\u9fff]")
QUOTED = re.compile(r"'[^']*'")


def perfrules(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules", *args], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, timeout=300)


@pytest.mark.parametrize("command", ["check", "nightly"])
def test_impossible_as_of_in_the_manifest_is_a_user_error(tmp_path, command):
    export = tmp_path / "county-2022"
    shutil.copytree(SAMPLES / "exports" / "county-2022", export)
    manifest = export / "manifest.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "as_of: 2022-10-31" in text
    manifest.write_text(text.replace("as_of: 2022-10-31", "as_of: 2022-02-30"), encoding="utf-8")
    extra = ["--out", str(tmp_path / "run")] if command == "nightly" else []

    proc = perfrules(command, str(export), *extra, cwd=tmp_path)

    assert proc.returncode == 2, proc.stderr
    assert "manifest.yaml" in proc.stderr and "as_of" in proc.stderr


@pytest.mark.parametrize("command", ["test", "lint"])
def test_impossible_as_of_in_a_rule_test_case_is_reported_with_its_file(tmp_path, command):
    rules = tmp_path / "my-rules"
    shutil.copytree(RULES, rules)
    cases = rules / "tests" / "P01-P02.yaml"
    text = cases.read_text(encoding="utf-8")
    assert "    rule: PF-P01-NOGOAL\n" in text
    cases.write_text(text.replace("    rule: PF-P01-NOGOAL\n", "    rule: PF-P01-NOGOAL\n    as_of: 2022-02-30\n", 1),
                     encoding="utf-8")

    proc = perfrules(command, str(rules), cwd=tmp_path)

    assert proc.returncode in (1, 2) and "internal" not in proc.stderr, proc.stderr  # lint: 1 (problems found); test: 2
    assert "P01-P02.yaml" in proc.stdout + proc.stderr


# (arguments, the user's own text in them, which the error may echo)
USAGE_MISTAKES = [
    pytest.param(["nightly", str(SAMPLES / "exports" / "county-2022")], "", id="nightly-without-out"),
    pytest.param(["check", str(SUBMISSION), "--fail-on", "严重"], "严重", id="check-fail-on-unknown-severity"),
    pytest.param(["check", str(SUBMISSION), "--format", "xlsx"], "xlsx", id="check-format-unknown"),
    pytest.param(["check", str(SUBMISSION), "-o", "."], ".", id="check-output-is-a-folder"),
    pytest.param(["decisions", "--verdict", "驳回"], "驳回", id="decisions-verdict-unknown"),
    pytest.param(["check", str(SUBMISSION), "--as-0f", "2022-10-31"], "--as-0f", id="check-misspelt-option"),
]


@pytest.mark.parametrize(("args", "echoed"), USAGE_MISTAKES)
def test_usage_mistakes_are_answered_in_chinese_first(tmp_path, args, echoed):
    proc = perfrules(*args, cwd=tmp_path)

    assert proc.returncode == 2, proc.stderr
    said = proc.stderr.replace(echoed, "") if echoed else proc.stderr
    error = [line for line in said.splitlines() if line.strip() and not line.startswith(("Usage:", "Try "))]
    # Quoted text is the user's value or the accepted choices (some of which are Chinese words): the sentence
    # around it is what must be Chinese.
    assert error and CJK.search(QUOTED.sub("", error[0])), proc.stderr


def test_a_missing_required_column_is_named_by_its_chinese_header(tmp_path):
    export = tmp_path / "county-2022"
    shutil.copytree(SAMPLES / "exports" / "county-2022", export)
    projects = export / "项目.csv"
    lines = projects.read_bytes().decode("gbk").splitlines()
    header = lines[0].split(",")
    assert header[2] == "预算年度"
    # drop the third column (no quoted commas before it in any row of this sample)
    kept = [",".join(line.split(",")[:2] + line.split(",")[3:]) for line in lines]
    projects.write_bytes(("\r\n".join(kept) + "\r\n").encode("gbk"))

    proc = perfrules("check", str(export), cwd=tmp_path)

    assert proc.returncode == 2, proc.stderr
    assert "预算年度" in proc.stderr and "['fiscal_year']" not in proc.stderr, proc.stderr
