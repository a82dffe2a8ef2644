"""The findings table's one schema, one key and one order.

Every form a finding takes is read from a row of this schema: ``Finding`` is a view of one row, the batch
path builds the table a column at a time, and the JSON, JSON Lines, CSV, workbook, HTML, notices and the
nightly state store read its columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfrules.rulepack.model import SEVERITIES

TEXT = pa.large_string()

# name, Arrow type, what it holds
COLUMN_MEANINGS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("rule_id", TEXT, "the rule's id (PF-P01-NOGOAL), or a data rule's (PF-D03-MISSING)"),
    ("title", TEXT, "the rule's title in the run's language"),
    ("requirement", TEXT, "the catalogue requirement ids, joined by 、"),
    ("severity", TEXT, "阻断, 警告 or 提示"),
    ("stage", TEXT, "the budget stage of the rule (budgeting, monitoring, …), or data"),
    ("kind", TEXT, "rule (a rule fired) or data (the input could not decide a rule, or a cell was unreadable)"),
    ("project_id", TEXT, "the project the finding is about (none for a department's finding)"),
    ("project_name", TEXT, "the project's name, as the input gives it"),
    ("fiscal_year", pa.int64(), "the budget year of the record"),
    ("department", TEXT, "the 主管部门 of the record"),
    ("amount", pa.float64(), "the project's amount in 元"),
    ("paid", pa.float64(), "the project's payments to date in 元"),
    ("message", TEXT, "what is wrong, with the record's values filled in"),
    ("recommendation", TEXT, "what to do about it"),
    ("source", TEXT, "the rule's sources, 'document clause' joined by ；"),
    ("evidence", TEXT, "the values the rule looked at, as a JSON object text"),
    ("file", TEXT, "the input file (or submission) the record came from"),
    ("row", TEXT, "the record's row in that file (a line number), or its place in a submission (projects[0])"),
    ("column", TEXT, "the column header an unreadable cell is under"),
    ("watchlist", pa.bool_(), "whether the finding puts its project on the 重点关注台账"),
    ("about", TEXT, "what a data finding is about: the rule it could not decide, or the unreadable column"),
    ("key", TEXT, "the finding's identity across runs (``finding_keys``)"),
)
COLUMNS = tuple(name for name, _, _ in COLUMN_MEANINGS)
SCHEMA = pa.schema([(name, typ) for name, typ, _ in COLUMN_MEANINGS])
PARTS = pa.schema([f for f in SCHEMA if f.name != "key"])  # what evaluators produce; ``finish`` adds the key
TO_PANDAS = {TEXT: pd.StringDtype("pyarrow"), pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype()}


def column_type(name: str) -> pa.DataType:
    """The Arrow type of a findings table column."""
    return SCHEMA.field(name).type


def finding_keys(table: pa.Table) -> pa.ChunkedArray:
    """The stable identity of each finding: rule, what a data finding is about, project (else department),
    fiscal year — ``PF-P01-NOGOAL||SY-2022-101|2022``. The nightly state and ``perfrules diff`` match
    findings across runs by it."""
    subject = pc.coalesce(table["project_id"], table["department"], pa.scalar("", TEXT))
    year = pc.fill_null(pc.cast(table["fiscal_year"], TEXT), "")
    return pc.binary_join_element_wise(table["rule_id"], pc.fill_null(table["about"], ""), subject, year,
                                       pa.scalar("|", TEXT))


# The one order of findings: most severe first, then by rule, department, project and fiscal year (a missing
# department or project sorts as "", a missing year as 0). ``sort_indices`` orders a table by it and
# ``sort_key`` a list of findings; tests/test_findings_schema.py holds the two equal.
ORDER = ("severity", "rule_id", "department", "project_id", "fiscal_year")


def sort_key(severity: str, rule_id: str, department: str | None, project_id: str | None,
             fiscal_year: int | None) -> tuple[Any, ...]:
    """A finding's place in ``ORDER``."""
    return SEVERITIES.index(severity), rule_id, department or "", project_id or "", fiscal_year or 0


def sort_indices(table: pa.Table) -> pa.Array:
    """The row order of a table with the ``ORDER`` columns, as ``sort_key`` orders findings."""
    keys = pa.table({
        "severity": pc.index_in(table["severity"], value_set=pa.array(SEVERITIES, TEXT)),
        "rule_id": table["rule_id"], "department": pc.fill_null(table["department"], ""),
        "project_id": pc.fill_null(table["project_id"], ""), "fiscal_year": pc.fill_null(table["fiscal_year"], 0)})
    return pc.sort_indices(keys, sort_keys=[(c, "ascending") for c in ORDER])


def sort_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A findings frame (or any frame with the ``ORDER`` columns) in ``ORDER``."""
    if len(frame) < 2:
        return frame.reset_index(drop=True)
    columns: Sequence[str] = ORDER
    keys = pa.Table.from_pandas(frame[list(columns)], preserve_index=False).cast(
        pa.schema([SCHEMA.field(c) for c in columns]))
    return frame.iloc[sort_indices(keys).to_numpy()].reset_index(drop=True)
