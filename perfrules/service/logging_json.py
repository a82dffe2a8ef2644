"""Structured logs: one JSON object per line on stderr, each with the worker and the pack revision it serves.

The access log (logger ``perfrules.access``) has one line per request: method, path, status,
latency, client, decision id. uvicorn's own loggers are routed through the same formatter.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """A log record as a JSON line; ``extra=`` fields become keys."""

    def __init__(self, revision: Callable[[], str | None]):
        super().__init__()
        self.revision = revision

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(), "logger": record.name, "pid": os.getpid(),
            "pack_revision": self.revision(), "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)  # the server log only, never a response
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(revision: Callable[[], str | None], level: int = logging.INFO) -> None:
    """Send perfrules' and uvicorn's logs to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(revision))
    for name in ("perfrules", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our access log replaces it
