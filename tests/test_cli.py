"""The ``perfrules`` command line: JSON/CSV output, exit codes, error messages, atomic --output, --lang, --as-of."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import perfrules.atomic
import perfrules.cli.checking
from perfrules.cli.main import main
from perfrules.rulepack.model import SEVERITIES
from perfrules.rulepack.pack import load_pack

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
SUBMISSIONS = ROOT / "samples" / "submissions"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# What each sample submission must give, from its name and contents (one project per file):
# the rule that fires and at which severity, or nothing.
EXPECTED_BY_SAMPLE: dict[str, set[tuple[str, str]]] = {
    "clean-project.json": set(),
    "d01-bad-budget-type.json": {("PF-D01-BUDGETBOOK", "阻断")},       # budget_type 专项预算 is not a budget book
    # nothing paid: below the mid-year pace (M01) either way; M02 only from the 10-31 checkpoint on
    "m02-zero-paid-oct30.json": {("PF-M01-MIDYEAR", "警告")},
    "m02-zero-paid-oct31.json": {("PF-M02-ZEROPAID", "警告"), ("PF-M01-MIDYEAR", "警告")},
    "p01-no-goal.json": {("PF-P01-NOGOAL", "阻断")},                   # performance_goal is null
    "p02-goal-rejected.json": {("PF-P02-GOALREJECTED", "阻断")},       # review_status 未通过
    "p05-exante-at-threshold.json": {("PF-P05-EXANTE", "阻断")},       # new, exactly 500000, no ex-ante report
    "p05-exante-below-threshold.json": set(),                         # 499999.99, below the threshold
    "p08-poor-grade-cut.json": {("PF-P08-POORGRADE", "警告")},         # graded 差, amount cut below last year
    "p08-poor-grade-not-cut.json": {("PF-P08-POORGRADE", "阻断")},     # graded 较差 (=差), amount not cut: escalated
}

FINDING_KEYS = {"rule_id", "requirement", "severity", "project_id", "fiscal_year", "department", "message",
                "recommendation", "source", "evidence"}


def sample(name: str) -> Path:
    return SUBMISSIONS / name


def project_of(name: str) -> dict:
    projects = json.loads(sample(name).read_text(encoding="utf-8"))["projects"]
    assert len(projects) == 1
    return projects[0]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def run_json(*args: str | Path) -> tuple[Result, dict]:
    result = run("check", *args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return result, json.loads(result.stdout)


def assert_usage_error(result: Result, *fragments: str) -> None:
    """Exit 2, a message naming what is wrong, and no Python traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


@pytest.fixture(scope="module")
def all_samples() -> dict:
    files = [str(sample(name)) for name in sorted(EXPECTED_BY_SAMPLE)]
    result = CliRunner().invoke(main, ["check", *files, "--format", "json"])
    assert result.exit_code == 1, result.output
    return json.loads(result.stdout)


# ----------------------------------------------------------------------------- JSON over the samples


def test_expectations_agree_with_what_each_sample_says() -> None:
    for name, hits in EXPECTED_BY_SAMPLE.items():
        stated = json.loads(sample(name).read_text(encoding="utf-8"))["expect"]["national"]
        assert {(e["rule"], e["severity"]) for e in stated} == hits, name


def test_samples_contain_what_their_names_say() -> None:
    """The expectations above follow from the sample contents and the pack's default parameters."""
    params = load_pack(RULES).params
    threshold = params["ex_ante_threshold"].default
    at, below = project_of("p05-exante-at-threshold.json"), project_of("p05-exante-below-threshold.json")
    assert at["amount"] == threshold and at["is_new"] and not at["is_major"] and at["ex_ante_assessment"] is None
    assert below["amount"] < threshold and below["is_new"] and not below["is_major"]
    cut, not_cut = project_of("p08-poor-grade-cut.json"), project_of("p08-poor-grade-not-cut.json")
    assert cut["amount"] < cut["prior_year_amount"] and cut["prior_evaluation"]["grade"] == "差"
    assert not_cut["amount"] >= not_cut["prior_year_amount"]
    assert params["zero_payment_checkpoint"].default == "10-31"
    for name, day in (("m02-zero-paid-oct30.json", "10-30"), ("m02-zero-paid-oct31.json", "10-31")):
        doc = json.loads(sample(name).read_text(encoding="utf-8"))
        assert doc["as_of"] == f"{doc['projects'][0]['fiscal_year']}-{day}"
        assert doc["projects"][0]["execution"]["paid_to_date"] == 0 and doc["projects"][0]["payments"] == []
    assert project_of("d01-bad-budget-type.json")["budget_type"] not in params["budget_books"].default
    assert project_of("p01-no-goal.json")["performance_goal"] is None
    assert project_of("p02-goal-rejected.json")["performance_goal"]["review_status"] == "未通过"


