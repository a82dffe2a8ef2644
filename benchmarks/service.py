"""Service benchmark (issue 16): `perfrules serve --workers 2` on loopback under a bounded load.

    .venv/bin/python benchmarks/service.py [--seconds 5] [--workers 2] [--batch-size 20] [--no-decision-log]

Starts the real server on a free 127.0.0.1 port (with a decision log in a temporary folder, fsync per
decision, unless --no-decision-log), then drives POST /v1/screen with an asyncio load generator (raw
HTTP/1.1 on keep-alive connections, so the generator itself costs little CPU) at concurrency 1, 8 and
32 for a fixed time each, and POST /v1/screen/batch at concurrency 8. The bodies cycle through the
bundled sample submissions. Prints decisions/s and p50/p99 latency per level, and the in-process
`perfrules.screen()` figures on the same submissions beside them.
Floors (2-core machine): ≥ 400 decisions/s and p99 ≤ 25 ms at concurrency 8; batch ≥ 2× single decisions/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "samples" / "submissions").glob("*.json"))


def start_server(workers: int, log_dir: str | None) -> tuple[subprocess.Popen, int]:
    args = [sys.executable, "-m", "perfrules", "serve", "--port", "0", "--workers", str(workers), "--max-batch", "1000"]
    if log_dir:
        args += ["--decision-log", log_dir]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if '"event": "listening"' in line:
            port = json.loads(line)["port"]
            break
    else:
        raise SystemExit("the server did not start")
    # keep reading the log so the pipe never fills
    asyncio.get_event_loop_policy()
    import threading
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


async def drive(port: int, requests: list[bytes], concurrency: int, seconds: float) -> tuple[list[float], list[str], float]:
    # warm-up: every connection's first requests are not counted
    warm: list[float] = []
    await asyncio.gather(*(one_connection(port, requests, time.perf_counter() + 0.5, warm, [], k) for k in range(concurrency)))
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(*(one_connection(port, requests, started + seconds, latencies, errors, k * 7) for k in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def in_process(docs: list[dict], seconds: float) -> tuple[float, float, float]:
    import perfrules
    for doc in docs:
        perfrules.screen(doc)  # build the engine, warm caches
    times = []
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        t = time.perf_counter()
        perfrules.screen(docs[i % len(docs)])
        times.append(time.perf_counter() - t)
        i += 1
    elapsed = time.perf_counter() - started
    return len(times) / elapsed, statistics.median(times) * 1000, percentile(times, 0.99) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per level")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--no-decision-log", action="store_true")
    args = parser.parse_args()

    docs = [json.loads(p.read_text(encoding="utf-8")) for p in SAMPLES]
    for d in docs:
        d.pop("expect", None)
    singles = [request_bytes("/v1/screen", json.dumps(d, ensure_ascii=False).encode()) for d in docs]
    batches = []
    for k in range(len(docs)):
        items = [{"id": f"{k}-{j}", "submission": docs[(k + j) % len(docs)]} for j in range(args.batch_size)]
        batches.append(request_bytes("/v1/screen/batch", json.dumps({"items": items}, ensure_ascii=False).encode()))

    log_dir = None if args.no_decision_log else tempfile.mkdtemp(prefix="perfrules-bench-log-")
    proc, port = start_server(args.workers, log_dir)
    rows = []
    try:
        time.sleep(1.0)
        for concurrency in (1, 8, 32):
            lat, errors, elapsed = asyncio.run(drive(port, singles, concurrency, args.seconds))
            rows.append((f"/v1/screen  c={concurrency}", len(lat) / elapsed, percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000, len(errors)))
        lat, errors, elapsed = asyncio.run(drive(port, batches, 8, args.seconds))
        rows.append((f"/v1/screen/batch ({args.batch_size}/request) c=8", len(lat) * args.batch_size / elapsed,
                     percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000, len(errors)))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    rate, p50, p99 = in_process(docs, args.seconds)
    rows.append(("in-process perfrules.screen()", rate, p50, p99, 0))

    print(f"perfrules serve --workers {args.workers}, {args.seconds:g} s per level, {len(docs)} sample submissions, "
          f"decision log {'off' if args.no_decision_log else 'on (fsync per request)'}")
    print(f"{'load':44} {'decisions/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r, a, b, e in rows:
        print(f"{name:44} {r:12.0f} {a:8.2f} {b:8.2f} {e:7d}")
    c8 = rows[1]
    batch = rows[3]
    print()
    print(f"floor c=8 ≥ 400 decisions/s: {'met' if c8[1] >= 400 else 'NOT met'} ({c8[1]:.0f})")
    print(f"floor c=8 p99 ≤ 25 ms: {'met' if c8[3] <= 25 else 'NOT met'} ({c8[3]:.1f} ms)")
    print(f"floor batch ≥ 2× single: {'met' if batch[1] >= 2 * c8[1] else 'NOT met'} ({batch[1] / c8[1]:.1f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
