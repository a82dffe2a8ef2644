"""Safe cells: a project name or department that looks like a formula stays text in every CSV and workbook.

The names come from the departments' data (untrusted). The test plants formula-like text in an export,
runs ``perfrules check --format csv`` and ``perfrules nightly`` as a user would, opens the outputs in
LibreOffice headless and asserts that Calc made no formula cell of any of them.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
from conftest import SAMPLES
from office import cells_as_calc_reads

from perfrules.outputs.cells import is_risky, safe_array, safe_text

EXPORT = SAMPLES / "exports" / "nanchang-gaoxin-2022"
LINK = '=HYPERLINK("http://example.invalid/","点我")'
PLANTED = {"项目名称": LINK, "主管部门": "@SUM(1+1)", "预算单位": "-2+3"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules.cli.main", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Nanchang export with formula-like text as every project's name, department and unit."""
    folder = tmp_path_factory.mktemp("planted") / "export"
    shutil.copytree(EXPORT, folder)
    path = folder / "项目.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    for row in rows[1:]:
        for header, value in PLANTED.items():
            row[rows[0].index(header)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    return folder


def test_the_rule_quotes_exactly_the_risky_starts() -> None:
    for text in ("=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", LINK):
        assert is_risky(text) and safe_text(text) == "'" + text
    for text in ("", "项目", "1-2", "a=b", " =1", "'=1"):
        assert not is_risky(text) and safe_text(text) == text
    assert safe_array(pa.array(["=1", None, "x", "@y"])).to_pylist() == ["'=1", None, "x", "'@y"]


def test_check_csv_keeps_formulas_as_text(planted: Path, tmp_path: Path) -> None:
    out = tmp_path / "check.csv"
    run = cli("check", str(planted), "--format", "csv", "--output", str(out), "--fail-on", "never")
    assert run.returncode == 0, run.stderr
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    department = rows[0].index("主管部门")
    assert "'@SUM(1+1)" in [r[department] for r in rows[1:]]
    cells = cells_as_calc_reads(out, tmp_path)
    assert [c for c in cells if c[3] == "f"] == []
    assert any(str(value).endswith("@SUM(1+1)") for _, _, value, _ in cells)


def test_nightly_csv_and_workbook_keep_formulas_as_text(planted: Path, tmp_path: Path) -> None:
    run = cli("nightly", str(planted), "--out", str(tmp_path / "run"), "--quiet", "--fail-on", "never")
    assert run.returncode == 0, run.stderr
    text = (tmp_path / "run" / "findings.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    names = [r[rows[0].index("项目名称")] for r in rows[1:]]
    assert "'" + LINK in names and LINK not in names
    for name in ("findings.csv", "report.xlsx"):
        cells = cells_as_calc_reads(tmp_path / "run" / name, tmp_path / name)
        assert [c for c in cells if c[3] == "f"] == [], name
        assert any(LINK in str(value) for _, _, value, _ in cells), name
    book = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")
    formulas = [(ws.title, c.coordinate) for ws in book.worksheets for row in ws.iter_rows() for c in row
                if c.data_type == "f"]
    assert formulas == []
