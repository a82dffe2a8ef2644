"""Checking beyond one machine: exports bucketed by project into Parquet partitions, checked partition by
partition on a Dask cluster by the same pandas evaluator, and the partitions' findings collected into the
result one process would give.

``layout``: the partitioned dataset's folder, manifest and bucketing; ``writer``: ``perfrules partition``;
``reader``: a partition (or all of them) as a ``Dataset``; ``task``: what a worker does with one partition;
``staging``: a task's findings handed to the driver as a file; ``collect``: the partitions' results as one;
``runner``: the Dask cluster and the progress of a run; ``threads``: the Arrow thread pool of a local
cluster's workers.
"""
