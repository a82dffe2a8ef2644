"""Tests for perfrules.inputs.values: typed parsing of messy export values."""
from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfrules.inputs.values import VALUE_KINDS, ParsedColumn, ValueUnreadable, parse_column, parse_value, read_value

TS = pd.Timestamp
BLANKS = [None, np.nan, pd.NA, pd.NaT, "", "   ", "\u3000", "-", "—", "－", "--", "N/A", "n/a", "NA",
          "null", "NULL", "None"]


def col(values: list, dtype: object = object) -> pd.Series:
    return pd.Series(values, dtype=dtype)


def parsed(values: list, kind: str, **kw: float) -> tuple[list, list]:
    res = parse_column(col(values), kind, **kw)
    return [None if pd.api.types.is_scalar(v) and pd.isna(v) else v for v in res.values], res.bad.tolist()


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("raw, expected", [
    ("1234567", 1234567.0), ("1,234,567.00", 1234567.0), ("1，234，567", 1234567.0),
    (" 12.5 ", 12.5), ("５０００００", 500000.0), ("１２．５", 12.5), ("－５", -5.0), ("-5", -5.0),
    ("-1,234.5", -1234.5), ("95%", 0.95), ("50万", 500000.0), ("50万元", 500000.0),
    ("1.2亿", 120000000.0), ("1.2亿元", 120000000.0), ("500元", 500.0), ("1e3", 1000.0),
    (7, 7.0), (2.5, 2.5), (np.int64(3), 3.0),
])
def test_number_forms(raw: object, expected: float) -> None:
    assert parsed([raw], "number") == ([expected], [False])
    assert parse_value(raw, "number") == expected


def test_number_column_bad_mask() -> None:
    values, bad = parsed(["abc", "12x3", "1.2.3", "1,2,3", True, False, "12", None, "-", "inf"], "number")
    assert values == [None] * 6 + [12.0, None, None, None]
    assert bad == [True, True, True, True, True, True, False, False, False, True]


def test_bool_in_number_column_is_bad_even_next_to_one() -> None:
    # True hashes equal to 1; it must not borrow the parse result of the number 1
    values, bad = parsed([1, True, 1.0, False, 0], "number")
    assert values == [1.0, None, 1.0, None, 0.0]
    assert bad == [False, True, False, True, False]
    res = parse_column(pd.Series([True, False, None], dtype="boolean"), "number")
    assert res.bad.tolist() == [True, True, False]


def test_numeric_dtype_fast_path() -> None:
    res = parse_column(pd.Series([1.5, np.nan, np.inf, -2.0]), "number")
    assert str(res.values.dtype) == "Float64"
    assert res.values.tolist()[0] == 1.5 and res.values.isna().tolist() == [False, True, True, False]
    assert res.bad.tolist() == [False, False, True, False]


def test_money_unit_multiplier() -> None:
    values, bad = parsed(["12", 3, "1.1", "50万", "500元", "1.2亿元", "95%", None], "money",
                         unit_multiplier=10000)
    assert values == [120000.0, 30000.0, 11000.0, 500000.0, 500.0, 120000000.0, None, None]
    assert bad == [False] * 6 + [True, False]
    res = parse_column(pd.Series([1.5, None]), "money", unit_multiplier=10000)
    assert res.values.tolist()[0] == 15000.0
    assert parse_value("1.1", "money", unit_multiplier=10000) == 11000.0
    assert parse_value("50万元", "money", unit_multiplier=10000) == 500000.0
    assert parse_value("12", "number", unit_multiplier=10000) == 12.0  # multiplier is for money only


def test_integer() -> None:
    res = parse_column(col(["12", "1,000", 4.0, 2.5, "2.5", "50万", "95%", "-3", None]), "integer")
    assert str(res.values.dtype) == "Int64"
    assert [None if pd.isna(v) else v for v in res.values] == [12, 1000, 4, None, None, None, None, -3, None]
    assert res.bad.tolist() == [False, False, False, True, True, True, True, False, False]
    assert parse_column(pd.Series([1.0, 2.5]), "integer").bad.tolist() == [False, True]
    assert parse_value("７", "integer") == 7 and isinstance(parse_value("7", "integer"), int)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(-10**12, 10**12),
                          st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)),
                min_size=1, max_size=20))
def test_thousands_separator_roundtrip(numbers: list[float]) -> None:
    texts = [f"{x:,.2f}" for x in numbers]
    expected = [float(t.replace(",", "")) for t in texts]
    res = parse_column(col(texts), "number")
    assert not res.bad.any()
    for got, text, want in zip(res.values, texts, expected):
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9)
        assert parse_value(text, "money") == pytest.approx(want, rel=1e-6, abs=1e-9)


