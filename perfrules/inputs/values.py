"""Turn messy raw cell values from budget-system exports into clean typed values.

``parse_column`` parses a pandas Series without a Python loop per row: typed columns take a
dtype-level path, text goes through Arrow kernels for the common clean forms ("1,234.50",
"2022-10-31"), and only the *distinct* leftovers are parsed one by one with ``parse_value``
(also the scalar entry point for JSON submissions), so a cell reads the same either way.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import infer_dtype, is_bool_dtype, is_datetime64_any_dtype, is_float_dtype, is_numeric_dtype

VALUE_KINDS = ("string", "number", "integer", "money", "bool", "date", "month", "grade", "list")

_BLANKS = frozenset({"", "-", "—", "－", "--", "N/A", "n/a", "NA", "null", "NULL", "None"})
_NUMERIC = ("number", "integer", "money")
_KIND_NAMES = {"string": ("文本", "text"), "number": ("数值", "a number"), "integer": ("整数", "an integer"),
               "money": ("金额", "an amount of money"), "bool": ("是/否值", "a yes/no value"),
               "date": ("日期", "a date"), "month": ("月份", "a month"), "grade": ("等级", "a grade"),
               "list": ("列表", "a list")}
_NUM_RE = re.compile(r"([+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
                     r"\s*(%|万元|万|亿元|亿|元)?")
_UNITS = {"%": Decimal("0.01"), "万": Decimal(10**4), "万元": Decimal(10**4), "亿": Decimal(10**8),
          "亿元": Decimal(10**8), "元": Decimal(1)}
_TIME = r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
_DATE_RES = (re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _TIME),
             re.compile(r"(\d{4})(年)(\d{1,2})月(\d{1,2})日?" + _TIME))
_MONTH_RE = re.compile(r"(\d{4})(?:[-/.](\d{1,2})|年(\d{1,2})月)")
_BOOLS = {**dict.fromkeys(("true", "1", "1.0", "是", "y", "yes", "t", "✓", "✔", "√", "有"), True),
          **dict.fromkeys(("false", "0", "0.0", "否", "n", "no", "f", "✗", "✘", "×", "无"), False)}
_GRADES = {"优": "优", "优秀": "优", "A": "优", "良": "良", "良好": "良", "B": "良", "中": "中",
           "中等": "中", "C": "中", "一般": "一般", "差": "差", "较差": "差", "不合格": "差", "D": "差", "低": "低"}
_BLANK_SET = pa.array(sorted(_BLANKS), pa.large_string())
_LONGEST_BLANK = max(len(b) for b in _BLANKS)
_LIST_SPLIT = re.compile(r"[、;；,，|/\n\r]+")
# Arrow (RE2) patterns for the vectorised fast paths; anything they miss is parsed per distinct value.
_FAST_NUM = r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$"
_MM, _DD = r"(0[1-9]|1[0-2])", r"(0[1-9]|[12]\d|3[01])"
_FAST_DATE = rf"^\d{{4}}(-{_MM}-{_DD}|/{_MM}/{_DD})( ([01]\d|2[0-3]):[0-5]\d:[0-5]\d)?$"
# Years and dates the checker supports. Both evaluators agree on every date in this range (the batch path
# holds dates as 64-bit nanoseconds, which end in 2262); a value outside it is a data finding, never a
# silently wrapped date.
FIRST_YEAR, LAST_YEAR = 1900, 2200
_NS_MIN, _NS_MAX = np.datetime64("1677-09-22", "D"), np.datetime64("2262-04-11", "D")
_NUMBER_TYPES = (int, float, np.integer, np.floating, Decimal)
_BOOL_TYPES = (bool, np.bool_)
_SEQ_TYPES = (list, tuple, np.ndarray)  # np.ndarray: list cells read from Parquet
# How parse_column holds values before building the final pandas array (bool as 1.0/0.0).
_STORE: dict[str, tuple[Any, Any]] = {
    **dict.fromkeys(("number", "integer", "money", "bool"), (np.float64, np.nan)),
    **dict.fromkeys(("date", "month"), ("datetime64[ns]", np.datetime64("NaT"))),
    **dict.fromkeys(("string", "grade", "list"), (object, None))}


class ValueUnreadable(ValueError):
    """A non-blank value that cannot be read as the requested kind."""

    def __init__(self, value: object, kind: str) -> None:
        super().__init__(value, kind)
        self.value, self.kind = value, kind

    def __str__(self) -> str:
        zh, en = _KIND_NAMES.get(self.kind, ("值", self.kind))
        return f"无法识别的{zh} {self.value!r} (cannot read {self.value!r} as {en})."


@dataclass(frozen=True)
class ParsedColumn:
    """Typed values (same index as the raw column) and the mask of unreadable cells."""

    values: pd.Series
    bad: pd.Series


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().replace("\u2212", "-")


def _stripped(text: str) -> str | None:
    """A text without its surrounding space, or None when that is blank or a placeholder such as "-" or "ＮＵＬＬ".

    Only a short text can be a placeholder (NFKC never shortens text to one): NFKC for those alone, ~5% of
    screening's CPU per submission (1.31 → 1.24 ms, measured 2026-12-06); lists of items run to millions."""
    t = text.strip()
    return None if not t or len(t) <= _LONGEST_BLANK and _norm(t) in _BLANKS else t


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return _stripped(value) is None
    if type(value) in (int, bool, float):  # JSON's own values, answered without pandas (NaN is blank)
        return value != value
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def _is_number(v: object) -> bool:
    return isinstance(v, _NUMBER_TYPES) and not isinstance(v, _BOOL_TYPES)


