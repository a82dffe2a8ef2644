"""Apply one table's column map to a raw table, before its headers are resolved and its values parsed.

Each mapped source column is rewritten in place as the text the value parser reads: a code becomes the
name its lookup file gives, a value listed under ``values:`` becomes its contract value, a date written
in the map's ``format`` becomes ``YYYY-MM-DD``. A cell none of these can read is a ``ValueIssue`` (a
PF-D03-UNREADABLE finding naming file, row, source column and value) and becomes blank, never a silent
blank. The returned resolver tells the loader which field each source header is and in which unit.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perfrules.errors import InputError, Problem, Where
from perfrules.inputs.column_map import ColumnMap, ColumnSpec, TableMap
from perfrules.inputs.dataset import InputNote, ValueIssue
from perfrules.language.fields import Table, resolve_header

Resolver = Callable[[str], tuple[str | None, float | None]]
_BAD = object()  # a cell the map cannot read


def remap_table(raw: pd.DataFrame, rows: Any, table: Table, tmap: TableMap, column_map: ColumnMap, source: Path,
                export_folder: Path, issues: list[ValueIssue], notes: list[InputNote]) -> tuple[pd.DataFrame, Resolver]:
    """``raw`` with its mapped columns read, and the resolver from source header to (field, unit multiplier)."""
    headers = {str(h): h for h in raw.columns}
    mapped: dict[str, tuple[str, float | None]] = {}
    found: dict[str, str] = {}
    for name, spec in tmap.columns.items():
        header = next((h for h in spec.columns if h in headers), None)
        if header is None:
            _absent(spec, table, column_map, source, issues, notes)
            continue
        mapped[header] = (name, spec.multiplier)
        found[name] = header
    out = raw.copy(deep=False)
    # a source column that perfrules would read as a field the map takes from elsewhere is passed through under its own name
    renamed = {h: f"{h}（未映射）" for h in headers if h not in mapped and str(h) in found and found[str(h)] != h}
    labels = pd.Series(rows).reset_index(drop=True)
    pending: list[tuple[int, ColumnSpec, str, str, str]] = []
    for name, header in found.items():
        spec = tmap.columns[name]
        if spec.values is None and spec.lookup is None and spec.format is None:
            continue
        reader = _cell_reader(spec, table, column_map, export_folder)
        column, bad = _read_cells(out[headers[header]], reader)
        out[headers[header]] = column
        pending.extend((int(i), spec, header, bad[int(i)][0], bad[int(i)][1]) for i in sorted(bad))
    if renamed:
        out = out.rename(columns={headers[h]: new for h, new in renamed.items()})

    def resolve(header: str) -> tuple[str | None, float | None]:
        if header in mapped:
            return mapped[header]
        name, unit = resolve_header(table, header)
        return (None, None) if name in found else (name, unit)

    rows_named = [i for i, *_ in pending]
    keys = {field: next((str(h) for h in out.columns if resolve(str(h))[0] == field), None) for field in ("project_id", "fiscal_year", "department")}
    ids, years, departments = (_key_text(out, keys[k], rows_named) for k in ("project_id", "fiscal_year", "department"))
    for i, spec, header, value, expected in pending:
        year = years[i]
        issues.append(ValueIssue(table.name, source.name, str(labels.iloc[i]), spec.field, header, value, expected,
                                 project_id=ids[i], fiscal_year=int(year) if year and year.isdigit() else None,
                                 department=departments[i]))
    return out, resolve


def _absent(spec: ColumnSpec, table: Table, column_map: ColumnMap, source: Path, issues: list[ValueIssue],
            notes: list[InputNote]) -> None:
    """A mapped column the file lacks: a data finding at the header row (row 1) naming the column, and a note.

    A key column stops the load instead: without it no row can be placed.
    """
    columns = " / ".join(spec.columns)
    label = table.by_name[spec.field].zh
    if spec.field in table.required:
        raise InputError([Problem("map.required-column-absent",
                                  f"{source.name} 中没有列 {columns}：列映射 {column_map.name} 指定它为必需字段 {spec.field}。",
                                  f"{source.name} has no column {columns}, which column map {column_map.name} names for the required field {spec.field}.",
                                  Where(file=str(source), row=1, field=spec.field), "检查表头或列映射。", "Check the header row or the map.")])
    notes.append(InputNote("map.column-absent",
                           f"{source.name} 中没有列映射 {column_map.name} 为 {spec.field}（{label}）指定的列 {columns}；需要该字段的规则报告数据缺失。",
                           f"{source.name} has no column {columns}, which column map {column_map.name} names for {spec.field}; "
                           "rules that need that field report it as absent.", str(source), table.name, spec.field))
    issues.append(ValueIssue(table.name, source.name, "1", spec.field, columns, "",
                             f"列映射 {column_map.name} 指定的列，表头中没有 (a column map {column_map.name} names; the header row lacks it)"))


def _cell_reader(spec: ColumnSpec, table: Table, column_map: ColumnMap, export_folder: Path) -> Callable[[str], tuple[Any, str]]:
    """A function from a cell's text to (value for the parser, or _BAD; what was expected)."""
    codes = _lookup(column_map.find_lookup(spec.lookup, export_folder)) if spec.lookup else None
    kind = table.by_name[spec.field].kind
    allowed = "、".join(spec.values) if spec.values else ""

    def read(text: str) -> tuple[Any, str]:
        value: Any = text
        if spec.values is not None:
            if value not in spec.values:
                return _BAD, f"{allowed} 之一 (one of {', '.join(spec.values)})"
            value = spec.values[value]
            if value is None:  # the source system's way of writing "no value"
                return None, ""
            if isinstance(value, bool):
                value = "true" if value else "false"
            value = str(value)
        if codes is not None:
            if value not in codes:
                return _BAD, f"{spec.lookup} 中的代码 (a code listed in {spec.lookup})"
            value = codes[value]
        if spec.format is not None:
            try:
                when = dt.datetime.strptime(value, spec.format)
            except ValueError:
                return _BAD, f"格式 {spec.format} 的{'月份' if kind == 'month' else '日期'} (a {kind} written {spec.format})"
            value = when.date().isoformat()
        return value, ""
    return read


