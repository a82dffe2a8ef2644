"""The report page on paper (headless Chromium's print to PDF) and the runs folder's index.html.

The sample run (the county export: 21 findings, one watch-listed project) prints on A4 landscape in at
most ``PAGE_BOUND`` pages: the figures and charts, the watchlist, then every finding — no scroll box
cuts the table off. The bound was set from the layout as built (6 pages; screenshots looked at) with
room for font differences between machines.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from browser import TIMEOUT, chromium
from conftest import SAMPLES
from pypdf import PdfReader

from perfrules.outputs.runs_index import render_index

EXPORT = SAMPLES / "exports" / "county-2022"
PAGE_BOUND = 8


def print_to_pdf(html_path: Path, pdf_path: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                        f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}",
                        html_path.resolve().as_uri()], capture_output=True, text=True, timeout=TIMEOUT, check=True)
    return pdf_path


def nightly(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "perfrules.cli.main", "nightly", *args, "--quiet", "--fail-on", "never"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with two nights of the county export (the second re-checks the first's as-of date)."""
    folder = tmp_path_factory.mktemp("runs")
    state = folder.parent / "state"
    nightly(str(EXPORT), "--out", str(folder / "2026-11-20"), "--state", str(state))
    nightly(str(EXPORT), "--out", str(folder / "2026-11-21"), "--state", str(state), "--as-of", "2022-10-30")
    return folder


def test_the_sample_run_prints_every_finding_on_a_bounded_number_of_pages(runs: Path, tmp_path: Path) -> None:
    pdf = print_to_pdf(runs / "2026-11-20" / "report.html", tmp_path / "report.pdf")
    reader = PdfReader(pdf)
    assert 2 <= len(reader.pages) <= PAGE_BOUND
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert width > height  # A4 landscape, as the print stylesheet asks
    printed = "".join("".join(page.extract_text().split()) for page in reader.pages)
    for project in ("GX-002", "GX-003", "GX-004", "GX-005", "GX-006", "GX-007"):
        assert project in printed
    assert printed.count("PF-M01-MIDYEAR") >= 5  # all five, not the few a scroll box shows
    assert "搜索" not in printed and "退出码" not in printed  # no controls, no internals on paper


def test_index_lists_every_run_with_its_figures(runs: Path) -> None:
    page = (runs / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>(.*?)</tr>", page)
    assert len(rows) == 2
    assert 'href="2026-11-21/report.html"' in rows[0] and 'href="2026-11-20/report.html"' in rows[1]  # newest first
    assert "2022-10-30" in rows[0] and "2022-10-31" in rows[1]
    first_total = json.loads((runs / "2026-11-20" / "summary.json").read_text(encoding="utf-8"))["counts"]["total"]
    assert f'<td class=num>{first_total}</td>' in rows[1]  # the first night's findings
    assert 'href="2026-11-21/notices/"' in rows[0] and 'href="2026-11-21/report.xlsx"' in rows[0]


def test_index_skips_folders_that_are_not_runs(runs: Path, tmp_path: Path) -> None:
    (runs / "notes").mkdir(exist_ok=True)
    (runs / ".2026-11-22.tmp-x").mkdir(exist_ok=True)
    (runs / ".2026-11-22.tmp-x" / "summary.json").write_text('{"run": {}}', encoding="utf-8")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text("{", encoding="utf-8")
    assert len(re.findall(r"<tr><td>", render_index(runs))) == 2
    assert "共 0 次运行" in render_index(tmp_path)
