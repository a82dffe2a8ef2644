"""Load submissions (JSON or YAML: one project, a list, or ``{projects, departments}``) into a Dataset.

Nested objects flatten into the same tables an export folder has (``performance_goal.review_status``
→ ``projects.goal_review_status``; ``performance_goal.indicators[]`` → ``indicators`` rows …), so
every rule runs unchanged on both shapes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from perfrules.errors import InputError, Problem, Where
from perfrules.inputs.dataset import ROW, Dataset, InputNote, ValueIssue, assemble, typed_frame
from perfrules.inputs.limits import MAX_DEPTH, check_document, refuse_non_regular_input, too_deep
from perfrules.inputs.placement import REASONS, UNPLACEABLE, RowCount, describe_rows
from perfrules.inputs.submission_keys import DEPARTMENT, DOCUMENT, PROJECT, english_keys
from perfrules.inputs.values import FIRST_YEAR, LAST_YEAR, ValueUnreadable, parse_value, read_value
from perfrules.language.fields import NESTED_PREFIXES, TABLES, UNIT_MULTIPLIERS
from perfrules.yaml_source import YamlUnreadable, load_yaml

_LISTS = ("indicators", "payments", "monitoring", "evaluation_history")


def read_document(path: Path, display: str | None = None) -> Any:
    """A submission file's document (JSON or YAML), or ``InputError`` naming the file and line."""
    refuse_non_regular_input(path, display)
    return _read(path, display or str(path))


def submission_parts(data: Any) -> tuple[list[Any], list[Any] | None, str | None, Any] | None:
    """A submission's projects, departments, the prefix its record labels take (``projects[0]``, ``[0]`` or
    none) and its as-of date; None when it has none of the three shapes. Keys may be English or Chinese
    (项目, 部门整体, 数据所述日期). The departments are None when the document has no ``departments`` key: it makes
    no claim about departments (``Dataset.unclaimed``; so does ``null``); a list, even ``[]``, is the complete list."""
    top = english_keys(data, DOCUMENT) if isinstance(data, dict) else {}
    if any(k in top for k in ("projects", "departments")):
        departments = top.get("departments")  # even []: the filing's complete list of departments
        return top.get("projects") or [], departments, "projects", top.get("as_of")
    if isinstance(data, list):
        return data, None, "", None
    if isinstance(data, dict):
        return [data], None, None, None
    return None


def load_submission(path: Path, display: str | None = None) -> Dataset:
    """Read one submission file; structural problems raise ``InputError`` naming the file and item."""
    name = display or str(path)
    data = _read(path, name)
    parts = submission_parts(data)
    if parts is None:
        raise InputError([Problem("input.shape", "提交文件须为一个项目对象、项目列表或 {projects, departments}。",
                                  "a submission must be a project object, a list of projects, or {projects, departments}.",
                                  Where(file=name))])
    projects, departments, prefix, as_of = parts
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
    unclaimed: set[str] = field(default_factory=set)           # tables the document says nothing about
    notes: list[InputNote] = field(default_factory=list)       # rows set aside, each named
    noted: dict[str, int] = field(default_factory=dict)        # per table: how many rows were set aside
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # per table: field → the key the submission used


def flatten_submission(projects: list[Any], departments: list[Any] | None, name: str,
                       prefix: str | None = "projects") -> FlatSubmission:
    """Flatten project and department objects into raw (unparsed) rows of the catalogue's tables.

    ``departments`` None: the submission has no departments key, and makes no claim about them (a filing for
    one project); a list, even empty, is the complete record of its departments."""
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    labels: dict[str, list[str]] = {t: [] for t in TABLES}
    headers: dict[str, dict[str, str]] = {"projects": {}, "departments": {}}
    problems: list[Problem] = []
    lists: set[str] = set()  # the related tables some project gives a list of, even an empty one
    for i, project in enumerate(projects):
        label = "$" if prefix is None else (f"{prefix}[{i}]" if prefix else f"[{i}]")
        if not isinstance(project, dict):
            problems.append(Problem("input.shape", f"{label} 不是对象。", f"{label} is not an object.", Where(file=name, field=label)))
            continue
        keys: dict[str, str] = {}
        lists |= _flatten_project(english_keys(project, PROJECT, keys), label, rows, labels, problems, name, keys, headers["projects"])
    for i, dept in enumerate(departments or []):
        label = f"departments[{i}]"
        if not isinstance(dept, dict):
            problems.append(Problem("input.shape", f"{label} 不是对象。", f"{label} is not an object.", Where(file=name, field=label)))
            continue
        d = english_keys(dept, DEPARTMENT, keys := {})
        for k in d:
            headers["departments"].setdefault(k, keys.get(k, k))
        goal = d.pop("overall_goal", None)
        goal = english_keys(goal, f"{DEPARTMENT}.overall_goal") if isinstance(goal, dict) else {}
        d.setdefault("aspects", goal.get("aspects"))
        d.setdefault("mid_year_monitored", goal.get("mid_year_monitored"))
        rows["departments"].append(d)
        labels["departments"].append(label)
    if problems:
        raise InputError(problems)
    present = {t for t, items in rows.items() if items} | {"projects"} | (set() if departments is None else {"departments"})
    present |= lists  # a submission that gives a list of a kind, even an empty one, has that table
    flat = FlatSubmission(rows, labels, present, set() if departments is not None else {"departments"}, headers=headers)
    set_aside_unplaced(flat, name)
    return flat


