"""Where the bundled rule pack and JSON Schemas are.

An installed package carries them as package data in ``perfrules/bundled/`` (``setup.py`` copies the
top-level ``rules/`` and ``schemas/`` there at build time, so the repository keeps one copy, where
policy officers edit it). A checkout or editable install reads the top-level folders themselves.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent


def bundled_path(name: str) -> Path:
    """The bundled ``rules`` or ``schemas`` folder: inside the installed package, else in the checkout."""
    inside = PACKAGE_DIR / "bundled" / name
    if inside.is_dir():
        return inside
    return CHECKOUT_DIR / name
