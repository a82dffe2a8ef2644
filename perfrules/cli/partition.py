"""``partition``, and the ``--engine dask`` options of ``check`` and ``nightly`` that read what it writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from perfrules.cli.maps import map_option
from perfrules.cli.options import remember_lang


@click.command(name="partition")
@click.argument("export", type=click.Path())
@click.option("--out", "out", required=True, type=click.Path(), metavar="DIR",
              help="分区数据集目录（整体写出或不写）。(partitioned dataset folder, written whole or not at all.)")
@click.option("--partitions", "-n", "partitions", type=int, required=True, metavar="N",
              help="分区数：按项目编码的稳定哈希分桶。(partition count: buckets by a stable hash of the project id.)")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="输出语言 (output language).")
@map_option
@click.option("--quiet", "-q", is_flag=True, help="不输出摘要。(no summary line.)")
def partition_command(export: str, out: str, partitions: int, lang: str, column_map: str | None, quiet: bool) -> None:
    """把导出目录按项目分区写成 Parquet，供 --engine dask 检查。Partition an export by project for --engine dask.

    \b
    示例 Example:
      perfrules partition /data/export/today --out /shared/partitions/today --partitions 64
      perfrules partition /data/fasp2/today --map fasp2 --out /shared/partitions/today --partitions 64
      perfrules nightly /shared/partitions/today --out /data/runs/today --engine dask --scheduler tcp://10.0.0.5:8786
    """
    remember_lang(lang)
    from perfrules.distributed.writer import partition_export
    manifest = partition_export(export, out, partitions, column_map)
    if not quiet:
        rows = "，".join(f"{t} {manifest.total_rows(t):,}" for t in manifest.present)
        rows_en = ", ".join(f"{t} {manifest.total_rows(t):,}" for t in manifest.present)
        notes = len(manifest.notes)
        click.echo(f"{out}：{partitions} 个分区（按 project_id），{rows}；数据说明 {notes} 条。" if lang != "en"
                   else f"{out}: {partitions} partitions (by project_id), {rows_en}; {notes} data note(s).", err=True)


def engine_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--engine, --scheduler, --workers and --memory-limit (shared by check and nightly)."""
    fn = click.option("--memory-limit", "memory_limit", metavar="BYTES",
                      help="本地集群每个工作进程的内存上限，如 6GB。(per-worker memory limit of the local cluster, e.g. 6GB.)")(fn)
    fn = click.option("--workers", "workers", type=int, metavar="N",
                      help="本地集群的工作进程数（默认 CPU 核数）。(worker processes of a local cluster; default: CPU count.)")(fn)
    fn = click.option("--scheduler", "scheduler", metavar="ADDRESS",
                      help="已有 Dask 集群的调度器地址，如 tcp://10.0.0.5:8786。(an existing Dask cluster's scheduler address.)")(fn)
    fn = click.option("--engine", "engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                      help="local：本进程；dask：分区数据集在 Dask 集群上逐分区检查。(local: this process; dask: a partitioned dataset, partition by partition on a Dask cluster.)")(fn)
    return fn


def make_engine(engine: str, scheduler: str | None, workers: int | None, memory_limit: str | None) -> Any:
    """The Dask engine for ``--engine dask`` (exit 2 with the install command when Dask is missing), else None."""
    if engine != "dask":
        if scheduler or workers or memory_limit:
            from perfrules.errors import Problem, UsageError, Where
            raise UsageError([Problem("engine.options", "--scheduler、--workers、--memory-limit 只用于 --engine dask。",
                                      "--scheduler, --workers and --memory-limit go with --engine dask.", Where(field="--engine"))])
        return None
    from perfrules.distributed.runner import DaskEngine, DaskOptions
    return DaskEngine(DaskOptions(scheduler, workers, memory_limit))
