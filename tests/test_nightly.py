"""perfrules nightly: the run directory, what changed since the last run, and cron behaviour."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SAMPLES

import perfrules.nightly.run as nightly
from perfrules.api import check_paths
from perfrules.cli.main import main
from perfrules.errors import OutputError
from perfrules.nightly.run import MARKER, OUTPUTS, Progress
from perfrules.nightly.state import StateStore

EXPORT = SAMPLES / "exports" / "county-2022"


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def next_night(tmp_path: Path) -> Path:
    """The county export a night later: GX-002 now has a goal (but no indicators), GX-005 has paid, GX-009 is new."""
    folder = tmp_path / "county-next"
    shutil.copytree(EXPORT, folder)
    path = folder / "项目.csv"
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gbk"))))
    header = rows[0]
    col = {h: i for i, h in enumerate(header)}
    by_id = {r[col["项目编码"]]: r for r in rows[1:]}
    by_id["GX-002"][col["是否设定绩效目标"]] = "是"
    by_id["GX-002"][col["绩效目标审核状态"]] = "通过"
    by_id["GX-005"][col["已支付金额"]] = "600000"
    # The payments table is the complete record of payments (issue 14): GX-005's payment is a row there too.
    payments = pd.read_excel(folder / "支付明细.xlsx", dtype=object)
    payments.loc[len(payments)] = ["GX-005", 2022, "2022-10-20", 600000]
    payments.to_excel(folder / "支付明细.xlsx", index=False, engine="openpyxl")
    new = list(by_id["GX-001"])
    new[col["项目编码"]], new[col["项目名称"]], new[col["是否设定绩效目标"]] = "GX-009", "新建文化广场", "否"
    rows.append(new)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode("gbk"))
    return folder


def keys(path: Path) -> dict[str, dict]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {f"{d['rule_id']}|{d['project_id'] or d['department'] or ''}": d for d in lines if d["kind"] == "rule"}


def test_a_run_writes_all_five_outputs_and_they_agree_with_check(tmp_path: Path) -> None:
    code, _, err = run_cli("nightly", str(EXPORT), "--out", str(tmp_path / "run"))
    assert code == 1  # the county export has 阻断 findings
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted([*OUTPUTS, MARKER])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    checked = check_paths([EXPORT])
    want = checked.summary()
    assert summary["counts"]["total"] == want["total"] == 21
    assert summary["counts"]["by_severity"] == want["by_severity"] == {"阻断": 4, "警告": 15, "提示": 2}
    assert {r: v["count"] for r, v in summary["counts"]["by_rule"].items()} == want["by_rule"]
    assert summary["inputs"] == {"projects": 8, "indicators": 14, "payments": 8, "monitoring": 0, "evaluations": 7, "departments": 0}
    assert summary["run"]["pack_version"] == checked.pack_version and summary["run"]["exit_code"] == 1
    assert summary["changes"] is None
    assert set(summary["timings"]) >= {"load", "facts", "evaluate", "findings", "write", "total"}
    assert summary["counts"]["watchlist_projects"] == 1  # GX-005 (M02)
    assert summary["counts"]["by_department"]["县水利局"] == {"阻断": 0, "警告": 2, "提示": 0, "total": 2}
    # findings.jsonl holds exactly check's findings, in check's order, in check's JSON form
    lines = (tmp_path / "run" / "findings.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [f.to_dict() for f in checked.findings]
    # the one-line summary for cron's log
    assert err.count("\n") == 1 and "发现 21 项（阻断 4，警告 15，提示 2）" in err and str(tmp_path / "run") in err


def test_csv_opens_in_excel_with_chinese_headers(tmp_path: Path) -> None:
    run_cli("nightly", str(EXPORT), "--out", str(tmp_path / "run"), "--quiet")
    data = (tmp_path / "run" / "findings.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 21
    m02 = next(r for r in rows if r["规则编号"] == "PF-M02-ZEROPAID")
    assert m02["项目编码"] == "GX-005" and m02["严重程度"] == "警告" and m02["处理建议"] == "列入重点关注台账。"
    assert m02["文件"] == "项目.csv" and m02["行"] == "6" and m02["申请金额(元)"] == "600000"


def test_the_xlsx_watch_list_holds_the_zero_payment_project(tmp_path: Path) -> None:
    run_cli("nightly", str(EXPORT), "--out", str(tmp_path / "run"), "--quiet")
    book = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx", read_only=True)
    assert {"概览", "阻断", "警告", "提示", "重点关注台账", "部门统计"} <= set(book.sheetnames)
    watch = list(book["重点关注台账"].iter_rows(values_only=True))[1:]  # below the sheet's title line
    assert len(watch) == 2
    row = dict(zip(watch[0], watch[1]))
    assert row["项目编码"] == "GX-005" and row["主管部门"] == "县水利局" and "PF-M02-ZEROPAID" in row["触发规则"]


def test_a_second_run_reports_new_resolved_and_persisting(tmp_path: Path) -> None:
    state = tmp_path / "state"
    code, _, _ = run_cli("nightly", str(EXPORT), "--out", str(tmp_path / "night1"), "--state", str(state), "--quiet")
    assert code == 1
    first = json.loads((tmp_path / "night1" / "summary.json").read_text(encoding="utf-8"))
    assert first["changes"] == {"new": 21, "resolved": 0, "persisting": 0}

    code, _, _ = run_cli("nightly", str(next_night(tmp_path)), "--out", str(tmp_path / "night2"), "--state", str(state), "--quiet")
    second = json.loads((tmp_path / "night2" / "summary.json").read_text(encoding="utf-8"))
    found = keys(tmp_path / "night2" / "findings.jsonl")
    assert found["PF-P01-NOGOAL|GX-009"]["status"] == "new" and found["PF-P01-NOGOAL|GX-009"]["nights"] == 1
    assert found["PF-P03-INCOMPLETEGOAL|GX-002"]["status"] == "new"  # a goal now, but no indicators
    assert found["PF-P08-POORGRADE|GX-004"]["status"] == "persisting" and found["PF-P08-POORGRADE|GX-004"]["nights"] == 2
    assert "PF-P01-NOGOAL|GX-002" not in found and "PF-M02-ZEROPAID|GX-005" not in found
    book = openpyxl.load_workbook(tmp_path / "night2" / "report.xlsx", read_only=True)
    resolved = list(book["已解决"].iter_rows(values_only=True))[1:]  # below the sheet's title line
    gone = {(dict(zip(resolved[0], r))["规则编号"], dict(zip(resolved[0], r))["项目编码"]) for r in resolved[1:]}
    assert {("PF-P01-NOGOAL", "GX-002"), ("PF-M02-ZEROPAID", "GX-005"), ("PF-M01-MIDYEAR", "GX-005")} <= gone
    assert second["changes"]["resolved"] == len(gone)
    assert second["changes"]["new"] + second["changes"]["persisting"] == second["counts"]["total"]  # no key twice here
    history = StateStore(state).history()
    assert [h["total"] for h in history] == [21, second["counts"]["total"]]

    # a third night on the same data: everything persists, one night more
    run_cli("nightly", str(tmp_path / "county-next"), "--out", str(tmp_path / "night3"), "--state", str(state), "--quiet")
    third = keys(tmp_path / "night3" / "findings.jsonl")
    assert third["PF-P08-POORGRADE|GX-004"]["nights"] == 3 and third["PF-P01-NOGOAL|GX-009"]["nights"] == 2
    assert json.loads((tmp_path / "night3" / "summary.json").read_text(encoding="utf-8"))["changes"]["new"] == 0


def test_an_unreadable_export_exits_2_and_leaves_state_and_outputs_untouched(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_cli("nightly", str(EXPORT), "--out", str(tmp_path / "night1"), "--state", str(state), "--quiet")
    pointer = (state / "CURRENT").read_text()
    broken = tmp_path / "broken"
    shutil.copytree(EXPORT, broken)
    (broken / "绩效评价.parquet").write_bytes(b"PAR1 this is not parquet")
    code, _, err = run_cli("nightly", str(broken), "--out", str(tmp_path / "night2"), "--state", str(state))
    assert code == 2 and "绩效评价.parquet" in err and "Traceback" not in err
    assert not (tmp_path / "night2").exists()
    assert (state / "CURRENT").read_text() == pointer and len(StateStore(state).history()) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_crash_while_writing_leaves_no_run_directory_and_the_state_as_it_was(tmp_path: Path, monkeypatch) -> None:
    state = tmp_path / "state"
    run_cli("nightly", str(EXPORT), "--out", str(tmp_path / "night1"), "--state", str(state), "--quiet")
    pointer = (state / "CURRENT").read_text()

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nightly, "write_html", crash)
    with pytest.raises(OutputError, match="No space left on device"):  # an I/O failure: one line, exit 2 at the CLI
        nightly.run_nightly(EXPORT, tmp_path / "night2", state)
    assert not (tmp_path / "night2").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert (state / "CURRENT").read_text() == pointer


def test_rerunning_into_an_existing_run_directory_replaces_it_whole(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_cli("nightly", str(EXPORT), "--out", str(out), "--quiet")
    (out / "stale.txt").write_text("left in an earlier run")
    run_cli("nightly", str(EXPORT), "--out", str(out), "--quiet")
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUTS, MARKER])


def test_a_folder_that_is_not_a_run_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("someone's own file")
    code, _, err = run_cli("nightly", str(EXPORT), "--out", str(out), "--quiet")
    assert code == 2
    assert "nightly.out-refused" in err and ".perfrules-run" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_second_run_while_one_holds_the_state_gets_a_clear_message(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from perfrules.nightly.state import StateStore\n"
         "with StateStore(sys.argv[1]).lock():\n    print('locked', flush=True); time.sleep(30)", str(state)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = run_cli("nightly", str(EXPORT), "--out", str(tmp_path / "run"), "--state", str(state))
        assert code == 2 and str(state) in err and str(holder.pid) in err and "Traceback" not in err
        assert not (tmp_path / "run").exists()
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_quiet_prints_nothing_and_errors_still_show(tmp_path: Path) -> None:
    code, out, err = run_cli("nightly", str(EXPORT), "--out", str(tmp_path / "run"), "--quiet")
    assert (code, out, err) == (1, "", "")
    code, _, err = run_cli("nightly", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run2"), "--quiet")
    assert code == 2 and "nowhere" in err


def test_fail_on_never_exits_0(tmp_path: Path) -> None:
    code, _, _ = run_cli("nightly", str(EXPORT), "--out", str(tmp_path / "run"), "--quiet", "--fail-on", "never")
    assert code == 0


def test_progress_shows_stages_on_a_terminal_and_nothing_otherwise(tmp_path: Path) -> None:
    screen = io.StringIO()
    nightly.run_nightly(EXPORT, tmp_path / "run", progress=Progress(screen))
    shown = screen.getvalue()
    assert "1/4 读取导出" in shown and "2/4 检查" in shown and "8 个项目" in shown and "4/4 写出报告" in shown
    assert nightly.terminal_progress(quiet=False, lang="zh").stream is None  # pytest's stderr is not a terminal


def test_bad_rows_and_duplicate_projects_are_reported_and_the_rest_checked(tmp_path: Path) -> None:
    folder = tmp_path / "messy"
    shutil.copytree(EXPORT, folder)
    path = folder / "项目.csv"
    text = path.read_bytes().decode("gbk")
    lines = text.split("\r\n")
    lines.insert(3, "GX-BAD,只有三列,2022")  # a malformed line (line 4)
    lines.append(lines[1].replace("农村饮水安全巩固提升", "农村饮水安全巩固提升（重复）"))  # GX-001 again
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    (folder / "绩效指标.csv").unlink()  # an optional table missing
    code, _, _ = run_cli("nightly", str(folder), "--out", str(tmp_path / "run"), "--quiet")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    codes = [e["code"] for e in summary["errors"]]
    assert len([e for e in summary["errors"] if e["code"] == "input.absent-table" and "indicators" in e["message"]]) == 1
    assert codes.count("input.malformed-row") == 1
    malformed = next(e for e in summary["errors"] if e["code"] == "input.malformed-row")
    assert "项目.csv" in malformed["message"] and "第 4 行" in malformed["message"]
    dup = next(e for e in summary["errors"] if e["code"] == "input.duplicate-project")
    # Physical lines: the file's final CRLF leaves line 11 empty, so the appended duplicate is on line 12.
    assert "GX-001" in dup["message"] and "第 2 行" in dup["message"] and "第 12 行" in dup["message"]
    assert summary["inputs"]["projects"] == 9  # 8 good rows + the duplicate; the malformed line is reported, not checked
    found = [json.loads(x) for x in (tmp_path / "run" / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    absent = [f for f in found if f["rule_id"] == "PF-D03-ABSENT" and "indicators" in f["evidence"]["absent"]]
    assert {f["evidence"]["rule"] for f in absent} == {"PF-P03-INCOMPLETEGOAL", "PF-P04-NOTQUANTIFIED"}
    assert not any(f["rule_id"] in ("PF-P03-INCOMPLETEGOAL", "PF-P04-NOTQUANTIFIED") for f in found)
    assert any(f["rule_id"] == "PF-P01-NOGOAL" and f["project_id"] == "GX-002" for f in found)


def test_the_html_report_of_a_run_renders_headless_with_the_figures_of_summary_json(tmp_path: Path) -> None:
    from browser import dump_dom, screenshot
    from test_reports import parse

    state = tmp_path / "state"
    run_cli("nightly", str(EXPORT), "--out", str(tmp_path / "night1"), "--state", str(state), "--quiet")
    run_cli("nightly", str(next_night(tmp_path)), "--out", str(tmp_path / "night2"), "--state", str(state), "--quiet")
    summary = json.loads((tmp_path / "night2" / "summary.json").read_text(encoding="utf-8"))
    page = parse(dump_dom(tmp_path / "night2" / "report.html"))
    counts = summary["counts"]
    assert page.figures["total"] == str(counts["total"])
    assert {s: page.figures[f"severity-{s}"] for s in counts["by_severity"]} == {s: str(n) for s, n in counts["by_severity"].items()}
    assert {k: page.figures[k] for k in ("new", "resolved", "persisting")} == {k: str(v) for k, v in summary["changes"].items()}
    assert page.figures["watchlist"] == str(counts["watchlist_projects"])
    assert page.figures["shown"] == str(counts["total"])  # all rows, before any filter
    rules = {b["data-rule"]: int(b["data-count"]) for b in page.bars if "data-rule" in b}
    assert rules == {r: v["count"] for r, v in counts["by_rule"].items()}
    departments = {b["data-department"]: int(b["data-count"]) for b in page.bars if "data-department" in b}
    assert departments == {d: v["total"] for d, v in counts["by_department"].items()}
    png = screenshot(tmp_path / "night2" / "report.html", tmp_path / "report.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


RUN_TIMES = ("运行开始", "运行结束")  # the overview's wall-clock rows differ between any two runs


def _contents(run: Path) -> dict[str, object]:
    """A run directory's files by relative path: cell values of workbooks, page counts of PDFs, bytes of the rest."""
    out: dict[str, object] = {}
    for path in sorted(p for p in run.rglob("*") if p.is_file() and p.name not in ("summary.json", MARKER)):
        name = str(path.relative_to(run))
        if path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            out[name] = {ws.title: [list(r) for r in ws.iter_rows(values_only=True) if r[0] not in RUN_TIMES]
                         for ws in book.worksheets}
        elif path.suffix == ".pdf":
            data = path.read_bytes()
            assert data.startswith(b"%PDF")
            out[name] = data.count(b"/Type /Page\n") + data.count(b"/Type /Page ")
        elif path.suffix == ".html":
            out[name] = len(path.read_bytes()) > 0
        else:
            out[name] = path.read_bytes()
    return out


