"""Checking a partitioned dataset on a Dask cluster: one task per partition, results collected as they finish.

The cluster is an existing one (``--scheduler ADDRESS``) or a local one of ``--workers`` processes, each
with ``--memory-limit``. Each task loads its partition on the worker and checks it with the pandas
evaluator (``task.check_partition``); the driver only reads the manifest and joins the findings
(``collect``). Dask re-runs a task whose worker died; a partition that still cannot be checked stops the
run with an error, before anything is written.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import resource
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfrules.distributed.collect import collect
from perfrules.distributed.layout import Manifest, is_partitioned, read_manifest
from perfrules.distributed.staging import new_run_folder, remove_run_folder
from perfrules.distributed.task import PartitionResult, check_partition
from perfrules.errors import InputError, Problem, UsageError, Where
from perfrules.evaluation.check import CheckResult, merge_results
from perfrules.language.fields import TABLES
from perfrules.rulepack.compile import CompiledPack, compile_pack
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.profile import available_profiles

INSTALL_HINT = "pip install 'perfrules[dask]'"
RETRIES = 2  # a task that raised is tried again this many times (a worker that died is Dask's to retry)


def require_dask() -> None:
    """Exit 2 with the install command when Dask is not installed."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise UsageError([Problem("engine.no-dask", f"--engine dask 需要 Dask，但未安装（{exc}）。",
                                  f"--engine dask needs Dask, which is not installed ({exc}).", Where(field="--engine"),
                                  f"安装：{INSTALL_HINT}", f"Install it: {INSTALL_HINT}")]) from None


@dataclass
class DaskOptions:
    """Where the partitions are checked: an existing scheduler, or a local cluster of ``workers`` processes."""

    scheduler: str | None = None
    workers: int | None = None
    memory_limit: str | None = None

    def validate(self) -> None:
        """Usage errors for options that contradict each other or cannot be read."""
        if self.scheduler and (self.workers or self.memory_limit):
            raise UsageError([Problem("engine.options", "--scheduler 连接已有集群，不能同时给 --workers 或 --memory-limit（由 dask worker 自己设定）。",
                                      "--scheduler connects to an existing cluster: --workers and --memory-limit are set on its dask workers, not here.",
                                      Where(field="--scheduler"))])
        if self.workers is not None and self.workers < 1:
            raise UsageError([Problem("engine.workers", f"--workers 须至少为 1，实际为 {self.workers}。",
                                      f"--workers must be at least 1, got {self.workers}.", Where(field="--workers"))])
        if self.memory_limit:
            from dask.utils import parse_bytes
            try:
                parse_bytes(self.memory_limit)
            except (ValueError, TypeError):
                raise UsageError([Problem("engine.memory-limit", f"无法识别的内存上限 {self.memory_limit!r}（例如 4GB、6GiB）。",
                                          f"cannot read the memory limit {self.memory_limit!r} (e.g. 4GB, 6GiB).",
                                          Where(field="--memory-limit"))]) from None


@dataclass
class RunInfo:
    """How a distributed check went: the cluster, and each worker's peak memory (resident set, bytes; on an
    existing cluster, the peak of the worker process's life so far)."""

    partitions: int
    workers: list[str] = field(default_factory=list)
    memory_limit: int | None = None
    worker_peak_rss: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0  # the whole distributed stage: cluster start, tasks, collection
    tasks_seconds: float = 0.0  # from the first task submitted to the last result in: loading and checking the partitions
    worker_seconds: dict[str, float] = field(default_factory=dict)
    dashboard: str | None = None
    staged: bool = False  # the partitions' findings came back as files (not through the cluster)

    def as_json(self) -> dict[str, Any]:
        """For summary.json: the engine, partitions and workers."""
        return {"name": "dask", "partitions": self.partitions, "workers": len(self.workers),
                "memory_limit": self.memory_limit, "worker_peak_rss": self.worker_peak_rss,
                "workers_replaced": len(set(self.worker_peak_rss) - set(self.workers)),
                "dashboard": self.dashboard, "findings_staged": self.staged, "wall_seconds": round(self.wall_seconds, 3), "tasks_seconds": round(self.tasks_seconds, 3),
                "worker_seconds": {k: round(v, 3) for k, v in self.worker_seconds.items()}}


Progress = Callable[[int, int], None]  # (partitions done, partitions) → shown to the user