def _number(v: Any, kind: str, mult: float) -> float | int:
    unit = None
    if _is_number(v):
        x = float(v)
    elif isinstance(v, str) and (m := _NUM_RE.fullmatch(_norm(v))):
        unit = m.group(2)
        if unit and (kind == "integer" or unit == "%" and kind != "number"):
            raise ValueError
        x = float(Decimal(m.group(1).replace(",", "")) * _UNITS.get(unit, 1))
    else:
        raise ValueError
    if not math.isfinite(x):
        raise ValueError
    if kind == "money" and unit is None and mult != 1:
        x = float(np.round(x * mult, 6))  # hides binary noise such as 1.1 * 10000
    if kind == "integer" and (not x.is_integer() or abs(x) >= 2**63):
        raise ValueError
    return int(x) if kind == "integer" else x


def _day_of(value: Any) -> _dt.date:
    """A date, datetime or datetime64 as its calendar day (wall-clock day for an aware datetime)."""
    day = pd.Timestamp(value) if isinstance(value, np.datetime64) else value  # raises OutOfBoundsDatetime (a ValueError)
    day = day.date() if isinstance(day, _dt.datetime) else day
    if not FIRST_YEAR <= day.year <= LAST_YEAR:  # the same range as the vectorised path (dataset.within_supported_years)
        raise ValueError
    return day


def _serial(x: float) -> _dt.date:
    """Excel serial day: 1 = 1900-01-01; 60 is Excel's non-existent 1900-02-29."""
    n = math.floor(x)
    if not 1 <= n <= 2958465 or n == 60:
        raise ValueError
    return _day_of(_dt.date(1899, 12, 31 if n < 60 else 30) + _dt.timedelta(days=n))


