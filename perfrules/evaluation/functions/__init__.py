"""The function registry: every function and aggregate of the rule language, defined once.

Each entry holds, under the language's name for it, the per-record form (the reference semantics,
plain Python on one record) beside the vectorised form (pandas/NumPy over every record at once).
The per-record evaluator (``perfrules.evaluation.reference``) and the vectorised evaluator and fact
layer (``perfrules.evaluation.vectorised``, ``perfrules.evaluation.facts``) both dispatch through
``SCALARS`` and ``AGGREGATES``; ``tests/test_registry.py`` runs every entry in both forms on the same
generated rows and fails for a name of ``perfrules.language.functions`` without both.

One module per family: ``dates``, ``missing`` (missing values), ``numbers``, ``lookups``,
``text``, ``aggregates``. The signatures the type-checker reads stay in ``perfrules.language.functions``.
"""

from __future__ import annotations

from perfrules.evaluation.functions import aggregates, dates, lookups, missing, numbers, text
from perfrules.evaluation.functions.forms import (
    AggregateForms,
    RelatedColumns,
    RelatedRow,
    RelatedRows,
    ScalarForms,
)

SCALARS: dict[str, ScalarForms] = {e.name: e for m in (dates, missing, numbers, lookups, text) for e in m.ENTRIES}
AGGREGATES: dict[str, AggregateForms] = {e.name: e for e in aggregates.ENTRIES}

__all__ = ["AGGREGATES", "SCALARS", "AggregateForms", "RelatedColumns", "RelatedRow", "RelatedRows", "ScalarForms"]
