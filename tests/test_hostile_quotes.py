"""Stray quotes that join rows are exit 2 naming the line where the joined row starts; real multi-line values
are read, and every row keeps its physical line number."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfrules.errors import InputError
from perfrules.inputs.csv_records import joined_rows
from perfrules.inputs.dataset import ROW
from perfrules.inputs.export import load_export

HEADER = "project_id,project_name,fiscal_year\n"


def export_with(folder: Path, body: str) -> Path:
    folder.mkdir()
    (folder / "projects.csv").write_text(HEADER + body, encoding="utf-8")
    return folder


def check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules", "check", str(folder), "--lang", "en"],
                          capture_output=True, text=True, timeout=120)


# Line 3 holds a quote inside a value (literal: no harm); lines 5–7 are joined by a stray pair of quotes.
STRAY_PAIR = 'A,道路,2022\nB,他说"好",2022\nC,学校,2022\nD,"医院,2022\nE,水库,2022\nF,桥梁",2022\nG,公园,2022\n'


def test_an_even_number_of_stray_quotes_is_exit_2_naming_the_line_where_the_join_starts(tmp_path: Path) -> None:
    folder = export_with(tmp_path / "e", STRAY_PAIR)
    proc = check(folder)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"{folder / 'projects.csv'}:5: lines 5–7 are joined into one row by quotes: each of them alone is a whole row (3 fields or more). "
        "A value most likely holds stray quotes (\"). Check the quotes on lines 5 and 7: a quote inside a value is written twice (\"\"), "
        "or the value is left unquoted. [input.merged-lines]"]


@pytest.mark.parametrize(("body", "why"), [
    ('A,道路,2022\nB,"学校,2022\nC,医院",2022,多余\nD,x,2022\n', "together they have 4 fields, not 3"),
    ('A,道路,2022\nB,"学校,2022\nC,医院,2022,多余\nD,x",2022\n', "each of them alone is a whole row (3 fields or more)"),
], ids=["wrong-width", "a-swallowed-row-with-a-field-too-many"])
def test_other_joins_are_exit_2_too(tmp_path: Path, body: str, why: str) -> None:
    with pytest.raises(InputError) as raised:
        load_export(export_with(tmp_path / "e", body))
    problem = raised.value.problems[0]
    assert (problem.code, problem.where.line) == ("input.merged-lines", 3)
    assert why in problem.en


def test_multi_line_values_are_read_and_rows_keep_their_physical_line_numbers(tmp_path: Path) -> None:
    body = ('A,"第一行\n第二行，含逗号, 和英文逗号",2022\n'   # lines 2–3: a real two-line name
            'B,"他说""好""",2022\n'                             # line 4: quotes written as the standard says
            '\n'                                                 # line 5: empty (skipped, still counted)
            'C,"三行\n的\n名称",2022\n'                          # lines 6–8
            'D,只有两列\n'                                        # line 9: malformed, noted and skipped
            'E,公园,2022\n')                                     # line 10
    ds = load_export(export_with(tmp_path / "e", body))
    projects = ds.frame("projects")
    assert list(projects["project_name"]) == ["第一行\n第二行，含逗号, 和英文逗号", '他说"好"', "三行\n的\n名称", "公园"]
    assert list(projects[ROW]) == [2, 4, 6, 10]
    assert [n.en for n in ds.notes if n.code == "input.malformed-row"] == [
        "projects.csv line 9 has 2 fields, expected 3; that line was not checked."]


def test_a_multi_line_value_through_the_cli_is_checked_not_refused(tmp_path: Path) -> None:
    folder = export_with(tmp_path / "e", 'A,"道路\n改造",2022\nB,学校,2022\n')
    proc = check(folder)
    assert proc.returncode in (0, 1), proc.stderr
    assert "merged-lines" not in proc.stderr


row_text = st.text(alphabet="道路学校abc 。", min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(width=st.integers(3, 8), lines=st.lists(row_text, min_size=2, max_size=4))
def test_a_note_over_several_lines_without_commas_is_never_taken_for_joined_rows(width: int, lines: list[str]) -> None:
    fields = ["P1", "\n".join(lines)] + ["x"] * (width - 2)
    assert not joined_rows(fields, width)


@settings(max_examples=200, deadline=None)
@given(width=st.integers(2, 8), rows=st.integers(2, 5), data=st.data())
def test_whole_rows_joined_by_a_stray_pair_are_always_recognised(width: int, rows: int, data: st.DataObject) -> None:
    cells = [[data.draw(row_text) for _ in range(width)] for _ in range(rows)]
    lines = [",".join(r) for r in cells]
    # What a CSV reader makes of them with a stray quote opening field 1 of the first and closing it in the last.
    text = "\n".join(lines)
    head, tail = text.split(",", 1)
    inner, *rest = tail.rsplit(",", width - 2)
    assert joined_rows([head, inner, *rest], width)
