"""A worker plugin for local clusters: each worker's Arrow thread pool sized to its share of the machine's cores.

Arrow's CPU pool is as large as the machine by default, so N worker processes on one machine would run N
times its cores in Arrow threads (Parquet decoding, conversions to pandas) and contend for them. Imported
only once Dask is known to be installed.
"""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin


class ArrowThreads(WorkerPlugin):
    """Set the worker's Arrow CPU thread pool to ``count`` threads when it starts (a restarted worker too)."""

    name = "perfrules-arrow-threads"

    def __init__(self, count: int) -> None:
        self.count = count

    def setup(self, worker: Any) -> None:
        import pyarrow as pa

        pa.set_cpu_count(self.count)