def _date(v: Any, kind: str) -> _dt.date:
    """A date (the first of its month for ``month``) as a plain ``datetime.date``: building a ``pd.Timestamp``
    per value (and pandas' NA test in ``_is_blank``) cost ~10% of screening's CPU per submission (measured
    2026-12-06, 1.40 → 1.27 ms); ``parse_value`` makes the Timestamp its callers expect."""
    if isinstance(v, _BOOL_TYPES):
        raise ValueError
    if isinstance(v, (_dt.date, np.datetime64)):
        day = _day_of(v)
    elif isinstance(v, _NUMBER_TYPES):  # 202210 / 20221031 typed as numbers read as digit strings
        digits = str(int(v)) if float(v).is_integer() else ""
        day = _date(digits, kind) if 6 <= len(digits) <= 8 else _serial(float(v))
    elif not isinstance(v, str):
        raise ValueError
    else:
        t = _norm(v)
        if kind == "month" and (m := _MONTH_RE.fullmatch(t)):
            day = _day_of(_dt.date(int(m.group(1)), int(m.group(2) or m.group(3)), 1))
        elif kind == "month" and len(t) == 6 and t.isdigit():
            day = _day_of(_dt.date(int(t[:4]), int(t[4:]), 1))
        elif len(t) == 8 and t.isdigit():
            day = _day_of(_dt.date(int(t[:4]), int(t[4:6]), int(t[6:])))
        elif m := (_DATE_RES[0].fullmatch(t) or _DATE_RES[1].fullmatch(t)):
            if int(m.group(5) or 0) > 23 or int(m.group(6) or 0) > 59 or int(m.group(7) or 0) > 59:
                raise ValueError
            day = _day_of(_dt.date(int(m.group(1)), int(m.group(3)), int(m.group(4))))
        elif (n := _NUM_RE.fullmatch(t)) and not n.group(2) and "," not in t:
            day = _serial(float(t))
        else:
            raise ValueError
    return day.replace(day=1) if kind == "month" else day


def _text(v: Any) -> str | None:
    if isinstance(v, str):
        return _stripped(v)
    if isinstance(v, _BOOL_TYPES):
        return str(bool(v))
    if isinstance(v, (int, np.integer)) or (isinstance(v, (float, np.floating)) and float(v).is_integer()):
        return str(int(v))
    if isinstance(v, _dt.datetime) and v == pd.Timestamp(v).normalize():
        return v.date().isoformat()
    return _stripped(str(v))


def _bool(v: Any) -> bool:
    if isinstance(v, _BOOL_TYPES) or isinstance(v, _NUMBER_TYPES) and v in (0, 1):
        return bool(v == 1)
    return _BOOLS[_norm(v).lower()]  # TypeError / KeyError -> unreadable


def _grade(v: Any) -> str:
    return _GRADES.get(t := _norm(v)) or _GRADES[t.upper()]  # TypeError / KeyError -> unreadable


def _item(v: Any) -> str | None:
    """One list item as text, or None when blank."""
    if isinstance(v, str):
        return _stripped(v)
    return None if _is_blank(v) else _text(v)


def _list(v: Any) -> list[str] | None:
    items = list(v) if isinstance(v, _SEQ_TYPES) else _LIST_SPLIT.split(v) if isinstance(v, str) else [v]
    out = [t for t in (_item(i) for i in items) if t is not None]
    # A list given as a list ([] in JSON) says "none of them"; text with no items is a blank cell.
    return out if out or isinstance(v, _SEQ_TYPES) else None


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "date": lambda v: _date(v, "date"), "month": lambda v: _date(v, "month"),
    "bool": _bool, "grade": _grade, "string": _text, "list": _list}


def parse_value(value: object, kind: str, *, unit_multiplier: float = 1.0) -> object:
    """Parse one raw value as ``kind`` (see ``parse_column`` for the accepted forms).

    Returns ``None`` for a blank value, otherwise a ``str``, ``float``, ``int``, ``bool``,
    ``pd.Timestamp`` (midnight; first of the month for ``month``) or ``list[str]``.
    Raises ``ValueUnreadable`` for a non-blank value that cannot be read.
    """
    value = read_value(value, kind, unit_multiplier=unit_multiplier)
    return pd.Timestamp(value).as_unit("ns") if isinstance(value, _dt.date) else value


