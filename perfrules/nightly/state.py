"""The state of the nightly run: which findings were present last time, so tonight can say what changed.

``perfrules nightly EXPORT --out RUN_DIR --state STATE_DIR`` compares tonight's findings with the last
committed run's: each finding is **new** or **persisting** (with how many consecutive runs it has been
present), and findings present last run but gone tonight are **resolved**.

On disk (one state directory)::

    STATE_DIR/
      lock                 flock target; while held it names the holder ({"pid", "started", "host"})
      CURRENT              the name of the committed generation, e.g. "gen-000042\\n"
      gen-000041/          the generation before (kept so an operator can roll back one run by hand)
      gen-000042/
        findings.parquet   one row per finding key: key, rule_id, title, severity, project_id,
                           fiscal_year, department, first_seen, nights (+ run_date in the file metadata)
        history.jsonl      one JSON object per committed run, oldest first

Generations and a pointer: a committed generation is never modified. ``commit`` writes a whole new
generation directory, fsyncs its files and the directory, and only then switches ``CURRENT`` with an
atomic rename. Readers look only at what ``CURRENT`` names, so a crash at any moment before the rename
leaves the previous state exactly as it was; a crash after it leaves the new one. A generation that
``CURRENT`` does not name (numbered above it) is the remains of a failed commit: readers ignore it and the
next commit deletes it. After the switch, generations older than the one just replaced are deleted (best
effort: a leftover only costs disk space).

The lock: ``lock()`` takes an exclusive, non-blocking ``flock`` on ``STATE_DIR/lock`` so that two nightly
runs cannot interleave compare and commit; the second one fails at once with a message naming the first
(pid and start time). The kernel releases a flock when its holder dies, so a crashed run never leaves a
stale lock. ``commit`` takes the lock itself when its store does not already hold it.

A run that fails before ``commit`` (an unreadable export, a failing rule pack) leaves the state untouched:
nothing is written until ``commit``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import json
import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from perfrules.atomic import fsync_directory, fsync_file, replace_file
from perfrules.errors import PerfrulesError, Problem
from perfrules.findings.schema import SCHEMA as FINDINGS
from perfrules.findings.schema import TEXT
from perfrules.inputs.values import one_array

__all__ = ["Comparison", "Previous", "StateError", "StateLocked", "StateStore"]

FINDING_COLUMNS = ["key", "rule_id", "title", "severity", "project_id", "fiscal_year", "department"]
STATE_COLUMNS = FINDING_COLUMNS + ["first_seen", "nights"]
RESOLVED_COLUMNS = FINDING_COLUMNS + ["nights", "first_seen"]

STATE_SCHEMA = pa.schema(  # the findings table's columns (text stored as plain string), and what the state adds
    [(c, pa.string() if FINDINGS.field(c).type == TEXT else FINDINGS.field(c).type) for c in FINDING_COLUMNS]
    + [("first_seen", pa.string()), ("nights", pa.int64())])
FORMAT_KEY = b"perfrules.nightly.state.format"
FORMAT_VERSION = b"1"
RUN_DATE_KEY = b"perfrules.nightly.state.run_date"
REPETITIVE_COLUMNS = ["rule_id", "title", "severity", "department", "first_seen"]
COMPRESSION = "zstd"

POINTER = "CURRENT"
LOCK_FILE = "lock"
FINDINGS_FILE = "findings.parquet"
HISTORY_FILE = "history.jsonl"
GENERATION_NAME = re.compile(r"^gen-(\d{6,})$")

STRING_DTYPE = pd.StringDtype("pyarrow")
ARROW_TO_PANDAS = {pa.string(): STRING_DTYPE, pa.large_string(): STRING_DTYPE, pa.int64(): pd.Int64Dtype()}


class StateError(PerfrulesError):
    """A problem with the state directory a person can act on; ``str()`` gives "zh (en)".

    A ``PerfrulesError`` too, so the CLI's one error handler prints it and exits with code 2.
    """

    def __init__(self, zh: str, en: str, code: str = "state.error"):
        self.zh = zh
        self.en = en
        self.code = code
        super().__init__([Problem(code, zh, en)])

    def __str__(self) -> str:
        return f"{self.zh} ({self.en})"


class StateLocked(StateError):
    """Another run holds the state directory's lock."""

    def __init__(self, directory: Path, pid: int | None, started: str | None, host: str | None):
        self.directory = directory
        self.pid = pid
        self.started = started
        self.host = host
        if pid is None:
            # The holder has taken the lock but not yet written its name into the lock file.
            holder_zh, holder_en = "进程未知", "process unknown"
        else:
            on_zh, on_en = (f"主机 {host}，", f"host {host}, ") if host and host != socket.gethostname() else ("", "")
            holder_zh = f"{on_zh}进程 {pid}，开始于 {started or '未知'}"
            holder_en = f"{on_en}process {pid}, started {started or 'unknown'}"
        super().__init__(
            f"状态目录 {directory} 正被另一个 perfrules nightly 运行占用（{holder_zh}）；请等它结束后再运行。",
            f"The state directory {directory} is in use by another perfrules nightly run ({holder_en}); "
            "wait for it to finish, then run again.",
            "state.locked")


