"""The morning workbook on paper: LibreOffice headless prints the sample run's report.xlsx to PDF.

Before the workbook had a page setup the county sample printed on 25 portrait pages, the 阻断 sheet alone on 6
pages of one or two columns. Now every sheet is one page wide, A4 landscape; the bound is the 10 pages the
layout gives today (screenshots looked at) plus room for font metrics on other machines.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import SAMPLES
from office import convert
from pypdf import PdfReader

EXPORT = SAMPLES / "exports" / "county-2022"
PAGE_BOUND = 13


def test_the_sample_workbook_prints_landscape_one_page_wide(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "perfrules.cli.main", "nightly", str(EXPORT), "--out", str(tmp_path / "run"),
                           "--quiet", "--fail-on", "never"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    reader = PdfReader(convert(tmp_path / "run" / "report.xlsx", "pdf", tmp_path))
    assert 9 <= len(reader.pages) <= PAGE_BOUND  # at least a page per sheet
    for page in reader.pages:
        assert float(page.mediabox.width) > float(page.mediabox.height)
    texts = ["".join(page.extract_text().split()) for page in reader.pages]
    footers = {name for name in ("概览", "阻断", "警告", "提示", "重点关注台账", "部门统计", "规则执行情况", "数据问题")
               if any(name in t for t in texts)}
    assert len(footers) == 8
    warn = [t for t in texts if t.startswith("警告第")]
    assert len(warn) >= 2 and all("规则编号规则主管部门项目编码" in t for t in warn)  # header repeated on every page
    warnings = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))["counts"]["by_severity"]["警告"]
    assert any(f"警告：共{warnings}条" in t for t in warn)  # the sheet's title line counts its rows
    everything = "".join(texts)
    for text in ("GX-002", "未触发", "已支付金额"):  # a finding, a quiet rule, evidence by its column name
        assert text in everything
