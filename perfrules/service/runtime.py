"""One worker's rule pack: loaded from the published record, swapped whole, used on one screening thread.

durable-rules holds the GIL and its engines are not meant to be driven from two threads at once, so
a worker screens on exactly one thread of its own (``perfrules-screen``), never on the event loop's:
a long piece of request work (an ``explain=true`` answer, a large batch) then delays the screenings
queued behind it but not ``/health``, ``/ready``, ``/metrics`` or the reading of new requests, which
the event loop keeps doing between the screening thread's turns at the GIL. A watcher thread follows
``current.json``: when the published revision changes it parses and compiles the new pack beside the
old one, then queues the swap on the screening thread, which builds the engines and swaps between two
jobs. A job takes the pack when it starts, on that thread, and uses that object throughout: it never
sees a half-loaded pack, and no job is using a pack when a swap closes it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from perfrules.atomic import write_atomic
from perfrules.evaluation.screening import Screener
from perfrules.rulepack.compile import CompiledPack, compile_pack
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.pack import load_pack
from perfrules.rulepack.profile import available_profiles
from perfrules.service.revision import CURRENT, CurrentPack, read_current

log = logging.getLogger("perfrules.service")
T = TypeVar("T")


@dataclass
class LoadedPack:
    """A published pack as one worker holds it: the durable-rules screener and each profile compiled."""

    record: CurrentPack
    pack: RulePack
    profiles: list[str]
    screener: Screener
    compiled: dict[str, CompiledPack] = field(default_factory=dict)

    @property
    def revision(self) -> str:
        return self.record.revision

    @property
    def version(self) -> str:
        return self.record.version

    @classmethod
    def load(cls, record: CurrentPack) -> LoadedPack:
        """Parse and compile the published copy (no engine yet: engines are built on the engine thread)."""
        pack = load_pack(record.directory)
        profiles = available_profiles(pack)
        return cls(record, pack, profiles, Screener(pack=pack), {p: compile_pack(pack, p) for p in profiles})

    def warm(self) -> None:
        """Build every profile's engine now, so the first request of a profile does not pay for it."""
        for profile in self.profiles:
            self.screener.screen({"projects": []}, profile=profile)

    def close(self) -> None:
        self.screener.close()


class PackHolder:
    """The worker's current pack and the watcher that follows reloads."""

    def __init__(self, state_dir: str | Path, poll_seconds: float = 0.2):
        self.state_dir = Path(state_dir)
        self.poll_seconds = poll_seconds
        self.current: LoadedPack | None = None
        self._stop = threading.Event()
        self._seen: tuple[int, int] | None = None
        self._watcher: threading.Thread | None = None
        self._screening: concurrent.futures.ThreadPoolExecutor | None = None
        self.on_swap: list[Callable[[LoadedPack], None]] = []

    def start(self) -> None:
        """Load the published pack now (the worker is not ready before), then follow the record."""
        self._screening = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="perfrules-screen")
        self._stop = threading.Event()
        self.current, self._seen = None, None
        self.check_once()
        self._watcher = threading.Thread(target=self._watch, name="perfrules-pack-watcher", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop following reloads, free the engines."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if self._screening is not None:
            self._screening.shutdown(wait=True)  # the jobs already queued finish first
            self._screening = None
        if self.current is not None:
            self.current.close()
            self.current = None
        self._worker_file().unlink(missing_ok=True)

    async def run(self, job: Callable[[LoadedPack], T]) -> T:
        """Run ``job`` on the screening thread with the pack current when it starts; the event loop stays free."""
        if self._screening is None:
            raise RuntimeError("the pack holder is not started")
        return await asyncio.wrap_future(self._screening.submit(self._with_pack, job))

    def _with_pack(self, job: Callable[[LoadedPack], T]) -> T:
        pack = self.current
        if pack is None:
            raise RuntimeError("no rule pack is loaded")
        return job(pack)

    def check_once(self) -> bool:
        """Load and swap in the published pack if its record changed; True when a new revision is now served."""
        path = self.state_dir / CURRENT
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        stamp = (st.st_ino, st.st_mtime_ns)
        if stamp == self._seen:
            return False
        self._seen = stamp
        record = read_current(self.state_dir)
        if record is None or (self.current is not None and record.revision == self.current.revision):
            return False
        started = time.perf_counter()
        loaded = LoadedPack.load(record)
        if self._screening is not None and self.current is not None:
            self._screening.submit(self._swap, loaded).result()  # between two jobs
        else:  # the first pack, before any request
            self._swap(loaded)
        log.info("pack loaded", extra={"event": "reload.loaded", "pack_revision": record.revision,
                                       "ms": round((time.perf_counter() - started) * 1000, 1)})
        return True

    def _swap(self, loaded: LoadedPack) -> None:
        loaded.warm()
        old, self.current = self.current, loaded
        if old is not None:
            old.close()  # on the screening thread, between jobs: no job is using it now
        _freeze_long_lived()
        write_atomic(self._worker_file(), json.dumps({"pid": os.getpid(), "revision": loaded.revision}) + "\n")
        for callback in self.on_swap:
            callback(loaded)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.check_once()
            except Exception:  # a published pack failed to load here: keep serving the old one, say so
                log.exception("published pack could not be loaded; the previous revision keeps serving",
                              extra={"event": "reload.load-failed"})

    def _worker_file(self) -> Path:
        return self.state_dir / "workers" / f"{os.getpid()}.json"


def _freeze_long_lived() -> None:
    """Keep what the worker has loaded (modules, the pack, its engines) out of the cycle collector's walks.

    A full collection walked all of it, ~120k objects: under load each one paused a worker for 30–75 ms, the
    whole latency budget of the requests queued behind it (measured 2026-12-06). Frozen, a collection walks
    only what requests allocate. Unfrozen first, so that a replaced pack's cycles are collected, not kept."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def worker_revisions(state_dir: str | Path) -> dict[int, str]:
    """The revision each live worker serves (from the files workers write when they swap)."""
    out: dict[int, str] = {}
    for path in (Path(state_dir) / "workers").glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        pid = int(data["pid"])
        if _alive(pid):
            out[pid] = str(data["revision"])
        else:
            path.unlink(missing_ok=True)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
