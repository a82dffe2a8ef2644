"""Service benchmark (issue 16): `perfrules serve --workers 2` on loopback under a bounded load.

    .venv/bin/python benchmarks/service.py [--seconds 5] [--workers 2] [--batch-size 20] [--no-decision-log]

Starts the real server on a free 127.0.0.1 port (with a decision log in a temporary folder, fsync per
decision, unless --no-decision-log), then drives POST /v1/screen with an asyncio load generator (raw
HTTP/1.1 on keep-alive connections, so the generator itself costs little CPU) at concurrency 1, 8 and
32 for a fixed time each, and POST /v1/screen/batch at concurrency 8. The bodies cycle through the
bundled sample submissions. Prints decisions/s and p50/p99 latency per level, and the in-process
`perfrules.screen()` figures on the same submissions beside them. Beside each level: the server's CPU time per
decision (all its processes, user + system, from /proc over the measured seconds) — the figure a busy shared
machine moves least.
Floors (2-core machine): ≥ 400 decisions/s and p99 ≤ 25 ms at concurrency 8; batch ≥ 2× single decisions/s;
each is printed with PASS or FAIL, and the load average before and after the run.

A/B on a noisy machine: ``--baseline DIR`` (a checkout of another commit, e.g. ``git archive <commit> | tar -x -C DIR``)
starts a second server from DIR's ``perfrules`` beside this one; the two are driven level by level, interleaved
(A, B, A, B … for ``--rounds`` rounds), so both see the same load, and each figure is printed as a range.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "samples" / "submissions").glob("*.json"))


def start_server(workers: int, log_dir: str | None, source: str | None = None) -> tuple[subprocess.Popen, int]:
    """``perfrules serve`` on a free loopback port, from this checkout or from ``source`` (another checkout's root)."""
    args = [sys.executable, "-m", "perfrules", "serve", "--port", "0", "--workers", str(workers), "--max-batch", "1000"]
    if log_dir:
        args += ["--decision-log", log_dir]
    env = {**os.environ, "PYTHONPATH": source} if source else None
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=source)
    assert proc.stderr is not None
    port, ready = None, 0
    for line in proc.stderr:  # the port, then every worker listening on it (each has a socket of its own)
        if '"event": "listening"' in line:
            port = json.loads(line)["port"]
        ready += '"event": "worker.listening"' in line
        if port is not None and (ready >= workers or source):  # (a checkout before per-worker sockets says only "listening")
            break
    else:
        raise SystemExit("the server did not start")
    # keep reading the log so the pipe never fills
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    return proc, port