@dataclass
class Previous:
    """The last committed state."""

    generation: str           # e.g. "gen-000042"
    run_date: str | None      # the run_date of the run that committed it
    table: pa.Table           # one row per key, columns STATE_COLUMNS (low-cardinality strings dictionary-encoded)

    @functools.cached_property
    def findings(self) -> pd.DataFrame:
        """The state as a DataFrame, one row per key: strings as ``string`` dtype, numbers as ``Int64``."""
        return to_frame(self.table)


@dataclass
class Comparison:
    """Tonight's findings against the last committed state; ``StateStore.commit`` makes it the new state."""

    findings: pd.DataFrame        # the input rows, same order, plus ``status`` ("new"/"persisting") and ``nights``
    resolved: pd.DataFrame        # keys of the previous state absent tonight, columns RESOLVED_COLUMNS
    counts: dict[str, int]        # {"new", "resolved", "persisting"}, in distinct keys
    run_date: str
    first_run: bool               # no previous state: everything is new
    previous_run_date: str | None
    base_generation: str | None   # the generation compared against; commit refuses if CURRENT moved on since
    next_state: pa.Table          # one row per key, schema STATE_SCHEMA: what commit writes


class StateStore:
    """The state directory of the nightly run (see the module docstring for the layout)."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"无法创建或使用状态目录 {self.directory}：{exc.strerror or exc}。请检查路径和权限。",
                f"Cannot create or use the state directory {self.directory}: {exc.strerror or exc}. "
                "Check the path and its permissions.",
                "state.unusable") from None
        self._lock_fd: int | None = None
        self._cache: tuple[tuple[Any, ...], Previous] | None = None

    # -- lock -------------------------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the state directory exclusively; raise ``StateLocked`` at once if another run holds it.

        Re-entrant for this store object only (so ``commit`` inside the caller's ``with store.lock()`` works);
        another ``StateStore`` on the same directory conflicts even in the same process, as flock locks
        belong to the open file, not the process.
        """
        if self._lock_fd is not None:
            yield
            return
        fd = self._acquire_lock()
        self._lock_fd = fd
        try:
            yield
        finally:
            self._lock_fd = None
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)  # closing the last descriptor of the open file releases the flock

    def _acquire_lock(self) -> int:
        path = self.directory / LOCK_FILE
        try:
            # CLOEXEC: a program this run starts must not inherit (and so prolong) the lock. A forked child
            # without exec still shares it until it exits.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateError(
                f"无法打开锁文件 {path}：{exc.strerror or exc}。请检查状态目录的权限。",
                f"Cannot open the lock file {path}: {exc.strerror or exc}. Check the state directory's permissions.",
                "state.unusable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_lock_holder(path)
            os.close(fd)
            raise StateLocked(self.directory, holder.get("pid"), holder.get("started"), holder.get("host")) from None
        except OSError as exc:  # e.g. a network filesystem without flock
            os.close(fd)
            raise StateError(
                f"无法锁定 {path}：{exc.strerror or exc}。状态目录须放在支持文件锁（flock）的本地文件系统上。",
                f"Cannot lock {path}: {exc.strerror or exc}. Keep the state directory on a local filesystem "
                "that supports file locks (flock).",
                "state.unusable") from None
        holder_text = json.dumps({"pid": os.getpid(), "started": dt.datetime.now().isoformat(timespec="seconds"),
                                  "host": socket.gethostname()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, (holder_text + "\n").encode(), 0)
        return fd

    # -- reading ----------------------------------------------------------------------------------------

    def validate(self, check: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        """Read the committed state (pointer, findings, history) and raise ``state.corrupt`` if any part is damaged.

        A nightly run calls this before loading and checking the export, so a damaged state costs seconds,
        not the run's evaluation time. The findings read here are cached for ``compare``.
        """
        self.previous()
        self.history(check)

    def previous(self) -> Previous | None:
        """The last committed state, or None before the first commit."""
        generation = self._current_generation()
        if generation is None:
            return None
        path = self.directory / generation / FINDINGS_FILE
        try:
            st = path.stat()
        except FileNotFoundError:
            # A commit by another process may have replaced and deleted this generation since we read CURRENT.
            if self._current_generation() != generation:
                return self.previous()
            raise self._corrupt(path, "文件不存在", "the file does not exist") from None
        except OSError as exc:
            raise self._corrupt(path, str(exc.strerror or exc), str(exc.strerror or exc)) from None
        identity = (generation, st.st_ino, st.st_size, st.st_mtime_ns)
        if self._cache is not None and self._cache[0] == identity:
            return self._cache[1]
        previous = self._read_generation(generation)
        self._cache = (identity, previous)
        return previous

    def history(self, check: Callable[[dict[str, Any]], str | None] | None = None) -> list[dict]:
        """The committed history entries, oldest first ([] before the first commit).

        ``check`` names what is wrong with an entry (or returns None); an entry it faults is ``state.corrupt``.
        """
        generation = self._current_generation()
        if generation is None:
            return []
        path = self.directory / generation / HISTORY_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if self._current_generation() != generation:
                return self.history(check)
            raise self._corrupt(path, "文件不存在", "the file does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise self._corrupt(path, str(exc), str(exc)) from None
        entries = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise self._corrupt(path, f"第 {number} 行不是有效的 JSON（{exc.msg}）",
                                    f"line {number} is not valid JSON ({exc.msg})") from None
            if not isinstance(entry, dict):
                raise self._corrupt(path, f"第 {number} 行不是 JSON 对象", f"line {number} is not a JSON object")
            wrong = check(entry) if check is not None else None
            if wrong is not None:
                raise self._corrupt(path, f"第 {number} 行的 {wrong} 不对", f"line {number} has a wrong {wrong}")
            entries.append(entry)
        return entries

    def _current_generation(self) -> str | None:
        path = self.directory / POINTER
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            # No pointer is a fresh state only when there is nothing it could point at: with generations
            # on disk the pointer was lost, and starting over would prune them.
            if self._generations():
                raise self._corrupt(path, "文件不存在，但目录中有已提交的代", "it is missing, yet the directory holds committed generations") from None
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise self._corrupt(path, str(exc), str(exc)) from None
        name = text.strip()
        if not GENERATION_NAME.match(name):
            raise self._corrupt(path, f"内容 {text[:40]!r} 不是代目录名", f"its content {text[:40]!r} is not a generation name")
        if not (self.directory / name).is_dir():
            raise self._corrupt(self.directory / name, f"{POINTER} 指向的代目录不存在",
                                f"the generation directory {POINTER} points to does not exist")
        return name

    def _read_generation(self, generation: str) -> Previous:
        path = self.directory / generation / FINDINGS_FILE
        try:
            # Decoding the repetitive columns as dictionaries makes reading several times faster.
            table = pq.read_table(path, read_dictionary=REPETITIVE_COLUMNS)
        except (OSError, pa.ArrowException) as exc:
            raise self._corrupt(path, f"无法读取（{exc}）", f"cannot be read ({exc})") from None
        metadata = table.schema.metadata or {}
        if metadata.get(FORMAT_KEY) != FORMAT_VERSION:
            found = (metadata.get(FORMAT_KEY) or b"none").decode(errors="replace")
            raise self._corrupt(path, f"格式版本为 {found}，本程序只认 {FORMAT_VERSION.decode()}",
                                f"its format version is {found}; this program reads {FORMAT_VERSION.decode()}")
        expected = [(f.name, f.type) for f in STATE_SCHEMA]
        found_columns = [(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in table.schema]
        if found_columns != expected:
            raise self._corrupt(path, f"列与预期（{', '.join(STATE_COLUMNS)}）不符",
                                f"its columns are not the expected ones ({', '.join(STATE_COLUMNS)})")
        if table["key"].null_count or table["nights"].null_count:
            raise self._corrupt(path, "含有空的键或次数", "it holds empty keys or night counts")
        run_date = metadata.get(RUN_DATE_KEY)
        return Previous(generation, run_date.decode() if run_date is not None else None, table)

    def _corrupt(self, path: Path, why_zh: str, why_en: str) -> StateError:
        aside = f"{self.directory}.bad"
        return StateError(
            f"状态目录 {self.directory} 已损坏：{path}：{why_zh}。若要从头开始记录，可把该目录移到别处"
            f"（例如 mv {self.directory} {aside}）后重新运行；下一次运行会把所有发现都当作新发现。",
            f"The state in {self.directory} is damaged: {path}: {why_en}. To start afresh, move the directory "
            f"aside (e.g. mv {self.directory} {aside}) and run again; the next run then treats every finding as new.",
            "state.corrupt")

    # -- comparing --------------------------------------------------------------------------------------

    def compare(self, findings: pd.DataFrame, run_date: str) -> Comparison:
        """Tonight's findings against the last committed state (nothing is written)."""
        missing = [c for c in FINDING_COLUMNS if c not in findings.columns]
        if missing:
            raise ValueError(f"findings lack the columns {missing}")
        tonight = pa.table({c: arrow_column(findings[c], STATE_SCHEMA.field(c).type) for c in FINDING_COLUMNS})
        keys = tonight["key"].combine_chunks()
        if keys.null_count:
            raise ValueError("findings have rows without a key")
        previous = self.previous()
        previous_state = previous.table if previous is not None else STATE_SCHEMA.empty_table()

        # For each row tonight: its row in the previous state, or null.
        previous_row = pc.index_in(keys, value_set=previous_state["key"].combine_chunks())
        known = previous_row.is_valid()
        nights = pc.fill_null(pc.add(pc.take(previous_state["nights"], previous_row), 1), 1)
        status = pc.if_else(known, "persisting", "new")
        out = findings.assign(status=pd.arrays.ArrowStringArray(status),
                              nights=pd.array(nights.to_numpy(), dtype="Int64"))

        seen = np.zeros(previous_state.num_rows, dtype=bool)
        seen[previous_row.drop_null().to_numpy()] = True
        resolved = to_frame(previous_state.filter(pa.array(~seen)).select(RESOLVED_COLUMNS))

        first_of_key = first_occurrences(keys)
        first_seen = pc.fill_null(pc.take(previous_state["first_seen"], previous_row).cast(pa.string()), run_date)
        next_state = (tonight.append_column("first_seen", first_seen).append_column("nights", nights)
                      .filter(first_of_key).cast(STATE_SCHEMA)
                      .replace_schema_metadata({FORMAT_KEY: FORMAT_VERSION, RUN_DATE_KEY: run_date.encode()}))

        known_keys = pc.sum(pc.and_(first_of_key, known)).as_py() or 0
        counts = {"new": next_state.num_rows - known_keys, "resolved": len(resolved), "persisting": known_keys}
        return Comparison(
            findings=out, resolved=resolved, counts=counts, run_date=run_date, first_run=previous is None,
            previous_run_date=previous.run_date if previous else None,
            base_generation=previous.generation if previous else None, next_state=next_state)

    # -- committing -------------------------------------------------------------------------------------

    def commit(self, comparison: Comparison, history_entry: dict) -> None:
        """Make the comparison's state the current one, atomically, and append ``history_entry`` to the history."""
        history_line = json.dumps(history_entry, ensure_ascii=False, default=json_default) + "\n"
        with self.lock():
            current = self._current_generation()
            if current != comparison.base_generation:
                raise StateError(
                    f"状态目录 {self.directory} 在比较之后已被另一次运行更新（比较时为 {comparison.base_generation or '空'}，"
                    f"现在为 {current}）；本次结果未记入状态，请重新运行。",
                    f"The state in {self.directory} was updated by another run after this comparison "
                    f"(compared with {comparison.base_generation or 'no state'}, now {current}); "
                    "tonight's results were not recorded, run again.",
                    "state.stale")
            previous_history = b""
            if current is not None:
                self.history()  # a damaged history must stop the commit, not be copied along
                history_path = self.directory / current / HISTORY_FILE
                try:
                    previous_history = history_path.read_bytes()
                except OSError as exc:
                    raise self._corrupt(history_path, str(exc.strerror or exc), str(exc.strerror or exc)) from None
            current_number = generation_number(current) if current else 0
            self._remove_generations(lambda n: n > current_number)  # remains of failed commits

            new = f"gen-{max([current_number, *self._generations().values()]) + 1:06d}"
            new_dir = self.directory / new
            created = False
            try:
                new_dir.mkdir()
                created = True
                pq.write_table(comparison.next_state, new_dir / FINDINGS_FILE, compression=COMPRESSION)
                fsync_file(new_dir / FINDINGS_FILE)
                (new_dir / HISTORY_FILE).write_bytes(previous_history + history_line.encode("utf-8"))
                fsync_file(new_dir / HISTORY_FILE)
                fsync_directory(new_dir)
                self._switch_pointer(new)
            except BaseException as exc:
                if created:
                    shutil.rmtree(new_dir, ignore_errors=True)
                if isinstance(exc, OSError):
                    raise StateError(
                        f"无法写入状态目录 {self.directory}：{exc.strerror or exc}（{exc.filename or new_dir}）。"
                        "原有状态未改变；请检查磁盘空间和权限后重新运行。",
                        f"Cannot write to the state directory {self.directory}: {exc.strerror or exc} "
                        f"({exc.filename or new_dir}). The previous state is unchanged; check disk space and "
                        "permissions, then run again.",
                        "state.write-failed") from exc
                raise
            try:
                fsync_directory(self.directory)  # makes the switch itself durable
            except OSError as exc:
                raise StateError(
                    f"状态目录 {self.directory} 已切换到 {new}，但无法确认已写入磁盘：{exc.strerror or exc}。",
                    f"The state in {self.directory} was switched to {new}, but it could not be flushed to disk: "
                    f"{exc.strerror or exc}.",
                    "state.write-failed") from exc
            # Keep the generation just replaced (a manual roll-back target); older ones go.
            self._remove_generations(lambda n: n < current_number)

    def _switch_pointer(self, generation: str) -> None:
        replace_file(self.directory / POINTER, generation + "\n")

    def _generations(self) -> dict[str, int]:
        return {p.name: int(m.group(1)) for p in self.directory.iterdir()
                if (m := GENERATION_NAME.match(p.name)) and p.is_dir()}

    def _remove_generations(self, doomed: Callable[[int], bool]) -> None:
        for name, number in self._generations().items():
            if doomed(number):
                shutil.rmtree(self.directory / name, ignore_errors=True)


def arrow_column(series: pd.Series, type: pa.DataType) -> pa.Array:
    """A pandas column as one Arrow array of ``type`` (zero-copy for Arrow-backed columns; NaN and None become null)."""
    array = one_array(series)
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array if array.type == type else array.cast(type)


def first_occurrences(keys: pa.Array) -> pa.Array:
    """A boolean mask: True at the first row of each distinct key."""
    encoded = keys.dictionary_encode()
    if len(encoded.dictionary) == len(keys):
        return pa.array(np.ones(len(keys), dtype=bool))
    mask = np.zeros(len(keys), dtype=bool)
    mask[np.unique(encoded.indices.to_numpy(), return_index=True)[1]] = True
    return pa.array(mask)


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A state table as a DataFrame: strings as ``string`` dtype, integers as ``Int64``."""
    plain = table.cast(pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                                  for f in table.schema]))
    return plain.to_pandas(types_mapper=ARROW_TO_PANDAS.get)


def generation_number(name: str) -> int:
    """42 for "gen-000042"."""
    match = GENERATION_NAME.match(name)
    assert match, name
    return int(match.group(1))


def read_lock_holder(path: Path) -> dict[str, Any]:
    """What the lock's holder wrote into the lock file ({} when nothing readable is there yet)."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    if not isinstance(holder, dict):
        return {}
    pid = holder.get("pid")
    return {"pid": pid if isinstance(pid, int) else None, "started": holder.get("started"), "host": holder.get("host")}


def history_entry_problem(entry: dict[str, Any]) -> str | None:
    """The name of the first field of a history entry that is missing or of the wrong type, or None.

    The reports draw the trend from these entries; a hand-edited or damaged one is found here, not there.
    """
    counts = entry.get("by_severity")
    checks = {
        "finished": isinstance(entry.get("finished"), str),
        "as_of": isinstance(entry.get("as_of"), str),
        "total": isinstance(entry.get("total"), int) and not isinstance(entry.get("total"), bool),
        "by_severity": isinstance(counts, dict) and all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                                                        for k, v in counts.items()),
    }
    return next((name for name, ok in checks.items() if not ok), None)


def json_default(value: Any) -> Any:
    """JSON for the values a history entry is likely to hold besides the plain ones (numpy numbers, dates)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"history entry value {value!r} ({type(value).__name__}) is not JSON-serialisable")
