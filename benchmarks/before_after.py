"""Before and after a change (issue 13): the nightly Parquet end to end and the screening p50, of two checkouts,
measured in one run, interleaved, so that both meet the machine's slow spells alike.

    .venv/bin/python benchmarks/before_after.py BEFORE_CHECKOUT [--after .] [--projects 1000000] [--rounds 3]

Each checkout runs with its own ``.venv`` (``python3 -m venv .venv && .venv/bin/pip install -e .`` in it). The
export is generated once by this checkout's ``benchmarks/synthetic.py`` and read by both; screening times
``Screener.screen`` over the bundled sample submissions (a warm engine, as the service holds one). Prints each
round's figures, then min and median per checkout and the change in per cent.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nightly import ensure_export, run_process_tree  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

SCREEN = """
import datetime as dt, json, sys, time
from pathlib import Path
try:
    from perfrules.evaluation.screening import Screener
except ImportError:  # the layout before issue 13
    from perfrules.screening import Screener
docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(sys.argv[1]).glob("*.json"))]
docs = [{k: v for k, v in d.items() if k != "expect"} for d in docs]
s = Screener()
for d in docs * 5:
    s.screen(d)
times = []
for _ in range(int(sys.argv[2])):
    for d in docs:
        t = time.perf_counter()
        s.screen(d)
        times.append((time.perf_counter() - t) * 1000)
times.sort()
print(times[len(times) // 2], times[int(len(times) * 0.99)])
"""


STAGES = ("load", "facts", "evaluate", "findings", "write")
OUTPUTS = ("workbook", "notices", "jsonl", "csv", "html")  # each output's own seconds (they overlap within "write")


def nightly_seconds(checkout: Path, export: Path) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU (user + system, of every process the run started) seconds of one nightly run (on a loaded machine
    the CPU time says more), and the run's own seconds per stage and per output from its summary.json (an output
    the checkout does not write is absent), which say where a difference between two checkouts lies."""
    with tempfile.TemporaryDirectory() as tmp:
        run = run_process_tree([str(checkout / ".venv" / "bin" / "perfrules"), "nightly", str(export),
                                "--out", str(Path(tmp) / "run"), "--profile", "national", "--quiet", "--fail-on", "never"],
                               checkout)
        if run.exit_code != 0:
            raise SystemExit(f"nightly failed in {checkout} (exit code {run.exit_code})")
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text(encoding="utf-8"))
        parts = {k: summary["timings"][k] for k in STAGES if k in summary["timings"]}
        parts |= {k: v for k, v in summary.get("write_timings", {}).items() if k in OUTPUTS}
        return run.wall, run.cpu, parts


def screening_ms(checkout: Path, rounds: int) -> tuple[float, float]:
    out = subprocess.run([str(checkout / ".venv" / "bin" / "python"), "-c", SCREEN, str(ROOT / "samples" / "submissions"),
                          str(rounds)], cwd=checkout, check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("--after", type=Path, default=ROOT)
    ap.add_argument("--projects", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--screen-rounds", type=int, default=30, help="passes over the sample submissions per measurement")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "perfrules-bench")
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    export = ensure_export(args.data, args.projects, "parquet")
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    nightly: dict[str, list[float]] = {k: [] for k in sides}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    p50: dict[str, list[float]] = {k: [] for k in sides}
    parts: dict[str, dict[str, list[float]]] = {k: {} for k in sides}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for r in range(args.rounds):
        for name, checkout in (sides.items() if r % 2 == 0 else reversed(sides.items())):
            seconds, cpu_seconds, stages = nightly_seconds(checkout, export)
            median, p99 = screening_ms(checkout, args.screen_rounds)
            nightly[name].append(seconds)
            cpu[name].append(cpu_seconds)
            p50[name].append(median)
            for k, v in stages.items():
                parts[name].setdefault(k, []).append(v)
            print(f"round {r + 1} {name:6}: nightly {seconds:6.1f} s (CPU {cpu_seconds:6.1f} s)   screening p50 {median:6.2f} ms  p99 {p99:6.2f} ms",
                  flush=True)
            print("         stages " + "  ".join(f"{k} {v:.1f}" for k, v in stages.items()) + " s", flush=True)
    print(f"load average at end: {os.getloadavg()}")
    print("stage and output seconds (medians; the outputs overlap within write):")
    for k in (*STAGES, *OUTPUTS):
        b, a = parts["before"].get(k), parts["after"].get(k)
        shown = [f"{name} {statistics.median(v):5.1f} s" if v else f"{name}     —  " for name, v in (("before", b), ("after", a))]
        print(f"  {k:9} " + "   ".join(shown))
    for label, figures, unit in (("nightly Parquet end to end", nightly, "s"), ("nightly CPU time", cpu, "s"),
                                 ("screening p50", p50, "ms")):
        b, a = statistics.median(figures["before"]), statistics.median(figures["after"])
        print(f"{label}: before min {min(figures['before']):.2f} median {b:.2f} {unit}; after min {min(figures['after']):.2f} "
              f"median {a:.2f} {unit}; change {100 * (a - b) / b:+.1f}% (floor: no worse than +10%)")


if __name__ == "__main__":
    main()