def _read_cells(column: pd.Series, read: Callable[[str], tuple[Any, str]]) -> tuple[pd.Series, dict[int, tuple[str, str]]]:
    """The column as the parser should see it, and the positions it could not read (with the text and what was expected)."""
    # Exports repeat a few codes, flags and dates across many rows: each distinct cell is read once.
    codes, distinct = pd.factorize(column, use_na_sentinel=True)  # (Arrow text columns are hashed in Arrow)
    texts = [_text(c) for c in np.asarray(distinct, dtype=object)]
    results = [read(t) if isinstance(t, str) else (None, "") for t in texts]
    values = np.array([None if v is _BAD else v for v, _ in results] + [None], dtype=object)
    out = values[codes]  # code -1 (a blank cell) takes the trailing None
    failed = np.array([v is _BAD for v, _ in results] + [False])
    bad = {int(i): (str(texts[codes[i]]), results[codes[i]][1]) for i in np.flatnonzero(failed[codes])}
    return pd.Series(out, index=column.index, name=column.name, dtype=object), bad


def _text(cell: Any) -> Any:
    """A cell as the text the map's tables are written in: integers without ``.0``, dates as written in ISO, blanks as None."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NaT or cell is pd.NA:
        return None
    if isinstance(cell, (dt.datetime, dt.date, pd.Timestamp)):
        return pd.Timestamp(cell).strftime("%Y%m%d%H%M%S%f")[:17]  # an Excel date cell: as the 17-digit text it stands for
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    text = str(cell).strip()
    return text or None


def _lookup(path: Path) -> dict[str, str]:
    """A two-column code list (code, name; the first row is the header) as a dict."""
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            frame = pd.read_excel(path, dtype=str, engine="openpyxl")
        else:
            data = path.read_bytes()
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = data.decode("gb18030")
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except Exception as exc:  # any reader failure means the code list cannot be used at all
        raise InputError([Problem("map.lookup-unreadable", f"无法读取代码表：{type(exc).__name__}: {exc}。",
                                  f"cannot read the lookup file: {type(exc).__name__}: {exc}.", Where(file=str(path)))]) from exc
    if frame.shape[1] < 2:
        raise InputError([Problem("map.lookup-shape", f"代码表应有两列（代码、名称），实际 {frame.shape[1]} 列。",
                                  f"a lookup file needs two columns (code, name); it has {frame.shape[1]}.", Where(file=str(path), row=1))])
    codes: dict[str, str] = {}
    for code, name in zip(frame.iloc[:, 0], frame.iloc[:, 1]):
        code_text, name_text = _text(code), _text(name)
        if code_text is not None and name_text is not None:
            codes.setdefault(code_text, name_text)
    return codes


def _key_text(frame: pd.DataFrame, header: str | None, rows: list[int]) -> dict[int, str | None]:
    """A key column's cells at ``rows`` as text (after the map has read them), for naming the record a finding is about."""
    if header is None or header not in frame.columns:
        return dict.fromkeys(rows)
    column = frame[header]
    return {i: _text(column.iloc[i]) for i in rows}
