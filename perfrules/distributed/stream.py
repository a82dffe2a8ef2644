"""``perfrules partition`` without holding the export in memory: the related tables are read in batches.

The projects table (and the departments table) is read whole, as the loader reads it: every related row
is placed by the projects' ids and fiscal years, and duplicate records are found among them. Each related
table (indicators, payments, monitoring, evaluations: most of an export's rows) is then read in batches
of ``batch_rows`` rows — CSV with Arrow's streaming reader, Parquet row group by row group — and each
batch goes through the loader's own steps: ``name_columns`` (headers, units, the column map),
``typed_frame`` (values), ``related_set_aside`` (placement), ``unplaceable_issues`` (D03), and is appended
to its partitions' files. What is kept across batches is small: the rows set aside (their file and row,
for the notes), the unreadable cells and the row counts.

Notes, unreadable cells and row accounting come out as ``load_export`` gives them (same order too): the
parity tests compare the two paths. Read whole instead of in batches, each with its reason:
an XLSX file (a sheet holds at most 1,048,576 rows, so its memory is bounded), and a CSV file that is
not all UTF-8, has a blank line, or a record over several lines or an unclosed quote (``_scan_csv``: the
loader decides a GBK file's encoding and numbers such a file's rows by physical line over the whole file).
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from perfrules.distributed.layout import KEY, buckets, part_name
from perfrules.distributed.writer import PartitionWriter
from perfrules.errors import InputError, Problem, Where
from perfrules.inputs.column_map import ColumnMap, manifest_map
from perfrules.inputs.dataset import (
    ROW,
    SOURCE,
    Dataset,
    InputNote,
    ValueIssue,
    _set_aside_note,
    add_departments_of_projects,
    duplicate_records_note,
    prior_columns_supplied,
    typed_frame,
    unplaceable_issues,
)
from perfrules.inputs.export import (
    MANIFEST_NAMES,
    MOSTLY_DISTINCT,
    NOTED_ROWS,
    _check_field_sizes,
    _read_csv,
    _read_xlsx,
    export_files,
    map_headers,
    missing_columns,
    name_columns,
    read_manifest,
    read_table,
    row_numbers,
)
from perfrules.inputs.headers import InputHeaders
from perfrules.inputs.keys import unique_keys
from perfrules.inputs.placement import (
    RELATED_BY_YEAR,
    UNPLACEABLE,
    RowCount,
    SetAside,
    blank_ids,
    project_keys,
    related_set_aside,
    set_aside_rows,
)
from perfrules.language.fields import TABLES, Table, resolve_header

BATCH_ROWS = 250_000
SCAN_BYTES = 1 << 24
WHOLE = ("projects", "departments")  # read whole: every related row is placed against the projects


@dataclass
class FileResult:
    """What one table file gave, kept until the end so that notes and cells come out in file order."""

    notes: list[InputNote] = field(default_factory=list)
    issues: list[ValueIssue] = field(default_factory=list)
    unreadable: int = 0


class StreamedTable:
    """One table's partition files, appended to batch by batch (one Parquet writer per partition)."""

    def __init__(self, writer: PartitionWriter, name: str) -> None:
        self.writer, self.name = writer, name
        self.folder = writer.folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.keep = [c.name for c in TABLES[name].columns] + [SOURCE, ROW]
        self.schema: pa.Schema | None = None
        self.files: dict[int, pq.ParquetWriter] = {}

    def write(self, frame: pd.DataFrame) -> None:
        data = pa.Table.from_pandas(frame[self.keep], preserve_index=False)
        if self.schema is None:  # a column missing from every row of the first batch is typed as the loader types it
            self.schema = pa.schema([f.with_type(_typed(self.name, f)) if pa.types.is_null(f.type) else f for f in data.schema],
                                    metadata=data.schema.metadata)
        data = data.cast(self.schema)
        if not data.num_rows:
            return
        at = buckets(frame[KEY], self.writer.partitions)
        order = np.argsort(at, kind="stable")
        sizes = np.bincount(at, minlength=self.writer.partitions)
        ordered = data.take(pa.array(order))
        start = 0
        for i, size in enumerate(sizes.tolist()):
            if size:
                self._file(i).write_table(ordered.slice(start, size))
                self.writer.rows[self.name][i] += size
            start += size

    def _file(self, i: int) -> pq.ParquetWriter:
        if i not in self.files:
            assert self.schema is not None
            self.files[i] = pq.ParquetWriter(self.folder / part_name(i, self.writer.pieces), self.schema, compression="zstd")
        return self.files[i]

    def close(self) -> None:
        """Every partition gets a file, empty ones too, so that every partition reads with the same columns."""
        for file in self.files.values():
            file.close()
        if self.schema is not None:
            for i in range(self.writer.partitions):
                if i not in self.files:
                    pq.write_table(self.schema.empty_table(), self.folder / part_name(i, self.writer.pieces), compression="zstd")


