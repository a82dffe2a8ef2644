"""The fact layer's aggregates against plain-Python definitions, on generated related rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import perfrules.language.expr as E
from perfrules.evaluation.facts import _aggregate
from perfrules.evaluation.vectorised import Context

TRUTH = st.sampled_from([True, False, None])


def _rows(draw_rows: list[tuple[int, object, object]], order: str) -> tuple[pd.DataFrame, np.ndarray]:
    pos = np.array([r[0] for r in draw_rows], dtype=np.int64)
    frame = pd.DataFrame({"flag": pd.array([r[1] for r in draw_rows], dtype="boolean"),
                          order: pd.Series([r[2] for r in draw_rows], dtype="Int64" if order == "year" else "datetime64[ns]")})
    return frame, pos


def _value(v: object) -> bool | None:
    return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v


def expected_streak(rows: list[tuple[int, object, object]], n: int) -> list[float | None]:
    out: list[float | None] = []
    for record in range(n):
        mine = [(i, r) for i, r in enumerate(rows) if r[0] == record]
        # most recent first, rows without an order last, file order among equals
        mine.sort(key=lambda ir: (ir[1][2] is None, 0 if ir[1][2] is None else -_key(ir[1][2]), ir[0]))
        length = 0
        result: float | None = None
        for _, (_, flag, _) in mine:
            if flag is True:
                length += 1
                continue
            result = None if flag is None else float(length)
            break
        else:
            result = float(length)
        out.append(result)
    return out


def _key(v: object) -> float:
    return v.toordinal() if isinstance(v, dt.date) else float(v)  # type: ignore[arg-type]


def _run(func: str, table: str, frame: pd.DataFrame, pos: np.ndarray, n: int, value: E.Node | None = None) -> list:
    agg = E.Aggregate(func, table, value=value, where=E.Ref("column", "flag") if func == "streak" else None)
    ctx = Context(frame, {}, dt.date(2022, 11, 15))
    out = _aggregate(agg, ctx, pos, n, pd.RangeIndex(n))
    return [None if v is pd.NA else float(v) for v in out.astype(object)]


ROW_YEARS = st.lists(st.tuples(st.integers(0, 3), TRUTH, st.sampled_from([None, 2019, 2020, 2021, 2022])), max_size=25)
ROW_DATES = st.lists(st.tuples(st.integers(0, 3), TRUTH,
                               st.sampled_from([None, dt.date(2022, 1, 1), dt.date(2022, 3, 1), dt.date(2021, 12, 1), dt.date(1969, 12, 1)])),
                     max_size=25)


PRECEDENCE = ["财政重点评价", "第三方", "部门评价", "单位自评"]
EVALUATORS = st.sampled_from([*PRECEDENCE, "其他", None])


def expected_year_streak(rows: list[tuple[int, object, object, object]], fiscal_year: int, n: int) -> list[float | None]:
    """Evaluated years before the fiscal year, newest first, each year's flag read from its most authoritative
    evaluation (the first such row in the file among equals); the run of true years."""
    out: list[float | None] = []
    for record in range(n):
        years: dict[int, tuple[int, int, object]] = {}
        for i, (p, flag, year, evaluator) in enumerate(rows):
            if p != record or year is None or year >= fiscal_year:  # type: ignore[operator]
                continue
            rank = PRECEDENCE.index(evaluator) if evaluator in PRECEDENCE else len(PRECEDENCE)
            if year not in years or (rank, i) < years[year][:2]:  # type: ignore[operator]
                years[year] = (rank, i, flag)  # type: ignore[index]
        length: float | None = 0.0
        for year in sorted(years, reverse=True):
            flag = years[year][2]
            if flag is None:
                length = None
                break
            if not flag:
                break
            length += 1  # type: ignore[operator]
        out.append(length)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), TRUTH, st.sampled_from([None, 2019, 2020, 2021, 2022]), EVALUATORS), max_size=25))
def test_streak_over_evaluations_counts_years_before_the_fiscal_year(rows):
    # Several evaluations of one year are one year, read from its most authoritative evaluation; the fiscal
    # year's own evaluation (2022) does not count.
    frame = pd.DataFrame({"flag": pd.array([r[1] for r in rows], dtype="boolean"),
                          "year": pd.Series([r[2] for r in rows], dtype="Int64"),
                          "evaluator": pd.Series([r[3] for r in rows], dtype="string"),
                          "fiscal_year": pd.Series([2022.0] * len(rows), dtype="Float64")})
    pos = np.array([r[0] for r in rows], dtype=np.int64)
    agg = E.Aggregate("streak", "evaluations", where=E.Ref("column", "flag"))
    ctx = Context(frame, {"evaluation_precedence": PRECEDENCE}, dt.date(2022, 11, 15))
    out = _aggregate(agg, ctx, pos, 4, pd.RangeIndex(4))
    assert [None if v is pd.NA else float(v) for v in out.astype(object)] == expected_year_streak(rows, 2022, 4)


def test_streak_counts_a_year_once_however_many_evaluations_it_has() -> None:
    # 2021: a 单位自评 差 and a 财政重点评价 差 are one low year, not two (issue 14, P13).
    frame = pd.DataFrame({"flag": pd.array([True, True, False], dtype="boolean"),
                          "year": pd.Series([2021, 2021, 2019], dtype="Int64"),
                          "evaluator": pd.Series(["单位自评", "财政重点评价", "单位自评"], dtype="string"),
                          "fiscal_year": pd.Series([2022.0] * 3, dtype="Float64")})
    agg = E.Aggregate("streak", "evaluations", where=E.Ref("column", "flag"))
    ctx = Context(frame, {"evaluation_precedence": PRECEDENCE}, dt.date(2022, 11, 15))
    assert _aggregate(agg, ctx, np.zeros(3, np.int64), 1, pd.RangeIndex(1)).tolist() == [1.0]


@settings(max_examples=200, deadline=None)
@given(ROW_DATES)
def test_streak_by_date_matches_its_definition(rows):
    rows = [(p, f, None if d is None else pd.Timestamp(d)) for p, f, d in rows]
    frame, pos = _rows(rows, "month")
    assert _run("streak", "monitoring", frame, pos, 4) == expected_streak(
        [(p, f, None if d is None else d.date()) for p, f, d in rows], 4)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), TRUTH), max_size=25))
def test_streak_without_an_order_column_counts_back_from_the_last_row(rows):
    frame = pd.DataFrame({"flag": pd.array([f for _, f in rows], dtype="boolean")})
    pos = np.array([p for p, _ in rows], dtype=np.int64)
    # indicators have no order column: the file's last row is the most recent
    expected = expected_streak([(p, f, i) for i, (p, f) in enumerate(rows)], 4)
    assert _run("streak", "indicators", frame, pos, 4) == expected


@settings(max_examples=200, deadline=None)
@given(rows=ROW_DATES)
def test_count_distinct_counts_each_present_value_once_per_record(rows):
    frame, pos = _rows([(p, f, None if d is None else pd.Timestamp(d)) for p, f, d in rows], "month")
    got = _run("count_distinct", "monitoring", frame, pos, 4, value=E.Ref("column", "month"))
    assert got == [float(len({d for p, _, d in rows if p == r and d is not None})) for r in range(4)]


def test_year_and_month_of_one_date_are_a_number_column() -> None:
    # year(as_of) keeps the type a date column's year has, whatever uses it (a derived fact, if/else, coalesce)
    from perfrules.evaluation.vectorised import evaluate
    frame = pd.DataFrame({"month": pd.Series(pd.to_datetime(["2022-03-01", None]))})
    ctx = Context(frame, {}, dt.date(2022, 11, 15))
    year = evaluate(E.Call("year", (E.Ref("builtin", "as_of"),)), ctx)
    assert str(year.dtype) == "Float64" and year.tolist() == [2022.0, 2022.0]
    column = evaluate(E.Call("month", (E.Ref("column", "month"),)), ctx)
    assert str(column.dtype) == "Float64" and column.tolist()[0] == 3.0 and column.isna().tolist() == [False, True]
