"""`perfrules lint`: one broken pack per problem kind, each reported with file, line, rule, code and hint; all at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import RULES

from perfrules.cli.main import main


def lint_json(path: Path, *extra: str) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(main, ["lint", str(path), "--format", "json", "--lang", "en", *extra])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture()
def pack(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    shutil.copytree(RULES, root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if fragment in line)


def only(problems: list[dict], code: str) -> dict:
    hits = [p for p in problems if p["code"] == code]
    assert len(hits) == 1, problems
    return hits[0]


def test_bundled_pack_is_clean():
    code, problems = lint_json(RULES)
    assert (code, problems) == (0, [])


def test_yaml_syntax(pack):
    f = pack / "D-data.yaml"
    edit(f, "    severity: 阻断\n", "    severity: [阻断\n")
    p = only(lint_json(pack)[1], "yaml.syntax")
    assert p["file"].endswith("D-data.yaml") and p["line"] >= line_of(f, "severity: [阻断")


def test_unknown_rule_field_with_hint(pack):
    f = pack / "D-data.yaml"
    edit(f, "    severity: 阻断\n", "    severty: 阻断\n")
    problems = lint_json(pack)[1]
    p = next(p for p in problems if p["code"] == "schema.unknown-field")
    assert (p["line"], p["rule_id"]) == (line_of(f, "severty:"), "PF-D01-BUDGETBOOK")
    assert p["hint"] == "Did you mean 'severity'?"


def test_unknown_field_in_condition_with_column(pack):
    f = pack / "D-data.yaml"
    edit(f, "when: budget_type not in params.budget_books", "when: budget_typ not in params.budget_books")
    p = only(lint_json(pack)[1], "rule.unknown-field")
    assert (p["line"], p["column"], p["rule_id"]) == (line_of(f, "budget_typ not in"), 11, "PF-D01-BUDGETBOOK")
    assert p["hint"] == "Did you mean 'budget_type'?"


def test_unknown_function(pack):
    edit(pack / "D-data.yaml", "when: budget_type not in params.budget_books", "when: lenght(budget_type) > 0")
    p = only(lint_json(pack)[1], "rule.unknown-function")
    assert p["message"] == "unknown function 'lenght'." and p["hint"] == "Did you mean 'len'?"


def test_unknown_parameter(pack):
    edit(pack / "D-data.yaml", "when: budget_type not in params.budget_books", "when: budget_type not in params.budget_book")
    p = only(lint_json(pack)[1], "rule.unknown-param")
    assert p["hint"] == "Did you mean 'budget_books'?"


def test_unknown_profile(pack):
    edit(pack / "profiles" / "qitai.yaml", "extends: national", "extends: nationl")
    p = only(lint_json(pack)[1], "profile.unknown")
    assert p["file"].endswith("qitai.yaml") and p["hint"] == "Did you mean 'national'?"


@pytest.mark.parametrize("condition, message", [
    ('amount >= "500000"', "cannot compare number with string (>=)."),
    ("as_of > 5", "cannot compare date with number (>)."),
])
def test_incompatible_types(pack, condition, message):
    edit(pack / "D-data.yaml", "when: budget_type not in params.budget_books", f"when: '{condition}'")
    p = only(lint_json(pack)[1], "rule.type")
    assert p["message"] == message and p["rule_id"] == "PF-D01-BUDGETBOOK"


def test_duplicate_rule_id(pack):
    text = (pack / "D-data.yaml").read_text(encoding="utf-8")
    start = text.index("  - id: PF-D01-BUDGETBOOK")
    end = text.index("\n  - id:", start + 1) if "\n  - id:" in text[start + 1:] else len(text)
    (pack / "Z-copy.yaml").write_text("rules:\n" + text[start:end] + "\n", encoding="utf-8")
    p = only(lint_json(pack)[1], "pack.duplicate-rule")
    assert p["rule_id"] == "PF-D01-BUDGETBOOK" and p["file"].endswith("Z-copy.yaml")
    assert "is used twice (first at" in p["message"] and "D-data.yaml" in p["message"]


def test_rule_no_profile_enables(pack):
    edit(pack / "D-data.yaml", "  - id: PF-D01-BUDGETBOOK\n", "  - id: PF-D01-BUDGETBOOK\n    enabled: false\n")
    p = only(lint_json(pack)[1], "lint.never-enabled")
    assert p["rule_id"] == "PF-D01-BUDGETBOOK" and p["message"] == "rule PF-D01-BUDGETBOOK is enabled by no profile."


def test_parameter_no_rule_reads(pack):
    edit(pack / "pack.yaml", "params:\n", "params:\n  forgotten_limit:\n    type: money\n    default: 1\n    title: 无人使用的参数\n")
    p = only(lint_json(pack)[1], "lint.unused-param")
    assert p["message"] == "parameter 'forgotten_limit' is read by no rule." and p["line"] == line_of(pack / "pack.yaml", "forgotten_limit:")


def test_template_names_a_value_the_condition_does_not_provide(pack):
    edit(pack / "D-data.yaml", "预算类型\"{budget_type}\"不属于", "预算类型\"{budget_type}\"（金额 {amount}）不属于")
    p = only(lint_json(pack)[1], "rule.template-name")
    assert p["message"] == "message.zh shows {amount}, a value the condition does not provide."


def test_requirement_not_in_catalogue(pack):
    edit(pack / "D-data.yaml", "requirement: [D01]", "requirement: [D09]")
    problems = lint_json(pack)[1]
    p = next(p for p in problems if p["code"] == "lint.unknown-requirement")
    assert p["message"] == "requirement id 'D09' is not in the policy catalogue." and p["rule_id"] == "PF-D01-BUDGETBOOK"


def test_missing_source(pack):
    f = pack / "D-data.yaml"
    text = f.read_text(encoding="utf-8")
    start = text.index("    source:\n", text.index("PF-D01-BUDGETBOOK"))
    end = text.index("\n  - id:", start) if "\n  - id:" in text[start:] else len(text)
    f.write_text(text[:start] + text[end:], encoding="utf-8")
    p = next(p for p in lint_json(pack)[1] if p["code"] == "schema.invalid" and p["rule_id"] == "PF-D01-BUDGETBOOK")
    assert "'source' is a required property" in p["message"]


def test_source_without_clause_text(pack):
    edit(pack / "D-data.yaml", "        text: 绩效管理覆盖一般公共预算", "        text: null\n        # 绩效管理覆盖一般公共预算")
    p = only(lint_json(pack)[1], "lint.source-text")
    assert p["rule_id"] == "PF-D01-BUDGETBOOK" and p["message"].startswith("source 奇财预〔2018〕140号 一、3、 quotes no clause text")


def test_everything_is_reported_at_once(pack):
    edit(pack / "D-data.yaml", "when: budget_type not in params.budget_books", "when: budget_typ not in params.budget_books")
    edit(pack / "M-execution.yaml", "paid == 0", "paid == \"0\"")
    edit(pack / "pack.yaml", "params:\n", "params:\n  forgotten_limit:\n    type: money\n    default: 1\n    title: 无人使用的参数\n")
    edit(pack / "profiles" / "yongqiao.yaml", "ex_ante_threshold: 500000", "ex_ante_treshold: 500000")
    code, problems = lint_json(pack)
    assert code == 1
    assert {p["code"] for p in problems} >= {"rule.unknown-field", "rule.type", "lint.unused-param", "profile.unknown-param"}
    assert {Path(p["file"]).name for p in problems} >= {"D-data.yaml", "M-execution.yaml", "pack.yaml", "yongqiao.yaml"}


def test_text_output_names_file_line_and_code(pack):
    edit(pack / "D-data.yaml", "when: budget_type not in params.budget_books", "when: budget_typ not in params.budget_books")
    result = CliRunner().invoke(main, ["lint", str(pack), "--lang", "en"])
    assert result.exit_code == 1
    assert "D-data.yaml:" in result.output and "[rule.unknown-field]" in result.output and result.output.rstrip().endswith("problem(s)")
