"""The normalised input every rule runs on, whichever shape it was loaded from.

A ``Dataset`` holds one typed DataFrame per table of the field catalogue. Every frame has every
catalogue column (absent ones all-missing), plus two bookkeeping columns: ``_source`` (the file)
and ``_row`` (the line or row number in that file, or the item's path in a submission), so that
any finding can point back at the record it is about.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfrules.inputs.headers import InputHeaders
from perfrules.inputs.keys import joined, key_text, positions, same_year, unique_keys, years
from perfrules.inputs.placement import REASONS, UNPLACEABLE, RowCount, describe_rows, kept_rows, place_rows, set_aside_rows
from perfrules.inputs.values import FIRST_YEAR, LAST_YEAR, ParsedColumn, parse_column
from perfrules.language.fields import TABLES, Column, Table
from perfrules.language.functions import authority_ranks

SOURCE, ROW = "_source", "_row"
PARALLEL_ROWS = 100_000  # below this, threads cost more than they save
_DTYPES = {"string": "string", "grade": "string", "number": "Float64", "money": "Float64", "integer": "Int64",
           "bool": "boolean", "date": "datetime64[ns]", "month": "datetime64[ns]", "list": "object"}
_pool_threads: int | None = None  # None: every core (see set_pool_threads)


def pool_threads() -> int:
    """The size of perfrules' own thread pools (column parsing, related tables, rules): every core, unless
    this process was given its share (``set_pool_threads``)."""
    return _pool_threads or os.cpu_count() or 1


def set_pool_threads(count: int | None) -> None:
    """Give this process ``count`` threads per pool (None: every core again). A Dask worker runs its own
    threads' tasks side by side and sets this (``perfrules.distributed.threads``); one process never does."""
    global _pool_threads
    _pool_threads = count


@dataclass(frozen=True)
class ValueIssue:
    """A cell that could not be read: where it is and what it held."""

    table: str
    source: str
    row: str
    column: str
    header: str
    value: str
    kind: str
    project_id: str | None = None
    fiscal_year: int | None = None
    department: str | None = None

    @property
    def cell(self) -> tuple[str, str, str, str]:
        """Which cell it is: table, source, row and column."""
        return (self.table, self.source, self.row, self.column)


@dataclass(frozen=True)
class InputNote:
    """Something about an input as a whole (an absent column, an absent table, orphan rows)."""

    code: str
    zh: str
    en: str
    source: str = ""
    table: str = ""
    column: str = ""


@dataclass
class Dataset:
    """Typed tables plus what the loaders noticed on the way."""

    tables: dict[str, pd.DataFrame]
    present: set[str]
    absent_columns: dict[str, set[str]] = field(default_factory=dict)
    issues: list[ValueIssue] = field(default_factory=list)
    notes: list[InputNote] = field(default_factory=list)
    as_of: dt.date | None = None
    sources: list[str] = field(default_factory=list)
    row_accounting: dict[tuple[str, str], RowCount] = field(default_factory=dict)  # (source, table) → rows
    headers: InputHeaders = field(default_factory=InputHeaders)  # what the input calls each field
    # Tables the input makes no claim about: a submission (one filing) without a ``departments`` key says nothing
    # of its departments, so rules on them are not applicable to it (``CheckResult.not_checked``), where an export
    # without the table lacks data it should have (PF-D03-ABSENT).
    unclaimed: set[str] = field(default_factory=set)
    # Each related row's project as found so far, per table: the frame and the project ids it was found for, and
    # the positions (``project_positions``).
    found_projects: dict[str, tuple[pd.DataFrame, pa.Array, np.ndarray]] = field(default_factory=dict, repr=False, compare=False)

    def frame(self, table: str) -> pd.DataFrame:
        """The frame of ``table`` (empty with every column when the input had none)."""
        return self.tables[table]

    def project_positions(self, table: str, ids: pa.Array) -> np.ndarray:
        """For each row of related ``table``, the position of its project among ``ids`` (the projects' ids, no two
        alike: ``unique_keys``), or -1. A hash lookup of millions of ids, done once for a frame and its ids: the
        loader's placement finds them, and the prior-year fill and the facts read them (looking them up again
        there cost 1.3 s of CPU in a 1M-project nightly run, 2026-12-06)."""
        rows = self.frame(table)
        found = self.found_projects.get(table)
        if found is None or found[0] is not rows or not found[1].equals(ids):
            found = self.found_projects[table] = (rows, ids, positions(key_text(rows["project_id"]), ids))
        return found[2]


