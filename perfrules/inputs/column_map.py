"""Column maps: how one source system's export becomes the data contract.

A map is a YAML file, checked against ``schemas/column-map.schema.json``, that names per contract table
the file names the source system uses (``files:``) and per contract field the source column and how
its values read (``columns:``): a plain column name, or ``{column, lookup, unit, values, format}``.
Fields a map does not name are still read under perfrules' own names and Chinese headers, and source
columns no field claims are kept as they are.

A map is chosen by ``--map NAME|FILE`` or by an export's manifest (``map: fasp2``); the bundled maps
live in the top-level ``maps/`` folder (``perfrules.bundled.bundled_path("maps")``). Applying a map to
one table is ``perfrules.inputs.mapped_columns``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd

from perfrules.bundled import bundled_path
from perfrules.errors import InputError, Problem, Where, did_you_mean
from perfrules.language.fields import TABLES, UNIT_MULTIPLIERS, Table, table_for_file_stem
from perfrules.yaml_source import YamlDocument, YamlUnreadable, load_yaml

SCHEMA = "column-map.schema.json"
DEFAULT_MAP = "perfrules"
DATE_KINDS = ("date", "month")
UNIT_KINDS = ("money", "number")


@dataclass(frozen=True)
class ColumnSpec:
    """Where one contract field comes from and how its values read."""

    field: str
    columns: tuple[str, ...]  # the source header, or alternatives: the first the file has is used
    lookup: str | None = None
    unit: str | None = None
    values: dict[str, Any] | None = None
    format: str | None = None

    @property
    def multiplier(self) -> float | None:
        """The factor that turns the column's amounts into 元 (None: as the header or the value says)."""
        return UNIT_MULTIPLIERS[self.unit] if self.unit else None


