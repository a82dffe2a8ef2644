"""Row accounting: every input row is checked, or set aside and named in a note with its file, row and reason.

A record row (a project, a department) without its id cannot be told apart from another; a related row
(indicator, payment, monitoring report, evaluation) whose project is not in the input, or is there only
for another fiscal year, belongs to no record a rule looks at; a payment dated outside its project's
fiscal year does not count toward it. Such rows are set aside here, once, before any rule runs, and each
is named in a note. A related row whose key value is blank (a payment without a date, a monitoring
report without a month) cannot be placed in time: it stays, and is reported as a D03 data finding.

Per input file and table the result says how many rows were read, checked, and set aside (noted):
read = checked + noted.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfrules.inputs.keys import key_text, positions, years

SOURCE, ROW = "_source", "_row"
RELATED_BY_YEAR = ("indicators", "payments", "monitoring")
RELATED = (*RELATED_BY_YEAR, "evaluations")
UNPLACEABLE = {"payments": "date", "monitoring": "month"}

REASONS = {
    "blank-id": ("编码为空", "its id is blank"),
    "unknown-project": ("项目表中没有该项目", "its project is not in the projects table"),
    "other-year": ("项目表中该项目没有这一预算年度", "its project is in the projects table only for another fiscal year"),
    "outside-year": ("支付日期不在项目的预算年度内，不计入该年度", "it is dated outside its project's fiscal year and does not count toward it"),
    "malformed": ("该行无法解析", "the line cannot be parsed"),
}


@dataclass
class RowCount:
    """Rows of one table from one input file."""

    table: str
    source: str
    read: int = 0
    checked: int = 0
    noted: int = 0

    def as_dict(self) -> dict[str, int]:
        """``{"read", "checked", "noted"}``."""
        return {"read": self.read, "checked": self.checked, "noted": self.noted}


@dataclass(frozen=True)
class SetAside:
    """Rows of a table set aside for one reason (positions in the frame as it was)."""

    table: str
    reason: str
    mask: np.ndarray


def place_rows(tables: dict[str, pd.DataFrame], threads: int = 1) -> tuple[list[SetAside], dict[str, np.ndarray]]:
    """Which rows of each table cannot be placed on a record (nothing is changed here), and each related row's
    project (its position among the distinct ids of the projects that have one, or -1); the related tables on
    up to ``threads`` threads at once."""
    out: list[SetAside] = []
    projects = tables["projects"]
    blank = blank_ids(projects["project_id"])
    if blank.any():
        out.append(SetAside("projects", "blank-id", blank))
    departments = tables["departments"]
    if len(departments):
        blank_dept = blank_ids(departments["department"])
        if blank_dept.any():
            out.append(SetAside("departments", "blank-id", blank_dept))
    known_ids, record_keys = project_keys(projects[~blank])

    def related(name: str) -> tuple[list[SetAside], np.ndarray]:
        codes = positions(key_text(tables[name]["project_id"]), known_ids)
        return related_set_aside(name, tables[name], known_ids, record_keys, codes), codes

    # The lookups are Arrow and NumPy work, which release the GIL. Kept: nightly 1M Parquet's load stage took
    # 4.0–5.5 s (mean 4.9, six runs) with two threads against 5.2–6.3 s (mean 6.0, four runs) with one, interleaved
    # on a quiet machine (2026-12-06), about 5% of the run; place_rows alone 1.45–1.87 s against 2.32–2.54 s.
    projects_of: dict[str, np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for name, (aside, codes) in zip(RELATED, pool.map(related, RELATED)):
            out += aside
            projects_of[name] = codes
    return out, projects_of


def project_keys(projects: pd.DataFrame) -> tuple[pa.Array, np.ndarray]:
    """The keys related rows are placed by (``projects`` without blank ids): the distinct project ids, and each
    record's (id, fiscal year) as one number (``year_keys``)."""
    ids = pc.dictionary_encode(key_text(projects["project_id"]))  # the distinct ids and each record's among them
    return ids.dictionary, year_keys(ids.indices.to_numpy(), years(projects["fiscal_year"]))


