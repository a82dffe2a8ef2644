"""``perfrules partition`` reads the related tables in batches: the result equals the one-process load and check.

The batches are forced to 3 rows, so a project's indicators, payments and evaluations are split over
several batches, and set-aside rows, unreadable cells and malformed lines fall in different batches.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_distributed import assert_same, messy_export

from perfrules.api import check_paths
from perfrules.distributed.layout import read_manifest
from perfrules.distributed.reader import load_partitioned
from perfrules.distributed.stream import _scan_csv
from perfrules.distributed.writer import partition_export
from perfrules.inputs import load_input
from perfrules.inputs.dataset import with_prior_from_evaluations
from perfrules.rulepack.compile import compile_pack
from perfrules.rulepack.pack import default_rules_dir, load_pack

RELATED = {"绩效指标": "indicators", "支付明细": "payments", "绩效评价": "evaluations"}


def _as_text(path: Path) -> pd.DataFrame:
    """A table file's cells as the text a person would type (the XLSX's dates as ISO dates)."""
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if path.suffix == ".xlsx":
        frame = pd.read_excel(path, dtype=object)
        return frame.map(lambda v: "" if pd.isna(v) else v.date().isoformat() if hasattr(v, "date") else str(v))
    return pq.read_table(path).to_pandas().astype(object).where(lambda f: f.notna(), "").astype(str)


def export_as(messy: Path, folder: Path, suffix: str) -> Path:
    """The messy export (its projects CSV untouched: malformed line, duplicate, nameless record) with every
    related table written as ``suffix`` (.csv or .parquet); the CSV indicators gain a malformed line and a
    payment without a date, an indicator of a year its project does not have, and
    a second prior-year evaluation of GX-001."""
    shutil.copytree(messy, folder)
    for stem in RELATED:
        (old,) = folder.glob(f"{stem}.*")
        frame = _as_text(old)
        if stem == "支付明细":
            frame.loc[len(frame)] = ["GX-002", "2022", "", "5"]
        if stem == "绩效评价":  # a second 2021 evaluation of GX-001, batches after its first: the last one read counts
            frame.loc[len(frame)] = ["GX-001", "2021", "差", "50", "是", "单位自评", "否", "未完成", "否"]
        if stem == "绩效指标":
            frame.loc[len(frame)] = [frame.iloc[0, 0], "2020", *frame.iloc[0, 2:]]  # its project has no 2020 record
        old.unlink()
        if suffix == ".csv":
            buf = io.StringIO()
            frame.to_csv(buf, index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
            lines = buf.getvalue().split("\r\n")
            if stem == "绩效指标":
                lines.insert(9, "GX-002,2022,只有三列")  # a malformed line in the middle of a batch
            (folder / f"{stem}.csv").write_text("\r\n".join(lines), encoding="utf-8-sig")
        else:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / f"{stem}.parquet", row_group_size=5)
    return folder


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Path:
    return messy_export(tmp_path_factory.mktemp("messy-s") / "export")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_streamed_partition_in_3_row_batches_checks_as_the_unpartitioned_export(messy: Path, tmp_path: Path, suffix: str) -> None:
    export = export_as(messy, tmp_path / f"export{suffix}", suffix)
    whole = check_paths([export])
    if suffix == ".csv":  # read by the batch reader, not whole: UTF-8, no record over two lines
        assert all(_scan_csv(export / f"{stem}.csv") is not None for stem in RELATED)
        assert _scan_csv(export / "项目.csv") is None  # GBK: the loader reads it whole (and projects are read whole anyway)
    out = tmp_path / "parts"
    partition_export(export, out, 4, batch_rows=3)
    manifest = read_manifest(out)
    assert manifest.total_rows("indicators") > 3 * 4  # several batches per table, each over several partitions

    streamed = check_paths([out])
    assert_same(streamed, whole)
    assert streamed.row_accounting == whole.row_accounting  # read = checked + noted, per file and table

    loaded, back = load_input(export)[0], load_partitioned(out)
    assert (back.notes, back.absent_columns, back.present) == (loaded.notes, loaded.absent_columns, loaded.present)
    assert sorted(back.issues, key=repr) == sorted(loaded.issues, key=repr)  # read back partition by partition
    codes = {n.code for n in loaded.notes}
    # what the export holds for the parity to mean something
    assert {"input.set-aside.unknown-project", "input.set-aside.other-year", "input.set-aside.blank-id", "input.duplicate-project"} <= codes
    if suffix == ".csv":
        assert any(n.code == "input.malformed-row" and "绩效指标.csv" in n.zh for n in loaded.notes)
    assert any(i.table == "payments" and i.column == "date" for i in loaded.issues)  # a D03 blank date
    for name in ("projects", "indicators", "payments", "evaluations"):
        pd.testing.assert_frame_equal(back.tables[name].sort_values(["_source", "_row"], ignore_index=True),
                                      loaded.tables[name][list(back.tables[name].columns)].sort_values(["_source", "_row"], ignore_index=True))
    # a project's prior-year evaluation fills its prior_* values as on one machine (under the profile checked)
    params = compile_pack(load_pack(default_rules_dir())).params
    projects = with_prior_from_evaluations(back, params).tables["projects"]
    whole_projects = with_prior_from_evaluations(loaded, params).tables["projects"]
    assert projects["prior_grade"].notna().sum() == whole_projects["prior_grade"].notna().sum() > 0
    gx001 = lambda frame: set(frame.loc[(frame["project_id"] == "GX-001") & (frame["fiscal_year"] == 2022), "prior_rectification"])  # noqa: E731
    assert gx001(projects) == gx001(whole_projects) == {"无需"}  # its most authoritative prior-year evaluation, across batches


def test_a_department_with_projects_but_no_row_is_judged_as_on_one_machine(tmp_path: Path) -> None:
    """P16 (round 2): a department that has projects but no row in a supplied departments table has no overall goal.
    Its empty record is made where every project is seen, before the projects are spread over partitions."""
    export = tmp_path / "qitai"
    shutil.copytree(Path(__file__).parents[1] / "samples" / "exports" / "qitai-2022", export)
    departments = export / "部门整体.csv"
    text = departments.read_bytes().decode("utf-8-sig")
    departments.write_text("".join(line for line in text.splitlines(keepends=True) if "县文旅局" not in line), encoding="utf-8-sig")
    whole = check_paths([export], profile="qitai")
    assert ("PF-P16-DEPTASPECTS", "县文旅局") in {(f.rule_id, f.department) for f in whole.findings}
    out = tmp_path / "parts"
    partition_export(export, out, 3, batch_rows=3)
    assert_same(check_paths([out], profile="qitai"), whole)


def test_a_repeated_header_line_is_set_aside_alike_streamed_or_whole(messy: Path, tmp_path: Path) -> None:
    export = export_as(messy, tmp_path / "export.csv", ".csv")
    payments = export / "支付明细.csv"
    lines = payments.read_text(encoding="utf-8-sig").splitlines()
    payments.write_text("\r\n".join([*lines[:6], lines[0], *lines[6:]]) + "\r\n", encoding="utf-8-sig")  # two exports pasted
    assert _scan_csv(payments) is None  # read whole, where the loader sets the line aside by its number
    whole = check_paths([export])
    notes = [n for n in load_input(export)[0].notes if n.code == "input.repeated-header"]
    assert [n.en.split(" repeats")[0] for n in notes] == ["支付明细.csv line 7"]
    out = tmp_path / "parts"
    partition_export(export, out, 4, batch_rows=3)
    streamed = check_paths([out])
    assert_same(streamed, whole)
    assert streamed.row_accounting == whole.row_accounting
    counts = [c for k, c in whole.row_accounting.items() if k[1] == "payments"]
    assert [(c.read, c.read - c.checked) for c in counts] == [(len(lines), 1)]  # the lines after the header; one not checked
