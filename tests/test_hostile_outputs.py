"""Hostile use of the outputs: never destroy what is not ours, leave no half-written run, one error contract."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SAMPLES

import perfrules.nightly.run as nightly
from perfrules.cli.main import main
from perfrules.nightly.run import MARKER, OUTPUTS

EXPORT = SAMPLES / "exports" / "county-2022"
CLEAN = SAMPLES / "submissions" / "clean-project.json"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert not (result.exception and not isinstance(result.exception, SystemExit)), result.exception
    return result.exit_code, result.stdout + result.stderr


def copy_export(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(EXPORT, folder)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- nightly --out replaces only a perfrules run ----------------------------------------------------------

@pytest.mark.parametrize("where", ["export", "inside-export", "parent-of-export", "state", "inside-state", "parent-of-state"])
def test_nightly_refuses_an_out_that_is_the_input_or_the_state_or_their_kin(tmp_path: Path, where: str) -> None:
    export = copy_export(tmp_path / "data")
    state = tmp_path / "state"
    cli("nightly", str(export), "--out", str(tmp_path / "night1"), "--state", str(state), "--quiet")
    out = {"export": export, "inside-export": export / "run", "parent-of-export": export.parent,
           "state": state, "inside-state": state / "run", "parent-of-state": tmp_path}[where]
    before_export, before_state = snapshot(export), snapshot(state)
    code, text = cli("nightly", str(export), "--out", str(out), "--state", str(state), "--quiet", "--lang", "en")
    assert code == 2
    assert "[nightly.out-refused]" in text and len(text.strip().splitlines()) == 1
    assert snapshot(export) == before_export and snapshot(state) == before_state


def test_nightly_refuses_a_file_and_a_folder_of_other_files(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"\xff\xd8")
    for out in (a_file, folder):
        code, text = cli("nightly", str(EXPORT), "--out", str(out), "--quiet", "--lang", "en")
        assert code == 2 and "[nightly.out-refused]" in text
    assert a_file.read_text() == "mine" and [p.name for p in folder.iterdir()] == ["cat.jpg"]


def test_an_empty_folder_and_an_earlier_run_are_ours_to_fill(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    assert cli("nightly", str(EXPORT), "--out", str(out), "--quiet")[0] == 1
    marker = json.loads((out / MARKER).read_text())
    assert marker["tool"] == "perfrules" and marker["kind"] == "nightly-run"
    assert cli("nightly", str(EXPORT), "--out", str(out), "--quiet")[0] == 1
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUTS, MARKER])


# -- the state pointer ------------------------------------------------------------------------------------

def test_a_deleted_state_pointer_is_state_corrupt_and_nothing_is_pruned(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for night in ("night1", "night2"):
        cli("nightly", str(EXPORT), "--out", str(tmp_path / night), "--state", str(state), "--quiet")
    generations = sorted(p.name for p in state.iterdir() if p.name.startswith("gen-"))
    assert len(generations) == 2
    (state / "CURRENT").unlink()
    code, text = cli("nightly", str(EXPORT), "--out", str(tmp_path / "night3"), "--state", str(state), "--quiet", "--lang", "en")
    assert code == 2 and "[state.corrupt]" in text and "CURRENT" in text
    assert sorted(p.name for p in state.iterdir() if p.name.startswith("gen-")) == generations
    assert not (tmp_path / "night3").exists()


@pytest.mark.parametrize("line", ['{"finished": 5, "total": "x", "by_severity": []}', '[1, 2]', 'garbage{'])
def test_a_damaged_history_line_is_state_corrupt_not_a_crash(tmp_path: Path, line: str) -> None:
    state = tmp_path / "state"
    cli("nightly", str(EXPORT), "--out", str(tmp_path / "night1"), "--state", str(state), "--quiet")
    current = (state / "CURRENT").read_text().strip()
    with open(state / current / "history.jsonl", "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    code, text = cli("nightly", str(EXPORT), "--out", str(tmp_path / "night2"), "--state", str(state), "--quiet", "--lang", "en")
    assert code == 2 and "[state.corrupt]" in text and "history.jsonl: line 2" in text
    assert (state / "CURRENT").read_text().strip() == current and not (tmp_path / "night2").exists()


# -- crashes and leftovers ---------------------------------------------------------------------------------

def test_a_crash_between_the_two_renames_leaves_the_last_run_recoverable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    nightly.run_nightly(EXPORT, out)
    first = (out / "summary.json").read_bytes()
    # A file system without an atomic swap: the old run is moved aside, then the process "dies".
    monkeypatch.setattr(nightly, "exchange", lambda a, b: False)
    real_replace = os.replace

    def die_after_moving_the_old_run_aside(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        real_replace(src, dst)
        if Path(src) == out:
            raise KeyboardInterrupt  # killed between the renames
    monkeypatch.setattr(nightly.os, "replace", die_after_moving_the_old_run_aside)
    with pytest.raises(KeyboardInterrupt):
        nightly.run_nightly(EXPORT, out)
    monkeypatch.undo()
    assert not out.exists()  # the window the swap closes; the next run repairs it
    nightly.clean_leftovers(out)
    assert (out / "summary.json").read_bytes() == first
    assert [p.name for p in tmp_path.iterdir() if p.name != "index.html"] == ["run"]  # index.html: the runs page


def test_with_an_atomic_swap_the_last_run_never_leaves_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    nightly.run_nightly(EXPORT, out)
    seen: list[bool] = []
    real_exchange = nightly.exchange

    def watch(a: Path, b: Path) -> bool:
        seen.append(b.is_dir())
        done = real_exchange(a, b)
        seen.append(b.is_dir())
        return done
    monkeypatch.setattr(nightly, "exchange", watch)
    nightly.run_nightly(EXPORT, out)
    assert seen == [True, True]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "index.html") == ["run"]  # index.html: the runs page


def test_leftovers_of_a_killed_run_are_removed_by_the_next_run(tmp_path: Path) -> None:
    script = ("import sys, perfrules.nightly.run as n\n"
              "n.write_html = lambda *a, **k: (print('writing', flush=True), __import__('time').sleep(60))\n"
              f"n.run_nightly({str(EXPORT)!r}, {str(tmp_path / 'run')!r})\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".run.tmp-")]
        assert len(leftovers) == 1
        nightly.clean_leftovers(tmp_path / "run")  # its writer is alive: left alone
        assert leftovers[0].exists()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert cli("nightly", str(EXPORT), "--out", str(tmp_path / "run"), "--quiet")[0] == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "index.html") == ["run"]  # index.html: the runs page


# -- check --output ------------------------------------------------------------------------------------------

def test_check_output_is_0644_and_replaces_only_regular_files(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = tmp_path / "report.json"
        assert cli("check", str(CLEAN), "--format", "json", "-o", str(out))[0] == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        fifo = tmp_path / "pipe.json"
        os.mkfifo(fifo)
        code, text = cli("check", str(CLEAN), "--format", "json", "-o", str(fifo), "--lang", "en")
        assert code == 2 and "[output.not-regular]" in text and "FIFO" in text
        assert stat.S_ISFIFO(fifo.lstat().st_mode)
    finally:
        os.umask(old)


def test_an_unwritable_output_is_exit_2_with_one_line(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be")
    code, text = cli("check", str(CLEAN), "-o", str(blocked / "out.json"), "--lang", "en")
    assert code == 2 and "[output.write-failed]" in text and str(blocked) in text
    assert len(text.strip().splitlines()) == 1


# -- exit 3: a defect, never mistaken for findings -------------------------------------------------------------

def test_an_unexpected_exception_is_exit_3_with_the_traceback_only_under_debug(tmp_path: Path) -> None:
    script = ("import sys\n"
              "def boom(*a, **k): raise ZeroDivisionError('a bug')\n"
              "import perfrules.cli.checking as c; c.check_paths = boom\n"
              "from perfrules.cli.main import main\n"
              "sys.argv = ['perfrules'] + sys.argv[1:]\n"
              "main()\n")
    plain = subprocess.run([sys.executable, "-c", script, "check", str(CLEAN), "--lang", "en"], capture_output=True, text=True,
                           cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert plain.returncode == 3
    assert "Traceback" not in plain.stderr and "internal error (ZeroDivisionError: a bug)" in plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1 and not list(tmp_path.glob("perfrules-*.log"))
    debug = subprocess.run([sys.executable, "-c", script, "--debug", "check", str(CLEAN), "--lang", "en"], capture_output=True,
                           text=True, cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert debug.returncode == 3 and "Traceback" not in debug.stderr
    logs = list(tmp_path.glob("perfrules-*.log"))
    assert len(logs) == 1 and str(logs[0]) in debug.stderr
    assert "Traceback" in logs[0].read_text() and "ZeroDivisionError: a bug" in logs[0].read_text()
