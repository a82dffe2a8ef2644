"""Which profile checks which record: ``--profile`` if given, else the record's ``jurisdiction``, else national.

A dataset whose records name several jurisdictions is split into one dataset per profile; each is
checked with its own compiled pack and the findings merged.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from perfrules.inputs.dataset import Dataset, InputNote
from perfrules.rulepack.profile import DEFAULT_PROFILE

RELATED = ("indicators", "payments", "monitoring")


def split_by_jurisdiction(dataset: Dataset, profiles: list[str]) -> dict[str, Dataset]:
    """One dataset per profile named by the records' ``jurisdiction`` (unknown or blank → national)."""
    projects = dataset.frame("projects")
    departments = dataset.frame("departments")
    p_prof = _profile_of(projects, profiles)
    d_prof = _profile_of(departments, profiles)
    names = sorted(set(p_prof) | set(d_prof)) or [DEFAULT_PROFILE]
    if len(names) == 1:
        return {names[0]: _with_unknown_notes(dataset, projects, departments, profiles)}
    out = {}
    all_ids = set(projects["project_id"].astype(object))
    for name in names:
        keep = projects[(p_prof == name).to_numpy()]
        keys = set(zip(keep["project_id"].astype(object), keep["fiscal_year"].astype(object)))
        ids = set(keep["project_id"].astype(object))
        tables = dict(dataset.tables)
        tables["projects"] = keep.reset_index(drop=True)
        for t in RELATED:
            f = dataset.frame(t)
            mask = [k in keys for k in zip(f["project_id"].astype(object), f["fiscal_year"].astype(object))]
            tables[t] = f[mask].reset_index(drop=True)
        ev = dataset.frame("evaluations")
        tables["evaluations"] = ev[ev["project_id"].astype(object).isin(ids).to_numpy()].reset_index(drop=True)
        tables["departments"] = departments[(d_prof == name).to_numpy()].reset_index(drop=True)
        # a cell of no known project (no id, or an orphan row's) is reported once, with the first part
        issues = [i for i in dataset.issues if (i.project_id in ids) or (i.project_id not in all_ids and name == names[0])]
        out[name] = replace(dataset, tables=tables, issues=issues, notes=dataset.notes if name == names[0] else [])
    first = names[0]
    out[first] = _with_unknown_notes(out[first], projects, departments, profiles)
    return out


def _profile_of(frame: pd.DataFrame, profiles: list[str]) -> pd.Series:
    j = frame["jurisdiction"].astype(object) if "jurisdiction" in frame else pd.Series([None] * len(frame), dtype=object)
    return j.where(j.isin(profiles), DEFAULT_PROFILE)


def _with_unknown_notes(dataset: Dataset, projects: pd.DataFrame, departments: pd.DataFrame, profiles: list[str]) -> Dataset:
    unknown = set()
    for frame in (projects, departments):
        if "jurisdiction" in frame:
            values = frame["jurisdiction"].dropna().astype(str)
            unknown |= set(values[~values.isin(profiles)])
    if not unknown:
        return dataset
    return replace(dataset, notes=[*dataset.notes, unknown_jurisdiction_note(unknown)])


def unknown_jurisdiction_note(unknown: set[str]) -> InputNote:
    """The note for records whose jurisdiction names no profile (they are checked under national)."""
    shown = sorted(unknown)
    return InputNote("input.unknown-jurisdiction", f"地区 {shown} 没有对应的配置，相关记录按全国基线检查。",
                     f"no profile for jurisdiction(s) {shown}; those records were checked under the national baseline.")