def test_json_has_summary_findings_errors(all_samples: dict) -> None:
    assert set(all_samples) >= {"summary", "findings", "errors"}
    assert all_samples["errors"] == []
    assert all_samples["findings"]


def test_json_finding_shape(all_samples: dict) -> None:
    for f in all_samples["findings"]:
        assert FINDING_KEYS <= set(f), set(FINDING_KEYS) - set(f)
        assert isinstance(f["requirement"], list) and f["requirement"]
        assert all(re.fullmatch(r"[PMED]\d\d", r) for r in f["requirement"])
        assert f["severity"] in SEVERITIES
        assert isinstance(f["message"], str) and f["message"]
        assert isinstance(f["recommendation"], str) and f["recommendation"]
        assert isinstance(f["source"], list) and f["source"]
        for s in f["source"]:
            assert set(s) >= {"document", "clause"} and s["document"] and s["clause"]
        assert isinstance(f["evidence"], dict) and f["evidence"]
        assert f["project_id"] in f["message"]


def test_json_exact_findings_over_samples(all_samples: dict) -> None:
    expected = {(rule, project_of(name)["project_id"], severity)
                for name, hits in EXPECTED_BY_SAMPLE.items() for rule, severity in hits}
    got = [(f["rule_id"], f["project_id"], f["severity"]) for f in all_samples["findings"]]
    assert len(got) == len(set(got)), "duplicate findings"
    assert set(got) == expected


def test_json_findings_carry_the_project_identity(all_samples: dict) -> None:
    by_project = {project_of(name)["project_id"]: (name, project_of(name)) for name in EXPECTED_BY_SAMPLE}
    for f in all_samples["findings"]:
        name, project = by_project[f["project_id"]]
        assert f["fiscal_year"] == project["fiscal_year"]
        assert f["department"] == project["department"]
        assert Path(f["location"]["file"]).name == name


def test_json_evidence_values(all_samples: dict) -> None:
    by_rule = {f["rule_id"]: f for f in all_samples["findings"] if f["rule_id"] != "PF-P08-POORGRADE"}
    p05 = by_rule["PF-P05-EXANTE"]["evidence"]
    assert p05["amount"] == project_of("p05-exante-at-threshold.json")["amount"]
    assert p05["params.ex_ante_threshold"] == 500000 and p05["ex_ante_report_id"] is None
    assert by_rule["PF-D01-BUDGETBOOK"]["evidence"]["budget_type"] == project_of("d01-bad-budget-type.json")["budget_type"]
    assert by_rule["PF-M02-ZEROPAID"]["evidence"]["paid"] == 0


def test_summary_counts_match_findings(all_samples: dict) -> None:
    summary, findings = all_samples["summary"], all_samples["findings"]
    assert summary["total"] == len(findings)
    by_sev = Counter(f["severity"] for f in findings)
    assert summary["by_severity"] == {s: by_sev.get(s, 0) for s in SEVERITIES}
    assert summary["by_rule"] == dict(Counter(f["rule_id"] for f in findings))
    assert summary["records"]["projects"] == len(EXPECTED_BY_SAMPLE)


# ----------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize("name, extra, code", [
    ("p05-exante-at-threshold.json", [], 1),                      # default --fail-on 阻断, a 阻断 exists
    ("clean-project.json", [], 0),
    ("p05-exante-at-threshold.json", ["--fail-on", "never"], 0),
    ("m02-zero-paid-oct31.json", ["--fail-on", "提示"], 1),         # only a 警告, which reaches 提示
    ("m02-zero-paid-oct31.json", ["--fail-on", "警告"], 1),
    ("m02-zero-paid-oct31.json", ["--fail-on", "阻断"], 0),         # only a 警告, below 阻断
    ("m02-zero-paid-oct31.json", [], 0),
    ("p08-poor-grade-cut.json", ["--fail-on", "info"], 1),
    ("p08-poor-grade-cut.json", ["--fail-on", "warn"], 1),
    ("p08-poor-grade-cut.json", ["--fail-on", "block"], 0),
    ("p01-no-goal.json", ["--fail-on", "block"], 1),
    ("clean-project.json", ["--fail-on", "info"], 0),
])
def test_exit_codes(name: str, extra: list[str], code: int) -> None:
    result = run("check", sample(name), "--format", "json", *extra)
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, (SystemExit, type(None)))


def test_unknown_fail_on_is_a_usage_error() -> None:
    assert_usage_error(run("check", sample("clean-project.json"), "--fail-on", "fatal"), "--fail-on", "fatal")


# ----------------------------------------------------------------------------- errors: exit 2, named, no traceback


