"""Placement of related rows (perfrules.inputs.placement) read as a finance officer reads a join: a row belongs to a
record when its project id and fiscal year equal the record's (a missing year equals a missing year)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from perfrules.inputs.placement import project_keys, related_set_aside

IDS = st.sampled_from(["A", "B", "C", "E", " ", "", None])
YEARS = st.sampled_from([2021, 2022, 2023, None])


def frame(rows: list[tuple[str | None, int | None]]) -> pd.DataFrame:
    return pd.DataFrame({"project_id": pd.array([r[0] for r in rows], dtype="string"),
                         "fiscal_year": pd.array([r[1] for r in rows], dtype="Int64")})


def merge_reading(projects: pd.DataFrame, rows: pd.DataFrame) -> dict[str, list[bool]]:
    """The reasons by a pandas merge on (project_id, fiscal_year) and on project_id alone."""
    blank = (rows["project_id"].str.strip().fillna("") == "").to_numpy()
    keyed = rows.assign(_i=range(len(rows)))
    by_id = set(keyed.merge(projects[["project_id"]].drop_duplicates(), on="project_id")["_i"])
    by_record = set(keyed.merge(projects.drop_duplicates(), on=["project_id", "fiscal_year"])["_i"])
    has = [i in by_id for i in range(len(rows))]
    of_record = [i in by_record for i in range(len(rows))]
    masks = {"blank-id": list(blank), "unknown-project": [not b and not h for b, h in zip(blank, has)],
             "other-year": [not b and h and not r for b, h, r in zip(blank, has, of_record)]}
    return {k: v for k, v in masks.items() if any(v)}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", "D"]), YEARS), min_size=1, max_size=12),
       st.lists(st.tuples(IDS, YEARS), min_size=1, max_size=30))
def test_related_rows_are_placed_as_a_merge_places_them(project_rows, related_rows):
    projects, rows = frame(project_rows), frame(related_rows)
    ids, record_keys = project_keys(projects)
    got = {a.reason: [bool(x) for x in a.mask] for a in related_set_aside("indicators", rows, ids, record_keys)}
    assert got == merge_reading(projects, rows)


def test_a_project_of_two_fiscal_years_places_each_year_and_not_a_third():
    projects = frame([("A", 2021), ("A", 2022)])
    rows = frame([("A", 2021), ("A", 2022), ("A", 2023), ("B", 2022)])
    ids, record_keys = project_keys(projects)
    found = {a.reason: a.mask.tolist() for a in related_set_aside("payments", rows.assign(date=pd.NaT), ids, record_keys)}
    assert found == {"unknown-project": [False, False, False, True], "other-year": [False, False, True, False]}
