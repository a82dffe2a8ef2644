"""Where each record of a CSV starts, and rows that stray quotes have joined into one.

A quoted field may hold line breaks (valid CSV: ``P1,"第一行<newline>第二行",100``), so a record can span
several physical lines. A stray pair of quotes makes the same shape out of several rows::

    P4,"道路,400        <- a stray opening quote at the start of a field
    P5,桥梁,500         <- swallowed into P4's name
    P6,学校",600        <- a stray quote that closes it: P5 vanishes, P6's id and name join P4's name

Any CSV reader takes that as one valid row. The rule used here: a record spanning several physical
lines is taken as rows joined by stray quotes (``input.merged-lines``, exit 2 naming the line where it
starts and the line where it ends) when

1. its number of fields differs from the header's, or
2. read with its quotes as plain characters, each of its lines is shaped like a whole row: has at
   least the header's number of fields.

A real multi-line value (a note over several lines) passes unless every one of its lines holds at least
as many commas as a row has separators; a file with a single column is never refused on shape. Joined
rows of the header's width where one of the joined lines is short (a stray quote in a field that holds
commas, or a short row swallowed) are not recognised: the rule cannot tell them from a real value.

Only a file in which some record spans lines is scanned: Arrow's count of records plus the empty lines
equals the physical lines otherwise. The records are then found by Python's ``csv`` module, whose quoting
matches Arrow's (a quote opens a quoted field only at a field's start, ``""`` is a quote inside one);
empty lines are skipped as Arrow skips them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from perfrules.errors import InputError, Problem, Where
from perfrules.inputs.limits import MAX_CSV_FIELD


def record_starts(data: bytes, width: int, path: Path, records: int) -> np.ndarray | None:
    """The physical line on which each non-empty record starts (the header's first), or None when record
    *n* is on line *n*. ``records`` is how many non-empty records the CSV reader found (header included):
    when they and the empty lines add up to the physical lines, no record spans lines and nothing is scanned.
    None also when a field is too long to scan (the field-size check reports it).

    Raises ``InputError`` (``input.merged-lines``) for rows joined by stray quotes.
    """
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    empty = empty_lines(data, lines)
    if records + len(empty) == lines:
        return np.setdiff1d(np.arange(1, lines + 1, dtype=np.int64), empty) if len(empty) else None
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_FIELD))
    # Read as Latin-1: quotes, commas and line ends are single bytes that never occur inside a UTF-8 or GBK
    # character, so records and their lines come out the same, without decoding the text (slow for GBK).
    text = io.TextIOWrapper(io.BytesIO(data), encoding="latin-1", newline="")
    reader = csv.reader(text)
    starts: list[int] = []
    end = 0
    try:
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not fields:
                continue
            starts.append(start)
            if end > start and start != starts[0] and joined_rows(fields, width):
                raise _merged(path, start, end, len(fields), width)
    except csv.Error:
        return None
    return np.asarray(starts, dtype=np.int64)


def empty_lines(data: bytes, lines: int) -> np.ndarray:
    """The numbers of the empty physical lines (nothing, or only a carriage return), which CSV readers skip."""
    if b"\n\n" not in data and b"\n\r\n" not in data and not data.startswith((b"\n", b"\r\n")):
        return np.empty(0, dtype=np.int64)
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    starts = np.concatenate(([0], newlines + 1))[:lines]
    ends = np.concatenate((newlines, [len(data)]))[:lines]
    length = ends - starts
    carriage = np.zeros(lines, dtype=bool)
    one = np.flatnonzero(length == 1)
    carriage[one] = np.frombuffer(data, dtype=np.uint8)[starts[one]] == ord("\r")
    return np.flatnonzero((length == 0) | carriage) + 1


def joined_rows(fields: list[str], width: int) -> bool:
    """Whether a record spanning several lines is rows joined by stray quotes (rules 1 and 2 above)."""
    if len(fields) != width:
        return True
    if width < 2:
        return False
    lines = ",".join(fields).replace("\r\n", "\n").split("\n")
    return all(line.count(",") + 1 >= width for line in lines)


def _merged(path: Path, start: int, end: int, found: int, width: int) -> InputError:
    why_zh = f"合并后有 {found} 个字段，应为 {width} 个" if found != width else f"其中每一行单独看都是完整的一行（至少 {width} 个字段）"
    why_en = f"together they have {found} fields, not {width}" if found != width else f"each of them alone is a whole row ({width} fields or more)"
    return InputError([Problem(
        "input.merged-lines",
        f"第 {start}–{end} 行被引号连成了一行：{why_zh}。多半是某个值里有不成对的引号（\"）。",
        f"lines {start}–{end} are joined into one row by quotes: {why_en}. A value most likely holds stray quotes (\").",
        Where(file=str(path), line=start),
        f"检查第 {start} 行和第 {end} 行中的引号：值里的引号须写成两个（\"\"），或整个值不加引号。",
        f"Check the quotes on lines {start} and {end}: a quote inside a value is written twice (\"\"), or the value is left unquoted.")])
