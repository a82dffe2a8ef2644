"""How one input names the fields: the header its file used, or the key its submission used.

Findings speak the user's language: ``申请金额（万元）`` when that is the header the export had, the
vendor's ``XMJE`` when a column map read it, ``申请金额`` (the data contract's header) when a submission
wrote it so. A field the input did not have at all is named as the column map in use names it, else by
the data contract's Chinese header. Amounts are held in 元 whatever unit the input's header named
(``申请金额(万元)``); ``converted`` says which values a header names another unit for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from perfrules.language.fields import TABLES, split_header


@dataclass(frozen=True)
class InputHeaders:
    """``used``: table → field → the header (or submission key) the input used; ``mapped``: table → field → the
    source column(s) the column map in use names for it."""

    used: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    mapped: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def used_header(self, table: str, name: str) -> str | None:
        """The header the input itself used for a field, if it had the field."""
        return self.used.get(table, {}).get(name)

    def header(self, table: str, name: str) -> str:
        """What to call a field of this input: its own header, else the column map's, else the data contract's."""
        column = TABLES[table].by_name.get(name) if table in TABLES else None
        return (self.used_header(table, name) or self.mapped.get(table, {}).get(name)
                or (column.zh if column is not None else name))

    def differing(self, table: str, names: list[str]) -> dict[str, str]:
        """The headers the input used for ``names`` where they differ from the field's own name (for evidence)."""
        out = {}
        for name in names:
            used = self.used_header(table, name)
            if used is not None and used != name:
                out[name] = used
        return out

    def converted(self, table: str, names: list[str]) -> dict[str, str]:
        """The unit the values of ``names`` are held in (元), for the amounts whose header in the input names another
        unit (``{"amount": "元"}`` for a header ``申请金额(万元)``): so that no one reads 500000 as 万元."""
        out = {}
        for name in names:
            used = self.used_header(table, name)
            column = TABLES[table].by_name.get(name) if table in TABLES else None
            if used is not None and column is not None and column.kind == "money" and split_header(used)[1] not in (None, 1.0):
                out[name] = "元"
        return out


NO_HEADERS = InputHeaders()
