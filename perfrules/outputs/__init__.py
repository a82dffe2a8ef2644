"""What people read: console text, JSON and CSV of a check, the nightly JSONL/CSV, the workbook and the HTML page."""
