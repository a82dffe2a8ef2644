"""Findings as one table: the columnar form the batch path produces and the nightly outputs write.

A province's nightly run has hundreds of thousands of findings, and making a Python object per
finding costs more than evaluating every rule. The batch path therefore renders a rule's findings a
column at a time: each placeholder of a message and each evidence value is formatted once per
*distinct* value, with the same ``format_value`` / ``json_value`` the per-record path uses, so both
paths give the same text. ``Finding`` objects are made from the table only when a caller asks.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .findings import Finding, format_value, json_value
from .spec.model import SEVERITIES, Text

TEXT_COLUMNS = ("rule_id", "title", "requirement", "severity", "stage", "kind", "project_id", "project_name",
                "department", "message", "recommendation", "source", "evidence", "file", "row", "column", "about", "key")
COLUMNS = ("rule_id", "title", "requirement", "severity", "stage", "kind", "project_id", "project_name",
           "fiscal_year", "department", "amount", "paid", "message", "recommendation", "source", "evidence",
           "file", "row", "column", "watchlist", "about", "key")
_TEMPLATE = re.compile(r"\{([^{}]+)\}")
_STR = pa.large_string()


def text_series(values: pa.Array | Iterable[Any], n: int | None = None) -> pd.Series:
    """An Arrow-backed ``string`` Series from an Arrow array or Python values (None is missing)."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(list(values), _STR)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pd.Series(pd.arrays.ArrowStringArray(arr.cast(_STR)))


def _constant(value: str | None, n: int) -> pa.Array:
    if value is None:
        return pa.nulls(n, _STR)
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], _STR)).cast(_STR)


def _per_distinct(series: pd.Series, fn: Callable[[Any], str]) -> pa.Array:
    """``fn`` applied once per distinct value (missing values get ``fn(None)``), as an Arrow text array."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists)
        return pa.array([fn(None if _missing(v) else v) for v in series], _STR)
    texts = np.array([fn(u) for u in uniques] + [fn(None)], dtype=object)
    return pa.array(texts[codes], _STR)


def _missing(value: Any) -> bool:
    return not isinstance(value, (list, tuple, dict, np.ndarray)) and bool(pd.isna(value))


def formatted(name: str, series: pd.Series, lang: str) -> pa.Array:
    """A column's values as a person reads them in a message (``format_value``)."""
    if isinstance(series.dtype, pd.StringDtype) or isinstance(series.dtype, pd.CategoricalDtype):
        arr = pa.array(series.astype("string"), from_pandas=True).cast(_STR)
        return pc.fill_null(arr, pa.scalar(format_value(name, None, lang), _STR))
    return _per_distinct(series, lambda v: format_value(name, v, lang))


def json_texts(series: pd.Series) -> pa.Array:
    """A column's values as JSON texts (``json_value``; missing is ``null``)."""
    if isinstance(series.dtype, pd.StringDtype):
        return json_strings(pa.array(series, from_pandas=True).cast(_STR))
    return _per_distinct(series, lambda v: json.dumps(json_value(v), ensure_ascii=False))


# What json.dumps(..., ensure_ascii=False) escapes in a string, backslash first.
_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
                 ("\b", "\\b"), ("\f", "\\f"))


def json_strings(texts: pa.Array) -> pa.Array:
    """Text values as JSON strings, exactly as ``json.dumps(value, ensure_ascii=False)`` writes them; null is ``null``."""
    quoted = pc.binary_join_element_wise(pa.scalar('"', _STR), texts, pa.scalar('"', _STR), pa.scalar("", _STR))
    special = pc.fill_null(pc.match_substring_regex(texts, '[\\\\"\\x00-\\x1f]'), False)
    if pc.any(special).as_py():  # only the cells holding a quote, a backslash or a control character are escaped
        rows = texts.filter(special)
        escaped = rows
        for plain, escape in _JSON_ESCAPES:
            escaped = pc.replace_substring(escaped, plain, escape)
        fixed = pc.binary_join_element_wise(pa.scalar('"', _STR), escaped, pa.scalar('"', _STR), pa.scalar("", _STR))
        other = np.asarray(pc.match_substring_regex(rows, "[\\x00-\\x07\\x0b\\x0e-\\x1f]"))
        if other.any():  # rare control characters: json.dumps itself, for those cells
            values = np.array(fixed.to_pylist(), dtype=object)
            values[other] = [json.dumps(v, ensure_ascii=False) for v in rows.filter(pa.array(other)).to_pylist()]
            fixed = pa.array(values, _STR)
        quoted = pc.replace_with_mask(quoted, special, fixed)
    return pc.fill_null(quoted, pa.scalar("null", _STR))


