"""The durable-rules (Rete) backend, for screening one submission at a time.

Imported lazily: ``check`` and the batch path work where durable-rules cannot be installed (it
builds from source and fails to import on Python ≥ 3.13); ``available()`` says why it is missing.
"""

from __future__ import annotations

import sys


def available() -> tuple[bool, str]:
    """Whether durable-rules can be imported here, and if not, why (in Chinese and English)."""
    try:
        import durable_rules_engine  # noqa: F401
        from durable import engine  # noqa: F401
    except Exception as exc:  # ImportError, or a broken C extension on a newer Python
        hint = ("durable-rules 2.0.28 无法在 Python 3.13 及以上导入（其 C 扩展调用已移除的 PyEval_CallObject）；"
                "请使用 Python 3.11 或 3.12。" if sys.version_info >= (3, 13) else
                "请安装 durable-rules==2.0.28（需要 C 编译器）：pip install -e .")
        return False, f"无法使用 durable-rules：{type(exc).__name__}: {exc}。{hint} (durable-rules is not available: {exc}.)"
    return True, ""