# ---------------------------------------------------------------- blanks

@pytest.mark.parametrize("kind", VALUE_KINDS)
def test_blanks_are_missing_not_bad(kind: str) -> None:
    res = parse_column(col(BLANKS), kind)
    assert res.values.isna().all() if kind != "list" else res.values.tolist() == [None] * len(BLANKS)
    assert res.bad.tolist() == [False] * len(BLANKS)
    assert res.bad.dtype == np.dtype(bool)
    assert all(parse_value(v, kind) is None for v in BLANKS)


def test_placeholders_are_blank_whatever_their_width_and_spacing_but_longer_text_is_text() -> None:
    for placeholder in ("\u3000ＮＵＬＬ\u3000", " Ｎ／Ａ ", "\u00a0－\u00a0", "\t—\n", "－－"):
        assert parse_value(placeholder, "string") is None and parse_value(placeholder, "money") is None
    assert parse_value(" null value ", "string") == "null value"
    assert parse_value("ＮＵＬＬ项目", "string") == "ＮＵＬＬ项目"


def test_wu_is_not_blank() -> None:
    assert parse_value("无", "string") == "无"
    assert parse_value("无", "bool") is False
    assert parsed(["无"], "number") == ([None], [True])


# ---------------------------------------------------------------- bool

def test_bool_forms() -> None:
    trues = [True, "true", "TRUE", 1, 1.0, "1", "是", "Y", "y", "yes", "T", "✓", "✔", "√", "有", "ｙｅｓ"]
    falses = [False, "False", 0, 0.0, "0", "否", "N", "n", "no", "F", "✗", "✘", "×", "无"]
    values, bad = parsed(trues + falses + ["maybe", 2, "对", None], "bool")
    assert values == [True] * len(trues) + [False] * len(falses) + [None] * 4
    assert bad == [False] * (len(trues) + len(falses)) + [True, True, True, False]
    res = parse_column(pd.Series([True, False]), "bool")
    assert str(res.values.dtype) == "boolean" and res.values.tolist() == [True, False]


# ---------------------------------------------------------------- dates

@pytest.mark.parametrize("raw", [
    dt.date(2022, 10, 31), dt.datetime(2022, 10, 31, 13, 5), TS("2022-10-31 08:00"),
    np.datetime64("2022-10-31"),
    "2022-10-31", "2022/10/31", "2022.10.31", "2022年10月31日", "2022-10-31 00:00:00", "2022-10-31 17:45:00",
    "20221031", 20221031, "２０２２－１０－３１", " 2022-10-31 ", 44865, 44865.75, "44865",
])
def test_date_forms(raw: object) -> None:
    assert parsed([raw], "date") == ([TS("2022-10-31")], [False])
    assert parse_value(raw, "date") == TS("2022-10-31")
    day = read_value(raw, "date")  # the per-record path's form: a plain date, no pandas
    assert type(day) is dt.date and day == dt.date(2022, 10, 31)


def test_excel_serials() -> None:
    values, bad = parsed([44865, 1, 59, 60, 61, 0, -3, 3000000], "date")
    assert values == [TS("2022-10-31"), TS("1900-01-01"), TS("1900-02-28"), None, TS("1900-03-01"),
                      None, None, None]
    assert bad == [False, False, False, True, False, True, True, True]


def test_invalid_dates_are_bad() -> None:
    raw = ["2022-02-30", "2022-13-01", "2021-02-29", "20220230", "2022-10-31 25:00:00", "2022-10/31",
           "yesterday", True, "2024-02-29"]
    values, bad = parsed(raw, "date")
    assert values == [None] * 8 + [TS("2024-02-29")]
    assert bad == [True] * 8 + [False]
    with pytest.raises(ValueUnreadable):
        parse_value("2022-02-30", "date")
    with pytest.raises(ValueUnreadable):
        read_value("2022-02-30", "date")


def test_datetime_dtype_columns() -> None:
    res = parse_column(pd.Series(pd.to_datetime(["2022-10-31 13:00", None])), "date")
    assert str(res.values.dtype) == "datetime64[ns]"
    assert res.values.tolist()[0] == TS("2022-10-31") and pd.isna(res.values.iloc[1])
    assert res.bad.tolist() == [False, False]
    tz = pd.Series(pd.to_datetime(["2022-10-31 13:00"]).tz_localize("Asia/Shanghai"))
    assert parse_column(tz, "month").values.tolist() == [TS("2022-10-01")]


