"""Evidence as a person reads it, in the input's own column headers and their units.

A finding's evidence is keyed by the engine's field names (``amount``), for programs, with amounts in 元; when
the input called a field something else (``申请金额（万元）``, a vendor's ``apply_up``), the evaluation adds a
``headers`` entry saying so, and ``units`` for an amount whose header names another unit than the 元 it is held
in (``perfrules.evaluation.check.HEADERS``, ``UNITS``). Here those entries name the values instead of the data
contract's header, each amount in its header's unit (50.00 under 申请金额(万元), not 500,000元), and are not
shown themselves.
"""

from __future__ import annotations

from typing import Any

from perfrules.findings.model import evidence_text
from perfrules.language.fields import split_header

# (the keys perfrules.evaluation.check writes; outputs do not import the evaluation)
HEADERS, UNITS = "headers", "units"


def shown_evidence(evidence: dict[str, Any], labels: dict[str, str], lang: str) -> str:
    """``申请金额（万元）：50.00；…``: the evidence's values named by the input's headers, else by ``labels``."""
    headers = evidence.get(HEADERS)
    if not isinstance(headers, dict):
        return evidence_text({k: v for k, v in evidence.items() if k != UNITS}, labels, lang)
    rest = {k: v for k, v in evidence.items() if k not in (HEADERS, UNITS)}
    units = evidence.get(UNITS)
    for name in units if isinstance(units, dict) else ():
        rest[name] = in_header_unit(rest.get(name), str(headers.get(name, "")))
    return evidence_text(rest, {**labels, **{str(k): str(v) for k, v in headers.items()}}, lang)


def in_header_unit(value: Any, header: str) -> Any:
    """An amount held in 元 as a number in the unit its header names (``申请金额(万元)``: 500000 → "50.00");
    anything else as it is."""
    multiplier = split_header(header)[1]
    if not multiplier or isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return value
    shown = round(value / multiplier, 6)
    two = f"{shown:,.2f}"
    return two if float(two.replace(",", "")) == shown else f"{shown:,.6f}".rstrip("0")