def check_partitioned(folder: str | Path, pack: RulePack, profile: str | None, as_of: dt.date | None, lang: str,
                      options: DaskOptions | None, progress: Progress | None = None, client: Any = None) -> tuple[CheckResult, Manifest, RunInfo]:
    """Check every partition of ``folder`` and collect the results: on ``client`` if given, else on the cluster
    ``options`` describes, else (``options`` None) one partition after another in this process."""
    folder = Path(folder).resolve()
    manifest = read_manifest(folder)
    when = as_of or (dt.date.fromisoformat(manifest.as_of) if manifest.as_of else dt.date.today())
    info = RunInfo(manifest.partitions)
    t0 = time.perf_counter()
    run_folder = new_run_folder(folder)  # the tasks' findings come back as files in it (None: with the results)
    info.staged = run_folder is not None
    args = (manifest, pack, profile, when, lang, str(run_folder) if run_folder else None)
    compiled: dict[str, CompiledPack] = {}

    def for_profile(name: str) -> CompiledPack:
        if name not in compiled:
            compiled[name] = compile_pack(pack, name)
        return compiled[name]

    try:
        if client is not None:
            outcomes = _run_on(client, str(folder), args, manifest.partitions, progress, info)
        elif options is None:
            outcomes = []
            for i in range(manifest.partitions):
                outcomes.append(_checked(check_partition(str(folder), manifest, i, pack, profile, when, lang, args[-1])))
                if progress:
                    progress(i + 1, manifest.partitions)
        else:
            with _client(options) as client:
                outcomes = _run_on(client, str(folder), args, manifest.partitions, progress, info)
        result = collect(outcomes, manifest, for_profile, profile, available_profiles(pack), when, lang)
    finally:
        remove_run_folder(run_folder)
    # The stages ran on the workers, partitions overlapping: their seconds summed over partitions are the
    # engine's detail; this process's clock saw one stage, the distributed check, and reports it as "load".
    # tasks: the tasks' wall seconds summed; cpu: their CPU seconds (all threads) summed. tasks over
    # tasks_seconds is how many tasks ran at once on average; cpu over tasks, how many cores a task kept busy.
    info.worker_seconds = {"load": sum(o.seconds.get("load", 0.0) for o in outcomes),
                           **{k: result.timings.get(k, 0.0) for k in ("facts", "evaluate", "findings")},
                           "tasks": sum(o.seconds.get("load", 0.0) + o.seconds.get("check", 0.0) for o in outcomes),
                           "cpu": sum(o.seconds.get("cpu", 0.0) for o in outcomes)}
    info.wall_seconds = time.perf_counter() - t0
    result.timings = {"load": info.wall_seconds, "facts": 0.0, "evaluate": 0.0, "findings": 0.0}
    return result, manifest, info


def _checked(outcome: PartitionResult) -> PartitionResult:
    if outcome.problems:
        raise InputError(outcome.problems)
    return outcome


def _run_on(client: Any, folder: str, args: tuple[Any, ...], n: int, progress: Progress | None, info: RunInfo) -> list[PartitionResult]:
    from distributed import as_completed

    from perfrules.distributed.threads import WorkerThreads

    manifest, pack, profile, when, lang, run_folder = args
    client.register_plugin(WorkerThreads())  # on any cluster: a worker's tasks use its nthreads, not the machine
    info.workers = sorted(client.scheduler_info()["workers"])
    info.dashboard = client.dashboard_link if client.scheduler_info().get("services", {}).get("dashboard") else None
    started = time.perf_counter()
    token = uuid.uuid4().hex[:8]
    # A key of its own, not the pack's hash, so that a run never shares its scattered pack with a previous run's copy
    # that is being released on the same cluster: the likely cause of a task ending in FutureCancelledError in one
    # CI run (2026-12-06), in the test that runs right after another run on the same client.
    [pack_data] = client.scatter([pack], broadcast=True, hash=False)
    futures = [client.submit(check_partition, folder, manifest, i, pack_data, profile, when, lang, run_folder,
                             key=f"perfrules-partition-{i:05d}-{token}", retries=RETRIES, pure=False) for i in range(n)]
    outcomes: list[PartitionResult] = []
    try:
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # a task that kept failing, or a worker that kept dying under it
                partition = futures.index(future)
                raise InputError([Problem("engine.partition-failed", f"分区 {partition} 无法检查：{type(exc).__name__}: {exc}。本次运行未写出任何结果。",
                                          f"partition {partition} could not be checked: {type(exc).__name__}: {exc}. Nothing of this run was written.",
                                          Where(file=folder), "查看 Dask 工作进程的日志；若因内存不足，增加分区数或 --memory-limit。",
                                          "See the Dask workers' logs; if they ran out of memory, use more partitions or a higher --memory-limit.")]) from exc
            outcomes.append(_checked(outcome))
            future.release()
            if progress:
                progress(len(outcomes), n)
        info.tasks_seconds = time.perf_counter() - started
        info.worker_peak_rss = {str(k): int(v) for k, v in client.run(peak_rss).items()}
        limits = {w.get("memory_limit") for w in client.scheduler_info()["workers"].values()}
        info.memory_limit = int(limits.pop()) if len(limits) == 1 and None not in limits else None
    finally:
        for future in futures:
            future.cancel()
    return outcomes


