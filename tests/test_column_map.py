"""Column maps: the map file and its checks, every way a column can be mapped, and every data finding a map can raise."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml
from conftest import ROOT

from perfrules.api import check_datasets
from perfrules.errors import InputError
from perfrules.inputs import load_input
from perfrules.inputs.column_map import bundled_map_names, load_column_map, read_column_map
from perfrules.language.fields import TABLES
from perfrules.rulepack.pack import load_pack

SCHEMA = json.loads((ROOT / "schemas" / "column-map.schema.json").read_text(encoding="utf-8"))

COUNTY_MAP = """\
map: county-erp
title: 某县预算一体化导出
tables:
  projects:
    files: [项目库, pm_project]
    columns:
      project_id: pro_code
      project_name: [pro_name, PRO_NAME]
      fiscal_year: fiscal_year
      department: {column: dept_code, lookup: 部门代码.csv}
      amount: {column: apply_up, unit: 万元}
      is_new: {column: is_new, values: {"1": true, "2": false}}
      start_date: {column: start_time, format: "%Y%m%d%H%M%S%f"}
  payments:
    files: [支付明细, pay_voucher]
    columns: {project_id: pro_code, fiscal_year: fiscal_year, date: {column: pay_date, format: "%Y%m%d"}, amount: pay_amt}
"""

PROJECTS = """\
pro_code,PRO_NAME,fiscal_year,dept_code,apply_up,is_new,start_time,备注X,是否重大
P1,农村饮水,2022,101,50,1,20220301000000000,第一条,否
P2,道路养护,2022,999,30,3,2022-03-01,第二条,是
P3,河道清淤,2022,102,8,2,20220101000000000,,否
"""
PAYMENTS = """\
pro_code,fiscal_year,pay_date,pay_amt,voucher_no
P1,2022,20220315,100000,V001
P3,2022,2022/04/01,20000,V002
"""
LOOKUP = "部门代码,部门名称\n101,县水利局\n102,县交通运输局\n"


def write(folder: Path, files: dict[str, str]) -> Path:
    """Write text files (UTF-8) into ``folder`` and return it."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.fixture()
def county(tmp_path: Path) -> tuple[Path, Path]:
    """An export in the county system's shape (lookup inside it) and its map beside it."""
    export = write(tmp_path / "export", {"pm_project.csv": PROJECTS, "pay_voucher.csv": PAYMENTS, "部门代码.csv": LOOKUP})
    mapfile = write(tmp_path / "maps", {"county-erp.yaml": COUNTY_MAP}) / "county-erp.yaml"
    return export, mapfile


def load(export: Path, mapfile: Path | str):
    [dataset] = load_input(export, str(mapfile))
    return dataset


def by_id(dataset, table: str = "projects") -> pd.DataFrame:
    return dataset.frame(table).set_index("project_id")


# ---- the schema and the bundled maps ---------------------------------------------------------------------------

def test_schema_offers_every_catalogue_field_of_every_table_with_a_chinese_description():
    tables = SCHEMA["properties"]["tables"]["properties"]
    assert set(tables) == set(TABLES)
    for name, table in TABLES.items():
        props = tables[name]["properties"]["columns"]["properties"]
        assert {c.name for c in table.columns} <= set(props), name
        for column in table.columns:
            assert column.zh in props[column.name]["description"], (name, column.name)


@pytest.mark.parametrize("name", ["fasp2", "perfrules"])
def test_bundled_maps_name_their_schema_for_editors_and_conform(name):
    path = ROOT / "maps" / f"{name}.yaml"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/column-map.schema.json"
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), SCHEMA)
    assert load_column_map(name).name == name


def test_bundled_maps_are_listed_and_found_by_name():
    assert bundled_map_names() == ["fasp2", "perfrules"]
    fasp2 = load_column_map("fasp2")
    assert fasp2.tables["projects"].columns["project_id"].columns == ("pro_code",)
    assert fasp2.tables["evaluations"].columns["score"].columns == ("total_eval_value",)
    assert fasp2.table_for_file("bgt_pm_annual").name == "projects"  # file names fold case
    assert fasp2.table_for_file("绩效评价").name == "evaluations"      # perfrules' own names still work


