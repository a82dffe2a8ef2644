"""Headless Chromium for tests: the DOM of a page after its scripts ran, and a screenshot of it.

Chromium is a Debian package (``chromium``); CI installs it. Without it a test is skipped on a
developer's machine but fails under CI (the ``CI`` environment variable), so a missing browser cannot
turn the rendering tests into silent skips there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

TIMEOUT = 120  # seconds; a page with 20,000 rows takes a few seconds to lay out


def chromium() -> str:
    """The Chromium executable; skips the test (fails it under CI) when there is none."""
    found = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
    if found is None:
        message = "chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _run(flags: list[str], html_path: Path) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}", *flags,
                   Path(html_path).resolve().as_uri()]
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=True)


def dump_dom(html_path: str | Path) -> str:
    """The page's DOM as HTML once it has loaded and its inline scripts have run."""
    return _run(["--dump-dom"], Path(html_path)).stdout


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1400, height: int = 2400) -> Path:
    """A PNG of the top ``width`` × ``height`` pixels of the page."""
    png = Path(png_path).resolve()
    _run([f"--screenshot={png}", f"--window-size={width},{height}"], Path(html_path))
    return png
