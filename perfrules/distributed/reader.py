"""A partitioned dataset read back as ``Dataset``s: one partition (what a worker checks), or all of them
(``check``/``nightly`` on one machine).

The typed columns come back with the dtypes the loader gave them; the dataset-wide facts (which tables
and columns the export had, its notes, its as-of date) come from the manifest, not from a partition,
so a partition without any rows of a table still knows the export had that table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from perfrules.distributed.layout import ISSUES, Manifest, part_files, read_manifest
from perfrules.errors import InputError, Problem, Where
from perfrules.inputs.dataset import Dataset, InputNote, ValueIssue, empty_frame
from perfrules.inputs.placement import RowCount
from perfrules.language.fields import TABLES


def load_partitioned(folder: str | Path) -> Dataset:
    """Every partition of a partitioned dataset as one Dataset, with the export's notes."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    ds = load_partitions(folder, manifest, range(manifest.partitions))
    ds.notes = [InputNote(**n) for n in manifest.notes]
    return ds


def load_partition(folder: str | Path, manifest: Manifest, partition: int) -> Dataset:
    """Partition ``partition`` as a Dataset. Its notes are empty: the export's notes are the dataset's, reported once."""
    return load_partitions(Path(folder), manifest, [partition])


def load_partitions(folder: Path, manifest: Manifest, partitions: range | list[int]) -> Dataset:
    """The given partitions, in order, as one Dataset (without the export's notes)."""
    tables: dict[str, pd.DataFrame] = {}
    for name, table in TABLES.items():
        if name in manifest.present:
            tables[name] = _read(folder, name, partitions, manifest.partitions)
        else:
            tables[name] = empty_frame(table)
    issues = _read(folder, ISSUES, partitions, manifest.partitions, frame=False)
    dataset = Dataset(tables, set(manifest.present), {t: set(c) for t, c in manifest.absent_columns.items()},
                      [ValueIssue(**row) for row in issues.to_pylist()], [],
                      dt.date.fromisoformat(manifest.as_of) if manifest.as_of else None, list(manifest.sources))
    # The row accounting is the export's, taken when it was partitioned; every partition carries it whole.
    dataset.row_accounting = {(r["source"], r["table"]): RowCount(**r) for r in manifest.row_accounting}
    dataset.headers = manifest.input_headers()
    return dataset


def _read(folder: Path, name: str, partitions: range | list[int], count: int, frame: bool = True) -> pd.DataFrame | pa.Table:
    per_partition = [part_files(folder, name, i) for i in partitions]
    files = [f for found in per_partition for f in found]
    if not all(per_partition):  # every partition has a file of every table the export had, empty or not
        raise InputError([Problem("partitions.missing-file", f"分区数据集不完整：{folder / name} 缺少分区文件（共 {count} 个分区）。",
                                  f"the partitioned dataset is incomplete: {folder / name} lacks partition files ({count} partitions).",
                                  Where(file=str(folder / name)), "重新运行 perfrules partition。", "Run perfrules partition again.")])
    try:
        parts = [pq.read_table(f) for f in files]
    except (OSError, pa.ArrowException) as exc:
        raise InputError([Problem("partitions.unreadable", f"无法读取分区文件：{exc}。", f"cannot read a partition file: {exc}.",
                                  Where(file=str(folder / name)))]) from exc
    data = parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="default")
    if not frame:
        return data
    out = data.to_pandas()
    for column in TABLES[name].columns:
        if column.kind == "list":  # Parquet lists come back as arrays; the loader's values are lists
            out[column.name] = pd.Series(data[column.name].to_pylist(), index=out.index, dtype=object)
    return out