def render_column(template: Text | str, columns: Mapping[str, pd.Series], scalars: Mapping[str, Any],
                  lang: str, n: int) -> pa.Array:
    """``findings.render`` over whole columns: placeholders filled from ``columns`` or ``scalars``."""
    text = template.get(lang) if isinstance(template, Text) else template
    parts: list[Any] = []
    pos = 0
    for m in _TEMPLATE.finditer(text):
        parts.append(pa.scalar(text[pos:m.start()], _STR))
        name = m.group(1)
        if name in columns:
            parts.append(formatted(name, columns[name], lang))
        else:
            parts.append(pa.scalar(format_value(name, scalars.get(name), lang), _STR))
        pos = m.end()
    parts.append(pa.scalar(text[pos:], _STR))
    if not any(isinstance(p, pa.Array) for p in parts):
        return _constant("".join(p.as_py() for p in parts), n)
    return pc.binary_join_element_wise(*parts, pa.scalar("", _STR))


def evidence_column(columns: Mapping[str, pd.Series], scalars: Mapping[str, Any], order: list[str], n: int) -> pa.Array:
    """Each row's evidence as a JSON object text, keys in ``order``."""
    if not order:
        return _constant("{}", n)
    parts: list[Any] = []
    for i, name in enumerate(order):
        parts.append(pa.scalar(("{" if i == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": ", _STR))
        if name in columns:
            parts.append(json_texts(columns[name]))
        else:
            parts.append(pa.scalar(json.dumps(json_value(scalars[name]), ensure_ascii=False), _STR))
    parts.append(pa.scalar("}", _STR))
    if not any(isinstance(p, pa.Array) for p in parts):
        return _constant("".join(p.as_py() for p in parts), n)
    return pc.binary_join_element_wise(*parts, pa.scalar("", _STR))


def source_text(source: list[dict[str, str]]) -> str:
    """A rule's sources as one line: ``document clause；document clause``."""
    return "；".join(f"{s['document']} {s['clause']}" for s in source)


def finding_keys(table: pd.DataFrame) -> pd.Series:
    """The stable identity of each finding: rule, what a data finding is about, project (else department), fiscal year."""
    subject = table["project_id"].fillna(table["department"].fillna(""))
    year = table["fiscal_year"].astype("string").fillna("")
    parts = [pa.array(c.astype("string"), from_pandas=True).cast(_STR)
             for c in (table["rule_id"], table["about"].fillna(""), subject, year)]
    return text_series(pc.binary_join_element_wise(*parts, pa.scalar("|", _STR)))


def assemble(n: int, **columns: Any) -> pd.DataFrame:
    """A findings table of ``n`` rows from per-column values (Arrow arrays, Series, or one value for all)."""
    out: dict[str, pd.Series] = {}
    for name in COLUMNS:
        if name == "key":
            continue
        value = columns.get(name)
        if name in ("fiscal_year",):
            out[name] = _column(value, n, "Int64")
        elif name in ("amount", "paid"):
            out[name] = _column(value, n, "Float64")
        elif name == "watchlist":
            out[name] = pd.Series(np.full(n, bool(value)) if not isinstance(value, (pd.Series, np.ndarray)) else np.asarray(value, bool))
        elif isinstance(value, (pa.Array, pa.ChunkedArray)):
            out[name] = text_series(value)
        elif isinstance(value, pd.Series):
            out[name] = text_series(pa.array(value.astype("string"), from_pandas=True))
        else:
            out[name] = text_series(_constant(value, n))
    table = pd.DataFrame(out)
    table["key"] = finding_keys(table) if n else text_series(pa.array([], _STR))
    return table


def _column(value: Any, n: int, dtype: str) -> pd.Series:
    if isinstance(value, pd.Series):
        return pd.Series(value.to_numpy(), dtype=dtype) if value.dtype == object else value.astype(dtype).reset_index(drop=True)
    return pd.Series([value] * n, dtype=dtype)


def empty() -> pd.DataFrame:
    """A findings table with no rows."""
    return assemble(0)


def from_findings(findings: list[Finding], watchlist: Iterable[str] = ()) -> pd.DataFrame:
    """A findings table from ``Finding`` objects (the engine's data findings, the per-record path)."""
    watch = set(watchlist)
    if not findings:
        return empty()
    col = lambda get: [get(f) for f in findings]  # noqa: E731
    return assemble(
        len(findings),
        rule_id=pa.array(col(lambda f: f.rule_id), _STR), title=pa.array(col(lambda f: f.title), _STR),
        requirement=pa.array(col(lambda f: "、".join(f.requirement)), _STR),
        severity=pa.array(col(lambda f: f.severity), _STR), stage=pa.array(col(lambda f: f.stage), _STR),
        kind=pa.array(col(lambda f: f.kind), _STR), project_id=pa.array(col(lambda f: f.project_id), _STR),
        fiscal_year=pd.Series(col(lambda f: f.fiscal_year), dtype="Int64"),
        department=pa.array(col(lambda f: f.department), _STR),
        message=pa.array(col(lambda f: f.message), _STR), recommendation=pa.array(col(lambda f: f.recommendation), _STR),
        source=pa.array(col(lambda f: source_text(f.source)), _STR),
        evidence=pa.array(col(lambda f: json.dumps({k: json_value(v) for k, v in f.evidence.items()}, ensure_ascii=False)), _STR),
        file=pa.array(col(lambda f: f.location.get("file")), _STR), row=pa.array(col(lambda f: f.location.get("row")), _STR),
        column=pa.array(col(lambda f: f.location.get("column")), _STR),
        watchlist=np.array([f.rule_id in watch for f in findings], dtype=bool),
        about=pa.array(col(lambda f: _about(f)), _STR),
    )


def _about(f: Finding) -> str | None:
    """What a data finding is about (the rule it could not decide, or the unreadable column)."""
    if f.kind != "data":
        return None
    return str(f.evidence.get("rule") or f.evidence.get("column") or "") or None


def concat(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Several findings tables as one (unsorted)."""
    parts = [t for t in tables if len(t)]
    if not parts:
        return empty()
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)


def sort_table(table: pd.DataFrame) -> pd.DataFrame:
    """Most severe first, then by rule, department, project and fiscal year (as ``findings.sort_findings``)."""
    if len(table) < 2:
        return table.reset_index(drop=True)
    rank = table["severity"].map({s: i for i, s in enumerate(SEVERITIES)}).astype("int64").to_numpy()
    keys = pa.table({
        "s": pa.array(rank), "r": _sort_text(table["rule_id"]), "d": _sort_text(table["department"]),
        "p": _sort_text(table["project_id"]), "y": pa.array(table["fiscal_year"].fillna(0).to_numpy(dtype=np.int64)),
    })
    order = pc.sort_indices(keys, sort_keys=[(c, "ascending") for c in ("s", "r", "d", "p", "y")]).to_numpy()
    return table.iloc[order].reset_index(drop=True)


def _sort_text(series: pd.Series) -> pa.Array:
    return pc.fill_null(pa.array(series.astype("string"), from_pandas=True).cast(_STR), pa.scalar("", _STR))


def to_findings(table: pd.DataFrame, sources: Mapping[str, list[dict[str, str]]]) -> list[Finding]:
    """``Finding`` objects for the rows of a findings table."""
    records = table[["rule_id", "title", "requirement", "severity", "stage", "project_id", "fiscal_year", "department",
                     "message", "recommendation", "evidence", "file", "row", "column", "kind"]].astype(object).to_dict("records")
    out = []
    for r in records:
        opt = lambda v: None if v is None or v is pd.NA else v  # noqa: E731
        location = {} if opt(r["file"]) is None and opt(r["row"]) is None else {"file": opt(r["file"]) or "", "row": opt(r["row"]) or ""}
        if opt(r["column"]) is not None:
            location["column"] = r["column"]
        out.append(Finding(
            r["rule_id"], r["title"], r["requirement"].split("、") if r["requirement"] else [], r["severity"], r["stage"],
            opt(r["project_id"]), None if opt(r["fiscal_year"]) is None else int(r["fiscal_year"]), opt(r["department"]),
            r["message"], r["recommendation"], [dict(s) for s in sources.get(r["rule_id"], [])],
            json.loads(r["evidence"]), location, kind=r["kind"]))
    return out

