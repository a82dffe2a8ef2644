"""Missing values: ``missing(x)``, ``present(x)`` (never unknown) and ``coalesce(a, b, …)``.

The parser writes ``missing(x)`` / ``present(x)`` as the tree's ``IsMissing`` node (the same node as
``x is None`` / ``x is not None``); both evaluators evaluate that node through these entries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perfrules.evaluation.context import Context, RecordContext, Truth, broadcast, isna
from perfrules.evaluation.functions.forms import ScalarForms


def missing(ctx: RecordContext, x: Any) -> bool:
    return x is None


def missing_vectorised(ctx: Context, x: Any) -> Truth:
    na = isna(x, ctx.frame.index)
    return Truth(na, np.zeros(len(na), bool))


def present(ctx: RecordContext, x: Any) -> bool:
    return x is not None


def present_vectorised(ctx: Context, x: Any) -> Truth:
    na = isna(x, ctx.frame.index)
    return Truth(~na, np.zeros(len(na), bool))


def coalesce(ctx: RecordContext, *values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def coalesce_vectorised(ctx: Context, *values: Any) -> Any:
    out = broadcast(values[0], ctx.frame.index)
    for v in values[1:]:
        other = broadcast(v, ctx.frame.index)
        out = out.where(~out.isna(), other)
    return out


ENTRIES = [
    ScalarForms("missing", missing, missing_vectorised),
    ScalarForms("present", present, present_vectorised),
    ScalarForms("coalesce", coalesce, coalesce_vectorised),
]