def empty_frame(table: Table) -> pd.DataFrame:
    """A frame with no rows and every column of ``table``, typed."""
    return pd.DataFrame({**{c.name: pd.Series(dtype=_DTYPES[c.kind]) for c in table.columns},
                         SOURCE: pd.Series(dtype="category"), ROW: pd.Series(dtype="string")})


def typed_frame(table: Table, raw: pd.DataFrame, units: dict[str, float], source: str,
                rows: list[str] | pd.Series, issues: list[ValueIssue],
                headers: dict[str, str] | None = None) -> pd.DataFrame:
    """Parse the raw (object) columns of ``raw`` into typed catalogue columns.

    Unreadable cells become missing values and are recorded in ``issues``; extra columns not in
    the catalogue are kept as they are.
    """
    n = len(raw)
    out: dict[str, pd.Series] = {}
    index = pd.RangeIndex(n)
    raw = raw.reset_index(drop=True)
    # a file's row numbers stay integers (millions of rows); a submission's item paths are text
    row_labels = rows.reset_index(drop=True) if isinstance(rows, pd.Series) else pd.Series(rows, index=index, dtype="string")
    bad_cells: list[tuple[int, str]] = []
    given = [col for col in table.columns if col.name in raw.columns]

    def parse(col: Column) -> ParsedColumn:
        return parse_column(raw[col.name], col.kind, unit_multiplier=units.get(col.name, 1.0))

    # Columns parse on all cores: most of the work is in Arrow kernels, which release the GIL.
    # Kept with build_facts' pool: without both, nightly 200k Parquet was +4..+144% (paired) with the other replacements, measured 2026-12-06.
    if n >= PARALLEL_ROWS and len(given) > 1:
        with ThreadPoolExecutor(max_workers=pool_threads()) as pool:
            parsed_columns = dict(zip((c.name for c in given), pool.map(parse, given)))
    else:
        parsed_columns = {c.name: parse(c) for c in given}
    for col in table.columns:
        if col.name in parsed_columns:
            parsed = within_supported_years(col, parsed_columns[col.name])
            out[col.name] = parsed.values
            bad_cells.extend((int(i), col.name) for i in parsed.bad.to_numpy().nonzero()[0])
        else:
            out[col.name] = missing_column(col.kind, n)
    for i, name in bad_cells:
        issues.append(ValueIssue(
            table.name, source, str(row_labels.iloc[i]), name, (headers or {}).get(name, name),
            str(raw[name].iloc[i]), table.by_name[name].kind,
            project_id=_cell(out.get("project_id"), i), fiscal_year=_cell(out.get("fiscal_year"), i, int),
            department=_cell(out.get("department"), i),
        ))
    for extra in raw.columns:
        if extra not in out and not str(extra).startswith("_"):
            out[str(extra)] = _as_read(raw[extra])
    out[SOURCE] = pd.Series(pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [source]), index=index, copy=False)
    out[ROW] = row_labels
    return pd.DataFrame(out, index=index, copy=False)  # the columns are new: copying them costs ~1 ms per column per 100k rows


YEAR_COLUMNS = ("fiscal_year", "year", "prior_year")