def test_the_perfrules_map_reads_exactly_as_no_map(tmp_path):
    sample = ROOT / "samples" / "exports" / "county-2022"
    plain, mapped = load_input(sample)[0], load_input(sample, "perfrules")[0]
    for table in TABLES:
        pd.testing.assert_frame_equal(plain.frame(table), mapped.frame(table))
    assert [i.value for i in plain.issues] == [i.value for i in mapped.issues]


# ---- the map file's own mistakes: each a problem at its line --------------------------------------------------

def bad_map(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, {"m.yaml": text}) / "m.yaml"
    with pytest.raises(InputError) as info:
        read_column_map(path)
    return [p.text("en") for p in info.value.problems]


def test_unknown_field_is_named_with_its_line_and_a_suggestion(tmp_path):
    [text] = bad_map(tmp_path, "map: x\ntitle: t\ntables:\n  projects:\n    columns:\n      project_nmae: pro_name\n")
    assert "m.yaml:6:7" in text and "'project_nmae'" in text and "Did you mean 'project_name'?" in text
    assert "[map.unknown-field]" in text


def test_unknown_key_and_unknown_table_are_schema_problems(tmp_path):
    texts = bad_map(tmp_path, "map: x\ntitle: t\ntables:\n  project:\n    files: [a]\n")
    assert any("unknown key 'project'" in t and "Did you mean 'projects'?" in t and "m.yaml:4:3" in t for t in texts), texts
    texts = bad_map(tmp_path, "map: x\ntitle: t\ntables:\n  projects:\n    columns:\n      amount: {column: a, unti: 元}\n")
    assert any("unknown key 'unti'" in t and "Did you mean 'unit'?" in t for t in texts), texts


def test_format_only_on_dates_unit_only_on_amounts_and_a_format_needs_a_directive(tmp_path):
    texts = bad_map(tmp_path, textwrap.dedent("""\
        map: x
        title: t
        tables:
          projects:
            columns:
              project_name: {column: a, format: "%Y"}
              is_new: {column: b, unit: 万元}
              start_date: {column: c, format: "yyyyMMdd"}
        """))
    assert any("format applies to date and month fields only; project_name" in t and "m.yaml:6" in t for t in texts), texts
    assert any("unit applies to amounts only; is_new" in t and "m.yaml:7" in t for t in texts), texts
    assert any("'yyyyMMdd' has no % directive" in t and "m.yaml:8" in t for t in texts), texts


def test_a_unit_outside_the_known_units_is_refused(tmp_path):
    texts = bad_map(tmp_path, "map: x\ntitle: t\ntables:\n  projects:\n    columns:\n      amount: {column: a, unit: 千元}\n")
    assert any("m.yaml:6" in t and "'千元'" in t for t in texts), texts


def test_unknown_bundled_name_suggests_the_close_one():
    with pytest.raises(InputError) as info:
        load_column_map("fasp")
    text = info.value.text("en")
    assert "no column map named 'fasp'" in text and "Did you mean 'fasp2'?" in text and "[map.unknown]" in text


def test_a_missing_map_file_is_named(tmp_path):
    with pytest.raises(InputError) as info:
        load_column_map(str(tmp_path / "nope.yaml"))
    assert "nope.yaml" in info.value.text("en") and "does not exist" in info.value.text("en")


def test_yaml_syntax_error_names_its_line(tmp_path):
    [text] = bad_map(tmp_path, "map: x\ntitle: t\ntables:\n  projects: {files: [a\n")
    assert "m.yaml:" in text and "YAML syntax error" in text


# ---- every way a column can be mapped -------------------------------------------------------------------------

