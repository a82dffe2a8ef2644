"""Findings as one table: the columnar form the batch path produces and the nightly outputs write.

A province's nightly run has hundreds of thousands of findings, and making a Python object per
finding costs more than evaluating every rule. The batch path therefore renders a rule's findings a
column at a time: each placeholder of a message and each evidence value is formatted once per
*distinct* value, with the same ``format_value`` / ``json_value`` the per-record path uses, so both
paths give the same text. ``Finding`` objects are made from the table only when a caller asks.
"""

from __future__ import annotations

import decimal
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfrules.findings.model import Finding, format_value, json_number, json_value, number_text
from perfrules.findings.schema import PARTS, TEXT, TO_PANDAS, finding_keys, sort_indices
from perfrules.inputs.values import distinct_cells, one_array, true_mask
from perfrules.rulepack.model import Text

_TEMPLATE = re.compile(r"\{([^{}]+)\}")
_STR = TEXT


def _constant(value: str | None, n: int) -> pa.Array:
    if value is None:
        return pa.nulls(n, _STR)
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], _STR)).cast(_STR)


def _per_distinct(series: pd.Series, fn: Callable[[Any], str]) -> pa.Array:
    """``fn`` applied once per distinct value (missing values get ``fn(None)``), as an Arrow text array."""
    codes, values = distinct_cells(series)
    texts = np.array([fn(v) for v in values] + [fn(None)], dtype=object)
    return pa.array(texts[codes], _STR)


def _is_text(series: pd.Series) -> bool:
    return isinstance(series.dtype, (pd.StringDtype, pd.CategoricalDtype))


class TableValues:
    """A record table's column values as message text (``format_value``) and JSON text (``json_value``).

    Each distinct value of a column is formatted once per run, however many rules show it (values that
    cannot be hashed, such as lists, once per rule); text columns stay in Arrow. Rules render on several
    threads: the per-column caches are filled under a lock.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._columns: dict[str, tuple[pa.Array | None, Any]] = {}
        self._texts: dict[tuple[str, str], dict[Any, str]] = {}
        self._lock = threading.Lock()

    def rows(self, positions: np.ndarray, names: Any) -> Rows:
        """The rows at ``positions``, showing the columns among ``names``."""
        return Rows(self, positions, [n for n in names if n in self.frame.columns])

    def _column(self, name: str) -> tuple[pa.Array | None, Any]:
        """A text column as one Arrow array, or another column's values."""
        with self._lock:
            if name not in self._columns:
                series = self.frame[name]
                if isinstance(series.dtype, pd.CategoricalDtype):
                    series = series.astype("string")
                self._columns[name] = ((one_array(series.array).cast(_STR), None) if _is_text(series)
                                       else (None, series.array))
            return self._columns[name]

    def formatted(self, name: str, positions: np.ndarray, lang: str) -> pa.Array:
        text, values = self._column(name)
        if text is not None:
            return pc.fill_null(text.take(positions), pa.scalar(format_value(name, None, lang), _STR))
        if _is_number(values):
            return _number_texts(values.take(positions), number_text(name, lang), format_value(name, None, lang))
        return self._per_value((name, lang), values.take(positions), lambda v: format_value(name, v, lang))

    def json(self, name: str, positions: np.ndarray) -> pa.Array:
        text, values = self._column(name)
        if text is not None:
            return json_strings(text.take(positions))
        if _is_number(values):
            return _number_texts(values.take(positions), json_number, "null")
        return self._per_value((name, "json"), values.take(positions),
                               lambda v: json.dumps(json_value(v), ensure_ascii=False))

    def _per_value(self, key: tuple[str, str], cells: Any, fn: Callable[[Any], str]) -> pa.Array:
        """``fn`` of each distinct cell, through the column's cache of texts by value (only the rows shown are
        factorized: a whole column per run cost more than the rows any rule shows)."""
        codes, values = distinct_cells(cells)
        with self._lock:
            cache = self._texts.setdefault(key, {})
            texts = np.empty(len(values) + 1, dtype=object)
            for i, value in enumerate([*values, _MISSING]):
                try:
                    value_key = _cache_key(value)
                    text = cache.get(value_key)
                    if text is None:
                        text = cache[value_key] = fn(None if value is _MISSING else value)
                except TypeError:  # unhashable (a list, a dict): formatted here
                    text = fn(value)
                texts[i] = text
        return pa.array(texts[np.where(codes < 0, len(values), codes)], _STR)  # missing takes the text after the values


_MISSING = object()  # the cache key of a missing value


