"""Fuzzing the CLI with generated bad inputs: the exit code is 0, 1 or 2, and never a traceback.

Hypothesis generates CSV exports (headers, quoting, encodings, cell values a careless export holds),
submissions (JSON and YAML shapes mixing valid and invalid parts) and rule conditions. Exit 3 (a defect
caught by the top-level guard) fails these tests just as a traceback would. A few generated inputs also
run through the installed program as a subprocess, as cron would run it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfrules.cli.main import main
from perfrules.language.parser import parse_expression, scope_for_table

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

HEADERS = ["project_id", "项目编码", "fiscal_year", "预算年度", "amount", "申请金额(万元)", "申请金额(千元)", "budget",
           "paid_to_date", "start_date", "end_date", "is_new", "prior_grade", "project_name", "funding_sources", "x", ""]
CELLS = st.one_of(
    st.sampled_from(["", "-", "A", "GX-001", "2022", "3000", "0", "-1", "1,234.00", "５０万", "50万元", "1e400", "nan", "inf",
                     "2022-10-31", "2022/02/30", "9999-12-31", "45000", "是", "否", "✓", "优", "不合格", '"', '""', "a,b",
                     "line\nbreak", "\ud7ff", "\x00", "9" * 400]),
    st.text(max_size=12),
)


def invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, (result.stdout or "") + (result.stderr or "")


def assert_contract(code: int, text: str) -> None:
    assert code in (0, 1, 2), text[-2000:]
    assert "Traceback" not in text


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=7))
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=len(header) + 2), max_size=8))
    quote = draw(st.booleans())

    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if quote and draw(st.booleans()) else value
    text = "\n".join(",".join(cell(v) for v in row) for row in [header, *rows]) + draw(st.sampled_from(["", "\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk"]))
    data = text.encode(encoding, errors="replace") if encoding != "utf-8" else text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):  # damage: a random byte somewhere
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at:]
    return data


@FUZZ
@given(projects=csv_bytes(), payments=st.one_of(st.none(), csv_bytes()))
def test_generated_exports(projects: bytes, payments: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        folder.mkdir()
        (folder / "projects.csv").write_bytes(projects)
        if payments is not None:
            (folder / "payments.csv").write_bytes(payments)
        assert_contract(*invoke(["check", str(folder), "--format", "json", "--as-of", "2022-11-15"]))


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=False), CELLS)
KEYS = st.sampled_from(["project_id", "fiscal_year", "amount", "amount_unit", "performance_goal", "indicators", "payments",
                        "monitoring", "evaluation_history", "prior_evaluation", "date", "month", "year", "grade",
                        "projects", "departments", "department", "as_of", "start_date", "项目编码", "x"])
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(KEYS, inner, max_size=6)), max_leaves=25)


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, Any]:
    base = json.loads((SAMPLES / "submissions" / "clean-project.json").read_text(encoding="utf-8"))
    project = base["projects"][0]
    for key in draw(st.lists(KEYS, max_size=4)):
        project[key] = draw(JSON_VALUES)
    return base if draw(st.booleans()) else {"projects": [project, draw(JSON_VALUES)]}


@FUZZ
@given(doc=submissions(), as_yaml=st.booleans())
def test_generated_submissions_on_check_and_screen(doc: dict[str, Any], as_yaml: bool) -> None:
    import yaml
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("s.yaml" if as_yaml else "s.json")
        path.write_text(yaml.safe_dump(doc, allow_unicode=True) if as_yaml else json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        assert_contract(*invoke(["check", str(path), "--format", "json"]))
        assert_contract(*invoke(["screen", str(path), "--format", "json"]))


ATOMS = st.sampled_from(["paid", "amount", "budget", "0", "1", "1e400", "9" * 30, "'02-29'", "'abc'", "as_of", "fiscal_year",
                         "params.ex_ante_threshold", "fy_date('10-31')", "month_end(13)", "count(payments)", "None", "[1, 2]",
                         "date('2022-02-30')", "nosuch", "payments"])
OPS = st.sampled_from([" and ", " or ", " == ", " < ", " + ", " / ", " * ", " in ", ", ", "("])


@st.composite
def conditions(draw: st.DrawFn) -> str:
    parts = [draw(ATOMS)]
    for _ in range(draw(st.integers(0, 8))):
        parts += [draw(OPS), draw(ATOMS)]
    text = "".join(parts)
    if draw(st.booleans()):
        text = "not " * draw(st.integers(0, 300)) + f"({text})"
    if draw(st.booleans()):
        name = draw(st.sampled_from(["fy_date", "month_end", "any", "sum", "abs", "coalesce"]))
        text = f"{name}({text})"
    return text


@FUZZ
@given(text=conditions())
def test_generated_conditions_are_parsed_or_refused_never_crash(text: str) -> None:
    checked = parse_expression(text, scope_for_table("projects", {}, {"ex_ante_threshold": "money"}))
    assert (checked.node is None) == bool(checked.problems)
    for problem in checked.problems:
        assert problem.code.startswith("rule.") and problem.where.line is not None


@settings(max_examples=5, deadline=None)
@given(data=csv_bytes())
def test_the_installed_program_on_generated_bad_inputs(data: bytes) -> None:
    """Generated bad exports through ``python -m perfrules``: exit 0/1/2 and no traceback, as cron sees it."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        folder.mkdir()
        (folder / "projects.csv").write_bytes(data)
        proc = subprocess.run([sys.executable, "-m", "perfrules", "check", str(folder), "--lang", "en"], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode in (0, 1, 2), proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
