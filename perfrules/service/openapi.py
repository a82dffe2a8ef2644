"""The OpenAPI document, with request bodies taken from ``schemas/submission.schema.json`` itself.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so the submission schema goes in whole: its ``$defs``
become components (``submission_project`` …) and its references are rewritten to point there. What
the service validates against and what the document shows are the same file.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from perfrules.rulepack.pack import load_schema
from perfrules.service.validation import SCHEMA


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = "#/components/schemas/submission_" + value[len("#/$defs/"):]
            elif key in ("$schema", "$id", "$defs"):
                continue
            else:
                out[key] = _rewrite(value)
        return out
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def submission_components() -> dict[str, Any]:
    """``Submission`` and its parts as OpenAPI components, from the bundled schema file."""
    schema = copy.deepcopy(load_schema(SCHEMA))
    out = {f"submission_{name}": _rewrite(part) for name, part in schema.get("$defs", {}).items()}
    out["Submission"] = _rewrite(schema)
    return out


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


PACK = {"type": "object", "required": ["version", "revision"],
        "properties": {"version": {"type": "string"}, "revision": {"type": "string", "description": "包文件内容哈希 (content hash of the pack files)"}}}
PROBLEM = {"type": "object", "properties": {
    "pointer": {"type": ["string", "null"], "description": "JSON pointer (RFC 6901) into the request body"},
    "parameter": {"type": "string"}, "field": {"type": ["string", "null"]}, "code": {"type": "string"},
    "message": {"type": "string"}, "message_zh": {"type": "string"}, "message_en": {"type": "string"}}}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message", "message_zh", "message_en"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "message_zh": {"type": "string"},
                   "message_en": {"type": "string"}, "problems": {"type": "array", "items": _ref("Problem")},
                   "known_profiles": {"type": "array", "items": {"type": "string"}}}}}}
DECISION = {"type": "object", "required": ["decision_id", "verdict", "findings", "pack", "profile", "as_of"], "properties": {
    "decision_id": {"type": "string"}, "verdict": {"enum": ["pass", "rectify", "reject"]},
    "verdict_zh": {"enum": ["通过", "需整改", "不予通过"]}, "verdict_en": {"type": "string"},
    "summary": {"type": "object"}, "findings": {"type": "array", "items": {"type": "object"}},
    "errors": {"type": "array"}, "not_checked": {"type": "array", "items": {"type": "object"}},  # rules not applicable
    "pack": _ref("Pack"), "profile": {"type": "string"}, "as_of": {"type": "string", "format": "date"},
    "timing_ms": {"type": "object"}}}
BATCH_REQUEST = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
    "type": "object", "required": ["id", "submission"],
    "properties": {"id": {"type": ["string", "integer"], "description": "调用方的编号 (the caller's id)"},
                   "submission": _ref("Submission")}}}}}
BATCH = {"type": "object", "required": ["batch_id", "results", "pack"], "properties": {
    "batch_id": {"type": "string"}, "pack": _ref("Pack"), "results": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": ["string", "integer", "null"]}, "status": {"type": "integer"}}}}, "timing_ms": {"type": "object"}}}
RULES = {"type": "object", "required": ["pack", "profile", "rules"], "properties": {
    "pack": _ref("Pack"), "profile": {"type": "string"}, "chain": {"type": "array", "items": {"type": "string"}},
    "as_of": {"type": "string"}, "rules": {"type": "array", "items": {"type": "object"}}}}

SCREEN_QUERY = [
    {"name": "profile", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "地区配置；缺省时按每个项目的 jurisdiction，否则 national (profile)"},
    {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
     "description": "数据所述日期 YYYY-MM-DD；缺省取提交文件的 as_of，否则今天 (as-of date)"},
    {"name": "lang", "in": "query", "required": False, "schema": {"enum": ["zh", "en"], "default": "zh"}},
    {"name": "explain", "in": "query", "required": False, "schema": {"type": "boolean", "default": False},
     "description": "每项发现附上各子表达式的取值 (each finding's sub-expression values)"},
]


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "请求体不是 JSON (malformed JSON)", 401: "缺少或无效的令牌 (missing or unknown bearer token)",
            403: "需要管理令牌 (admin token required)", 404: "未知配置 (unknown profile)",
            413: "请求体或批量条目过多 (body or batch too large)", 422: "不符合提交文件格式 (schema problems, each with a JSON pointer)",
            503: "尚未加载规则包，或决策日志无法持久写入、未作出结论 (no pack loaded, or the decision log cannot be written: no decision made)"}
    return {str(s): _json(_ref("Error"), text[s]) for s in statuses}


def operations(secured: bool) -> dict[str, dict[str, Any]]:
    """The ``openapi_extra`` of each route: parameters, request body and responses."""
    auth: dict[str, Any] = {"security": [{"bearer": []}]} if secured else {}
    auth_errors = (401,) if secured else ()
    admin_errors = (401, 403) if secured else ()
    return {
        "screen": {**auth, "parameters": SCREEN_QUERY,
                   "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Submission")}}},
                   "responses": {"200": _json(_ref("Decision"), "审核结论 (the decision)"), **_errors(400, 404, 413, 422, 503, *auth_errors)}},
        "batch": {**auth, "parameters": SCREEN_QUERY,
                  "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("BatchRequest")}}},
                  "responses": {"200": _json(_ref("BatchResult"), "每项一个结果 (one result per item)"), **_errors(400, 404, 413, 422, 503, *auth_errors)}},
        "rules": {**auth, "parameters": [SCREEN_QUERY[0], SCREEN_QUERY[1], SCREEN_QUERY[2],
                                          {"name": "all", "in": "query", "required": False, "schema": {"type": "boolean", "default": False},
                                           "description": "列出全部规则及其状态（缺省只列生效的）(every rule with its state; default: those in force)"}],
                  "responses": {"200": _json(_ref("Rules"), "生效规则 (the rules in force)"), **_errors(404, 422, *auth_errors)}},
        "reload": {**auth, "responses": {"200": _json({"type": "object"}, "新包已生效或未变 (accepted or unchanged)"),
                                         "422": _json(_ref("Error"), "新包未通过检查，旧版本继续服务 (rejected; the old revision keeps serving)"),
                                         "503": _json(_ref("Error"), "检查超时，旧版本继续服务 (the check took too long; the old revision keeps serving)"),
                                         **_errors(*admin_errors)}},
        "health": {"responses": {"200": _json({"type": "object"}, "进程存活 (alive)")}},
        "ready": {"responses": {"200": _json({"type": "object"}, "已加载规则包 (a pack is loaded)"), **_errors(503)}},
        "metrics": {"responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}},
    }


def complete(doc: dict[str, Any], secured: bool) -> dict[str, Any]:
    """Add the components the operations refer to (and the bearer scheme) to FastAPI's generated document."""
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(submission_components())
    schemas.update({"Pack": PACK, "Problem": PROBLEM, "Error": ERROR, "Decision": DECISION, "BatchRequest": BATCH_REQUEST,
                    "BatchResult": BATCH, "Rules": RULES})
    if secured:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    json.dumps(doc)  # the document must serialise: fail at startup, not at the first request
    return doc
