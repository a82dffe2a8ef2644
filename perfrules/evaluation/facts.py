"""The shared fact layer: per-record values every backend reads.

For each record table (projects, departments) it computes, vectorised with pandas, the compiled
pack's aggregate facts (over each project's related rows) and then its derived facts, as new
columns of the record frame. The pandas backend evaluates conditions over that frame; the
durable-rules backend hands one row of it to the engine as a fact.

A project's related rows are those with the same project_id and fiscal_year; its evaluations are
those of the same project_id for its fiscal year and earlier years.
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

import perfrules.language.expr as E
from perfrules.evaluation.vectorised import Context, distinct_values, evaluate, evaluate_truth
from perfrules.inputs.dataset import Dataset
from perfrules.inputs.keys import joined, key_text, positions, same_year, unique_keys, years
from perfrules.language.functions import TABLE_ORDER
from perfrules.rulepack.compile import CompiledPack


@dataclass
class FactFrames:
    """Record frames (projects, departments) extended with fact and derived columns."""

    frames: dict[str, pd.DataFrame]
    absent_tables: set[str]
    as_of: dt.date
    orphans: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def build_facts(dataset: Dataset, compiled: CompiledPack, as_of: dt.date) -> FactFrames:
    """Compute every fact and derived value of ``compiled`` on ``dataset``."""
    frames: dict[str, pd.DataFrame] = {}
    orphans: dict[str, int] = {}
    absent = {t for t in ("indicators", "payments", "monitoring", "evaluations") if t not in dataset.present}
    for record_table in ("projects", "departments"):
        base = dataset.frame(record_table)
        columns: dict[str, pd.Series] = {}
        keys = [k for k, t in compiled.fact_tables.items() if t == record_table]
        by_table: dict[str, list[str]] = {}
        for key in keys:
            agg = compiled.facts[key]
            if agg.table in absent:
                columns[key] = pd.Series(pd.NA, index=base.index, dtype=_result_dtype(agg))
            else:
                by_table.setdefault(agg.table, []).append(key)

        record_ids = unique_keys(base["project_id"]) if by_table else None

        def over(table: str, base: pd.DataFrame = base, record_ids: object = record_ids,
                 by_table: dict[str, list[str]] = by_table) -> tuple[int, dict[str, pd.Series]]:
            rows, pos = _related_rows(dataset, table, base, record_ids)
            keep = pos >= 0
            if not keep.all():
                rows, pos = rows.loc[keep].reset_index(drop=True), pos[keep]
            ctx = Context(rows, compiled.params, as_of)  # shared by the table's aggregates: a call such as year(month) once
            return int((~keep).sum()), {k: _aggregate(compiled.facts[k], ctx, pos, len(base), base.index) for k in by_table[table]}

        # One related table per thread: the joins and counts are Arrow and NumPy work, which release the GIL.
        with ThreadPoolExecutor(max_workers=min(len(by_table), os.cpu_count() or 1) or 1) as pool:
            for table, (orphan_rows, values) in zip(by_table, pool.map(over, by_table)):
                orphans[table] = orphan_rows
                columns.update(values)
        columns = {k: columns[k] for k in keys}
        frame = pd.concat([base, pd.DataFrame(columns, index=base.index, copy=False)], axis=1) if columns else base.copy()
        ctx = Context(frame, compiled.params, as_of)
        for d in compiled.derived:
            if d.fact.table == record_table:
                value = evaluate(d.expr, ctx)
                frame[d.fact.name] = value if isinstance(value, pd.Series) else pd.Series([value] * len(frame), index=frame.index)
        frames[record_table] = frame
    return FactFrames(frames, absent, as_of, orphans)


def _related_rows(dataset: Dataset, table: str, records: pd.DataFrame, record_ids: pa.Array | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The related table's rows and, for each, the position of its record (-1 when it has none).

    ``record_ids`` are the records' project ids when each project has one record (a hash lookup of the
    id alone then finds it), else None.
    """
    rows = dataset.frame(table)
    if table == "evaluations":
        # An evaluation of year Y belongs to the project's records of fiscal year Y and later; inside an
        # aggregate over evaluations, ``fiscal_year`` is the record's.
        if record_ids is not None:
            pos = positions(key_text(rows["project_id"]), record_ids)
            record_fy = np.where(pos >= 0, years(records["fiscal_year"])[np.maximum(pos, 0)], np.nan)
            keep = (pos >= 0) & (years(rows["year"]) <= record_fy)
            merged = rows[keep].reset_index(drop=True)
            merged["fiscal_year"] = pd.array(record_fy[keep], dtype="Float64")
            return merged, pos[keep]
        left = pd.DataFrame({"project_id": records["project_id"].astype(object),
                             "_fy": records["fiscal_year"].astype("Float64"), "_pos": np.arange(len(records))})
        right = rows.assign(_rid=np.arange(len(rows)), project_id=rows["project_id"].astype(object))
        merged = right.merge(left, on="project_id", how="inner")
        merged = merged[(merged["year"].astype("Float64") <= merged["_fy"]).fillna(False).to_numpy(dtype=bool)]
        merged = merged.assign(fiscal_year=merged["_fy"])
        return merged.reset_index(drop=True), merged["_pos"].to_numpy()
    if record_ids is not None:
        pos = positions(key_text(rows["project_id"]), record_ids)
        record_fy = years(records["fiscal_year"])[np.maximum(pos, 0)]
        return rows, np.where(same_year(years(rows["fiscal_year"]), record_fy), pos, -1)
    # Duplicate records are reported by the loader; the first one owns the related rows.
    return rows, positions(joined(rows["project_id"], rows["fiscal_year"]), joined(records["project_id"], records["fiscal_year"]))


