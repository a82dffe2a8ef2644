"""A partitioned dataset on disk: its folder layout, its manifest, and which partition a project goes to.

::

    DIR/manifest.json                 format, partition count, key, hash, as_of, row counts, notes, …
    DIR/<table>/part-<i>-<k>.parquet  partition i of a table (typed catalogue columns, _source, _row);
                                      k numbers the pieces written into the dataset (one per export)
    DIR/_issues/part-<i>-<k>.parquet  the unreadable cells of the rows in partition i

Every row goes to partition ``siphash(project_id) mod N`` (rows without a project id, and every
department row, to partition 0), so partition i of every table holds all rows of the same projects,
every fiscal year of them. The hash is pandas' ``hash_array`` (SipHash-2-4, fixed key), which gives the
same number for the same id on every machine and in every process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfrules.errors import InputError, Problem, Where
from perfrules.inputs.headers import InputHeaders

FORMAT = "perfrules-partitioned-export"
VERSION = 1
MANIFEST = "manifest.json"
ISSUES = "_issues"
KEY = "project_id"
HASH = "pandas.util.hash_array (SipHash-2-4, key 0123456789123456) of the UTF-8 project id, modulo the partition count"
DEPARTMENTS = "departments"  # department records are few and read only their own table: all in partition 0


@dataclass
class Manifest:
    """What a partitioned dataset holds, as recorded in its ``manifest.json``."""

    partitions: int
    pieces: int
    present: list[str]
    absent_columns: dict[str, list[str]]
    rows: dict[str, list[int]]  # per table, the row count of each partition
    issues: list[int]  # per partition, the count of unreadable cells
    notes: list[dict[str, str]]
    sources: list[str]
    as_of: str | None = None
    exports: list[str] = field(default_factory=list)
    created: str = ""
    row_accounting: list[dict[str, Any]] = field(default_factory=list)  # per input file and table: read/checked/noted
    headers: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # "used"/"mapped": the inputs' headers

    def input_headers(self) -> InputHeaders:
        """What the partitioned inputs called each field (``perfrules.inputs.headers``)."""
        return InputHeaders(self.headers.get("used", {}), self.headers.get("mapped", {}))

    def as_json(self) -> dict[str, Any]:
        """The manifest as written (format, key and hash first, for people reading the file)."""
        return {"format": FORMAT, "version": VERSION, "partitions": self.partitions, "key": KEY, "hash": HASH,
                "departments": "partition 0", "pieces": self.pieces, "as_of": self.as_of, "exports": self.exports,
                "created": self.created, "present": self.present, "absent_columns": self.absent_columns,
                "rows": self.rows, "issues": self.issues, "notes": self.notes, "sources": self.sources,
                "row_accounting": self.row_accounting, "headers": self.headers}

    def total_rows(self, table: str) -> int:
        """Rows of ``table`` over all partitions (0 when the export had no such table)."""
        return sum(self.rows.get(table, []))


def is_partitioned(folder: Path) -> bool:
    """Whether ``folder`` is a partitioned dataset (its manifest names the format)."""
    path = folder / MANIFEST
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def read_manifest(folder: Path) -> Manifest:
    """The manifest of a partitioned dataset; a clear error when it is missing or not one this version reads."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError([Problem("partitions.no-manifest", f"{folder} 不是分区数据集（没有 {MANIFEST}）。",
                                  f"{folder} is not a partitioned dataset (no {MANIFEST}).", Where(file=str(folder)),
                                  "先运行 perfrules partition EXPORT --out DIR。", "Run perfrules partition EXPORT --out DIR first.")]) from None
    except (OSError, ValueError) as exc:
        raise InputError([Problem("partitions.manifest", f"无法读取分区清单：{exc}。", f"cannot read the partition manifest: {exc}.",
                                  Where(file=str(path)))]) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION or data.get("key") != KEY:
        raise InputError([Problem("partitions.manifest", f"分区清单的格式不是本版本可读的 {FORMAT} v{VERSION}（键 {KEY}）。",
                                  f"the partition manifest is not {FORMAT} v{VERSION} keyed by {KEY}, which this version reads.",
                                  Where(file=str(path), field="format"))])
    try:
        return Manifest(int(data["partitions"]), int(data["pieces"]), list(data["present"]),
                        {k: list(v) for k, v in data["absent_columns"].items()},
                        {k: [int(n) for n in v] for k, v in data["rows"].items()}, [int(n) for n in data["issues"]],
                        list(data["notes"]), list(data["sources"]), data.get("as_of"), list(data.get("exports", [])),
                        str(data.get("created", "")), [dict(r) for r in data.get("row_accounting", [])],
                        {k: {t: dict(f) for t, f in v.items()} for k, v in dict(data.get("headers") or {}).items()})
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError([Problem("partitions.manifest", f"分区清单缺少或写错了字段：{exc}。",
                                  f"the partition manifest lacks or misstates a field: {exc}.", Where(file=str(path)))]) from exc


def part_name(partition: int, piece: int) -> str:
    """The file name of one piece of one partition."""
    return f"part-{partition:05d}-{piece:04d}.parquet"


def part_files(folder: Path, table: str, partition: int) -> list[Path]:
    """The files of partition ``partition`` of ``table``, in piece order."""
    return sorted((folder / table).glob(f"part-{partition:05d}-*.parquet"))


def buckets(project_ids: pd.Series, partitions: int) -> np.ndarray:
    """The partition of each row: the stable hash of its project id modulo ``partitions``; 0 without an id.

    Each distinct id is hashed once (a project's related rows repeat its id many times).
    """
    if len(project_ids) == 0:
        return np.zeros(0, dtype=np.int64)
    encoded = pc.dictionary_encode(pa.array(project_ids.astype("string"), from_pandas=True).cast(pa.large_string()))
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    of_distinct = (pd.util.hash_array(distinct, categorize=False) % np.uint64(partitions)).astype(np.int64)
    codes = encoded.indices
    out = of_distinct[pc.fill_null(codes, 0).to_numpy()] if len(distinct) else np.zeros(len(codes), np.int64)
    out[codes.is_null().to_numpy(zero_copy_only=False)] = 0
    return out
