"""Evidence as a person reads it, in the input's own column headers.

A finding's evidence is keyed by the engine's field names (``amount``), for programs; when the input called
a field something else (``申请金额（万元）``, a vendor's ``apply_up``), the evaluation adds a ``headers``
entry saying so (``perfrules.evaluation.check.HEADERS``). Here that entry names the values instead of the
data contract's header, and is not shown itself.
"""

from __future__ import annotations

from typing import Any

from perfrules.findings.model import evidence_text

HEADERS = "headers"  # (the key perfrules.evaluation.check writes; outputs do not import the evaluation)


def shown_evidence(evidence: dict[str, Any], labels: dict[str, str], lang: str) -> str:
    """``申请金额（万元）：500,000元；…``: the evidence's values named by the input's headers, else by ``labels``."""
    headers = evidence.get(HEADERS)
    if not isinstance(headers, dict):
        return evidence_text(evidence, labels, lang)
    rest = {k: v for k, v in evidence.items() if k != HEADERS}
    return evidence_text(rest, {**labels, **{str(k): str(v) for k, v in headers.items()}}, lang)
