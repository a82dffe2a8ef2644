"""Loading inputs: submissions and export folders, normalised into the same typed tables."""

from __future__ import annotations

from pathlib import Path

from perfrules.errors import InputError, Problem, Where
from perfrules.inputs.column_map import ColumnMap, resolve_map
from perfrules.inputs.dataset import Dataset
from perfrules.inputs.export import load_export
from perfrules.inputs.submission import load_submission

SUBMISSION_SUFFIXES = (".json", ".yaml", ".yml")


def load_input(path: str | Path, column_map: ColumnMap | str | None = None) -> list[Dataset]:
    """Load a submission file, a folder of submission files, or an export folder (one Dataset per file or export).

    ``column_map`` (a map, or its name or file) says how an export folder from another system reads.
    """
    p = Path(path)
    chosen = resolve_map(column_map)  # a wrong map is an error even when the input turns out not to be an export
    if p.is_dir():
        from perfrules.distributed import layout, reader  # (imported here: the reader imports this package)
        if layout.is_partitioned(p):  # written by `perfrules partition`
            return [reader.load_partitioned(p)]
        if any(c.suffix.lower() in (".csv", ".xlsx", ".parquet") for c in p.iterdir()):
            return [load_export(p, str(p), chosen)]
        return [load_submission(f, str(f)) for f in sorted(p.iterdir())
                if f.suffix.lower() in SUBMISSION_SUFFIXES and f.is_file()] or _nothing(p)
    if p.is_file() and p.suffix.lower() in SUBMISSION_SUFFIXES:
        return [load_submission(p, str(p))]
    if not p.exists():
        raise InputError([Problem("input.not-found", f"输入不存在：{str(p)!r}。", f"input {str(p)!r} does not exist.", Where(file=str(p)))])
    raise InputError([Problem("input.kind", f"无法识别的输入 {str(p)!r}：应为 .json/.yaml 提交文件或导出目录。",
                              f"cannot tell what {str(p)!r} is: expected a .json/.yaml submission or an export folder.", Where(file=str(p)))])


def load_inputs(paths: list[str | Path], column_map: ColumnMap | str | None = None) -> list[Dataset]:
    """Load several inputs; each submission file and each export folder is its own Dataset."""
    chosen = resolve_map(column_map)
    return [d for p in paths for d in load_input(p, chosen)]


def _nothing(p: Path) -> list[Dataset]:
    raise InputError([Problem("input.empty", f"目录 {str(p)!r} 中没有提交文件或导出表。",
                              f"folder {str(p)!r} holds no submission files or export tables.", Where(file=str(p)))])



__all__ = ["Dataset", "load_input", "load_inputs", "load_export", "load_submission"]