def test_nonexistent_input(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-submission.json"
    result = run("check", missing)
    assert_usage_error(result, str(missing), "input.not-found")
    assert result.stdout == ""


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{\n  "as_of": "2022-11-15",\n  "projects": [\n    {"project_id": "X",,}\n  ]\n}\n', encoding="utf-8")
    result = run("check", bad)
    assert_usage_error(result, f"{bad}:4")
    assert result.stdout == ""


def test_invalid_rules_dir_names_file_line_and_rule(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    path = rules / "P-budgeting.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("when: not has_goal") == 1
    path.write_text(text.replace("when: not has_goal", "when: not has_gaol"), encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "when: not has_goal" in ln)
    result = run("check", sample("clean-project.json"), "--rules", rules)
    assert_usage_error(result, f"{path}:{line}:", "PF-P01-NOGOAL", "has_gaol", "has_goal", "rule.unknown-field")
    assert result.stdout == ""


def test_missing_rules_dir(tmp_path: Path) -> None:
    assert_usage_error(run("check", sample("clean-project.json"), "--rules", tmp_path / "nope"),
                       str(tmp_path / "nope"), "pack.not-found")


def test_unknown_profile_lists_available(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    (rules / "profiles" / "qitai.yaml").write_text("profile: qitai\ntitle: 奇台县\nextends: national\n", encoding="utf-8")
    result = run("check", sample("clean-project.json"), "--rules", rules, "--profile", "nosuch")
    assert_usage_error(result, "'nosuch'", "national", "qitai", "profile.unknown")


def test_unknown_profile_bundled_pack() -> None:
    assert_usage_error(run("check", sample("clean-project.json"), "--profile", "nosuch"), "'nosuch'", "national")


@pytest.mark.parametrize("value", ["2022-13-01", "yesterday", "2022/10/31"])
def test_bad_as_of(value: str) -> None:
    assert_usage_error(run("check", sample("clean-project.json"), "--as-of", value), "--as-of", value, "YYYY-MM-DD")


def test_unknown_format() -> None:
    assert_usage_error(run("check", sample("clean-project.json"), "--format", "xml"), "--format", "xml")


def test_unknown_command() -> None:
    result = run("chekc", sample("clean-project.json"))
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_error_messages_follow_lang_en(tmp_path: Path) -> None:
    result = run("check", tmp_path / "missing.json", "--lang", "en")
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert not CJK.search(result.output), result.output


# ----------------------------------------------------------------------------- --output


def test_output_json_file(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.json"
    result = run("check", *[sample(n) for n in sorted(EXPECTED_BY_SAMPLE)], "--format", "json", "--output", out)
    assert result.exit_code == 1
    assert result.stdout == ""
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["summary"]["total"] == sum(len(v) for v in EXPECTED_BY_SAMPLE.values())
    assert [p.name for p in out.parent.iterdir()] == ["report.json"]


def test_output_csv_has_bom_and_chinese_headers(tmp_path: Path) -> None:
    out = tmp_path / "report.csv"
    result = run("check", *[sample(n) for n in sorted(EXPECTED_BY_SAMPLE)], "--format", "csv", "-o", out)
    assert result.exit_code == 1
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["严重程度", "规则编号", "政策要求", "项目编码"]
    assert {"问题", "处理建议", "依据", "证据"} <= set(header)
    assert len(body) == sum(len(v) for v in EXPECTED_BY_SAMPLE.values())
    rule_col, sev_col = header.index("规则编号"), header.index("严重程度")
    assert {(r[rule_col], r[sev_col]) for r in body} == set().union(*EXPECTED_BY_SAMPLE.values())


def test_failed_render_leaves_previous_output_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.json"
    out.write_text("previous report\n", encoding="utf-8")

    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(perfrules.cli.checking, "render_result", boom)
    result = run("check", sample("p01-no-goal.json"), "--format", "json", "--output", out)
    assert result.exit_code == 3  # a defect: the guard's one line, never mistaken for findings
    assert "RuntimeError: renderer failed" in result.stderr and "[internal.error]" in result.stderr and "Traceback" not in result.stderr
    assert out.read_text(encoding="utf-8") == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_failed_write_midway_leaves_previous_output_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rendered text cannot be encoded past its first part: the temp file goes, the old file stays."""
    out = tmp_path / "report.json"
    out.write_text("previous report\n", encoding="utf-8")
    real = perfrules.cli.checking.render_result
    monkeypatch.setattr(perfrules.cli.checking, "render_result",
                        lambda result, fmt, lang: real(result, fmt, lang) + "\ud800 unencodable tail")
    result = run("check", sample("p01-no-goal.json"), "--format", "json", "--output", out)
    assert result.exit_code == 3 and "UnicodeEncodeError" in result.stderr
    assert out.read_text(encoding="utf-8") == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_failed_rename_leaves_previous_output_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.csv"
    out.write_text("previous report\n", encoding="utf-8")

    def no_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(perfrules.atomic.os, "replace", no_replace)
    result = run("check", sample("p01-no-goal.json"), "--format", "csv", "--output", out, "--lang", "en")
    assert result.exit_code == 2  # an I/O failure: one line naming the file
    assert result.stderr.strip() == f"{out}: cannot write {out}: disk full. Check the path, its permissions and the free disk space. [output.write-failed]"
    assert out.read_text(encoding="utf-8") == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]


# ----------------------------------------------------------------------------- --lang, --as-of


def test_lang_en_messages_use_english_templates() -> None:
    rules = load_pack(RULES).rules
    result, doc = run_json(SUBMISSIONS, "--lang", "en")
    assert result.exit_code == 1
    assert doc["findings"]
    for f in doc["findings"]:
        rule = rules[f["rule_id"]]
        prefix = rule.message.en.split("{")[0]
        assert prefix and not CJK.search(prefix)
        assert f["message"].startswith(prefix), (f["message"], rule.message.en)
        assert f["message"][0].isascii() and f["message"][0].isalpha()
        if "{" not in rule.recommendation.en:
            assert f["recommendation"] == rule.recommendation.en


def test_lang_zh_is_default() -> None:
    rules = load_pack(RULES).rules
    _, doc = run_json(sample("p01-no-goal.json"))
    (f,) = doc["findings"]
    assert f["message"].startswith(rules["PF-P01-NOGOAL"].message.zh.split("{")[0])
    assert CJK.search(f["message"])


def test_lang_en_table() -> None:
    result = run("check", sample("p01-no-goal.json"), "--lang", "en")
    assert result.exit_code == 1
    assert "[block] PF-P01-NOGOAL" in result.stdout
    assert "finding(s)" in result.stdout


def test_as_of_overrides_file_date() -> None:
    name = "m02-zero-paid-oct30.json"
    _, before = run_json(sample(name))
    assert [f["rule_id"] for f in before["findings"]] == ["PF-M01-MIDYEAR"]
    result, after = run_json(sample(name), "--as-of", "2022-10-31")
    assert result.exit_code == 0  # 警告 does not reach the default --fail-on 阻断
    pid = project_of(name)["project_id"]
    assert sorted((f["rule_id"], f["project_id"], f["severity"]) for f in after["findings"]) == \
        [("PF-M01-MIDYEAR", pid, "警告"), ("PF-M02-ZEROPAID", pid, "警告")]
    m02 = next(f for f in after["findings"] if f["rule_id"] == "PF-M02-ZEROPAID")
    assert m02["evidence"]["as_of"] == "2022-10-31"
    assert after["summary"]["as_of"] == "2022-10-31"


def test_as_of_earlier_than_file_date_removes_finding() -> None:
    _, doc = run_json(sample("m02-zero-paid-oct31.json"), "--as-of", "2022-10-30")
    assert [f["rule_id"] for f in doc["findings"]] == ["PF-M01-MIDYEAR"]


# ----------------------------------------------------------------------------- help, console script


def _commands() -> list[list[str]]:
    return [[]] + [[name] for name in main.commands]


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "main")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_has_help_with_example(path: list[str], flag: str) -> None:
    result = run(*path, flag)
    assert result.exit_code == 0, result.output
    assert "示例" in result.output or "Example" in result.output
    assert "Usage" in result.output


def test_commands_listed() -> None:
    assert "check" in main.commands
    assert isinstance(main, click.Group)


def test_console_script_runs(tmp_path: Path) -> None:
    exe = ROOT / ".venv" / "bin" / "perfrules"
    if not exe.exists():
        exe = Path(sys.executable).with_name("perfrules")
    if not exe.exists():
        pytest.skip("console script not installed")
    proc = subprocess.run([str(exe), "check", str(sample("p01-no-goal.json")), "--format", "json", "--lang", "en"],
                          capture_output=True, text=True, encoding="utf-8", timeout=120, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(f["rule_id"], f["severity"]) for f in doc["findings"]] == [("PF-P01-NOGOAL", "阻断")]
    # In a real process --lang en also governs error messages.
    bad = subprocess.run([str(exe), "check", str(tmp_path / "missing.json"), "--lang", "en"],
                         capture_output=True, text=True, encoding="utf-8", timeout=120, cwd=tmp_path)
    assert bad.returncode == 2
    assert "does not exist" in bad.stderr and "Traceback" not in bad.stderr
    assert not CJK.search(bad.stderr)
