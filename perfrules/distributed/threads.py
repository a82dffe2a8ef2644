"""A worker plugin: the threads of a task on a Dask worker add up to the worker's ``nthreads``, not to the machine.

One process uses every core: perfrules' own thread pools (column parsing, related tables, rules) and
Arrow's CPU pool are as large as the machine. On a worker that is wrong twice over: the worker already
runs ``nthreads`` tasks side by side, and other workers may share the machine (on 2 cores, one
1-thread worker kept both busy and a second one only added contention: benchmarks/distributed.py).
As Dask itself does for BLAS and OpenMP (its nanny starts workers with
``OMP_NUM_THREADS=1``), a task's own pools get one thread, and Arrow's pools, which the worker's tasks
share, get ``nthreads``: a 1-thread worker is one core, two of them are two. Imported only once Dask is
known to be installed; registered by ``runner`` on every cluster it runs on, so a worker that restarts
gets it too.
"""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin

from perfrules.inputs.dataset import set_pool_threads


class WorkerThreads(WorkerPlugin):
    """Size the worker's thread pools to its ``nthreads`` when it starts (a restarted worker too)."""

    name = "perfrules-worker-threads"

    def setup(self, worker: Any) -> None:
        import pyarrow as pa

        nthreads = max(1, int(worker.state.nthreads))
        set_pool_threads(1)  # a task's pools; the worker's nthreads tasks are its parallelism
        pa.set_cpu_count(nthreads)
        pa.set_io_thread_count(nthreads)
