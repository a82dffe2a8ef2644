"""Pack revisions and reload: a pack is published once, whole and checked, and every worker follows the record.

A rules directory is copied into the service's state folder before it is checked, so what passed is
exactly what the workers load, whatever is edited in the directory afterwards. Its revision is a
content hash of the copied files. Only a copy that compiles under every profile (durable-rules
engines included) and lints clean is moved to ``packs/<revision>/`` and named in ``current.json``,
which is replaced by a rename: a worker reads either the old record or the new one, never a mix.

A reload has a time limit (``publish_within``): a check that has not finished by then is rejected and the
old revision keeps serving. The check itself cannot be interrupted, so it runs on; a ``CommitGate`` makes
sure it can no longer publish once the caller has been told it was rejected.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfrules.atomic import write_atomic
from perfrules.errors import PerfrulesError, Problem, Where

log = logging.getLogger("perfrules.service")
CURRENT = "current.json"
SHORT = 12


def pack_revision(directory: str | Path) -> str:
    """A content hash of every file under ``directory`` (names and bytes; hidden files and caches left out)."""
    root = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(_pack_files(root)):
        rel = path.relative_to(root).as_posix().encode("utf-8")
        data = path.read_bytes()
        digest.update(len(rel).to_bytes(4, "big") + rel + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:SHORT]


def _pack_files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        parts = path.relative_to(root).parts
        if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in parts):
            yield path


@dataclass(frozen=True)
class CurrentPack:
    """The published pack every worker serves: its revision, version and checked copy."""

    revision: str
    version: str
    directory: str
    source: str
    published_at: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``current.json``."""
        return dataclasses.asdict(self)


@dataclass
class PublishOutcome:
    """What a reload did: the revision it checked, and either the pack now current or the problems that stopped it."""

    revision: str
    current: CurrentPack | None
    problems: list[Problem]
    changed: bool = False
    timed_out: bool = False

    @property
    def accepted(self) -> bool:
        return self.current is not None


def read_current(state_dir: str | Path) -> CurrentPack | None:
    """The record of the published pack, or None before the first publish."""
    path = Path(state_dir) / CURRENT
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return CurrentPack(**data)