def _typed(table: str, f: pa.Field) -> pa.DataType:
    kind = TABLES[table].by_name[f.name].kind if f.name in TABLES[table].by_name else "string"
    return pa.list_(pa.string()) if kind == "list" else pa.large_string()


def partition_streaming(export: Path, writer: PartitionWriter, column_map: ColumnMap | None, batch_rows: int = BATCH_ROWS) -> None:
    """Write ``export`` into ``writer`` as one piece, reading its related tables in batches of ``batch_rows`` rows."""
    shown = str(export)
    column_map = column_map or manifest_map(export, MANIFEST_NAMES)
    notes: list[InputNote] = []
    files = export_files(export, shown, column_map, notes)
    results = {name: FileResult() for name in files}
    absent_columns: dict[str, set[str]] = {}
    headers_of: dict[str, dict[str, str]] = {}

    # The record tables, whole, as the loader reads them.
    # The record tables whole, as the loader reads them; of each related table its first batch, whose header
    # is checked here: files are opened in the loader's order, so the same mistake is reported first.
    whole: dict[str, pd.DataFrame] = {}
    opened: dict[str, Iterator[tuple[pd.DataFrame, pd.Series]]] = {}
    for name, path in files.items():
        if name in WHOLE:
            whole[name] = _read_whole(path, TABLES[name], export, column_map, results[name], absent_columns, headers_of)
            continue
        batches = _batches(path, TABLES[name], results[name], batch_rows)
        first = next(batches)
        mapped = column_map.reader(TABLES[name], path, export, [], []) if column_map else None
        _check_required(name_columns(first[0], first[1], path, TABLES[name], [], mapped)[0], TABLES[name], path)
        opened[name] = itertools.chain([first], batches)
    projects = whole["projects"]
    departments = whole.get("departments")
    aside: list[SetAside] = []
    blank = blank_ids(projects["project_id"])
    if blank.any():
        aside.append(SetAside("projects", "blank-id", blank))
    if departments is not None and len(departments):
        blank_dept = blank_ids(departments["department"])
        if blank_dept.any():
            aside.append(SetAside("departments", "blank-id", blank_dept))
    set_aside_notes = [_set_aside_note(whole[a.table], a.table, a.reason, a.mask) for a in aside]
    noted = {(a.table, str(s)): int(n) for a in aside for s, n in _by_source(whole[a.table][a.mask]).items()}
    kept = set_aside_rows(whole, aside)
    projects = kept["projects"]
    known_ids, record_keys = project_keys(projects)
    ids = unique_keys(projects["project_id"]) if len(projects) else None

    # The related tables, batch by batch.
    read: dict[tuple[str, str], int] = {}
    checked: dict[tuple[str, str], int] = {}
    set_aside: dict[tuple[str, str], list[pd.DataFrame]] = {}
    unplaceable: dict[str, list[ValueIssue]] = {t: [] for t in UNPLACEABLE}
    for name, path in files.items():
        if name in WHOLE:
            continue
        table, result, sink = TABLES[name], results[name], StreamedTable(writer, name)
        seen_notes: set[InputNote] = set()
        seen_issues: set[ValueIssue] = set()
        try:
            for number, (raw, rows) in enumerate(opened[name]):
                batch_notes: list[InputNote] = []
                batch_issues: list[ValueIssue] = []
                mapped = column_map.reader(table, path, export, batch_issues, batch_notes) if column_map else None
                raw, headers, units = name_columns(raw, rows, path, table, batch_notes, mapped)
                if number == 0:
                    _check_required(raw, table, path)
                    absent_columns[name] = {c.name for c in table.columns if c.name not in raw.columns}
                    headers_of[name] = headers
                frame = typed_frame(table, raw, units, path.name, rows, batch_issues, headers)
                # header-level notes and cells (a duplicate column, an absent mapped column) come with every batch: kept once
                result.notes += [n for n in batch_notes if not (n in seen_notes or seen_notes.add(n))]  # type: ignore[func-returns-value]
                result.issues += [i for i in batch_issues if not (i in seen_issues or seen_issues.add(i))]  # type: ignore[func-returns-value]
                read[(path.name, name)] = read.get((path.name, name), 0) + len(frame)
                found = related_set_aside(name, frame, known_ids, record_keys)
                for a in found:
                    set_aside.setdefault((name, a.reason), []).append(frame.loc[a.mask, [SOURCE, ROW]])
                    noted[(name, path.name)] = noted.get((name, path.name), 0) + int(a.mask.sum())
                frame = set_aside_rows({name: frame}, found)[name]
                checked[(path.name, name)] = checked.get((path.name, name), 0) + len(frame)
                if name in UNPLACEABLE:
                    unplaceable[name] += unplaceable_issues({t: frame if t == name else frame.iloc[:0] for t in UNPLACEABLE},
                                                            {name: headers_of[name]}, {i.cell for i in batch_issues})
                sink.write(frame)
        finally:
            sink.close()

    # The projects (as read: their prior-year evaluations are taken under each profile's precedence when checked,
    # in the partition that holds both), and the departments.
    present = set(files)
    record_tables = {"projects": projects} | ({"departments": kept["departments"]} if departments is not None else {})
    ds = Dataset(record_tables, present, absent_columns=absent_columns, as_of=read_manifest(export),
                 sources=[str(p) for p in files.values()])
    prior_columns_supplied(ds)
    writer.write_table("projects", projects)
    if departments is not None:
        # a department with projects but no row gets its empty record here, where every project is seen (P16)
        add_departments_of_projects(ds)
        writer.write_table("departments", ds.frame("departments"))

    for name in RELATED_BY_YEAR + ("evaluations",):
        for reason in ("blank-id", "unknown-project", "other-year", "outside-year"):
            if (name, reason) in set_aside:
                rows = pd.concat(set_aside[(name, reason)], ignore_index=True)
                set_aside_notes.append(_set_aside_note(rows, name, reason, np.ones(len(rows), dtype=bool)))
    for absent in TABLES:
        if absent not in files and absent != "projects":
            notes.append(InputNote("input.absent-table", f"导出中没有 {absent}（{TABLES[absent].zh}）表。",
                                   f"the export has no {absent} table.", shown, absent))
    unknown = sum(n.code == "input.unknown-file" for n in notes)  # found before any file is read; absent tables, after
    ds.notes = notes[:unknown] + [n for r in results.values() for n in r.notes] + notes[unknown:]
    ds.notes += [n for group in set_aside_notes for n in group]
    duplicates = duplicate_records_note(projects) if ids is None else None
    if duplicates is not None:
        ds.notes.append(duplicates)
    issues = [i for r in results.values() for i in r.issues] + [i for t in UNPLACEABLE for i in unplaceable[t]]
    ds.row_accounting = _accounting(files, whole, kept, read, checked, noted, results)
    ds.headers = InputHeaders(headers_of, map_headers(column_map))  # the file's own headers, as the loader keeps them
    writer.write_issues(issues)
    writer.record(ds)


