"""Every input row is checked or named in a note; read = checked + noted per table, in check and in nightly."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from perfrules.cli.main import main


def cli_json(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["check", *args, "--format", "json", "--lang", "en", "--as-of", "2022-11-15"])
    assert not (result.exception and not isinstance(result.exception, SystemExit)), result.exception
    return result.exit_code, json.loads(result.stdout)


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


PROJECTS = ("project_id,fiscal_year,amount,budget,paid_to_date\n"
            "A,2022,100,100,0\n"          # line 2
            ",2022,100,100,0\n"           # line 3: blank id
            " ,2022,100,100,0\n"          # line 4: blank id (spaces)
            "B,2022,100,100,0\n")         # line 5
PAYMENTS = ("project_id,fiscal_year,date,amount\n"
            "A,2022,2022-03-01,10\n"      # 2 checked
            "Z,2022,2022-03-01,10\n"      # 3 unknown project
            "A,2021,2021-03-01,10\n"      # 4 project only in another fiscal year
            ",2022,2022-03-01,10\n"       # 5 blank id
            "A,2022,,30\n"                # 6 no date: checked, and a D03 finding
            "B,2022,2023-01-15,40\n"      # 7 paid outside the fiscal year: noted
            "B,2022,2022-06-01,5\n")      # 8 checked


def messages(doc: dict) -> list[str]:
    return [e["message"] for e in doc["errors"]]


def test_rows_that_cannot_be_placed_are_named_and_counted(tmp_path: Path) -> None:
    export = write(tmp_path / "export", {"projects.csv": PROJECTS, "payments.csv": PAYMENTS})
    _, doc = cli_json(str(export))
    rows = doc["summary"]["rows"]
    assert rows["projects"] == {"read": 4, "checked": 2, "noted": 2}
    assert rows["payments"] == {"read": 7, "checked": 3, "noted": 4}
    text = "\n".join(messages(doc))
    assert "projects.csv: 2 projects row(s) set aside, not checked, because its id is blank: row(s) 3-4." in text
    assert "because its project is not in the projects table: row(s) 3." in text
    assert "because its project is in the projects table only for another fiscal year: row(s) 4." in text
    assert "payments.csv: 1 payments row(s) set aside, not checked, because its id is blank: row(s) 5." in text
    assert "dated outside its project's fiscal year and does not count toward it: row(s) 7." in text
    assert doc["summary"]["records"]["projects"] == 2  # no "duplicate id nan" sharing rows


def test_a_payment_without_a_date_is_a_d03_finding_not_silently_outside_the_period(tmp_path: Path) -> None:
    export = write(tmp_path / "export", {"projects.csv": PROJECTS, "payments.csv": PAYMENTS})
    _, doc = cli_json(str(export))
    undated = [f for f in doc["findings"] if f["rule_id"] == "PF-D03-UNREADABLE" and f["location"].get("row") == 6]
    assert len(undated) == 1
    assert undated[0]["project_id"] == "A" and undated[0]["location"]["column"] == "date"


def test_a_monitoring_report_without_a_month_is_a_d03_finding(tmp_path: Path) -> None:
    export = write(tmp_path / "export", {"projects.csv": PROJECTS, "monitoring.csv":
                                         "project_id,fiscal_year,month,goal_deviation\nA,2022,2022-06,否\nA,2022,,是\n"})
    _, doc = cli_json(str(export))
    assert [(f["project_id"], f["location"]["row"], f["location"]["column"]) for f in doc["findings"]
            if f["rule_id"] == "PF-D03-UNREADABLE"] == [("A", 3, "month")]
    assert doc["summary"]["rows"]["monitoring"] == {"read": 2, "checked": 2, "noted": 0}


def test_an_unclosed_quote_is_noted_by_line_and_the_rest_is_checked(tmp_path: Path) -> None:
    lines = ["project_id,fiscal_year,amount", 'A,2022,"1'] + [f"P{i},2022,{i}" for i in range(20)]
    export = write(tmp_path / "export", {"projects.csv": "\n".join(lines) + "\n"})
    _, doc = cli_json(str(export))
    assert doc["summary"]["records"]["projects"] == 20
    assert doc["summary"]["rows"]["projects"] == {"read": 21, "checked": 20, "noted": 1}
    assert "projects.csv line 2 opens a quote that never closes; that line was not checked, the rest were." in messages(doc)


def test_a_line_with_too_many_fields_is_noted_and_counted(tmp_path: Path) -> None:
    export = write(tmp_path / "export", {"projects.csv": "project_id,fiscal_year,amount\nA,2022,1\nB,2022,1,extra,extra\nC,2022,1\n"})
    _, doc = cli_json(str(export))
    assert doc["summary"]["rows"]["projects"] == {"read": 3, "checked": 2, "noted": 1}
    assert any("line 3 has 5 fields, expected 3" in m for m in messages(doc))


def test_every_sheet_of_a_workbook_is_read_or_named(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    book = openpyxl.Workbook()
    first = book.active
    first.title = "2022"
    first.append(["project_id", "fiscal_year", "amount"])
    first.append(["A", 2022, 1])
    second = book.create_sheet("续表")
    second.append(["project_id", "fiscal_year", "amount"])
    for i in range(3):
        second.append([f"B{i}", 2022, 1])
    book.save(export / "projects.xlsx")
    _, doc = cli_json(str(export))
    assert "projects.xlsx: sheet '续表' (3 rows) was not read; only the first sheet, '2022', is." in messages(doc)


def test_a_submission_accounts_for_its_items_on_both_paths(tmp_path: Path, clean_project: dict) -> None:
    blank = {**clean_project, "project_id": " "}
    outside = {**clean_project, "project_id": "P2", "payments": [{"date": "2023-02-01", "amount": 5}, {"date": "2022-02-01", "amount": 5}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"projects": [clean_project, blank, outside]}, ensure_ascii=False), encoding="utf-8")
    _, checked = cli_json(str(path))
    screened = CliRunner().invoke(main, ["screen", str(path), "--format", "json", "--lang", "en", "--as-of", "2022-11-15"])
    screened_doc = json.loads(screened.stdout)
    n_payments = len(clean_project["payments"])
    assert checked["summary"]["rows"]["projects"] == {"read": 3, "checked": 2, "noted": 1}
    assert checked["summary"]["rows"]["payments"] == {"read": 2 * n_payments + 2, "checked": n_payments + 1, "noted": n_payments + 1}
    assert screened_doc["summary"]["rows"] == checked["summary"]["rows"]
    assert screened_doc["findings"] == checked["findings"]
    assert any("because it is dated outside its project's fiscal year" in m and "projects[2].payments[0]" in m for m in messages(checked))


def test_nightly_summary_carries_the_row_accounting(tmp_path: Path) -> None:
    export = write(tmp_path / "export", {"projects.csv": PROJECTS, "payments.csv": PAYMENTS,
                                         "manifest.yaml": "as_of: 2022-11-15\n"})
    result = CliRunner().invoke(main, ["nightly", str(export), "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code in (0, 1), result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["rows"]["projects"] == {"read": 4, "checked": 2, "noted": 2}
    assert summary["rows"]["payments"] == {"read": 7, "checked": 3, "noted": 4}
    for counts in summary["rows"].values():
        assert counts["read"] == counts["checked"] + counts["noted"]
