"""What the two forms of a function read: the evaluation contexts and the column helpers they share.

A per-record form reads a ``RecordContext``: one record's values (fields, derived facts, aggregates),
the parameters and the as-of date; a missing value is ``None`` and a condition is True, False or
None (unknown). A vectorised form reads a ``Context``: a frame whose rows are the records, the
parameters and the as-of date; a missing value is NA/NaT and a condition is a ``Truth`` (masks of true and unknown rows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa


@dataclass
class RecordContext:
    """One record's values, the parameter values and the as-of date."""

    values: dict[str, Any]
    params: dict[str, Any]
    as_of: dt.date

    def fiscal_year(self) -> int | None:
        """The record's fiscal year (None when it has none)."""
        fy = self.values.get("fiscal_year")
        return None if fy is None else int(fy)


@dataclass
class Context:
    """What names evaluate to over a frame: its columns, parameter values and the as-of date."""

    frame: pd.DataFrame
    params: dict[str, Any]
    as_of: dt.date

    @property
    def as_of_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.as_of)


@dataclass(frozen=True)
class Truth:
    """A condition on every row: where it is true, and where it is unknown (never both)."""

    true: np.ndarray
    unknown: np.ndarray

    @property
    def false(self) -> np.ndarray:
        return ~self.true & ~self.unknown

    def series(self, index: pd.Index) -> pd.Series:
        return pd.Series(pd.arrays.BooleanArray(self.true, self.unknown), index=index, copy=False)


def isna(value: Any, index: pd.Index) -> np.ndarray:
    """Where a value (a column, or one value for every row) is missing."""
    if isinstance(value, pd.Series):
        return np.asarray(value.array.isna(), dtype=bool)
    if isinstance(value, list):
        return np.zeros(len(index), bool)
    return np.full(len(index), bool(pd.isna(value)))


def broadcast(value: Any, index: pd.Index) -> pd.Series:
    """A column as it is, or one value repeated on every row."""
    if isinstance(value, pd.Series):
        return value
    if isinstance(value, list):  # one list for every row
        return pd.Series([value] * len(index), index=index, dtype=object)
    return pd.Series(value, index=index)


def is_text(value: Any) -> bool:
    """Whether a value is text (one string, or a pandas string column)."""
    return isinstance(value, str) or isinstance(value, pd.Series) and isinstance(value.dtype, pd.StringDtype)


def arrow_text(value: str | pd.Series) -> pa.Scalar | pa.Array:
    """Text as an Arrow large string (scalar or array)."""
    if isinstance(value, str):
        return pa.scalar(value, pa.large_string())
    return pa.array(value, from_pandas=True).cast(pa.large_string())


def as_float(value: Any) -> Any:
    """A numeric column as nullable Float64 (a scalar as it is)."""
    if isinstance(value, pd.Series):
        return value if value.dtype == "Float64" else value.astype("Float64")
    return value
