"""Safe cells: text that a spreadsheet would take for a formula is written as plain text.

Project names, messages and the like come from the departments' own data: untrusted input. A cell
that starts with ``=``, ``+``, ``-`` or ``@`` (or with a tab or carriage return, which some
spreadsheets skip before looking) becomes a live formula when a CSV file is opened in Calc or Excel:
``=HYPERLINK("http://…","点我")`` is a link to anywhere. OWASP's rule for CSV injection is to put a
single quote before such a cell, which the spreadsheet shows as text (and hides the quote in
Excel). The workbook writer stores every text as a string cell, which is never a formula, and uses
the same test to decide which cells to mark as text explicitly.

This module is the one place that rule lives; every CSV and workbook writer goes through it.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_START = "=+-@\t\r"
_RISKY_RE2 = r"^[=+\-@\t\r]"
_QUOTE = "'"


def is_risky(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula."""
    return bool(text) and text[0] in FORMULA_START


def safe_text(value: object) -> str:
    """``value`` as CSV cell text, a quote put before it when it could be read as a formula."""
    text = "" if value is None else str(value)
    return _QUOTE + text if is_risky(text) else text


def safe_array(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``safe_text`` over an Arrow text column at once (nulls stay null)."""
    if len(texts) == 0:
        return texts
    risky = pc.match_substring_regex(texts, _RISKY_RE2)
    if not pc.any(risky).as_py():
        return texts
    quoted = pc.binary_join_element_wise(pa.scalar(_QUOTE, texts.type), texts, pa.scalar("", texts.type))
    return pc.if_else(pc.fill_null(risky, False), quoted, texts)
