"""Broken rule packs and profiles: every mistake becomes a Problem with a reason code, a place and advice.

Each test copies the bundled ``rules/`` into ``tmp_path`` and breaks ONE thing, then checks the
reason code, the file, the line (and column where it means something), the rule id and the text.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from perfrules.errors import Problem, RulePackError
from perfrules.rulepack.pack import load_pack
from perfrules.rulepack.profile import load_profile

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"

# ----------------------------------------------------------------------------- helpers


def copy_pack(tmp_path: Path) -> Path:
    """A private copy of the bundled rules directory."""
    dest = tmp_path / "rules"
    shutil.copytree(RULES, dest)
    return dest


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def edit(path: Path, old: str, new: str) -> Path:
    """Replace ``old`` (which must occur exactly once) by ``new`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """The 1-based number of the only line of ``path`` containing ``needle``."""
    hits = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} found on lines {hits} of {path.name}"
    return hits[0]


def col_of(path: Path, needle: str, occurrence_of: str | None = None) -> int:
    """The 1-based column of ``occurrence_of`` (default: ``needle``) on the line holding ``needle``."""
    line = path.read_text(encoding="utf-8").splitlines()[line_of(path, needle) - 1]
    return line.index(occurrence_of or needle) + 1


def problems_of(pack_dir: Path) -> list[Problem]:
    """The problems loading ``pack_dir`` reports (it must fail)."""
    with pytest.raises(RulePackError) as info:
        load_pack(pack_dir)
    assert info.value.problems, "RulePackError without problems"
    return info.value.problems


def profile_problems(pack_dir: Path, name: str) -> list[Problem]:
    pack = load_pack(pack_dir)
    with pytest.raises(RulePackError) as info:
        load_profile(pack, name)
    return info.value.problems


def only(problems: list[Problem], code: str) -> Problem:
    """The single problem with reason ``code`` (and fail with the whole list when there is not one)."""
    hits = [p for p in problems if p.code == code]
    assert len(hits) == 1, f"expected one {code}, got: " + "\n".join(p.text("en") for p in problems)
    return hits[0]


# A new rule file with a fixed layout: the condition value starts at line WHEN_LINE, column WHEN_COL.
RULE_FILE = "X-test.yaml"
RULE_ID = "PF-X01-TEST"
WHEN_LINE = 9
WHEN_COL = len("    when: ") + 1


def rule_yaml(when: str, rule_id: str = RULE_ID, message_en: str = "Project {project_id} is flagged.") -> str:
    """One rule; ``when`` is pasted verbatim after ``when: `` (so it may be quoted or a block)."""
    return (
        "# a test rule file\n"                                   # 1
        "rules:\n"                                               # 2
        f"  - id: {rule_id}\n"                                   # 3
        "    title: 测试规则\n"                                   # 4
        "    title_en: Test rule\n"                              # 5
        "    requirement: [P01]\n"                               # 6
        "    severity: 警告\n"                                    # 7
        "    scope: {record: project, stage: budgeting}\n"       # 8
        f"    when: {when}\n"                                    # 9
        "    message:\n"
        "      zh: 项目 {project_id} 有问题。\n"
        f"      en: {message_en}\n"
        "    recommendation:\n"
        "      zh: 请整改。\n"
        "      en: Fix it.\n"
        "    source:\n"
        "      - document: 测试文件\n"
        "        clause: 一\n"
        "        text: 条款原文\n"
    )


def broken_rule(tmp_path: Path, when: str, **kw: str) -> tuple[Path, list[Problem]]:
    """Add one rule with condition ``when`` to a copy of the pack; return its file and the problems."""
    pack = copy_pack(tmp_path)
    path = write(pack / RULE_FILE, rule_yaml(when, **kw))
    assert line_of(path, "    when: ") == WHEN_LINE
    return path, problems_of(pack)


def assert_at(p: Problem, path: Path, line: int, column: int | None = None, rule_id: str | None = RULE_ID) -> None:
    assert p.where.file is not None and Path(p.where.file) == path, p.where
    assert p.where.line == line, p.text("en")
    if column is not None:
        assert p.where.column == column, p.text("en")
    if rule_id is not None:
        assert p.where.rule_id == rule_id
        assert rule_id in p.text("en")


# ----------------------------------------------------------------------------- controls


def test_bundled_pack_and_national_profile_load(tmp_path: Path) -> None:
    pack = load_pack(copy_pack(tmp_path))
    assert {"PF-P01-NOGOAL", "PF-P05-EXANTE", "PF-M02-ZEROPAID", "PF-D01-BUDGETBOOK"} <= set(pack.rules)
    profile = load_profile(pack, "national")
    assert profile.params["ex_ante_threshold"] == 500000


def test_valid_added_rule_loads(tmp_path: Path) -> None:
    """The helper's rule file is itself valid, so each failure below comes from the one edit."""
    pack = copy_pack(tmp_path)
    write(pack / RULE_FILE, rule_yaml("is_new and amount >= params.ex_ante_threshold"))
    assert RULE_ID in load_pack(pack).rules


# ----------------------------------------------------------------------------- YAML and schema


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    path = edit(pack / "D-data.yaml", "    title_en: Budget type must be one of the four budget books",
                "    title_en: Budget type: must be one of the four budget books")
    p = only(problems_of(pack), "yaml.syntax")
    assert_at(p, path, line_of(path, "title_en: Budget type:"), col_of(path, "title_en: Budget type:", ": must"), None)
    assert "mapping values are not allowed" in p.en
    assert "indentation" in p.hint_en


def test_yaml_bad_indentation(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    path = edit(pack / "D-data.yaml", "    severity: 阻断", "   severity: 阻断")
    p = only(problems_of(pack), "yaml.syntax")
    assert_at(p, path, line_of(path, "   severity: 阻断"), 4, None)
    assert "YAML" in p.en and "YAML" in p.zh


def test_unknown_rule_field_when_typo(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    path = edit(pack / "D-data.yaml", "    when: budget_type", "    whn: budget_type")
    problems = problems_of(pack)
    p = only(problems, "schema.unknown-field")
    assert_at(p, path, line_of(path, "whn:"), 5, "PF-D01-BUDGETBOOK")
    assert p.where.field == "whn"
    assert "'whn'" in p.en
    assert "Did you mean 'when'" in p.hint_en
    assert "'when'" in p.hint_zh
    # The missing 'when' is reported too, on the rule it belongs to.
    missing = only(problems, "schema.invalid")
    assert "'when' is a required property" in missing.en
    assert missing.where.rule_id == "PF-D01-BUDGETBOOK"


def test_unknown_top_level_field(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    path = edit(pack / "M-execution.yaml", "\nrules:\n", "\nrulez:\n")
    p = only(problems_of(pack), "schema.unknown-field")
    assert_at(p, path, line_of(path, "rulez:"), 1, None)
    assert "'rulez'" in p.en and "Did you mean 'rules'" in p.hint_en


# ----------------------------------------------------------------------------- names in conditions


def test_unknown_field_single_line(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "is_new and amout >= 1")
    p = only(problems, "rule.unknown-field")
    assert_at(p, path, WHEN_LINE, WHEN_COL + len("is_new and "))
    assert p.where.field == "when"
    assert "'amout'" in p.en and "'amout'" in p.zh
    assert "Did you mean 'amount'" in p.hint_en


def test_unknown_field_single_quoted_condition(tmp_path: Path) -> None:
    # In a quoted scalar the expression starts one column after the quote.
    path, problems = broken_rule(tmp_path, "'is_new and amout >= 1'")
    p = only(problems, "rule.unknown-field")
    assert_at(p, path, WHEN_LINE, WHEN_COL + 1 + len("is_new and "))


def _p05_block_with_typo(tmp_path: Path) -> tuple[Path, Problem]:
    pack = copy_pack(tmp_path)
    path = edit(pack / "P-budgeting.yaml", "and (is_major or amount >= params.ex_ante_threshold)",
                "and (is_major or amout >= params.ex_ante_threshold)")
    return path, only(problems_of(pack), "rule.unknown-field")


def test_unknown_field_block_condition_second_line(tmp_path: Path) -> None:
    """PF-P05's ``when: |`` block: the typo on the block's second line is reported on that line."""
    path, p = _p05_block_with_typo(tmp_path)
    assert line_of(path, "when: |") + 2 == line_of(path, "amout >=")  # the block's second line
    assert_at(p, path, line_of(path, "amout >="), None, "PF-P05-EXANTE")
    assert "'amout'" in p.en and "Did you mean 'amount'" in p.hint_en


def test_unknown_field_block_condition_second_line_column(tmp_path: Path) -> None:
    path, p = _p05_block_with_typo(tmp_path)
    assert p.where.column == col_of(path, "amout >=", "amout")


def test_unknown_field_block_condition_first_line_column(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "|\n      amout >= 1\n      and is_new")
    p = only(problems, "rule.unknown-field")
    assert_at(p, path, WHEN_LINE + 1, 7)


def test_unknown_field_plain_multiline_condition(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "is_new\n      and amout >= 1")
    p = only(problems, "rule.unknown-field")
    assert_at(p, path, WHEN_LINE + 1, 11)


def test_unknown_function_suggests_count(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "cout(indicators) > 0")
    p = only(problems, "rule.unknown-function")
    assert_at(p, path, WHEN_LINE, WHEN_COL)
    assert "'cout'" in p.en and "Did you mean 'count'" in p.hint_en


def test_unknown_param_suggests_declared_one(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "amount >= params.ex_ante_treshold")
    p = only(problems, "rule.unknown-param")
    assert_at(p, path, WHEN_LINE, WHEN_COL + len("amount >= "))
    assert "'ex_ante_treshold'" in p.en
    assert "Did you mean 'ex_ante_threshold'" in p.hint_en


def test_bare_params_name(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "'params'")
    p = only(problems, "rule.param-syntax")
    assert "params.NAME" in p.en


def test_several_problems_in_one_condition_are_all_reported(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "|\n      is_new and\n      amout >= 1 and\n      cout(indicators) > 0")
    assert_at(only(problems, "rule.unknown-field"), path, WHEN_LINE + 2)
    assert_at(only(problems, "rule.unknown-function"), path, WHEN_LINE + 3)


# ----------------------------------------------------------------------------- types


@pytest.mark.parametrize("when, offset, fragment", [
    ('amount >= "abc"', 0, "cannot compare number with string"),
    ("as_of > 5", 0, "cannot compare date with number"),
    ("amount and is_new", 0, "expected a true/false condition here, got number"),
    ("is_new and amount", len("is_new and "), "expected a true/false condition here, got number"),
    ("project_name + 1 > 0", 0, "arithmetic + needs two numbers, got string and number"),
    ("-project_name > 0", 0, "unary sign needs a number, got string"),
    ("'amount in [1, \"a\"]'", 1 + len("amount in "), "list mixes types"),
    ("amount if is_new else project_name", 0, "branches of 'if' differ"),
    ("'date(\"2022-02-30\") > as_of'", 1, "invalid date"),
    ("'fy_date() > as_of'", 1, "fy_date() takes 1 argument(s), got 0"),
    ("amount + 1", 0, "a condition must be true/false, got number"),
])
def test_type_errors(tmp_path: Path, when: str, offset: int, fragment: str) -> None:
    path, problems = broken_rule(tmp_path, when)
    p = only(problems, "rule.type")
    assert_at(p, path, WHEN_LINE, WHEN_COL + offset)
    assert fragment in p.en
    assert p.zh and p.zh != p.en


def test_condition_that_is_not_true_false_in_block(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "|\n      amount\n      + 1")
    p = only(problems, "rule.type")
    assert_at(p, path, WHEN_LINE + 1)
    assert "must be true/false" in p.en and "是/否" in p.zh


# ----------------------------------------------------------------------------- aggregates


def test_aggregate_over_non_related_table(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "count(projects) > 0")
    p = only(problems, "rule.unknown-table")
    assert_at(p, path, WHEN_LINE, WHEN_COL + len("count("))
    assert "'projects'" in p.en and "related table" in p.en and "payments" in p.en


def test_aggregate_table_typo_suggests_table(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "count(payment) > 0")
    p = only(problems, "rule.unknown-table")
    assert "Did you mean 'payments'" in p.hint_en


def test_nested_aggregate(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "sum(payments, count(payments)) > 0")
    p = only(problems, "rule.nested-aggregate")
    assert_at(p, path, WHEN_LINE, WHEN_COL + len("sum(payments, "))
    assert "nested" in p.en


def test_record_field_inside_aggregate_is_unknown(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "count(indicators, budget_type == 'x') > 0")
    p = only(problems, "rule.unknown-field")
    assert_at(p, path, WHEN_LINE, WHEN_COL + len("count(indicators, "))
    assert "in table indicators" in p.en


# ----------------------------------------------------------------------------- forbidden constructs


@pytest.mark.parametrize("when, code, fragment", [
    ('"lambda: True"', "rule.unsupported", "Lambda"),
    ('"(lambda x: x)(1) > 0"', "rule.unsupported", "write a call as name("),
    ("amount.__class__", "rule.unknown-field", "unknown field path 'amount.__class__'"),
    ('funding_sources[0] == "x"', "rule.unsupported", "Subscript"),
    ('__import__("os")', "rule.unknown-function", "unknown function '__import__'"),
    ("'{\"a\": 1}'", "rule.unsupported", "Dict"),
    ("'[x for x in indicators]'", "rule.unsupported", "ListComp"),
    ("'amount ** 2 > 1'", "rule.unsupported", "only + - * /"),
    ("'amount is 5'", "rule.unsupported", "'is' is only for 'is None'"),
])
def test_forbidden_constructs(tmp_path: Path, when: str, code: str, fragment: str) -> None:
    path, problems = broken_rule(tmp_path, when)
    p = only(problems, code)
    assert_at(p, path, WHEN_LINE)
    assert fragment in p.en


@pytest.mark.parametrize("template, code", [
    ('open("{target}", "w")', "rule.unknown-function"),
    ('"__import__(\'os\').system(\'touch {target}\')"', "rule.unsupported"),
    ('"exec(\'open(\\"{target}\\", \\"w\\")\')"', "rule.unknown-function"),
])
def test_conditions_are_never_executed(tmp_path: Path, template: str, code: str) -> None:
    target = tmp_path / "pwned"
    path, problems = broken_rule(tmp_path, template.format(target=target))
    only(problems, code)
    assert not target.exists()


# ----------------------------------------------------------------------------- pack-level


def test_duplicate_rule_id_names_both_places(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    path = write(pack / RULE_FILE, rule_yaml("not has_goal", rule_id="PF-P01-NOGOAL"))
    p = only(problems_of(pack), "pack.duplicate-rule")
    assert_at(p, path, 3, len("  - id: ") + 1, "PF-P01-NOGOAL")
    first = pack / "P-budgeting.yaml"
    assert f"{first}:{line_of(first, 'id: PF-P01-NOGOAL')}" in p.en
    assert f"{first}:{line_of(first, 'id: PF-P01-NOGOAL')}" in p.zh


def test_template_name_not_provided_by_condition(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    path = edit(pack / "D-data.yaml", "en: Project {project_id} has budget type",
                "en: Project {project_id} has budget kind {budget_kind}, type")
    p = only(problems_of(pack), "rule.template-name")
    assert_at(p, path, line_of(path, "{budget_kind}"), col_of(path, "{budget_kind}", "Project"), "PF-D01-BUDGETBOOK")
    assert p.where.field == "message.en"
    assert "{budget_kind}" in p.en
    assert "Did you mean 'budget_type'" in p.hint_en


def test_template_name_in_new_rule(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "not has_goal", message_en="Project {project_id} asks {amount}.")
    p = only(problems, "rule.template-name")
    assert_at(p, path, line_of(path, "asks {amount}"))
    assert "{amount}" in p.en


def test_all_problems_across_files_are_reported(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    d01 = edit(pack / "D-data.yaml", "when: budget_type not in", "when: budget_typ not in")
    m02 = edit(pack / "M-execution.yaml", "paid == 0", 'paid == "0"')
    problems = problems_of(pack)
    assert len(problems) >= 2
    field = only(problems, "rule.unknown-field")
    assert_at(field, d01, line_of(d01, "budget_typ not in"), col_of(d01, "budget_typ not in"), "PF-D01-BUDGETBOOK")
    typ = only(problems, "rule.type")
    assert_at(typ, m02, line_of(m02, 'paid == "0"'), col_of(m02, 'paid == "0"'), "PF-M02-ZEROPAID")


def test_yaml_error_in_one_file_does_not_hide_rule_error_in_another(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    edit(pack / "D-data.yaml", "    severity: 阻断", "   severity: 阻断")
    path = write(pack / RULE_FILE, rule_yaml("amount >= = 1"))
    problems = problems_of(pack)
    assert Path(only(problems, "yaml.syntax").where.file).name == "D-data.yaml"
    assert_at(only(problems, "rule.syntax"), path, WHEN_LINE)


def test_while_a_file_cannot_be_read_a_name_it_may_declare_is_not_reported_missing(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    edit(pack / "D-data.yaml", "    severity: 阻断", "   severity: 阻断")
    write(pack / RULE_FILE, rule_yaml("amout >= 1"))  # a typo, or a derived fact D-data.yaml declares: unknown now
    assert [p.code for p in problems_of(pack)] == ["yaml.syntax"]


def test_missing_rules_directory(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path / "nope"), "pack.not-found")
    assert "nope" in p.en


def test_syntax_error_at_end_of_condition_is_on_its_line(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "amount > 1 and")
    p = only(problems, "rule.syntax")
    assert_at(p, path, WHEN_LINE)


def test_syntax_error_inside_condition(tmp_path: Path) -> None:
    path, problems = broken_rule(tmp_path, "amount >= = 1")
    p = only(problems, "rule.syntax")
    assert_at(p, path, WHEN_LINE, WHEN_COL + len("amount >= "))
    assert "syntax error" in p.en and "brackets" in p.hint_en


# ----------------------------------------------------------------------------- profiles


def add_profiles(pack: Path, **files: str) -> dict[str, Path]:
    return {name: write(pack / "profiles" / f"{name}.yaml", text) for name, text in files.items()}


def test_profile_cycle(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    paths = add_profiles(pack, a="profile: a\ntitle: A\nextends: b\n", b="profile: b\ntitle: B\nextends: a\n")
    p = only(profile_problems(pack, "a"), "profile.cycle")
    assert_at(p, paths["b"], 3, len("extends: ") + 1, None)
    assert "a → b → a" in p.en


def test_profile_extends_itself(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    paths = add_profiles(pack, a="profile: a\ntitle: A\nextends: a\n")
    p = only(profile_problems(pack, "a"), "profile.cycle")
    assert_at(p, paths["a"], 3, None, None)


def test_profile_unknown_base(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    paths = add_profiles(pack, a="profile: a\ntitle: A\nextends: nationl\n")
    p = only(profile_problems(pack, "a"), "profile.unknown")
    assert_at(p, paths["a"], 3, len("extends: ") + 1, None)
    assert "'nationl'" in p.en and "Did you mean 'national'" in p.hint_en


def test_unknown_profile_lists_available(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    add_profiles(pack, qitai="profile: qitai\ntitle: 奇台县\nextends: national\n")
    p = only(profile_problems(pack, "nosuch"), "profile.unknown")
    assert "'nosuch'" in p.en
    assert "national" in p.hint_en and "qitai" in p.hint_en


def test_profile_unknown_param(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    paths = add_profiles(pack, a="profile: a\ntitle: A\nextends: national\nparams:\n  ex_ante_treshold: 1000000\n")
    p = only(profile_problems(pack, "a"), "profile.unknown-param")
    assert_at(p, paths["a"], 5, 3, None)
    assert p.where.field == "ex_ante_treshold"
    assert "'ex_ante_treshold'" in p.en and "Did you mean 'ex_ante_threshold'" in p.hint_en


def test_profile_enables_unknown_rule(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    paths = add_profiles(pack, a="profile: a\ntitle: A\nextends: national\nenable:\n  - PF-P01-NOGOL\n")
    p = only(profile_problems(pack, "a"), "profile.unknown-rule")
    assert_at(p, paths["a"], 5, 5, "PF-P01-NOGOL")
    assert "Did you mean 'PF-P01-NOGOAL'" in p.hint_en


@pytest.mark.parametrize("key, value, fragment", [
    ("ex_ante_threshold", "一百万", "must be of type money"),
    ("ex_ante_threshold", "-5", "must be of type money"),
    ("zero_payment_checkpoint", '"13-45"', "must be of type month_day"),
    ("cut_grades", "差", "must be of type list"),
])
def test_profile_param_wrong_type(tmp_path: Path, key: str, value: str, fragment: str) -> None:
    pack = copy_pack(tmp_path)
    paths = add_profiles(pack, a=f"profile: a\ntitle: A\nextends: national\nparams:\n  {key}: {value}\n")
    p = only(profile_problems(pack, "a"), "profile.param-type")
    assert_at(p, paths["a"], 5, 3, None)
    assert f"'{key}'" in p.en and fragment in p.en


def test_profile_problems_are_all_reported(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    add_profiles(pack, a="profile: a\ntitle: A\nextends: national\nparams:\n  ex_ante_treshold: 1\n"
                         "  zero_payment_checkpoint: nope\ndisable:\n  - PF-NOPE-X\n")
    codes = sorted(p.code for p in profile_problems(pack, "a"))
    assert codes == ["profile.param-type", "profile.unknown-param", "profile.unknown-rule"]


def test_valid_profile_overrides_parameter(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path)
    add_profiles(pack, a="profile: a\ntitle: A\nextends: national\nparams:\n  ex_ante_threshold: 1000000\n"
                         "disable:\n  - PF-P05-EXANTE\n")
    profile = load_profile(load_pack(pack), "a")
    assert profile.params["ex_ante_threshold"] == 1000000
    assert profile.chain == ("national", "a")
    assert "PF-P05-EXANTE" not in profile.enabled
