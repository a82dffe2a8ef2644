"""The nightly run's reports for people: a workbook (findings.xlsx) and a single-file HTML page.

``write_xlsx`` writes what a department head reads in the morning: an overview, the findings by
severity, the 重点关注台账 (one row per project) and counts by department. ``write_html`` writes a
self-contained page (no network needed) with headline figures, charts, the trend over past runs, the
watchlist and a searchable findings table. Both take the findings frame and summary.json of the run;
labels are Chinese by default, English with ``lang="en"``.
"""

from .html import write_html
from .xlsx import write_xlsx

__all__ = ["write_html", "write_xlsx"]