def test_table_files_and_plain_columns_and_alternatives(county):
    ds = load(*county)
    assert ds.present == {"projects", "payments"}
    projects = by_id(ds)
    assert list(projects.index) == ["P1", "P2", "P3"]
    assert projects.loc["P1", "project_name"] == "农村饮水"  # from PRO_NAME, the second alternative
    assert projects.loc["P1", "fiscal_year"] == 2022


def test_lookup_codes_become_names_from_the_export_folder(county):
    projects = by_id(load(*county))
    assert projects.loc["P1", "department"] == "县水利局" and projects.loc["P3", "department"] == "县交通运输局"


def test_lookup_is_found_beside_the_map_when_the_export_has_none(county):
    export, mapfile = county
    (export / "部门代码.csv").rename(mapfile.parent / "部门代码.csv")
    assert by_id(load(export, mapfile)).loc["P1", "department"] == "县水利局"


def test_the_export_folders_lookup_wins_over_the_one_beside_the_map(county):
    export, mapfile = county
    write(mapfile.parent, {"部门代码.csv": "code,name\n101,旧名称\n102,旧名称二\n"})
    assert by_id(load(export, mapfile)).loc["P1", "department"] == "县水利局"


def test_lookup_in_gbk_and_xlsx(county):
    export, mapfile = county
    (export / "部门代码.csv").write_bytes(LOOKUP.encode("gbk"))
    assert by_id(load(export, mapfile)).loc["P1", "department"] == "县水利局"
    pd.DataFrame({"代码": ["101", "102"], "名称": ["水利", "交通"]}).to_excel(export / "部门.xlsx", index=False)
    mapfile.write_text(COUNTY_MAP.replace("部门代码.csv", "部门.xlsx"), encoding="utf-8")
    assert by_id(load(export, mapfile)).loc["P3", "department"] == "交通"


def test_the_lookup_file_is_not_taken_for_a_table(county):
    ds = load(*county)
    assert not [n for n in ds.notes if n.code == "input.unknown-file"]


def test_unit_converts_to_yuan(county):
    projects = by_id(load(*county))
    assert projects.loc["P1", "amount"] == 500_000 and projects.loc["P3", "amount"] == 80_000


def test_values_map_one_two_flags(county):
    projects = by_id(load(*county))
    assert projects.loc["P1", "is_new"] == True and projects.loc["P3", "is_new"] == False


def test_format_reads_seventeen_digit_timestamps_and_short_dates(county):
    ds = load(*county)
    assert by_id(ds).loc["P1", "start_date"] == pd.Timestamp("2022-03-01")
    payments = ds.frame("payments")
    assert payments.loc[payments["project_id"] == "P1", "date"].tolist() == [pd.Timestamp("2022-03-15")]


def test_unmapped_source_columns_are_kept_and_perfrules_headers_still_read(county):
    ds = load(*county)
    projects = by_id(ds)
    assert projects.loc["P1", "备注X"] == "第一条"                       # passed through as read
    assert ds.frame("payments")["voucher_no"].tolist() == ["V001", "V002"]
    assert projects.loc["P2", "is_major"] == True                       # 是否重大: perfrules' own header, unmapped


def test_a_column_perfrules_would_read_as_a_field_the_map_takes_elsewhere_is_passed_through(county):
    export, mapfile = county
    write(export, {"pm_project.csv": PROJECTS.replace("是否重大", "department").replace(",否\n", ",旧部门\n")})
    projects = by_id(load(export, mapfile))
    assert projects.loc["P1", "department"] == "县水利局"
    assert projects.loc["P1", "department（未映射）"] == "旧部门"


def test_xlsx_cells_keep_codes_and_timestamps(tmp_path, county):
    export, mapfile = county
    frame = pd.read_csv(export / "pm_project.csv", dtype=str)
    (export / "pm_project.csv").unlink()
    frame["dept_code"] = frame["dept_code"].astype(int)  # Excel keeps codes as numbers: 101, never 101.0
    frame.to_excel(export / "项目库.xlsx", index=False)
    projects = by_id(load(export, mapfile))
    assert projects.loc["P1", "department"] == "县水利局"
    assert projects.loc["P1", "start_date"] == pd.Timestamp("2022-03-01")


