"""samples/exports/fasp2-2022: read through the fasp2 map, it gives the findings of the same projects in perfrules' own shape."""

from __future__ import annotations

import datetime as dt
import filecmp
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

from perfrules.api import check_datasets
from perfrules.inputs import load_input
from perfrules.rulepack.pack import load_pack

SAMPLE = ROOT / "samples" / "exports" / "fasp2-2022"
BUILDER = ROOT / "samples" / "exports" / "build_fasp2_2022.py"


def build(shape: str, out: Path) -> Path:
    subprocess.run([sys.executable, str(BUILDER), "--shape", shape, "--out", str(out)], check=True, capture_output=True, timeout=120)
    return out


def check_json(*args: str | Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "perfrules.cli.main", "check", *map(str, args), "--format", "json"],
                          capture_output=True, text=True, encoding="utf-8", timeout=300, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr  # the sample has 阻断 findings
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    own = build("perfrules", tmp_path_factory.mktemp("own") / "fasp2-2022")
    return check_json(SAMPLE, "--map", "fasp2"), check_json(own)


def test_the_committed_sample_is_what_the_builder_writes(tmp_path):
    fresh = build("fasp2", tmp_path / "fasp2-2022")
    committed = sorted(p.relative_to(SAMPLE) for p in SAMPLE.rglob("*") if p.is_file())
    assert committed == sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    for rel in committed:
        assert filecmp.cmp(SAMPLE / rel, fresh / rel, shallow=False), rel


def test_the_sample_is_in_the_fasp2_shape():
    header, _, _, row = [line.split(",") for line in (SAMPLE / "BGT_PM_ANNUAL.csv").read_text(encoding="utf-8").splitlines()[:4]]
    assert header[:10] == ["mof_div_code", "fiscal_year", "agency_code", "dept_code", "pro_code", "pro_name", "pro_kind_code", "apply_up",
                           "cur_amt", "is_deleted"]
    assert row[0] == "652325" and row[3] == "103" and row[7] == "5000000.00" and row[9] == "2"  # codes, 元 amounts, a 1/2 flag
    # fields the public FASP2 tables have no column for come under perfrules' own headers (maps/fasp2.yaml [H])
    extra = dict(zip(header, row))
    assert [extra["是否新增"], extra["是否重大"], extra["实施开始日期"], extra["实施结束日期"]] == ["是", "否", "2022-03-01", "2023-02-28"]
    assert (SAMPLE / "PAY_VOUCHER_BILL.csv").read_text(encoding="utf-8").splitlines()[:2] == [
        "mof_div_code,fiscal_year,pro_code,vou_date,pay_amt", "652325,2022,FX-001,2022-03-15 00:00:00,300000.00"]  # an Oracle DATE as printed
    assert (SAMPLE / "PAY_PERF_MONITOR_INFO.csv").read_text(encoding="utf-8").splitlines()[1].split(",")[3] == "20220715000000000"


def test_the_fasp2_map_reads_voucher_dates_as_exports_print_them_and_reports_the_rest(tmp_path):
    """vou_date is an Oracle DATE (maps/fasp2.yaml [F]): the map gives no format, so the common printed forms all read."""
    export = tmp_path / "fasp2-2022"
    shutil.copytree(SAMPLE, export)
    (export / "PAY_VOUCHER_BILL.csv").write_text(
        "mof_div_code,fiscal_year,pro_code,vou_date,pay_amt\n"
        "652325,2022,FX-001,20220315,100.00\n652325,2022,FX-001,2022-03-16,100.00\n652325,2022,FX-001,2022-03-17 00:00:00,100.00\n"
        "652325,2022,FX-001,2022/3/18,100.00\n652325,2022,FX-001,2022年3月19日,100.00\n652325,2022,FX-001,15-MAR-22,100.00\n",
        encoding="utf-8")
    [dataset] = load_input(export, "fasp2")
    dates = dataset.frame("payments")["date"].tolist()
    assert dates[:5] == [pd.Timestamp(f"2022-03-{d}") for d in (15, 16, 17, 18, 19)] and pd.isna(dates[5])
    result = check_datasets([dataset], load_pack(ROOT / "rules"), None, dt.date(2022, 10, 31), "en")
    [unreadable] = [f for f in result.findings if f.rule_id == "PF-D03-UNREADABLE"]
    assert unreadable.location == {"file": "PAY_VOUCHER_BILL.csv", "row": "7", "column": "vou_date"}
    assert unreadable.evidence["value"] == "15-MAR-22" and unreadable.project_id == "FX-001"


def test_findings_equal_those_of_the_same_projects_in_perfrules_shape(both):
    fasp2, own = both
    def comparable(doc: dict) -> list[str]:  # but where and under which header each export has a field
        return sorted(json.dumps({**{k: v for k, v in f.items() if k != "location"},
                                  "evidence": {k: v for k, v in f["evidence"].items() if k != "headers"}},
                                 ensure_ascii=False, sort_keys=True) for f in doc["findings"])
    assert comparable(fasp2) == comparable(own)
    assert fasp2["summary"] == own["summary"]
    assert [(f["location"].get("row"), f["rule_id"]) for f in fasp2["findings"]] == [(f["location"].get("row"), f["rule_id"]) for f in own["findings"]]


def test_the_sample_gives_the_findings_its_builder_describes(both):
    fasp2, _ = both
    fired = {(f["rule_id"], f["project_id"], f["severity"]) for f in fasp2["findings"] if f["kind"] == "rule"}
    assert ("PF-P01-NOGOAL", "FX-002", "阻断") in fired                   # no goal
    assert ("PF-P05-EXANTE", "FX-003", "阻断") in fired                   # new, 500万, no ex-ante report
    assert ("PF-P08-POORGRADE", "FX-004", "阻断") in fired                # 差 last year, amount not cut
    assert not [f for f in fasp2["findings"] if f["project_id"] == "FX-001" and f["kind"] == "rule" and f["severity"] == "阻断"]
    assert not [f for f in fasp2["findings"] if f["rule_id"] == "PF-D03-UNREADABLE"]  # every code, flag and timestamp read
    assert fasp2["summary"]["profile"] == "qitai"                         # 财政区划 652325 → qitai through the lookup
    departments = {f["project_id"]: f["department"] for f in fasp2["findings"] if f["project_id"]}
    assert departments["FX-002"] == "县交通运输局"                          # dept_code 102 through 代码表/部门.csv
