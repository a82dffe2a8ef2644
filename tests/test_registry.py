"""Registry conformance: every function and aggregate of the rule language, in both its forms, on the same rows.

Each entry of ``perfrules.evaluation.functions`` holds a per-record form (the reference semantics) and a
vectorised form. Here both evaluators run every entry, through their own dispatch, on the same generated
rows (missing values included) and must give the same value on every row. A name of the language without
both forms, or without a row generator here, fails.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import perfrules.language.expr as E
from perfrules.evaluation import reference, vectorised
from perfrules.evaluation.context import Context
from perfrules.evaluation.facts import _aggregate
from perfrules.evaluation.functions import AGGREGATES, SCALARS
from perfrules.language.functions import AGGREGATE_FUNCTIONS, SCALAR_FUNCTIONS, TABLE_ORDER

AS_OF = st.sampled_from([dt.date(2021, 3, 1), dt.date(2022, 10, 31), dt.date(2022, 11, 15), dt.date(2023, 1, 5)])
FISCAL_YEAR = st.sampled_from([2021, 2022, 2022, None])
NUMBER = st.one_of(st.none(), st.sampled_from([0, 1, -2.5, 6, 12, 299999.99, 1e6]))
MONTH = st.one_of(st.none(), st.integers(1, 12))
DATE = st.one_of(st.none(), st.dates(dt.date(2020, 12, 1), dt.date(2023, 2, 1)))
TEXT = st.one_of(st.none(), st.sampled_from(["差", "低", "一般", "优", "产出指标", ""]))
ITEMS = st.one_of(st.none(), st.lists(st.sampled_from(["运行成本", "管理效率", "履职效能"]), max_size=3))
GRADES = {"一般": "中", "低": "差"}
LEAP_DATE = st.one_of(DATE, st.sampled_from([dt.date(2024, 2, 29), dt.date(2020, 2, 29), dt.date(2023, 3, 1), dt.date(2262, 1, 1)]))
YEARS = st.one_of(st.none(), st.sampled_from([0, 1, -1, 4, 2.5]))
TARGET_TEXT = st.one_of(st.none(), st.sampled_from(["≥35公里", "95%", "１２０００人", "两万人", "百分之九十", "按计划完成",
                                                    "逐步提高", "一般", "进一步提高", "≥上年", ""]))

# Per function: each argument's rows (a strategy per row) and its column dtype, or a constant ("const").
ARGUMENTS: dict[str, list[tuple[Any, str]]] = {
    "fy_date": [(st.sampled_from(["10-31", "06-30", "01-01", "12-31"]), "const")],
    "month_end": [(MONTH, "Float64")],
    "days_between": [(DATE, "datetime64[ns]"), (DATE, "datetime64[ns]")],
    "add_years": [(LEAP_DATE, "datetime64[ns]"), (YEARS, "Float64")],
    "year": [(DATE, "datetime64[ns]")],
    "month": [(DATE, "datetime64[ns]")],
    "months_elapsed": [],
    "len": [(ITEMS, "object")],
    "abs": [(NUMBER, "Float64")],
    "has_number": [(TARGET_TEXT, "string")],
    "coalesce": [(NUMBER, "Float64"), (NUMBER, "Float64"), (NUMBER, "Float64")],
    "lookup": [(TEXT, "string"), (st.just(GRADES), "const")],
    "missing_items": [(st.just(["运行成本", "管理效率", "履职效能"]), "const"), (ITEMS, "object")],
    "missing": [(NUMBER, "Float64")],
    "present": [(DATE, "datetime64[ns]")],
}


def test_every_function_of_the_language_has_both_forms_and_rows_here():
    assert set(SCALARS) == set(SCALAR_FUNCTIONS), "a scalar function without a registry entry (or an entry without a signature)"
    assert set(AGGREGATES) == set(AGGREGATE_FUNCTIONS), "an aggregate without a registry entry (or an entry without a signature)"
    for entry in [*SCALARS.values(), *AGGREGATES.values()]:
        assert callable(entry.record) and callable(entry.vectorised), entry.name
    assert set(ARGUMENTS) == set(SCALARS), "a function without rows in this conformance test"


def plain(value: Any) -> Any:
    """A value of either form as plain Python: missing as None, dates as date, numbers as float."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return value


def column(values: list[Any], dtype: str) -> pd.Series:
    if dtype == "datetime64[ns]":
        return pd.Series([pd.NaT if v is None else pd.Timestamp(v) for v in values], dtype=dtype)
    if dtype == "object":
        return pd.Series(values, dtype=object)
    return pd.Series(values, dtype=dtype)


@pytest.mark.parametrize("name", sorted(SCALARS))
@settings(max_examples=60, deadline=None)
@given(data=st.data(), as_of=AS_OF)
def test_scalar_function_forms_agree(name, data, as_of):
    spec = ARGUMENTS[name]
    n = data.draw(st.integers(1, 6), label="rows")
    years = data.draw(st.lists(FISCAL_YEAR, min_size=n, max_size=n), label="fiscal years")
    frame = {"fiscal_year": pd.Series(years, dtype="Int64")}
    args: list[E.Node] = []
    for i, (strategy, dtype) in enumerate(spec):
        if dtype == "const":
            args.append(E.Literal(data.draw(strategy, label=f"constant {i}"), "any"))
            continue
        frame[f"a{i}"] = column(data.draw(st.lists(strategy, min_size=n, max_size=n), label=f"column {i}"), dtype)
        args.append(E.Ref("field", f"a{i}"))
    node = E.Call(name, tuple(args))
    table = pd.DataFrame(frame)
    got = vectorised.evaluate(node, Context(table, {}, as_of))
    got_rows = got.tolist() if isinstance(got, pd.Series) else [got] * n
    for row in range(n):
        values = {c: plain(table[c].iloc[row]) for c in table}
        values["fiscal_year"] = years[row]
        expected = reference.evaluate(node, values, {}, as_of)
        assert plain(got_rows[row]) == plain(expected), (name, values)