def year_keys(codes: np.ndarray, fiscal_years: np.ndarray) -> np.ndarray:
    """A project (its position among the distinct ids) and a fiscal year as one integer; a missing year matches
    a missing year, as in a join.

    An integer hash lookup rather than a lookup of joined "id|year" texts, which for millions of related rows
    cost more than the lookup of the ids themselves."""
    year = np.clip(np.nan_to_num(fiscal_years, nan=-1), -1, 2**31 - 1).astype(np.int64)
    return codes.astype(np.int64) * 2**32 + year


def related_set_aside(name: str, frame: pd.DataFrame, known_ids: pa.Array, record_keys: np.ndarray,
                      codes: np.ndarray | None = None) -> list[SetAside]:
    """The rows of related table ``name`` that cannot be placed on a project record (keys from ``project_keys``;
    ``codes``: each row's position among ``known_ids``, when already found)."""
    if not len(frame):
        return []
    if codes is None:
        codes = positions(key_text(frame["project_id"]), known_ids)
    has_project = codes >= 0
    # A blank id is looked for only where no project was found (no project has a blank id) or the id is missing
    # (a missing id is looked up as "\x00", which a project could have).
    maybe = ~has_project | frame["project_id"].isna().to_numpy(dtype=bool)
    no_id = np.zeros(len(frame), dtype=bool)
    no_id[maybe] = blank_ids(frame["project_id"][maybe])
    unknown = ~no_id & ~has_project
    masks = {"blank-id": no_id, "unknown-project": unknown}
    if name in RELATED_BY_YEAR:
        year = years(frame["fiscal_year"])
        of_record = has_project & pd.Series(year_keys(codes, year)).isin(record_keys).to_numpy()
        masks["other-year"] = ~no_id & has_project & ~of_record
        if name == "payments":
            paid_in = frame["date"].dt.year.to_numpy(dtype=float, na_value=np.nan)
            placed = ~(masks["blank-id"] | masks["unknown-project"] | masks["other-year"])
            masks["outside-year"] = placed & ~np.isnan(paid_in) & ~np.isnan(year) & (paid_in != year)
    return [SetAside(name, reason, m) for reason, m in masks.items() if m.any()]


def blank_ids(column: pd.Series) -> np.ndarray:
    """Where an id column is missing or only whitespace."""
    text = column.astype("string").str.strip()
    return (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)


def set_aside_rows(tables: dict[str, pd.DataFrame], aside: list[SetAside]) -> dict[str, pd.DataFrame]:
    """The tables without the rows set aside."""
    out = dict(tables)
    for name in {a.table for a in aside}:
        out[name] = tables[name][kept_rows(len(tables[name]), name, aside)].reset_index(drop=True)
    return out


def kept_rows(n: int, table: str, aside: list[SetAside]) -> np.ndarray:
    """Which of the ``n`` rows of ``table`` are not set aside."""
    drop = np.zeros(n, dtype=bool)
    for a in aside:
        if a.table == table:
            drop |= a.mask
    return ~drop


def describe_rows(rows: Iterable[object], shown: int = 200) -> tuple[str, str]:
    """Row labels as compact ranges ("3–7、9" / "3-7, 9"); beyond ``shown`` ranges, a count of the rest."""
    labels = list(rows)
    numbers = [int(r) for r in labels if isinstance(r, (int, np.integer)) or (isinstance(r, str) and r.isdigit())]
    if len(numbers) != len(labels):  # a submission's item paths
        parts = [str(r) for r in labels]
    else:
        parts = []
        ordered = sorted(numbers)
        start = prev = ordered[0]
        for n in [*ordered[1:], None]:
            if n is not None and n == prev + 1:
                prev = n
                continue
            parts.append(str(start) if start == prev else f"{start}–{prev}")
            if n is not None:
                start = prev = n
    more = len(parts) - shown
    zh = "、".join(parts[:shown]) + (f" 等（另有 {more} 段）" if more > 0 else "")
    en = ", ".join(parts[:shown]).replace("–", "-") + (f" and {more} more ranges" if more > 0 else "")
    return zh, en
