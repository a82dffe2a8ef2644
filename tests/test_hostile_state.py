"""A damaged nightly state is found before the run spends its time on the export, and nothing is touched."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES

import perfrules.nightly.run as nightly
from perfrules.nightly.state import StateError

EXPORT = SAMPLES / "exports" / "county-2022"


def perfrules(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules", *args], capture_output=True, text=True, timeout=300)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def damage(state: Path, part: str) -> Path:
    """Damage one part of the committed generation; return the damaged file."""
    generation = state / (state / "CURRENT").read_text().strip()
    if part == "history":
        with open(generation / "history.jsonl", "a", encoding="utf-8") as fh:
            fh.write("{not json\n")
        return generation / "history.jsonl"
    findings = generation / "findings.parquet"
    findings.write_bytes(findings.read_bytes()[:100])
    return findings


@pytest.fixture(scope="module")
def first_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state and run directory after one night (copied by each test before it damages anything)."""
    base = tmp_path_factory.mktemp("night1")
    proc = perfrules("nightly", str(EXPORT), "--out", str(base / "run"), "--state", str(base / "state"), "--quiet")
    assert proc.returncode == 1, proc.stderr  # the sample export has blocking findings
    return base


@pytest.mark.parametrize("part", ["history", "findings"])
def test_a_damaged_state_exits_2_naming_the_file_and_leaves_run_and_state_as_they_were(
        first_night: Path, tmp_path: Path, part: str) -> None:
    shutil.copytree(first_night, tmp_path, dirs_exist_ok=True)
    state, run = tmp_path / "state", tmp_path / "run"
    damaged = damage(state, part)
    before_state, before_run = snapshot(state), snapshot(run)
    proc = perfrules("nightly", str(EXPORT), "--out", str(run), "--state", str(state), "--quiet", "--lang", "en")
    assert proc.returncode == 2
    assert "[state.corrupt]" in proc.stderr and str(damaged) in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert snapshot(state) == before_state and snapshot(run) == before_run


def test_the_state_is_validated_before_the_export_is_read(first_night: Path, tmp_path: Path) -> None:
    # An export that cannot be read and a damaged state: the state's problem is the one reported, as it is
    # found first (before this change the run read the export and reported that instead).
    shutil.copytree(first_night, tmp_path, dirs_exist_ok=True)
    empty_export = tmp_path / "export"
    empty_export.mkdir()
    damage(tmp_path / "state", "history")
    proc = perfrules("nightly", str(empty_export), "--out", str(tmp_path / "run"), "--state", str(tmp_path / "state"),
                     "--quiet", "--lang", "en")
    assert proc.returncode == 2
    assert "[state.corrupt]" in proc.stderr and "history.jsonl: line 2" in proc.stderr
    assert "[input.no-projects]" not in proc.stderr


def test_no_evaluation_time_is_spent_on_a_damaged_state(first_night: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(first_night, tmp_path, dirs_exist_ok=True)
    damage(tmp_path / "state", "findings")
    called: list[str] = []
    monkeypatch.setattr(nightly, "load_inputs", lambda *a, **k: called.append("load") or pytest.fail("export loaded"))
    monkeypatch.setattr(nightly, "check_datasets", lambda *a, **k: called.append("check") or pytest.fail("export checked"))
    with pytest.raises(StateError) as raised:
        nightly.run_nightly(EXPORT, tmp_path / "run", tmp_path / "state")
    assert raised.value.code == "state.corrupt" and "findings.parquet" in raised.value.zh
    assert called == []
