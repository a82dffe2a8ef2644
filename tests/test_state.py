"""The nightly run's state store: new / persisting / resolved, atomic commits, the lock, damaged state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from perfrules.nightly.state import Comparison, StateError, StateLocked, StateStore

ROOT = Path(__file__).resolve().parents[1]


def finding(key: str, rule_id: str = "R001", project_id: str | None = None, fiscal_year: int | None = 2022,
            department: str | None = "县水利局", severity: str = "警告") -> dict:
    return {"key": key, "rule_id": rule_id, "title": f"{rule_id} 的标题", "severity": severity,
            "project_id": project_id if project_id is not None else f"P-{key}", "fiscal_year": fiscal_year,
            "department": department}


def frame(*keys: str) -> pd.DataFrame:
    """Findings as the caller builds them: Arrow-backed strings with NA, Int64 fiscal years."""
    df = pd.DataFrame([finding(k) for k in keys],
                      columns=["key", "rule_id", "title", "severity", "project_id", "fiscal_year", "department"])
    for column in ["key", "rule_id", "title", "severity", "project_id", "department"]:
        df[column] = df[column].astype("string[pyarrow]")
    df["fiscal_year"] = df["fiscal_year"].astype("Int64")
    return df


def night(store: StateStore, findings: pd.DataFrame, run_date: str) -> Comparison:
    """One nightly run: compare and commit under the lock."""
    with store.lock():
        comparison = store.compare(findings, run_date)
        store.commit(comparison, {"run_date": run_date, "counts": comparison.counts})
    return comparison


def statuses(comparison: Comparison) -> dict[str, tuple[str, int]]:
    rows = comparison.findings
    return {k: (s, n) for k, s, n in zip(rows["key"], rows["status"], rows["nights"])}


def test_first_run_everything_is_new(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    assert (tmp_path / "state").is_dir()
    assert store.previous() is None and store.history() == []

    comparison = night(store, frame("a", "b", "c"), "2026-11-20")

    assert comparison.first_run and comparison.previous_run_date is None
    assert statuses(comparison) == {"a": ("new", 1), "b": ("new", 1), "c": ("new", 1)}
    assert comparison.counts == {"new": 3, "resolved": 0, "persisting": 0}
    assert comparison.resolved.empty and list(comparison.resolved.columns) == [
        "key", "rule_id", "title", "severity", "project_id", "fiscal_year", "department", "nights", "first_seen"]
    assert str(comparison.findings["status"].dtype) == "string" and str(comparison.findings["nights"].dtype) == "Int64"

    previous = store.previous()
    assert previous is not None and previous.run_date == "2026-11-20"
    assert previous.findings["key"].tolist() == ["a", "b", "c"]
    assert previous.findings["first_seen"].tolist() == ["2026-11-20"] * 3
    assert previous.findings["nights"].tolist() == [1, 1, 1]
    assert previous.findings["title"].tolist() == ["R001 的标题"] * 3
    assert store.history() == [{"run_date": "2026-11-20", "counts": {"new": 3, "resolved": 0, "persisting": 0}}]


def test_new_persisting_resolved_over_three_runs(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a", "b", "c"), "2026-11-20")

    second = night(store, frame("d", "a", "c"), "2026-11-21")  # b gone, d added
    assert not second.first_run and second.previous_run_date == "2026-11-20"
    assert second.findings["key"].tolist() == ["d", "a", "c"]  # input order kept
    assert statuses(second) == {"d": ("new", 1), "a": ("persisting", 2), "c": ("persisting", 2)}
    assert second.counts == {"new": 1, "resolved": 1, "persisting": 2}
    resolved = second.resolved.to_dict("records")
    assert resolved == [{"key": "b", "rule_id": "R001", "title": "R001 的标题", "severity": "警告", "project_id": "P-b",
                         "fiscal_year": 2022, "department": "县水利局", "nights": 1, "first_seen": "2026-11-20"}]

    third = night(store, frame("a", "c", "d", "b"), "2026-11-22")  # b reappears
    assert statuses(third) == {"a": ("persisting", 3), "c": ("persisting", 3), "d": ("persisting", 2), "b": ("new", 1)}
    assert third.counts == {"new": 1, "resolved": 0, "persisting": 3}
    state = store.previous().findings.set_index("key")
    assert state.loc["b", "first_seen"] == "2026-11-22" and state.loc["b", "nights"] == 1
    assert state.loc["a", "first_seen"] == "2026-11-20" and state.loc["a", "nights"] == 3
    assert state.loc["d", "first_seen"] == "2026-11-21"

    fourth = night(store, frame("c"), "2026-11-23")
    assert fourth.counts == {"new": 0, "resolved": 3, "persisting": 1}
    assert fourth.resolved.set_index("key")[["nights", "first_seen"]].to_dict("index") == {
        "a": {"nights": 3, "first_seen": "2026-11-20"}, "d": {"nights": 2, "first_seen": "2026-11-21"},
        "b": {"nights": 1, "first_seen": "2026-11-22"}}
    assert [h["run_date"] for h in store.history()] == ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]


def test_attributes_of_a_persisting_finding_are_tonights(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a"), "2026-11-20")
    tonight = frame("a")
    tonight["severity"] = pd.array(["阻断"], dtype="string")
    night(store, tonight, "2026-11-21")
    assert store.previous().findings[["severity", "nights", "first_seen"]].to_dict("records") == [
        {"severity": "阻断", "nights": 2, "first_seen": "2026-11-20"}]


def test_duplicate_keys_share_a_status_and_count_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a", "b"), "2026-11-20")

    comparison = night(store, frame("a", "c", "a", "c", "a"), "2026-11-21")

    assert comparison.findings["status"].tolist() == ["persisting", "new", "persisting", "new", "persisting"]
    assert comparison.findings["nights"].tolist() == [2, 1, 2, 1, 2]
    assert comparison.counts == {"new": 1, "resolved": 1, "persisting": 1}
    assert sorted(store.previous().findings["key"]) == ["a", "c"]


def test_missing_values_survive_the_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    findings = pd.DataFrame([finding("dept", project_id="", fiscal_year=None, department="县教育局")])
    findings["project_id"] = pd.array([pd.NA], dtype="string")
    findings["fiscal_year"] = pd.array([pd.NA], dtype="Int64")
    night(store, findings, "2026-11-20")
    gone = night(store, frame("x"), "2026-11-21").resolved
    assert gone["key"].tolist() == ["dept"]
    assert gone["project_id"].isna().tolist() == [True] and gone["fiscal_year"].isna().tolist() == [True]
    assert str(gone["fiscal_year"].dtype) == "Int64" and str(gone["project_id"].dtype) == "string"


def test_empty_night_resolves_everything(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a", "b"), "2026-11-20")
    comparison = night(store, frame(), "2026-11-21")
    assert comparison.counts == {"new": 0, "resolved": 2, "persisting": 0}
    assert store.previous().findings.empty


def test_failed_run_leaves_state_untouched(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a"), "2026-11-20")
    with store.lock():
        store.compare(frame("b"), "2026-11-21")  # the run then fails before commit
    assert store.previous().findings["key"].tolist() == ["a"]
    assert len(store.history()) == 1


def test_stale_comparison_is_refused(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a"), "2026-11-20")
    stale = store.compare(frame("b"), "2026-11-21")
    night(store, frame("c"), "2026-11-21")
    with pytest.raises(StateError) as raised:
        store.commit(stale, {})
    assert raised.value.code == "state.stale"
    assert store.previous().findings["key"].tolist() == ["c"]


def test_interrupted_commit_keeps_previous_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a", "b"), "2026-11-20")
    before = store.previous()
    pointer = (tmp_path / "CURRENT").read_text()

    def crash(*args: object) -> None:
        raise RuntimeError("simulated crash before the pointer switch")

    comparison = store.compare(frame("b", "c"), "2026-11-21")
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(RuntimeError, match="simulated crash"):
            store.commit(comparison, {"run_date": "2026-11-21"})

    assert (tmp_path / "CURRENT").read_text() == pointer
    after = StateStore(tmp_path).previous()
    pd.testing.assert_frame_equal(after.findings, before.findings)
    assert after.generation == before.generation and after.run_date == "2026-11-20"
    assert [h["run_date"] for h in StateStore(tmp_path).history()] == ["2026-11-20"]

    retried = night(store, frame("b", "c"), "2026-11-21")
    assert statuses(retried) == {"b": ("persisting", 2), "c": ("new", 1)}
    assert retried.counts == {"new": 1, "resolved": 1, "persisting": 1}
    assert [h["run_date"] for h in store.history()] == ["2026-11-20", "2026-11-21"]


CRASHING_COMMIT = """
import os, sys
import pandas as pd
from perfrules.nightly.state import StateStore
store = StateStore(sys.argv[1])
findings = pd.DataFrame({"key": ["b", "c"], "rule_id": "R001", "title": "t", "severity": "警告",
                         "project_id": ["P-b", "P-c"], "fiscal_year": [2022, 2022], "department": "县水利局"})
