"""The functions of the rule language, by name, with their types.

Every backend implements each of these under the same name; the conformance tests run each one on
every backend. ``T`` in a signature stands for "the same type as the first argument".

Aggregates run over a record's rows in a related table and follow SQL: ``count`` of no rows is 0,
``any`` of no rows is false, ``all`` of no rows is true, ``sum``/``min``/``max`` of no rows is
missing. Over a table the input does not have at all, every aggregate is missing.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    "year": Signature(("date",), "number", doc="year(d): the calendar year of a date"),
    "month": Signature(("date",), "number", doc="month(d): the month (1–12) of a date"),
    "months_elapsed": Signature((), "number", doc="months of the fiscal year up to the as-of date (0–12)"),
    "len": Signature(("list",), "number", doc="len(xs): how many items a list holds"),
    "abs": Signature(("number",), "number", doc="abs(x)"),
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
    "sum": Signature(("table", "number", "bool?"), "number", doc="sum(t, value[, where]) (missing when none)"),
    "min": Signature(("table", "any", "bool?"), "T", doc="min(t, value[, where]) (missing when none)"),
    "max": Signature(("table", "any", "bool?"), "T", doc="max(t, value[, where]) (missing when none)"),
    "streak": Signature(
        ("table", "bool"),
        "number",
        doc="streak(t, cond): how many of the most recent rows in a row meet cond",
    ),
}

# The column that orders a related table's rows, for ``streak`` (most recent first).
TABLE_ORDER = {"evaluations": "year", "payments": "date", "monitoring": "month", "indicators": None}

# Names usable anywhere in a condition that are not columns: the evaluation context.
BUILTINS = {"as_of": "date"}

ALL_FUNCTION_NAMES = sorted({*SCALAR_FUNCTIONS, *AGGREGATE_FUNCTIONS, "date"})
