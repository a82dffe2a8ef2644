"""Read YAML safely while remembering where every value stands, for errors that name a line.

Documents are built with PyYAML's SafeLoader (the same constructor ``yaml.safe_load`` uses), so a
rule file can never create Python objects; the composed node tree is kept to look up positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perfrules.errors import Problem, Where

PathKey = tuple[Any, ...]


class _TextDatesLoader(yaml.SafeLoader):
    """SafeLoader that leaves ``2022-10-31`` as text, as a person wrote it; the schemas and parsers read it."""


_TextDatesLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class YamlDocument:
    """A loaded YAML file: its data, and the position of each value by path (keys and indices)."""

    file: str
    data: Any
    lines: list[str]
    marks: dict[PathKey, tuple[yaml.Node, yaml.Node | None]]

    def where(self, path: PathKey, **extra: Any) -> Where:
        """The location of the value at ``path`` (or of its nearest parent that has one)."""
        key = tuple(path)
        while key and key not in self.marks:
            key = key[:-1]
        node = self.marks.get(key, (None, None))[0]
        if node is None:
            return Where(file=self.file, line=1, column=1, **extra)
        return Where(file=self.file, line=node.start_mark.line + 1, column=node.start_mark.column + 1, **extra)

    def key_where(self, path: PathKey, **extra: Any) -> Where:
        """The location of the mapping key at ``path`` (where an unknown key was written)."""
        key_node = self.marks.get(tuple(path), (None, None))[1]
        if key_node is None:
            return self.where(path, **extra)
        return Where(file=self.file, line=key_node.start_mark.line + 1, column=key_node.start_mark.column + 1, **extra)

    def expression(self, path: PathKey, **extra: Any) -> tuple[str, Where]:
        """The source text of an expression scalar and where its first character stands.

        Positions in the returned text map back onto the file: its first line starts at the returned
        column, and every further line is the file's own line, indentation included. A block scalar
        (``|``/``>``) or a plain scalar spread over several lines is therefore returned as its raw
        source lines (folding only turns line breaks into spaces, which mean nothing to the parser).
        """
        node = self.marks[tuple(path)][0]
        value = str(self.data_at(path))
        style = getattr(node, "style", None)
        start, end = node.start_mark, node.end_mark
        if style in ("|", ">"):
            raw = self.lines[start.line + 1:end.line] or [value]
            return "\n".join(raw).rstrip(), Where(file=self.file, line=start.line + 2, column=1, **extra)
        if style is None and end.line > start.line:
            raw = [self.lines[start.line][start.column:]] + self.lines[start.line + 1:end.line + 1]
            raw[-1] = raw[-1][: end.column] if len(raw) > 1 else raw[-1]
            return "\n".join(raw).rstrip(), Where(file=self.file, line=start.line + 1, column=start.column + 1, **extra)
        offset = 1 if style in ("'", '"') else 0
        return value, Where(file=self.file, line=start.line + 1, column=start.column + 1 + offset, **extra)

    def data_at(self, path: PathKey) -> Any:
        """The value at ``path``."""
        value = self.data
        for part in path:
            value = value[part]
        return value


def load_yaml(path: Path, display: str | None = None) -> YamlDocument:
    """Load one YAML file; a syntax error becomes a ``Problem`` with its line and column."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unreadable(Problem("yaml.unreadable", f"无法读取文件：{exc}。", f"cannot read file: {exc}.",
                                  Where(file=name))) from exc
    loader = _TextDatesLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Where(file=name, line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None)
        raise _Unreadable(Problem("yaml.syntax", f"YAML 语法错误：{exc.problem}。", f"YAML syntax error: {exc.problem}.",
                                  where, "检查缩进、冒号和引号。", "Check indentation, colons and quotes.")) from exc
    finally:
        loader.dispose()
    marks: dict[PathKey, tuple[yaml.Node, yaml.Node | None]] = {}
    if node is not None:
        _index(node, (), None, marks)
    return YamlDocument(name, data, text.splitlines(), marks)


class _Unreadable(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.en)
        self.problem = problem


YamlUnreadable = _Unreadable


def _index(node: yaml.Node, path: PathKey, key_node: yaml.Node | None,
           marks: dict[PathKey, tuple[yaml.Node, yaml.Node | None]]) -> None:
    marks[path] = (node, key_node)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _index(v, path + (k.value,), k, marks)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _index(v, path + (i,), None, marks)
