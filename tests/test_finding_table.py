"""The columnar findings table renders exactly what the per-record path renders."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from perfrules.findings.model import format_value, json_value, render
from perfrules.findings.table import evidence_column, json_strings, json_texts, render_column


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text()), max_size=20))
def test_json_strings_are_what_json_dumps_writes(values: list[str | None]) -> None:
    got = json_strings(pa.array(values, pa.large_string())).to_pylist()
    assert got == [json.dumps(v, ensure_ascii=False) if v is not None else "null" for v in values]


def test_json_texts_of_numbers_dates_and_flags_follow_json_value() -> None:
    cases = [pd.Series([1.0, 2.5, None], dtype="Float64"), pd.Series([True, None, False], dtype="boolean"),
             pd.Series(pd.to_datetime(["2022-10-31", None])), pd.Series([2022, None], dtype="Int64")]
    for series in cases:
        want = [json.dumps(json_value(None if pd.isna(v) else v), ensure_ascii=False) for v in series]
        assert json_texts(series).to_pylist() == want


def test_a_template_renders_the_same_over_a_column_as_for_one_record() -> None:
    columns = {"project_id": pd.Series(["P-1", None], dtype="string"),
               "paid": pd.Series([0.0, 1234567.5], dtype="Float64"),
               "execution_rate": pd.Series([0.4567, None], dtype="Float64")}
    scalars = {"params.mid_year_min_rate": 0.5, "as_of": pd.Timestamp("2022-06-30")}
    template = "截至 {as_of}，项目 {project_id} 已支付 {paid}，执行率 {execution_rate}（应达 {params.mid_year_min_rate}）{unknown}"
    got = render_column(template, columns, scalars, "zh", 2).to_pylist()
    want = [render(template, {**{k: (None if pd.isna(v[i]) else v[i]) for k, v in columns.items()}, **scalars}, "zh")
            for i in range(2)]
    assert got == want
    assert got[0] == f"截至 2022-06-30，项目 P-1 已支付 0元，执行率 45.7%（应达 50.0%）{format_value('unknown', None, 'zh')}"


def test_list_cells_and_repeated_values_render_as_for_one_record() -> None:
    # List cells cannot be hashed; equal lists still render once and the same as on the per-record path.
    columns = {"funding_sources": pd.Series([["财政拨款", "自筹"], None, ["财政拨款", "自筹"], []], dtype=object),
               "amount": pd.Series([500000.0, 500000.0, None, 12.5], dtype="Float64")}
    template = "资金来源 {funding_sources}，金额 {amount}"
    got = render_column(template, columns, {}, "zh", 4).to_pylist()
    rows = [{k: v.iloc[i] if not (v.iloc[i] is None or v.iloc[i] is pd.NA) else None for k, v in columns.items()} for i in range(4)]
    assert got == [render(template, row, "zh") for row in rows]
    evidence = evidence_column(columns, {"params.min": 1}, ["funding_sources", "amount", "params.min"], 4).to_pylist()
    assert [json.loads(e) for e in evidence] == [
        {k: json_value(row[k]) for k in ("funding_sources", "amount")} | {"params.min": 1} for row in rows]


def test_chunked_text_and_unhashable_cells_render_row_for_row() -> None:
    import numpy as np
    import pyarrow as pa

    from perfrules.findings.table import TableValues
    # a frame joined from parts holds chunked Arrow text; dict cells cannot be hashed even as tuples
    names = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([["甲", None], ["乙"]], pa.large_string())))
    frame = pd.DataFrame({"project_name": names, "x": pd.Series([None, {"k": 1}, {"k": 2}], dtype=object)})
    values = TableValues(frame)
    rows = np.array([2, 0, 1])
    got = render_column("项目 {project_name}", values.rows(rows, ["project_name"]), {}, "zh", 3).to_pylist()
    assert got == [render("项目 {project_name}", {"project_name": v}, "zh") for v in ["乙", "甲", None]]
    assert values.json("x", np.arange(3)).to_pylist() == ["null", '{"k": 1}', '{"k": 2}']
    assert values.json("x", np.array([2, 1])).to_pylist() == ['{"k": 2}', '{"k": 1}']


def test_equal_values_of_other_forms_keep_their_own_text_whichever_rule_shows_them_first() -> None:
    # TableValues caches a column's texts by value: -0.0 and 0.0, or True and 1, must not share one
    import numpy as np

    from perfrules.findings.table import TableValues
    frame = pd.DataFrame({"amount": pd.Series([-0.0, 0.0, 2.5], dtype="Float64"),
                          "mixed": pd.Series([1, True, None], dtype=object)})
    for first, second in ([0], [1]), ([1], [0]):
        shown = TableValues(frame)
        for rows in (first, second):
            at = np.array(rows)
            assert shown.formatted("amount", at, "zh").to_pylist() == [format_value("amount", frame["amount"][rows[0]], "zh")]
            assert shown.json("mixed", at).to_pylist() == [json.dumps(json_value(frame["mixed"][rows[0]]), ensure_ascii=False)]
    big = pd.array([2**64 - 1, None], dtype="UInt64")  # beyond int64: not wrapped around to -1
    unsigned = TableValues(pd.DataFrame({"amount": big}))
    assert unsigned.formatted("amount", np.array([0, 1]), "zh").to_pylist() == [format_value("amount", big[0], "zh"), "（空）"]
    assert unsigned.json("amount", np.array([0])).to_pylist() == ["18446744073709551615"]
    both = TableValues(frame).formatted("amount", np.array([0, 1, 0]), "zh").to_pylist()  # and shown together
    assert both == [format_value("amount", v, "zh") for v in (-0.0, 0.0, -0.0)] == ["-0元", "0元", "-0元"]


_NUMBERS = st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-10**6, 10**6).map(float),
                     st.sampled_from([0.0, -0.0, 0.5, 0.125, 1e-7, 1e16, 123456.789]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_NUMBERS, min_size=1, max_size=25), st.sampled_from(["amount", "execution_rate", "fiscal_year", "score"]),
       st.sampled_from(["Float64", "float64", "double[pyarrow]", "Int64"]), st.sampled_from(["zh", "en"]), st.data())
def test_numbers_render_as_format_value_and_json_value_render_each(values: list[float | None], name: str, dtype: str,
                                                                   lang: str, data: st.DataObject) -> None:
    # Numeric columns are formatted once per distinct number without the per-value cache: the text of
    # each shown row must still be what the per-record path gives that row's value.
    import numpy as np

    from perfrules.findings.table import TableValues
    if dtype == "Int64":
        values = [None if v is None or not (v.is_integer() and abs(v) < 2**53) else v for v in values]
    series = pd.Series(values, dtype=dtype)
    positions = np.array(data.draw(st.lists(st.integers(0, len(values) - 1), min_size=1, max_size=30)))
    shown = TableValues(pd.DataFrame({name: series}))
    cells = [series.array[int(i)] for i in positions]
    cells = [None if pd.isna(v) else v for v in cells]
    assert shown.formatted(name, positions, lang).to_pylist() == [format_value(name, v, lang) for v in cells]
    assert shown.json(name, positions).to_pylist() == [json.dumps(json_value(v), ensure_ascii=False) for v in cells]


def test_text_of_several_jurisdictions_concatenated_in_chunks_is_written_as_json() -> None:
    """A run over several jurisdictions concatenates their findings, so the text columns come in chunks (the
    sheyang and tongxin sample exports ended in an internal error in ``nightly``)."""
    from perfrules.outputs.csv_jsonl import text_bytes

    parts = [pd.Series(['上年评价等级为"低"', None], dtype="string[pyarrow]"), pd.Series(["甲\\乙", "丙"], dtype="string[pyarrow]")]
    messages = pd.concat(parts, ignore_index=True)
    assert isinstance(pa.array(messages, from_pandas=True), pa.ChunkedArray)
    texts = json_texts(messages)
    assert texts.to_pylist() == ['"上年评价等级为\\"低\\""', "null", '"甲\\\\乙"', '"丙"']
    lines = pa.chunked_array([["{}", "{"], ['"a": 1}']], pa.large_string())
    assert bytes(text_bytes(lines)).decode("utf-8") == '{}{"a": 1}'