class CommitGate:
    """Decided once, between a reload's check and the caller waiting for it: the check publishes, or the wait expires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: str | None = None

    def commit(self) -> bool:
        """True when the check may publish (the wait has not expired)."""
        with self._lock:
            self._state = self._state or "committed"
            return self._state == "committed"

    def expire(self) -> bool:
        """True when the check will not publish now (it had not committed)."""
        with self._lock:
            self._state = self._state or "expired"
            return self._state == "expired"


def publish_within(rules_dir: str | Path, state_dir: str | Path, seconds: float) -> PublishOutcome:
    """``publish``, rejected (``timed_out``) when its check takes longer than ``seconds``; the old pack stays current."""
    gate = CommitGate()
    done: concurrent.futures.Future[PublishOutcome] = concurrent.futures.Future()

    def run() -> None:
        try:
            outcome = publish(rules_dir, state_dir, gate)
        except BaseException as exc:  # handed to the waiter, who reports it
            done.set_exception(exc)
            return
        done.set_result(outcome)
        if outcome.timed_out:
            log.warning("a reload check finished after its time limit; it was not published",
                        extra={"event": "reload.late", "checked_revision": outcome.revision})

    threading.Thread(target=run, name="perfrules-reload-check", daemon=True).start()
    try:
        return done.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        if not gate.expire():
            return done.result()  # it committed just now: it is publishing
        where = Where(file=str(rules_dir))
        problem = Problem("reload.timeout", f"规则包的检查超过 {seconds:g} 秒仍未完成，已放弃，未发布。",
                          f"checking the pack took longer than {seconds:g} s; it was abandoned and not published.", where,
                          "可用 --reload-timeout 放宽时限。", "--reload-timeout sets the limit.")
        return PublishOutcome("", None, [problem], timed_out=True)


def publish(rules_dir: str | Path, state_dir: str | Path, gate: CommitGate | None = None) -> PublishOutcome:
    """Copy, check and (if it passes, and ``gate`` still allows) publish ``rules_dir``; one publisher at a time across processes."""
    state = Path(state_dir)
    packs = state / "packs"
    packs.mkdir(parents=True, exist_ok=True)
    source = Path(rules_dir)
    if not source.is_dir():
        where = Where(file=str(source))
        return PublishOutcome("", None, [Problem("pack.not-found", f"规则目录不存在：{str(source)!r}。",
                                                 f"rules directory {str(source)!r} does not exist.", where)])
    with _publish_lock(state):
        incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=packs))
        try:
            copy = incoming / "rules"
            try:
                shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".*", "__pycache__"))
            except (shutil.Error, OSError) as exc:  # a dangling link, a pipe, a file it may not read
                return PublishOutcome("", None, _uncopyable(exc, source))
            revision = pack_revision(copy)
            problems, version = check_pack(copy)
            if problems:
                return PublishOutcome(revision, None, [_renamed(p, copy, source) for p in problems])
            if gate is not None and not gate.commit():
                return PublishOutcome(revision, None, [], timed_out=True)
            final = packs / revision
            if not final.exists():
                os.rename(copy, final)
            previous = read_current(state)
            current = CurrentPack(revision, version, str(final), str(source.resolve()),
                                  dt.datetime.now().astimezone().isoformat(timespec="seconds"))
            if previous is None or previous.revision != revision:
                write_atomic(state / CURRENT, json.dumps(current.to_dict(), ensure_ascii=False) + "\n")
                _prune(packs, keep={revision, previous.revision if previous else ""})
                return PublishOutcome(revision, current, [], changed=True)
            return PublishOutcome(revision, previous, [], changed=False)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)


def _uncopyable(exc: shutil.Error | OSError, source: Path) -> list[Problem]:
    """A problem per file of the rules directory that could not be copied (``shutil.Error`` lists each)."""
    failures = exc.args[0] if isinstance(exc, shutil.Error) and isinstance(exc.args[0], list) else [(exc.filename or source, "", exc)]
    problems = []
    for src, _, why in failures:
        text = getattr(why, "strerror", None) or str(why)
        problems.append(Problem("pack.unreadable-file", f"规则目录中的 {src} 无法读取：{text}。",
                                f"{src} in the rules directory cannot be read: {text}.", Where(file=str(src)),
                                "删除或修复它（如指向已移走文件的链接、管道）。", "Remove or repair it (a link to a moved file, a pipe, …)."))
    return problems


def _prune(packs: Path, keep: set[str], retain: int = 5) -> None:
    """Remove old published copies, keeping the current and previous ones and the few newest."""
    copies = sorted((p for p in packs.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in copies[retain:]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def check_pack(directory: Path) -> tuple[list[Problem], str]:
    """Every lint problem of the pack, else a compile of every profile on durable-rules; and the pack version."""
    from perfrules.authoring.lint import lint
    from perfrules.evaluation.screening import Screener
    from perfrules.rulepack.pack import load_pack
    from perfrules.rulepack.profile import available_profiles

    problems = lint(directory)
    if problems:
        return problems, ""
    try:
        pack = load_pack(directory)
        screener = Screener(pack=pack)
        try:
            for profile in available_profiles(pack):
                screener.screen({"projects": []}, profile=profile)  # builds that profile's engine
        finally:
            screener.close()
    except PerfrulesError as exc:
        return exc.problems, ""
    return [], pack.version


def _renamed(problem: Problem, copy: Path, source: Path) -> Problem:
    """The problem as found in the checked copy, named by the user's own directory."""
    old, new = str(copy), str(source)
    where = problem.where
    if where.file:
        where = dataclasses.replace(where, file=where.file.replace(old, new))
    return dataclasses.replace(problem, zh=problem.zh.replace(old, new), en=problem.en.replace(old, new), where=where)


@contextmanager
def _publish_lock(state: Path) -> Iterator[None]:
    with open(state / "publish.lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
