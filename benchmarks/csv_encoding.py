"""What deciding a CSV's encoding over the whole file costs (issue 15), against the old prefix-trusting check.

    .venv/bin/python benchmarks/csv_encoding.py [--projects 1000000] [--data DIR] [--rounds 5]

Writes (once, kept in --data) the nightly benchmark's synthetic projects table as GBK (as a budget system
writes it) and its indicators table as UTF-8 with BOM, then, interleaved round by round on the same bytes:

- old: ``data.decode("utf-8")`` of the whole file, falling back to GB18030 unchecked (the code before);
- new: ``csv_encoding`` (UTF-8 decoded slice by slice; for GBK, a strict GB18030 pass and the UTF-8 line scan);
- read: the whole ``_read_csv`` of the file with the new check, for scale.

Prints each one's time range over the rounds and the peak of Python allocations (tracemalloc, one extra
round) beyond the file's bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import export_tables  # noqa: E402

from perfrules.inputs.csv_encoding import csv_encoding  # noqa: E402
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
    return [projects, indicators]


def variants_for(path: Path, data: bytes) -> dict[str, Callable[[], object]]:
    return {"old": lambda: old_detection(data), "new": lambda: csv_encoding(data, path), "read": lambda: _read_csv(path, [])}


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
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.rounds):
            for name, fn in variants.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        for name, fn in variants.items():
            extra = "" if name == "read" else f", peak allocations {peak_mb(fn):,.0f} MB beyond the bytes"
            print(f"  {name:5s} {min(times[name]):6.2f}–{max(times[name]):6.2f} s{extra}")


if __name__ == "__main__":
    main()
