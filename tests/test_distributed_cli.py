"""``perfrules partition`` and ``--engine dask`` as people run them: the command in its own process, exit codes,
messages, and the files it leaves (or does not leave)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES

distributed = pytest.importorskip("distributed")

COUNTY = SAMPLES / "exports" / "county-2022"
QITAI = SAMPLES / "exports" / "qitai-2022"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "perfrules.cli.main", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture(scope="module")
def county_parts(tmp_path_factory) -> Path:
    """The county export partitioned in 3 (read-only for the tests that share it)."""
    out = tmp_path_factory.mktemp("parts") / "county"
    assert cli("partition", str(COUNTY), "--out", str(out), "-n", "3", "-q").returncode == 0
    return out


@pytest.fixture(scope="module")
def scheduler():
    """A running two-worker cluster's scheduler address (as `dask scheduler` / `dask worker` would give)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                                  scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}) as cluster:
        yield cluster.scheduler_address


def test_partition_then_check_gives_the_export_s_own_findings(tmp_path: Path) -> None:
    done = cli("partition", str(COUNTY), "--out", str(tmp_path / "p"), "--partitions", "4")
    assert done.returncode == 0, done.stderr
    assert "4 个分区" in done.stderr and "projects 8" in done.stderr and "数据说明 2 条" in done.stderr
    assert json.loads((tmp_path / "p" / "manifest.json").read_text(encoding="utf-8"))["partitions"] == 4
    whole = cli("check", str(COUNTY), "--format", "json")
    parts = cli("check", str(tmp_path / "p"), "--format", "json")
    assert (parts.returncode, parts.stdout) == (whole.returncode, whole.stdout) and whole.returncode == 1
    assert len(json.loads(whole.stdout)["findings"]) == 21


def test_check_on_an_existing_cluster_by_its_scheduler_address(tmp_path: Path, scheduler: str) -> None:
    for export, n in ((COUNTY, 3), (QITAI, 2)):
        assert cli("partition", str(export), "--out", str(tmp_path / export.name), "-n", str(n), "-q").returncode == 0
    whole = cli("check", str(COUNTY), str(QITAI), "--format", "json", "--lang", "en")
    dask = cli("check", str(tmp_path / COUNTY.name), str(tmp_path / QITAI.name), "--format", "json", "--lang", "en",
               "--engine", "dask", "--scheduler", scheduler)
    assert dask.returncode == whole.returncode == 1, dask.stderr
    # each finding names its input (the export folder on one machine, its partitioned dataset on the cluster);
    # notes name the export the partitions were made from, on both
    on_one, on_dask = json.loads(whole.stdout), json.loads(dask.stdout)
    assert (on_dask["summary"], on_dask["errors"]) == (on_one["summary"], on_one["errors"])
    renamed = json.dumps(on_one["findings"], ensure_ascii=False).replace(str(COUNTY), str(tmp_path / COUNTY.name))
    assert on_dask["findings"] == json.loads(renamed.replace(str(QITAI), str(tmp_path / QITAI.name)))