def submission_row_accounting(flat: FlatSubmission, name: str) -> dict[tuple[str, str], RowCount]:
    """Rows read, checked and set aside per table of one submission (for the per-record path; the batch path counts in ``assemble``)."""
    out = {}
    for table in TABLES:
        checked, noted = len(flat.rows[table]), flat.noted.get(table, 0)
        if checked or noted:
            out[(name, table)] = RowCount(table, name, read=checked + noted, checked=checked, noted=noted)
    return out


def unplaceable_record_issues(typed: dict[str, list[dict[str, Any]]], name: str,
                              reported: Collection[tuple[str, str, str, str]] = ()) -> list[ValueIssue]:
    """The per-record path's twin of ``dataset.unplaceable_issues``: a payment without a date, a report without a month.

    A cell already reported as unreadable (``reported``: table, source, row, column) is not reported twice.
    """
    out = []
    for table, column in UNPLACEABLE.items():
        for row in typed.get(table, []):
            if row.get(column) is None and (table, name, str(row.get(ROW)), column) not in reported:
                fy = row.get("fiscal_year")
                out.append(ValueIssue(table, name, str(row.get(ROW)), column, column, "", TABLES[table].by_name[column].kind,
                                      project_id=None if row.get("project_id") is None else str(row["project_id"]),
                                      fiscal_year=None if fy is None else int(fy)))
    return out


def set_aside_unplaced(flat: FlatSubmission, name: str) -> None:
    """Set aside the rows no rule can place, as ``perfrules.inputs.placement`` does for exports: a project or
    department without its id (with the project's related rows), and a payment dated outside its project's
    fiscal year. Done on the flattened rows, so that both evaluators see the same rows."""
    drop: dict[str, dict[str, list[str]]] = {}  # table → reason → labels

    def mark(table: str, reason: str, label: str) -> None:
        drop.setdefault(table, {}).setdefault(reason, []).append(label)

    blank_projects = [label for row, label in zip(flat.rows["projects"], flat.labels["projects"]) if _blank_text(row.get("project_id"))]
    for label in blank_projects:
        mark("projects", "blank-id", label)
    for table in ("indicators", "payments", "monitoring", "evaluations"):
        for row, label in zip(flat.rows[table], flat.labels[table]):
            if any(label.startswith(p + ".") for p in blank_projects):
                mark(table, "blank-id", label)
            elif table == "payments" and _outside_fiscal_year(row):
                mark(table, "outside-year", label)
    for row, label in zip(flat.rows["departments"], flat.labels["departments"]):
        if _blank_text(row.get("department")):
            mark("departments", "blank-id", label)
    for table, reasons in drop.items():
        gone = {label for labels in reasons.values() for label in labels}
        kept = [(r, lb) for r, lb in zip(flat.rows[table], flat.labels[table]) if lb not in gone]
        flat.rows[table] = [r for r, _ in kept]
        flat.labels[table] = [lb for _, lb in kept]
        flat.noted[table] = len(gone)
        for reason, labels in reasons.items():
            why_zh, why_en = REASONS[reason]
            zh_rows, en_rows = describe_rows(labels)
            flat.notes.append(InputNote(
                f"input.set-aside.{reason}", f"{name} 中 {table}（{TABLES[table].zh}）{zh_rows}（共 {len(labels)} 项）{why_zh}，未参与检查。",
                f"{name}: {len(labels)} {table} item(s) set aside, not checked, because {why_en}: {en_rows}.", name, table))


def _blank_text(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and value != value)


