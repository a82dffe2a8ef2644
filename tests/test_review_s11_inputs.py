"""Review session 11, inputs as they come: a GBK export with its header row repeated, and a submission with
nothing in it. Each test shows a defect of today (xfail, strict): it passes while the defect is there and
fails once it is fixed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES

COUNTY = SAMPLES / "exports" / "county-2022"


def perfrules(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules", *args], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, timeout=300)


def test_a_repeated_header_row_is_noted_not_checked_as_a_project(tmp_path):
    export = tmp_path / "county-2022"
    shutil.copytree(COUNTY, export)
    projects = export / "项目.csv"
    lines = projects.read_bytes().decode("gbk").splitlines()
    header = lines[0]
    assert header.startswith("项目编码,")
    projects.write_bytes(("\r\n".join(lines[:5] + [header] + lines[5:]) + "\r\n").encode("gbk"))

    proc = perfrules("check", str(export), "--format", "json", cwd=tmp_path)
    result = json.loads(proc.stdout)

    assert result["summary"]["rows"]["projects"] == {"read": 9, "checked": 8, "noted": 1}
    assert [f["rule_id"] for f in result["findings"] if f["project_id"] == "项目编码"] == []


@pytest.mark.xfail(strict=True, reason="screening a submission with no project and no department gives 通过 (exit 0) "
                                       "— a pre-approval verdict about nothing; the service answers it 200 pass too")
def test_screening_nothing_is_not_a_pass(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"as_of": "2022-11-15", "projects": []}), encoding="utf-8")

    proc = perfrules("screen", str(empty), "--format", "json", cwd=tmp_path)

    assert proc.returncode == 2 and "通过" not in proc.stdout, proc.stdout[:300]