def read_value(value: object, kind: str, *, unit_multiplier: float = 1.0) -> object:
    """``parse_value`` with dates as ``datetime.date`` (the per-record path's form of a date)."""
    if kind not in VALUE_KINDS:
        raise ValueError(f"未知的值类型 {kind!r} (unknown value kind {kind!r}).")
    if kind == "list" and isinstance(value, _SEQ_TYPES):
        return _list(value)
    if isinstance(value, str):
        text = _stripped(value)
        if text is None or kind == "string":  # (a text read as text is its stripped self, as _text reads it)
            return text
    elif _is_blank(value):
        return None
    try:
        if kind in _NUMERIC:
            return _number(value, kind, unit_multiplier)
        return _PARSERS[kind](value)
    except (ValueError, TypeError, KeyError, OverflowError, ArithmeticError):
        raise ValueUnreadable(value, kind) from None


# ---- vectorised column parsing: every helper returns (values in store dtype, bad mask) ----

def _empty(kind: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    dtype, fill = _STORE[kind]
    return np.full(n, fill, dtype=dtype), np.zeros(n, dtype=bool)


def _group(v: object) -> int:
    """0: text, 1: number (not bool), 2: anything else."""
    return 0 if isinstance(v, str) else 1 if _is_number(v) else 2


def _day(d: np.ndarray, kind: str) -> np.ndarray:
    """Truncate datetime64 values to the day (or month start); NaT outside the ns range."""
    d = np.asarray(d).astype("datetime64[M]" if kind == "month" else "datetime64[D]")
    return np.where((d < _NS_MIN) | (d > _NS_MAX), np.datetime64("NaT"), d).astype("datetime64[ns]")


def _per_value(values: np.ndarray, kind: str, mult: float) -> tuple[np.ndarray, np.ndarray]:
    vals, bad = _empty(kind, len(values))
    for i, v in enumerate(values):
        try:
            p = parse_value(v, kind, unit_multiplier=mult)
        except ValueUnreadable:
            bad[i] = True
            continue
        if p is not None:
            vals[i] = p.to_datetime64() if isinstance(p, pd.Timestamp) else p
    return vals, bad


def _objects(values: np.ndarray, kind: str, mult: float) -> tuple[np.ndarray, np.ndarray]:
    """Arbitrary objects (never mixing bools with numbers): parse each distinct value once."""
    codes, distinct = distinct_cells(values)
    # an unhashable sequence cell (a list, or an array from Parquet) is read as a list
    vals_u, bad_u = _per_value(_objects_array([list(v) if isinstance(v, (list, np.ndarray)) else v for v in distinct]), kind, mult)
    # code -1 (missing) picks the appended fill value
    return np.append(vals_u, _empty(kind, 1)[0])[codes], np.append(bad_u, False)[codes]


def distinct_cells(cells: Any) -> tuple[np.ndarray, list[Any]]:
    """Each cell's code (-1 when missing) and one cell per code: list cells are told apart by their items, and
    cells that cannot be hashed even so (dicts) each get a code of their own."""
    try:
        codes, uniques = pd.factorize(cells, use_na_sentinel=True)
        if isinstance(uniques, pd.Index):  # (a Series' distinct values come as an Index)
            uniques = uniques.array
        if isinstance(uniques, (pd.arrays.FloatingArray, pd.arrays.IntegerArray, pd.arrays.BooleanArray)):
            uniques = uniques.to_numpy()  # the same NumPy scalars as iterating the masked array, without its per-item cost
        return np.asarray(codes), list(uniques)
    except TypeError:  # unhashable cells: lists (from JSON, or Parquet list columns)
        pass
    items = cells.tolist()
    keys = np.empty(len(items), dtype=object)
    keys[:] = [None if _na(v) else tuple(v) if isinstance(v, _SEQ_TYPES) else v for v in items]
    try:
        codes, _ = pd.factorize(keys, use_na_sentinel=True)
    except TypeError:  # still unhashable (dicts, nested lists): every present cell on its own
        present = np.array([not _na(v) for v in items], dtype=bool)
        codes = np.full(len(items), -1, dtype=np.int64)
        codes[present] = np.arange(int(present.sum()))
    found, first = np.unique(codes, return_index=True)
    return np.asarray(codes), [items[i] for i in first[found >= 0]]


def _na(value: Any) -> bool:
    return not isinstance(value, (*_SEQ_TYPES, dict)) and bool(pd.isna(value))


def _objects_array(items: Any) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)  # element-wise, so that list cells stay lists
    return out


