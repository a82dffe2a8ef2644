"""整改通知: nightly and ``perfrules notices`` write one workbook and one PDF per 主管部门, which print and read."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from conftest import SAMPLES
from office import convert
from pypdf import PdfReader

import perfrules.outputs.notices as notices_module
from perfrules.nightly.run import run_nightly
from perfrules.outputs.notices import file_stem, notices_of, read_run_findings, write_notices

EXPORT = SAMPLES / "exports" / "county-2022"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules.cli.main", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("night") / "run"
    done = cli("nightly", str(EXPORT), "--out", str(out), "--quiet", "--fail-on", "never")
    assert done.returncode == 0, done.stderr
    return out


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def notice_rows(path: Path) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(path).active
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r[0] == "序号")
    return [dict(zip(rows[at], r)) for r in rows[at + 1:] if isinstance(r[0], int)]


def test_nightly_writes_a_workbook_and_a_pdf_per_department(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    departments = {d.replace("（无部门）", "无部门") for d in summary["counts"]["by_department"]}
    files = sorted(p.name for p in (run_dir / "notices").iterdir())
    assert files == sorted([f"{d}.pdf" for d in departments] + [f"{d}.xlsx" for d in departments])
    for department, counts in summary["counts"]["by_department"].items():
        stem = department.replace("（无部门）", "无部门")
        rows = notice_rows(run_dir / "notices" / f"{stem}.xlsx")
        assert len(rows) == counts["total"], department
        assert [r["序号"] for r in rows] == list(range(1, counts["total"] + 1))
        severities = [r["严重程度"] for r in rows]
        assert severities == sorted(severities, key=["阻断", "警告", "提示"].index)  # most severe first


def test_the_water_bureau_notice_says_what_to_fix_and_why(run_dir: Path) -> None:
    findings = [json.loads(line) for line in (run_dir / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    mine = [f for f in findings if f["department"] == "县水利局"]
    assert mine
    text = pdf_text(run_dir / "notices" / "县水利局.pdf")
    flat = "".join(text.split())
    assert "预算绩效管理问题整改通知" in flat and "县水利局：" in flat
    assert f"共有{len(mine)}项问题" in flat
    for f in mine:
        assert f["project_id"] in flat
        assert "".join(f["recommendation"].split())[:12] in flat
        assert "".join(f"{f['source'][0]['document']}".split())[:8] in flat
    fonts = {str(font) for page in PdfReader(run_dir / "notices" / "县水利局.pdf").pages
             for font in page["/Resources"]["/Font"].values() for font in [font.get_object()["/BaseFont"]]}
    assert "/STSong-Light" in fonts
    rows = notice_rows(run_dir / "notices" / "县水利局.xlsx")
    assert {r["项目"].split()[0] for r in rows} == {f["project_id"] for f in mine}
    assert any("已支付" in (r["证据"] or "") for r in rows)  # evidence by the data contract's names, not "paid"


def test_libreoffice_converts_the_notices_and_they_fit_the_page(run_dir: Path, tmp_path: Path) -> None:
    pdf = convert(run_dir / "notices" / "县农业农村局.xlsx", "pdf", tmp_path)
    reader = PdfReader(pdf)
    assert 1 <= len(reader.pages) <= 2  # one page wide: only the rows run onto a second page
    for page in reader.pages:
        assert float(page.mediabox.width) > float(page.mediabox.height)  # landscape
    flat = "".join(pdf_text(pdf).split())
    findings, _ = read_run_findings(run_dir)
    mine = findings[findings["department"] == "县农业农村局"]
    projects = {p for p in mine["project_id"] if isinstance(p, str) and p}
    assert "县农业农村局：" in flat and projects and all(p in flat for p in projects)


def test_a_long_notice_stops_at_max_rows_and_the_department_gets_a_csv_of_all(run_dir: Path, tmp_path: Path) -> None:
    findings, summary = read_run_findings(run_dir)
    mine = findings[findings["department"] == "县农业农村局"]
    assert len(mine) > 2
    written = write_notices(tmp_path, findings, summary, max_rows=2, departments={"县农业农村局"})
    assert [p.name for p in written] == ["县农业农村局.xlsx", "县农业农村局.csv", "县农业农村局.pdf"]
    assert len(notice_rows(tmp_path / "县农业农村局.xlsx")) == 2
    sheet = [c for row in openpyxl.load_workbook(tmp_path / "县农业农村局.xlsx").active.iter_rows(values_only=True) for c in row if c]
    assert f"本通知列出最严重的 2 项（共 {len(mine)} 项）；全部问题见同时发送的 县农业农村局.csv。" in sheet
    flat = "".join(pdf_text(tmp_path / "县农业农村局.pdf").split())
    assert f"本通知列出最严重的2项（共{len(mine)}项）；全部问题见同时发送的县农业农村局.csv" in flat
    with open(tmp_path / "县农业农村局.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(run_dir / "findings.csv", encoding="utf-8-sig", newline="") as fh:
        expected = [r for r in csv.DictReader(fh) if r["主管部门"] == "县农业农村局"]
    key = lambda r: (r["规则编号"], r["项目编码"], r["文件"], r["行"])  # noqa: E731
    assert sorted(map(key, rows)) == sorted(map(key, expected))  # every finding of the department, none of another's
    assert list(rows[0]) == list(expected[0])  # the columns of findings.csv


def test_the_pdf_can_list_fewer_than_the_workbook_and_points_to_it(run_dir: Path, tmp_path: Path) -> None:
    findings, summary = read_run_findings(run_dir)
    mine = findings[findings["department"] == "县农业农村局"]
    written = write_notices(tmp_path, findings, summary, departments={"县农业农村局"}, pdf_rows=1)
    assert [p.name for p in written] == ["县农业农村局.xlsx", "县农业农村局.pdf"]  # the workbook holds all: no CSV
    assert len(notice_rows(tmp_path / "县农业农村局.xlsx")) == len(mine)
    text = pdf_text(tmp_path / "县农业农村局.pdf")
    flat = "".join(text.split())
    assert f"本通知列出最严重的1项（共{len(mine)}项）；全部问题见同时发送的县农业农村局.xlsx" in flat
    listed = [p for p in mine["project_id"].dropna().unique() if p in flat]
    assert len(listed) == 1  # one row in the table: one project named


def test_a_large_run_still_gives_every_department_its_notice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notices_module, "NIGHTLY_WORKBOOK_ROWS", 2)
    monkeypatch.setattr(notices_module, "NIGHTLY_PDF_ROWS", 1)
    run_nightly(EXPORT, tmp_path / "run", fail_on="never")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    folder = tmp_path / "run" / "notices"
    for department, counts in summary["counts"]["by_department"].items():
        stem = department.replace("（无部门）", "无部门")
        assert (folder / f"{stem}.pdf").is_file() and (folder / f"{stem}.xlsx").is_file()
        assert len(notice_rows(folder / f"{stem}.xlsx")) == min(counts["total"], 2)
        assert (folder / f"{stem}.csv").is_file() == (counts["total"] > 2), department
        if counts["total"] > 2:
            with open(folder / f"{stem}.csv", encoding="utf-8-sig", newline="") as fh:
                assert len(list(csv.DictReader(fh))) == counts["total"]


def test_notices_command_rewrites_them_from_a_run_dir(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "water"
    done = cli("notices", str(run_dir), "--department", "县水利局", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["县水利局.pdf", "县水利局.xlsx"]
    assert done.stdout.split() == [str(out / "县水利局.xlsx"), str(out / "县水利局.pdf")]
    again = cli("notices", str(run_dir), "--department", "县水利局", "--out", str(out), "--no-pdf")
    assert again.returncode == 0, again.stderr  # a folder the command wrote is its own to write again
    done = cli("notices", str(run_dir), "--out", str(tmp_path / "all"), "--no-pdf", "--lang", "en")
    assert done.returncode == 0 and all(p.suffix == ".xlsx" for p in (tmp_path / "all").iterdir() if not p.name.startswith("."))
    ws = openpyxl.load_workbook(tmp_path / "all" / "县水利局.xlsx").active
    assert ws["A1"].value == "Notice of budget performance findings to rectify"


def test_notices_command_user_mistakes_exit_2_with_a_message(run_dir: Path, tmp_path: Path) -> None:
    done = cli("notices", str(run_dir), "--department", "县水", "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "县水" in done.stderr and "县水利局" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x").exists()
    done = cli("notices", str(tmp_path))
    assert done.returncode == 2 and "summary.json" in done.stderr and "Traceback" not in done.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("summary.json", "findings.csv"):
        (broken / name).write_bytes((run_dir / name).read_bytes())
    (broken / "findings.jsonl").write_text('{"rule_id": "x"}\nnot json\n', encoding="utf-8")
    done = cli("notices", str(broken))
    assert done.returncode == 2 and "findings.jsonl" in done.stderr and "2" in done.stderr


def test_department_names_become_safe_distinct_file_names() -> None:
    taken: set[str] = set()
    assert file_stem("县水利局", taken) == "县水利局"
    assert file_stem("a/b:c*?", taken) == "a_b_c__"
    assert file_stem("..", taken) == "_"
    assert file_stem("县水利局", taken) == "县水利局_2"


def test_formula_like_names_stay_text_in_a_notice(run_dir: Path, tmp_path: Path) -> None:
    findings, summary = read_run_findings(run_dir)
    findings.loc[findings["department"] == "县水利局", "project_name"] = '=HYPERLINK("http://example.invalid","点我")'
    write_notices(tmp_path, findings, summary, departments={"县水利局"}, pdf=False)
    ws = openpyxl.load_workbook(tmp_path / "县水利局.xlsx").active
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c for c in cells if c.data_type == "f"]
    assert any("=HYPERLINK" in str(c.value) for c in cells)
    assert [n.department for n in notices_of(findings)][-1] == "无部门"


def test_notices_of_a_run_whose_rows_mix_line_numbers_and_submission_places(run_dir: Path, tmp_path: Path) -> None:
    """A location's row is a JSON number (a line of a file) or text (a place in a submission, projects[0]); a run
    directory holding both once ended ``perfrules notices`` in an internal error (Arrow could not convert the
    column). Every row is then written as text."""
    mixed = tmp_path / "run"
    mixed.mkdir()
    for name in ("summary.json", "findings.csv"):
        (mixed / name).write_bytes((run_dir / name).read_bytes())
    lines = [json.loads(line) for line in (run_dir / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    located: dict[str, list[dict[str, object]]] = {}
    for f in lines:
        if (f.get("location") or {}).get("row") is not None:
            located.setdefault(f["department"], []).append(f)
    place, numbered = next(found for found in located.values() if len(found) >= 2)[:2]  # one department's two rows
    assert isinstance(numbered["location"]["row"], int)
    place["location"]["row"] = "projects[0]"
    (mixed / "findings.jsonl").write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in lines), encoding="utf-8")
    out = tmp_path / "notices"
    done = cli("notices", str(mixed), "--out", str(out), "--max-rows", "1")
    assert done.returncode == 0, done.stderr
    stem = file_stem(numbered["department"], set())
    with open(out / f"{stem}.csv", encoding="utf-8-sig", newline="") as fh:
        rows = [r["行"] for r in csv.DictReader(fh)]
    assert "projects[0]" in rows and str(numbered["location"]["row"]) in rows
