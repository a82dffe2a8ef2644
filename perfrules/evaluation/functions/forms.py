"""The shape of a registry entry: one name, its per-record (reference) form and its vectorised form.

A scalar function's per-record form takes a ``RecordContext`` and its argument values (``None`` when
missing); its vectorised form takes a ``Context`` and its arguments as columns aligned with the frame
(or one value for every row, when constant). An aggregate's forms take a record's supplied related
rows (``RelatedRows``) or every record's at once (``RelatedColumns``); an absent table never reaches
them (both evaluators give every aggregate over it a missing value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perfrules.evaluation.context import Context, Truth


@dataclass(frozen=True)
class ScalarForms:
    """A scalar function: the reference form on one record, and the same meaning over a frame."""

    name: str
    record: Callable[..., Any]
    vectorised: Callable[..., Any]


@dataclass(frozen=True)
class RelatedRow:
    """One related row as a per-record aggregate reads it."""

    cond: bool | None  # the aggregate's where (streak: its condition); True when it has none
    value: Any  # the aggregate's value on the row (None when it has none)
    row: dict[str, Any]  # the row's columns (order and rank columns are read from here)


@dataclass(frozen=True)
class RelatedRows:
    """A record's rows in a supplied related table, in file order."""

    table: str
    rows: list[RelatedRow]
    params: dict[str, Any]


@dataclass(frozen=True)
class RelatedColumns:
    """Every record's rows in a supplied related table: row i belongs to record ``pos[i]`` of ``n``."""

    table: str
    ctx: Context  # the related rows' frame (its ``fiscal_year`` is the record's) and parameters
    pos: np.ndarray
    n: int
    index: pd.Index  # the records' index, which the result carries
    where: Truth  # the aggregate's where (streak: its condition); all true when it has none
    value: pd.Series | None  # the aggregate's value on every row (None when it has none)


@dataclass(frozen=True)
class AggregateForms:
    """An aggregate: the reference form on one record's rows, and the same meaning over all records'."""

    name: str
    record: Callable[[RelatedRows], Any]
    vectorised: Callable[[RelatedColumns], pd.Series]