@pytest.mark.parametrize("raw", ["2022-10", "2022/10", "2022.10", "2022年10月", "202210", 202210, "2022-10-31",
                                 "2022年10月5日", 44865, dt.datetime(2022, 10, 31, 9), dt.date(2022, 10, 2)])
def test_month_forms(raw: object) -> None:
    assert parsed([raw], "month") == ([TS("2022-10-01")], [False])
    assert read_value(raw, "month") == dt.date(2022, 10, 1)


def test_month_bad() -> None:
    values, bad = parsed(["2022-13", "202213", "Oct", None], "month")
    assert values == [None] * 4 and bad == [True, True, True, False]


# ---------------------------------------------------------------- grade, list, string

def test_grades() -> None:
    raw = ["优", "优秀", "A", "a", " 良 ", "良好", "B", "中", "中等", "C", "一般", "差", "较差", "不合格", "D", "d", "低", "Ａ"]
    res = parse_column(col(raw + ["合格", "E", 1, None]), "grade")
    assert res.values.dtype == pd.StringDtype("pyarrow")
    assert res.values.tolist()[:len(raw)] == ["优", "优", "优", "优", "良", "良", "良", "中", "中", "中", "一般",
                                              "差", "差", "差", "差", "差", "低", "优"]  # 不合格 (同心县) reads as 差
    assert res.values.isna().tolist()[len(raw):] == [True] * 4
    assert res.bad.tolist() == [False] * len(raw) + [True, True, True, False]


def test_lists() -> None:
    raw = [["a ", " ", "b", None], ("x",), "甲、乙;丙；丁,戊，己|庚/辛\n壬", " 单项 ", ",,", 5, None, []]
    values, bad = parsed(raw, "list")
    # An empty list given as a list is empty (no items), not missing; ",," text is a blank cell.
    assert values == [["a", "b"], ["x"], list("甲乙丙丁戊己庚辛壬"), ["单项"], None, ["5"], None, []]
    assert bad == [False] * len(raw)
    assert parse_value("a / b", "list") == ["a", "b"]


@pytest.mark.parametrize("cells", [
    [["财政拨款", " 自筹 "], ["财政拨款", " 自筹 "], [], [""], ["-", "x"], ["ＮＵＬＬ"], None, ["a b", "c"]],
    [["a", None], ["b"], None],            # a missing item: read cell by cell
    [["a\x1fb"], ["a", "b"], []],           # an item holding the key separator: read cell by cell
])
def test_parquet_list_columns_agree_with_scalar(cells: list) -> None:
    # Parquet list columns arrive as Arrow lists and are parsed once per distinct list.
    arrow = pd.Series(pd.arrays.ArrowExtensionArray(pa.array(cells, pa.list_(pa.string()))))
    res = parse_column(arrow, "list")
    assert [None if v is None else v for v in res.values] == [parse_value(v, "list") for v in cells]
    assert res.bad.tolist() == [False] * len(cells)


def test_repeated_datetimes_are_truncated_per_value() -> None:
    months = pd.Series(pd.to_datetime(["2022-10-15 08:00", None, "2022-10-15 08:00", "2022-03-31 00:00"]))
    assert parse_column(months, "month").values.tolist()[::2] == [TS("2022-10-01"), TS("2022-10-01")]
    assert parse_column(months, "date").values.tolist()[3] == TS("2022-03-31")
    assert pd.isna(parse_column(months, "month").values.iloc[1])


def test_strings() -> None:
    raw = [123.0, 12.5, 7, " abc\u3000", "\u3000", "-", True, dt.datetime(2022, 10, 31), "无"]
    res = parse_column(col(raw), "string")
    assert res.values.dtype == pd.StringDtype("pyarrow")
    assert [None if pd.isna(v) else v for v in res.values] == [
        "123", "12.5", "7", "abc", None, None, "True", "2022-10-31", "无"]
    assert not res.bad.any()
    ids = parse_column(pd.Series([110101.0, np.nan, 3.25]), "string")
    assert ids.values.tolist()[0] == "110101" and pd.isna(ids.values.iloc[1]) and ids.values.iloc[2] == "3.25"


# ---------------------------------------------------------------- column plumbing

def test_result_shape_index_and_dtypes() -> None:
    raw = pd.Series(["1", "x", None], index=[10, 20, 30], name="金额")
    res = parse_column(raw, "money")
    assert isinstance(res, ParsedColumn)
    assert res.values.index.tolist() == [10, 20, 30] and res.bad.index.tolist() == [10, 20, 30]
    assert res.bad.tolist() == [False, True, False] and res.bad.dtype == np.dtype(bool)
    assert str(res.values.dtype) == "Float64" and res.values.name == "金额"


