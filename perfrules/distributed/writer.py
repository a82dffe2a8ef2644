"""``perfrules partition``: an export read as a normal load reads it, written as Parquet partitions.

The export is read by the same loader steps ``check`` uses, its related tables in batches
(``perfrules.distributed.stream``), so messy values are parsed the same way and the same notes are kept
(in the manifest); what is written is the typed catalogue columns with each row's
file and row number, and the unreadable cells (each in its project's partition), so a worker reads
typed Parquet and parses nothing. Columns outside the field catalogue are not carried: no rule can read
them. The dataset is written into a temporary folder beside ``--out`` and renamed into place, so it
appears complete or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from perfrules.distributed.layout import DEPARTMENTS, ISSUES, KEY, MANIFEST, Manifest, buckets, is_partitioned, part_name
from perfrules.errors import InputError, Problem, UsageError, Where
from perfrules.inputs.column_map import ColumnMap, resolve_map
from perfrules.inputs.dataset import ROW, SOURCE, Dataset, ValueIssue
from perfrules.language.fields import TABLES

MAX_PARTITIONS = 100_000
ISSUE_SCHEMA = pa.schema([(f.name, pa.int64() if f.name == "fiscal_year" else pa.large_string()) for f in fields(ValueIssue)])


def check_count(partitions: int) -> None:
    """A usage error unless 1 ≤ ``partitions`` ≤ MAX_PARTITIONS."""
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise UsageError([Problem("partition.count", f"分区数须在 1 到 {MAX_PARTITIONS} 之间，实际为 {partitions}。",
                                  f"the partition count must be 1 to {MAX_PARTITIONS}, got {partitions}.", Where(field="--partitions"))])


class PartitionWriter:
    """Writes one or more loaded datasets (pieces) into the partitions of a folder, then its manifest."""

    def __init__(self, folder: Path, partitions: int) -> None:
        check_count(partitions)
        self.folder, self.partitions = folder, partitions
        self.pieces = 0
        self.present: set[str] = set()
        self.absent_columns: dict[str, set[str]] = {}
        self.rows = {t: [0] * partitions for t in TABLES}
        self.issues = [0] * partitions
        self.notes: list[dict[str, str]] = []
        self.sources: list[str] = []
        self.row_accounting: list[dict[str, Any]] = []
        self.as_of: dt.date | None = None
        self.headers: dict[str, dict[str, dict[str, str]]] = {"used": {}, "mapped": {}}

    def add(self, dataset: Dataset) -> None:
        """Write every table of ``dataset`` (and its unreadable cells) into the partitions, as one more piece."""
        for name in TABLES:
            if name in dataset.present:
                self.write_table(name, dataset.frame(name))
        self.write_issues(dataset.issues)
        self.record(dataset)

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """One table of the current piece, whole, into the partitions."""
        keep = [c.name for c in TABLES[name].columns] + [SOURCE, ROW]
        data = pa.Table.from_pandas(frame[keep], preserve_index=False)
        at = np.zeros(len(frame), np.int64) if name == DEPARTMENTS else buckets(frame[KEY], self.partitions)
        self._write(self.folder / name, data, at, self.pieces, self.rows[name])

    def write_issues(self, found: list[ValueIssue]) -> None:
        """The unreadable cells of the current piece, each in its project's partition (department cells in 0)."""
        issues = pa.Table.from_pylist([asdict(i) for i in found], schema=ISSUE_SCHEMA)
        at = np.array([0 if i.table == DEPARTMENTS else -1 for i in found], dtype=np.int64)
        if len(at):
            ids = pd.Series([i.project_id for i in found], dtype="string")
            at = np.where(at == 0, 0, buckets(ids, self.partitions))
        self._write(self.folder / ISSUES, issues, at, self.pieces, self.issues)

    def record(self, dataset: Dataset) -> None:
        """What the manifest says of the current piece (its tables, absent columns, notes, sources, row accounting);
        the piece is then complete. ``dataset``'s frames are not read."""
        self.pieces += 1
        self.present |= dataset.present
        for t, cols in dataset.absent_columns.items():  # absent from the dataset: absent from every piece that has the table
            self.absent_columns[t] = self.absent_columns[t] & cols if t in self.absent_columns else set(cols)
        self.notes += [{"code": n.code, "zh": n.zh, "en": n.en, "source": n.source, "table": n.table, "column": n.column}
                       for n in dataset.notes]
        self.sources += dataset.sources
        self.row_accounting += [asdict(count) for count in dataset.row_accounting.values()]
        self.as_of = max(filter(None, [self.as_of, dataset.as_of]), default=None)
        for kind, given in (("used", dataset.headers.used), ("mapped", dataset.headers.mapped)):  # the first piece's name wins
            for t, names in given.items():
                for name, header in names.items():
                    self.headers[kind].setdefault(t, {}).setdefault(name, header)

    def _write(self, folder: Path, data: pa.Table, at: np.ndarray, piece: int, counts: list[int]) -> None:
        """Rows of ``data`` into the partition files of ``folder``, each keeping the rows' order; every
        partition gets a file, empty ones too, so that every partition reads with the same columns."""
        folder.mkdir(parents=True, exist_ok=True)
        order = np.argsort(at, kind="stable")
        sizes = np.bincount(at, minlength=self.partitions) if len(at) else np.zeros(self.partitions, np.int64)
        if int(sizes.sum()) != data.num_rows:  # every row goes somewhere: a dropped row would be a silent pass
            raise AssertionError(f"{folder.name}: {int(sizes.sum())} rows bucketed of {data.num_rows}")
        ordered = data.take(pa.array(order)) if data.num_rows else data
        start = 0
        for i, size in enumerate(sizes.tolist()):
            pq.write_table(ordered.slice(start, size), folder / part_name(i, piece), compression="zstd")
            counts[i] += size
            start += size

    def finish(self, exports: list[str]) -> Manifest:
        """Write the manifest (the last file: a folder without it is not a partitioned dataset)."""
        present = [t for t in TABLES if t in self.present]
        manifest = Manifest(
            self.partitions, self.pieces, present,
            {t: sorted(cols) for t, cols in sorted(self.absent_columns.items())},
            {t: self.rows[t] for t in present}, self.issues, self.notes, self.sources,
            self.as_of.isoformat() if self.as_of else None, exports, dt.datetime.now().replace(microsecond=0).isoformat(),
            self.row_accounting, self.headers)
        (self.folder / MANIFEST).write_text(json.dumps(manifest.as_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return manifest


def partition_export(export: str | Path, out: str | Path, partitions: int, column_map: ColumnMap | str | None = None,
                     batch_rows: int | None = None) -> Manifest:
    """Read ``export`` (through ``column_map``, a map name or file, when given; else the map its manifest
    names, if any) and write it to ``out`` as ``partitions`` partitions (see the module docstring). Its related
    tables are read ``batch_rows`` rows at a time (``perfrules.distributed.stream``)."""
    export, out = Path(export), Path(out)
    chosen = resolve_map(column_map)  # a wrong map is an error before anything is written
    if not export.is_dir():
        raise InputError([Problem("partition.not-export", f"{export} 不是导出目录。", f"{export} is not an export folder.",
                                  Where(file=str(export)), "partition 读取一个导出目录（每表一个 CSV/XLSX/Parquet 文件）。",
                                  "partition reads one export folder (one CSV/XLSX/Parquet file per table).")])
    from perfrules.distributed.stream import BATCH_ROWS, partition_streaming  # (it writes through PartitionWriter)
    with writing_folder(out, partitions) as writer:
        partition_streaming(export, writer, chosen, batch_rows or BATCH_ROWS)
        return writer.finish([str(export)])


@contextmanager
def writing_folder(out: Path, partitions: int) -> Iterator[PartitionWriter]:
    """A ``PartitionWriter`` on a temporary folder beside ``out``, renamed to ``out`` when the block ends
    without an error (and removed when it does not). An existing partitioned dataset at ``out`` is replaced;
    any other existing folder is refused."""
    check_count(partitions)
    if out.exists() and not (out.is_dir() and (is_partitioned(out) or not any(out.iterdir()))):
        raise UsageError([Problem("partition.out-exists", f"{out} 已存在且不是分区数据集；不会覆盖。",
                                  f"{out} exists and is not a partitioned dataset; it is not overwritten.",
                                  Where(file=str(out)), "换一个 --out 目录。", "Choose another --out folder.")])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise InputError([Problem("partition.write", f"无法创建输出目录：{exc}。", f"cannot create the output folder: {exc}.",
                                  Where(file=str(out)))]) from exc
    try:
        yield PartitionWriter(tmp, partitions)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; workers may run under other accounts
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError([Problem("partition.write", f"写出分区失败：{exc}。", f"writing the partitions failed: {exc}.",
                                  Where(file=str(out)))]) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
