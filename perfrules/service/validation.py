"""Submissions checked against ``schemas/submission.schema.json``: each problem with its JSON pointer.

The schema's top level is a ``oneOf`` (a project, a list of projects, or ``{projects, departments}``),
whose own error only says "not valid under any of the given schemas". The branch is chosen here the
way the screener reads the document, and the document is checked against that branch, so each
problem points at the value that is wrong and says what would be valid, in Chinese and English.

Checking is the larger part of a valid request's cost with ``jsonschema`` (several milliseconds for a
full submission), so each branch is also compiled to Python by ``fastjsonschema`` (the ``serve`` extra):
a valid document passes that check in a fraction of a millisecond, and only an invalid one is checked
again by ``jsonschema`` to name every problem with its pointer.

A submission may use Chinese keys wherever ``perfrules check`` reads them (项目, a project's column headers
such as 项目编码, its parts such as 绩效目标 and their keys, 绩效指标, 部门整体). ``submission_problems`` checks
a copy renamed with the loader's own mapping (``perfrules.inputs.submission_keys``, at every level), so the service
accepts what the file loader accepts; a problem's pointer and field still name the key as the caller wrote it.
The screener is given the document as written (it maps the keys itself, as the loader does), so a finding's
evidence names the caller's own keys (``headers``) as ``check``'s does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema

from perfrules.inputs.submission_keys import DOCUMENT, PROJECT, child_part, english_document, english_key
from perfrules.language.fields import PROJECTS
from perfrules.rulepack.pack import load_schema

SCHEMA = "submission.schema.json"
TYPE_ZH = {"string": "字符串", "number": "数字", "integer": "整数", "boolean": "布尔值", "null": "空值 null", "object": "对象", "array": "列表"}


@dataclass(frozen=True)
class SchemaProblem:
    """One thing wrong with a request body: where (JSON pointer and the user's own key), what, in both languages."""

    pointer: str
    field: str | None
    code: str
    zh: str
    en: str

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {"pointer": self.pointer, "field": self.field, "code": self.code,
                "message": self.en if lang == "en" else self.zh, "message_zh": self.zh, "message_en": self.en}


def _branches() -> dict[str, dict[str, Any]]:
    schema = load_schema(SCHEMA)
    out = {}
    for name, branch in zip(("project", "list", "document"), schema["oneOf"]):
        sub = {k: v for k, v in schema.items() if k != "oneOf"}
        sub.update(branch)
        out[name] = sub
    return out


@cache
def _validators() -> dict[str, jsonschema.protocols.Validator]:
    return {name: jsonschema.Draft202012Validator(sub, format_checker=jsonschema.FormatChecker(["date"]))
            for name, sub in _branches().items()}


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _is_date(value: str) -> bool:
    """The ``date`` format as jsonschema checks it: YYYY-MM-DD and a real day."""
    if not _DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@cache
def _fast_checks() -> dict[str, Callable[[Any], Any]] | None:
    try:
        import fastjsonschema
    except ImportError:  # the serve extra is not installed: jsonschema alone, slower
        return None
    return {name: fastjsonschema.compile(_inlined(sub, sub["$defs"]), formats={"date": _is_date})
            for name, sub in _branches().items()}


_NOT_CHECKED = {"title", "description", "examples", "$schema", "$id"}  # keywords that accept any value


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    """A (fresh) copy of a schema with each ``$ref`` to one of its ``$defs`` replaced by that definition.

    fastjsonschema compiles a ``$ref`` into a call that formats the item's path from ``locals()`` for every item of a
    list it is under (each monitoring report's three flags …): the bundled samples took about 320 µs each to check,
    50 µs inlined (measured 2026-12-06)."""
    if isinstance(node, list):
        return [_inlined(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inlined(v, defs) for k, v in node.items() if k not in ("$ref", "$defs")}
    ref = node.get("$ref")
    if ref is None:
        return out
    target = _inlined(defs[ref.partition("#/$defs/")[2]], defs)
    return {**target, **out} if set(out) <= _NOT_CHECKED else {**out, "allOf": [target]}


def compile_schema_checks() -> None:
    """Build the schema checks now (compiling them takes most of a second: a worker does it before it is ready)."""
    _validators()
    _fast_checks()


def _passes_fast(branch: str, doc: Any) -> bool:
    checks = _fast_checks()
    if checks is None:
        return False
    import fastjsonschema
    try:
        checks[branch](doc)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def english_keyed(doc: Any) -> Any:
    """The submission with its keys as the loader reads them, at every level the schema defines (``projects``
    before ``项目`` when a body has both, whatever their order, as the loader reads it)."""
    return english_document(doc)


def _as_written(original: Any, path: list[Any]) -> list[Any]:
    """A path into the English-keyed document as the caller wrote it (their own keys)."""
    out: list[Any] = []
    node = original
    where: str | None = DOCUMENT if isinstance(original, dict) and any(
        english_key(k, DOCUMENT) in ("projects", "departments") for k in original) else PROJECT
    for part in path:
        if isinstance(node, dict):
            key = part if part in node else next((k for k in node if english_key(k, where or "") == part), part)
            out.append(key)
            node = node.get(key)
            where = child_part(where, str(part)) if where is not None else None
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        else:
            out.append(part)
            node = None
    return out


def submission_problems(doc: Any, prefix: str = "") -> list[SchemaProblem]:
    """Every schema problem of a submission (empty when it is valid); pointers start with ``prefix`` and name
    the keys as the caller wrote them."""
    return _problems(english_keyed(doc), doc, prefix)


def _problems(doc: Any, original: Any, prefix: str) -> list[SchemaProblem]:
    if isinstance(doc, list):
        branch = "list"
    elif isinstance(doc, dict):
        branch = "document" if ("projects" in doc or "departments" in doc) else "project"
    else:
        return [SchemaProblem(prefix or "/", None, "submission.shape", f"提交内容须为一个项目对象、项目列表或 {{projects, departments}}，实际为 {_show(doc)}。",
                              f"a submission must be a project object, a list of projects, or {{projects, departments}}; got {_show(doc)}.")]
    if _passes_fast(branch, doc):
        return []
    errors = sorted(_validators()[branch].iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    out: list[SchemaProblem] = []
    required_done: set[tuple[str, ...]] = set()
    for e in errors:
        if e.validator == "required":
            # jsonschema reports each missing name as its own error, all with the whole list: name each once.
            path = tuple(str(p) for p in e.absolute_path)
            if path in required_done:
                continue
            required_done.add(path)
            missing = [n for n in e.validator_value if isinstance(e.instance, dict) and n not in e.instance]
            out += [SchemaProblem(pointer([*_as_written(original, list(e.absolute_path)), n], prefix), n, "submission.required",
                                  f"缺少必填字段 {n!r}{_zh_label(n)}。", f"required field {n!r} is missing.") for n in missing]
            continue
        out.append(_problem(e, _as_written(original, list(e.absolute_path)), prefix))
    return out


def _zh_label(name: str) -> str:
    column = PROJECTS.column(name)
    return f"（{column.zh}）" if column is not None and column.zh else ""


def pointer(parts: Any, prefix: str = "") -> str:
    """A JSON pointer (RFC 6901) from path parts."""
    return prefix + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _problem(err: jsonschema.ValidationError, path: list[Any], prefix: str) -> SchemaProblem:
    value = err.instance
    kind = err.validator
    field = str(path[-1]) if path else None
    where = pointer(path, prefix)
    if kind == "type":
        types = [str(t) for t in (err.validator_value if isinstance(err.validator_value, list) else [err.validator_value])]
        return SchemaProblem(where, field, "submission.type", f"类型应为{'或'.join(TYPE_ZH.get(t, t) for t in types)}，实际为 {_show(value)}。",
                             f"must be {' or '.join(types)}, got {_show(value)}.")
    if kind == "enum":
        allowed = ", ".join(["null" if v is None else str(v) for v in err.validator_value])
        return SchemaProblem(where, field, "submission.enum", f"须为以下之一：{allowed}；实际为 {_show(value)}。",
                             f"must be one of: {allowed}; got {_show(value)}.")
    if kind in ("minimum", "maximum"):
        zh = "不得小于" if kind == "minimum" else "不得大于"
        en = "must be at least" if kind == "minimum" else "must be at most"
        return SchemaProblem(where, field, f"submission.{kind}", f"{zh} {err.validator_value}，实际为 {_show(value)}。",
                             f"{en} {err.validator_value}, got {_show(value)}.")
    if kind == "format":
        return SchemaProblem(where, field, "submission.format", f"须为 YYYY-MM-DD 日期，实际为 {_show(value)}。",
                             f"must be a YYYY-MM-DD date, got {_show(value)}.")
    return SchemaProblem(where, field, "submission.invalid", f"不符合提交文件格式：{err.message}。", f"does not match the submission schema: {err.message}.")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"
