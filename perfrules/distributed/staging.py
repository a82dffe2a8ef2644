"""Findings staged on disk per partition, so that they travel from the workers to the driver as files.

A task writes its partition's findings (one file per profile) into the run's staging folder inside the
partitioned dataset (a place every worker and the driver can reach) and returns only their count; the
driver reads the files back as Arrow and joins them (``collect``). Nothing is pickled through the
cluster, and the driver holds no partition's findings while the others are checked.

::

    DIR/_staging/run-<token>/part-<i>-<profile>.parquet    findings of partition i checked with a profile

The run's folder is removed when the run ends, finished or not; one left by a driver that was killed is
removed by the next run on the same host.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from perfrules.findings.schema import PARTS  # the findings table's columns but its key (``finish`` adds it again)

STAGING = "_staging"


OWNER = "owner.json"


def new_run_folder(dataset: Path) -> Path | None:
    """A fresh staging folder for one run in ``dataset``, or None when the dataset cannot be written to
    (then the findings come back with the results, as they did before staging). The folders of runs whose
    driver died on this host are removed first."""
    remove_abandoned(dataset / STAGING)
    folder = dataset / STAGING / f"run-{uuid.uuid4().hex[:12]}"
    try:
        folder.mkdir(parents=True)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(folder, 0o777 & ~umask)
        (folder / OWNER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}) + "\n", encoding="utf-8")
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return folder


def remove_abandoned(staging: Path) -> None:
    """Remove the run folders whose driver ran on this host and is no longer alive (killed mid-run); the
    folders of live runs, of other hosts and without a readable owner are left alone."""
    try:
        runs = [p for p in staging.iterdir() if p.name.startswith("run-")] if staging.is_dir() else []
    except OSError:
        return
    for run in runs:
        try:
            owner = json.loads((run / OWNER).read_text(encoding="utf-8"))
            pid, host = int(owner["pid"]), owner["host"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if host != socket.gethostname() or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(run, ignore_errors=True)
        except OSError:
            pass  # alive under another account


def remove_run_folder(folder: Path | None) -> None:
    """Remove a run's staging folder (and ``_staging`` once no run uses it)."""
    if folder is None:
        return
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()
    except OSError:
        pass  # another run's folder is still there, or it is gone already


def part(table: pd.DataFrame) -> pa.Table:
    """A findings table as a part for ``finding_table.finish`` (its key dropped: ``finish`` adds it again)."""
    return pa.Table.from_pandas(table.drop(columns="key"), preserve_index=False).cast(PARTS)


def write_part(table: pd.DataFrame, folder: str, partition: int, profile: str) -> str:
    """Write a partition's findings for one profile into the run's staging folder; the file's path.

    Written under a temporary name and renamed, so that a task Dask runs again after its worker died
    cannot leave half a file under the real name."""
    path = Path(folder) / f"part-{partition:05d}-{profile}.parquet"
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    pq.write_table(part(table), tmp, compression="zstd")
    os.replace(tmp, path)
    return str(path)


def read_part(path: str) -> pa.Table:
    """A staged part back as Arrow, with the findings table's column types."""
    return pq.read_table(path).cast(PARTS)
