"""``nightly --workbook-max-rows``: the detail sheets of report.xlsx stop at N rows and say where the rest are."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from conftest import SAMPLES

EXPORT = SAMPLES / "exports" / "county-2022"


def nightly(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules.cli.main", "nightly", str(EXPORT), *args, "--quiet",
                           "--fail-on", "never"], capture_output=True, text=True, timeout=300)


def test_the_cap_limits_each_detail_sheet_and_the_note_points_to_the_csv(tmp_path: Path) -> None:
    run = nightly("--out", str(tmp_path / "run"), "--workbook-max-rows", "2")
    assert run.returncode == 0, run.stderr
    with open(tmp_path / "run" / "findings.csv", encoding="utf-8-sig", newline="") as fh:
        severities = [row["严重程度"] for row in csv.DictReader(fh)]
    book = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx", read_only=True)
    capped = 0
    for severity in ("阻断", "警告", "提示"):
        total = severities.count(severity)
        rows = list(book[severity].iter_rows(values_only=True))
        listed = [r for r in rows[2:] if any(v is not None for v in r)]
        assert len(listed) == min(total, 2)
        assert rows[0][0] == f"{severity}：共 {total:,} 条"
        if total > 2:
            capped += 1
            assert rows[0][3] == f"本表只列出前 2 条（共 {total:,} 条）；全部见同一运行目录中的 findings.csv。"
        else:
            assert rows[0][3] is None
    assert capped, "the sample run should have a severity with more than two findings"


def test_without_the_option_the_sheets_hold_up_to_5000_rows(tmp_path: Path) -> None:
    run = nightly("--out", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr
    with open(tmp_path / "run" / "findings.csv", encoding="utf-8-sig", newline="") as fh:
        warnings = sum(row["严重程度"] == "警告" for row in csv.DictReader(fh))
    rows = list(openpyxl.load_workbook(tmp_path / "run" / "report.xlsx", read_only=True)["警告"].iter_rows(values_only=True))
    assert 2 < warnings < 5000 and len([r for r in rows[2:] if any(v is not None for v in r)]) == warnings
    assert rows[0][3] is None


@pytest.mark.parametrize("value", ["0", "-3", "abc", "2.5", "1048575"])
def test_a_bad_cap_exits_2_naming_the_option_and_writes_nothing(tmp_path: Path, value: str) -> None:
    run = nightly("--out", str(tmp_path / "run"), "--workbook-max-rows", value)
    assert run.returncode == 2
    assert "--workbook-max-rows" in run.stderr and "须为 1 到 1,048,574 之间的整数" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "run").exists()


def test_the_help_explains_the_cap_with_an_example() -> None:
    run = subprocess.run([sys.executable, "-m", "perfrules.cli.main", "nightly", "--help"], capture_output=True, text=True)
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    assert "--workbook-max-rows N" in text and "--workbook-max-rows 20000" in text and "findings.csv" in text
