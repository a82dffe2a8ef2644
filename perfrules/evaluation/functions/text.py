"""Text: ``has_number(text)``, whether a text states a figure (P04: a target written as "≥35公里" is quantified).

A text holds a number when it has an Arabic digit (half- or full-width: ``≥35公里``, ``95%``,
``１２０００人``), or a Chinese numeral written as a quantity: ``百分之九十五``, or numerals followed
by a unit or measure word (``三个``, ``两万人``, ``十二公里``). Numerals inside ordinary words
(``一般``, ``进一步``, ``统一``, ``千方百计``) are not quantities. A comparison sign or ``%`` without
a figure (``≥上年``) is not a number. A missing text holds none: the result is never unknown.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from perfrules.evaluation.context import Context, RecordContext, Truth, broadcast
from perfrules.evaluation.functions.forms import ScalarForms

_NUMERALS = "零〇一二两三四五六七八九十百千万亿"
# Units and measure words a target's quantity is written with.
_UNITS = ("个|人|次|项|户|所|家|座|台|套|件|名|位|元|公里|千米|米|平方米|立方米|亩|公顷|吨|斤|公斤|千克|"
          "天|日|周|月|年|小时|批|期|场|条|处|间|张|本|册|辆|部|栋|篇|份|倍|成|类|种|轮|宗|笔|起|例|片")
NUMBER_PATTERN = re.compile(rf"[0-9０-９]|百分之[{_NUMERALS}]|[{_NUMERALS}]+(?:{_UNITS})")


def _holds_number(text: Any) -> bool:
    return text is not None and NUMBER_PATTERN.search(str(text)) is not None


def has_number(ctx: RecordContext, text: Any) -> bool:
    return _holds_number(text)


def has_number_vectorised(ctx: Context, text: Any) -> Truth:
    values = broadcast(text, ctx.frame.index).astype(pd.StringDtype("pyarrow"))
    # Arrow's regex engine (RE2) reads this pattern (classes, literals, alternation) as Python's re does.
    true = values.str.contains(NUMBER_PATTERN.pattern, regex=True).fillna(False).to_numpy(dtype=bool)
    return Truth(true, np.zeros(len(true), bool))


ENTRIES = [
    ScalarForms("has_number", has_number, has_number_vectorised),
]