# ---- every data finding a map can raise -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def pack():
    return load_pack(ROOT / "rules")


def data_findings(dataset, pack, rule_id: str = "PF-D03-UNREADABLE"):
    result = check_datasets([dataset], pack, None, dt.date(2022, 10, 31), "en")
    return [f for f in result.findings if f.rule_id == rule_id]


def test_code_missing_from_the_lookup_is_a_finding_naming_file_row_column_value(county, pack):
    [finding] = [f for f in data_findings(load(*county), pack) if f.evidence["column"] == "department"]
    assert finding.location == {"file": "pm_project.csv", "row": "3", "column": "dept_code"}
    assert finding.evidence["value"] == "999" and "部门代码.csv" in finding.evidence["expected"]
    assert finding.project_id == "P2" and finding.fiscal_year == 2022
    assert finding.message.startswith("pm_project.csv row 3, column dept_code: cannot read '999'")


def test_value_outside_the_values_map_is_a_finding(county, pack):
    [finding] = [f for f in data_findings(load(*county), pack) if f.evidence["column"] == "is_new"]
    assert finding.location == {"file": "pm_project.csv", "row": "3", "column": "is_new"}
    assert finding.evidence["value"] == "3" and "one of 1, 2" in finding.evidence["expected"]
    assert finding.project_id == "P2"


def test_date_not_matching_its_format_is_a_finding(county, pack):
    findings = data_findings(load(*county), pack)
    [start] = [f for f in findings if f.evidence["column"] == "start_date"]
    assert start.location == {"file": "pm_project.csv", "row": "3", "column": "start_time"}
    assert start.evidence["value"] == "2022-03-01" and "%Y%m%d%H%M%S%f" in start.evidence["expected"]
    [paid] = [f for f in findings if f.evidence["column"] == "date"]
    assert paid.location == {"file": "pay_voucher.csv", "row": "3", "column": "pay_date"}
    assert paid.evidence["value"] == "2022/04/01" and paid.project_id == "P3"


def test_unreadable_cells_are_blank_and_the_row_is_kept(county):
    projects = by_id(load(*county))
    assert len(projects) == 3
    assert pd.isna(projects.loc["P2", "department"]) and pd.isna(projects.loc["P2", "is_new"]) and pd.isna(projects.loc["P2", "start_date"])


def test_a_mapped_column_that_is_absent_is_noted_and_reported_where_a_rule_needs_it(county, pack):
    export, mapfile = county
    write(export, {"pm_project.csv": PROJECTS.replace("is_new", "is_new_flag")})
    ds = load(export, mapfile)
    [note] = [n for n in ds.notes if n.code == "map.column-absent"]
    assert note.column == "is_new" and "is_new" in note.en and "pm_project.csv" in note.en and "county-erp" in note.en
    assert "is_new" in ds.absent_columns["projects"]
    assert by_id(ds).loc["P1", "is_new_flag"] == "1"  # the column the export does have is kept as read
    [finding] = [f for f in data_findings(ds, pack) if f.evidence["column"] == "is_new"]  # the file's own finding, at its header row
    assert finding.location == {"file": "pm_project.csv", "row": "1", "column": "is_new"} and finding.project_id is None
    assert "county-erp" in finding.evidence["expected"] and "header row lacks it" in finding.message
    absent = data_findings(ds, pack, "PF-D03-ABSENT")  # and each rule that needs the field says so
    assert any("projects.is_new" in json.dumps(f.evidence, ensure_ascii=False) + f.message for f in absent), [f.message for f in absent]


def test_a_required_field_whose_column_is_absent_stops_the_load(county):
    export, mapfile = county
    write(export, {"pm_project.csv": PROJECTS.replace("pro_code", "project_code")})
    with pytest.raises(InputError) as info:
        load(export, mapfile)
    text = info.value.text("en")
    assert "pm_project.csv has no column pro_code" in text and "required field project_id" in text


