"""Findings name the fields as the user's own input does: the export's exact header (variants, vendor columns
read through a column map), the submission's key; a field the input lacks by the column map's or the contract's."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from conftest import SAMPLES

COUNTY = SAMPLES / "exports" / "county-2022"
FASP2 = SAMPLES / "exports" / "fasp2-2022"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules.cli.main", *args], capture_output=True, text=True, timeout=300)


def with_headers(tmp_path: Path, renames: dict[str, str]) -> Path:
    """The county export with some headers of 项目.csv written another way that perfrules also reads."""
    folder = tmp_path / "county-variant"
    shutil.copytree(COUNTY, folder)
    path = folder / "项目.csv"
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gbk"))))
    rows[0] = [renames.get(h, h) for h in rows[0]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode("gbk"))
    return folder


VARIANTS = {"申请金额(万元)": "申请金额（万元）", "是否设定绩效目标": "HAS_GOAL"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("own")
    out = tmp / "run"
    done = cli("nightly", str(with_headers(tmp, VARIANTS)), "--out", str(out), "--quiet", "--fail-on", "never")
    assert done.returncode == 0, done.stderr
    return out


def test_jsonl_evidence_names_the_files_own_headers(run_dir: Path) -> None:
    findings = [json.loads(line) for line in (run_dir / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    [nogoal] = [f for f in findings if f["rule_id"] == "PF-P01-NOGOAL"]
    assert nogoal["evidence"] == {"has_goal": False, "headers": {"has_goal": "HAS_GOAL"}}
    [exante] = [f for f in findings if f["rule_id"] == "PF-P05-EXANTE"]
    assert exante["evidence"]["amount"] == 500000  # the value stays in 元, under the engine's key, and says so
    assert exante["evidence"]["headers"]["amount"] == "申请金额（万元）"
    assert exante["evidence"]["units"] == {"amount": "元"}
    [missing] = [f for f in findings if f["rule_id"] == "PF-D03-MISSING" and f["evidence"]["rule"] == "PF-P05-EXANTE"]
    assert missing["project_id"] == "GX-007"
    assert "需要的数据缺失：申请金额（万元）；" in missing["message"]
    [unreadable] = [f for f in findings if f["rule_id"] == "PF-D03-UNREADABLE"]
    assert "列 申请金额（万元）：" in unreadable["message"] and unreadable["location"]["column"] == "申请金额（万元）"


def test_csv_evidence_names_the_files_own_headers(run_dir: Path) -> None:
    with open(run_dir / "findings.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    [nogoal] = [r for r in rows if r["规则编号"] == "PF-P01-NOGOAL"]
    assert json.loads(nogoal["证据"])["headers"] == {"has_goal": "HAS_GOAL"}
    [exante] = [r for r in rows if r["规则编号"] == "PF-P05-EXANTE"]
    evidence = json.loads(exante["证据"])
    assert evidence["headers"]["amount"] == "申请金额（万元）" and evidence["amount"] == 500000 and evidence["units"] == {"amount": "元"}


def test_the_workbook_and_the_notice_show_evidence_under_the_files_own_headers(run_dir: Path) -> None:
    book = openpyxl.load_workbook(run_dir / "report.xlsx", read_only=True)
    shown = [c for ws in (book["阻断"], book["警告"]) for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert "HAS_GOAL：否" in shown
    # an amount under the file's header 申请金额（万元） is shown in 万元, as the file has it (500,000 元 held)
    assert any(c.startswith("是否新增：是；是否重大：否；申请金额（万元）：50.00；") for c in shown)
    assert any("申请金额（万元）：80.00；上年预算金额(元)：800,000元；" in c for c in shown)
    assert not any("headers" in c or "units" in c or "500,000元；事前" in c for c in shown)
    notice = openpyxl.load_workbook(run_dir / "notices" / "县交通运输局.xlsx", read_only=True).active
    assert "HAS_GOAL：否" in [c for row in notice.iter_rows(values_only=True) for c in row]
    notice = openpyxl.load_workbook(run_dir / "notices" / "县民政局.xlsx", read_only=True).active
    assert any(isinstance(c, str) and c.startswith("是否新增：是；是否重大：否；申请金额（万元）：50.00；")
               for row in notice.iter_rows(values_only=True) for c in row)


def test_check_shows_an_amount_in_its_headers_unit(tmp_path: Path) -> None:
    folder = with_headers(tmp_path, VARIANTS)
    zh = cli("check", str(folder), "--fail-on", "never")
    assert zh.returncode == 0, zh.stderr
    assert "证据: 是否新增：是；是否重大：否；申请金额（万元）：50.00；事前评估报告编号：（空）；" in zh.stdout
    assert "申请金额（万元）：80.00；上年预算金额(元)：800,000元；" in zh.stdout
    en = cli("check", str(folder), "--fail-on", "never", "--lang", "en")
    assert "申请金额（万元）: 50.00;" in en.stdout
    fasp2 = cli("check", str(FASP2), "--fail-on", "never").stdout  # a header without a unit: the value names its own
    assert "apply_up：5,000,000元" in fasp2


def test_vendor_columns_read_through_a_column_map_are_named_as_the_vendor_writes_them(tmp_path: Path) -> None:
    done = cli("check", str(FASP2), "--format", "json", "--fail-on", "never")
    assert done.returncode == 0, done.stderr
    findings = json.loads(done.stdout)["findings"]
    [exante] = [f for f in findings if f["rule_id"] == "PF-P05-EXANTE"]
    assert exante["evidence"]["headers"]["amount"] == "apply_up"
    # FASP2 has no column for 是否新增 (maps/fasp2.yaml, note H): the export gives it under perfrules' own header
    assert exante["evidence"]["headers"]["is_new"] == "是否新增"
    table = cli("check", str(FASP2), "--fail-on", "never").stdout
    assert "apply_up：5,000,000元" in table


def test_a_field_the_export_lacks_is_named_as_the_column_map_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "fasp2"
    shutil.copytree(FASP2, folder)
    path = folder / "BGT_PM_ANNUAL.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    drop = rows[0].index("cur_amt")
    path.write_text("\n".join(",".join(r[:drop] + r[drop + 1:]) for r in rows) + "\n", encoding="utf-8")
    done = cli("check", str(folder), "--format", "json", "--fail-on", "never")
    assert done.returncode == 0, done.stderr
    findings = json.loads(done.stdout)["findings"]
    absent = [f for f in findings if f["rule_id"] == "PF-D03-ABSENT" and "projects.budget" in f["evidence"]["absent"]]
    assert absent and all("项目表的列 cur_amt" in f["message"] for f in absent)


def test_a_submission_is_named_by_its_own_keys(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"项目编码": "P-1", "项目名称": "测试", "预算年度": 2022, "主管部门": "县水利局",
                                "是否新增": True, "是否重大": False, "申请金额": 600000, "是否设定绩效目标": False},
                               ensure_ascii=False), encoding="utf-8")
    done = cli("check", str(path), "--format", "json", "--fail-on", "never", "--as-of", "2022-03-01")
    assert done.returncode == 0, done.stderr
    findings = json.loads(done.stdout)["findings"]
    [nogoal] = [f for f in findings if f["rule_id"] == "PF-P01-NOGOAL"]
    assert nogoal["evidence"]["headers"] == {"has_goal": "是否设定绩效目标"}
    [exante] = [f for f in findings if f["rule_id"] == "PF-P05-EXANTE"]
    assert exante["evidence"]["headers"]["amount"] == "申请金额"
