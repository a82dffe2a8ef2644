"""What deciding a CSV's encoding over the whole file costs (issue 15), against the old prefix-trusting check.

    .venv/bin/python benchmarks/csv_encoding.py [--projects 1000000] [--data DIR] [--rounds 5]

Writes (once, kept in --data) the nightly benchmark's synthetic projects table as GBK (as a budget system
writes it) and its indicators table as UTF-8 with BOM, then, interleaved round by round on the same bytes:

- old: ``data.decode("utf-8")`` of the whole file, falling back to GB18030 unchecked (the code before);
- new: ``csv_encoding`` (UTF-8 decoded slice by slice; for GBK, a strict GB18030 pass and the UTF-8 line scan);
- records: ``record_starts``, the scan for rows joined by stray quotes. It runs only when some record spans
  lines (else it returns at once), so it is timed on a copy of the projects file with every field quoted
  and one name over two lines: the worst case, a full scan;
- read: the whole ``_read_csv`` of the file with the new checks, once, for scale.

Prints each one's wall and CPU time ranges over the rounds (on a loaded machine the CPU time is the steadier
figure) and the peak of Python allocations (tracemalloc, one extra round) beyond the file's bytes.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import export_tables  # noqa: E402

from perfrules.inputs.csv_encoding import csv_encoding  # noqa: E402
from perfrules.inputs.csv_records import record_starts  # noqa: E402
from perfrules.inputs.export import _read_csv  # noqa: E402


def old_detection(data: bytes) -> str:
    try:
        data.decode("utf-8")
        return "utf8"
    except UnicodeDecodeError:
        return "gb18030"


def ensure_files(data: Path, n: int) -> list[Path]:
    projects, indicators = data / f"projects-{n}-gbk.csv", data / f"indicators-{n}-utf8.csv"
    if not (projects.exists() and indicators.exists()):
        print(f"generating {n:,} projects …", flush=True)
        tables = export_tables(n)
        data.mkdir(parents=True, exist_ok=True)
        tables["projects"].to_csv(data / ".p.tmp", index=False, encoding="gb18030", date_format="%Y-%m-%d")
        tables["indicators"].to_csv(data / ".i.tmp", index=False, encoding="utf-8-sig")
        os.replace(data / ".p.tmp", projects)
        os.replace(data / ".i.tmp", indicators)
    quoted = data / f"projects-{n}-gbk-quoted.csv"
    if not quoted.exists():
        frame = pd.read_csv(projects, dtype=str, keep_default_na=False, encoding="gb18030")
        frame.loc[0, "project_name"] += "\n（第二行）"
        frame.to_csv(data / ".q.tmp", index=False, encoding="gb18030", quoting=csv.QUOTE_ALL)
        os.replace(data / ".q.tmp", quoted)
    return [projects, quoted, indicators]


def variants_for(path: Path, data: bytes) -> dict[str, Callable[[], object]]:
    width = data.split(b"\n", 1)[0].count(b",") + 1
    # Arrow's count of records: one per line, but for the quoted copy's name over two lines.
    records = data.count(b"\n") - (1 if "quoted" in path.name else 0)
    return {"old": lambda: old_detection(data), "new": lambda: csv_encoding(data, path),
            "records": lambda: record_starts(data, width, path, records)}


def peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=Path("/tmp/perfrules-bench-encoding"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for path in ensure_files(args.data, args.projects):
        data = path.read_bytes()
        lines = data.count(b"\n")
        print(f"\n{path.name}: {len(data) / 1e6:.0f} MB, {lines:,} lines, "
              f"encoding {csv_encoding(data, path)} (old check: {old_detection(data)})")
        variants = variants_for(path, data)
        wall: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.rounds):
            for name, fn in variants.items():
                t, c = time.perf_counter(), time.process_time()
                fn()
                wall[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
        for name, fn in variants.items():
            print(f"  {name:8s} wall {min(wall[name]):6.2f}–{max(wall[name]):6.2f} s, CPU {min(cpu[name]):5.2f}–{max(cpu[name]):5.2f} s, "
                  f"peak allocations {peak_mb(fn):,.0f} MB beyond the bytes")
        t, c = time.perf_counter(), time.process_time()
        _read_csv(path, [])
        print(f"  read     wall {time.perf_counter() - t:6.2f} s, CPU {time.process_time() - c:5.2f} s "
              f"(whole _read_csv, once; load average now {os.getloadavg()[0]:.1f})")

if __name__ == "__main__":
    main()
