"""perfrules: compliance checks for China's budget performance management (预算绩效管理).

Library use::

    from perfrules import check_paths, screen
    result = check_paths(["samples/exports/county-2022"])          # batch (pandas)
    verdict = screen({"project_id": "P-1", "fiscal_year": 2022, "amount": 600000, ...})  # one submission (durable-rules)
"""

from __future__ import annotations

from typing import Any

from perfrules.api import check_paths

__all__ = ["check_paths", "screen"]


def screen(submission: Any, profile: str | None = None, as_of: Any = None, rules_dir: Any = None, lang: str = "zh") -> Any:
    """Screen one submission dict on the durable-rules engine; returns a ScreenResult (verdict, findings).

    The engine is built once per process and reused by later calls; durable-rules is imported only here.
    """
    from perfrules.evaluation.screening import screen as _screen
    return _screen(submission, profile=profile, as_of=as_of, rules_dir=rules_dir, lang=lang)
