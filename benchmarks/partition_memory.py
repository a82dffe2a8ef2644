"""Peak memory of ``perfrules partition``: related tables streamed in batches vs the export loaded whole.

    .venv/bin/python benchmarks/partition_memory.py [--projects 200000 1000000] [--data DIR] [--rounds 2] [--csv]

Each export (the synthetic Parquet export of benchmarks/distributed.py, generated once into --data; with
--csv, also written as CSV) is partitioned into 16 partitions by each path in its own process, the two
interleaved per round. Printed: wall seconds and peak RSS per path and round, and the machine's load.
The whole-export path is ``PartitionWriter.add(load_export(…))``, what ``partition`` did before streaming.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHOLE = """import sys
from pathlib import Path
from perfrules.distributed.writer import writing_folder
from perfrules.inputs.export import load_export
with writing_folder(Path(sys.argv[2]), 16) as writer:
    writer.add(load_export(Path(sys.argv[1])))
    writer.finish([sys.argv[1]])
"""


def ensure_export(data: Path, n: int) -> Path:
    """benchmarks/distributed.py's synthetic export (loaded by path: its module name is Dask's package's)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    spec = importlib.util.spec_from_file_location("distributed_benchmark", Path(__file__).with_name("distributed.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ensure_export(data, n)  # type: ignore[no-any-return]


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of a Python process."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args[:3]} failed")
    return time.perf_counter() - t, usage.ru_maxrss / 1024 / 1024


def as_csv(export: Path) -> Path:
    """The export with every table as UTF-8 CSV (written once)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    folder = export.with_name(export.name + "-csv")
    if not (folder / "manifest.yaml").exists():
        folder.mkdir(exist_ok=True)
        for path in export.glob("*.parquet"):
            pacsv.write_csv(pq.read_table(path), folder / f"{path.stem}.csv")
        shutil.copy(export / "manifest.yaml", folder / "manifest.yaml")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--projects", type=int, nargs="+", default=[200_000, 1_000_000])
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "perfrules-dask-bench")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--csv", action="store_true", help="also partition the export written as CSV")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="partition-memory-"))
    try:
        for n in args.projects:
            exports = [ensure_export(args.data, n)]
            if args.csv:
                exports.append(as_csv(exports[0]))
            for export in exports:
                for r in range(args.rounds):
                    for label, cmd in [("streamed", ["-m", "perfrules.cli.main", "partition", str(export), "--out", str(out / "s"),
                                                     "-n", "16", "-q"]),
                                       ("whole", ["-c", WHOLE, str(export), str(out / "w")])]:
                        load = os.getloadavg()[0]
                        wall, rss = run(cmd)
                        print(f"{export.name}  round {r + 1}  {label:8s}  {wall:6.1f} s  peak RSS {rss:5.2f} GB  (load {load:.1f})", flush=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