def _numbers(x: np.ndarray, kind: str, mult: float) -> tuple[np.ndarray, np.ndarray]:
    """Cells holding numbers (float array, or object array of non-bool numbers); NaN is blank."""
    try:
        f = np.asarray(x, dtype=np.float64)
    except (OverflowError, TypeError, ValueError):  # huge ints, or pd.NA among the numbers
        return _objects(np.asarray(x, dtype=object), kind, mult)
    if kind in _NUMERIC:
        vals, bad = np.where(np.isinf(f), np.nan, f), np.isinf(f)
        if kind == "money" and mult != 1:
            vals = np.round(vals * mult, 6)
        if kind == "integer":
            frac = (vals != np.floor(vals)) & ~np.isnan(vals) | (np.abs(vals) >= 2.0**63)
            vals, bad = np.where(frac, np.nan, vals), bad | frac
        return vals, bad
    if kind != "string":
        return _objects(np.asarray(x, dtype=object), kind, mult)
    vals, bad = _empty(kind, len(f))
    ok = (f == np.floor(f)) & (np.abs(f) < 2.0**53)
    vals[ok] = pc.cast(pa.array(f[ok].astype(np.int64)), pa.string()).to_numpy(zero_copy_only=False)
    rest = ~ok & ~np.isnan(f)
    vals[rest], bad[rest] = _objects(np.asarray(x, dtype=object)[rest], kind, mult)
    return vals, bad


def _strings(a: pa.Array | np.ndarray, kind: str, mult: float) -> tuple[np.ndarray, np.ndarray]:
    """Text cells, as an Arrow string array or an object array of str (nulls are blank)."""
    a = pa.array(a, type=pa.large_string()) if isinstance(a, np.ndarray) else a
    (vals, bad), done = _empty(kind, len(a)), np.zeros(len(a), dtype=bool)
    t = pc.utf8_trim_whitespace(a)
    if kind == "string":
        return np.array(clean_text(a).to_numpy(zero_copy_only=False), dtype=object), bad
    if kind in _NUMERIC:
        ok = true_mask(pc.match_substring_regex(t, _FAST_NUM))
        if ok.any():
            f = np.full(len(a), np.nan)
            f[ok] = pc.cast(pc.replace_substring(t.filter(pa.array(ok)), ",", ""), pa.float64()).to_numpy()
            (vals, bad), done = _numbers(f, kind, mult), np.isfinite(f)
    elif kind in ("date", "month"):
        ok = true_mask(pc.match_substring_regex(t, _FAST_DATE))
        if ok.any():
            s = t.filter(pa.array(ok))
            y, m, d = (pc.cast(pc.utf8_slice_codeunits(s, i, i + w), pa.int64()).to_numpy()
                       for i, w in ((0, 4), (5, 2), (8, 2)))
            mon = ((y - 1970) * 12 + m - 1).astype("datetime64[M]")
            day = mon.astype("datetime64[D]") + (d - 1)
            out = _day(np.where(day.astype("datetime64[M]") == mon, day, np.datetime64("NaT")), kind)
            vals[ok], bad[ok], done[ok] = out, np.isnat(out), True  # 2022-02-30 rolls over -> bad
    rest = ~done & np.asarray(a.is_valid())
    if rest.any():
        enc = pc.dictionary_encode(a.filter(pa.array(rest)))
        vals_u, bad_u = _per_value(enc.dictionary.to_numpy(zero_copy_only=False), kind, mult)
        codes = enc.indices.to_numpy()
        vals[rest], bad[rest] = vals_u[codes], bad_u[codes]
    return vals, bad


