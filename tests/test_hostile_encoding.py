"""A CSV's encoding is decided over the whole file: a change of encoding anywhere is exit 2 naming the line,
never mojibake accepted as data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfrules.errors import InputError
from perfrules.inputs import load_input
from perfrules.inputs.csv_encoding import csv_encoding
from perfrules.inputs.export import load_export

HEADER = "project_id,project_name,fiscal_year\n"


def export_with(tmp_path: Path, data: bytes) -> Path:
    folder = tmp_path / "e"
    folder.mkdir()
    (folder / "projects.csv").write_bytes(data)
    return folder


def check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules", "check", str(folder), "--lang", "en"],
                          capture_output=True, text=True, timeout=120)


# "道路" is two characters: six UTF-8 bytes that GB18030 decodes without complaint as "閬撹矾".
GBK_THEN_UTF8_EVEN = (HEADER + "A,桥梁,2022\nB,学校,2022\n").encode("gbk") + "C,道路,2022\n".encode()
# "水库站" is nine UTF-8 bytes: the last pairs with the comma, which GB18030 cannot decode.
GBK_THEN_UTF8_ODD = (HEADER + "A,桥梁,2022\n").encode("gbk") + "B,水库站,2022\n".encode()
# A single UTF-8 character ("是", three bytes) is not found by the scan; GB18030 cannot decode it, and the
# reader's failure is turned into the same message.
GBK_THEN_UTF8_SINGLE = (HEADER + "A,桥梁,2022\nB,学校,2022\n").encode("gbk") + "C,是,2022\n".encode()
UTF8_THEN_GBK = (HEADER + "A,道路,2022\n").encode() + "B,桥梁,2022\n".encode("gbk")
# Valid GBK up to line 5, then a Latin-1 "é" before a comma: GB18030 fails only there.
GBK_THEN_LATIN1 = (HEADER + "A,桥梁,2022\nB,学校,2022\nC,医院,2022\n").encode("gbk") + "D,café,2022\n".encode("latin-1")
BOM_THEN_GBK = b"\xef\xbb\xbf" + HEADER.encode() + "A,桥梁,2022\n".encode("gbk")


@pytest.mark.parametrize(("data", "reason", "line", "message"), [
    (GBK_THEN_UTF8_EVEN, "input.mixed-encoding", 4, "line 4 is UTF-8 while line 2 is GBK"),
    (GBK_THEN_UTF8_ODD, "input.mixed-encoding", 3, "line 3 is UTF-8 while line 2 is GBK"),
    (GBK_THEN_UTF8_SINGLE, "input.mixed-encoding", 4, "line 4 is UTF-8 while line 2 is GBK"),
    (UTF8_THEN_GBK, "input.mixed-encoding", 3, "line 3 is not UTF-8 while line 2 is"),
    (GBK_THEN_LATIN1, "input.unknown-encoding", 5, "line 5 is neither UTF-8 nor GBK"),
    (BOM_THEN_GBK, "input.mixed-encoding", 2, "line 2 is not UTF-8 while line 1 is"),
], ids=["gbk-then-utf8-even", "gbk-then-utf8-odd", "gbk-then-utf8-single", "utf8-then-gbk", "gbk-then-latin1", "bom-then-gbk"])
def test_a_change_of_encoding_is_exit_2_naming_file_and_line(tmp_path: Path, data: bytes, reason: str, line: int, message: str) -> None:
    folder = export_with(tmp_path, data)
    proc = check(folder)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"{folder / 'projects.csv'}:{line}: {message}: the file mixes two encodings. Save the file again in one encoding (UTF-8 or GBK). [{reason}]"
        if reason == "input.mixed-encoding" else
        f"{folder / 'projects.csv'}:{line}: {message}. Save the file again in one encoding (UTF-8 or GBK). [{reason}]"]


def test_the_utf8_line_far_into_a_gbk_file_is_found(tmp_path: Path) -> None:
    rows = "".join(f"P{i:05d},桥梁工程{i % 7},2022\n" for i in range(20_000))
    data = (HEADER + rows).encode("gbk") + "Z,道路,2022\n".encode() + "Y,桥梁,2022\n".encode("gbk")
    with pytest.raises(InputError) as raised:
        load_input(export_with(tmp_path, data))
    problem = raised.value.problems[0]
    assert problem.code == "input.mixed-encoding" and problem.where.line == 20_002


@pytest.mark.parametrize("encoding", ["gbk", "utf-8", "utf-8-sig"])
def test_files_in_one_encoding_read_as_written(tmp_path: Path, encoding: str) -> None:
    # "元" in GBK (D4 AA) is also valid UTF-8 (U+052A): alone on a line it must not make a GBK file "mixed".
    names = ["元", "桥梁", "道路改造“一期”", "学校·食堂"]
    text = HEADER + "".join(f"P{i},{name},2022\n" for i, name in enumerate(names))
    folder = export_with(tmp_path, text.encode(encoding))
    assert csv_encoding((folder / "projects.csv").read_bytes(), folder / "projects.csv") == ("gb18030" if encoding == "gbk" else "utf8")
    projects = load_export(folder).frame("projects")
    assert list(projects["project_name"]) == names