def _cache_key(value: Any) -> Any:
    """A value as a key that equal values of other forms do not share (True and 1, 0.0 and -0.0 print differently)."""
    if isinstance(value, (float, decimal.Decimal)):
        return type(value), repr(value)
    return type(value), value


def _is_number(values: Any) -> bool:
    """Floats and signed integers (unsigned ones beyond int64 go the per-value way)."""
    return pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_signed_integer_dtype(values.dtype)


def _number_texts(cells: Any, text: Callable[[Any], str], missing: str) -> pa.Array:
    """The texts of numeric cells, ``text`` once per distinct number (taken as a Python number, as
    ``format_value`` and ``json_value`` take a NumPy one). A number's text depends on its value alone, so
    no cache is kept: rates are mostly distinct, and looking each up cost more than formatting it."""
    is_float = pd.api.types.is_float_dtype(cells.dtype)
    if is_float:
        floats = np.asarray(cells.to_numpy(dtype=np.float64, na_value=np.nan))
        present = ~np.isnan(floats)
        keys = floats.view(np.int64)  # told apart by bits: -0.0 and 0.0 are equal but print apart
    else:
        keys = np.asarray(cells.to_numpy(dtype=np.int64, na_value=0))
        present = ~np.asarray(cells.isna(), dtype=bool)
    codes = np.full(len(keys), -1, dtype=np.intp)
    codes[present], distinct = pd.factorize(keys[present])
    numbers = (distinct.view(np.float64) if is_float else distinct).tolist()
    texts = np.array([text(v) for v in numbers] + [missing], dtype=object)
    return pa.array(texts[codes], _STR)  # a missing cell (code -1) takes the last text


class Rows:
    """Some rows of a record table, whose shown columns render as message and JSON texts."""

    def __init__(self, values: TableValues, positions: np.ndarray, names: list[str]) -> None:
        self.values, self.positions, self.names = values, positions, set(names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def formatted(self, name: str, lang: str) -> pa.Array:
        return self.values.formatted(name, self.positions, lang)

    def json(self, name: str) -> pa.Array:
        return self.values.json(name, self.positions)


def _rows(columns: Rows | Mapping[str, pd.Series], n: int) -> Rows:
    if isinstance(columns, Rows):
        return columns
    return TableValues(pd.DataFrame({k: v.reset_index(drop=True) for k, v in columns.items()}, index=range(n))).rows(
        np.arange(n), columns)


def json_texts(series: pd.Series) -> pa.Array:
    """A column's values as JSON texts (``json_value``; missing is ``null``)."""
    if isinstance(series.dtype, pd.StringDtype):
        return json_strings(one_array(series).cast(_STR))  # one array: replace_with_mask takes no chunks
    return _per_distinct(series, lambda v: json.dumps(json_value(v), ensure_ascii=False))


# What json.dumps(..., ensure_ascii=False) escapes in a string, backslash first.
_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
                 ("\b", "\\b"), ("\f", "\\f"))


def json_strings(texts: pa.Array) -> pa.Array:
    """Text values as JSON strings, exactly as ``json.dumps(value, ensure_ascii=False)`` writes them; null is ``null``."""
    quoted = pc.binary_join_element_wise(pa.scalar('"', _STR), texts, pa.scalar('"', _STR), pa.scalar("", _STR))
    special = true_mask(pc.match_substring_regex(texts, '[\\\\"\\x00-\\x1f]'))
    if special.any():  # only the cells holding a quote, a backslash or a control character are escaped
        rows = texts.filter(special)
        escaped = rows
        for plain, escape in _JSON_ESCAPES:
            escaped = pc.replace_substring(escaped, plain, escape)
        fixed = pc.binary_join_element_wise(pa.scalar('"', _STR), escaped, pa.scalar('"', _STR), pa.scalar("", _STR))
        other = np.asarray(pc.match_substring_regex(rows, "[\\x00-\\x07\\x0b\\x0e-\\x1f]"))
        if other.any():  # rare control characters: json.dumps itself, for those cells
            values = np.array(fixed.to_pylist(), dtype=object)
            values[other] = [json.dumps(v, ensure_ascii=False) for v in rows.filter(pa.array(other)).to_pylist()]
            fixed = pa.array(values, _STR)
        quoted = pc.replace_with_mask(quoted, special, fixed)
    return pc.fill_null(quoted, pa.scalar("null", _STR))


def placeholders(template: Text | str, lang: str) -> list[str]:
    """The names a message template fills in, in order."""
    text = template.get(lang) if isinstance(template, Text) else template
    return _TEMPLATE.findall(text)


