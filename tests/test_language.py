"""Rule-language semantics, through the real pipeline: parse → compile → fact layer → pandas mask.

``outcome(cond, projects)`` returns, per project, True / False / None (unknown).
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from perfrules.evaluation.facts import build_facts
from perfrules.evaluation.vectorised import Context, evaluate_bool
from perfrules.inputs.submission import submission_dataset
from perfrules.rulepack.compile import compile_pack
from perfrules.rulepack.pack import load_pack

PACK = """
pack: {name: t, version: "1"}
params:
  limit: {type: money, default: 100, title: 限额}
  grades: {type: list, default: [差, 低], title: 等级}
  aliases: {type: mapping, default: {一般: 中}, title: 对照}
  checkpoint: {type: month_day, default: "10-31", title: 节点}
derived:
  rate: {expr: "paid_to_date / budget", title: 执行率}
"""


def outcome(tmp: Path, cond: str, projects: list[dict], as_of: str = "2022-11-15") -> list[bool | None]:
    (tmp / "pack.yaml").write_text(PACK, encoding="utf-8")
    rule = f"""
    rules:
      - id: T-X01-TEST
        title: 测试
        title_en: test
        requirement: [P01]
        severity: 提示
        scope: {{record: project, stage: data}}
        when: {cond!r}
        message: {{zh: 测试, en: test}}
        recommendation: {{zh: 测试, en: test}}
        source: [{{document: d, clause: c, text: t}}]
    """
    (tmp / "rules.yaml").write_text(textwrap.dedent(rule), encoding="utf-8")
    compiled = compile_pack(load_pack(tmp), _baseline(tmp))
    rows = [{"project_id": f"X{i}", "fiscal_year": 2022, **p} for i, p in enumerate(projects)]
    ds = submission_dataset(rows, [], "t.json")
    when = dt.date.fromisoformat(as_of)
    facts = build_facts(ds, compiled, when)
    mask = evaluate_bool(compiled.rules[0].condition, Context(facts.frames["projects"], compiled.params, when))
    return [None if v is None or str(v) == "<NA>" else bool(v) for v in mask.astype(object).tolist()]


def _baseline(tmp: Path) -> str:
    (tmp / "profiles").mkdir(exist_ok=True)
    (tmp / "profiles" / "national.yaml").write_text("profile: national\ntitle: 基线\n", encoding="utf-8")
    return "national"


def test_comparison_with_missing_is_unknown(tmp_path):
    assert outcome(tmp_path, "amount >= 100", [{"amount": 100}, {"amount": 99}, {}]) == [True, False, None]


def test_kleene_and_or_not(tmp_path):
    projects = [{"amount": None, "is_new": False}, {"amount": None, "is_new": True}]
    assert outcome(tmp_path, "is_new and amount > 1", projects) == [False, None]
    assert outcome(tmp_path, "not is_new or amount > 1", projects) == [True, None]
    assert outcome(tmp_path, "not (amount > 1)", projects) == [None, None]


def test_kleene_truth_tables(tmp_path):
    # every pair of true / false / unknown, against the truth tables of three-valued logic
    values = [True, False, None]
    pairs = [(a, b) for a in values for b in values]
    projects = [{"is_new": a, "is_major": b} for a, b in pairs]
    expect_and = [False if a is False or b is False else None if a is None or b is None else True for a, b in pairs]
    expect_or = [True if a is True or b is True else None if a is None or b is None else False for a, b in pairs]
    assert outcome(tmp_path, "is_new and is_major", projects) == expect_and
    assert outcome(tmp_path, "is_new or is_major", projects) == expect_or
    assert outcome(tmp_path, "not is_new", projects) == [None if a is None else not a for a, _ in pairs]
    assert outcome(tmp_path, "is_new and is_major and not is_new", projects) == [
        False if a is not None or b is False else None for a, b in pairs]


def test_is_none_is_never_unknown(tmp_path):
    projects = [{"amount": None}, {"amount": 5}]
    assert outcome(tmp_path, "amount is None", projects) == [True, False]
    assert outcome(tmp_path, "amount is not None", projects) == [False, True]
    assert outcome(tmp_path, "missing(amount) or present(responsible_person)", projects) == [True, False]


def test_membership_and_params(tmp_path):
    projects = [{"prior_evaluation": {"grade": "差"}}, {"prior_evaluation": {"grade": "良"}}, {}]
    assert outcome(tmp_path, "prior_grade in params.grades", projects) == [True, False, None]
    assert outcome(tmp_path, 'prior_grade not in ["优", "良"]', projects) == [True, False, None]
    assert outcome(tmp_path, 'lookup(prior_grade, params.aliases) == "中"', [{"prior_evaluation": {"grade": "一般"}}]) == [True]


def test_membership_in_a_list_field(tmp_path):
    projects = [{"funding_sources": ["专项资金", "PPP"]}, {"funding_sources": ["专项资金"]}, {}]
    assert outcome(tmp_path, '"PPP" in funding_sources', projects) == [True, False, None]


def test_arithmetic_and_division_by_zero(tmp_path):
    projects = [{"execution": {"paid_to_date": 30, "budget": 100}}, {"execution": {"paid_to_date": 30, "budget": 0}}]
    assert outcome(tmp_path, "rate < 0.5", projects) == [True, None]
    assert outcome(tmp_path, "amount * 2 - 1 > params.limit", [{"amount": 51}, {"amount": 50}]) == [True, False]


def test_if_else_and_coalesce(tmp_path):
    projects = [{"amount": 10, "prior_year_amount": None}, {"amount": 10, "prior_year_amount": 20}]
    assert outcome(tmp_path, "coalesce(prior_year_amount, 0) > 15", projects) == [False, True]
    assert outcome(tmp_path, "(amount if prior_year_amount is None else prior_year_amount) == 10", projects) == [True, False]


def test_nested_paths_and_chinese_names(tmp_path):
    projects = [{"performance_goal": {"review_status": "未通过"}, "amount": 600000}]
    assert outcome(tmp_path, 'performance_goal.review_status == "未通过"', projects) == [True]
    assert outcome(tmp_path, "申请金额 >= 500000 and 绩效目标审核状态 == \"未通过\"", projects) == [True]


def test_dates(tmp_path):
    projects = [{"end_date": "2022-06-30"}, {"end_date": "2022-12-31"}]
    assert outcome(tmp_path, "end_date <= month_end(6)", projects) == [True, False]
    assert outcome(tmp_path, 'days_between(date("2022-06-01"), end_date) == 29', projects) == [True, False]
    assert outcome(tmp_path, "as_of >= fy_date(params.checkpoint)", projects, as_of="2022-10-31") == [True, True]
    assert outcome(tmp_path, "as_of >= fy_date(params.checkpoint)", projects, as_of="2022-10-30") == [False, False]
    assert outcome(tmp_path, "months_elapsed() == 10", projects, as_of="2022-10-30") == [True, True]
    assert outcome(tmp_path, "year(end_date) == 2022 and month(end_date) == 12", projects) == [False, True]


def test_count_any_all(tmp_path):
    goal = lambda *levels: {"performance_goal": {"indicators": [{"level1": lv} for lv in levels]}}
    projects = [goal("产出指标", "效益指标"), goal("效益指标"), goal(), goal("产出指标", None)]
    # A row whose level is unknown makes the count unknown (it could be 1 or 2) …
    assert outcome(tmp_path, 'count(indicators, level1 == "产出指标") >= 1', projects) == [True, False, False, None]
    assert outcome(tmp_path, "count(indicators) == 0", projects) == [False, False, True, False]
    assert outcome(tmp_path, 'count(indicators, level1 == "效益指标") == 0', projects) == [False, False, True, None]
    # … but any() is decided by a true row, all() by a false one.
    assert outcome(tmp_path, 'any(indicators, level1 == "产出指标")', projects) == [True, False, False, True]
    assert outcome(tmp_path, 'all(indicators, level1 == "效益指标")', projects) == [False, True, True, False]


def test_sum_of_no_rows_is_zero_and_min_max_have_no_value(tmp_path):
    # Supplied means complete (issue 14): a project with no rows in a supplied table paid nothing.
    pay = lambda *amts: {"payments": [{"date": "2022-03-01", "amount": a} for a in amts]}
    projects = [pay(100, 50), pay(), pay(7)]
    assert outcome(tmp_path, "sum(payments, amount) == 150", projects) == [True, False, False]
    assert outcome(tmp_path, "sum(payments, amount) == 0", projects) == [False, True, False]
    assert outcome(tmp_path, "min(payments, amount) == 50 or max(payments, amount) == 7", projects) == [True, None, True]
    assert outcome(tmp_path, "sum(payments, amount, date > as_of) == 0", projects) == [True, True, True]


def test_aggregate_over_absent_table_is_unknown(tmp_path):
    assert outcome(tmp_path, "count(monitoring) == 0", [{}]) == [None]


def test_streak_over_evaluation_history(tmp_path):
    hist = lambda *grades: {"evaluation_history": [{"year": 2021 - i, "grade": g} for i, g in enumerate(grades)]}
    projects = [hist("差", "中", "良"), hist("差", "良", "差"), hist("良", "差"), hist()]
    cond = 'streak(evaluations, grade in ["中", "差"]) >= 2'
    assert outcome(tmp_path, cond, projects) == [True, False, False, False]


def test_evaluations_relate_to_the_fiscal_year_and_earlier(tmp_path):
    projects = [{"evaluation_history": [{"year": 2023, "grade": "差"}, {"year": 2022, "grade": "良"}, {"year": 2021, "grade": "中"}]}]
    assert outcome(tmp_path, 'count(evaluations, grade == "差") == 0', projects) == [True]
    assert outcome(tmp_path, 'count(evaluations) == 2', projects) == [True]
    # Inside an aggregate over evaluations, fiscal_year is the project's.
    assert outcome(tmp_path, 'any(evaluations, year == fiscal_year and grade == "良")', projects) == [True]


def test_missing_items(tmp_path):
    from perfrules.inputs.submission import submission_dataset  # noqa: F401 - departments go through the same loader
    projects = [{"funding_sources": ["专项资金"]}, {"funding_sources": ["专项资金", "PPP"]}]
    assert outcome(tmp_path, 'len(missing_items(["专项资金", "PPP"], funding_sources)) == 1', projects) == [True, False]


@pytest.mark.parametrize("cond, code", [
    ("__import__('os').system('touch /tmp/perfrules-pwned')", "rule.unsupported"),
    ("__import__('os')", "rule.unknown-function"),
    ("open('/tmp/perfrules-pwned', 'w')", "rule.unknown-function"),
    ("amount.__class__", "rule.unknown-field"),
    ("(lambda: 1)()", "rule.unsupported"),
])
def test_code_in_conditions_is_rejected_not_run(tmp_path, cond, code):
    from perfrules.errors import RulePackError
    with pytest.raises(RulePackError) as exc:
        outcome(tmp_path, cond, [{}])
    assert exc.value.problems[0].code == code
    assert not Path("/tmp/perfrules-pwned").exists()


def test_d03_blames_only_the_values_that_left_the_outcome_unknown(tmp_path):
    """(amount > 1 and prior_year_amount > 1) or budget > 1: with amount 0 the 'and' is false whatever
    prior_year_amount is, so only the missing budget leaves the outcome unknown."""
    import datetime as dt

    from perfrules.evaluation.check import check
    outcome(tmp_path, "(amount > 1 and prior_year_amount > 1) or budget > 1", [{}])  # writes the pack
    compiled = compile_pack(load_pack(tmp_path), "national")
    ds = submission_dataset([{"project_id": "X", "fiscal_year": 2022, "amount": 0, "prior_year_amount": None,
                              "execution": {"budget": None}}], [], "t.json")
    [d03] = check(ds, compiled, dt.date(2022, 11, 15)).findings
    assert d03.rule_id == "PF-D03-MISSING" and d03.evidence["missing"] == ["budget"]


def test_numbers_and_dates_compare_as_pandas_compares_them():
    # Number and date comparisons are done in NumPy; each must say what pandas' own comparison says,
    # for every pairing of nullable, plain and scalar operands, with missing cells unknown.
    import operator

    import numpy as np
    import pandas as pd

    import perfrules.language.expr as E
    from perfrules.evaluation.vectorised import evaluate_truth

    frame = pd.DataFrame({
        "f": pd.array([1.5, None, 2.0, -0.0, 2**53 + 1], dtype="Float64"),
        "i": pd.array([2, 3, None, 0, 2**53 + 1], dtype="Int64"),
        "nf": np.array([1.5, 3.0, np.nan, 0.0, 7.0]),
        "ni": np.array([1, 3, 2, 0, 2**53], dtype=np.int64),  # 2**53 + 1 and 2**53 differ, as integers only
        "f32": pd.array([0.1, None, 2.0, 16777217.0, 1.5], dtype="Float32"),  # float32: compared in float32
        "d": pd.to_datetime(["2022-10-31", None, "2022-01-01", "2021-12-31", "2022-10-31"]),
        "d2": pd.to_datetime(["2022-11-30", "2022-01-01", None, "2021-12-31", "2022-10-30"]),
    })
    ctx = Context(frame, {}, dt.date(2022, 10, 31))
    numbers = [E.Ref(space="column", name=c) for c in ("f", "i", "nf", "ni", "f32")] + [
        E.Literal(value=2.0, type="number"), E.Literal(value=3, type="number"), E.Literal(value=0.1, type="number"),
        E.Literal(value=16777217, type="number")]
    # dates beyond the nanosecond range ("no end date") must not wrap around
    dates = [E.Ref(space="column", name="d"), E.Ref(space="column", name="d2"), E.Ref(space="builtin", name="as_of"),
             E.Literal(value="2022-01-01", type="date"), E.Literal(value="9999-12-31", type="date"),
             E.Literal(value="1600-01-01", type="date")]

    def operand(node):
        if isinstance(node, E.Ref):
            return pd.Timestamp(ctx.as_of) if node.space == "builtin" else frame[node.name]
        return pd.Timestamp(node.value) if node.type == "date" else node.value

    for group in (numbers, dates):
        for left in group:
            for right in group:
                for op, fn in (("<", operator.lt), ("<=", operator.le), ("==", operator.eq), ("!=", operator.ne),
                               (">", operator.gt), (">=", operator.ge)):
                    if not isinstance(left, E.Ref) and not isinstance(right, E.Ref):
                        continue
                    got = evaluate_truth(E.Compare(op=op, left=left, right=right), ctx)
                    a, b = operand(left), operand(right)
                    unknown = np.asarray(pd.isna(a) | pd.isna(b)) & np.ones(len(frame), bool)
                    want = fn(a, b)  # pandas' own comparison (of two dates, one answer for every row)
                    want = (want.fillna(False).to_numpy(dtype=bool) if isinstance(want, pd.Series) else want) & ~unknown
                    assert got.unknown.tolist() == unknown.tolist(), (left, op, right)
                    assert got.true.tolist() == want.tolist(), (left, op, right)


def test_arithmetic_on_numbers_is_what_pandas_computes():
    # + - * / are done in NumPy; each must give what pandas' nullable floats give (missing stays missing,
    # inf - inf is missing, division by zero is missing, not infinite).
    import numpy as np
    import pandas as pd

    import perfrules.language.expr as E
    from perfrules.evaluation.vectorised import evaluate

    frame = pd.DataFrame({"a": pd.array([1.5, None, 0.0, -0.0, np.inf, 7.0, 2.0**60], dtype="Float64"),
                          "b": pd.array([2.0, 3.0, None, 0.0, np.inf, -0.0, 3.0], dtype="Float64"),
                          "i": pd.array([2, None, 0, 5, 1, 0, 2**53 + 1], dtype="Int64")})
    ctx = Context(frame, {}, dt.date(2022, 10, 31))
    operands = [E.Ref(space="column", name=c) for c in frame] + [E.Literal(value=0, type="number"),
                                                                   E.Literal(value=2.5, type="number")]

    def reference(op, a, b):  # the pandas computation the NumPy one stands in for
        a = a.astype("Float64") if isinstance(a, pd.Series) else a
        b = b.astype("Float64") if isinstance(b, pd.Series) else b
        if op == "/":
            b = b.mask(b == 0) if isinstance(b, pd.Series) else (pd.NA if b == 0 else b)
        return {"+": a.__add__, "-": a.__sub__, "*": a.__mul__, "/": a.__truediv__}[op](b) if isinstance(a, pd.Series) \
            else {"+": b.__radd__, "-": b.__rsub__, "*": b.__rmul__, "/": b.__rtruediv__}[op](a)

    for left in operands:
        for right in operands:
            if not isinstance(left, E.Ref) and not isinstance(right, E.Ref):
                continue
            for op in "+-*/":
                got = evaluate(E.Arith(op=op, left=left, right=right), ctx)
                a = frame[left.name] if isinstance(left, E.Ref) else left.value
                b = frame[right.name] if isinstance(right, E.Ref) else right.value
                want = reference(op, a, b)
                assert str(got.dtype) == "Float64", (left, op, right)
                assert got.isna().tolist() == want.isna().tolist(), (left, op, right)
                assert [repr(v) for v in got.dropna()] == [repr(v) for v in want.dropna()], (left, op, right)
