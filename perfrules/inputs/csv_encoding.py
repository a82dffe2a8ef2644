"""Which encoding a CSV file is in, decided over the whole file, or an error naming the line where it changes.

A CSV is UTF-8 (with or without BOM) or GBK/GB18030. Sniffing a prefix is not enough: a file whose first
part is GBK and a later part UTF-8 (two exports pasted together) decodes "successfully" as GB18030,
and the UTF-8 part becomes mojibake that would be checked as if it were data. So:

1. If every byte of the file is valid UTF-8, it is UTF-8.
2. Otherwise the first line that is not UTF-8 is taken to be GBK, and then
   - an earlier line that is certainly UTF-8 (one that is not valid GB18030, or that reads as Chinese
     in UTF-8) means the file mixes the two;
   - a later line that reads as Chinese in UTF-8 means the file mixes the two;
   - every line must be valid GB18030: the CSV reader decodes strictly, and when it fails ``undecodable``
     names the line (as UTF-8 if it reads as Chinese in UTF-8, else as neither encoding).

"Reads as Chinese in UTF-8": the line is valid UTF-8, holds at least one CJK ideograph, and every
non-ASCII character is one of those found in Chinese text (ideographs, CJK and full-width punctuation,
general punctuation such as “” and ·). GBK text rarely decodes as UTF-8 at all, and when it does it
gives other characters (GBK ``元`` is U+052A in UTF-8); for three GBK characters to read as one UTF-8
ideograph their bytes must fall in narrow ranges at six places at once (about 1 in 40 000 per run
of Chinese text, and every run of the line must do so). A GBK line mistaken for UTF-8 is therefore
unlikely and, when it happens, an error with a line number, never silently changed values.

The checks work on slices of whole lines and throw the text away: memory stays at the size of the
bytes already read plus one slice. A UTF-8 file is validated by Arrow without decoding it; a GBK file is
not decoded here at all (the reader does it once, strictly), only scanned for UTF-8 lines.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from perfrules.errors import InputError, Problem, Where

SLICE = 1 << 24  # bytes decoded at a time (cut at a line end)



def _byte_classes(classes: dict[str, range]) -> bytes:
    table = bytearray(b"." * 256)
    table[ord("\n")] = ord("\n")
    for mark, members in classes.items():
        for b in members:
            table[b] = ord(mark)
    return bytes(table)


# Where to look for UTF-8 lines: "LCCLCC" is two three-byte UTF-8 characters in a row (all of CJK is
# three bytes), "N" any non-ASCII byte. A run of UTF-8 text decodes as GB18030 without error only if its
# length is even, so a run of three-byte characters that does has at least two; a line whose runs are
# single characters fails to decode and is named by ``undecodable`` instead. (Not found: a line whose
# only runs mix one three-byte character with two-byte ones, such as "道·路", to an even length.)
_UTF8_CJK_MARK = _byte_classes({"L": range(0xE0, 0xF0), "C": range(0x80, 0xC0)})
_NON_ASCII_MARK = _byte_classes({"N": range(0x80, 0x100)})
_IDEOGRAPH = re.compile("[\u4e00-\u9fff]")
_NOT_CHINESE_TEXT = re.compile("[^\x00-\x7f\u00b7\u2010-\u203f\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

HINT_ZH = "用同一种编码（UTF-8 或 GBK）重新保存。"
HINT_EN = "Save the file again in one encoding (UTF-8 or GBK)."


def csv_encoding(data: bytes, path: Path) -> str:
    """``"utf8"`` or ``"gb18030"`` (the names Arrow's CSV reader takes) for the whole of ``data``."""
    bad = first_undecodable(data, "utf-8", 0, SLICE)  # a GBK file usually fails in its first lines
    if bad is None and not is_utf8(data):
        bad = first_undecodable(data, "utf-8", 0)
    if bad is None:
        return "utf8"
    gbk_line = line_of(data, bad)
    gbk_start = data.rfind(b"\n", 0, bad) + 1
    # A UTF-8 byte-order mark says the file is UTF-8 as plainly as a line of UTF-8 text does.
    earlier = 1 if data.startswith(codecs.BOM_UTF8) else _first_utf8_line(data, 0, gbk_start, before_gbk=True)
    if earlier is not None:
        raise _mixed(path, gbk_line, f"第 {gbk_line} 行不是 UTF-8 编码，而第 {earlier} 行是：文件混用了两种编码。",
                     f"line {gbk_line} is not UTF-8 while line {earlier} is: the file mixes two encodings.")
    later = _first_utf8_line(data, gbk_start, len(data), before_gbk=False)
    if later is not None:
        raise _mixed(path, later, f"第 {later} 行是 UTF-8 编码，而第 {gbk_line} 行是 GBK：文件混用了两种编码。",
                     f"line {later} is UTF-8 while line {gbk_line} is GBK: the file mixes two encodings.")
    return "gb18030"


def undecodable(data: bytes, path: Path) -> InputError:
    """The error for a file taken as GBK that GB18030 cannot decode somewhere (found while it was read:
    the reader decodes strictly, so the whole file is not decoded a second time just to look)."""
    wrong = first_undecodable(data, "gb18030", 0)
    line = line_of(data, wrong) if wrong is not None else 1
    first_gbk = first_undecodable(data, "utf-8", 0)
    gbk_line = line_of(data, first_gbk) if first_gbk is not None else 1
    if wrong is not None and _reads_as_utf8(_line_at(data, wrong)):
        return _mixed(path, line, f"第 {line} 行是 UTF-8 编码，而第 {gbk_line} 行是 GBK：文件混用了两种编码。",
                      f"line {line} is UTF-8 while line {gbk_line} is GBK: the file mixes two encodings.")
    return InputError([Problem("input.unknown-encoding", f"第 {line} 行既不是 UTF-8 也不是 GBK 编码。",
                               f"line {line} is neither UTF-8 nor GBK.", Where(file=str(path), line=line), HINT_ZH, HINT_EN)])


def is_utf8(data: bytes) -> bool:
    """Whether all of ``data`` is valid UTF-8: Arrow's validation, about three times faster than decoding
    in Python and without building the text (a large-binary array over the bytes, cast to text)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        whole.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def first_undecodable(data: bytes, encoding: str, start: int, stop: int | None = None) -> int | None:
    """The offset of the first byte from ``start`` on (to about ``stop``) that ``encoding`` cannot decode, or None."""
    view = memoryview(data)
    stop = len(data) if stop is None else min(stop, len(data))
    while start < stop:
        end = data.find(b"\n", min(start + SLICE, stop) - 1)
        end = len(data) if end < 0 else end + 1
        try:
            str(view[start:end], encoding)
        except UnicodeDecodeError as exc:
            return start + exc.start
        start = end
    return None


def line_of(data: bytes, offset: int) -> int:
    """The 1-based physical line holding byte ``offset``."""
    return data.count(b"\n", 0, offset) + 1


def _line_at(data: bytes, offset: int) -> bytes:
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    return data[start:len(data) if end < 0 else end]


def _first_utf8_line(data: bytes, start: int, end: int, before_gbk: bool) -> int | None:
    """The first line in ``data[start:end]`` that is certainly UTF-8.

    Before the first GBK line every line is valid UTF-8 (that is how the GBK line was found), so any
    non-ASCII line there that GB18030 cannot read counts too; after it, only lines that read as Chinese.
    Candidates are found a slice at a time in a copy with every byte replaced by its class (C speed).
    """
    marks = _NON_ASCII_MARK if before_gbk else _UTF8_CJK_MARK
    sought = b"N" if before_gbk else b"LCCLCC"
    while start < end:
        stop = data.find(b"\n", min(start + SLICE, end) - 1, end)
        stop = end if stop < 0 else stop + 1
        classes = data[start:stop].translate(marks)
        hit = classes.find(sought)
        while hit >= 0:
            offset = start + hit
            line = _line_at(data, offset)
            if _reads_as_utf8(line) or (before_gbk and not _decodes(line, "gb18030")):
                return line_of(data, offset)
            line_end = classes.find(b"\n", hit)
            if line_end < 0:
                break
            hit = classes.find(sought, line_end)
        start = stop
    return None


def _decodes(line: bytes, encoding: str) -> bool:
    try:
        line.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _reads_as_utf8(line: bytes) -> bool:
    """True when ``line`` is valid UTF-8 and reads as Chinese text (see the module docstring)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _IDEOGRAPH.search(text) is not None and _NOT_CHINESE_TEXT.search(text) is None


def _mixed(path: Path, line: int, zh: str, en: str) -> InputError:
    return InputError([Problem("input.mixed-encoding", zh, en, Where(file=str(path), line=line), HINT_ZH, HINT_EN)])
