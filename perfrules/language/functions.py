"""The functions of the rule language, by name, with their types.

The meaning of each is defined once, in ``perfrules.evaluation.functions`` (a per-record reference
form beside its vectorised form); the registry conformance test runs both on the same rows. ``T`` in
a signature stands for "the same type as the first argument" (for an aggregate: of its value).

Aggregates run over a record's rows in a related table. **Supplied means complete**: a table the
input has (an export's table file, a submission's list key, even ``[]``) is the whole record of it,
so a record with no rows there has none: ``count`` 0, ``count_distinct`` 0, ``sum`` 0, ``any``
false, ``all`` true, ``streak`` 0; ``min``/``max``/``top``/``streak_start`` of no rows have no value (missing). Over a
table the input does not have at all, every aggregate is missing (and the rule reports
``PF-D03-ABSENT``). A row whose ``where`` (or ``streak``'s condition) is unknown makes the aggregate
unknown, except where the rows already decide it (``any`` with a true row, ``all`` with a false one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Signature:
    """Argument types (``any`` accepts every type) and the result type."""

    args: tuple[str, ...]
    result: str
    variadic: bool = False  # the last argument type repeats
    doc: str = ""


SCALAR_FUNCTIONS: dict[str, Signature] = {
    "fy_date": Signature(("string",), "date", doc='fy_date("10-31"): 10月31日 of the record\'s fiscal year'),
    "month_end": Signature(("number",), "date", doc="month_end(6): the last day of June of the fiscal year"),
    "days_between": Signature(("date", "date"), "number", doc="days_between(a, b): days from a to b"),
    "add_years": Signature(("date", "number"), "date",
                           doc="add_years(d, n): the same day n years later (29 February → 1 March in a common year)"),
    "year": Signature(("date",), "number", doc="year(d): the calendar year of a date"),
    "month": Signature(("date",), "number", doc="month(d): the month (1–12) of a date"),
    "months_elapsed": Signature((), "number", doc="months of the fiscal year up to the as-of date (0–12)"),
    "len": Signature(("list",), "number", doc="len(xs): how many items a list holds"),
    "abs": Signature(("number",), "number", doc="abs(x)"),
    "has_number": Signature(("string",), "bool",
                            doc="has_number(text): the text states a figure (a digit, or a Chinese numeral with a unit: "
                                "≥35公里, 95%, 两万人); false when missing (never unknown)"),
    "coalesce": Signature(("any", "any"), "T", variadic=True, doc="coalesce(a, b, …): the first present value"),
    "lookup": Signature(("string", "mapping"), "string", doc="lookup(x, mapping): mapping[x], or x itself"),
    "missing_items": Signature(("list", "list"), "list[string]",
                               doc="missing_items(required, have): the items of required that have lacks"),
    "missing": Signature(("any",), "bool", doc="missing(x): x has no value (never unknown)"),
    "present": Signature(("any",), "bool", doc="present(x): x has a value (never unknown)"),
}

AGGREGATE_FUNCTIONS: dict[str, Signature] = {
    "count": Signature(("table", "bool?"), "number", doc="count(t[, where]): rows (0 when none)"),
    "count_distinct": Signature(("table", "any", "bool?"), "number", doc="count_distinct(t, value[, where])"),
    "any": Signature(("table", "bool"), "bool", doc="any(t, cond): some row meets cond (false when none)"),
    "all": Signature(("table", "bool"), "bool", doc="all(t, cond): every row meets cond (true when none)"),
    "sum": Signature(("table", "number", "bool?"), "number", doc="sum(t, value[, where]) (0 when none)"),
    "min": Signature(("table", "any", "bool?"), "T", doc="min(t, value[, where]) (missing when none)"),
    "max": Signature(("table", "any", "bool?"), "T", doc="max(t, value[, where]) (missing when none)"),
    "streak": Signature(
        ("table", "bool"),
        "number",
        doc="streak(t, cond): how many of the most recent rows in a row meet cond (evaluations: evaluated years "
            "before the fiscal year, each read from its most authoritative evaluation)",
    ),
    "streak_start": Signature(
        ("table", "any", "bool"),
        "T",
        doc="streak_start(t, value, cond): value on the earliest row of the run streak(t, cond) counts (where that run "
            "began; missing when the most recent row does not meet cond)",
    ),
    "top": Signature(
        ("table", "any", "bool?"),
        "T",
        doc="top(t, value[, where]): value on the leading row (most recent first, then most authoritative; "
            "missing when none)",
    ),
}

# The column that orders a related table's rows, for ``streak`` and ``top`` (most recent first).
TABLE_ORDER = {"evaluations": "year", "payments": "date", "monitoring": "month", "indicators": None}

# Tables whose rows of one order value rank by authority: the column ranked, and the pack parameter
# listing its values from the most authoritative (a value not listed ranks after every listed one).
TABLE_RANK = {"evaluations": ("evaluator", "evaluation_precedence")}

def authority_ranks(table: str, params: dict[str, Any]) -> tuple[str, dict[Any, int]] | None:
    """The column a table ranks its rows of one period by, and each value's rank (0 the most authoritative;
    a value not listed, or missing, ranks ``len(ranks)``: after every listed one), or None for a table without.

    The one definition of "the most authoritative evaluation": ``top``/``streak`` read it, and so does the
    filling of a project's prior-year evaluation (``prior_*``) from the evaluations table, on every path, with
    the profile's ``params.evaluation_precedence``. Among rows of equal rank the first in file order leads."""
    if table not in TABLE_RANK:
        return None
    column, param = TABLE_RANK[table]
    return column, {v: i for i, v in enumerate(params.get(param) or [])}


def leading_row(rows: Sequence[Mapping[str, Any]], params: dict[str, Any], table: str = "evaluations") -> int | None:
    """The position of the most authoritative of ``rows`` (rows of one period, in file order), or None when none."""
    rank = authority_ranks(table, params)
    if not rows:
        return None
    if rank is None:
        return 0
    column, ranks = rank
    return min(range(len(rows)), key=lambda i: (ranks.get(rows[i].get(column), len(ranks)), i))

# Tables whose ``streak`` counts periods, not rows: one per distinct order value before the record's
# fiscal year, read from its leading row (an evaluated year, from its most authoritative evaluation).
STREAK_BY_PERIOD = ("evaluations",)

# Names usable anywhere in a condition that are not columns: the evaluation context.
BUILTINS = {"as_of": "date"}

ALL_FUNCTION_NAMES = sorted({*SCALAR_FUNCTIONS, *AGGREGATE_FUNCTIONS, "date"})