GRID_CELLS = 50_000_000  # count_distinct marks a record × value grid up to this size, else hashes the pairs


def _result_dtype(agg: E.Aggregate) -> str:
    return {"count": "Float64", "count_distinct": "Float64", "sum": "Float64", "streak": "Float64",
            "any": "boolean", "all": "boolean"}.get(agg.func, "object")


def _aggregate(agg: E.Aggregate, ctx: Context, pos: np.ndarray, n: int, index: pd.Index) -> pd.Series:
    """One aggregate over a related table's rows (``ctx.frame``), each of which belongs to the record at ``pos``."""
    rows = ctx.frame
    if agg.where is not None:
        cond = evaluate_truth(agg.where, ctx)
        true, unknown = cond.true, cond.unknown
    else:
        true = np.ones(len(rows), bool)
        unknown = np.zeros(len(rows), bool)
    has_unknown = np.bincount(pos[unknown], minlength=n) > 0
    has_rows = np.bincount(pos, minlength=n) > 0
    func = agg.func
    if func == "count":
        out = pd.Series(np.bincount(pos[true], minlength=n).astype(float), index=index, dtype="Float64")
        return out.mask(has_unknown)
    if func in ("any", "all"):
        n_true = np.bincount(pos[true], minlength=n)
        n_false = np.bincount(pos[~true & ~unknown], minlength=n)
        if func == "any":
            values, na = n_true > 0, (n_true == 0) & has_unknown
        else:
            values, na = n_false == 0, (n_false == 0) & has_unknown
        return pd.Series(pd.arrays.BooleanArray(values & ~na, na), index=index, copy=False)
    if func == "streak":
        return _streak(agg, rows, pos, true, unknown, n, index)
    value = evaluate(agg.value, ctx) if agg.value is not None else None
    value = value if isinstance(value, pd.Series) else pd.Series([value] * len(rows))
    if func == "count_distinct":
        codes, distinct = distinct_values(ctx, value)
        chosen = true & (np.asarray(codes) >= 0)
        record, code = pos[chosen], np.asarray(codes)[chosen]
        if n * len(distinct) <= GRID_CELLS:  # few distinct values (months, grades): a record × value grid
            seen = np.zeros((n, len(distinct)), dtype=bool)
            seen[record, code] = True
            counts = np.count_nonzero(seen, axis=1)
        else:  # each distinct (record, value) pair once, then counted per record
            counts = np.bincount(pd.unique(record * len(distinct) + code) // len(distinct), minlength=n)
        return pd.Series(counts.astype(float), index=index, dtype="Float64").mask(has_unknown)
    sel = true
    frame = pd.DataFrame({"pos": pos[sel], "v": value.to_numpy()[sel] if value.dtype == object else value[sel].reset_index(drop=True)})
    if func == "sum":
        vals = frame["v"].astype("Float64")
        total = np.bincount(frame["pos"], weights=vals.fillna(0).to_numpy(dtype=float), minlength=n)
        value_na = np.bincount(frame["pos"][vals.isna().to_numpy()], minlength=n) > 0
        counted = np.bincount(frame["pos"], minlength=n) > 0
        out = pd.Series(total, index=index, dtype="Float64")
        return out.mask(~counted | value_na | has_unknown)
    grouped = frame.dropna(subset=["v"]).groupby("pos")["v"]
    if func in ("min", "max"):
        out = getattr(grouped, func)().reindex(range(n))
    else:  # pragma: no cover - the parser only admits known aggregates
        raise ValueError(func)
    out.index = index
    return out.mask(has_unknown | ~has_rows)


def _streak(agg: E.Aggregate, rows: pd.DataFrame, pos: np.ndarray, true: np.ndarray, unknown: np.ndarray,
            n: int, index: pd.Index) -> pd.Series:
    order_col = TABLE_ORDER.get(agg.table)
    # Within each record, most recent first (rows without an order last), in file order among equals.
    at = np.arange(len(rows))
    if order_col is None:  # no order column: the last row is the most recent
        key, na = -at, np.zeros(len(rows), bool)
    else:
        order = rows[order_col]
        na = np.asarray(order.isna(), dtype=bool)
        if order.dtype.kind == "M":
            key = order.to_numpy(dtype="datetime64[ns]").view(np.int64)
        else:
            key = order.to_numpy(dtype=float, na_value=np.nan)
        key = -np.where(na, 0, key)
    at = at[np.argsort(key, kind="stable")]
    at = at[np.argsort(na[at], kind="stable")]
    at = at[np.argsort(pos[at], kind="stable")]
    p, t, u = pos[at], true[at], unknown[at]
    # The run of leading true rows of each record is its streak; the row that ends it may be unknown.
    breaks_before = np.cumsum(~t) - ~t
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]]) if len(p) else np.zeros(0, np.int64)
    group_base = np.repeat(breaks_before[starts], np.diff(np.r_[starts, len(p)]))
    leading = breaks_before == group_base
    length = np.bincount(p[leading & t], minlength=n)
    stopped_unknown = np.zeros(n, bool)
    stopped_unknown[p[leading & ~t & u]] = True
    return pd.Series(length.astype(float), index=index, dtype="Float64").mask(stopped_unknown)
