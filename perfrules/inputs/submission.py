"""Load submissions (JSON or YAML: one project, a list, or ``{projects, departments}``) into a Dataset.

Nested objects flatten into the same tables an export folder has (``performance_goal.review_status``
→ ``projects.goal_review_status``; ``performance_goal.indicators[]`` → ``indicators`` rows …), so
every rule runs unchanged on both shapes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from perfrules.errors import InputError, Problem, Where
from perfrules.inputs.dataset import Dataset, ValueIssue, assemble, typed_frame
from perfrules.inputs.values import ValueUnreadable, parse_value
from perfrules.language.fields import NESTED_PREFIXES, PROJECTS, TABLES, UNIT_MULTIPLIERS, header_index
from perfrules.yaml_source import YamlUnreadable, load_yaml

# Chinese names of the nested parts of a submission.
NESTED_ZH = {
    "绩效目标": "performance_goal", "事前绩效评估": "ex_ante_assessment", "上年度绩效评价": "prior_evaluation",
    "历年评价": "evaluation_history", "预算执行": "execution", "绩效监控": "monitoring", "支付明细": "payments",
    "绩效指标": "indicators", "整体绩效目标": "overall_goal", "部门整体": "departments", "项目": "projects",
}
_LISTS = ("indicators", "payments", "monitoring", "evaluation_history")


def read_document(path: Path, display: str | None = None) -> Any:
    """A submission file's document (JSON or YAML), or ``InputError`` naming the file and line."""
    if not path.is_file():
        name = display or str(path)
        raise InputError([Problem("input.not-found", f"输入不存在：{name!r}。", f"input {name!r} does not exist.", Where(file=name))])
    return _read(path, display or str(path))


def load_submission(path: Path, display: str | None = None) -> Dataset:
    """Read one submission file; structural problems raise ``InputError`` naming the file and item."""
    name = display or str(path)
    data = _read(path, name)
    if isinstance(data, dict) and ("projects" in data or "departments" in data or "项目" in data):
        projects = data.get("projects", data.get("项目")) or []
        departments = data.get("departments", data.get("部门整体")) or []
        prefix = "projects"
        as_of = data.get("as_of")
    elif isinstance(data, list):
        projects, departments, prefix, as_of = data, [], "", None
    elif isinstance(data, dict):
        projects, departments, prefix, as_of = [data], [], None, None
    else:
        raise InputError([Problem("input.shape", "提交文件须为一个项目对象、项目列表或 {projects, departments}。",
                                  "a submission must be a project object, a list of projects, or {projects, departments}.",
                                  Where(file=name))])
    ds = submission_dataset(projects, departments, name, prefix)
    ds.as_of = _as_of(as_of, name)
    return ds