comparison = store.compare(findings, "2026-11-21")
os.replace = lambda *args: os._exit(3)  # the process dies just before the pointer switch: nothing cleans up
store.commit(comparison, {"run_date": "2026-11-21"})
"""


def test_process_killed_mid_commit_leaves_a_partial_generation_that_is_ignored(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a", "b"), "2026-11-20")
    before = store.previous()

    died = subprocess.run([sys.executable, "-c", CRASHING_COMMIT, str(tmp_path)], cwd=ROOT, timeout=60, check=False)
    assert died.returncode == 3
    generations = sorted(p.name for p in tmp_path.glob("gen-*"))
    assert generations == ["gen-000001", "gen-000002"]  # the dead run's generation is left behind
    (tmp_path / "gen-000003").mkdir()  # and an even earlier crash, right after creating its directory

    fresh = StateStore(tmp_path)
    pd.testing.assert_frame_equal(fresh.previous().findings, before.findings)
    assert [h["run_date"] for h in fresh.history()] == ["2026-11-20"]

    retried = night(fresh, frame("b", "c", "d"), "2026-11-21")
    assert statuses(retried) == {"b": ("persisting", 2), "c": ("new", 1), "d": ("new", 1)}
    assert (tmp_path / "CURRENT").read_text().strip() == "gen-000002"
    assert sorted(p.name for p in tmp_path.glob("gen-*")) == ["gen-000001", "gen-000002"]
    assert fresh.previous().findings["key"].tolist() == ["b", "c", "d"]
    assert [h["run_date"] for h in fresh.history()] == ["2026-11-20", "2026-11-21"]


def test_old_generations_are_removed_keeping_one_before(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    for day in range(20, 25):
        night(store, frame("a"), f"2026-11-{day}")
    assert sorted(p.name for p in tmp_path.glob("gen-*")) == ["gen-000004", "gen-000005"]
    assert (tmp_path / "CURRENT").read_text() == "gen-000005\n"
    assert store.previous().findings["nights"].tolist() == [5]
    assert len(store.history()) == 5


HOLD_LOCK = """
import sys, time
from pathlib import Path
from perfrules.nightly.state import StateStore
directory, ready, release = sys.argv[1:4]
with StateStore(directory).lock():
    Path(ready).write_text("held")
    deadline = time.monotonic() + 30
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
"""


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, "the lock holder exited early"
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.02)


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ready, release = tmp_path / "ready", tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(state), str(ready), str(release)], cwd=ROOT)
    try:
        wait_for(ready, holder)
        store = StateStore(state)
        with pytest.raises(StateLocked) as raised, store.lock():
            pytest.fail("the lock was granted twice")
        locked = raised.value
        assert locked.pid == holder.pid and locked.directory == state
        assert isinstance(locked, StateError) and locked.code == "state.locked"
        assert f"状态目录 {state} 正被另一个 perfrules nightly 运行占用（进程 {holder.pid}，开始于 {locked.started}）" in locked.zh
        assert "请等它结束后再运行" in locked.zh
        assert f"process {holder.pid}" in locked.en and str(state) in locked.en
        assert str(locked) == f"{locked.zh} ({locked.en})"
        assert locked.started[:4].isdigit() and "T" in locked.started
        # commit takes the lock too, so an unlocked caller cannot slip a commit in.
        with pytest.raises(StateLocked):
            store.commit(store.compare(frame("a"), "2026-11-20"), {})
        assert store.previous() is None
    finally:
        release.touch()
        holder.wait(timeout=30)
    assert holder.returncode == 0

    with store.lock():
        assert json.loads((state / "lock").read_text())["pid"] == os.getpid()
    assert (state / "lock").read_text() == ""


def test_lock_conflicts_between_two_stores_in_one_process(tmp_path: Path) -> None:
    first, second = StateStore(tmp_path), StateStore(tmp_path)
    with first.lock():
        with pytest.raises(StateLocked) as raised, second.lock():
            pass
        assert raised.value.pid == os.getpid()
        with first.lock():  # re-entrant for the holding store
            first.commit(first.compare(frame("a"), "2026-11-20"), {})
    with second.lock():
        assert second.previous().findings["key"].tolist() == ["a"]


def test_missing_generation_is_reported(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a"), "2026-11-20")
    (tmp_path / "CURRENT").write_text("gen-000099\n")
    with pytest.raises(StateError) as raised:
        store.previous()
    assert raised.value.code == "state.corrupt"
    assert str(tmp_path / "gen-000099") in raised.value.zh and str(tmp_path / "gen-000099") in raised.value.en
    assert f"mv {tmp_path} {tmp_path}.bad" in raised.value.zh and "move the directory aside" in raised.value.en


def test_unreadable_parquet_is_reported(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a"), "2026-11-20")
    parquet = tmp_path / "gen-000001" / "findings.parquet"
    parquet.write_bytes(parquet.read_bytes()[:100])
    with pytest.raises(StateError) as raised:
        StateStore(tmp_path).compare(frame("a"), "2026-11-21")
    assert raised.value.code == "state.corrupt"
    assert f"{parquet}：无法读取" in raised.value.zh and f"{parquet}: cannot be read" in raised.value.en
    assert "[state.corrupt]" in raised.value.text("zh")


def test_garbled_pointer_and_history_are_reported(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    night(store, frame("a"), "2026-11-20")
    history = tmp_path / "gen-000001" / "history.jsonl"
    history.write_text('{"run_date": "2026-11-20"}\n{not json\n', encoding="utf-8")
    with pytest.raises(StateError, match="line 2 is not valid JSON") as raised:
        store.history()
    assert str(history) in raised.value.en
    with pytest.raises(StateError, match="line 2"):
        store.commit(store.compare(frame("a"), "2026-11-21"), {})

    (tmp_path / "CURRENT").write_text("../elsewhere\n")
    with pytest.raises(StateError, match="is not a generation name") as raised:
        store.previous()
    assert str(tmp_path / "CURRENT") in raised.value.en


def test_unusable_directory_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateError) as raised:
        StateStore(blocker / "state")
    assert raised.value.code == "state.unusable" and str(blocker / "state") in raised.value.en


def test_compare_rejects_findings_without_keys(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with pytest.raises(ValueError, match="department"):
        store.compare(frame("a").drop(columns="department"), "2026-11-20")
    findings = frame("a", "b")
    findings.loc[1, "key"] = pd.NA
    with pytest.raises(ValueError, match="without a key"):
        store.compare(findings, "2026-11-20")
