"""``--map`` on the commands, ``perfrules maps`` and ``perfrules map-check``, run as the program people use (a subprocess)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from test_column_map import COUNTY_MAP, LOOKUP, PAYMENTS, PROJECTS, write

FASP2 = ROOT / "samples" / "exports" / "fasp2-2022"


def perfrules(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules.cli.main", *map(str, args)], capture_output=True, text=True,
                          encoding="utf-8", timeout=300, cwd=cwd or ROOT)


@pytest.fixture()
def county(tmp_path: Path) -> tuple[Path, Path]:
    export = write(tmp_path / "export", {"pm_project.csv": PROJECTS, "pay_voucher.csv": PAYMENTS, "部门代码.csv": LOOKUP,
                                         "manifest.yaml": "as_of: 2022-10-31\n"})
    mapfile = write(tmp_path / "maps", {"county-erp.yaml": COUNTY_MAP}) / "county-erp.yaml"
    return export, mapfile


def test_check_with_a_map_file_reports_the_maps_data_findings(county):
    export, mapfile = county
    proc = perfrules("check", export, "--map", mapfile, "--format", "json", "--fail-on", "never", "--lang", "en")
    assert proc.returncode == 0, proc.stderr
    unreadable = [f for f in json.loads(proc.stdout)["findings"] if f["rule_id"] == "PF-D03-UNREADABLE"]
    assert sorted((f["location"]["file"], f["location"]["row"], f["location"]["column"], f["evidence"]["value"]) for f in unreadable) == [
        ("pay_voucher.csv", 3, "pay_date", "2022/04/01"),
        ("pm_project.csv", 3, "dept_code", "999"),
        ("pm_project.csv", 3, "is_new", "3"),
        ("pm_project.csv", 3, "start_time", "2022-03-01"),
    ]


def test_check_without_the_map_cannot_read_the_export(county):
    export, _ = county
    proc = perfrules("check", export, "--lang", "en")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "has no projects table" in proc.stderr


def test_an_unknown_map_name_is_a_usage_error_with_a_suggestion(county):
    export, _ = county
    proc = perfrules("check", export, "--map", "fasp", "--lang", "en")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no column map named 'fasp'" in proc.stderr and "Did you mean 'fasp2'?" in proc.stderr


def test_a_broken_map_file_is_reported_at_its_line(county, tmp_path):
    export, mapfile = county
    mapfile.write_text(COUNTY_MAP.replace("project_name:", "project_nmae:"), encoding="utf-8")
    proc = perfrules("check", export, "--map", mapfile, "--lang", "en")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{mapfile}:8:7" in proc.stderr and "no field 'project_nmae'" in proc.stderr


def test_maps_lists_the_bundled_maps():
    proc = perfrules("maps", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    maps = {m["map"]: m for m in json.loads(proc.stdout)}
    assert set(maps) == {"fasp2", "perfrules"}
    assert maps["fasp2"]["tables"]["projects"]["files"][0] == "BGT_PM_ANNUAL"
    text = perfrules("maps").stdout
    assert "fasp2  预算管理一体化系统（FASP2）绩效模块导出" in text and "perfrules  perfrules 自身的表名与表头（默认）" in text


def test_map_check_reports_found_missing_and_the_rules_that_cannot_run(county):
    export, mapfile = county
    proc = perfrules("map-check", export, "--map", mapfile, "--format", "json")
    assert proc.returncode == 1, proc.stderr  # some rules in force cannot run
    report = json.loads(proc.stdout)
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["projects"]["found"]["department"] == "dept_code" and tables["projects"]["found"]["is_major"] == "is_major"
    assert "goal_review_status" in tables["projects"]["missing"] and "department" not in tables["projects"]["missing"]
    assert tables["payments"]["found"] == {"project_id": "pro_code", "fiscal_year": "fiscal_year", "date": "pay_date", "amount": "pay_amt"}
    assert not tables["indicators"]["present"]
    assert tables["projects"]["rules_blocked"]["PF-P02-GOALREJECTED"] == ["has_goal", "goal_review_status"]
    assert tables["indicators"]["rules_blocked"]["PF-P03-INCOMPLETEGOAL"] == ["indicators"]
    assert report["unreadable_cells"] == 4 and report["profile"] == "national" and report["as_of"] == "2022-10-31"


def test_map_check_text_names_the_source_columns(county):
    export, mapfile = county
    proc = perfrules("map-check", export, "--map", mapfile, "--lang", "en")
    assert proc.returncode == 1
    assert "department←dept_code" in proc.stdout and "cannot run PF-P02-GOALREJECTED: lacks has_goal, goal_review_status" in proc.stdout
    assert "indicators（绩效指标）：not in the export" in proc.stdout


def test_map_check_exits_0_when_every_rule_in_force_can_run(county, tmp_path):
    export, mapfile = county
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    profile = rules / "profiles" / "only-p01.yaml"
    ids = [line.split(":", 1)[1].strip() for p in rules.glob("*.yaml") for line in p.read_text(encoding="utf-8").splitlines()
           if line.startswith("  - id:")]
    assert "PF-P01-NOGOAL" in ids
    profile.write_text("profile: only-p01\ntitle: 只查 P01\nextends: national\ndisable: [" +
                       ", ".join(i for i in ids if i != "PF-P01-NOGOAL") + "]\n", encoding="utf-8")
    write(export, {"pm_project.csv": PROJECTS.replace("是否重大", "是否设定绩效目标")})
    proc = perfrules("map-check", export, "--map", mapfile, "--rules", rules, "--profile", "only-p01", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(not t["rules_blocked"] for t in json.loads(proc.stdout)["tables"])


def test_the_fasp2_sample_reads_the_same_with_and_without_map_since_its_manifest_names_it():
    with_map = perfrules("check", FASP2, "--map", "fasp2", "--format", "json")
    from_manifest = perfrules("check", FASP2, "--format", "json")
    assert with_map.returncode == from_manifest.returncode == 1
    assert json.loads(with_map.stdout)["findings"] == json.loads(from_manifest.stdout)["findings"]


def test_nightly_explain_and_diff_take_the_map(county, tmp_path):
    export, mapfile = county
    run = perfrules("nightly", export, "--map", mapfile, "--out", tmp_path / "run", "--quiet", "--fail-on", "never")
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in (tmp_path / "run" / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {(r["location"]["column"], r["evidence"]["value"]) for r in rows if r["rule_id"] == "PF-D03-UNREADABLE"} == {
        ("dept_code", "999"), ("is_new", "3"), ("start_time", "2022-03-01"), ("pay_date", "2022/04/01")}
    explained = perfrules("explain", export, "--map", mapfile, "--rule", "PF-P05-EXANTE", "--record", "P1", "--format", "json")
    assert explained.returncode == 0, explained.stderr
    [explanation] = json.loads(explained.stdout)
    assert explanation["record"] == "P1 2022"
    values = {s["expression"]: s["value"] for s in explanation["steps"]}
    assert values["is_new"] is True and values["amount"] == 500000  # 1 → true, 50 万元 → 500000 元, read through the map
    diff = perfrules("diff", export, "--map", mapfile, "--base", ROOT / "rules", "--head", ROOT / "rules", "--format", "json")
    assert diff.returncode == 0, diff.stderr
    no_map = perfrules("diff", export, "--base", ROOT / "rules", "--head", ROOT / "rules")
    assert no_map.returncode == 2 and "has no projects table" in no_map.stderr


def test_map_check_uses_the_manifests_map_and_the_records_jurisdiction():
    proc = perfrules("map-check", FASP2, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["map"], report["profile"], report["unreadable_cells"]) == ("fasp2", "qitai", 0)
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["projects"]["found"]["jurisdiction"] == "mof_div_code" and tables["projects"]["found"]["has_goal"] == "has_goal"
    assert tables["projects"]["rules_blocked"]["PF-P14-MULTIYEARGOAL"] == ["goal_multi_year"]
    assert tables["monitoring"]["found"]["month"] == "perf_send_date" and tables["monitoring"]["missing"] == ["note"]
    assert not tables["departments"]["present"]