def one_array(values: Any) -> pa.Array:
    """A pandas column or array as one Arrow array (zero-copy where Arrow-backed; pandas hands those over in
    chunks, and a take on chunks returns chunks)."""
    array = pa.array(values, from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def true_mask(booleans: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow booleans as a NumPy mask, null as False."""
    return np.asarray(pc.fill_null(booleans, False), dtype=bool)


def clean_text(a: pa.Array) -> pa.Array:
    """Text cells trimmed, with blanks and placeholders ("-", "N/A", "ＮＵＬＬ") as nulls."""
    # Fast path kept (NFKC on short cells only): NFKC on every cell adds 2.5 s per 200k-project load, 4% of nightly 200k Parquet here, measured 2026-12-06.
    trimmed = pc.utf8_trim_whitespace(a.cast(pa.large_string()))
    short = true_mask(pc.less_equal(pc.utf8_length(trimmed), _LONGEST_BLANK))
    if not short.any():
        return trimmed
    # Only short cells can be placeholders; NFKC (full-width forms) is applied to those alone.
    candidates = pc.utf8_trim_whitespace(pc.utf8_normalize(trimmed.filter(short), "NFKC"))
    blank = np.zeros(len(a), dtype=bool)
    blank[np.flatnonzero(short)] = np.asarray(pc.is_in(candidates, value_set=_BLANK_SET))
    return pc.if_else(pa.array(blank), pa.scalar(None, pa.large_string()), trimmed)


_EXACT = {"integer": (lambda t: pa.types.is_signed_integer(t) or pa.types.is_unsigned_integer(t) and t.bit_width < 64,
                      pa.int64(), pd.arrays.IntegerArray),
          "bool": (pa.types.is_boolean, pa.bool_(), pd.arrays.BooleanArray)}


def _exact(raw: pd.Series, kind: str) -> pd.api.extensions.ExtensionArray | None:
    """An integer or yes/no column read as that kind (as typed Parquet and pandas columns are): every value is
    readable and kept as it is; None for any other column."""
    if kind not in _EXACT:
        return None
    fits, arrow_type, array_type = _EXACT[kind]
    if isinstance(raw.dtype, pd.ArrowDtype):
        arrow = raw.dtype.pyarrow_dtype
    elif isinstance(raw.dtype, (pd.Int64Dtype, pd.Int32Dtype, pd.Int16Dtype, pd.Int8Dtype, pd.BooleanDtype)) \
            or isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "ib":
        arrow = pa.from_numpy_dtype(raw.dtype.numpy_dtype if hasattr(raw.dtype, "numpy_dtype") else raw.dtype)
    else:
        return None
    if not fits(arrow):
        return None
    values = one_array(raw.array).cast(arrow_type)
    if kind == "integer" and len(values) - values.null_count:
        low, high = pc.min_max(values).values()
        if abs(low.as_py()) > 2**53 or abs(high.as_py()) > 2**53:  # read as other integers are, through floats
            return None
    missing = np.asarray(values.is_null(), dtype=bool)
    if kind == "bool":
        return array_type(true_mask(values), missing)
    return array_type(np.array(values.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64), missing)


def _typed(raw: pd.Series, kind: str, mult: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Dtype-level paths for columns that are already typed; None when not applicable."""
    dt = raw.dtype
    if is_bool_dtype(dt) and kind not in ("string", "list"):
        f = _floats(raw)
        if kind == "bool":
            return f, np.zeros(len(f), dtype=bool)
        return _empty(kind, len(f))[0], ~np.isnan(f)  # a yes/no cell is not a number, date or grade
    if is_numeric_dtype(dt) and (kind in _NUMERIC or kind == "string" and is_float_dtype(dt)):
        return _numbers(_floats(raw), kind, mult)
    if is_datetime64_any_dtype(dt) and kind in ("date", "month"):
        d = np.asarray((raw.dt.tz_localize(None) if getattr(dt, "tz", None) else raw).to_numpy())
        out = _day(d, kind)
        return out, np.isnat(out) & ~np.isnat(d)
    if kind == "list" and isinstance(dt, pd.ArrowDtype) and pa.types.is_list(dt.pyarrow_dtype):
        return _arrow_lists(one_array(raw.array))
    return None


def _floats(raw: pd.Series) -> np.ndarray:
    """A numeric or yes/no column as floats, NaN where missing."""
    return raw.to_numpy(np.float64, na_value=np.nan)


_ITEM_SEP = "\x1f"


def _arrow_lists(a: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """List cells read from Parquet: each distinct list (its items joined) parsed once; None when the items are
    not plain text (the per-cell path reads those)."""
    items = pc.list_flatten(a)
    if not (pa.types.is_string(items.type) or pa.types.is_large_string(items.type)) or items.null_count \
            or pc.any(pc.match_substring(items, _ITEM_SEP)).as_py():
        return None
    keys = pc.dictionary_encode(pc.binary_join(a, _ITEM_SEP))  # [] and [""] share a key: both parse to []
    parsed = _objects_array([_list(k.split(_ITEM_SEP)) for k in keys.dictionary.to_pylist()] + [None])
    codes = pc.fill_null(keys.indices, len(keys.dictionary)).to_numpy(zero_copy_only=False)
    return parsed[codes], np.zeros(len(a), dtype=bool)


def _finish(raw: pd.Series, vals: np.ndarray, bad: np.ndarray, kind: str) -> ParsedColumn:
    if kind in ("number", "money", "integer", "bool"):
        miss = np.isnan(vals)
        clean = np.where(miss, 0.0, vals)
        arr: Any = (pd.arrays.IntegerArray(clean.astype(np.int64), miss) if kind == "integer"
                    else pd.arrays.BooleanArray(clean == 1.0, miss) if kind == "bool"
                    else pd.arrays.FloatingArray(clean, miss))
    elif kind in ("string", "grade"):
        arr = pd.array(vals, dtype=pd.StringDtype("pyarrow"))
    else:
        arr = vals
    return ParsedColumn(pd.Series(arr, index=raw.index, name=raw.name, copy=False),
                        pd.Series(np.asarray(bad, dtype=bool), index=raw.index, name=raw.name, copy=False))


def parse_column(raw: pd.Series, kind: str, *, unit_multiplier: float = 1.0) -> ParsedColumn:
    """Parse a raw column as ``kind`` (one of ``VALUE_KINDS``).

    Blank cells (None/NaN/NaT/NA, whitespace, placeholders such as "-", "N/A", "null")
    become missing and are never bad; non-blank cells that cannot be read become missing
    and are flagged in ``bad``.  ``unit_multiplier`` scales bare numbers of kind ``money``
    (e.g. 10000 for a 万元 column); values carrying their own unit ("50万") ignore it.
    """
    if kind not in VALUE_KINDS:
        raise ValueError(f"未知的值类型 {kind!r} (unknown value kind {kind!r}).")
    if not isinstance(raw, pd.Series):
        raw = pd.Series(raw, dtype=object)
    if isinstance(raw.dtype, pd.CategoricalDtype):
        return _categorical(raw, kind, unit_multiplier)
    if isinstance(raw.dtype, pd.ArrowDtype) and pa.types.is_dictionary(raw.dtype.pyarrow_dtype):
        return _dictionary(raw, kind, unit_multiplier)
    exact = _exact(raw, kind)
    if exact is not None:
        return _all_readable(raw, exact)
    typed = _typed(raw, kind, unit_multiplier)
    if typed is not None:
        return _finish(raw, *typed, kind)
    dt = raw.dtype
    pa_type = getattr(dt, "pyarrow_dtype", pa.null())
    if (isinstance(dt, pd.StringDtype) or pa.types.is_string(pa_type) or pa.types.is_large_string(pa_type)
            or dt == object and infer_dtype(raw, skipna=True) in ("string", "empty")):  # noqa: E721 (a NumPy dtype equals object)
        a = one_array(raw)
        if kind == "string":  # stays in Arrow: no Python object per cell
            return _all_readable(raw, pd.arrays.ArrowStringArray(clean_text(a).cast(pa.large_string())))
        return _finish(raw, *_strings(a.cast(pa.large_string()), kind, unit_multiplier), kind)
    x = raw.to_numpy(dtype=object)
    if infer_dtype(x, skipna=True) in ("integer", "floating", "mixed-integer-float"):
        group = np.ones(len(x), dtype=np.int8)
    else:  # bools are kept apart from numbers because True/False hash equal to 1/0
        group = np.frompyfunc(_group, 1, 1)(x).astype(np.int8)
    vals, bad = _empty(kind, len(x))
    for g, parse in enumerate((_strings, _numbers, _objects)):
        if (mask := group == g).any():
            vals[mask], bad[mask] = parse(x[mask], kind, unit_multiplier)
    return _finish(raw, vals, bad, kind)


def _all_readable(raw: pd.Series, values: Any) -> ParsedColumn:
    """A column whose every cell was read (as text, or as the integers or yes/no values it holds)."""
    return ParsedColumn(pd.Series(values, index=raw.index, name=raw.name, copy=False),
                        pd.Series(np.zeros(len(raw), dtype=bool), index=raw.index, name=raw.name, copy=False))


def _categorical(raw: pd.Series, kind: str, mult: float) -> ParsedColumn:
    """A pandas categorical column: each distinct value is parsed once."""
    categories = pd.Series(raw.cat.categories, dtype=raw.cat.categories.dtype)
    return _decoded(raw, categories, raw.cat.codes.to_numpy(), kind, mult)


def _dictionary(raw: pd.Series, kind: str, mult: float) -> ParsedColumn:
    """An Arrow dictionary column (repetitive text read from Parquet): each distinct value is parsed once."""
    arr = one_array(raw.array)
    dictionary = arr.dictionary
    is_text = pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)
    if is_text and kind == "string":  # text is read as it is, trimmed and with placeholders as blanks: all in Arrow
        return _all_readable(raw, pd.arrays.ArrowStringArray(clean_text(dictionary).take(arr.indices)))
    if is_text:
        categories = pd.Series(pd.arrays.ArrowStringArray(dictionary.cast(pa.large_string())))
    else:
        categories = pd.Series(dictionary.to_pandas())
    codes = pc.fill_null(arr.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return _decoded(raw, categories, codes, kind, mult)


def _decoded(raw: pd.Series, categories: pd.Series, codes: np.ndarray, kind: str, mult: float) -> ParsedColumn:
    """A dictionary-encoded column from its distinct values and each cell's code (-1 when missing)."""
    parsed = parse_column(categories, kind, unit_multiplier=mult)
    array = parsed.values.array
    missing = codes < 0
    if isinstance(array, pd.arrays.ArrowStringArray) and len(array):  # text and grades: taken in Arrow
        values = pd.arrays.ArrowStringArray(one_array(array).take(pa.array(codes, mask=missing)).cast(pa.large_string()))
    else:
        blank = parse_column(pd.Series([None], dtype=object), kind).values
        values = pd.concat([parsed.values, blank], ignore_index=True).take(np.where(missing, len(array), codes)).array
    bad = np.append(parsed.bad.to_numpy(), False)[np.where(missing, len(array), codes)]
    return ParsedColumn(pd.Series(values, index=raw.index, name=raw.name, copy=False),
                        pd.Series(bad, index=raw.index, name=raw.name, copy=False))