def render_column(template: Text | str, columns: Rows | Mapping[str, pd.Series], scalars: Mapping[str, Any],
                  lang: str, n: int) -> pa.Array:
    """``findings.render`` over whole columns: placeholders filled from ``columns`` or ``scalars``."""
    text = template.get(lang) if isinstance(template, Text) else template
    columns = _rows(columns, n)
    parts: list[Any] = []
    pos = 0
    for m in _TEMPLATE.finditer(text):
        parts.append(pa.scalar(text[pos:m.start()], _STR))
        name = m.group(1)
        if name in columns:
            parts.append(columns.formatted(name, lang))
        else:
            parts.append(pa.scalar(format_value(name, scalars.get(name), lang), _STR))
        pos = m.end()
    parts.append(pa.scalar(text[pos:], _STR))
    if not any(isinstance(p, pa.Array) for p in parts):
        return _constant("".join(p.as_py() for p in parts), n)
    return pc.binary_join_element_wise(*parts, pa.scalar("", _STR))


def evidence_column(columns: Rows | Mapping[str, pd.Series], scalars: Mapping[str, Any], order: list[str], n: int) -> pa.Array:
    """Each row's evidence as a JSON object text, keys in ``order``."""
    columns = _rows(columns, n)
    if not order:
        return _constant("{}", n)
    parts: list[Any] = []
    for i, name in enumerate(order):
        parts.append(pa.scalar(("{" if i == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": ", _STR))
        if name in columns:
            parts.append(columns.json(name))
        else:
            parts.append(pa.scalar(json.dumps(json_value(scalars[name]), ensure_ascii=False), _STR))
    parts.append(pa.scalar("}", _STR))
    if not any(isinstance(p, pa.Array) for p in parts):
        return _constant("".join(p.as_py() for p in parts), n)
    return pc.binary_join_element_wise(*parts, pa.scalar("", _STR))


def assemble(n: int, **columns: Any) -> pa.Table:
    """One part of a findings table: ``n`` rows from per-column values (Arrow arrays, Series, arrays, or one
    value for all). Parts stay in Arrow until ``finish`` joins them: a pandas frame per rule costs more than
    the rule."""
    return pa.Table.from_arrays([to_arrow(columns.get(f.name), f.type, n) for f in PARTS], schema=PARTS)


def to_arrow(value: Any, typ: pa.DataType, n: int) -> pa.Array:
    if isinstance(value, (pa.Array, pa.ChunkedArray)):
        return value.cast(typ)
    if isinstance(value, pd.Series):
        if isinstance(value.dtype, pd.CategoricalDtype):
            value = value.astype("string")
        return pa.array(value, from_pandas=True).cast(typ)
    if isinstance(value, np.ndarray):
        return pa.array(value, type=typ)
    if value is None:
        return pa.nulls(n, typ)
    if typ == _STR:
        return _constant(value, n)
    return pa.array(np.full(n, value), type=typ)


def finish(parts: list[pa.Table]) -> pd.DataFrame:
    """The findings table: the parts joined, each finding's key added, in the one order of findings."""
    table = pa.concat_tables(parts) if parts else PARTS.empty_table()
    table = table.append_column("key", finding_keys(table))
    if table.num_rows > 1:
        table = table.take(sort_indices(table))
    return table.to_pandas(types_mapper=TO_PANDAS.get)


def empty() -> pd.DataFrame:
    """A findings table with no rows."""
    return finish([])


def from_findings(findings: list[Finding]) -> pa.Table:
    """A part of a findings table from ``Finding`` objects (the engine's data findings, the per-record path)."""
    return pa.Table.from_pylist([f.row for f in findings], schema=PARTS)


def to_findings(table: pd.DataFrame, sources: Mapping[str, list[dict[str, str]]]) -> list[Finding]:
    """The findings at the rows of a findings table."""
    rows = table[[f.name for f in PARTS]].astype(object).to_dict("records")
    return [Finding({k: None if v is pd.NA else v for k, v in r.items()}, [dict(s) for s in sources.get(r["rule_id"], [])])
            for r in rows]


def with_input(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The findings of one of several inputs, each naming that input: a file name from inside an export folder
    becomes ``folder/file`` (two exports both have 项目.csv), and a finding with no file (a rule the input could
    not run) gets the input's own name."""
    if not len(table):
        return table
    file = table["file"].astype("string")
    prefix = name.rstrip("/") + "/"
    inside = file.notna() & ~file.str.startswith(prefix).fillna(False) & (file != name).fillna(False)
    named = file.mask(inside, prefix + file).fillna(name)
    return table.assign(file=named.astype(table["file"].dtype))