def peak_rss() -> int:
    """This process's peak resident set size in bytes (runs on each worker)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


@contextmanager
def _client(options: DaskOptions) -> Iterator[Any]:
    """A Dask client on the chosen cluster, closed (with the local cluster) when the block ends."""
    require_dask()
    options.validate()
    from distributed import Client, LocalCluster

    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="15s")
        except (OSError, TimeoutError) as exc:
            raise UsageError([Problem("engine.scheduler", f"无法连接 Dask 调度器 {options.scheduler}：{exc}。",
                                      f"cannot reach the Dask scheduler {options.scheduler}: {exc}.", Where(field="--scheduler"),
                                      "检查地址（如 tcp://10.0.0.5:8786）与 dask scheduler 是否在运行。",
                                      "Check the address (e.g. tcp://10.0.0.5:8786) and that dask scheduler is running.")]) from exc
        with client:
            yield client
        return
    # On loopback and without a dashboard: a local cluster lives and dies with the command. Its routine
    # warnings (a worker slow to stop) stay out of cron's mail; errors still show.
    workers = options.workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None, memory_limit=options.memory_limit or "auto",
                           scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}, silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client


class DaskEngine:
    """The ``--engine dask`` of ``check`` and ``nightly``: one cluster for the command, partitioned inputs checked on it."""

    def __init__(self, options: DaskOptions, client: Any = None) -> None:
        require_dask()
        options.validate()
        self.options, self.client = options, client
        self.info: RunInfo | None = None

    def check(self, export: Path, pack: RulePack, profile: str | None, as_of: dt.date | None, lang: str,
              progress: Any = None) -> tuple[CheckResult, dict[str, int]]:
        """``nightly``'s check stage: the result and the rows of each table (from the manifest)."""
        if not is_partitioned(Path(export)):
            raise UsageError([not_partitioned(Path(export))])

        def show(done: int, n: int) -> None:
            if progress is not None:
                filled = done * 20 // n
                zh, en = f"分区 {done}/{n}", f"partitions {done}/{n}"
                progress.stage("check", f"▕{'█' * filled}{'░' * (20 - filled)}▏ {en if progress.lang == 'en' else zh}")

        show(0, read_manifest(Path(export)).partitions)
        if self.client is not None:
            result, manifest, self.info = check_partitioned(export, pack, profile, as_of, lang, None, show, self.client)
        else:
            result, manifest, self.info = check_partitioned(export, pack, profile, as_of, lang, self.options, show)
        return result, {t: manifest.total_rows(t) for t in TABLES}

    def describe(self) -> dict[str, Any]:
        """The engine's part of summary.json."""
        return self.info.as_json() if self.info else {"name": "dask"}


def not_partitioned(path: Path) -> Problem:
    """The problem of giving ``--engine dask`` an input that has not been partitioned."""
    return Problem("engine.not-partitioned", f"{path} 不是分区数据集；--engine dask 读取 perfrules partition 写出的目录。",
                   f"{path} is not a partitioned dataset; --engine dask reads a folder written by perfrules partition.",
                   Where(file=str(path)), f"先运行：perfrules partition {path} --out DIR --partitions N",
                   f"Run first: perfrules partition {path} --out DIR --partitions N")


def check_partitioned_paths(paths: list[str], rules_dir: str | Path | None, profile: str | None, as_of: dt.date | None,
                            lang: str, options: DaskOptions, client: Any = None) -> CheckResult:
    """``check --engine dask``: every input a partitioned dataset, checked on one cluster, results merged as
    ``perfrules.api.check_paths`` merges several inputs."""
    from perfrules.rulepack.pack import default_rules_dir, load_pack
    from perfrules.rulepack.profile import load_profile

    require_dask()
    options.validate()
    pack = load_pack(rules_dir or default_rules_dir())
    if profile:
        load_profile(pack, profile)
    bad = [not_partitioned(Path(p)) for p in paths if not is_partitioned(Path(p))]
    if bad:
        raise UsageError(bad)
    if client is None:
        with _client(options) as own:
            results = [check_partitioned(p, pack, profile, as_of, lang, None, None, own)[0] for p in paths]
    else:
        results = [check_partitioned(p, pack, profile, as_of, lang, None, None, client)[0] for p in paths]
    merged = merge_results(results)
    merged.profile = ", ".join(dict.fromkeys(p for r in results for p in r.profile.split(", ")))
    return merged
