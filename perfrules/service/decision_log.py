"""The decision log (OPA-style audit): one JSON line per decision, appended durably, one file per day.

Each line is written with one ``write`` on a file opened ``O_APPEND`` (so lines of several worker
processes never interleave) and ``fsync``-ed before the response is sent: an answered decision is on disk.
After a write cut short, or in a file that ends inside a line (a crash), the next write starts a new line, so
a torn line never swallows an answered decision's. The fsync is a group commit: a flusher thread syncs
everything written since its last sync at once, and each request waits for the sync that covers its lines,
so a slow disk adds latency to a request but does not cap decisions per second.

A decision that cannot be logged durably is not made: when the write or the fsync fails (a full disk, an
I/O error) the request is answered 503 ``decision-log.failed`` without a verdict, and the server log names
the decision ids (``event: decision-log.failed``). Its line may still be in the file — the write may have
reached the page cache before the sync failed, and a log is only ever appended to, never rewritten — so an
auditor can find a logged decision id that no caller received in that server log line. Files are named ``decisions-YYYY-MM-DD.jsonl`` by the
server's local date, so a new file starts each day. ``read_decisions`` is the reader ``perfrules
decisions`` uses.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import errno
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfrules.errors import InputError, OutputError, Problem, Where

FILE_PATTERN = re.compile(r"^decisions-(\d{4}-\d{2}-\d{2})\.jsonl$")


def input_hash(body: Any) -> str:
    """``sha256:`` of the submission as canonical JSON (sorted keys), so equal inputs hash alike."""
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def day_file(directory: Path, day: str) -> Path:
    """The decision log file of ``day`` (``YYYY-MM-DD``, the server's local date): ``FILE_PATTERN``'s form."""
    return directory / f"decisions-{day}.jsonl"


def check_writable(directory: str | Path) -> None:
    """Raise ``OutputError`` naming the folder when today's decision log file cannot be created or appended to
    there (a read-only or foreign folder): the service refuses to start rather than answer every decision 503."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.close(os.open(day_file(folder, now().date().isoformat()), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640))
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise OutputError([Problem("serve.decision-log", f"无法写入决策日志目录 {folder}：{why}。",
                                   f"cannot write the decision log folder {folder}: {why}.", Where(file=str(folder)),
                                   "没有决策日志就不能作出决定：请给 --decision-log 一个可写的目录。",
                                   "No decision is made without its log line: give --decision-log a folder it can write.")]) from None


class DecisionLog:
    """Appends decision records to the day's file in ``directory``; ``append`` returns when they are written,
    its future completes when they are on disk."""

    def __init__(self, directory: str | Path, log_inputs: bool = False):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_inputs = log_inputs
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[concurrent.futures.Future[None]] = []
        self._closed = False
        self._day: str | None = None
        self._fd: int | None = None
        self._torn = False  # the file may end inside a line (a crash, or a write cut short): start on a new one
        self._flusher = threading.Thread(target=self._flush_loop, name="perfrules-decision-log", daemon=True)
        self._flusher.start()

    def append(self, records: list[dict[str, Any]]) -> concurrent.futures.Future[None]:
        """Write the records (one line each, one write per day's file); the future is done once they are fsync-ed,
        and carries the ``OSError`` when they could not be written or synced."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        if not records:
            done.set_result(None)
            return done
        by_day: dict[str, list[str]] = {}
        for r in records:
            by_day.setdefault(str(r["time"])[:10], []).append(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
        with self._lock:
            if self._closed:
                raise RuntimeError("the decision log is closed")
            try:
                for day, lines in by_day.items():
                    fd = self._file_for(day)
                    data = (("\n" if self._torn else "") + "".join(lines)).encode("utf-8")
                    written = os.write(fd, data)
                    if written != len(data):  # a short write on a regular file means the disk is full
                        raise OSError(errno.ENOSPC, f"wrote {written} of {len(data)} bytes")
                    self._torn = False
            except OSError as exc:
                if self._fd is not None:
                    self._torn = _ends_inside_a_line(self._fd)
                done.set_exception(exc)
                return done
            self._pending.append(done)
            self._wake.notify()
        return done

    def write_durably(self, records: list[dict[str, Any]]) -> None:
        """``append`` and wait for the sync (for callers without an event loop)."""
        self.append(records).result()

    def _file_for(self, day: str) -> int:
        if day != self._day or self._fd is None:
            if self._fd is not None:
                os.fsync(self._fd)  # what the flusher has not synced yet of yesterday's file
                os.close(self._fd)
            self._fd = os.open(day_file(self.directory, day), os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
            self._day = day
            self._torn = _ends_inside_a_line(self._fd)
        return self._fd

    def _flush_loop(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if not self._pending and self._closed:
                    return
                waiting, self._pending = self._pending, []
                fd = os.dup(self._fd) if self._fd is not None else None
            try:
                if fd is not None:
                    os.fsync(fd)  # outside the lock: requests keep writing while the disk syncs
            except OSError as exc:
                for f in waiting:
                    f.set_exception(exc)
            else:
                for f in waiting:
                    f.set_result(None)
            finally:
                if fd is not None:
                    os.close(fd)

    def close(self) -> None:
        """Sync what is pending, stop the flusher, close the file."""
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._flusher.join(timeout=30)
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None


def _ends_inside_a_line(fd: int) -> bool:
    try:
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
    except OSError:
        return True  # unknown: a blank line costs the reader nothing


def now() -> dt.datetime:
    """The server's local time, with its offset (the decision log's clock)."""
    return dt.datetime.now().astimezone()


@dataclass(frozen=True)
class DecisionFilter:
    """Which decisions to read: since/until (inclusive/exclusive), verdict, profile, rule id."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    verdict: str | None = None
    profile: str | None = None
    rule_id: str | None = None

    def accepts(self, record: dict[str, Any], when: dt.datetime) -> bool:
        if self.since and when < self.since:
            return False
        if self.until and when >= self.until:
            return False
        if self.verdict and record.get("verdict") != self.verdict:
            return False
        if self.profile and self.profile not in str(record.get("profile", "")).split(", "):
            return False
        return not (self.rule_id and self.rule_id not in record.get("rule_ids", []))


def read_decisions(directory: str | Path, selection: DecisionFilter) -> Iterator[dict[str, Any]]:
    """The logged decisions that pass ``selection``, oldest first; a damaged line is an error naming file and line."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError([Problem("decisions.no-log", f"决策日志目录不存在：{str(root)!r}。",
                                  f"decision log folder {str(root)!r} does not exist.", Where(file=str(root)))])
    days = sorted((m.group(1), p) for p in root.iterdir() if (m := FILE_PATTERN.match(p.name)))
    for day, path in days:
        # Files are named by the writer's local date; a day either side of the window may still hold matches.
        first = dt.date.fromisoformat(day)
        if selection.since and first < selection.since.date() - dt.timedelta(days=1):
            continue
        if selection.until and first > selection.until.date() + dt.timedelta(days=1):
            continue
        yield from _read_file(path, selection)


def _read_file(path: Path, selection: DecisionFilter) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                when = dt.datetime.fromisoformat(record["time"])
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError([Problem("decisions.bad-line", f"决策日志行无法读取：{exc}。", f"unreadable decision log line: {exc}.",
                                          Where(file=str(path), line=number))]) from exc
            if selection.accepts(record, when):
                yield record
