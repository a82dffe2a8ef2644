"""A/B comparison of two versions of perfrules on the figures a user feels (issue 13, point 6).

    .venv/bin/python benchmarks/ab.py --a main --b worktree [--projects 300000] [--reps 3] [--data DIR]
                                      [--latency-n 300] [--format parquet|csv] [--no-nightly] [--no-screening]
                                      [--pandas-latency]

Each side is a git revision (unpacked with ``git archive`` into a temporary folder), ``worktree`` (this
checkout as it is on disk, copied at the start) or a folder holding a ``perfrules`` package (copied too). For each repetition, both sides run in turn, in alternating order (A B, then
B A, ...), so that a slow spell of a shared machine falls on both alike:

- nightly: ``perfrules nightly`` on a synthetic export (Parquet, or CSV with --format csv) (generated once per size into --data, as
  benchmarks/nightly.py does), as a separate process: wall time start to exit, and the load, facts and
  evaluate stages from its summary.json. Both sides must report the same finding counts.
- screening: one process per side and repetition screens --latency-n submissions after a warm-up and
  prints the p50 latency of the durable path (``Screener.screen``, what the service answers a submission
  with) and, with --pandas-latency, of the pandas path on a one-row frame (``check_datasets``).

Prints the machine's load (``uptime``) before and after, then a table: per figure, each side's min and
median over the repetitions and the change of B against A (of the minima, of the medians, and the range
over the repetitions' paired ratios). A positive change means B is slower. On a loaded machine the minima are
the steadier figure: identical code has shown medians 24% apart there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nightly import ensure_export  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent

SCREEN_CHILD = """
import datetime as dt, json, sys, time
sys.path.insert(0, {bench!r})
import perfrules
from synthetic import projects
from perfrules.api import check_datasets
from perfrules.evaluation.screening import Screener
from perfrules.inputs.submission import submission_dataset
from perfrules.rulepack.pack import load_pack
as_of = dt.date(2022, 11, 15)
n = {n}
with_pandas = {with_pandas}
from pathlib import Path
pack = load_pack(Path(perfrules.__file__).resolve().parents[1] / "rules")
screener = Screener(pack=pack, profile="national")
records = projects(n)
def p50(run):
    for r in records[:30]:
        run(r)
    times = []
    for r in records:
        t = time.perf_counter()
        run(r)
        times.append((time.perf_counter() - t) * 1000)
    return sorted(times)[len(times) // 2]
durable = p50(lambda r: screener.screen(r, as_of=as_of))
pandas_one = p50(lambda r: check_datasets([submission_dataset([r], [], "s")], pack, "national", as_of)) if with_pandas else None
screener.close()
print(json.dumps({{"module": perfrules.__file__, "durable_p50_ms": durable, "pandas_p50_ms": pandas_one}}))
"""


def materialise(rev: str, tmp: Path) -> Path:
    """A folder whose ``perfrules`` package is revision ``rev`` (``worktree``: a copy of this checkout as it is now,
    so that editing the checkout during a run does not change side B)."""
    folder = tmp / rev.strip("/").replace("/", "_")
    folder.mkdir()
    if rev == "worktree" or (Path(rev) / "perfrules").is_dir():
        source = ROOT if rev == "worktree" else Path(rev)
        for name in ("perfrules", "rules", "schemas"):
            shutil.copytree(source / name if (source / name).exists() else ROOT / name, folder / name,
                            ignore=shutil.ignore_patterns("__pycache__", "bundled"))
        return folder
    archive = subprocess.run(["git", "archive", rev, "perfrules", "rules", "schemas"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def child_env(folder: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(folder)}


def run_nightly(folder: Path, export: Path, out: Path) -> dict[str, float]:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "perfrules.cli.main", "nightly", str(export), "--out", str(out),
                    "--profile", "national", "--quiet", "--fail-on", "never"], cwd=folder, env=child_env(folder),
                   check=True)
    wall = time.perf_counter() - t
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    timings = summary["timings"]
    return {"nightly wall s": wall, "nightly load s": timings.get("load", float("nan")),
            "nightly facts s": timings.get("facts", float("nan")), "nightly evaluate s": timings.get("evaluate", float("nan")), "_findings": summary["counts"]["total"]}


def run_screening(folder: Path, n: int, with_pandas: bool) -> dict[str, float]:
    code = SCREEN_CHILD.format(bench=str(BENCH), n=n, with_pandas=with_pandas)
    proc = subprocess.run([sys.executable, "-c", code], cwd=folder, env=child_env(folder), check=True,
                          capture_output=True, text=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result.pop("module").startswith(str(folder)):
        raise SystemExit(f"the screening child did not import perfrules from {folder}")
    out = {"screening durable p50 ms": result["durable_p50_ms"]}
    if with_pandas:
        out["screening pandas 1-row p50 ms"] = result["pandas_p50_ms"]
    return out


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", default="main", help="revision A (the baseline): a git revision, 'worktree' or a folder")
    ap.add_argument("--b", default="worktree", help="revision B: a git revision, 'worktree' or a folder")
    ap.add_argument("--projects", type=int, default=300_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="the nightly export's format")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "perfrules-bench")
    ap.add_argument("--latency-n", type=int, default=300)
    ap.add_argument("--no-nightly", action="store_true")
    ap.add_argument("--no-screening", action="store_true")
    ap.add_argument("--pandas-latency", action="store_true",
                    help="also the pandas path's latency on a one-row frame (~0.3 s a submission: slow)")
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    export = None if args.no_nightly else ensure_export(args.data, args.projects, args.format)
    print(f"A = {args.a}, B = {args.b}; {args.reps} repetitions, alternating order; "
          f"nightly on {args.projects:,} projects ({args.format}); screening p50 over {args.latency_n} submissions")
    print(f"before: {uptime()}", flush=True)
    figures: dict[str, dict[str, list[float]]] = {"A": {}, "B": {}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sides = {"A": materialise(args.a, tmp), "B": materialise(args.b, tmp)}
        for rep in range(args.reps):
            for side in ("A", "B") if rep % 2 == 0 else ("B", "A"):
                got: dict[str, float] = {}
                if export is not None:
                    got.update(run_nightly(sides[side], export, tmp / f"run-{side}-{rep}"))
                if not args.no_screening:
                    got.update(run_screening(sides[side], args.latency_n, args.pandas_latency))
                for name, value in got.items():
                    figures[side].setdefault(name, []).append(value)
                print(f"  rep {rep + 1} {side}: " + ", ".join(f"{k} {v:.3g}" for k, v in got.items()), flush=True)
    print(f"after:  {uptime()}")
    if "_findings" in figures["A"] and figures["A"]["_findings"] != figures["B"]["_findings"]:
        print(f"FINDINGS DIFFER: A {figures['A']['_findings']}, B {figures['B']['_findings']}")
    print(f"\n{'figure':32} {'A min':>9} {'A median':>9} {'B min':>9} {'B median':>9} {'min B/A':>8} {'median B/A':>10}"
          "  paired B/A range")
    for name, a in figures["A"].items():
        if name.startswith("_"):
            continue
        b = figures["B"][name]
        paired = sorted(bv / av - 1 for av, bv in zip(a, b))
        by_min, by_median = min(b) / min(a) - 1, statistics.median(b) / statistics.median(a) - 1
        print(f"{name:32} {min(a):9.3f} {statistics.median(a):9.3f} {min(b):9.3f} {statistics.median(b):9.3f} "
              f"{by_min:+8.1%} {by_median:+10.1%}  {paired[0]:+.1%} … {paired[-1]:+.1%}")


if __name__ == "__main__":
    main()
