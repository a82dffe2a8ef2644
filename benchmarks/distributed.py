"""Distributed benchmark (issue 18): the Dask engine on this machine, against one process.

    .venv/bin/python benchmarks/distributed.py [--projects 1000000] [--partitions 16] [--data DIR] [--rounds 2] [--reuse]
                                               [--baseline SRC] [--no-single]
    .venv/bin/python benchmarks/distributed.py --big [--big-chunks 10] [--big-partitions 40] [--memory-limit 6GB] [--prepare-only]

Part one (default): a synthetic export of --projects projects (Parquet; per project 5 indicators, 6 payments,
1 monitoring row, 2 evaluations), generated once into --data. It is partitioned with ``perfrules partition``
(timed on its own), then ``perfrules nightly`` runs as a separate process: single-process on the export, and
``--engine dask`` on a LocalCluster of 1 and of 2 workers, in --rounds interleaved rounds. Printed: end-to-end
wall time, the distributed stage's task time (first task submitted to last result: loading and checking the
partitions) and the tasks' CPU seconds (how many cores they kept busy), each worker's peak memory, and whether
the findings files are byte-identical to the single-process run's; then ranges over the rounds and PASS/FAIL.
Floor: 2 workers ≥ 1.6× faster than 1 worker on the task time (every round). With --baseline SRC (another
perfrules source tree, e.g. ``git archive BASE | tar -x -C SRC``), each round also runs the 1- and 2-worker
runs with that code, interleaved with this tree's, for an A/B on the same data; --no-single leaves out the
single-process runs (the findings are then compared between the Dask runs only).

Part two (--big): --big-chunks exports of 1,000,000 projects each (so 10M projects, 50M indicators, 60M
payments by default), each loaded by the export loader and written into one partitioned dataset as a piece
(no process ever holds the whole national export), then ``nightly --engine dask --workers 2 --memory-limit``
end to end. Printed: partitioning time, end-to-end time, driver and per-worker peak memory, and whether any
worker was replaced (a worker over its limit is killed and replaced by its nanny).

The machine may be shared: the figures are what this run saw, not a best case.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import EXPORT_AS_OF, export_tables, write_export  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GB = 1024 ** 3


def timed(args: list[str], source: Path = ROOT) -> tuple[float, float]:
    """Run a perfrules command in its own process, with the perfrules of ``source`` (``-m`` imports from the
    working directory first): wall seconds and the process's peak RSS (GB)."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "perfrules.cli.main", *args], cwd=source)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"perfrules {' '.join(args)} exited {code}")
    return wall, usage.ru_maxrss / 1024 / 1024


def ensure_export(data: Path, n: int, seed: int = 20221115, prefix: str = "") -> Path:
    """A Parquet export of ``n`` synthetic projects (ids prefixed with ``prefix``), generated once."""
    folder = data / f"export-{prefix}{n}"
    if not (folder / "manifest.yaml").exists():
        print(f"generating {n:,} projects in {folder} …", flush=True)
        tables = export_tables(n, seed=seed)
        if prefix:
            for frame in tables.values():
                frame["project_id"] = prefix + frame["project_id"].astype(str)
        tmp = data / f".{folder.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        write_export(tables, tmp, "parquet")
        tmp.rename(folder)
    return folder


def nightly(source: Path, out: Path, *engine: str, code: Path = ROOT) -> tuple[dict, float, float]:
    """``perfrules nightly`` on ``source`` (with the perfrules of ``code``): its summary, wall time and the driver's peak RSS."""
    wall, rss = timed(["nightly", str(source), "--out", str(out), "--profile", "national", "--quiet", "--fail-on", "never", *engine], code)
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), wall, rss


def same_findings(a: Path, b: Path) -> bool:
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in ("findings.jsonl", "findings.csv"))