def test_nightly_with_a_local_cluster_of_two_workers(tmp_path: Path, county_parts: Path) -> None:
    one = cli("nightly", str(COUNTY), "--out", str(tmp_path / "one"), "--state", str(tmp_path / "s1"), "--quiet")
    dask = cli("nightly", str(county_parts), "--out", str(tmp_path / "dask"), "--state", str(tmp_path / "s2"),
               "--engine", "dask", "--workers", "2", "--memory-limit", "2GB")
    assert one.returncode == dask.returncode == 1, dask.stderr
    assert "8 个项目，发现 21 项" in dask.stderr
    for name in ("findings.jsonl", "findings.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
    summary = json.loads((tmp_path / "dask" / "summary.json").read_text(encoding="utf-8"))
    assert summary["engine"]["workers"] == 2 and summary["engine"]["memory_limit"] == 2_000_000_000
    assert len(summary["engine"]["worker_peak_rss"]) == 2 and all(v > 0 for v in summary["engine"]["worker_peak_rss"].values())
    assert sorted(p.name for p in (tmp_path / "dask").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


def test_on_a_terminal_the_nightly_progress_bar_follows_the_partitions(tmp_path: Path, county_parts: Path) -> None:
    import pty
    import select
    import time
    leader, follower = pty.openpty()  # stderr a terminal, as when someone runs nightly by hand
    proc = subprocess.Popen([sys.executable, "-m", "perfrules.cli.main", "nightly", str(county_parts), "--out", str(tmp_path / "run"),
                             "--engine", "dask", "--workers", "1"], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    shown, deadline = b"", time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 1)[0]:
                continue
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: every process holding the terminal has ended
                break
            if not data:
                break
            shown += data
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    assert proc.returncode == 1
    text = shown.decode("utf-8", errors="replace")
    bars = [text.index(f"分区 {k}/3") for k in range(4)]
    assert bars == sorted(bars) and "2/4 检查" in text and "4/4 写出报告" in text


def test_without_dask_the_engine_exits_2_saying_how_to_install_it(tmp_path: Path, county_parts: Path) -> None:
    shadow = tmp_path / "shadow"
    for name in ("dask", "distributed"):
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text("raise ImportError('no ' + __name__)\n")
    for command in (["check", str(county_parts)], ["nightly", str(county_parts), "--out", str(tmp_path / "run")]):
        done = cli(*command, "--engine", "dask", env={"PYTHONPATH": str(shadow)})
        assert done.returncode == 2
        assert "pip install 'perfrules[dask]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "says"), [
    (["--workers", "2"], "go with --engine dask"),
    (["--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"], "--scheduler connects to an existing cluster"),
    (["--engine", "dask", "--memory-limit", "lots"], "cannot read the memory limit 'lots'"),
    (["--engine", "dask", "--workers", "0"], "--workers must be at least 1"),
])
def test_engine_options_that_cannot_work_exit_2(county_parts: Path, args: list[str], says: str) -> None:
    done = cli("check", str(county_parts), "--lang", "en", *args)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr


def test_the_dask_engine_on_an_export_that_was_not_partitioned_says_to_partition_it() -> None:
    done = cli("check", str(COUNTY), "--engine", "dask", "--workers", "1")
    assert done.returncode == 2
    assert "不是分区数据集" in done.stderr and f"perfrules partition {COUNTY} --out DIR --partitions N" in done.stderr


def test_partition_mistakes_exit_2_and_leave_nothing_half_written(tmp_path: Path) -> None:
    zero = cli("partition", str(COUNTY), "--out", str(tmp_path / "p"), "-n", "0", "--lang", "en")
    assert zero.returncode == 2 and "the partition count must be 1 to 100000, got 0" in zero.stderr
    assert not list(tmp_path.iterdir())
    missing = cli("partition", str(tmp_path / "nowhere"), "--out", str(tmp_path / "p"), "-n", "2", "--lang", "en")
    assert missing.returncode == 2 and "is not an export folder" in missing.stderr
    other = tmp_path / "someone-elses"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    refused = cli("partition", str(COUNTY), "--out", str(other), "-n", "2", "--lang", "en")
    assert refused.returncode == 2 and "is not a partitioned dataset; it is not overwritten" in refused.stderr
    assert [p.name for p in other.iterdir()] == ["keep.txt"]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "项目.csv").write_text("项目编码,项目名称\nA,甲\n", encoding="utf-8")
    (broken / "绩效评价.parquet").write_bytes(b"PAR1 but not parquet")
    bad = cli("partition", str(broken), "--out", str(tmp_path / "q"), "-n", "2", "--lang", "en")
    assert bad.returncode == 2 and "绩效评价.parquet" in bad.stderr and "cannot read file" in bad.stderr
    assert not (tmp_path / "q").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".q.tmp")]


def test_partitioning_again_replaces_the_dataset_whole(tmp_path: Path) -> None:
    assert cli("partition", str(COUNTY), "--out", str(tmp_path / "p"), "-n", "5", "-q").returncode == 0
    assert cli("partition", str(QITAI), "--out", str(tmp_path / "p"), "-n", "2", "-q").returncode == 0
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["partitions"] == 2 and manifest["exports"] == [str(QITAI)]
    assert sorted(p.name for p in (tmp_path / "p" / "projects").iterdir()) == ["part-00000-0000.parquet", "part-00001-0000.parquet"]