def test_a_large_run_writes_its_workbook_and_notices_in_other_processes_with_the_same_content(tmp_path: Path, monkeypatch) -> None:
    nightly.run_nightly(EXPORT, tmp_path / "threads", as_of=None)
    monkeypatch.setattr(nightly, "PROCESS_FINDINGS", 1)  # every run counts as large
    assert isinstance(nightly.output_writers(1), nightly.ProcessPoolExecutor)
    nightly.run_nightly(EXPORT, tmp_path / "processes", as_of=None)
    threads, processes = _contents(tmp_path / "threads"), _contents(tmp_path / "processes")
    assert any(name.startswith("notices/") and name.endswith(".pdf") for name in processes)
    assert processes == threads


def test_every_output_file_is_flushed_to_disk_before_the_run_directory_appears(tmp_path: Path, monkeypatch) -> None:
    flushed: list[str] = []
    real = nightly.fsync_file

    def recording(path: Path) -> None:
        flushed.append(path.name)
        real(path)

    monkeypatch.setattr(nightly, "fsync_file", recording)
    nightly.run_nightly(EXPORT, tmp_path / "run")
    written = [p.name for p in (tmp_path / "run").rglob("*") if p.is_file() and p.name != MARKER]
    assert any(p.parent.name == "notices" for p in (tmp_path / "run").rglob("*.pdf"))
    assert sorted(set(written) - set(flushed)) == []