def within_supported_years(col: Column, parsed: ParsedColumn) -> ParsedColumn:
    """``parsed`` with years and dates outside FIRST_YEAR–LAST_YEAR made unreadable (missing, and reported)."""
    values = parsed.values
    if col.kind in ("date", "month"):
        year = values.dt.year
    elif col.name in YEAR_COLUMNS:
        year = values
    else:
        return parsed
    outside = ((year < FIRST_YEAR) | (year > LAST_YEAR)).to_numpy(dtype=bool, na_value=False)
    if not outside.any():
        return parsed
    bad = parsed.bad.to_numpy(dtype=bool) | outside
    return ParsedColumn(values.mask(outside), pd.Series(bad, index=parsed.bad.index))


def _as_read(column: pd.Series) -> pd.Series:
    """A column no rule reads, kept as read; Arrow dictionary and list columns (from Parquet) as pandas
    categorical and object columns, which the rest of pandas handles."""
    if isinstance(column.dtype, pd.ArrowDtype):
        return pd.Series(pa.array(column.array).to_pandas(), index=column.index, name=column.name)
    return column


def missing_column(kind: str, n: int) -> pd.Series:
    """An all-missing column of ``n`` rows of the dtype a ``kind`` is held in (built without a Python list)."""
    dtype = _DTYPES[kind]
    if dtype == "string":
        return pd.Series(pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string())))
    if dtype in ("Float64", "Int64", "boolean"):
        return pd.Series(pd.array(np.zeros(n, dtype=bool if dtype == "boolean" else np.int64 if dtype == "Int64" else float),
                                  dtype=dtype)).mask(np.ones(n, dtype=bool))
    if dtype == "object":
        return pd.Series(np.full(n, None, dtype=object))
    return pd.Series(np.full(n, np.datetime64("NaT"), dtype=dtype))


def _cell(column: pd.Series | None, i: int, cast: type = str) -> Any:
    if column is None or pd.isna(column.iloc[i]):
        return None
    return cast(column.iloc[i])


PRIOR_FROM_EVALUATION = ("year", "grade", "score", "self_evaluated", "evaluator", "goals_met", "explanation",
                         "rectification", "published")


def prior_columns_supplied(ds: Dataset) -> None:
    """A ``prior_*`` column the projects table lacks is not absent from the input when the evaluations table gives
    it (each project's value is then its prior-year evaluation's: ``with_prior_from_evaluations``, under the
    profile checked). Decided from the tables the input has, so that it is the same for every profile and
    every partition."""
    if "evaluations" not in ds.present or "projects" not in ds.absent_columns:
        return
    given = {name for name in PRIOR_FROM_EVALUATION if name not in ds.absent_columns.get("evaluations", set())}
    ds.absent_columns["projects"] -= {f"prior_{name}" for name in given}


def with_prior_from_evaluations(ds: Dataset, params: Mapping[str, object]) -> Dataset:
    """``ds`` with each project's missing ``prior_*`` values filled from its evaluation of the year before its
    fiscal year: the most authoritative one when that year has several, by the profile's
    ``params.evaluation_precedence`` (``authority_ranks``, as ``top()`` reads them). ``ds`` is not changed.

    Exports often carry the prior-year evaluation only in the evaluations table; a value the projects
    table does give always wins. Done when a profile's rules are run (``check``), not when the input is read:
    the precedence is the profile's.
    """
    if "evaluations" not in ds.present or ds.frame("projects").empty or ds.frame("evaluations").empty:
        return ds
    projects, ev = ds.frame("projects").copy(deep=False), ds.frame("evaluations")  # columns are replaced, not written into
    ids = unique_keys(projects["project_id"])
    pos = prior_evaluations(projects, ev, ds.project_positions("evaluations", ids) if ids is not None else None, params)
    matched = pos >= 0
    take = pa.array(np.maximum(pos, 0))
    for name in PRIOR_FROM_EVALUATION:
        col = f"prior_{name}"
        if name not in ev or col not in projects:
            continue
        target = projects[col]
        fill = matched & target.isna().to_numpy()
        if not fill.any():
            continue
        if name == "year":
            source = pa.array(projects["fiscal_year"].astype("Int64") - 1, from_pandas=True)
        else:
            source = pa.array(ev[name], from_pandas=True).take(take)
        source = pc.if_else(pa.array(fill), source, pa.nulls(len(fill), source.type))
        if source.null_count == len(source):
            continue
        # in Arrow: a pandas setitem on a million-row text column costs seconds
        current = pa.array(target, from_pandas=True)
        filled = pc.coalesce(current, source.cast(current.type))
        projects[col] = pd.Series(target.dtype.__from_arrow__(filled), index=target.index, name=col, copy=False)
    return replace(ds, tables={**ds.tables, "projects": projects})