def _outside_fiscal_year(payment: dict[str, Any]) -> bool:
    try:
        paid_on, year = read_value(payment.get("date"), "date"), read_value(payment.get("fiscal_year"), "integer")
    except ValueUnreadable:
        return False  # reported as unreadable where the row is typed
    return isinstance(paid_on, dt.date) and isinstance(year, int) and paid_on.year != year


def submission_dataset(projects: list[Any], departments: list[Any] | None, name: str, prefix: str | None = "projects") -> Dataset:
    """A Dataset from already-parsed project and department objects (used by the library API too);
    ``departments`` None makes no claim about departments (``flatten_submission``)."""
    flat = flatten_submission(projects, departments, name, prefix)
    issues: list[ValueIssue] = []
    frames = {}
    for table, items in flat.rows.items():
        if items or table == "projects" or (table == "departments" and table in flat.present):
            key = TABLES[table].columns[0].name
            raw = pd.DataFrame(items, dtype=object) if items else pd.DataFrame(columns=[key], dtype=object)
            frames[table] = [typed_frame(TABLES[table], raw, {}, name, flat.labels[table], issues, flat.headers.get(table))]
    ds = assemble(frames, {(name, t): n for t, n in flat.noted.items()}, flat.headers, issues=issues, notes=list(flat.notes),
                  sources=[name])
    ds.present = flat.present & set(ds.tables)
    ds.unclaimed = set(flat.unclaimed)
    return ds


def _read(path: Path, name: str) -> Any:
    refuse_non_regular_input(path, name)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except RecursionError:
            raise too_deep(name, MAX_DEPTH) from None
        except json.JSONDecodeError as exc:
            raise InputError([Problem("input.json", f"JSON 语法错误：{exc.msg}。", f"JSON syntax error: {exc.msg}.",
                                      Where(file=name, line=exc.lineno, column=exc.colno))]) from exc
        except UnicodeDecodeError as exc:
            line = exc.object[:exc.start].count(b"\n") + 1 if isinstance(exc.object, bytes) else None
            raise InputError([Problem("input.encoding", "文件不是 UTF-8 编码。", "the file is not UTF-8 encoded.",
                                      Where(file=name, line=line), "请以 UTF-8 编码保存。", "Save it as UTF-8.")]) from None
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise InputError([Problem("input.unreadable", f"无法读取文件：{why}。", f"cannot read file: {why}.", Where(file=name))]) from None
        check_document(data, name)
        return data
    try:
        data = load_yaml(path, name, aliases=False).data
    except YamlUnreadable as exc:
        raise InputError([exc.problem]) from exc
    check_document(data, name)
    return data


