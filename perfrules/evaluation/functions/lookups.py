"""Lookups: ``lookup(x, mapping)`` (a local word onto the standard one) and ``missing_items(required, have)``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from perfrules.evaluation.context import Context, RecordContext, broadcast
from perfrules.evaluation.functions.forms import ScalarForms


def lookup(ctx: RecordContext, x: Any, mapping: dict[str, str]) -> Any:
    return None if x is None else mapping.get(x, x)


def lookup_vectorised(ctx: Context, x: Any, mapping: dict[str, str]) -> Any:
    s = broadcast(x, ctx.frame.index)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)  # map each distinct value once
    mapped = pa.array([mapping.get(v, v) for v in uniques] + [None], pa.large_string())
    taken = mapped.take(pa.array(np.where(codes < 0, len(uniques), codes)))
    return pd.Series(pd.arrays.ArrowStringArray(taken), index=s.index, copy=False)


def missing_items(ctx: RecordContext, required: Any, have: Any) -> list[Any] | None:
    return _missing_items(required, have)


def _missing_items(required: Any, have: Any) -> list[Any] | None:
    if not isinstance(required, (list, tuple)) or not isinstance(have, (list, tuple)):
        return None
    return [x for x in required if x not in have]


def missing_items_vectorised(ctx: Context, required: Any, have: Any) -> pd.Series:
    index = ctx.frame.index
    req = required if isinstance(required, pd.Series) else pd.Series([required] * len(index), index=index, dtype=object)
    got = have if isinstance(have, pd.Series) else pd.Series([have] * len(index), index=index, dtype=object)
    # A list per row: there is no column operation on lists, so each row's lists are compared in Python.
    return pd.Series([_missing_items(r, h) for r, h in zip(req.tolist(), got.tolist())], index=index, dtype=object)


ENTRIES = [
    ScalarForms("lookup", lookup, lookup_vectorised),
    ScalarForms("missing_items", missing_items, missing_items_vectorised),
]
