"""How one input names the fields: the header its file used, or the key its submission used.

Findings speak the user's language: ``申请金额（万元）`` when that is the header the export had, the
vendor's ``XMJE`` when a column map read it, ``申请金额`` (the data contract's header) when a submission
wrote it so. A field the input did not have at all is named as the column map in use names it, else by
the data contract's Chinese header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from perfrules.language.fields import TABLES


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


NO_HEADERS = InputHeaders()