# --- aggregates ---------------------------------------------------------------------------------------

PRECEDENCE = ["财政重点评价", "第三方", "部门评价", "单位自评"]
RECORDS = 4  # record 3 often has no rows: the supplied-empty case


def related_rows(table: str) -> st.SearchStrategy:
    order = {"evaluations": st.one_of(st.none(), st.integers(2019, 2023)),
             "payments": DATE, "monitoring": st.one_of(st.none(), st.integers(1, 12).map(lambda m: dt.date(2022, m, 1))),
             "indicators": st.none()}[table]
    return st.lists(st.fixed_dictionaries({
        "record": st.integers(0, RECORDS - 1), "flag": st.sampled_from([True, False, None]),
        "number": NUMBER, "text": TEXT, "order": order,
        "evaluator": st.sampled_from([*PRECEDENCE, "其他", None]),
    }), max_size=14)


def aggregate_node(name: str, table: str, value_kind: str, with_where: bool) -> E.Aggregate:
    sig = AGGREGATE_FUNCTIONS[name]
    if sig.args[1].startswith("bool"):  # count/any/all/streak: a condition only
        return E.Aggregate(name, table, where=E.Ref("column", "flag") if with_where or sig.args[1] == "bool" else None)
    value = E.Ref("column", "number" if value_kind == "number" or sig.args[1] == "number" else "text")
    return E.Aggregate(name, table, value=value, where=E.Ref("column", "flag") if with_where else None)


def run_both(agg: E.Aggregate, rows: list[dict[str, Any]], fiscal_years: list[int], params: dict[str, Any],
             as_of: dt.date) -> tuple[list[Any], list[Any]]:
    """The aggregate on every record: vectorised over all rows at once, and per record on its own rows."""
    order_col = TABLE_ORDER[agg.table]
    typed = []
    for r in rows:
        row = {"flag": r["flag"], "number": r["number"], "text": r["text"], "evaluator": r["evaluator"],
               "fiscal_year": fiscal_years[r["record"]]}
        if order_col:
            row[order_col] = r["order"]
        typed.append(row)
    frame = pd.DataFrame({
        "flag": pd.array([t["flag"] for t in typed], dtype="boolean"),
        "number": pd.array([t["number"] for t in typed], dtype="Float64"),
        "text": pd.Series([t["text"] for t in typed], dtype="string"),
        "evaluator": pd.Series([t["evaluator"] for t in typed], dtype="string"),
        "fiscal_year": pd.Series([float(t["fiscal_year"]) for t in typed], dtype="Float64"),
    })
    if order_col == "year":
        frame["year"] = pd.Series([t["year"] for t in typed], dtype="Int64")
    elif order_col:
        frame[order_col] = column([t[order_col] for t in typed], "datetime64[ns]")
    pos = np.array([r["record"] for r in rows], dtype=np.int64)
    got = _aggregate(agg, Context(frame, params, as_of), pos, RECORDS, pd.RangeIndex(RECORDS))
    expected = [reference.aggregate(agg, reference.Record({"fiscal_year": fiscal_years[i]},
                                                          {agg.table: [t for t, r in zip(typed, rows) if r["record"] == i]}),
                                    params, as_of)
                for i in range(RECORDS)]
    return [plain(v) for v in got.tolist()], [plain(v) for v in expected]


@pytest.mark.parametrize("table", list(TABLE_ORDER))
@pytest.mark.parametrize("name", sorted(AGGREGATES))
@settings(max_examples=60, deadline=None)
@given(data=st.data(), as_of=AS_OF)
def test_aggregate_forms_agree(name, table, data, as_of):
    rows = data.draw(related_rows(table), label="rows")
    agg = aggregate_node(name, table, data.draw(st.sampled_from(["number", "text"]), label="value"),
                         data.draw(st.booleans(), label="where"))
    fiscal_years = data.draw(st.lists(st.sampled_from([2021, 2022, 2023]), min_size=RECORDS, max_size=RECORDS), label="fy")
    params = {"evaluation_precedence": data.draw(st.sampled_from([PRECEDENCE, PRECEDENCE[::-1], []]), label="precedence")}
    got, expected = run_both(agg, rows, fiscal_years, params, as_of)
    assert got == expected


# What each aggregate gives a record with no rows in a supplied table (supplied means complete), and over a
# table the input does not have at all (missing: the rule reports PF-D03-ABSENT).
NO_ROWS = {"count": 0.0, "count_distinct": 0.0, "sum": 0.0, "any": False, "all": True, "streak": 0.0,
           "min": None, "max": None, "top": None, "streak_start": None}


def test_every_aggregate_says_what_no_rows_mean():
    assert set(NO_ROWS) == set(AGGREGATES)


@pytest.mark.parametrize("table", list(TABLE_ORDER))
@pytest.mark.parametrize("name", sorted(AGGREGATES))
def test_no_rows_in_a_supplied_table_and_an_absent_table(name, table):
    agg = aggregate_node(name, table, "number", with_where=True)
    got, expected = run_both(agg, [], [2022] * RECORDS, {}, dt.date(2022, 11, 15))
    assert got == expected == [NO_ROWS[name]] * RECORDS
    assert reference.aggregate(agg, reference.Record({"fiscal_year": 2022}, {table: None}), {}, dt.date(2022, 11, 15)) is None
