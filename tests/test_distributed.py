"""The Dask engine: partitioned datasets, and checks on a LocalCluster that equal the one-process result.

The clusters here are small and closed: worker processes on 127.0.0.1, no dashboard, shut down with
the module.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, SAMPLES

from perfrules.api import check_paths
from perfrules.distributed.layout import buckets, read_manifest
from perfrules.distributed.reader import load_partitioned
from perfrules.distributed.runner import DaskEngine, DaskOptions, check_partitioned, check_partitioned_paths
from perfrules.distributed.writer import partition_export
from perfrules.evaluation.check import CheckResult
from perfrules.inputs import load_input
from perfrules.inputs.dataset import ROW, SOURCE
from perfrules.language.fields import TABLES
from perfrules.nightly.run import Progress, run_nightly
from perfrules.rulepack.pack import default_rules_dir, load_pack

distributed = pytest.importorskip("distributed")

COUNTY = SAMPLES / "exports" / "county-2022"
SAMPLE_EXPORTS = sorted(p for p in (SAMPLES / "exports").iterdir() if p.is_dir())
PACK = load_pack(default_rules_dir())


def _cluster(workers: int):
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    return cluster, distributed.Client(cluster)


@pytest.fixture(scope="module")
def two_workers():
    cluster, client = _cluster(2)
    with cluster, client:
        yield client


@pytest.fixture(scope="module")
def one_worker():
    cluster, client = _cluster(1)
    with cluster, client:
        yield client


# ---- a messy export: several fiscal years, duplicates, bad values, orphans, a malformed line --------


def _suffixed(row: list, suffix: str) -> list:
    return [row[0] + suffix if row[0] else row[0], *row[1:]]


def messy_export(folder: Path, indicators: bool = True) -> Path:
    """The county export (GBK CSV with units and full-width digits, XLSX, Parquet; no monitoring or departments)
    grown to 48 projects over fiscal years 2021 and 2022, with a malformed line, a duplicate record, a record
    without a project id, orphan rows and unreadable cells."""
    shutil.copytree(COUNTY, folder)
    path = folder / "项目.csv"
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gbk"))))
    header, body = rows[0], rows[1:]
    col = {h: i for i, h in enumerate(header)}
    out = [header, *body]
    for k in range(1, 5):
        out += [_suffixed(r, f"-{k}") for r in body]
    for r in body[:5]:  # the same projects a year earlier
        earlier = list(r)
        earlier[col["预算年度"]] = "2021"
        earlier[col["申请金额(万元)"]] = "１０"
        out.append(earlier)
    out.append(list(body[0]))  # GX-001 twice in 2022
    nameless = list(body[1])
    nameless[col["项目编码"]] = ""
    out.append(nameless)
    bad = _suffixed(body[2], "-bad")
    bad[col["是否新增"]] = "也许"
    out.append(bad)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(out)
    text = buf.getvalue().split("\r\n")
    text.insert(6, "GX-MAL,只有三列,2022")  # a malformed line
    path.write_bytes("\r\n".join(text).encode("gbk"))

    ind = folder / "绩效指标.csv"
    if indicators:
        rows = list(csv.reader(io.StringIO(ind.read_text(encoding="utf-8-sig"))))
        body = rows[1:]
        grown = [rows[0], *body]
        for k in range(1, 5):
            grown += [_suffixed(r, f"-{k}") for r in body if not r[0].endswith("3")]
        grown += [[r[0], "2021", *r[2:]] for r in body[:4]]
        grown += [["GX-404", "2022", "产出指标", "数量指标", "完成数量", "≥1项", "一", "项"], ["", "2022", "产出指标", "数量指标", "x", "1", "1", "项"]]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows(grown)
        ind.write_text(buf.getvalue(), encoding="utf-8-sig")
    else:
        ind.unlink()

    book = openpyxl.load_workbook(folder / "支付明细.xlsx")
    sheet = book.active
    body = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    for k in range(1, 5):
        for r in body:
            sheet.append(_suffixed(r, f"-{k}"))
    sheet.append(["GX-005", 2021, "2021-05-01", "二十万"])
    book.save(folder / "支付明细.xlsx")

    table = pq.read_table(folder / "绩效评价.parquet")
    frame = table.to_pandas()
    grown = pd.concat([frame] + [frame.assign(项目编码=frame["项目编码"] + f"-{k}") for k in range(1, 5)], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(grown, preserve_index=False), folder / "绩效评价.parquet")
    return folder


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Path:
    return messy_export(tmp_path_factory.mktemp("messy") / "export")


@pytest.fixture(scope="module")
def messy_no_indicators(tmp_path_factory) -> Path:
    return messy_export(tmp_path_factory.mktemp("messy-b") / "export", indicators=False)


def assert_same(one: CheckResult, other: CheckResult) -> None:
    """Identical findings (every column, in order), notes, record counts, profiles and dates."""
    pd.testing.assert_frame_equal(one.table, other.table)
    assert one.errors == other.errors
    assert (one.records, one.profile, one.as_of_dates, one.rules_in_force, one.pack_version, one.sources) == \
        (other.records, other.profile, other.as_of_dates, other.rules_in_force, other.pack_version, other.sources)


_REFERENCE: dict[tuple, CheckResult] = {}


def reference(export: Path, **options) -> CheckResult:
    """The one-process result of an export (computed once per module)."""
    key = (export, tuple(sorted(options.items())))
    if key not in _REFERENCE:
        _REFERENCE[key] = check_paths([export], **options)
    return _REFERENCE[key]


def partitioned(export: Path, tmp_path: Path, n: int) -> Path:
    out = tmp_path / f"{export.name}-{n}"
    partition_export(export, out, n)
    return out


# ---- the partitioned dataset -------------------------------------------------------------------------


def test_the_messy_export_has_what_the_parity_tests_need(messy: Path) -> None:
    result = reference(messy)
    rules = set(result.table["rule_id"])
    codes = [e["code"] for e in result.errors]
    assert {"PF-D03-UNREADABLE", "PF-D03-MISSING", "PF-D03-ABSENT", "PF-P01-NOGOAL"} <= rules
    assert {"input.malformed-row", "input.duplicate-project", "input.absent-table"} <= set(codes)
    assert set(result.table["fiscal_year"].dropna()) == {2021, 2022}
    # 8 × 5 of 2022, 5 of 2021, the duplicate and the bad one; the nameless project is set aside with a note
    assert result.records["projects"] == 8 * 5 + 5 + 1 + 1
    assert "input.set-aside.blank-id" in codes


@pytest.mark.parametrize("export", SAMPLE_EXPORTS, ids=lambda p: p.name)
def test_one_partition_reads_back_exactly_what_the_loader_gave(export: Path, tmp_path: Path) -> None:
    loaded = load_input(export)[0]
    back = load_partitioned(partitioned(export, tmp_path, 1))
    for name, frame in loaded.tables.items():
        # A partition carries the data contract's columns; a source's unmapped columns (column maps pass them
        # through on one machine) are not written, and no rule can read them.
        contract = {c.name for c in TABLES[name].columns} | {SOURCE, ROW}
        assert set(frame.columns) - set(back.tables[name].columns) <= set(frame.columns) - contract
        pd.testing.assert_frame_equal(back.tables[name], frame[list(back.tables[name].columns)])
    assert (back.present, back.absent_columns, back.issues, back.notes, back.as_of) == \
        (loaded.present, loaded.absent_columns, loaded.issues, loaded.notes, loaded.as_of)


def test_every_row_of_a_project_is_in_its_partition_and_none_is_lost(messy: Path, tmp_path: Path) -> None:
    folder = partitioned(messy, tmp_path, 4)
    manifest = read_manifest(folder)
    assert (manifest.partitions, manifest.as_of) == (4, "2022-10-31")
    raw = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert raw["key"] == "project_id" and raw["format"] == "perfrules-partitioned-export"
    loaded = load_input(messy)[0]
    owners: dict[str, int] = {}
    for table in manifest.present:
        for i in range(4):
            files = sorted((folder / table).glob(f"part-{i:05d}-*.parquet"))
            frame = pq.read_table(files[0]).to_pandas()
            assert len(frame) == manifest.rows[table][i]
            for pid in frame["project_id"]:
                expected = 0 if pd.isna(pid) else int(buckets(pd.Series([pid], dtype="string"), 4)[0])
                assert i == expected and owners.setdefault(str(pid), i) == i
        assert manifest.total_rows(table) == len(loaded.frame(table))
    assert len({v for v in owners.values()}) == 4  # the projects do spread over the partitions
    assert sum(manifest.issues) == len(loaded.issues) and manifest.notes == [n.__dict__ for n in loaded.notes]


def test_the_bucket_of_an_id_is_the_same_in_every_process() -> None:
    ids = ["GX-001", "SIM-0000042", "项目-甲", "x"]
    here = buckets(pd.Series(ids, dtype="string"), 7).tolist()
    code = ("import pandas as pd; from perfrules.distributed.layout import buckets; "
            f"print(buckets(pd.Series({ids!r}, dtype='string'), 7).tolist())")
    for seed in ("0", "12345"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}, cwd=ROOT)
        assert json.loads(out.stdout) == here
    assert len(set(here)) > 1


def test_several_exports_written_as_pieces_of_one_dataset_keep_every_row_cell_and_note(tmp_path: Path) -> None:
    from perfrules.distributed.writer import writing_folder
    from perfrules.inputs.export import load_export

    qitai = SAMPLES / "exports" / "qitai-2022"
    pieces = [load_export(COUNTY), load_export(qitai)]
    with writing_folder(tmp_path / "both", 3) as writer:
        for piece in pieces:
            writer.add(piece)
        writer.finish([str(COUNTY), str(qitai)])
    both = load_partitioned(tmp_path / "both")
    assert read_manifest(tmp_path / "both").pieces == 2
    for table in ("projects", "indicators", "payments", "monitoring", "evaluations", "departments"):
        assert len(both.frame(table)) == sum(len(p.frame(table)) for p in pieces)
    assert sorted(both.frame("projects")["project_id"]) == sorted(pid for p in pieces for pid in p.frame("projects")["project_id"])
    assert len(both.issues) == sum(len(p.issues) for p in pieces) and both.notes == [n for p in pieces for n in p.notes]
    assert both.present == pieces[0].present | pieces[1].present


# ---- parity: one process, partitions in one process, and a LocalCluster of 1 and 2 workers ----------


@pytest.mark.parametrize("n", [3, 64])
def test_partitions_checked_one_by_one_equal_the_whole_export(messy: Path, messy_no_indicators: Path, tmp_path: Path, n: int) -> None:
    for export in [messy, messy_no_indicators, *SAMPLE_EXPORTS] if n < 64 else [messy]:
        whole = reference(export)
        folder = partitioned(export, tmp_path, n)
        assert_same(check_paths([folder]), whole)
        assert_same(check_partitioned(folder, PACK, None, None, "zh", None)[0], whole)
    en = reference(messy, lang="en")
    assert_same(check_partitioned(partitioned(messy, tmp_path / "en", 5), PACK, None, None, "en", None)[0], en)


def test_more_partitions_than_projects_leave_empty_partitions_and_the_same_result(messy: Path, tmp_path: Path, two_workers) -> None:
    folder = partitioned(messy, tmp_path, 80)
    assert read_manifest(folder).rows["projects"].count(0) >= 40
    assert_same(check_partitioned(folder, PACK, None, None, "zh", None, client=two_workers)[0], reference(messy))


@pytest.mark.parametrize("n", [2, 7])
def test_a_two_worker_cluster_gives_the_one_process_result(messy: Path, messy_no_indicators: Path, tmp_path: Path, two_workers, n: int) -> None:
    # (every sample export is compared partition by partition above; here the messy ones, and the samples
    # with departments, monitoring and jurisdictions)
    for export in [messy, messy_no_indicators, SAMPLES / "exports" / "qitai-2022", SAMPLES / "exports" / "sheyang-2022"]:
        folder = partitioned(export, tmp_path, n)
        result, _, info = check_partitioned(folder, PACK, None, None, "zh", None, client=two_workers)
        assert_same(result, reference(export))
        assert len(info.workers) == 2 and len(info.worker_peak_rss) == 2


def test_a_one_worker_cluster_gives_the_one_process_result(messy: Path, tmp_path: Path, one_worker) -> None:
    for export in [messy, SAMPLES / "exports" / "qitai-2022"]:
        result, _, info = check_partitioned(partitioned(export, tmp_path, 5), PACK, None, None, "zh", None, client=one_worker)
        assert_same(result, reference(export))
        assert len(info.workers) == 1


def test_a_profile_and_an_as_of_date_reach_every_partition(tmp_path: Path, two_workers) -> None:
    export = SAMPLES / "exports" / "sheyang-2022"
    folder = partitioned(export, tmp_path, 3)
    import datetime as dt
    when = dt.date(2022, 12, 31)
    for profile in ("national", "sheyang"):
        result = check_partitioned(folder, PACK, profile, when, "zh", None, client=two_workers)[0]
        assert_same(result, check_paths([export], profile=profile, as_of=when))


def test_an_orphan_row_s_unreadable_cell_is_reported_once_in_an_export_of_several_jurisdictions(tmp_path: Path) -> None:
    export = tmp_path / "two-places"
    shutil.copytree(SAMPLES / "exports" / "sheyang-2022", export)
    projects = export / "项目.csv"
    lines = projects.read_text(encoding="utf-8-sig").split("\n")
    lines.insert(2, lines[1].replace("SY-A01", "NX-001").replace(",sheyang,", ",,"))  # a national project beside sheyang's
    projects.write_text("\n".join(lines), encoding="utf-8-sig")
    with (export / "绩效指标.csv").open("a", encoding="utf-8") as f:
        f.write("ORPH-1,2022,产出指标,数量指标,完成数量,≥1项,abc,项\n")  # a row of no project, with an unreadable value
    whole = check_paths([export])
    assert whole.profile == "national, sheyang"
    [orphan] = [f for f in whole.findings if f.rule_id == "PF-D03-UNREADABLE"]
    assert orphan.project_id == "ORPH-1" and "'abc'" in orphan.message
    for n in (2, 3, 5):
        assert_same(check_partitioned(partitioned(export, tmp_path, n), PACK, None, None, "zh", None)[0], whole)


def test_check_of_several_partitioned_inputs_merges_them_as_check_does(messy: Path, tmp_path: Path, two_workers) -> None:
    qitai = SAMPLES / "exports" / "qitai-2022"
    merged = check_partitioned_paths([str(partitioned(messy, tmp_path, 3)), str(partitioned(qitai, tmp_path, 2))],
                                     None, None, None, "zh", DaskOptions(), client=two_workers)
    assert_same(merged, check_paths([messy, qitai]))


def test_a_worker_that_dies_mid_run_is_replaced_and_the_result_is_the_same(messy: Path, tmp_path: Path, two_workers) -> None:
    folder = partitioned(messy, tmp_path, 24)
    victim = sorted(two_workers.run(os.getpid).values())[0]
    killed = []

    def kill_once(done: int, n: int) -> None:  # kill -9 one worker process once two partitions are in
        if done == 2 and not killed:
            killed.append(victim)
            os.kill(victim, signal.SIGKILL)

    result = check_partitioned(folder, PACK, None, None, "zh", None, kill_once, client=two_workers)[0]
    assert killed
    assert_same(result, reference(messy))
    two_workers.wait_for_workers(2, timeout=60)
    assert victim not in two_workers.run(os.getpid).values()  # the nanny started a new worker in its place


# ---- nightly on the cluster: outputs, state, progress, failures ------------------------------------------


def test_nightly_on_the_cluster_writes_the_same_outputs_and_state_changes(messy: Path, tmp_path: Path, two_workers) -> None:
    folder = partitioned(messy, tmp_path, 3)
    one = run_nightly(messy, tmp_path / "one", tmp_path / "state-one")
    screen = io.StringIO()
    dask = run_nightly(folder, tmp_path / "dask", tmp_path / "state-dask", progress=Progress(screen),
                       engine=DaskEngine(DaskOptions(), client=two_workers))
    for name in ("findings.jsonl", "findings.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
    a, b = (json.loads((tmp_path / d / "summary.json").read_text(encoding="utf-8")) for d in ("one", "dask"))
    for key in ("inputs", "counts", "changes", "errors"):
        assert a[key] == b[key]
    assert {k: v for k, v in a["run"].items() if k not in ("started", "finished", "export")} == \
        {k: v for k, v in b["run"].items() if k not in ("started", "finished", "export")}
    assert b["engine"]["partitions"] == 3 and b["engine"]["workers"] == 2 and "engine" not in a
    assert b["engine"]["findings_staged"] is True and not (folder / "_staging").exists()
    assert (one.exit_code, a["changes"]["new"]) == (dask.exit_code, a["counts"]["total"])
    shown = screen.getvalue()
    assert "分区 0/3" in shown and "分区 3/3" in shown and "4/4 写出报告" in shown
    # a second night on both: the same findings persist on both sides
    run_nightly(messy, tmp_path / "one2", tmp_path / "state-one")
    run_nightly(folder, tmp_path / "dask2", tmp_path / "state-dask", engine=DaskEngine(DaskOptions(), client=two_workers))
    a2, b2 = (json.loads((tmp_path / d / "summary.json").read_text(encoding="utf-8")) for d in ("one2", "dask2"))
    assert a2["changes"] == b2["changes"] == {"new": 0, "resolved": 0, "persisting": a["counts"]["total"]}


def test_a_partition_that_cannot_be_read_stops_the_run_and_leaves_the_last_one_untouched(messy: Path, tmp_path: Path, two_workers) -> None:
    folder = partitioned(messy, tmp_path, 3)
    engine = DaskEngine(DaskOptions(), client=two_workers)
    run_nightly(folder, tmp_path / "run", tmp_path / "state", engine=engine)
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}  # notices/ is a folder
    state_before = {p.name: p.read_bytes() for p in (tmp_path / "state").iterdir() if p.is_file()}
    broken = folder / "payments" / "part-00001-0000.parquet"
    broken.write_bytes(b"PAR1 not really")
    from perfrules.errors import InputError
    with pytest.raises(InputError) as caught:
        run_nightly(folder, tmp_path / "run", tmp_path / "state", engine=engine)
    assert "payments" in caught.value.text("en") and "cannot read a partition file" in caught.value.text("en")
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()} == before
    assert {p.name: p.read_bytes() for p in (tmp_path / "state").iterdir() if p.is_file()} == state_before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.tmp")]
    assert not (folder / "_staging").exists()  # the other partitions' staged findings are gone too


def _thread_pools() -> tuple[int, int, int]:
    """(perfrules' pools, Arrow's CPU pool, Arrow's I/O pool) in the process it runs in."""
    from perfrules.inputs.dataset import pool_threads
    return pool_threads(), pa.cpu_count(), pa.io_thread_count()


@pytest.mark.parametrize("nthreads", [1, 3])
def test_a_worker_s_tasks_use_its_threads_and_one_process_still_uses_every_core(messy: Path, tmp_path: Path, nthreads: int) -> None:
    # Every pool as large as the machine made one 1-thread worker keep both cores of this machine busy, and a
    # second worker added only contention. On a worker a task's own pools get one thread (the worker runs
    # nthreads tasks at once) and Arrow's shared pools its nthreads, a restarted worker too.
    folder = partitioned(messy, tmp_path, 3)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=nthreads, processes=True, host="127.0.0.1",
                                       dashboard_address=None, scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    with cluster, distributed.Client(cluster) as client:
        assert_same(check_partitioned(folder, PACK, None, None, "zh", None, client=client)[0], reference(messy))
        assert list(client.run(_thread_pools).values()) == [(1, nthreads, nthreads)]
        before = set(client.run(os.getpid).values())
        client.restart()
        assert set(client.run(os.getpid).values()).isdisjoint(before)
        assert list(client.run(_thread_pools).values()) == [(1, nthreads, nthreads)]
    assert _thread_pools()[0] == os.cpu_count()  # this process (one machine's check) keeps every core


def test_a_task_stages_its_findings_on_disk_and_returns_only_what_collect_needs(messy_no_indicators: Path, tmp_path: Path) -> None:
    from perfrules.distributed.staging import read_part
    from perfrules.distributed.task import check_partition
    folder = partitioned(messy_no_indicators, tmp_path, 2)
    manifest = read_manifest(folder)
    staging = tmp_path / "staging"
    staging.mkdir()
    when = reference(messy_no_indicators).as_of
    inline = check_partition(str(folder), manifest, 1, PACK, "national", when, "zh")
    staged = check_partition(str(folder), manifest, 1, PACK, "national", when, "zh", str(staging))
    [(_, whole, _)] = inline.results
    [(_, kept, _)] = staged.results
    file, count = staged.staged["national"]
    # inline: every finding; staged: only the PF-D03-ABSENT ones (the export has no indicators table) come back
    assert set(kept.table["rule_id"]) == {"PF-D03-ABSENT"} and len(kept.table) == (whole.table["rule_id"] == "PF-D03-ABSENT").sum()
    assert count == len(whole.table) - len(kept.table) > 0 and Path(file).parent == staging
    assert read_part(file).column("message").to_pylist() == whole.table.loc[whole.table["rule_id"] != "PF-D03-ABSENT", "message"].tolist()


def test_a_dataset_that_cannot_be_written_to_brings_the_findings_back_with_the_results(messy: Path, tmp_path: Path, one_worker) -> None:
    folder = partitioned(messy, tmp_path, 4)
    (folder / "_staging").write_text("not a folder")  # (a read-only folder would do the same, but not for root)
    result, _, info = check_partitioned(folder, PACK, None, None, "zh", None, client=one_worker)
    assert info.staged is False
    assert_same(result, reference(messy))
    assert (folder / "_staging").read_text() == "not a folder"


def test_a_task_that_cannot_write_its_findings_stops_the_run_naming_the_partition(messy: Path, tmp_path: Path, two_workers,
                                                                                 monkeypatch) -> None:
    from perfrules.distributed import runner
    from perfrules.errors import InputError
    folder = partitioned(messy, tmp_path, 4)
    # a staging folder the workers cannot write into (as a folder on storage they cannot write to would be)
    monkeypatch.setattr(runner, "new_run_folder", lambda dataset: dataset / "_staging" / "run-that-is-not-there")
    with pytest.raises(InputError) as caught:
        check_partitioned(folder, PACK, None, None, "en", None, client=two_workers)
    text = caught.value.text("en")
    assert "could not be checked: FileNotFoundError" in text and "run-that-is-not-there" in text
    assert "Nothing of this run was written" in text


def test_the_staging_folder_of_a_killed_run_is_removed_by_the_next_run(messy: Path, tmp_path: Path) -> None:
    import socket
    folder = partitioned(messy, tmp_path, 2)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead, live, elsewhere = (folder / "_staging" / f"run-{k}" for k in ("dead", "live", "elsewhere"))
    for run, pid, host in ((dead, int(gone.stdout), socket.gethostname()), (live, os.getppid(), socket.gethostname()),
                           (elsewhere, int(gone.stdout), "another-host")):
        run.mkdir(parents=True)
        (run / "owner.json").write_text(json.dumps({"pid": pid, "host": host}))
        (run / "part-00000-national.parquet").write_bytes(b"left behind")
    assert_same(check_partitioned(folder, PACK, None, None, "zh", None)[0], reference(messy))
    assert sorted(p.name for p in (folder / "_staging").iterdir()) == ["run-elsewhere", "run-live"]
