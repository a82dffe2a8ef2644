"""The field catalogue: every table and column the engine knows, with its type and Chinese headers.

This is the one place that says what the data contract (``shared/docs/data-contract.md``) means in
code. Loaders use it to map headers and parse values, the rule type-checker uses it to know what a
field name refers to, and the JSON Schemas are checked against it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

# Value kinds understood by ``perfrules.inputs.values.parse_column``; "money" is a number in 元.
KIND_TO_TYPE = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "money": "number",
    "bool": "bool",
    "date": "date",
    "month": "date",
    "grade": "string",
    "list": "list[string]",
}


@dataclass(frozen=True)
class Column:
    """One column of a normalised table."""

    name: str
    kind: str
    zh: str
    aliases: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        """The rule-language type of this column (number, string, bool, date or list)."""
        return KIND_TO_TYPE[self.kind]


@dataclass(frozen=True)
class Table:
    """One normalised table: its columns, its key, and its Chinese file names."""

    name: str
    zh: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    required: tuple[str, ...] = ()
    by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({c.name: c for c in self.columns})

    def column(self, name: str) -> Column | None:
        """The column called ``name``, or None."""
        return self.by_name.get(name)


def _c(name: str, kind: str, zh: str, *aliases: str) -> Column:
    return Column(name, kind, zh, aliases)


PROJECTS = Table(
    "projects",
    "项目",
    ("project_id", "fiscal_year"),
    (
        _c("project_id", "string", "项目编码", "项目代码", "项目编号"),
        _c("project_name", "string", "项目名称"),
        _c("fiscal_year", "integer", "预算年度", "年度"),
        _c("jurisdiction", "string", "地区"),
        _c("department", "string", "主管部门", "部门"),
        _c("unit", "string", "预算单位", "单位"),
        _c("kind", "string", "类型", "项目类型"),
        _c("expense_category", "string", "支出类别"),
        _c("budget_type", "string", "预算类型"),
        _c("funding_sources", "list", "资金来源"),
        _c("amount", "money", "申请金额", "申请金额(元)"),
        _c("prior_year_amount", "money", "上年预算金额", "上年预算金额(元)"),
        _c("is_new", "bool", "是否新增"),
        _c("is_major", "bool", "是否重大"),
        _c("start_date", "date", "实施开始日期"),
        _c("end_date", "date", "实施结束日期"),
        _c("responsible_person", "string", "项目责任人"),
        _c("has_goal", "bool", "是否设定绩效目标"),
        _c("goal_review_status", "string", "绩效目标审核状态", "审核状态"),
        _c("goal_multi_year", "bool", "是否设定中期目标"),
        _c("goal_published", "bool", "绩效目标是否公开"),
        _c("ex_ante_report_id", "string", "事前评估报告编号"),
        _c("ex_ante_conclusion", "string", "事前评估结论"),
        _c("ex_ante_date", "date", "事前评估日期"),
        _c("prior_year", "integer", "上年评价年度"),
        _c("prior_self_evaluated", "bool", "上年是否自评"),
        _c("prior_score", "number", "上年评价得分"),
        _c("prior_grade", "grade", "上年评价等级"),
        _c("prior_evaluator", "string", "上年评价方式"),
        _c("prior_goals_met", "bool", "上年目标是否完成"),
        _c("prior_explanation", "string", "上年情况说明"),
        _c("prior_rectification", "string", "上年整改情况"),
        _c("prior_published", "bool", "上年评价是否公开"),
        _c("budget", "money", "预算金额"),
        _c("paid_to_date", "money", "已支付金额"),
        _c("carryover_years", "integer", "结转年数"),
        _c("ppp_subsidy_paid", "money", "PPP运营补助已付金额"),
        _c("budget_approved_on", "date", "预算批复日期"),
    ),
    required=("project_id", "fiscal_year"),
)

INDICATORS = Table(
    "indicators",
    "绩效指标",
    ("project_id", "fiscal_year"),
    (
        _c("project_id", "string", "项目编码", "项目代码", "项目编号"),
        _c("fiscal_year", "integer", "预算年度", "年度"),
        _c("level1", "string", "一级指标"),
        _c("level2", "string", "二级指标"),
        _c("name", "string", "指标名称"),
        _c("target", "string", "指标值"),
        _c("target_value", "number", "指标数值"),
        _c("unit", "string", "计量单位"),
    ),
    required=("project_id", "fiscal_year"),
)

PAYMENTS = Table(
    "payments",
    "支付明细",
    ("project_id", "fiscal_year"),
    (
        _c("project_id", "string", "项目编码", "项目代码", "项目编号"),
        _c("fiscal_year", "integer", "预算年度", "年度"),
        _c("date", "date", "支付日期"),
        _c("amount", "money", "支付金额"),
    ),
    required=("project_id", "fiscal_year"),
)

MONITORING = Table(
    "monitoring",
    "绩效监控",
    ("project_id", "fiscal_year"),
    (
        _c("project_id", "string", "项目编码", "项目代码", "项目编号"),
        _c("fiscal_year", "integer", "预算年度", "年度"),
        _c("month", "month", "监控月份"),
        _c("goal_deviation", "bool", "是否偏离绩效目标"),
        _c("poor_execution", "bool", "执行进度是否滞后"),
        _c("serious_problem", "bool", "是否存在严重问题"),
        _c("note", "string", "备注"),
    ),
    required=("project_id", "fiscal_year"),
)

# Evaluations are keyed by the project and the year evaluated; a project's related evaluations are
# those of earlier years than its fiscal year (see perfrules.evaluation.facts).
EVALUATIONS = Table(
    "evaluations",
    "绩效评价",
    ("project_id",),
    (
        _c("project_id", "string", "项目编码", "项目代码", "项目编号"),
        _c("year", "integer", "评价年度"),
        _c("grade", "grade", "评价等级"),
        _c("score", "number", "评价得分"),
        _c("self_evaluated", "bool", "是否开展自评"),
        _c("evaluator", "string", "评价方式"),
        _c("goals_met", "bool", "目标是否完成"),
        _c("explanation", "string", "情况说明"),
        _c("rectification", "string", "整改情况"),
        _c("published", "bool", "是否公开"),
    ),
    required=("project_id", "year"),
)

DEPARTMENTS = Table(
    "departments",
    "部门整体",
    ("department", "fiscal_year"),
    (
        _c("department", "string", "主管部门", "部门"),
        _c("fiscal_year", "integer", "预算年度", "年度"),
        _c("jurisdiction", "string", "地区"),
        _c("aspects", "list", "整体绩效目标方面"),
        _c("mid_year_monitored", "bool", "是否开展年中监控"),
        _c("self_evaluated", "bool", "是否开展整体自评"),
        _c("overall_grade", "grade", "整体绩效评价等级"),
        _c("budget", "money", "部门预算金额", "部门预算金额(元)"),
        _c("prior_year_budget", "money", "上年部门预算金额", "上年部门预算金额(元)"),
    ),
    required=("department", "fiscal_year"),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (PROJECTS, INDICATORS, PAYMENTS, MONITORING, EVALUATIONS, DEPARTMENTS)
}
# Tables whose rows belong to a project; the rule language aggregates over them.
RELATED_TABLES = ("indicators", "payments", "monitoring", "evaluations")
# Tables a rule can be scoped to: one finding per row of these.
RECORD_TABLES = ("projects", "departments")

_UNIT_IN_HEADER = re.compile(r"^(?P<label>.*?)\s*[（(]\s*(?P<unit>[^()（）]*)\s*[)）]\s*$")
UNIT_MULTIPLIERS = {"元": 1.0, "万元": 10_000.0, "万": 10_000.0, "亿元": 100_000_000.0}


def header_index(table: Table) -> dict[str, str]:
    """Map every accepted header (English name, Chinese label, alias; case-folded) to a column name."""
    return _header_index(table.name)


@functools.cache
def _header_index(name: str) -> dict[str, str]:
    # Cached by name: hashing a Table hashes all its columns, which is slow on a hot path.
    table = TABLES[name]
    index: dict[str, str] = {}
    for col in table.columns:
        for label in (col.name, col.zh, *col.aliases):
            index[_fold(label)] = col.name
    return index


def split_header(header: str) -> tuple[str, float | None]:
    """Split ``申请金额(万元)`` into (``申请金额``, 10000.0); a header with no unit gives (header, None)."""
    text = str(header).strip().lstrip("\ufeff")
    m = _UNIT_IN_HEADER.match(text)
    if m and m.group("unit") in UNIT_MULTIPLIERS:
        return m.group("label"), UNIT_MULTIPLIERS[m.group("unit")]
    return text, None


def _fold(label: str) -> str:
    return re.sub(r"\s+", "", label).replace("（", "(").replace("）", ")").casefold()


def resolve_header(table: Table, header: str) -> tuple[str | None, float | None]:
    """The column a raw header names (or None) and the unit multiplier it carries."""
    label, unit = split_header(header)
    index = header_index(table)
    return index.get(_fold(label)) or index.get(_fold(str(header).lstrip("\ufeff"))), unit


def table_for_file_stem(stem: str) -> Table | None:
    """The table an export file's name (without extension) stands for, in English or Chinese."""
    folded = _fold(stem)
    for table in TABLES.values():
        if folded in (_fold(table.name), _fold(table.zh)):
            return table
    return None


# How a submission's nested objects flatten into ``projects`` columns; the rule language accepts the
# nested path too (``performance_goal.review_status`` is ``goal_review_status``).
NESTED_PREFIXES = {
    "performance_goal": "goal_",
    "ex_ante_assessment": "ex_ante_",
    "prior_evaluation": "prior_",
    "execution": "",
}


def flattened_name(path: tuple[str, ...]) -> str | None:
    """The ``projects`` column a nested path names, e.g. ("prior_evaluation", "grade") → "prior_grade"."""
    if len(path) == 2 and path[0] in NESTED_PREFIXES:
        name = NESTED_PREFIXES[path[0]] + path[1]
        return name if PROJECTS.column(name) else None
    return None