def _by_source(frame: pd.DataFrame) -> dict[str, int]:
    if not len(frame):
        return {}
    return {str(k): int(v) for k, v in frame[SOURCE].value_counts(sort=False).items() if v}


def _check_required(raw: pd.DataFrame, table: Table, path: Path) -> None:
    problems = missing_columns(raw, table, path)
    if problems:
        raise InputError(problems)


def _read_whole(path: Path, table: Table, export: Path, column_map: ColumnMap | None, result: FileResult,
                absent_columns: dict[str, set[str]], headers_of: dict[str, dict[str, str]]) -> pd.DataFrame:
    """A table file read whole, as ``load_export`` reads it."""
    before = len(result.notes)
    mapped = column_map.reader(table, path, export, result.issues, result.notes) if column_map else None
    raw, rows, headers, units = read_table(path, table, result.notes, mapped)
    result.unreadable = sum(n.code in NOTED_ROWS for n in result.notes[before:])
    _check_required(raw, table, path)
    absent_columns[table.name] = {c.name for c in table.columns if c.name not in raw.columns}
    headers_of[table.name] = headers
    return typed_frame(table, raw, units, path.name, rows, result.issues, headers)


def _accounting(files: dict[str, Path], whole: dict[str, pd.DataFrame], kept: dict[str, pd.DataFrame],
                read: dict[tuple[str, str], int], checked: dict[tuple[str, str], int], noted: dict[tuple[str, str], int],
                results: dict[str, FileResult]) -> dict[tuple[str, str], RowCount]:
    """Rows read, checked and noted per file and table, in the order ``assemble`` gives them."""
    for name, frame in whole.items():
        for source, n in _by_source(frame).items():
            read[(source, name)] = n
        for source, n in _by_source(kept[name]).items():
            checked[(source, name)] = n
    accounting: dict[tuple[str, str], RowCount] = {}
    for name in sorted(files):
        source = files[name].name
        if read.get((source, name)):
            accounting[(source, name)] = RowCount(name, source, read=read[(source, name)])
    for name, path in files.items():
        count = accounting.setdefault((path.name, name), RowCount(name, path.name))
        count.read += results[name].unreadable
        count.noted += results[name].unreadable
    for (name, source), n in noted.items():
        accounting[(source, name)].noted += n
    for (source, name), n in checked.items():
        if n:
            accounting[(source, name)].checked += n
    return accounting