@dataclass(frozen=True)
class TableMap:
    """One contract table as the source system writes it."""

    table: str
    files: tuple[str, ...] = ()
    columns: dict[str, ColumnSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnMap:
    """A whole map: its name, where it was read from, and its tables."""

    name: str
    title: str
    path: Path | None
    tables: dict[str, TableMap]
    title_en: str = ""
    source: str = ""

    def table_for_file(self, stem: str) -> Table | None:
        """The table an export file stands for: a name the map gives first, then perfrules' own names."""
        folded = _fold(stem)
        for name, tmap in self.tables.items():
            if folded in (_fold(f) for f in tmap.files):
                return TABLES[name]
        return table_for_file_stem(stem)

    def lookup_files(self) -> set[str]:
        """The code-list files the map reads (so that an export folder's copy is not taken for a table)."""
        return {spec.lookup for t in self.tables.values() for spec in t.columns.values() if spec.lookup}

    def find_lookup(self, name: str, export_folder: Path) -> Path:
        """A lookup file: in the export folder first, then beside the map file."""
        places = [export_folder / name] + ([self.path.parent / name] if self.path else [])
        for place in places:
            if place.is_file():
                return place
        tried = "、".join(str(p) for p in places)
        raise InputError([Problem("map.lookup-not-found", f"列映射 {self.name} 的代码表 {name!r} 不存在（查找了：{tried}）。",
                                  f"column map {self.name}: lookup file {name!r} not found (looked in: {', '.join(str(p) for p in places)}).",
                                  Where(file=str(self.path or self.name), field=name),
                                  "把代码表放在导出目录或映射文件旁边。", "Put the lookup file in the export folder or beside the map file.")])

    def reader(self, table: Table, source: Path, export_folder: Path, issues: list[Any], notes: list[Any]) -> Callable[..., Any] | None:
        """The step that applies this map to one raw table of ``source`` (None when the map says nothing of its columns)."""
        tmap = self.tables.get(table.name)
        if tmap is None or not tmap.columns:
            return None
        from perfrules.inputs.mapped_columns import remap_table  # (it imports this module)

        def step(raw: pd.DataFrame, rows: Any) -> tuple[pd.DataFrame, Callable[[str], tuple[str | None, float | None]]]:
            return remap_table(raw, rows, table, tmap, self, source, export_folder, issues, notes)
        return step


def _fold(name: str) -> str:
    return re.sub(r"\s+", "", name).casefold()


def maps_dir() -> Path:
    """The folder of bundled maps."""
    return bundled_path("maps")


def bundled_map_names() -> list[str]:
    """Names of the bundled maps, sorted."""
    folder = maps_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_column_map(ref: str | Path, base: Path | None = None) -> ColumnMap:
    """A map by bundled name (``fasp2``) or by file (a path, relative to ``base`` when given); problems raise ``InputError``."""
    text = str(ref)
    path = Path(text)
    if base is not None and not path.is_absolute():
        path = base / path
    if path.is_file():
        return read_column_map(path)
    if path.suffix.lower() in (".yaml", ".yml") or "/" in text or "\\" in text:
        raise InputError([Problem("map.not-found", f"列映射文件不存在：{str(path)!r}。", f"column map file {str(path)!r} does not exist.",
                                  Where(file=str(path)))])
    return _bundled(text)


@cache
def _bundled(name: str) -> ColumnMap:
    path = maps_dir() / f"{name}.yaml"
    if not path.is_file():
        names = bundled_map_names()
        hz, he = did_you_mean(name, names)
        raise InputError([Problem("map.unknown", f"没有名为 {name!r} 的列映射（自带：{'、'.join(names)}）。{hz}",
                                  f"no column map named {name!r} (bundled: {', '.join(names)}).",
                                  Where(field="map"), "用 perfrules maps 查看自带的映射，或给出映射文件的路径。",
                                  f"{he + ' ' if he else ''}Run 'perfrules maps' to list them, or give the path of a map file.")])
    return read_column_map(path)


def read_column_map(path: Path) -> ColumnMap:
    """Read and check one map file; every problem is reported at its line."""
    try:
        doc = load_yaml(path)
    except YamlUnreadable as exc:
        raise InputError([exc.problem]) from exc
    problems = _schema_problems(doc)
    if problems:
        raise InputError(problems)
    data = doc.data
    tables: dict[str, TableMap] = {}
    for tname, tdata in data["tables"].items():
        table = TABLES.get(tname)
        if table is None:  # the schema names every table; this guards a catalogue that lost one
            problems.append(Problem("map.unknown-table", f"未知的表 {tname!r}。", f"unknown table {tname!r}.", doc.key_where(("tables", tname))))
            continue
        columns: dict[str, ColumnSpec] = {}
        for fname, spec in (tdata.get("columns") or {}).items():
            found = _column_spec(doc, table, fname, spec, problems)
            if found is not None:
                columns[fname] = found
        tables[tname] = TableMap(tname, tuple(str(f) for f in tdata.get("files") or ()), columns)
    if problems:
        raise InputError(problems)
    return ColumnMap(str(data["map"]), str(data["title"]), path, tables, str(data.get("title_en", "")), str(data.get("source", "")))


def _column_spec(doc: YamlDocument, table: Table, fname: str, spec: Any, problems: list[Problem]) -> ColumnSpec | None:
    at = ("tables", table.name, "columns", fname)
    column = table.column(fname)
    if column is None:
        hz, he = did_you_mean(fname, [c.name for c in table.columns])
        problems.append(Problem("map.unknown-field", f"表 {table.name} 没有字段 {fname!r}。{hz}", f"table {table.name} has no field {fname!r}.",
                                doc.key_where(at, field=fname), "字段名见数据契约（schemas/export-tables.schema.json）。",
                                f"{he + ' ' if he else ''}See the data contract for the field names."))
        return None
    if not isinstance(spec, dict):
        spec = {"column": spec}
    sources = tuple(spec["column"]) if isinstance(spec["column"], list) else (spec["column"],)
    if spec.get("format") and column.kind not in DATE_KINDS:
        problems.append(Problem("map.format-not-date", f"format 只用于日期或月份字段，{fname} 是{column.kind}。",
                                f"format applies to date and month fields only; {fname} is {column.kind}.", doc.key_where(at + ("format",), field=fname)))
    if spec.get("format") and "%" not in str(spec["format"]):
        problems.append(Problem("map.bad-format", f"日期格式 {spec['format']!r} 中没有 % 代码（如 %Y%m%d）。",
                                f"date format {spec['format']!r} has no % directive (e.g. %Y%m%d).", doc.where(at + ("format",), field=fname)))
    if spec.get("unit") and column.kind not in UNIT_KINDS:
        problems.append(Problem("map.unit-not-amount", f"unit 只用于金额字段，{fname} 是{column.kind}。",
                                f"unit applies to amounts only; {fname} is {column.kind}.", doc.key_where(at + ("unit",), field=fname)))
    values = {str(k): v for k, v in spec["values"].items()} if spec.get("values") else None
    return ColumnSpec(fname, tuple(str(s) for s in sources), spec.get("lookup"), spec.get("unit"), values, spec.get("format"))


def _schema_problems(doc: YamlDocument) -> list[Problem]:
    from perfrules.rulepack.pack import load_schema  # the one reader of bundled schemas

    validator = jsonschema.Draft202012Validator(load_schema(SCHEMA))
    problems = []
    data = doc.data if doc.data is not None else {}
    errors = [leaf for err in validator.iter_errors(data) for leaf in _leaf_errors(err)]
    for err in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = tuple(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = err.schema.get("properties", {})
            for extra in sorted(set(err.instance) - set(allowed)):
                hz, he = did_you_mean(str(extra), allowed)
                problems.append(Problem("map.unknown-key", f"列映射中未知的键 {extra!r}。{hz}", f"unknown key {extra!r} in the column map.",
                                        doc.key_where(path + (extra,), field=str(extra)), "", he))
            continue
        where = ".".join(str(p) for p in path) or None
        problems.append(Problem("map.invalid", f"不符合列映射格式：{err.message}。", f"does not match the column map schema: {err.message}.",
                                doc.where(path, field=where)))
    return problems


def _leaf_errors(err: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors inside a ``oneOf`` (a column written as a name or as an object) of the branch the value's shape chose."""
    if err.validator != "oneOf" or not err.context:
        return [err]
    branches: dict[Any, list[jsonschema.ValidationError]] = {}
    for sub in err.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    for subs in branches.values():
        if not any(s.validator in ("type", "oneOf") and not s.relative_path for s in subs):
            return [leaf for sub in subs for leaf in _leaf_errors(sub)]
    return [err]


def manifest_map(folder: Path, manifest_names: Sequence[str]) -> ColumnMap | None:
    """The map an export folder's manifest names (``map: fasp2`` or a file relative to the folder), if any."""
    for name in manifest_names:
        path = folder / name
        if not path.is_file():
            continue
        try:  # read as the manifest's own reader reads it (its dates left as text), which reports what it cannot read
            data = load_yaml(path, str(path), aliases=False).data
        except YamlUnreadable:
            return None
        ref = data.get("map") if isinstance(data, dict) else None
        if ref is None:
            return None
        try:
            return load_column_map(str(ref), base=folder)
        except InputError as exc:
            raise InputError([p.at(file=str(path), field="map") for p in exc.problems]) from exc
    return None


def resolve_map(given: ColumnMap | str | Path | None) -> ColumnMap | None:
    """A map object from what a caller passed: a loaded map, a name or file, or None."""
    if given is None or isinstance(given, ColumnMap):
        return given
    return load_column_map(given)
