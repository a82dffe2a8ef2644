"""Error responses: one JSON shape for every error, Chinese and English, never a stack trace.

``{"error": {"code", "message", "message_zh", "message_en", "problems": [...]}}``; ``message`` is in
the request's language (``lang``), the other two are always there.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from perfrules.errors import Problem


class ApiError(Exception):
    """An error answered as JSON with its status (raised by handlers, turned into a response in one place)."""

    def __init__(self, status: int, code: str, zh: str, en: str, problems: list[dict[str, Any]] | None = None,
                 extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(en)
        self.status, self.code, self.zh, self.en = status, code, zh, en
        self.problems = problems or []
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, lang: str = "zh") -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.en if lang == "en" else self.zh, "message_zh": self.zh, "message_en": self.en}
        if self.problems:
            error["problems"] = self.problems
        return {"error": error, **self.extra}

    def response(self, lang: str = "zh") -> JSONResponse:
        return JSONResponse(self.body(lang), status_code=self.status, headers=self.headers)


def problem_dict(problem: Problem, lang: str = "zh") -> dict[str, Any]:
    """A rule-pack or input problem (lint, loader) as JSON: code, where, what, hint, in both languages."""
    w = problem.where
    where = {k: v for k, v in (("file", w.file), ("line", w.line), ("column", w.column), ("row", w.row),
                                ("field", w.field), ("rule_id", w.rule_id)) if v is not None}
    zh = problem.zh + problem.hint_zh
    en = problem.en + (f" {problem.hint_en}" if problem.hint_en else "")
    return {"code": problem.code, "where": where, "message": en if lang == "en" else zh, "message_zh": zh, "message_en": en,
            "text": problem.text(lang)}
