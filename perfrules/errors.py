"""Errors a person can act on: where, what, how to fix, and a machine-readable reason code.

Every user mistake (a bad rule file, an unreadable input, a wrong option) becomes a ``Problem``;
the CLI turns them into messages and exit code 2 at one point. Messages are Chinese first, with
the English beside them (``--lang en`` shows English only). One problem is one line; several are
one block per file (``problem_block``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Where:
    """The place a problem is about; every part is optional."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    row: int | None = None
    field: str | None = None
    rule_id: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            loc = self.file
            if self.line is not None:
                loc += f":{self.line}"
                if self.column is not None:
                    loc += f":{self.column}"
            parts.append(loc)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.rule_id:
            parts.append(f"rule {self.rule_id}")
        if self.field:
            parts.append(f"field {self.field}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Problem:
    """One thing wrong, in both languages, with its reason code (e.g. ``rule.unknown-function``)."""

    code: str
    zh: str
    en: str
    where: Where = field(default_factory=Where)
    hint_zh: str = ""
    hint_en: str = ""

    def text(self, lang: str = "zh") -> str:
        """``<where>: <what>. <how to fix>. [code]`` in the chosen language (zh shows English too)."""
        if lang == "en":
            body = self.en + (f" {self.hint_en}" if self.hint_en else "")
        else:
            body = self.zh + (self.hint_zh or "") + f" ({self.en}{' ' + self.hint_en if self.hint_en else ''})"
        where = str(self.where)
        return f"{where}: {body} [{self.code}]" if where else f"{body} [{self.code}]"

    def at(self, **where: object) -> Problem:
        """A copy with more location filled in (existing parts are kept)."""
        merged = {k: v for k, v in self.where.__dict__.items() if v is not None}
        for k, v in where.items():
            merged.setdefault(k, v)
        return Problem(self.code, self.zh, self.en, Where(**merged), self.hint_zh, self.hint_en)


class PerfrulesError(Exception):
    """One or more problems that stop the job; exit code 2 at the CLI."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(p.text("en") for p in self.problems))

    def text(self, lang: str = "zh") -> str:
        """One problem on one line; several as one block per file (see ``problem_block``)."""
        if len(self.problems) == 1:
            return self.problems[0].text(lang)
        return problem_block(self.problems, lang)


LISTED = 10  # problems listed per file in a block; the rest are counted
TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")


def problem_block(problems: list[Problem], lang: str = "zh") -> str:
    """Several problems as one block per file: a headline naming the file and how many problems it has,
    then each problem on its own indented line (where in the file, what, how to fix, code), at most
    ``LISTED`` of them and then "… and N more". Chinese first, English beside it (``lang="en"``: English only).
    """
    by_file: dict[str | None, list[Problem]] = {}
    for problem in problems:
        by_file.setdefault(problem.where.file, []).append(problem)
    lines: list[str] = []
    for file, found in by_file.items():
        n = len(found)
        if lang == "en":
            counted = f"{n} problem{'s' if n != 1 else ''}"
            lines.append(f"{file}: {counted}:" if file else f"{counted}:")
        else:
            counted = f"{n} 个问题（{n} problem{'s' if n != 1 else ''}）"
            lines.append(f"{file}：{counted}：" if file else f"{counted}：")
        lines += ["  " + _item(p, lang) for p in found[:LISTED]]
        if n > LISTED:
            more = n - LISTED
            lines.append(f"  … and {more} more" if lang == "en" else f"  … 另有 {more} 个（… and {more} more）")
    return "\n".join(lines)


# How a problem's place reads in each language: its line (and column), row, rule, a table's column header or a
# document's field, and how the parts are joined.
_PLACE = {
    "en": {"line": "line {}", "column": ":{}", "row": "row {}", "rule": "rule {}", "header": "column {!r}",
           "field": "field {}", "and": ", ", "then": ": "},
    "zh": {"line": "第 {} 行", "column": "第 {} 列", "row": "第 {} 行", "rule": "规则 {}", "header": "列「{}」",
           "field": "字段 {}", "and": "，", "then": "："},
}


def _item(problem: Problem, lang: str) -> str:
    """A problem of a block: its place within the file (line or row, column header or field, rule), then its text."""
    w = problem.where
    words = _PLACE["en" if lang == "en" else "zh"]
    parts: list[str] = []
    if w.line is not None:
        parts.append(words["line"].format(w.line) + (words["column"].format(w.column) if w.column is not None else ""))
    if w.row is not None:
        parts.append(words["row"].format(w.row))
    if w.rule_id:
        parts.append(words["rule"].format(w.rule_id))
    if w.field:
        table = (w.file or "").lower().endswith(TABLE_SUFFIXES)
        parts.append(words["header" if table else "field"].format(w.field))
    if lang == "en":
        body = problem.en + (f" {problem.hint_en}" if problem.hint_en else "")
    else:
        body = problem.zh + problem.hint_zh + f" ({problem.en}{' ' + problem.hint_en if problem.hint_en else ''})"
    place = words["and"].join(parts)
    return f"{place}{words['then']}{body} [{problem.code}]" if parts else f"{body} [{problem.code}]"


class RulePackError(PerfrulesError):
    """The rule pack or profile cannot be loaded."""


class InputError(PerfrulesError):
    """An input cannot be read at all."""


class UsageError(PerfrulesError):
    """The command line is wrong."""


class OutputError(PerfrulesError):
    """An output cannot be written (or its path holds something that is not ours to replace)."""


class LimitError(InputError):
    """An input goes beyond a limit that keeps the checker from running out of memory or time."""


def did_you_mean(word: str, choices: Iterable[str]) -> tuple[str, str]:
    """A ("您是否想用 'x'？", "Did you mean 'x'?") hint, or empty strings when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        return "", ""
    return f"您是否想用 {close[0]!r}？", f"Did you mean {close[0]!r}?"