def show_engine(label: str, summary: dict, wall: float, rss: float) -> None:
    e = summary.get("engine")
    line = f"  {label}: end to end {wall:.1f} s, driver peak RSS {rss:.2f} GB, {summary['counts']['total']:,} findings"
    if e:
        peaks = ", ".join(f"{v / GB:.2f}" for v in e["worker_peak_rss"].values())
        ws = e["worker_seconds"]
        line += (f"; distributed stage {e['wall_seconds']:.1f} s of which tasks {e['tasks_seconds']:.1f} s "
                 f"(task CPU {ws.get('cpu', 0):.1f} s: {ws.get('cpu', 0) / max(e['tasks_seconds'], 1e-9):.2f} cores busy on average); "
                 f"worker peak RSS (GB) [{peaks}]; workers replaced {e['workers_replaced']}")
    print(line, flush=True)


def spread(values: list[float], unit: str = " s") -> str:
    return f"{min(values):.2f}–{max(values):.2f}{unit}" if len(values) > 1 else f"{values[0]:.2f}{unit}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def part_one(args: argparse.Namespace) -> None:
    export = ensure_export(args.data, args.projects)
    parts = args.data / f"partitioned-{args.projects}-{args.partitions}"
    if args.reuse and (parts / "manifest.json").exists():
        print(f"\n{args.projects:,} projects: reusing {parts} (--reuse; partitioning not timed)")
    else:
        wall, rss = timed(["partition", str(export), "--out", str(parts), "--partitions", str(args.partitions), "--quiet"])
        print(f"\n{args.projects:,} projects: perfrules partition into {args.partitions} partitions: {wall:.1f} s, peak RSS {rss:.2f} GB")
    # Interleaved rounds (single process, 1 worker, 2 workers, again …): on a shared machine, load drifts.
    codes = {"this tree": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    single: list[float] = []
    tasks: dict[tuple[str, int], list[float]] = {(c, w): [] for c in codes for w in (1, 2)}
    cpu: dict[tuple[str, int], list[float]] = {(c, w): [] for c in codes for w in (1, 2)}
    identical = []
    reference: Path | None = None if args.no_single else args.data / "run-single"
    for r in range(args.rounds):
        print(f" round {r + 1}/{args.rounds} (load average {os.getloadavg()[0]:.1f})", flush=True)
        if not args.no_single:
            one, wall1, rss1 = nightly(export, args.data / "run-single")
            single.append(wall1)
            show_engine("single process", one, wall1, rss1)
        for code, source in codes.items():
            for workers in (1, 2):
                out = args.data / f"run-dask-{workers}{'-baseline' if code == 'baseline' else ''}"
                summary, wall, rss = nightly(parts, out, "--engine", "dask", "--workers", str(workers), code=source)
                tasks[code, workers].append(summary["engine"]["tasks_seconds"])
                cpu[code, workers].append(summary["engine"]["worker_seconds"].get("cpu", 0.0))
                show_engine(f"dask, {workers} worker{'s' if workers > 1 else ''}{' (baseline)' if code == 'baseline' else ''}",
                            summary, wall, rss)
                if reference is None:
                    reference = args.data / "run-first-dask"  # kept aside: later rounds write over out
                    shutil.rmtree(reference, ignore_errors=True)
                    shutil.copytree(out, reference)
                identical.append(same_findings(reference, out))
    print(f"\nsummary over {args.rounds} interleaved round(s), load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:")
    if single:
        print(f"  single process end to end: {spread(single)}")
    for code in codes:
        label = "" if code == "this tree" else " (baseline)"
        ratios = [a / b for a, b in zip(tasks[code, 1], tasks[code, 2])]
        for workers in (1, 2):
            t, c = tasks[code, workers], cpu[code, workers]
            print(f"  dask {workers} worker(s){label} task time: {spread(t)}; task CPU {spread(c)} "
                  f"({spread([x / y for x, y in zip(c, t)], ' cores')} busy)")
        print(f"  2 workers vs 1{label} on the evaluation stages (task time, same round): {spread(ratios, '×')} "
              f"— floor ≥ 1.6×: {verdict(min(ratios) >= 1.6)}")
    print(f"  findings files byte-identical to the {'first Dask' if args.no_single else 'single-process'} run's: {verdict(all(identical))}")
    busy = [c / t for c, t in zip(cpu["this tree", 2], tasks["this tree", 2])]
    if max(busy) < 1.6:
        print("  note: the 2-worker tasks kept fewer than 1.6 cores busy on average; the machine's cores were not "
              "free for them (see the load average), so the floor cannot be judged from this run.")


def part_two(args: argparse.Namespace) -> None:
    from perfrules.distributed.writer import writing_folder
    from perfrules.inputs.export import load_export

    parts = args.data / f"partitioned-big-{args.big_chunks}x{args.chunk_projects}-{args.big_partitions}"
    if not (parts / "manifest.json").exists():
        t = time.perf_counter()
        with writing_folder(parts, args.big_partitions) as writer:
            exports = []
            for chunk in range(args.big_chunks):
                export = ensure_export(args.data, args.chunk_projects, seed=1000 + chunk, prefix=f"C{chunk:02d}-")
                t0 = time.perf_counter()
                writer.add(load_export(export, str(export)))
                exports.append(str(export))
                print(f"  piece {chunk + 1}/{args.big_chunks} loaded and partitioned in {time.perf_counter() - t0:.1f} s", flush=True)
                if not args.keep_exports:
                    shutil.rmtree(export)
            manifest = writer.finish(exports)
        print(f"partitioned {manifest.total_rows('projects'):,} projects in {time.perf_counter() - t:.1f} s "
              f"(export generation included)", flush=True)
    if args.prepare_only:
        return
    summary, wall, rss = nightly(parts, args.data / "run-big", "--engine", "dask", "--workers", "2", "--memory-limit", args.memory_limit)
    rows = summary["inputs"]
    print(f"\n{rows['projects']:,} projects, {rows['indicators']:,} indicators, {rows['payments']:,} payments, "
          f"{rows['monitoring']:,} monitoring, {rows['evaluations']:,} evaluations; {args.big_partitions} partitions; "
          f"2 workers, memory limit {args.memory_limit} each")
    show_engine("dask, 2 workers", summary, wall, rss)
    limit = summary["engine"]["memory_limit"]
    over = [v for v in summary["engine"]["worker_peak_rss"].values() if limit and v > limit]
    print(f"  10M projects completed: {verdict(rows['projects'] >= 10_000_000)}; every worker under its limit "
          f"({limit / GB if limit else float('nan'):.2f} GB): {verdict(not over and summary['engine']['workers_replaced'] == 0)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--projects", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "perfrules-dask-bench")
    ap.add_argument("--big", action="store_true", help="run part two (10M projects) instead of part one")
    ap.add_argument("--big-chunks", type=int, default=10)
    ap.add_argument("--big-partitions", type=int, default=40)
    ap.add_argument("--chunk-projects", type=int, default=1_000_000, help="projects per export piece of part two")
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--rounds", type=int, default=2, help="part one: interleaved rounds of single / 1 worker / 2 workers")
    ap.add_argument("--reuse", action="store_true", help="part one: reuse the partitioned dataset of an earlier run in --data "
                    "(the generated export is always reused)")
    ap.add_argument("--baseline", type=Path, help="part one: another perfrules source tree whose 1- and 2-worker runs "
                    "are interleaved with this tree's (an A/B on the same data)")
    ap.add_argument("--no-single", action="store_true", help="part one: leave out the single-process runs")
    ap.add_argument("--prepare-only", action="store_true", help="part two: write the partitioned dataset, do not run")
    ap.add_argument("--keep-exports", action="store_true", help="keep the 1M-project exports the big dataset is made of")
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; profile national; as of {EXPORT_AS_OF}", flush=True)
    part_two(args) if args.big else part_one(args)


if __name__ == "__main__":
    main()