def request_bytes(path: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def one_connection(port: int, requests: list[bytes], until: float, latencies: list[float], errors: list[str], offset: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.perf_counter() < until:
            payload = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(h.split(b":", 1)[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            if status != 200:
                errors.append(str(status))
                continue
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server process and all its descendants (the workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # a process that just ended
    return total


async def drive(port: int, requests: list[bytes], concurrency: int, seconds: float,
                server_pid: int) -> tuple[list[float], list[str], float, float]:
    """Latencies, errors, elapsed seconds and the server's CPU seconds of the measured part."""
    # warm-up: every connection's first requests are not counted
    warm: list[float] = []
    await asyncio.gather(*(one_connection(port, requests, time.perf_counter() + 0.5, warm, [], k) for k in range(concurrency)))
    latencies: list[float] = []
    errors: list[str] = []
    cpu = server_cpu_seconds(server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(one_connection(port, requests, started + seconds, latencies, errors, k * 7) for k in range(concurrency)))
    return latencies, errors, time.perf_counter() - started, server_cpu_seconds(server_pid) - cpu


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def in_process(docs: list[dict], seconds: float) -> tuple[float, float, float, float]:
    import perfrules
    for doc in docs:
        perfrules.screen(doc)  # build the engine, warm caches
    times = []
    cpu = time.process_time()
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        t = time.perf_counter()
        perfrules.screen(docs[i % len(docs)])
        times.append(time.perf_counter() - t)
        i += 1
    elapsed = time.perf_counter() - started
    return (len(times) / elapsed, statistics.median(times) * 1000, percentile(times, 0.99) * 1000,
            (time.process_time() - cpu) * 1000 / len(times))


LEVELS = (("/v1/screen", 1), ("/v1/screen", 8), ("/v1/screen", 32), ("/v1/screen/batch", 8))


def measure(server_pid: int, port: int, level: tuple[str, int], singles: list[bytes], batches: list[bytes], batch_size: int,
            seconds: float) -> tuple[float, float, float, int, float]:
    """decisions/s, p50 ms, p99 ms (per request), errors, and server CPU ms per decision of one level against one server."""
    path, concurrency = level
    per_request = batch_size if path.endswith("batch") else 1
    lat, errors, elapsed, cpu = asyncio.run(drive(port, batches if per_request > 1 else singles, concurrency, seconds, server_pid))
    decisions = len(lat) * per_request
    return (decisions / elapsed, percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000, len(errors),
            cpu * 1000 / decisions if decisions else float("nan"))


def span(values: list[float], digits: int) -> str:
    low, high = min(values), max(values)
    return f"{low:.{digits}f}" if len(values) == 1 or f"{low:.{digits}f}" == f"{high:.{digits}f}" else f"{low:.{digits}f}–{high:.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per level")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--no-decision-log", action="store_true")
    parser.add_argument("--baseline", metavar="DIR", help="another checkout to measure beside this one, interleaved")
    parser.add_argument("--rounds", type=int, default=1, help="times each level is measured (per server)")
    args = parser.parse_args()

    docs = [json.loads(p.read_text(encoding="utf-8")) for p in SAMPLES]
    for d in docs:
        d.pop("expect", None)
    singles = [request_bytes("/v1/screen", json.dumps(d, ensure_ascii=False).encode()) for d in docs]
    batches = []
    for k in range(len(docs)):
        items = [{"id": f"{k}-{j}", "submission": docs[(k + j) % len(docs)]} for j in range(args.batch_size)]
        batches.append(request_bytes("/v1/screen/batch", json.dumps({"items": items}, ensure_ascii=False).encode()))

    load_before = os.getloadavg()
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    sources = {"this checkout": None, **({f"baseline {args.baseline}": str(Path(args.baseline).resolve())} if args.baseline else {})}
    results: dict[tuple[str, int], list[tuple[float, float, float, int]]] = {}
    try:
        for name, source in sources.items():
            log_dir = None if args.no_decision_log else tempfile.mkdtemp(prefix="perfrules-bench-log-")
            servers[name] = start_server(args.workers, log_dir, source)
        time.sleep(1.0)
        for _ in range(args.rounds):
            for level in LEVELS:
                for name, (proc, port) in servers.items():  # interleaved: every server sees the same minutes
                    results.setdefault((name, LEVELS.index(level)), []).append(
                        measure(proc.pid, port, level, singles, batches, args.batch_size, args.seconds))
    finally:
        for proc, _ in servers.values():
            proc.send_signal(signal.SIGTERM)
        for proc, _ in servers.values():
            proc.wait(60)
    rate, p50, p99, cpu_ms = in_process(docs, args.seconds)
    load_after = os.getloadavg()

    print(f"perfrules serve --workers {args.workers}, {args.seconds:g} s per level × {args.rounds} round(s), {len(docs)} sample submissions, "
          f"decision log {'off' if args.no_decision_log else 'on (fsync per decision)'}")
    print(f"machine: {os.cpu_count()} CPUs; load average (1/5/15 min) before {'/'.join(f'{x:.1f}' for x in load_before)}, "
          f"after {'/'.join(f'{x:.1f}' for x in load_after)}")
    verdicts = []
    for name in servers:
        print(f"\n{name}")
        print(f"{'load':44} {'decisions/s':>12} {'p50 ms':>12} {'p99 ms':>14} {'errors':>7} {'server CPU ms/decision':>23}")
        rows = {}
        for i, (path, concurrency) in enumerate(LEVELS):
            runs = results[(name, i)]
            rows[i] = runs
            label = f"{path} c={concurrency}" + (f" ({args.batch_size}/request, ms per request)" if path.endswith("batch") else "")
            print(f"{label:44} {span([r[0] for r in runs], 0):>12} {span([r[1] for r in runs], 2):>12} {span([r[2] for r in runs], 2):>14} "
                  f"{sum(r[3] for r in runs):7d} {span([r[4] for r in runs], 2):>23}")
        single8, batch8 = rows[1], rows[3]
        worst_rate, worst_p99 = min(r[0] for r in single8), max(r[2] for r in single8)
        ratio = min(r[0] for r in batch8) / max(r[0] for r in single8)
        verdicts.append((name, [
            ("c=8 ≥ 400 decisions/s", worst_rate >= 400, f"{worst_rate:.0f} (lowest round)"),
            ("c=8 p99 ≤ 25 ms", worst_p99 <= 25, f"{worst_p99:.1f} ms (highest round)"),
            ("batch ≥ 2× single (c=8)", ratio >= 2, f"{ratio:.2f}× (lowest batch over highest single)"),
        ]))
    print(f"\n{'in-process perfrules.screen() (after the servers stopped)':44} {rate:12.0f} {p50:12.2f} {p99:14.2f} {'':7} {cpu_ms:23.2f}")
    for name, floors in verdicts:
        print(f"\nfloors, {name}:")
        for text, ok, figure in floors:
            print(f"  {'PASS' if ok else 'FAIL'}  {text}: {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