def test_a_lookup_file_found_nowhere_stops_the_load_naming_where_it_looked(county):
    export, mapfile = county
    (export / "部门代码.csv").unlink()
    with pytest.raises(InputError) as info:
        load(export, mapfile)
    text = info.value.text("en")
    assert "lookup file '部门代码.csv' not found" in text and str(export) in text and str(mapfile.parent) in text


def test_a_lookup_file_with_one_column_is_refused(county):
    export, mapfile = county
    write(export, {"部门代码.csv": "code\n101\n"})
    with pytest.raises(InputError) as info:
        load(export, mapfile)
    assert "needs two columns" in info.value.text("en")


# ---- the manifest names the map -------------------------------------------------------------------------------

def test_manifest_names_a_map_file_relative_to_the_export(county):
    export, mapfile = county
    write(export, {"manifest.yaml": "as_of: 2022-10-31\nmap: ../maps/county-erp.yaml\n"})
    [ds] = load_input(export)
    assert by_id(ds).loc["P1", "department"] == "县水利局" and ds.as_of == dt.date(2022, 10, 31)


def test_the_command_line_map_wins_over_the_manifest(county):
    export, mapfile = county
    write(export, {"manifest.yaml": "map: fasp2\n"})
    assert by_id(load(export, mapfile)).loc["P1", "department"] == "县水利局"


def test_an_unknown_map_in_the_manifest_names_the_manifest(county):
    export, _ = county
    write(export, {"manifest.yaml": "map: fasp3\n"})
    with pytest.raises(InputError) as info:
        load_input(export)
    text = info.value.text("en")
    assert "manifest.yaml" in text and "no column map named 'fasp3'" in text and "Did you mean 'fasp2'?" in text


def test_a_built_package_carries_the_bundled_maps(tmp_path):
    import subprocess
    import sys
    build = tmp_path / "build"
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    probe = ("from perfrules.inputs.column_map import bundled_map_names, load_column_map, maps_dir; "
             "print(maps_dir()); print(bundled_map_names()); print(load_column_map('fasp2').path)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(build), "PATH": ""},
                         capture_output=True, text=True, timeout=300, check=True).stdout.splitlines()
    assert out == [str(build / "perfrules" / "bundled" / "maps"), "['fasp2', 'perfrules']",
                   str(build / "perfrules" / "bundled" / "maps" / "fasp2.yaml")]


def test_a_value_mapped_to_null_is_blank_without_a_finding(county, pack):
    export, mapfile = county
    mapfile.write_text(COUNTY_MAP.replace('values: {"1": true, "2": false}', 'values: {"1": true, "2": false, "3": null}'), encoding="utf-8")
    ds = load(export, mapfile)
    assert pd.isna(by_id(ds).loc["P2", "is_new"])
    assert not [f for f in data_findings(ds, pack) if f.evidence["column"] == "is_new"]


def test_a_wrong_map_is_an_error_even_for_a_submission():
    with pytest.raises(InputError):
        load_input(ROOT / "samples" / "submissions" / "clean-project.json", "no-such-map")


def test_parquet_tables_are_mapped_too(county):
    export, mapfile = county
    frame = pd.read_csv(export / "pm_project.csv", dtype=str)
    (export / "pm_project.csv").unlink()
    frame.to_parquet(export / "pm_project.parquet", index=False)
    ds = load(export, mapfile)
    projects = by_id(ds)
    assert projects.loc["P1", "department"] == "县水利局" and projects.loc["P1", "is_new"] == True
    assert projects.loc["P1", "start_date"] == pd.Timestamp("2022-03-01") and projects.loc["P1", "amount"] == 500_000
    # a Parquet file's rows are numbered from 1 (it has no header line); the CSV's from its header line
    assert sorted((i.header, i.row, i.value) for i in ds.issues) == [
        ("dept_code", "2", "999"), ("is_new", "2", "3"), ("pay_date", "3", "2022/04/01"), ("start_time", "2", "2022-03-01")]