def prior_evaluations(projects: pd.DataFrame, ev: pd.DataFrame, owner: np.ndarray | None,
                      params: Mapping[str, object]) -> np.ndarray:
    """For each project, the position of its leading evaluation of the year before its fiscal year (the most
    authoritative by ``params.evaluation_precedence``; of equally ranked rows the first in file order), or -1.
    ``owner``: each evaluation's project (``Dataset.project_positions``), or None when a project has two records."""
    # Evaluation rows in leading order: by authority, then file order (a stable sort keeps it among equals).
    ranked = authority_ranks("evaluations", dict(params))
    assert ranked is not None
    column, ranks = ranked
    codes, values = pd.factorize(ev[column], use_na_sentinel=True) if column in ev else (np.full(len(ev), -1), [])
    per_value = np.array([ranks.get(v, len(ranks)) for v in values] + [len(ranks)], dtype=np.int64)
    leading = np.argsort(per_value[codes], kind="stable")  # (code -1, missing, takes the last: not listed)
    if owner is None:  # a project with two records: match on id and year together
        keys = joined(ev["project_id"], ev["year"].astype("Int64") + 1).take(pa.array(leading))
        found = positions(joined(projects["project_id"], projects["fiscal_year"]), keys)  # the first in leading order
        return np.where(found >= 0, leading[np.maximum(found, 0)], -1)
    # Each project id once: each evaluation's project found by id alone (no joined text keys for millions of rows).
    of_prior_year = (owner >= 0) & same_year(years(ev["year"]) + 1, years(projects["fiscal_year"])[np.maximum(owner, 0)])
    candidates = leading[of_prior_year[leading]]
    owners, first = np.unique(owner[candidates], return_index=True)  # each project's first row in leading order
    out = np.full(len(projects), -1, dtype=np.int64)
    out[owners] = candidates[first]
    return out


def assemble(frames: dict[str, list[pd.DataFrame]], unreadable: dict[tuple[str, str], int] | None = None,
             headers: dict[str, dict[str, str]] | None = None, **kwargs: object) -> Dataset:
    """A Dataset from per-table lists of typed frames (concatenated; absent tables empty).

    Rows that cannot be placed on a record are set aside with a note (``perfrules.inputs.placement``);
    ``unreadable`` counts the rows of each (source, table) a reader could not parse or set aside itself
    (already noted).
    """
    tables: dict[str, pd.DataFrame] = {}
    present: set[str] = set()
    for name, table in TABLES.items():
        parts = [f for f in frames.get(name, []) if f is not None]
        if parts:
            present.add(name)
            tables[name] = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
        else:
            tables[name] = empty_frame(table)
    accounting = _count_rows(tables, present, unreadable or {})
    aside, projects_of = place_rows(tables, pool_threads())
    set_aside_notes = [_set_aside_note(tables[a.table], a.table, a.reason, a.mask) for a in aside]
    for a in aside:
        for source, n in _rows_by_source(tables[a.table][a.mask]).items():
            accounting[(source, a.table)].noted += n
    tables = set_aside_rows(tables, aside)
    for name in present:
        for source, n in _rows_by_source(tables[name]).items():
            accounting[(source, name)].checked += n
    ds = Dataset(tables, present, **kwargs)  # type: ignore[arg-type]
    ds.row_accounting = accounting
    ds.headers = InputHeaders(headers or {})
    ds.notes.extend(n for group in set_aside_notes for n in group)
    ds.issues.extend(unplaceable_issues(tables, headers or {}, {i.cell for i in ds.issues}))
    ids = unique_keys(tables["projects"]["project_id"]) if len(tables["projects"]) else None
    if ids is not None:  # the placement's positions among the distinct ids are then the records' positions
        for name, codes in projects_of.items():
            ds.found_projects[name] = (tables[name], ids, codes[kept_rows(len(codes), name, aside)])
    prior_columns_supplied(ds)
    add_departments_of_projects(ds)
    duplicates = duplicate_records_note(tables["projects"]) if ids is None else None  # unique ids: no project twice
    if duplicates is not None:
        ds.notes.append(duplicates)
    return ds


