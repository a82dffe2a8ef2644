"""Write a findings table as JSON Lines and as CSV, a column at a time (hundreds of thousands of rows).

Each JSON line is exactly ``json.dumps(finding.to_dict())`` of the finding (plus the nightly run's
``status`` and ``nights``): every value is encoded with ``json.dumps`` once per distinct value and the
pieces are joined by Arrow, so no Python dict is built per finding. The CSV is the one CSV form of findings:
``perfrules check --format csv`` writes it too.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from perfrules.findings.model import LINE_NUMBER
from perfrules.findings.table import json_strings, json_texts
from perfrules.outputs.cells import safe_array
from perfrules.rulepack.model import SEVERITY_EN

_STR = pa.large_string()
NIGHTLY_CSV = (("project_name", "项目名称"), ("amount", "申请金额(元)"), ("paid", "已支付(元)"),
               ("status", "状态"), ("nights", "持续次数"))
STATUS_ZH = {"new": "新增", "persisting": "持续"}
CHANGES = ("status", "nights")


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _STR)


def _per_rule(table: pd.DataFrame, texts: Mapping[str, str], default: str) -> pa.Array:
    """A per-rule constant (already JSON text) for each row."""
    codes, uniques = pd.factorize(table["rule_id"].astype(object))
    values = pa.array([texts.get(u, default) for u in uniques], _STR)
    return values.take(pa.array(codes))


def jsonl_lines(table: pd.DataFrame, sources: Mapping[str, list[dict[str, str]]]) -> pa.Array:
    """One JSON object text per finding, keys in the order of ``Finding.to_dict``."""
    if not len(table):
        return pa.array([], _STR)
    per_rule = table[["rule_id", "requirement"]].drop_duplicates("rule_id")
    requirement = {r: json.dumps(v.split("、") if v else [], ensure_ascii=False)
                   for r, v in zip(per_rule["rule_id"], per_rule["requirement"])}
    source = {r: json.dumps(v, ensure_ascii=False) for r, v in sources.items()}
    located = table["file"].notna() | table["row"].notna()
    row = pa.array(table["row"].fillna(""), _STR)
    row = pc.if_else(pc.match_substring_regex(row, f"^({LINE_NUMBER})$"), row, json_strings(row))  # a line number is a number
    location = pc.binary_join_element_wise(
        _lit('{"file": '), json_texts(table["file"].fillna("")), _lit(', "row": '), row,
        pc.if_else(pa.array(table["column"].notna().to_numpy()),
                   pc.binary_join_element_wise(_lit(', "column": '), json_texts(table["column"]), _lit("")), _lit("")),
        _lit("}"), _lit(""))
    location = pc.if_else(pa.array(located.to_numpy()), location, _lit("{}"))
    parts: list[Any] = []
    for i, (name, value) in enumerate((
            ("rule_id", json_texts(table["rule_id"])), ("title", json_texts(table["title"])),
            ("requirement", _per_rule(table, requirement, "[]")), ("severity", json_texts(table["severity"])),
            ("stage", json_texts(table["stage"])), ("project_id", json_texts(table["project_id"])),
            ("fiscal_year", json_texts(table["fiscal_year"])), ("department", json_texts(table["department"])),
            ("message", json_texts(table["message"])), ("recommendation", json_texts(table["recommendation"])),
            ("source", _per_rule(table, source, "[]")), ("evidence", pa.array(table["evidence"], _STR)),
            ("location", location), ("kind", json_texts(table["kind"])))):
        parts += [_lit(("{" if i == 0 else ", ") + json.dumps(name) + ": "), value]
    for name in ("status", "nights"):  # what changed since the last run, when there was one
        if name in table and table[name].notna().any():
            parts += [_lit(f', "{name}": '), json_texts(table[name])]
    parts.append(_lit("}"))
    return pc.binary_join_element_wise(*parts, _lit(""))


def write_jsonl(path: Path, table: pd.DataFrame, sources: Mapping[str, list[dict[str, str]]]) -> None:
    """``findings.jsonl``: one finding per line, UTF-8."""
    lines = jsonl_lines(table, sources)
    with open(path, "wb") as fh:
        if len(lines):
            fh.write(text_bytes(pc.binary_join_element_wise(lines, _lit("\n"), _lit(""))))


def text_bytes(texts: pa.Array) -> memoryview:
    """The UTF-8 bytes of all texts of a (non-null) Arrow text array, one after another, without copying."""
    texts = texts.cast(_STR)
    if isinstance(texts, pa.ChunkedArray):  # the findings of several jurisdictions, concatenated
        texts = texts.combine_chunks()
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset:texts.offset + len(texts) + 1]
    return memoryview(texts.buffers()[2])[offsets[0]:offsets[-1]]


CSV_COLUMNS = ("severity", "rule_id", "requirement", "project_id", "fiscal_year", "department", "message",
               "recommendation", "source", "evidence", "file", "row")
CSV_HEADERS_ZH = ("严重程度", "规则编号", "政策要求", "项目编码", "预算年度", "主管部门", "问题", "处理建议", "依据", "证据", "文件", "行")


def csv_table(table: pd.DataFrame, lang: str = "zh", changes: Collection[str] | None = None) -> pa.Table:
    """A findings table as the columns of the CSV form, under their headers: the columns above, then the project's
    name and amounts, and the nightly run's change columns (status, nights) that the table fills, or those among
    ``changes`` when given. Text that a spreadsheet could read as a formula is written as text
    (``perfrules.outputs.cells``)."""
    zh = lang != "en"
    severity = table["severity"] if zh else table["severity"].map(SEVERITY_EN).astype("string")
    columns: dict[str, Any] = {name: table[name] for name in CSV_COLUMNS} | {"severity": severity}
    headers = list(CSV_HEADERS_ZH if zh else CSV_COLUMNS)
    for name, header in NIGHTLY_CSV:
        if name not in table or name in CHANGES and not (table[name].notna().any() if changes is None else name in changes):
            continue
        value = table[name]
        if name == "status" and zh:
            value = value.map(STATUS_ZH).astype("string")
        columns[name] = value
        headers.append(header if zh else name)
    arrays = [pa.array(v, from_pandas=True) for v in columns.values()]
    arrays = [safe_array(a) if pa.types.is_string(a.type) or pa.types.is_large_string(a.type) else a for a in arrays]
    return pa.table(dict(zip(headers, arrays)))


def encode_csv(table: pa.Table, sink: Any) -> None:
    """A ``csv_table`` (or rows of one) as CSV (UTF-8, no BOM, a header row) into ``sink``, a file or an Arrow stream."""
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(quoting_style="needed"))


def csv_bytes(table: pd.DataFrame, lang: str = "zh") -> bytes:
    """A findings table as CSV (UTF-8, no BOM): ``csv_table`` encoded."""
    sink = pa.BufferOutputStream()
    encode_csv(csv_table(table, lang), sink)
    return sink.getvalue().to_pybytes()


def write_csv(path: Path, table: pd.DataFrame | pa.Table, lang: str = "zh") -> None:
    """``findings.csv``: the CSV form (a findings table, or a ``csv_table``), with a BOM so that it opens in Excel on
    Chinese Windows."""
    with open(path, "wb") as fh:
        fh.write("\ufeff".encode("utf-8"))
        encode_csv(table if isinstance(table, pa.Table) else csv_table(table, lang), fh)
