"""Load a nightly export folder (one file per table: CSV, XLSX or Parquet) into a Dataset.

Headers may be English or Chinese and may carry a unit (``申请金额(万元)``); CSV files may be UTF-8,
UTF-8 with BOM, or GBK/GB18030. Row numbers in messages are the file's own: the line of a CSV, the
sheet row of an XLSX (header = row 1), the 1-based row of a Parquet file.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from perfrules.errors import InputError, LimitError, Problem, Where
from perfrules.inputs.column_map import ColumnMap, manifest_map
from perfrules.inputs.csv_encoding import csv_encoding, undecodable
from perfrules.inputs.csv_records import record_starts
from perfrules.inputs.dataset import Dataset, InputNote, ValueIssue, assemble, typed_frame
from perfrules.inputs.headers import InputHeaders
from perfrules.inputs.limits import MAX_CSV_FIELD, check_workbook_parts, refuse_non_regular_input
from perfrules.language.fields import TABLES, UNIT_MULTIPLIERS, Table, resolve_header, table_for_file_stem
from perfrules.yaml_source import YamlUnreadable, load_yaml

EXTENSIONS = (".csv", ".xlsx", ".parquet")
MANIFEST_NAMES = ("manifest.yaml", "manifest.yml", "manifest.json", "manifest")


def export_files(folder: Path, shown: str, column_map: ColumnMap | None, notes: list[InputNote]) -> dict[str, Path]:
    """The table files of an export folder by table (an unknown file is noted; two files of one table, or no
    projects table, are errors); the partition writer finds them the same way."""
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in EXTENSIONS or path.name.startswith((".", "~$")):
            continue
        refuse_non_regular_input(path)
        table = column_map.table_for_file(path.stem) if column_map else table_for_file_stem(path.stem)
        if table is None and column_map and path.name in column_map.lookup_files():
            continue
        if table is None:
            notes.append(InputNote("input.unknown-file", f"未识别的文件 {path.name}，已忽略。",
                                   f"unrecognised file {path.name}, ignored.", str(path)))
            continue
        if table.name in files:
            raise InputError([Problem("input.duplicate-table", f"表 {table.name} 有两个文件：{files[table.name].name} 与 {path.name}。",
                                      f"table {table.name} has two files: {files[table.name].name} and {path.name}.",
                                      Where(file=str(path)), "只保留一个。", "Keep one of them.")])
        files[table.name] = path
    if "projects" not in files:
        raise InputError([Problem("input.no-projects", f"导出目录 {shown!r} 中没有项目表（projects / 项目 .csv/.xlsx/.parquet）。",
                                  f"export folder {shown!r} has no projects table (projects / 项目 .csv/.xlsx/.parquet).",
                                  Where(file=shown))])
    return files


def load_export(folder: Path, display: str | None = None, column_map: ColumnMap | None = None) -> Dataset:
    """Read every table file of an export folder; only ``projects`` is required.

    A column map (given, else the one the folder's manifest names) says how another system's names read.
    """
    shown = display or str(folder)
    column_map = column_map or manifest_map(folder, MANIFEST_NAMES)
    notes: list[InputNote] = []
    files = export_files(folder, shown, column_map, notes)
    issues: list[ValueIssue] = []
    frames: dict[str, list[pd.DataFrame]] = {}
    absent_columns: dict[str, set[str]] = {}
    unreadable: dict[tuple[str, str], int] = {}
    headers_of: dict[str, dict[str, str]] = {}
    for name, path in files.items():
        table = TABLES[name]
        noted_before = sum(n.code in NOTED_ROWS for n in notes)
        raw, rows, headers, units = read_table(path, table, notes, column_map.reader(table, path, folder, issues, notes) if column_map else None)
        unreadable[(path.name, name)] = sum(n.code in NOTED_ROWS for n in notes) - noted_before
        absent_columns[name] = {c.name for c in table.columns if c.name not in raw.columns}
        frames[name] = [typed_frame(table, raw, units, path.name, rows, issues, headers)]
        headers_of[name] = headers
    for absent in TABLES:
        if absent not in files and absent != "projects":
            notes.append(InputNote("input.absent-table", f"导出中没有 {absent}（{TABLES[absent].zh}）表。",
                                   f"the export has no {absent} table.", shown, absent))
    ds = assemble(frames, unreadable, headers_of, issues=issues, notes=notes, absent_columns=absent_columns, as_of=read_manifest(folder),
                  sources=[str(p) for p in files.values()])
    ds.headers = InputHeaders(headers_of, map_headers(column_map))
    return ds


def map_headers(column_map: ColumnMap | None) -> dict[str, dict[str, str]]:
    """The source columns a column map names for each field (alternatives joined by " / ")."""
    if column_map is None:
        return {}
    return {t: {name: " / ".join(spec.columns) for name, spec in tmap.columns.items()} for t, tmap in column_map.tables.items()}


def read_manifest(folder: Path) -> dt.date | None:
    """The ``as_of`` date of an export's manifest file, if it has one."""
    for name in MANIFEST_NAMES:
        path = folder / name
        if path.is_file():
            try:
                data = load_yaml(path, str(path), aliases=False).data
                value = (data or {}).get("as_of") if isinstance(data, dict) else None
                if value is None:
                    return None
                return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            except YamlUnreadable as exc:
                raise InputError([exc.problem]) from exc
            except ValueError as exc:
                raise InputError([Problem("input.manifest", f"清单文件中的 as_of 无法识别：{exc}。",
                                          f"cannot read as_of in the manifest: {exc}.", Where(file=str(path), field="as_of"))]) from exc
    return None


def read_table(path: Path, table: Table, notes: list[InputNote], mapped: Callable[..., Any] | None = None
               ) -> tuple[pd.DataFrame, list[str] | pd.Series, dict[str, str], dict[str, float]]:
    """A table file as raw object columns renamed to catalogue names, with row labels and header units.

    ``mapped`` is a column map's step for this table (``ColumnMap.reader``): it reads the mapped columns
    and says which field each header is.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            raw, rows = _read_csv(path, notes)
        elif suffix == ".xlsx":
            raw = _read_xlsx(path, notes)
            rows = row_numbers(2, len(raw))
        else:
            raw = _read_parquet(path, table)
            rows = row_numbers(1, len(raw))
    except InputError:
        raise
    except Exception as exc:  # any reader failure means the file cannot be read at all
        raise InputError([Problem("input.unreadable", f"无法读取文件：{type(exc).__name__}: {exc}。",
                                  f"cannot read file: {type(exc).__name__}: {exc}.", Where(file=str(path)))]) from exc
    raw, headers, units = name_columns(raw, rows, path, table, notes, mapped)
    return raw, rows, headers, units


def name_columns(raw: pd.DataFrame, rows: list[str] | pd.Series, path: Path, table: Table, notes: list[InputNote],
                 mapped: Callable[..., Any] | None = None) -> tuple[pd.DataFrame, dict[str, str], dict[str, float]]:
    """``raw`` (rows of ``path`` as read) with its columns renamed to catalogue names, the header of each
    field, and the header units (``read_table``'s second step; the partition writer applies it to each batch)."""
    seen: set[str] = set()
    twice: list[Problem] = []
    for header in map(str, raw.columns):
        if header in seen and not any(p.where.field == header for p in twice):
            twice.append(Problem("input.duplicate-header", f"表头中列 {header!r} 出现了两次。",
                                 f"the header names column {header!r} twice.", Where(file=str(path), line=1, field=header),
                                 "删去或改名其中一列。", "Remove or rename one of them."))
        seen.add(header)
    if twice:
        raise InputError(twice)
    resolve = functools.partial(resolve_header, table)
    if mapped is not None:
        raw, resolve = mapped(raw, rows)
    rename: dict[Any, str] = {}
    headers: dict[str, str] = {}
    units: dict[str, float] = {}
    unused: list[Any] = []
    problems: list[Problem] = []
    for header in raw.columns:
        name, unit = resolve(str(header))
        if name is None:
            problems += unknown_unit(table, str(header), path)
            continue
        if name in headers:
            unused.append(header)
            notes.append(InputNote("input.duplicate-column", f"{path.name} 中列 {header!r} 与 {headers[name]!r} 指同一字段 {name}，使用前者。",
                                   f"in {path.name}, column {header!r} means the same field {name} as {headers[name]!r}; the first is used.",
                                   str(path), table.name, name))
            continue
        rename[header] = name
        headers[name] = str(header)
        if unit is not None:
            units[name] = unit
    # The unused twin is dropped: kept under its own header it could collide with the field's name.
    raw = raw.drop(columns=unused).rename(columns=rename)
    problems += missing_columns(raw, table, path)
    if problems:  # every problem of the header at once
        raise InputError(problems)
    return raw, headers, units


def missing_columns(raw: pd.DataFrame, table: Table, path: Path) -> list[Problem]:
    """The required columns ``raw`` (renamed to catalogue names) lacks, named by the headers a user writes."""
    missing = [table.by_name[c] for c in table.required if c not in raw.columns]
    if not missing:
        return []
    zh = "、".join(f"“{c.zh}”" for c in missing)
    en = ", ".join(f"'{c.zh}' ({c.name})" for c in missing)
    return [Problem("input.missing-column", f"{path.name} 缺少必需的列 {zh}。", f"{path.name} lacks the required column(s) {en}.",
                    Where(file=str(path), row=1), "在表头中加上这些列（也可用其英文名）。", "Add them to the header row (their English names also do).")]


_HEADER_UNIT = re.compile(r"^(?P<label>.+?)\s*[(（](?P<unit>[^()（）]+)[)）]\s*$")


def unknown_unit(table: Table, header: str, path: Path) -> list[Problem]:
    """A header that names a known column with a unit no one can convert (``申请金额(千元)``) is an error:
    read as 元 its values would be silently wrong, and ignored its column would silently vanish."""
    m = _HEADER_UNIT.match(header)
    name = resolve_header(table, m.group("label"))[0] if m else None
    if not (m and name is not None and table.by_name[name].kind == "money"):
        return []
    unit = m.group("unit")
    return [Problem("input.unknown-unit", f"表头 {header!r} 中的金额单位 {unit!r} 无法识别。",
                    f"the unit {unit!r} in the header {header!r} is not a known money unit.",
                    Where(file=str(path), line=1, field=header),
                    f"可用：{'、'.join(UNIT_MULTIPLIERS)}。", f"Known units: {', '.join(UNIT_MULTIPLIERS)}.")]


def row_numbers(first: int, n: int) -> pd.Series:
    """Row numbers ``first`` … ``first + n - 1`` of a file (kept as integers; shown only where a finding points)."""
    return pd.Series(np.arange(first, first + n, dtype=np.int64), copy=False)


# Columns whose values are mostly distinct: dictionary-encoding them costs more than it saves.
MOSTLY_DISTINCT = {"project_id", "project_name", "ex_ante_report_id", "explanation", "note"}


def _read_parquet(path: Path, table: Table) -> pd.DataFrame:
    """A Parquet file whose repetitive text columns (指标名称, 评价等级, …) are read dictionary-encoded,
    so that each distinct value is parsed once."""
    schema = pq.read_schema(path)
    repetitive = [f.name for f in schema if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
                  and resolve_header(table, f.name)[0] not in MOSTLY_DISTINCT]
    with pq.ParquetFile(path, read_dictionary=repetitive) as file:  # (read_table's dataset layer costs more than the read)
        data = file.read()
    if any(column.num_chunks > 1 for column in data.columns):  # one array per column, one dictionary per text column
        data = data.unify_dictionaries().combine_chunks()
    # Columns stay in Arrow (no pandas array or Python object per cell to build): the parser reads dictionary
    # and list columns once per distinct value, and the rest with Arrow and NumPy kernels. Dates and times
    # become pandas datetimes (time zones and Parquet date columns are handled there).
    return data.to_pandas(types_mapper=lambda t: None if pa.types.is_temporal(t) else pd.ArrowDtype(t))


def _read_xlsx(path: Path, notes: list[InputNote]) -> pd.DataFrame:
    """The first sheet of a workbook; every other sheet is named in a note (one table per file)."""
    check_workbook_parts(path)
    sheets = pd.read_excel(path, dtype=object, engine="openpyxl", sheet_name=None)
    names = list(sheets)
    for other in names[1:]:
        if len(sheets[other]) or len(sheets[other].columns):
            notes.append(InputNote("input.sheet-not-read", f"{path.name} 的工作表 {other!r}（{len(sheets[other])} 行）未读取：每个文件只读第一个工作表 {names[0]!r}。",
                                   f"{path.name}: sheet {other!r} ({len(sheets[other])} rows) was not read; only the first sheet, {names[0]!r}, is.",
                                   str(path)))
    return sheets[names[0]] if names else pd.DataFrame()


def _read_csv(path: Path, notes: list[InputNote]) -> tuple[pd.DataFrame, pd.Series]:
    """Read a CSV (UTF-8, UTF-8 with BOM, or GBK/GB18030) with Arrow; a malformed line, or a line that repeats the
    header (two exports pasted into one file), is reported by number and skipped."""
    raw, rows = _read_csv_records(path, notes)
    return _without_repeated_headers(raw, rows, path, notes)


NOTED_ROWS = ("input.malformed-row", "input.repeated-header")  # the codes of notes that each set aside one row


def _without_repeated_headers(raw: pd.DataFrame, rows: pd.Series, path: Path, notes: list[InputNote]) -> tuple[pd.DataFrame, pd.Series]:
    """``raw`` without the rows whose every cell is its column's header text, each named in a note."""
    if not len(raw) or not len(raw.columns):
        return raw, rows
    headers = [str(c) for c in raw.columns]
    first = raw.iloc[:, 0].astype(object)
    candidates = np.flatnonzero((first == headers[0]).to_numpy(dtype=bool, na_value=False))  # few, if any
    repeated = [i for i in candidates if all(str(raw.iat[i, j]) == h for j, h in enumerate(headers))]
    if not repeated:
        return raw, rows
    for i in repeated:
        line = rows.iat[i]
        notes.append(InputNote("input.repeated-header", f"{path.name} 第 {line} 行重复了表头（可能是两个导出拼接在一起）；该行未检查。",
                               f"{path.name} line {line} repeats the header row (two exports pasted together?); that line was not checked.",
                               str(path)))
    keep = np.ones(len(raw), dtype=bool)
    keep[repeated] = False
    return raw[keep].reset_index(drop=True), rows[keep].reset_index(drop=True)


def _read_csv_records(path: Path, notes: list[InputNote]) -> tuple[pd.DataFrame, pd.Series]:
    data = path.read_bytes()
    encoding = csv_encoding(data, path)
    first = data.split(b"\n", 1)[0].decode("utf-8-sig" if encoding == "utf8" else encoding, errors="replace")
    header = next(csv.reader([first.rstrip("\r")]), [])
    unclosed = unclosed_quote_lines(data)
    for line in unclosed:  # the line cannot be read; a stand-in with the wrong field count makes Arrow skip it by number
        data = _blank_line(data, line, b"\x00" if len(header) != 1 else b"\x00,\x00")
    bad: list[tuple[int | None, str]] = []
    try:
        table = _arrow_csv(data, encoding, header, bad, threads=True)
        if any(number is None for number, _ in bad):  # line numbers are known only to a single-threaded read
            bad.clear()
            table = _arrow_csv(data, encoding, header, bad, threads=False)
        # Arrow numbers records (the header is 1, empty lines are not counted); messages give physical lines.
        starts = record_starts(data, len(header), path, table.num_rows + len(bad) + 1)
    except UnicodeDecodeError:  # the reader decodes strictly; only now is the line looked for
        raise undecodable(data, path) from None
    if starts is not None and len(starts) != table.num_rows + len(bad) + 1:
        starts = None  # the two readers disagree on where records are (not seen): fall back to one line per record
    bad_lines = [(starts[number - 1] if starts is not None and number is not None else number, text) for number, text in bad]
    for number, text in bad_lines:
        if number in unclosed:
            notes.append(InputNote("input.malformed-row", f"{path.name} 第 {number} 行的引号没有闭合；该行未检查，其余行照常检查。",
                                   f"{path.name} line {number} opens a quote that never closes; that line was not checked, the rest were.",
                                   str(path)))
            continue
        fields = len(next(csv.reader([text]), []))
        notes.append(InputNote("input.malformed-row", f"{path.name} 第 {number} 行有 {fields} 个字段，应为 {len(header)} 个；该行未检查。",
                               f"{path.name} line {number} has {fields} fields, expected {len(header)}; that line was not checked.",
                               str(path)))
    _check_field_sizes(table, path)
    raw = table.to_pandas()
    if starts is not None:
        read = np.delete(starts[1:], [number - 2 for number, _ in bad if number is not None])
        return raw, pd.Series(read)
    if not bad:
        return raw, row_numbers(2, len(raw))
    lines = np.setdiff1d(np.arange(2, len(raw) + len(bad) + 2), np.array([n for n, _ in bad], dtype=np.int64))
    return raw, pd.Series(lines)


def unclosed_quote_lines(data: bytes) -> set[int]:
    """Physical line numbers where a quoted field opens and is never closed before the end of the file.

    Read as written, such a quote swallows every later line into one cell; it is found when the file's
    quotes do not pair up (an odd count), which is the only case in which it can be found at all.
    """
    found: set[int] = set()
    while data.count(b'"') % 2:
        inside, opened = False, 0
        for number, line in enumerate(data.split(b"\n"), start=1):
            if line.count(b'"') % 2:
                if not inside:
                    opened = number
                inside = not inside
        if not inside or opened in found:
            break
        found.add(opened)
        data = _blank_line(data, opened, b"")
    return found


def _blank_line(data: bytes, number: int, stand_in: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[number - 1] = stand_in + (b"\r" if lines[number - 1].endswith(b"\r") else b"")
    return b"\n".join(lines)


def _check_field_sizes(table: pa.Table, path: Path) -> None:
    for name, column in zip(table.column_names, table.columns):
        if not len(column) or not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        longest = pc.max(pc.binary_length(column)).as_py() or 0
        if longest > MAX_CSV_FIELD:
            raise LimitError([Problem("input.field-too-large", f"列 {name!r} 中有一个单元格长 {longest:,} 字节，超过上限 {MAX_CSV_FIELD:,}。",
                                      f"a cell of column {name!r} is {longest:,} bytes long, beyond the limit of {MAX_CSV_FIELD:,}.",
                                      Where(file=str(path), field=name), "检查引号是否成对。", "Check that the file's quotes pair up.")])


def _arrow_csv(data: bytes, encoding: str, header: list[str], bad: list[tuple[int | None, str]], threads: bool) -> pa.Table:
    def skip(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text))
        return "skip"

    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(encoding=encoding, use_threads=threads),
        parse_options=pacsv.ParseOptions(invalid_row_handler=skip, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header}, strings_can_be_null=False,
                                             quoted_strings_can_be_null=False))
