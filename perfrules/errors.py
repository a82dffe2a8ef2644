"""Errors a person can act on: where, what, how to fix, and a machine-readable reason code.

Every user mistake (a bad rule file, an unreadable input, a wrong option) becomes a ``Problem``;
the CLI turns them into messages and exit code 2 at one point. Messages are Chinese first, with
the English beside them (``--lang en`` shows English only).
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
        """All problems, one per line."""
        return "\n".join(p.text(lang) for p in self.problems)


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