def test_an_export_with_related_rows_and_no_project_notes_every_row_on_both_engines(tmp_path: Path) -> None:
    # Related rows of no project (the projects table has its header only): each row is named in a note, the
    # run has no finding and exits 0, single-process and on the cluster alike (issue 18: once an IndexError).
    export = tmp_path / "orphans"
    export.mkdir()
    (export / "项目.csv").write_text("项目编码,预算年度,项目名称,主管部门\n", encoding="utf-8")
    (export / "支付明细.csv").write_text("项目编码,预算年度,支付日期,支付金额\nP1,2022,2022-03-01,100\nP2,2022,2022-04-01,50\n", encoding="utf-8")
    (export / "绩效指标.csv").write_text("项目编码,预算年度,一级指标,二级指标,指标名称,指标值,目标值,计量单位\n"
                                        "P1,2022,产出指标,数量指标,完成数量,≥1项,1,项\n", encoding="utf-8")
    assert cli("partition", str(export), "--out", str(tmp_path / "p"), "-n", "3", "-q").returncode == 0
    one = cli("check", str(export), "--format", "json", "--lang", "en")
    dask = cli("check", str(tmp_path / "p"), "--format", "json", "--lang", "en", "--engine", "dask", "--workers", "1")
    assert one.returncode == dask.returncode == 0, (one.stderr, dask.stderr)
    on_one, on_dask = json.loads(one.stdout), json.loads(dask.stdout)
    assert on_one["findings"] == on_dask["findings"] == []
    assert on_one["errors"] == on_dask["errors"]
    unplaced = [e for e in on_one["errors"] if e["code"] == "input.set-aside.unknown-project"]
    assert [e["source"] for e in unplaced] == ["绩效指标.csv", "支付明细.csv"]
    assert "2 payments row(s) set aside" in unplaced[1]["message"] and "row(s) 2-3" in unplaced[1]["message"]
    night = cli("nightly", str(tmp_path / "p"), "--out", str(tmp_path / "run"), "--engine", "dask", "--workers", "1", "--quiet")
    assert night.returncode == 0, night.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["total"] == 0 and summary["rows"]["payments"] == {"read": 2, "checked": 0, "noted": 2}


def test_partition_reads_another_system_s_export_through_a_column_map(tmp_path: Path) -> None:
    # The FASP2 sample without the map: its manifest's map: line removed, so only --map says how it reads.
    export = tmp_path / "fasp2"
    shutil.copytree(SAMPLES / "exports" / "fasp2-2022", export)
    manifest = export / "manifest.yaml"
    manifest.write_text("".join(line for line in manifest.read_text(encoding="utf-8").splitlines(keepends=True)
                                if not line.startswith("map:")), encoding="utf-8")
    unmapped = cli("partition", str(export), "--out", str(tmp_path / "bare"), "-n", "2", "--lang", "en")
    assert unmapped.returncode == 2 and "has no projects table" in unmapped.stderr
    done = cli("partition", str(export), "--map", "fasp2", "--out", str(tmp_path / "p"), "-n", "3")
    assert done.returncode == 0, done.stderr
    whole = cli("check", str(export), "--map", "fasp2", "--format", "json", "--lang", "en")
    dask = cli("check", str(tmp_path / "p"), "--format", "json", "--lang", "en", "--engine", "dask", "--workers", "1")
    assert dask.returncode == whole.returncode == 1, dask.stderr
    assert json.loads(dask.stdout) == json.loads(whole.stdout)
    assert json.loads(whole.stdout)["summary"]["records"]["projects"] == 7 and json.loads(whole.stdout)["summary"]["profile"] == "qitai"
    wrong = cli("partition", str(export), "--map", "no-such-map", "--out", str(tmp_path / "q"), "-n", "2", "--lang", "en")
    assert wrong.returncode == 2 and "no-such-map" in wrong.stderr and "Traceback" not in wrong.stderr
    assert not (tmp_path / "q").exists()
