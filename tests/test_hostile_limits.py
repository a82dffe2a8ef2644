"""Hostile inputs meet limits with clear errors: exit 2, one line naming the file (and line or field), fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import perfrules.inputs.limits as limits
from perfrules.cli.main import main
from perfrules.errors import InputError
from perfrules.inputs import load_input

ALIAS_BOMB = "".join(f"{a}: &{a} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
                     for p, a in zip(["", "a", "b", "c", "d", "e", "f", "g"], "abcdefgh"))


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--lang", "en"])
    assert not (result.exception and not isinstance(result.exception, SystemExit)), result.exception
    return result.exit_code, result.stdout + result.stderr


def one_error(code: int, text: str, reason: str, *where: str) -> None:
    assert code == 2, text
    assert len(text.strip().splitlines()) == 1, text
    assert f"[{reason}]" in text and "Traceback" not in text
    for part in where:
        assert part in text, (part, text)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    started = time.perf_counter()
    code, text = cli("check", str(path))
    assert time.perf_counter() - started < 10
    one_error(code, text, "yaml.alias", "bomb.yaml:1:")  # a data file may not use aliases at all (the anchor is named)


def test_an_alias_bomb_in_a_rule_file_is_refused_by_size(tmp_path: Path) -> None:
    import shutil

    from conftest import RULES
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    (rules / "X.yaml").write_text(ALIAS_BOMB)
    code, text = cli("check", str(Path(__file__).parents[1] / "samples" / "submissions" / "clean-project.json"), "--rules", str(rules))
    one_error(code, text, "yaml.too-large", "X.yaml:")


@pytest.mark.parametrize("suffix, text, reason", [
    (".yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n", "yaml.too-deep"),
    (".json", "[" * 100_000 + "]" * 100_000, "input.too-deep"),
    (".json", '{"projects": [' * 50 + "]}" * 50, "input.too-deep"),
])
def test_deep_nesting_is_a_clear_error(tmp_path: Path, suffix: str, text: str, reason: str) -> None:
    path = tmp_path / f"deep{suffix}"
    path.write_text(text)
    one_error(*cli("check", str(path)), reason, f"deep{suffix}")


def test_a_lone_surrogate_in_json_names_the_field(tmp_path: Path, clean_project: dict) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"projects": [clean_project]}).replace('"SY-2022-001"', '"\\ud800"', 1))
    one_error(*cli("check", str(path)), "input.bad-text", "s.json", "$.projects[0].project_id")


def test_duplicate_keys_in_a_submission_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("project_id: A\nfiscal_year: 2022\nproject_id: B\namount: 1\n")
    one_error(*cli("check", str(path)), "yaml.duplicate-key", "dup.yaml:3:1", "'project_id'", "line 1")


@pytest.mark.parametrize("edit, reason, field", [
    (lambda p: p["performance_goal"].update(indicators="abc"), "input.shape", "projects[0].performance_goal.indicators"),
    (lambda p: p.update(monitoring=5), "input.shape", "projects[0].monitoring"),
    (lambda p: p.update(payments={"date": "2022-01-01"}), "input.shape", "projects[0].payments"),
    (lambda p: p.update(amount_unit="万圆"), "input.unknown-unit", "projects[0].amount_unit"),
    (lambda p: p.update(amount_unit="千元"), "input.unknown-unit", "projects[0].amount_unit"),
])
def test_malformed_submission_values_are_errors_naming_the_field(tmp_path: Path, clean_project: dict, edit, reason: str, field: str) -> None:
    edit(clean_project)
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"projects": [clean_project]}, ensure_ascii=False), encoding="utf-8")
    one_error(*cli("check", str(path)), reason, "s.json", field)


def test_a_money_header_with_an_unknown_unit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "projects.csv").write_text("project_id,fiscal_year,申请金额(千元)\nA,2022,5\n", encoding="utf-8")
    one_error(*cli("check", str(tmp_path / "e")), "input.unknown-unit", "projects.csv:1", "申请金额(千元)")


def test_duplicate_csv_headers_are_an_error_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "projects.csv").write_text("project_id,project_id,fiscal_year\nA,B,2022\n")
    one_error(*cli("check", str(tmp_path / "e")), "input.duplicate-header", "projects.csv:1", "project_id")


def test_mixed_encodings_name_the_first_line_in_the_other_encoding(tmp_path: Path) -> None:
    (tmp_path / "e").mkdir()
    data = "project_id,project_name,fiscal_year\nA,道路,2022\n".encode() + "B,桥梁,2022\n".encode("gbk")
    (tmp_path / "e" / "projects.csv").write_bytes(data)
    one_error(*cli("check", str(tmp_path / "e")), "input.mixed-encoding", "projects.csv:3")


def test_a_huge_csv_field_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import perfrules.inputs.export as export
    monkeypatch.setattr(export, "MAX_CSV_FIELD", 1000)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "projects.csv").write_text(f"project_id,fiscal_year,project_name\nA,2022,{'x' * 1001}\n")
    with pytest.raises(InputError) as err:
        load_input(tmp_path / "e")
    assert err.value.problems[0].code == "input.field-too-large" and err.value.problems[0].where.field == "project_name"


def test_an_xlsx_with_an_oversized_xml_part_is_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl
    (tmp_path / "e").mkdir()
    path = tmp_path / "e" / "projects.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["project_id", "fiscal_year"])
    book.active.append(["A", 2022])
    book.save(path)
    with zipfile.ZipFile(path, "a") as archive:  # a huge comment compresses to almost nothing
        archive.writestr("xl/comment-bomb.xml", "<!--" + " " * 5_000_000 + "-->", compress_type=zipfile.ZIP_DEFLATED)
    monkeypatch.setattr(limits, "MAX_XLSX_PART", 1_000_000)
    with pytest.raises(InputError) as err:
        load_input(tmp_path / "e")
    problem = err.value.problems[0]
    assert problem.code == "input.too-large" and problem.where.field == "xl/comment-bomb.xml"


def test_a_fifo_named_like_a_table_does_not_block(tmp_path: Path) -> None:
    export = tmp_path / "e"
    export.mkdir()
    os.mkfifo(export / "projects.csv")
    proc = subprocess.run([sys.executable, "-m", "perfrules", "check", str(export), "--lang", "en"], capture_output=True,
                          text=True, timeout=60)
    one_error(proc.returncode, proc.stderr, "input.not-regular", "projects.csv")


def test_a_fifo_given_as_a_submission_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "s.json")
    proc = subprocess.run([sys.executable, "-m", "perfrules", "screen", str(tmp_path / "s.json"), "--lang", "en"],
                          capture_output=True, text=True, timeout=60)
    one_error(proc.returncode, proc.stderr, "input.not-regular", "s.json")


def test_screen_on_a_folder_says_it_is_a_folder(tmp_path: Path) -> None:
    one_error(*cli("screen", str(tmp_path)), "input.is-folder", "is a folder")


def test_a_header_only_projects_file_is_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "projects.csv").write_text("project_id,fiscal_year,amount\n")
    code, text = cli("check", str(tmp_path / "e"))
    assert code == 0 and "Traceback" not in text
