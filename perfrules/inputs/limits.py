"""Limits that keep a hostile or broken input from hanging the checker or exhausting memory.

Each limit breached is an ``InputError`` (exit 2) naming the file, and where it can, the line and field:
only regular files are read (a FIFO or a device named like a table would block forever); nesting in a
JSON or YAML document is bounded; a workbook's XML parts and a single CSV field have a size limit.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import Any

from perfrules.errors import InputError, LimitError, Problem, Where

MAX_DEPTH = 64                      # nesting of objects/lists in a submission; real ones nest 3 deep
MAX_CSV_FIELD = 1 << 20             # bytes in one CSV cell
MAX_XLSX_PART = 256 << 20           # uncompressed bytes of one XML part of a workbook
MAX_XLSX_TOTAL = 1 << 30            # uncompressed bytes of all parts


def refuse_non_regular_input(path: Path, shown: str | None = None) -> None:
    """Raise ``InputError`` unless ``path`` is a regular file (following links)."""
    name = shown or str(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError([Problem("input.not-found", f"输入不存在：{name!r}。", f"input {name!r} does not exist.", Where(file=name))]) from None
    except OSError as exc:
        raise InputError([Problem("input.unreadable", f"无法读取 {name}：{exc.strerror or exc}。",
                                  f"cannot read {name}: {exc.strerror or exc}.", Where(file=name))]) from None
    if stat.S_ISDIR(mode):
        raise InputError([Problem("input.is-folder", f"{name!r} 是目录，这里需要一个文件。", f"{name!r} is a folder; a file is needed here.",
                                  Where(file=name), "请给出提交文件（.json/.yaml）的路径。", "Give the path of a submission file (.json/.yaml).")])
    if not stat.S_ISREG(mode):
        raise InputError([Problem("input.not-regular", f"{name!r} 不是普通文件（管道、设备或套接字），不会读取。",
                                  f"{name!r} is not a regular file (a pipe, device or socket); it is not read.", Where(file=name))])


def check_document(data: Any, name: str, limit: int = MAX_DEPTH) -> None:
    """Raise ``InputError`` when lists and objects in ``data`` nest deeper than ``limit``, or a text holds a
    lone surrogate (``"\\ud800"`` in JSON: no character at all). Checked without recursion."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "$")]
    while stack:
        value, depth, at = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError([Problem("input.bad-text", "文本中有不成对的代理码元（如 \\ud800），不是有效字符。",
                                          "a text holds a lone surrogate (such as \\ud800), which is no valid character.",
                                          Where(file=name, field=at))]) from None
        elif isinstance(value, (dict, list)):
            if depth > limit:
                raise too_deep(name, limit)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                path = f"{at}.{key}" if isinstance(value, dict) else f"{at}[{key}]"
                if isinstance(key, str):
                    stack.append((key, depth, path))
                stack.append((child, depth + 1, path))


def too_deep(name: str, limit: int, line: int | None = None) -> LimitError:
    """The error for a document nested beyond ``limit`` levels."""
    return LimitError([Problem("input.too-deep", f"文档嵌套超过 {limit} 层。", f"the document nests deeper than {limit} levels.",
                               Where(file=name, line=line), "提交文件的结构只需几层。", "A submission needs only a few levels.")])


def check_workbook_parts(path: Path) -> None:
    """Raise ``LimitError`` when an XLSX holds an XML part (or parts in all) larger than the limits, before any XML is parsed."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError([Problem("input.unreadable", f"无法读取工作簿：{exc}。", f"cannot read the workbook: {exc}.", Where(file=str(path)))]) from None
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > MAX_XLSX_PART or total > MAX_XLSX_TOTAL:
            raise LimitError([Problem(
                "input.too-large", f"工作簿中的部件 {info.filename} 解压后为 {info.file_size:,} 字节，超过上限 {MAX_XLSX_PART:,}（全部部件上限 {MAX_XLSX_TOTAL:,}）。",
                f"the workbook part {info.filename} is {info.file_size:,} bytes uncompressed, beyond the limit of {MAX_XLSX_PART:,} "
                f"({MAX_XLSX_TOTAL:,} for all parts).", Where(file=str(path), field=info.filename),
                "请导出为 CSV 或 Parquet。", "Export the table as CSV or Parquet instead.")])