@pytest.mark.parametrize("dtype", [None, object, "string", pd.StringDtype("python"), pd.StringDtype("pyarrow"),
                                   pd.ArrowDtype(pa.string()), "category", "arrow dictionary"])
def test_text_dtypes_agree(dtype: object) -> None:
    raw = ["1,234.5", " 12 ", "abc", None, "50万", "2022-10-31", "44865", "是", "优秀", " 较差 ", "abc", "-", " ＮＵＬＬ ", "  "]
    for kind in ("number", "money", "date", "bool", "string", "grade", "list"):
        if dtype == "arrow dictionary":  # repetitive text as read from Parquet
            series = pd.Series(pd.arrays.ArrowExtensionArray(pa.array(raw, pa.string()).dictionary_encode()))
        else:
            series = pd.Series(raw, dtype=dtype)
        got = parse_column(series, kind)
        ref = parse_column(pd.Series(raw, dtype=object), kind)
        pd.testing.assert_series_equal(got.values, ref.values)
        assert got.bad.tolist() == ref.bad.tolist()


# Typed Parquet columns, as the export loader reads them: kept in Arrow (every column an ArrowDtype).
PARQUET_COLUMNS = {
    "int64": pa.array([2022, None, 0, -7, 2**60], pa.int64()),
    "int32": pa.array([1, None, 3, 2022, 12], pa.int32()),
    "double": pa.array([1.5, None, float("nan"), float("inf"), 1234.0], pa.float64()),
    "float32": pa.array([0.5, None, 2.0, -1.0, 3.25], pa.float32()),
    "bool": pa.array([True, None, False, True, False], pa.bool_()),
    "timestamp": pa.array([dt.datetime(2022, 10, 15, 8), None, dt.datetime(2022, 10, 15, 8), dt.datetime(1969, 12, 31),
                           dt.datetime(2022, 2, 28)], pa.timestamp("ns")),
    "timestamp with zone": pa.array([dt.datetime(2022, 10, 15, 8), None, dt.datetime(2022, 1, 1), dt.datetime(2022, 1, 1),
                                     dt.datetime(2023, 6, 30)], pa.timestamp("us", tz="Asia/Shanghai")),
    "date32": pa.array([dt.date(2022, 10, 31), None, dt.date(2022, 1, 1), dt.date(2022, 1, 1), dt.date(1999, 12, 31)],
                       pa.date32()),
    "string": pa.array([" 12 ", None, "是", "2022-10-31", "ＮＵＬＬ"], pa.string()),
    "large_string": pa.array(["50万", "-", "优秀", "a、b", None], pa.large_string()),
    "list": pa.array([["a", " b"], None, [], ["-"], ["a", " b"]], pa.list_(pa.string())),
}


@pytest.mark.parametrize("column", [
    pd.Series([2022, 0, -7, 12]), pd.Series([2022, None, -7, 12], dtype="Int64"), pd.Series([1, None, 3, 4], dtype="Int32"),
    pd.Series(pd.arrays.ArrowExtensionArray(pa.array([2022, None, -7, 12], pa.int32()))),
    pd.Series([True, False, True, True]), pd.Series([True, None, False, True], dtype="boolean"),
    pd.Series(pd.arrays.ArrowExtensionArray(pa.array([True, None, False, True]))),
], ids=["int64", "Int64", "Int32", "arrow int32", "bool", "boolean", "arrow bool"])
@pytest.mark.parametrize("kind", ["integer", "bool", "number", "string"])
def test_typed_integer_and_bool_columns_parse_as_their_values(column: pd.Series, kind: str) -> None:
    # the same values as Python objects take the general path, cell by cell
    objects = pd.Series([None if v is pd.NA else v.item() if hasattr(v, "item") else v for v in column.tolist()], dtype=object)
    got, want = parse_column(column, kind), parse_column(objects, kind)
    pd.testing.assert_series_equal(got.values, want.values)
    assert got.bad.tolist() == want.bad.tolist()


def test_integers_beyond_float_precision_read_as_in_any_other_column() -> None:
    big = [2**53 + 1, None, -2**63]
    for column in (pd.Series(big, dtype="Int64"), pd.Series(pd.arrays.ArrowExtensionArray(pa.array(big, pa.int64())))):
        got, want = parse_column(column, "integer"), parse_column(pd.Series(big, dtype=object), "integer")
        pd.testing.assert_series_equal(got.values, want.values)
        assert got.bad.tolist() == want.bad.tolist() == [False, False, True]


