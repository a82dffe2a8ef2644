"""index.html across runs: written beside the run directories, but never over a page perfrules did not write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERFRULES = str(Path(sys.executable).with_name("perfrules"))
EXPORT = ROOT / "samples" / "exports" / "county-2022"


def nightly(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PERFRULES, "nightly", str(EXPORT), "--out", str(out), "--quiet", "--fail-on", "never"],
                          capture_output=True, text=True, timeout=300)


def test_index_lists_runs_and_is_refreshed_by_the_next_run(tmp_path: Path) -> None:
    assert nightly(tmp_path / "2022-11-01").returncode == 0
    first = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "2022-11-01" in first and "2022-11-02" not in first
    assert nightly(tmp_path / "2022-11-02").returncode == 0
    second = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "2022-11-01" in second and "2022-11-02" in second


def test_a_foreign_index_html_is_left_as_it_is(tmp_path: Path) -> None:
    foreign = tmp_path / "index.html"
    foreign.write_text("<html><body>the bureau's own page</body></html>", encoding="utf-8")
    proc = nightly(tmp_path / "run")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "summary.json").is_file()
    assert foreign.read_text(encoding="utf-8") == "<html><body>the bureau's own page</body></html>"
