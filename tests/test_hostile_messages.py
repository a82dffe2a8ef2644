"""An input with several problems gets one block: a headline naming the file, then each problem on its own
indented line with its line and column header, at most ten and then "… and N more"; exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from perfrules.errors import InputError, Problem, Where


def perfrules(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfrules", *args], capture_output=True, text=True, timeout=120)


def header_with_three_problems(tmp_path: Path) -> Path:
    folder = tmp_path / "e"
    folder.mkdir()
    (folder / "项目.csv").write_text("项目编号,申请金额(千元),预算金额(万圆)\nA,1,2\n", encoding="utf-8")
    return folder


def test_several_problems_of_one_file_are_one_block_in_chinese_with_english_beside(tmp_path: Path) -> None:
    folder = header_with_three_problems(tmp_path)
    proc = perfrules("check", str(folder))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"{folder / '项目.csv'}：3 个问题（3 problems）：",
        "  第 1 行，列「申请金额(千元)」：表头 '申请金额(千元)' 中的金额单位 '千元' 无法识别。可用：元、万元、万、亿元。 "
        "(the unit '千元' in the header '申请金额(千元)' is not a known money unit. Known units: 元, 万元, 万, 亿元.) [input.unknown-unit]",
        "  第 1 行，列「预算金额(万圆)」：表头 '预算金额(万圆)' 中的金额单位 '万圆' 无法识别。可用：元、万元、万、亿元。 "
        "(the unit '万圆' in the header '预算金额(万圆)' is not a known money unit. Known units: 元, 万元, 万, 亿元.) [input.unknown-unit]",
        "  第 1 行：项目.csv 缺少必需的列 “预算年度”。在表头中加上这些列（也可用其英文名）。 (项目.csv lacks the required column(s) "
        "'预算年度' (fiscal_year). Add them to the header row (their English names also do).) [input.missing-column]",
    ]


def test_the_block_in_english(tmp_path: Path) -> None:
    folder = header_with_three_problems(tmp_path)
    proc = perfrules("check", str(folder), "--lang", "en")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"{folder / '项目.csv'}: 3 problems:",
        "  line 1, column '申请金额(千元)': the unit '千元' in the header '申请金额(千元)' is not a known money unit. "
        "Known units: 元, 万元, 万, 亿元. [input.unknown-unit]",
        "  line 1, column '预算金额(万圆)': the unit '万圆' in the header '预算金额(万圆)' is not a known money unit. "
        "Known units: 元, 万元, 万, 亿元. [input.unknown-unit]",
        "  row 1: 项目.csv lacks the required column(s) '预算年度' (fiscal_year). Add them to the header row (their English "
        "names also do). [input.missing-column]",
    ]


def test_more_than_ten_problems_are_capped_with_the_count_of_the_rest(tmp_path: Path) -> None:
    submission = tmp_path / "s.json"
    submission.write_text(json.dumps({"projects": list(range(13))}), encoding="utf-8")
    proc = perfrules("check", str(submission), "--lang", "en")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"{submission}: 13 problems:"] + [
        f"  field projects[{i}]: projects[{i}] is not an object. [input.shape]" for i in range(10)] + ["  … and 3 more"]
    zh = perfrules("check", str(submission))
    assert zh.returncode == 2 and zh.stderr.splitlines()[-1] == "  … 另有 3 个（… and 3 more）"
    assert zh.stderr.splitlines()[0] == f"{submission}：13 个问题（13 problems）："


def test_one_problem_stays_one_line_and_problems_of_two_files_are_two_blocks() -> None:
    one = Problem("input.x", "坏了。", "broken.", Where(file="a.csv", line=3, field="金额"))
    assert InputError([one]).text("en") == "a.csv:3, field 金额: broken. [input.x]"
    other = Problem("input.y", "也坏了。", "broken too.", Where(file="b.yaml", line=2, column=5))
    assert InputError([one, other, one]).text("en").splitlines() == [
        "a.csv: 2 problems:",
        "  line 3, column '金额': broken. [input.x]",
        "  line 3, column '金额': broken. [input.x]",
        "b.yaml: 1 problem:",
        "  line 2:5: broken too. [input.y]",
    ]