def add_departments_of_projects(ds: Dataset) -> None:
    """A department with projects in a fiscal year but no row in a supplied departments table gets a record with
    nothing recorded (catalogue round 2, P16: it has no overall goal). It is placed where its first project is
    (file and row), takes that project's jurisdiction, and is not counted as a row read."""
    if "departments" not in ds.present:
        return  # an absent table is missing data, not an empty record
    projects, departments = ds.frame("projects"), ds.frame("departments")
    if projects.empty:
        return
    # (department, year) as one integer per row: no text keys for millions of projects
    codes, names = pd.factorize(projects["department"], use_na_sentinel=True)
    project_years, dept_years = years(projects["fiscal_year"]), years(departments["fiscal_year"])
    project_keys = codes * 100_000 + np.nan_to_num(project_years).astype(np.int64)
    dept_codes = pd.Index(names).get_indexer(departments["department"].astype(object).where(departments["department"].notna(), None))
    has_row = (dept_codes >= 0) & ~np.isnan(dept_years)
    dept_keys = dept_codes[has_row] * 100_000 + dept_years[has_row].astype(np.int64)
    lacking = (codes >= 0) & ~np.isnan(project_years) & ~np.isin(project_keys, dept_keys)
    if not lacking.any():
        return
    at = np.flatnonzero(lacking)
    of = projects.iloc[at[pd.Series(project_keys[at]).drop_duplicates().index]]
    added = pd.DataFrame({c: pd.Series([None] * len(of), dtype=departments[c].dtype)
                          for c in departments.columns if c not in (SOURCE, ROW)})
    for c in ("department", "fiscal_year", "jurisdiction"):
        added[c] = of[c].astype(departments[c].dtype).to_numpy()
    added[SOURCE], added[ROW] = of[SOURCE].astype(str).to_numpy(), of[ROW].to_numpy()
    both = pd.concat([departments.astype({SOURCE: str}), added], ignore_index=True)
    ds.tables["departments"] = both.astype({SOURCE: "category"})


def _rows_by_source(frame: pd.DataFrame) -> dict[str, int]:
    if not len(frame):
        return {}
    counts = frame[SOURCE].value_counts(sort=False)  # on the categorical's codes: no text per row
    return {str(k): int(v) for k, v in counts.items() if v}


def _count_rows(tables: dict[str, pd.DataFrame], present: set[str],
                unreadable: dict[tuple[str, str], int]) -> dict[tuple[str, str], RowCount]:
    accounting: dict[tuple[str, str], RowCount] = {}
    for name in sorted(present):
        for source, n in _rows_by_source(tables[name]).items():
            accounting[(source, name)] = RowCount(name, source, read=n)
    for (source, name), n in unreadable.items():
        count = accounting.setdefault((source, name), RowCount(name, source))
        count.read += n
        count.noted += n
    return accounting


