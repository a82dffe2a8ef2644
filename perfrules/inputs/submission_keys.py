"""Which key of a submission is which field, at every level: its English name or its Chinese title.

``schemas/submission.schema.json`` names the keys of each object of a submission (a project, its 绩效目标, each
绩效指标, each 支付明细 …) and gives each key a Chinese ``title``; a submission may use either, at any level. The
same Chinese word can stand for different keys in different objects (是否公开 is the goal's ``published`` and the
prior evaluation's), so a key is read in the context of the object it is in (``Part``). Objects whose keys are
columns of a table also accept that table's headers (data contract §2): a project or department object the
projects/departments headers (绩效目标审核状态 at the top level), an item of 绩效指标 / 支付明细 / 绩效监控 / 历年评价
the indicators/payments/monitoring/evaluations headers, and a nested part the headers of the projects columns
it flattens into (上年评价等级 inside 上年度绩效评价). Any other key stays as written (kept and passed through).
"""

from __future__ import annotations

import functools
from typing import Any

from perfrules.language.fields import NESTED_PREFIXES, TABLES, header_index, split_header
from perfrules.rulepack.pack import load_schema

# The objects of a submission, each named by its path of English keys in the schema ("[]": an item of a list).
DOCUMENT, PROJECT, DEPARTMENT = "document", "project", "department"
# Chinese names of the parts (accepted besides the schema's titles, which name most of them too).
NESTED_ZH = {
    "绩效目标": "performance_goal", "事前绩效评估": "ex_ante_assessment", "上年度绩效评价": "prior_evaluation",
    "历年评价": "evaluation_history", "预算执行": "execution", "绩效监控": "monitoring", "支付明细": "payments",
    "绩效指标": "indicators", "整体绩效目标": "overall_goal", "部门整体": "departments", "项目": "projects",
}
_OF_DOCUMENT = {"projects": PROJECT, "departments": DEPARTMENT}  # what the items of a document's lists are
# The table whose headers an object's keys may also be written as.
_ROW_TABLES = {PROJECT: "projects", DEPARTMENT: "departments", "project.performance_goal.indicators[]": "indicators",
               "project.payments[]": "payments", "project.monitoring[]": "monitoring",
               "project.evaluation_history[]": "evaluations", "project.prior_evaluation": "evaluations"}


def _fold(key: str) -> str:
    return "".join(str(key).split()).replace("（", "(").replace("）", ")").casefold()


@functools.cache
def _parts() -> dict[str, dict[str, str]]:
    """Per object (its path), every accepted key (folded) → the English key."""
    schema = load_schema("submission.schema.json")
    defs = schema["$defs"]
    parts: dict[str, dict[str, str]] = {}

    def walk(path: str, node: dict[str, Any]) -> None:
        names = parts.setdefault(path, {})
        for name, prop in (node.get("properties") or {}).items():
            names[_fold(name)] = name
            if prop.get("title"):
                names.setdefault(_fold(prop["title"]), name)
                names.setdefault(_fold(split_header(prop["title"])[0]), name)  # 申请金额(元) → also 申请金额
            if "properties" in prop:
                walk(f"{path}.{name}", prop)
            items = prop.get("items")
            if isinstance(items, dict) and "properties" in items:  # (the document's lists of projects and departments are $refs)
                walk(f"{path}.{name}[]", items)

    walk(DOCUMENT, next(b for b in schema["oneOf"] if "properties" in b))
    walk(PROJECT, defs["project"])
    walk(DEPARTMENT, defs["department"])
    for path, names in parts.items():
        for zh, english in NESTED_ZH.items():
            if _fold(english) in names:
                names.setdefault(_fold(zh), english)
        table = _ROW_TABLES.get(path)
        if table is not None:
            for label, column in header_index(TABLES[table]).items():
                names.setdefault(label, column)
        part = path.removeprefix(f"{PROJECT}.")
        if part in NESTED_PREFIXES and NESTED_PREFIXES[part]:  # 上年评价等级 inside 上年度绩效评价 is its grade
            prefix = NESTED_PREFIXES[part]
            for label, column in header_index(TABLES["projects"]).items():
                if column.startswith(prefix) and _fold(column.removeprefix(prefix)) in names:
                    names.setdefault(label, column.removeprefix(prefix))
    return parts


def english_key(key: Any, part: str = PROJECT) -> str:
    """The English key a submission's key is read as in object ``part`` (``"project.performance_goal"``, …);
    a key that names nothing there stays as written."""
    text = str(key)
    read = _read(part)
    english = read.get(text)
    if english is None:
        english = _parts().get(part, {}).get(_fold(text), text)
        if len(read) < _READ_LIMIT:
            read[text] = english
    return english


# Each object's keys as read so far (key as written → English key): a screened submission's ~200 keys come from a
# small vocabulary, and the service reads each one twice (schema check, screening); folding them again each time
# cost ~8% of the service's CPU per submission (validation + screening, 1.73 → 1.59 ms, measured 2026-12-06).
# A table per object, read with the key alone (no call, no (key, object) tuple), and child_part cached: together
# english_document 83 → 60 µs per sample, schema check + screening −6% (measured 2026-12-06). Bounded (callers
# choose the keys): past the limit, a new key is read again each time.
_READS: dict[str, dict[str, str]] = {}
_READ_LIMIT = 4096


def _read(part: str) -> dict[str, str]:
    read = _READS.get(part)
    return read if read is not None else _READS.setdefault(part, {})


def english_keys(obj: dict[str, Any], part: str, used: dict[str, str] | None = None) -> dict[str, Any]:
    """``obj`` (an object ``part`` of a submission) with English keys; ``used`` records each key as written.

    When a key is there both in English and in Chinese (``projects`` and ``项目``), the English one is read,
    whatever their order."""
    read = _read(part)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        english = read.get(key) or english_key(key, part)  # (a key that is not text is never in the table)
        if english != key and english in obj:
            continue
        out[english] = value
        if used is not None:
            used.setdefault(english, str(key))
    return out


def english_document(doc: Any) -> Any:
    """A whole submission (a project, a list of projects or ``{projects, departments}``) with English keys at
    every level the schema defines."""
    if isinstance(doc, list):
        return [_english(p, PROJECT) for p in doc]
    if not isinstance(doc, dict):
        return doc
    top = english_keys(doc, DOCUMENT)
    if "projects" not in top and "departments" not in top:
        return _english(doc, PROJECT)
    return _english(doc, DOCUMENT)


def _english(value: Any, part: str) -> Any:
    if isinstance(value, list):
        return [_english(v, part) for v in value]
    if not isinstance(value, dict):
        return value
    out = english_keys(value, part)
    for key, inner in out.items():
        child = child_part(part, key)
        if child is not None:
            out[key] = _english(inner, child)
    return out


@functools.lru_cache(maxsize=4096)  # read for every key of every object translated (see _READS); bounded
def child_part(part: str, key: str) -> str | None:
    """The object an English key of object ``part`` holds (or holds a list of), if the schema defines one."""
    parts = _parts()
    for child in (_OF_DOCUMENT.get(key) if part == DOCUMENT else None, f"{part}.{key}", f"{part}.{key}[]"):
        if child in parts:
            return child
    return None
