"""Date functions: dates of the record's fiscal year, date parts, differences, years added, months elapsed."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from perfrules.evaluation.context import Context, RecordContext, broadcast
from perfrules.evaluation.functions.forms import ScalarForms


def _month_day(text: Any) -> tuple[int, int]:
    month, day = (int(p) for p in str(text).split("-"))
    return month, day


# -- fy_date("10-31"): that day of the record's fiscal year ---------------------------------------

def fy_date(ctx: RecordContext, month_day: str) -> dt.date | None:
    fy = ctx.fiscal_year()
    month, day = _month_day(month_day)
    return None if fy is None else dt.date(fy, month, day)


def fy_date_vectorised(ctx: Context, month_day: Any) -> pd.Series:
    month, day = _month_day(month_day)
    return _dates(ctx.frame["fiscal_year"], month, day)


# -- month_end(6): the last day of that month of the fiscal year ------------------------------------

def month_end(ctx: RecordContext, month: Any) -> dt.date | None:
    fy = ctx.fiscal_year()
    if fy is None or month is None:
        return None
    m = int(month)
    return dt.date(fy, m, calendar.monthrange(fy, m)[1])


def month_end_vectorised(ctx: Context, month: Any) -> pd.Series:
    if isinstance(month, pd.Series):  # a month per row: each row's own month of its fiscal year
        parts = pd.DataFrame({"year": ctx.frame["fiscal_year"].astype("Float64"), "month": month.astype("Float64"), "day": 1.0})
        return pd.to_datetime(parts.astype(float), errors="coerce") + pd.offsets.MonthEnd(0)
    if pd.isna(month):
        return pd.Series(np.full(len(ctx.frame), np.datetime64("NaT", "ns")), index=ctx.frame.index, copy=False)
    start = _dates(ctx.frame["fiscal_year"], int(month), 1)
    return start + pd.offsets.MonthEnd(0)


def _dates(years: pd.Series, month: int, day: int) -> pd.Series:
    parts = pd.DataFrame({"year": years.astype("Float64"), "month": month, "day": day}, index=years.index)
    return pd.to_datetime(parts.astype(float), errors="coerce").astype("datetime64[ns]")


# -- days_between(a, b): days from a to b ------------------------------------------------------------

def days_between(ctx: RecordContext, a: Any, b: Any) -> float | None:
    return None if a is None or b is None else float((b - a).days)


def days_between_vectorised(ctx: Context, a: Any, b: Any) -> Any:
    delta = broadcast(b, ctx.frame.index) - broadcast(a, ctx.frame.index)
    return delta.dt.days.astype("Float64")


# -- add_years(d, n): the same day n years later ------------------------------------------------------
# 29 February in a year without one becomes 1 March: a year from 2024-02-29 runs to 2025-02-28 inclusive, as a
# year from 2023-03-01 runs to 2024-02-29 (P14 "超过一年": the end date is on or after add_years(start, 1)).
# Missing when n is not a whole number or the date falls outside the dates an input can hold.

_FIRST_DAY, _LAST_DAY = dt.date(1677, 9, 22), dt.date(2262, 4, 11)  # the loaders' range (nanosecond dates)


def _add_years(d: dt.date | None, n: Any) -> dt.date | None:
    if d is None or n is None or not float(n).is_integer():
        return None
    y = d.year + int(n)
    if not _FIRST_DAY.year <= y <= _LAST_DAY.year:
        return None
    moved = dt.date(y, 3, 1) if (d.month, d.day) == (2, 29) and not calendar.isleap(y) else d.replace(year=y)
    return moved if _FIRST_DAY <= moved <= _LAST_DAY else None


def add_years(ctx: RecordContext, d: Any, n: Any) -> dt.date | None:
    return _add_years(d, n)


def add_years_vectorised(ctx: Context, d: Any, n: Any) -> pd.Series:
    index = ctx.frame.index
    dates = broadcast(d, index)
    if not isinstance(n, pd.Series):  # one n for every row: each distinct date moved once
        codes, uniq = pd.factorize(dates)
        per_date = [_add_years(pd.Timestamp(u).date(), None if pd.isna(n) else n) for u in uniq]
        moved = pd.Series([pd.NaT if m is None else pd.Timestamp(m) for m in per_date] + [pd.NaT], dtype="datetime64[ns]")
        return pd.Series(moved.to_numpy()[codes], index=index, copy=False)  # a missing date (code -1) takes the last, NaT
    out = [_add_years(None if pd.isna(a) else pd.Timestamp(a).date(), None if pd.isna(b) else b)
           for a, b in zip(dates.tolist(), n.tolist())]
    return pd.Series([pd.NaT if m is None else pd.Timestamp(m) for m in out], index=index, dtype="datetime64[ns]")


# -- year(d), month(d) ---------------------------------------------------------------------------------

def year(ctx: RecordContext, d: Any) -> float | None:
    return None if d is None else float(d.year)


def year_vectorised(ctx: Context, d: Any) -> pd.Series:
    return _date_part(ctx, d, "year")


def month(ctx: RecordContext, d: Any) -> float | None:
    return None if d is None else float(d.month)


def month_vectorised(ctx: Context, d: Any) -> pd.Series:
    return _date_part(ctx, d, "month")


def _date_part(ctx: Context, dates: Any, part: str) -> pd.Series:
    if not isinstance(dates, pd.Series):  # one date (as_of, a literal): its part on every row
        value = pd.NA if pd.isna(dates) else float(getattr(pd.Timestamp(dates), part))
        return pd.Series(value, index=ctx.frame.index, dtype="Float64")
    if dates.dtype.kind != "M":  # dates held as objects (all missing, or chosen by if/else or coalesce)
        dates = pd.to_datetime(dates)
    return getattr(dates.dt, part).astype("Float64")


# -- months_elapsed(): months of the fiscal year up to the as-of date ----------------------------------

def months_elapsed(ctx: RecordContext) -> float | None:
    fy = ctx.fiscal_year()
    if fy is None:
        return None
    return 12.0 if fy < ctx.as_of.year else 0.0 if fy > ctx.as_of.year else float(ctx.as_of.month)


def months_elapsed_vectorised(ctx: Context) -> pd.Series:
    fy = ctx.frame["fiscal_year"].astype("Float64")
    a = ctx.as_of
    out = fy.copy()
    out[fy < a.year] = 12.0
    out[fy > a.year] = 0.0
    out[fy == a.year] = float(a.month)
    return out


ENTRIES = [
    ScalarForms("fy_date", fy_date, fy_date_vectorised),
    ScalarForms("month_end", month_end, month_end_vectorised),
    ScalarForms("days_between", days_between, days_between_vectorised),
    ScalarForms("add_years", add_years, add_years_vectorised),
    ScalarForms("year", year, year_vectorised),
    ScalarForms("month", month, month_vectorised),
    ScalarForms("months_elapsed", months_elapsed, months_elapsed_vectorised),
]
