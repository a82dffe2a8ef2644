"""has_number (P04: a target's text that states a figure is quantified) and add_years (P14: "实施期限超过一年"),
each value asserted on both forms: the per-record reference form and the vectorised form over a frame."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import perfrules.language.expr as E
from perfrules.evaluation import reference, vectorised
from perfrules.evaluation.context import Context

AS_OF = dt.date(2022, 11, 15)


def both_forms(func: str, columns: dict[str, pd.Series], args: list[E.Node]) -> tuple[list, list]:
    frame = pd.DataFrame({"fiscal_year": pd.Series([2022] * len(next(iter(columns.values()))), dtype="Int64"), **columns})
    node = E.Call(func, tuple(args))
    got = vectorised.evaluate(node, Context(frame, {}, AS_OF)).tolist()
    per_record = []
    for i in range(len(frame)):
        values = {c: (None if pd.isna(frame[c].iloc[i]) else frame[c].iloc[i]) for c in frame}
        values = {c: (v.date() if isinstance(v, pd.Timestamp) else v) for c, v in values.items()}
        per_record.append(reference.evaluate(node, values, {}, AS_OF))
    return got, per_record


TEXTS = {
    "≥35公里": True, "≥12000人": True, "95%": True, "１２０００人": True, "完成率达到100％": True,
    "两万人": True, "百分之九十五": True, "新建三所学校": True, "十二公里": True,
    "按计划完成": False, "逐步提高": False, "一般": False, "进一步提高服务水平": False, "统一标准": False,
    "千方百计": False, "≥上年": False, "": False, None: False,
}


def test_has_number_reads_a_figure_in_text_and_nothing_else():
    texts = list(TEXTS)
    got, per_record = both_forms("has_number", {"t": pd.Series(texts, dtype="string")}, [E.Ref("field", "t")])
    expected = list(TEXTS.values())
    assert [bool(v) for v in got] == expected
    assert per_record == expected


LEAP_CASES = [  # start, years, the same day that many years later
    (dt.date(2022, 1, 1), 1, dt.date(2023, 1, 1)),
    (dt.date(2024, 2, 29), 1, dt.date(2025, 3, 1)),  # no 29 February in 2025: 1 March
    (dt.date(2024, 2, 29), 4, dt.date(2028, 2, 29)),
    (dt.date(2023, 3, 1), 1, dt.date(2024, 3, 1)),
    (dt.date(2023, 2, 28), 1, dt.date(2024, 2, 28)),
    (dt.date(2024, 3, 1), -1, dt.date(2023, 3, 1)),
    (dt.date(2022, 7, 1), 0, dt.date(2022, 7, 1)),
    (dt.date(2262, 1, 1), 1, None),  # beyond the dates an input can hold
    (None, 1, None),
]


@pytest.mark.parametrize("constant_years", [True, False])
def test_add_years_moves_29_february_to_1_march_in_a_common_year(constant_years):
    starts = pd.Series([pd.NaT if s is None else pd.Timestamp(s) for s, _, _ in LEAP_CASES], dtype="datetime64[ns]")
    expected = [e for _, _, e in LEAP_CASES]
    if constant_years:  # one n for every row (as a rule writes it)
        for start, n, want in LEAP_CASES:
            got, per_record = both_forms("add_years", {"s": pd.Series([start], dtype="datetime64[ns]")},
                                         [E.Ref("field", "s"), E.Literal(n, "number")])
            assert [None if pd.isna(g) else g.date() for g in got] == [want]
            assert per_record == [want]
        return
    years = pd.Series([n for _, n, _ in LEAP_CASES], dtype="Float64")
    got, per_record = both_forms("add_years", {"s": starts, "n": years}, [E.Ref("field", "s"), E.Ref("field", "n")])
    assert [None if pd.isna(g) else g.date() for g in got] == expected
    assert per_record == expected


def test_add_years_of_a_fraction_of_a_year_has_no_value():
    got, per_record = both_forms("add_years", {"s": pd.Series([pd.Timestamp("2022-01-01")])},
                                 [E.Ref("field", "s"), E.Literal(0.5, "number")])
    assert pd.isna(got[0]) and per_record == [None]