def _batches(path: Path, table: Table, result: FileResult, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.Series]]:
    """The rows of a related table's file as (raw frame, row numbers) batches; at least one batch, empty or not."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            yield from _parquet_batches(path, table, batch_rows)
            return
        if suffix == ".csv":
            scan = _scan_csv(path)
            if scan is not None:
                yield from _csv_batches(path, scan, result, batch_rows)
                return
            raw, rows = _read_csv(path, result.notes)  # read whole, as the loader does (see _scan_csv)
        else:
            raw = _read_xlsx(path, result.notes)  # a sheet's rows are bounded (1,048,576): read whole
            rows = row_numbers(2, len(raw))
        result.unreadable = sum(n.code in NOTED_ROWS for n in result.notes)
    except InputError:
        raise
    except Exception as exc:  # any reader failure means the file cannot be read at all
        raise InputError([Problem("input.unreadable", f"无法读取文件：{type(exc).__name__}: {exc}。",
                                  f"cannot read file: {type(exc).__name__}: {exc}.", Where(file=str(path)))]) from exc
    yield from _sliced(raw, rows, batch_rows)


def _sliced(raw: pd.DataFrame, rows: pd.Series, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.Series]]:
    for start in range(0, max(len(raw), 1), batch_rows):
        yield raw.iloc[start:start + batch_rows].reset_index(drop=True), rows.iloc[start:start + batch_rows].reset_index(drop=True)


def _parquet_batches(path: Path, table: Table, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.Series]]:
    """As ``export._read_parquet`` reads the file (repetitive text dictionary-encoded, Arrow-backed columns), in batches."""
    schema = pq.read_schema(path)
    repetitive = [f.name for f in schema if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
                  and resolve_header(table, f.name)[0] not in MOSTLY_DISTINCT]
    start = 1
    with pq.ParquetFile(path, read_dictionary=repetitive) as file:
        empty = True
        for batch in file.iter_batches(batch_size=batch_rows):
            empty = False
            yield _arrow_frame(pa.Table.from_batches([batch])), row_numbers(start, batch.num_rows)
            start += batch.num_rows
        if empty:
            yield _arrow_frame(file.schema_arrow.empty_table()), row_numbers(1, 0)


def _arrow_frame(data: pa.Table) -> pd.DataFrame:
    return data.to_pandas(types_mapper=lambda t: None if pa.types.is_temporal(t) else pd.ArrowDtype(t))


def _labels(first: int, n: int, skipped: set[int]) -> np.ndarray:
    """The row numbers of ``n`` rows read from line ``first`` on, skipping the malformed lines."""
    labels = np.arange(first, first + n + len(skipped), dtype=np.int64)
    if skipped:
        labels = labels[~np.isin(labels, np.fromiter(skipped, dtype=np.int64))]
    return labels[:n]


@dataclass
class CsvScan:
    """How a CSV read in batches is read."""

    encoding: str
    header: list[str]


def _scan_csv(path: Path) -> CsvScan | None:
    """The header of a CSV that can be read in batches with the same row numbers and values as the loader's
    whole-file read; None when the file is read whole instead (``export._read_csv``): when it is not all
    UTF-8 (the loader decides a GBK file's encoding, and where it changes, over the whole file), has a blank
    line, or has a line with an odd number of quotes (a record over several lines, or a quote that never
    closes), or a line that repeats the header: there the loader's row numbers are physical lines, which Arrow's
    batches do not give, or it sets rows aside."""
    first: bytes | None = None
    carry, past_header = b"", False  # past_header: the header line is behind the lines read
    with path.open("rb") as f:
        while True:
            chunk = f.read(SCAN_BYTES)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            lines, carry = data[:cut], data[cut:]
            if first is None and (cut or not chunk):
                first = lines.split(b"\n", 1)[0]
            try:
                lines.decode("utf-8")
            except UnicodeDecodeError:
                return None
            if b"\n\n" in lines or b"\n\r\n" in lines or lines.startswith((b"\n", b"\r\n")):
                return None
            if b'"' in lines and any(line.count(b'"') % 2 for line in lines.split(b"\n")):
                return None
            header = (first or b"").rstrip(b"\r").removeprefix(b"\xef\xbb\xbf")  # without a byte order mark
            body = b"\n" + (lines if past_header else lines.partition(b"\n")[2]) + b"\n"
            if header and (b"\n" + header + b"\n" in body or b"\n" + header + b"\r\n" in body):
                return None  # a line that repeats the header: the loader sets it aside, by its line number
            past_header = True
            if not chunk:
                break
    text = (first or b"").decode("utf-8-sig")
    return CsvScan("utf8", next(csv.reader([text.rstrip("\r")]), []))


def _csv_batches(path: Path, scan: CsvScan, result: FileResult, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.Series]]:
    """The rows of a CSV in batches, read by Arrow with the loader's options; a malformed line is noted by number
    and skipped (the numbers of the rows read skip it, as the loader's do)."""
    bad: list[tuple[int | None, str]] = []

    def skip(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text))
        return "skip"

    reader = pacsv.open_csv(
        path, read_options=pacsv.ReadOptions(encoding=scan.encoding, use_threads=False, block_size=1 << 22),
        parse_options=pacsv.ParseOptions(invalid_row_handler=skip, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in scan.header}, strings_can_be_null=False,
                                             quoted_strings_can_be_null=False))
    next_label, noted, skipped = 2, 0, set()
    empty = True
    for batch in reader:
        for number, text in bad[noted:]:
            if number is None:  # (Arrow numbers a bad row when it reads on one thread, as here)
                raise AssertionError(f"{path}: Arrow did not number a malformed row")
            fields = len(next(csv.reader([text]), []))
            result.notes.append(InputNote("input.malformed-row", f"{path.name} 第 {number} 行有 {fields} 个字段，应为 {len(scan.header)} 个；该行未检查。",
                                          f"{path.name} line {number} has {fields} fields, expected {len(scan.header)}; that line was not checked.",
                                          str(path)))
            skipped.add(number)
        result.unreadable += len(bad) - noted
        noted = len(bad)
        data = pa.Table.from_batches([batch])
        _check_field_sizes(data, path)
        for start in range(0, data.num_rows, batch_rows):
            part = data.slice(start, batch_rows)
            labels = _labels(next_label, part.num_rows, skipped)
            yield part.to_pandas(), pd.Series(labels)
            next_label = int(labels[-1]) + 1
            empty = False
    for number, text in bad[noted:]:
        fields = len(next(csv.reader([text]), []))
        result.notes.append(InputNote("input.malformed-row", f"{path.name} 第 {number} 行有 {fields} 个字段，应为 {len(scan.header)} 个；该行未检查。",
                                      f"{path.name} line {number} has {fields} fields, expected {len(scan.header)}; that line was not checked.",
                                      str(path)))
    result.unreadable += len(bad) - noted
    if empty:
        yield reader.schema.empty_table().to_pandas(), pd.Series(np.zeros(0, dtype=np.int64))
