"""Review session 11, users of the outputs: files perfrules did not create must survive `notices --out` and
`check -o`, and a rewritten notices folder stays readable and whole. Each test showed a defect (found as an
xfail, strict) that is now fixed."""

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


@pytest.fixture(scope="module")
def nightly_run(tmp_path_factory) -> Path:
    """A finished nightly run of the county sample (7 departments with notices)."""
    base = tmp_path_factory.mktemp("s11-run")
    proc = perfrules("nightly", str(COUNTY), "--out", str(base / "runs" / "r1"), "--quiet", cwd=base)
    assert proc.returncode == 1, proc.stderr  # the sample has 阻断 findings
    run = base / "runs" / "r1"
    assert len(list((run / "notices").glob("*.pdf"))) == 7
    return run


def fresh_run(nightly_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "r1"
    shutil.copytree(nightly_run, run)
    return run


def test_notices_out_keeps_a_folder_of_other_files(nightly_run, tmp_path):
    run = fresh_run(nightly_run, tmp_path)
    mine = tmp_path / "县水利局资料"
    mine.mkdir()
    (mine / "会议纪要.docx").write_bytes(b"minutes of the meeting")

    proc = perfrules("notices", str(run), "--out", str(mine), "--no-pdf", cwd=tmp_path)

    assert (mine / "会议纪要.docx").exists(), f"exit {proc.returncode}; the folder now holds {sorted(p.name for p in mine.iterdir())}"
    assert proc.returncode == 2


def test_notices_out_does_not_delete_the_export(nightly_run, tmp_path):
    run = fresh_run(nightly_run, tmp_path)
    export = tmp_path / "county-2022"
    shutil.copytree(COUNTY, export)
    tables = sorted(p.name for p in export.iterdir())

    perfrules("notices", str(run), "--out", str(export), "--no-pdf", cwd=tmp_path)

    assert [n for n in tables if not (export / n).exists()] == []


def test_check_output_refuses_its_own_input(tmp_path):
    sub = tmp_path / "p01-no-goal.json"
    shutil.copy(SAMPLES / "submissions" / "p01-no-goal.json", sub)
    before = sub.read_bytes()

    proc = perfrules("check", str(sub), "--format", "json", "-o", str(sub), cwd=tmp_path)

    assert sub.read_bytes() == before, f"exit {proc.returncode}: the input now starts {sub.read_bytes()[:60]!r}"
    assert proc.returncode == 2


def test_check_output_refuses_a_table_of_its_input_export(tmp_path):
    export = tmp_path / "county-2022"
    shutil.copytree(COUNTY, export)
    projects = export / "项目.csv"
    before = projects.read_bytes()

    proc = perfrules("check", str(export), "--format", "csv", "-o", str(projects), cwd=tmp_path)

    assert projects.read_bytes() == before, f"exit {proc.returncode}"
    assert proc.returncode == 2


def test_rewritten_notices_folder_stays_readable(nightly_run, tmp_path):
    run = fresh_run(nightly_run, tmp_path)
    as_nightly_wrote_it = (run / "notices").stat().st_mode & 0o777
    assert as_nightly_wrote_it & 0o005 == 0o005  # others may read and enter it (umask 022 gives 0755)

    proc = perfrules("notices", str(run), "--no-pdf", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

    assert oct((run / "notices").stat().st_mode & 0o777) == oct(as_nightly_wrote_it)


def test_notices_for_one_department_keeps_the_others(nightly_run, tmp_path):
    run = fresh_run(nightly_run, tmp_path)
    before = sorted(p.name for p in (run / "notices").iterdir())
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["by_department"].get("县水利局")

    proc = perfrules("notices", str(run), "--department", "县水利局", "--no-pdf", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

    after = sorted(p.name for p in (run / "notices").iterdir())
    assert [n for n in before if n not in after] == []


def test_junit_output_refuses_a_file_of_the_rules_it_tests(tmp_path):
    from conftest import RULES

    rules = tmp_path / "my-rules"
    shutil.copytree(RULES, rules)
    cases = rules / "tests" / "D02.yaml"
    for other in (rules / "tests").glob("*.yaml"):
        if other.name not in (cases.name, "bases.yaml"):
            other.unlink()  # D02's few cases are enough, and fast
    before = cases.read_bytes()

    proc = perfrules("test", str(rules), "--format", "junit", "-o", str(cases), cwd=tmp_path)

    assert cases.read_bytes() == before, f"exit {proc.returncode}: the file now starts {cases.read_bytes()[:40]!r}"
    assert proc.returncode == 2
