"""Numbers: ``abs(x)`` and ``len(xs)`` (how many items a list holds)."""

from __future__ import annotations

from typing import Any

from perfrules.evaluation.context import Context, RecordContext, as_float, broadcast
from perfrules.evaluation.functions.forms import ScalarForms


def abs_(ctx: RecordContext, x: Any) -> float | None:
    return None if x is None else abs(float(x))


def abs_vectorised(ctx: Context, x: Any) -> Any:
    return abs(as_float(x))


def len_(ctx: RecordContext, xs: Any) -> float | None:
    return float(len(xs)) if isinstance(xs, (list, tuple)) else None


def len_vectorised(ctx: Context, xs: Any) -> Any:
    s = broadcast(xs, ctx.frame.index)
    return s.map(lambda v: len(v) if isinstance(v, (list, tuple)) else None).astype("Float64")


ENTRIES = [
    ScalarForms("abs", abs_, abs_vectorised),
    ScalarForms("len", len_, len_vectorised),
]