def _set_aside_note(frame: pd.DataFrame, table: str, reason: str, mask: np.ndarray) -> list[InputNote]:
    rows = frame.loc[mask, [SOURCE, ROW]]
    why_zh, why_en = REASONS[reason]
    notes = []
    for source, group in rows.groupby(rows[SOURCE].astype(str), sort=True):
        zh_rows, en_rows = describe_rows(group[ROW].tolist())
        n = len(group)
        notes.append(InputNote(
            f"input.set-aside.{reason}",
            f"{source} 中 {table}（{TABLES[table].zh}）第 {zh_rows} 行（共 {n} 行）{why_zh}，未参与检查。",
            f"{source}: {n} {table} row(s) set aside, not checked, because {why_en}: row(s) {en_rows}.",
            source, table))
    return notes


def unplaceable_issues(tables: dict[str, pd.DataFrame], headers: dict[str, dict[str, str]],
                       reported: Collection[tuple[str, str, str, str]] = ()) -> list[ValueIssue]:
    """A D03 issue for each related row whose key value in time is blank (a payment without a date, a report without a month).

    A cell already reported as unreadable (``reported``: table, source, row, column) is blank for that reason; it is
    not reported twice.
    """
    out: list[ValueIssue] = []
    for table, column in UNPLACEABLE.items():
        frame = tables[table]
        header = headers.get(table, {}).get(column, column)
        if not len(frame):
            continue
        blank = frame[column].isna().to_numpy()
        for i in map(int, np.flatnonzero(blank)):
            if (table, str(frame[SOURCE].iloc[i]), str(frame[ROW].iloc[i]), column) in reported:
                continue
            out.append(ValueIssue(table, str(frame[SOURCE].iloc[i]), str(frame[ROW].iloc[i]), column, header, "",
                                  TABLES[table].by_name[column].kind, project_id=_cell(frame["project_id"], i),
                                  fiscal_year=_cell(frame["fiscal_year"], i, int)))
    return out


def row_totals(accounting: Iterable[RowCount]) -> dict[str, dict[str, int]]:
    """Per table: rows read, checked and noted (set aside) over every input file."""
    out: dict[str, dict[str, int]] = {}
    for count in accounting:
        total = out.setdefault(count.table, {"read": 0, "checked": 0, "noted": 0})
        for key, value in count.as_dict().items():
            total[key] += value
    return {t: out[t] for t in TABLES if t in out}


def duplicate_records_note(projects: pd.DataFrame, shown: int = 10) -> InputNote | None:
    """A note naming projects that appear more than once in a fiscal year (their related rows go to the first)."""
    if projects.empty:
        return None
    dup = projects.duplicated(["project_id", "fiscal_year"], keep=False).to_numpy()
    if not dup.any():
        return None
    rows = projects.loc[dup, ["project_id", "fiscal_year", SOURCE, ROW]].astype(object)
    groups = rows.groupby(["project_id", "fiscal_year"], sort=True, dropna=False)
    first = list(itertools.islice(groups, shown))
    examples = [f"{pid}（{fy}）：{'、'.join(f'{src} 第 {r} 行' for src, r in zip(g[SOURCE], g[ROW]))}" for (pid, fy), g in first]
    examples_en = [f"{pid} ({fy}): " + ", ".join(f"{src} row {r}" for src, r in zip(g[SOURCE], g[ROW])) for (pid, fy), g in first]
    n = groups.ngroups
    more, more_en = (f"等 {n} 个" if n > shown else ""), (f" and {n - shown} more" if n > shown else "")
    return InputNote("input.duplicate-project",
                     f"项目编码在同一预算年度重复出现：{'；'.join(examples)}{more}。各自的记录都已检查，关联的指标、支付、监控按第一条记录计算。",
                     f"project ids appearing more than once in a fiscal year: {'; '.join(examples_en)}{more_en}. "
                     "Each record was checked; related indicators, payments and monitoring rows count for the first one.",
                     str(projects[SOURCE].iloc[0]), "projects", "project_id")