@pytest.mark.parametrize("kind", VALUE_KINDS)
def test_parquet_columns_parse_as_pandas_converted_ones(kind: str, tmp_path) -> None:
    # The export loader keeps Parquet columns in Arrow; each parses as pandas' own conversion of it does.
    import pyarrow.parquet as pq

    from perfrules.inputs.export import _read_parquet
    from perfrules.language.fields import TABLES
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(PARQUET_COLUMNS), path)
    kept, converted = _read_parquet(path, TABLES["projects"]), pq.read_table(path).to_pandas()
    for name in PARQUET_COLUMNS:
        got = parse_column(kept[name], kind, unit_multiplier=10)
        want = parse_column(converted[name], kind, unit_multiplier=10)
        pd.testing.assert_series_equal(got.values, want.values, obj=name)
        assert got.bad.tolist() == want.bad.tolist(), name


@pytest.mark.parametrize("kind", VALUE_KINDS)
def test_column_agrees_with_scalar(kind: str) -> None:
    raw = ["12", "1,234.56", "-7", "２０２２年１０月３１日", "2022-10-31", "2022-02-30", "2022-10", 44865, 3.0, 2.5,
           True, False, "是", "优秀", "b", "a、b", "95%", "50万", " x ", "", None, dt.date(2022, 1, 5), "1e3"]
    res = parse_column(col(raw), kind, unit_multiplier=100)
    for value, got, is_bad in zip(raw, res.values, res.bad):
        try:
            want = parse_value(value, kind, unit_multiplier=100)
        except ValueUnreadable:
            assert is_bad and (got is None or pd.isna(got))
            continue
        assert not is_bad
        assert (got is None or got is pd.NaT or got is pd.NA) if want is None else got == want


def test_odd_columns() -> None:
    ids = parse_column(pd.Series([2**60, 5]), "string")
    assert ids.values.tolist() == ["1152921504606846976", "5"]
    values, bad = parsed([1, pd.NA, 2.5, 2**70], "number")
    assert values == [1.0, None, 2.5, float(2**70)] and bad == [False] * 4
    assert parsed([np.array(["a", " b"]), None], "list") == ([["a", "b"], None], [False, False])
    empty = parse_column(pd.Series([], dtype=object), "date")
    assert len(empty.values) == 0 and str(empty.values.dtype) == "datetime64[ns]"
    assert parse_column(["1", "x"], "integer").bad.tolist() == [False, True]  # plain list accepted


# ---------------------------------------------------------------- scalar API

def test_parse_value_types() -> None:
    assert parse_value("50万", "money") == 500000.0
    assert parse_value(" 12.5 ", "number") == 12.5
    assert parse_value(44865, "date") == TS("2022-10-31")
    assert parse_value("2022年10月", "month") == TS("2022-10-01")
    assert parse_value("Y", "bool") is True
    assert parse_value("良好", "grade") == "良"
    assert parse_value(123.0, "string") == "123"
    assert parse_value("a；b", "list") == ["a", "b"]
    assert parse_value("   ", "money") is None


def test_value_unreadable_message() -> None:
    with pytest.raises(ValueUnreadable) as err:
        parse_value("12x3", "number")
    assert err.value.value == "12x3" and err.value.kind == "number"
    assert str(err.value) == "无法识别的数值 '12x3' (cannot read '12x3' as a number)."
    assert isinstance(err.value, ValueError)
    with pytest.raises(ValueUnreadable, match=r"2022-02-30") as err:
        parse_value("2022-02-30", "date")
    assert str(err.value).startswith("无法识别的日期 ")
    with pytest.raises(ValueUnreadable) as err:
        parse_value(True, "money")
    assert "True" in str(err.value)
    copy = pickle.loads(pickle.dumps(err.value))
    assert (copy.value, copy.kind) == (True, "money")


def test_unknown_kind() -> None:
    with pytest.raises(ValueError):
        parse_column(col(["1"]), "float")
    with pytest.raises(ValueError):
        parse_value("1", "float")


def test_true_mask_reads_null_as_false_in_plain_and_chunked_arrays() -> None:
    from perfrules.inputs.values import true_mask
    plain = pa.array([True, None, False, True])
    assert true_mask(plain).tolist() == [True, False, False, True]
    assert true_mask(pa.chunked_array([[None, True], [False]])).tolist() == [False, True, False]
    assert true_mask(plain.slice(1, 3)).tolist() == [False, False, True]
    whole = pa.array([False, True, True, False, True, False, False, False, True, True])  # no nulls: read as they are
    assert true_mask(whole.slice(3, 7)).tolist() == [False, True, False, False, False, True, True]
    assert true_mask(pa.chunked_array([whole.slice(8), whole.slice(0, 2)])).tolist() == [True, True, False, True]
