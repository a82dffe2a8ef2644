"""The service's settings, as the CLI gives them, passed whole to each worker process."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceConfig:
    """What ``perfrules serve`` was told (paths are strings so the config pickles into worker processes)."""

    rules_dir: str
    state_dir: str
    token_file: str | None = None
    decision_log: str | None = None
    log_inputs: bool = False
    max_body: int = 1_048_576
    max_batch: int = 100
    header_timeout_seconds: float = 20.0
    poll_seconds: float = 0.2
    reload_wait_seconds: float = 30.0
    reload_timeout_seconds: float = 120.0