def _flatten_project(p: dict[str, Any], label: str, rows: dict[str, list[dict[str, Any]]],
                     labels: dict[str, list[str]], problems: list[Problem], name: str,
                     keys: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> set[str]:
    """Flatten one project object; ``keys`` are its keys as written, and ``headers`` collects, per projects field,
    the key (or nested path) the submission used for it. Returns the related tables it gives a list of, even an
    empty one (none when it has a problem)."""
    keys, headers = keys or {}, headers if headers is not None else {}
    flat: dict[str, Any] = {}
    unit_text = str(p.pop("amount_unit", None) or "元").strip()
    if unit_text not in UNIT_MULTIPLIERS:
        problems.append(Problem("input.unknown-unit", f"{label}.amount_unit 为 {unit_text!r}，不是可识别的金额单位。",
                                f"{label}.amount_unit is {unit_text!r}, which is not a known money unit.",
                                Where(file=name, field=f"{label}.amount_unit"),
                                f"可用：{'、'.join(UNIT_MULTIPLIERS)}。", f"Known units: {', '.join(UNIT_MULTIPLIERS)}."))
        return set()
    unit = UNIT_MULTIPLIERS[unit_text]
    p["fiscal_year"] = outside_years_unreadable(p.get("fiscal_year"))
    # Related rows take the project's fiscal year; an unreadable one is reported once, on the project.
    key = {"project_id": p.get("project_id"), "fiscal_year": _readable_or_none(p.get("fiscal_year"), "integer")}
    for k, v in p.items():
        if k in NESTED_PREFIXES or k in _LISTS:
            continue
        flat[k] = _convert_money(v, unit) if k in ("amount", "prior_year_amount") else v
        headers.setdefault(k, keys.get(k, k))
    nested: dict[str, dict[str, Any]] = {}  # each nested object given, with English keys
    for obj_name, prefix in NESTED_PREFIXES.items():
        obj = p.get(obj_name)
        if obj is None:
            continue
        if not isinstance(obj, dict):
            problems.append(Problem("input.shape", f"{label}.{obj_name} 须为对象或 null。", f"{label}.{obj_name} must be an object or null.",
                                    Where(file=name, field=f"{label}.{obj_name}")))
            continue
        inner: dict[str, str] = {}
        nested[obj_name] = english_keys(obj, f"{PROJECT}.{obj_name}", inner)
        for k, v in nested[obj_name].items():
            if k in ("indicators",):
                continue
            if obj_name == "execution" and k in ("budget", "paid_to_date", "ppp_subsidy_paid"):
                v = _convert_money(v, unit)
            flat.setdefault(prefix + k, v)
            headers.setdefault(prefix + k, f"{keys.get(obj_name, obj_name)}.{inner.get(k, k)}")
    for field_name in _LISTS:
        if p.get(field_name) is not None and not isinstance(p.get(field_name), list):
            problems.append(_not_a_list(f"{label}.{field_name}", name))
            return set()
    goal = nested.get("performance_goal")
    indicators = goal.get("indicators") if goal is not None else None
    if indicators is not None and not isinstance(indicators, list):
        problems.append(_not_a_list(f"{label}.performance_goal.indicators", name))
        return set()
    flat.setdefault("has_goal", goal is not None)
    for j, ind in enumerate(indicators or []):
        ind = _item(ind, f"{PROJECT}.performance_goal.indicators[]")
        _child(rows, labels, "indicators", {**key, **ind} if isinstance(ind, dict) else ind,
               f"{label}.performance_goal.indicators[{j}]", problems, name)
    for table, key_name in (("payments", "payments"), ("monitoring", "monitoring")):
        for j, item in enumerate(p.get(key_name) or []):
            item = _item(item, f"{PROJECT}.{key_name}[]")
            if isinstance(item, dict) and table == "payments":
                item["amount"] = _convert_money(item.get("amount"), unit)
            _child(rows, labels, table, {**key, **item} if isinstance(item, dict) else item, f"{label}.{key_name}[{j}]", problems, name)
    prior = nested.get("prior_evaluation")
    if prior is not None:
        year = outside_years_unreadable(prior.get("year"))
        if year is None and isinstance(key["fiscal_year"], int):
            year = key["fiscal_year"] - 1
        _child(rows, labels, "evaluations", {"project_id": key["project_id"], **prior, "year": year},
               f"{label}.prior_evaluation", problems, name)
    for j, item in enumerate(p.get("evaluation_history") or []):
        item = _item(item, f"{PROJECT}.evaluation_history[]")
        if isinstance(item, dict) and "year" in item:
            item = {**item, "year": outside_years_unreadable(item["year"])}
        _child(rows, labels, "evaluations", {"project_id": key["project_id"], **item} if isinstance(item, dict) else item,
               f"{label}.evaluation_history[{j}]", problems, name)
    rows["projects"].append(flat)
    labels["projects"].append(label)
    given: set[str] = {t for t in ("payments", "monitoring") if t in p}
    if goal is not None and "indicators" in goal:
        given.add("indicators")
    if "evaluation_history" in p or prior is not None:
        given.add("evaluations")
    return given


def _item(item: Any, part: str) -> Any:
    """An item of a submission's list (a 支付明细 …) with English keys; anything else is left to be reported."""
    return english_keys(item, part) if isinstance(item, dict) else item


def outside_years_unreadable(value: Any) -> Any:
    """A year outside FIRST_YEAR–LAST_YEAR as a text no parser reads, so that both evaluators report it as
    unreadable (with the range in the finding) instead of computing dates they cannot hold."""
    try:
        year = parse_value(value, "integer")
    except ValueUnreadable:
        return value
    if isinstance(year, int) and not FIRST_YEAR <= year <= LAST_YEAR:
        return f"{value}（超出 {FIRST_YEAR}–{LAST_YEAR} out of range）"
    return value


def _readable_or_none(value: Any, kind: str) -> Any:
    try:
        parse_value(value, kind)
    except ValueUnreadable:
        return None
    return value


def _not_a_list(label: str, name: str) -> Problem:
    return Problem("input.shape", f"{label} 须为列表。", f"{label} must be a list.", Where(file=name, field=label),
                   "写成 [...]，没有内容时写 []。", "Write it as [...], or [] when there is nothing.")


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
