"""LibreOffice headless for tests: convert a CSV, workbook or the like as Calc opens it, and read the cells.

LibreOffice is a Debian package (``libreoffice-calc-nogui``); CI installs it. As with Chromium
(``browser.py``), a test without it is skipped on a developer's machine and fails under CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import openpyxl
import pytest

TIMEOUT = 180
# CSV import: comma, double quote, UTF-8 (76), from line 1 — what Calc does with findings.csv by default.
CSV_FILTER = "CSV:44,34,76,1"


def soffice() -> str:
    """The LibreOffice executable; skips the test (fails it under CI) when there is none."""
    found = next((shutil.which(n) for n in ("soffice", "libreoffice") if shutil.which(n)), None)
    if found is None:
        message = "LibreOffice is not installed (Debian: apt-get install libreoffice-calc-nogui)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def convert(path: str | Path, to: str, out_dir: str | Path, infilter: str | None = None) -> Path:
    """``path`` converted by LibreOffice headless to format ``to`` (xlsx, pdf, png…) in ``out_dir``."""
    path, out_dir = Path(path).resolve(), Path(out_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        command = [soffice(), "--headless", "--norestore", f"-env:UserInstallation={Path(profile).as_uri()}",
                   *([f"--infilter={infilter}"] if infilter else []), "--convert-to", to, "--outdir", str(out_dir), str(path)]
        subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=True)
    result = out_dir / (path.stem + "." + to.split(":")[0])
    assert result.exists(), f"LibreOffice did not convert {path.name} to {to}"
    return result


def cells_as_calc_reads(path: str | Path, tmp_dir: str | Path) -> list[tuple[str, str, object, str]]:
    """Every non-empty cell of ``path`` after Calc opened it and saved it as .xlsx: (sheet, ref, value, type)."""
    infilter = CSV_FILTER if str(path).endswith(".csv") else None
    saved = convert(path, "xlsx", Path(tmp_dir) / "calc", infilter)
    book = openpyxl.load_workbook(saved)
    return [(ws.title, c.coordinate, c.value, c.data_type) for ws in book.worksheets
            for row in ws.iter_rows() for c in row if c.value is not None]