def _as_of(value: Any, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError([Problem("input.as-of", f"as_of 须为 YYYY-MM-DD 日期，实际为 {value!r}。",
                                  f"as_of must be a YYYY-MM-DD date, got {value!r}.", Where(file=name, field="as_of"))]) from exc


@dataclass
class FlatSubmission:
    """A submission's objects flattened into raw rows per table, with their labels and the tables it has."""

    rows: dict[str, list[dict[str, Any]]]
    labels: dict[str, list[str]]
    present: set[str]


def flatten_submission(projects: list[Any], departments: list[Any], name: str, prefix: str | None = "projects") -> FlatSubmission:
    """Flatten project and department objects into raw (unparsed) rows of the catalogue's tables."""
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    labels: dict[str, list[str]] = {t: [] for t in TABLES}
    problems: list[Problem] = []
    for i, project in enumerate(projects):
        label = "$" if prefix is None else (f"{prefix}[{i}]" if prefix else f"[{i}]")
        if not isinstance(project, dict):
            problems.append(Problem("input.shape", f"{label} 不是对象。", f"{label} is not an object.", Where(file=name, field=label)))
            continue
        _flatten_project(_english_keys(project), label, rows, labels, problems, name)
    for i, dept in enumerate(departments):
        label = f"departments[{i}]"
        if not isinstance(dept, dict):
            problems.append(Problem("input.shape", f"{label} 不是对象。", f"{label} is not an object.", Where(file=name, field=label)))
            continue
        d = _english_keys(dept)
        goal = _english_keys(d.pop("overall_goal", None) or {})
        d.setdefault("aspects", goal.get("aspects"))
        d.setdefault("mid_year_monitored", goal.get("mid_year_monitored"))
        rows["departments"].append(d)
        labels["departments"].append(label)
    if problems:
        raise InputError(problems)
    present = {t for t, items in rows.items() if items} | {"projects"}
    # A submission that gives no list of a kind for any project still has that table: it is empty.
    present |= {t for t in ("indicators", "payments", "monitoring", "evaluations") if any(
        _has_list(p, t) for p in projects if isinstance(p, dict))}
    return FlatSubmission(rows, labels, present)


def submission_dataset(projects: list[Any], departments: list[Any], name: str, prefix: str | None = "projects") -> Dataset:
    """A Dataset from already-parsed project and department objects (used by the library API too)."""
    flat = flatten_submission(projects, departments, name, prefix)
    issues: list[ValueIssue] = []
    frames = {}
    for table, items in flat.rows.items():
        if items or (table in ("projects",)):
            raw = pd.DataFrame(items, dtype=object) if items else pd.DataFrame(columns=["project_id"], dtype=object)
            frames[table] = [typed_frame(TABLES[table], raw, {}, name, flat.labels[table], issues)]
    ds = assemble(frames, issues=issues, sources=[name])
    ds.present = flat.present & set(ds.tables)
    return ds


def _read(path: Path, name: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise InputError([Problem("input.json", f"JSON 语法错误：{exc.msg}。", f"JSON syntax error: {exc.msg}.",
                                      Where(file=name, line=exc.lineno, column=exc.colno))]) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError([Problem("input.unreadable", f"无法读取文件：{exc}。", f"cannot read file: {exc}.", Where(file=name))]) from exc
    try:
        return load_yaml(path, name, aliases=False).data
    except YamlUnreadable as exc:
        raise InputError([exc.problem]) from exc


def _english_keys(obj: dict[str, Any]) -> dict[str, Any]:
    index = header_index(PROJECTS)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        k = str(key)
        out[NESTED_ZH.get(k) or index.get(k.casefold(), k)] = value
    return out


def _has_list(project: dict[str, Any], table: str) -> bool:
    p = _english_keys(project)
    if table == "indicators":
        goal = p.get("performance_goal")
        return isinstance(goal, dict) and ("indicators" in goal or "绩效指标" in goal)
    if table == "evaluations":
        return "evaluation_history" in p or isinstance(p.get("prior_evaluation"), dict)
    return table in p


def _flatten_project(p: dict[str, Any], label: str, rows: dict[str, list[dict[str, Any]]],
                     labels: dict[str, list[str]], problems: list[Problem], name: str) -> None:
    flat: dict[str, Any] = {}
    unit = UNIT_MULTIPLIERS.get(str(p.pop("amount_unit", "元")).strip(), 1.0)
    key = {"project_id": p.get("project_id"), "fiscal_year": p.get("fiscal_year")}
    for k, v in p.items():
        if k in NESTED_PREFIXES or k in _LISTS:
            continue
        flat[k] = _convert_money(v, unit) if k in ("amount", "prior_year_amount") else v
    for obj_name, prefix in NESTED_PREFIXES.items():
        obj = p.get(obj_name)
        if obj is None:
            continue
        if not isinstance(obj, dict):
            problems.append(Problem("input.shape", f"{label}.{obj_name} 须为对象或 null。", f"{label}.{obj_name} must be an object or null.",
                                    Where(file=name, field=f"{label}.{obj_name}")))
            continue
        for k, v in _english_keys(obj).items():
            if k in ("indicators",):
                continue
            if obj_name == "execution" and k in ("budget", "paid_to_date", "ppp_subsidy_paid"):
                v = _convert_money(v, unit)
            flat.setdefault(prefix + k, v)
    goal = p.get("performance_goal")
    flat.setdefault("has_goal", isinstance(goal, dict))
    if isinstance(goal, dict):
        for j, ind in enumerate(_english_keys(goal).get("indicators") or []):
            _child(rows, labels, "indicators", {**key, **ind}, f"{label}.performance_goal.indicators[{j}]", problems, name)
    for table, field in (("payments", "payments"), ("monitoring", "monitoring")):
        for j, item in enumerate(p.get(field) or []):
            item = dict(item) if isinstance(item, dict) else item
            if isinstance(item, dict) and table == "payments":
                item["amount"] = _convert_money(item.get("amount"), unit)
            _child(rows, labels, table, {**key, **item} if isinstance(item, dict) else item, f"{label}.{field}[{j}]", problems, name)
    prior = p.get("prior_evaluation")
    if isinstance(prior, dict):
        year = prior.get("year")
        if year is None and isinstance(key["fiscal_year"], int):
            year = key["fiscal_year"] - 1
        _child(rows, labels, "evaluations", {"project_id": key["project_id"], **_english_keys(prior), "year": year},
               f"{label}.prior_evaluation", problems, name)
    for j, item in enumerate(p.get("evaluation_history") or []):
        _child(rows, labels, "evaluations", {"project_id": key["project_id"], **item} if isinstance(item, dict) else item,
               f"{label}.evaluation_history[{j}]", problems, name)
    rows["projects"].append(flat)
    labels["projects"].append(label)


def _child(rows: dict[str, list[dict[str, Any]]], labels: dict[str, list[str]], table: str, item: Any, label: str,
           problems: list[Problem], name: str) -> None:
    if not isinstance(item, dict):
        problems.append(Problem("input.shape", f"{label} 不是对象。", f"{label} is not an object.", Where(file=name, field=label)))
        return
    rows[table].append(item)
    labels[table].append(label)


def _convert_money(value: Any, unit: float) -> Any:
    """Apply a submission's ``amount_unit`` to a money value; an unreadable value is left for the parser to report."""
    if unit == 1.0:
        return value
    try:
        return parse_value(value, "money", unit_multiplier=unit)
    except ValueUnreadable:
        return value
