"""Join keys in Arrow: which record a related row belongs to, by hash lookup over millions of rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_STR = pa.large_string()
_NO_KEY = "\x00"  # a missing key part, so that missing matches missing (as in a pandas merge)


def key_text(series: pd.Series) -> pa.Array:
    """A key column as Arrow text."""
    arr = pa.array(series.astype("string"), from_pandas=True).cast(_STR)
    return pc.fill_null(arr, pa.scalar(_NO_KEY, _STR))


def joined(*parts: pd.Series) -> pa.Array:
    """A composite key: the parts' texts joined."""
    return pc.binary_join_element_wise(*(key_text(p) for p in parts), pa.scalar("|", _STR))


def positions(keys: pa.Array, record_keys: pa.Array, last: bool = False) -> np.ndarray:
    """For each key, the position of the first (or ``last``) equal record key, or -1."""
    if last:
        found = positions(keys, record_keys[::-1])
        return np.where(found >= 0, len(record_keys) - 1 - found, -1)
    return pc.fill_null(pc.index_in(keys, value_set=record_keys), -1).to_numpy().astype(np.int64)


def unique_keys(series: pd.Series) -> pa.Array | None:
    """The column as lookup keys when no two rows share a key (a hash lookup of it alone then finds a row), else None."""
    keys = key_text(series)
    return keys if len(pc.unique(keys)) == len(keys) else None  # (unique is twice as fast as count_distinct)


def years(series: pd.Series) -> np.ndarray:
    """A year column as floats, NaN where missing."""
    return series.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def same_year(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where two year arrays agree; a missing year matches a missing year, as in a join."""
    return (a == b) | np.isnan(a) & np.isnan(b)
