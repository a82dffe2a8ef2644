"""Prometheus metrics in the text exposition format, summed over the worker processes.

Each worker counts in memory and writes its counts to ``metrics/<pid>.json`` in the state folder
about once a second; ``/metrics`` adds the files of the other workers to its own live counts, so a
scrape that lands on any worker sees the whole service. Counters of a worker that stopped stay in
the sum (counters never go down while the service runs).
"""

from __future__ import annotations

import bisect
import json
import os
import threading
from pathlib import Path
from typing import Any

from perfrules.atomic import write_atomic

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
HELP = {
    "perfrules_http_requests_total": ("counter", "HTTP requests by method, route and status."),
    "perfrules_http_request_duration_seconds": ("histogram", "HTTP request latency by route."),
    "perfrules_decisions_total": ("counter", "Screening decisions by verdict."),
    "perfrules_errors_total": ("counter", "Requests answered with an error, by reason code."),
    "perfrules_reloads_total": ("counter", "Pack reloads by outcome (accepted, unchanged, rejected)."),
    "perfrules_pack_info": ("gauge", "The pack revision each worker serves (1 per worker and revision)."),
}

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """One worker's counters and histograms."""

    def __init__(self, state_dir: str | Path | None = None):
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, Labels], float] = {}
        self.histograms: dict[tuple[str, Labels], list[float]] = {}  # bucket counts…, +Inf count, sum
        self.info: dict[tuple[str, Labels], float] = {}
        self.folder = Path(state_dir) / "metrics" if state_dir else None
        self.pid = os.getpid()

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self.counters[key] = self.counters.get(key, 0.0) + amount

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            h = self.histograms.setdefault(key, [0.0] * (len(BUCKETS) + 2))
            h[bisect.bisect_left(BUCKETS, seconds)] += 1
            h[-1] += seconds

    def set_pack(self, revision: str, version: str) -> None:
        with self._lock:
            self.info = {("perfrules_pack_info", (("revision", revision), ("version", version), ("worker", str(self.pid)))): 1.0}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"counters": [[n, dict(lb), v] for (n, lb), v in self.counters.items()],
                    "histograms": [[n, dict(lb), list(h)] for (n, lb), h in self.histograms.items()],
                    "info": [[n, dict(lb), v] for (n, lb), v in self.info.items()]}

    def save(self) -> None:
        """Write this worker's counts for the others to add up."""
        if self.folder is not None:
            write_atomic(self.folder / f"{self.pid}.json", json.dumps(self.snapshot()))

    def render(self) -> str:
        """The text exposition of every worker's counts (this worker's live, the others' from their files)."""
        snaps = [self.snapshot()]
        if self.folder is not None and self.folder.is_dir():
            for path in self.folder.glob("*.json"):
                if path.stem == str(self.pid):
                    continue
                try:
                    snaps.append(json.loads(path.read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    continue  # a file being replaced: the next scrape reads it
        live = _live_pids(self.folder)
        counters: dict[tuple[str, Labels], float] = {}
        histograms: dict[tuple[str, Labels], list[float]] = {}
        info: dict[tuple[str, Labels], float] = {}
        for snap in snaps:
            for name, labels, value in snap["counters"]:
                key = (name, tuple(sorted(labels.items())))
                counters[key] = counters.get(key, 0.0) + value
            for name, labels, h in snap["histograms"]:
                key = (name, tuple(sorted(labels.items())))
                total = histograms.setdefault(key, [0.0] * len(h))
                for i, v in enumerate(h):
                    total[i] += v
            for name, labels, value in snap["info"]:
                if labels.get("worker") == str(self.pid) or int(labels.get("worker", 0)) in live:
                    info[(name, tuple(sorted(labels.items())))] = value
        return _exposition(counters, histograms, info)


def _live_pids(folder: Path | None) -> set[int]:
    out: set[int] = set()
    if folder is None or not folder.is_dir():
        return out
    for path in folder.glob("*.json"):
        try:
            pid = int(path.stem)
            os.kill(pid, 0)
            out.add(pid)
        except (ValueError, ProcessLookupError):
            continue
        except PermissionError:
            out.add(int(path.stem))
    return out


def _labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    items = (*labels, *extra)
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _exposition(counters: dict[tuple[str, Labels], float], histograms: dict[tuple[str, Labels], list[float]],
                info: dict[tuple[str, Labels], float]) -> str:
    lines: list[str] = []
    for name, (kind, text) in HELP.items():
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        if kind == "histogram":
            for (n, labels), h in sorted(histograms.items()):
                if n != name:
                    continue
                running = 0.0
                for bound, count in zip((*BUCKETS, "+Inf"), h[:-1]):
                    running += count
                    le = bound if isinstance(bound, str) else repr(bound)
                    lines.append(f"{name}_bucket{_labels(labels, (('le', le),))} {_number(running)}")
                lines.append(f"{name}_sum{_labels(labels)} {h[-1]!r}")
                lines.append(f"{name}_count{_labels(labels)} {_number(running)}")
            continue
        source = info if name == "perfrules_pack_info" else counters
        for (n, labels), value in sorted(source.items()):
            if n == name:
                lines.append(f"{name}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"
