"""Read YAML safely while remembering where every value stands, for errors that name a line.

Documents are built with PyYAML's SafeLoader (the same constructor ``yaml.safe_load`` uses), so a
rule file can never create Python objects; the composed node tree is kept to look up positions.

Hostile documents are refused with an error naming the line: a key written twice in one mapping (the
second would silently win), nesting deeper than ``MAX_DEPTH``, aliases in data files (``aliases=False``)
and, where aliases are allowed, more than ``MAX_NODES`` values after expanding them (a "billion laughs").
Only regular files are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perfrules.errors import Problem, Where

PathKey = tuple[Any, ...]


MAX_DEPTH = 64
MAX_NODES = 200_000


class _TextDatesLoader(yaml.SafeLoader):
    """SafeLoader that leaves ``2022-10-31`` as text, as a person wrote it; the schemas and parsers read it.

    It also counts the nesting depth while composing, so a deeply nested document is refused before
    PyYAML's recursive composer runs out of stack.
    """

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Limit("yaml.too-deep", f"嵌套超过 {MAX_DEPTH} 层", f"it nests deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Limit(Exception):
    def __init__(self, code: str, zh: str, en: str, mark: yaml.Mark | None):
        super().__init__(en)
        self.code, self.zh, self.en, self.mark = code, zh, en, mark


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


def load_yaml(path: Path, display: str | None = None, aliases: bool = True) -> YamlDocument:
    """Load one YAML file; a syntax error or a breached limit becomes a ``Problem`` with its line and column.

    ``aliases=False`` (data files) refuses anchors and aliases outright.
    """
    name = display or str(path)
    if not path.is_file():
        why_zh, why_en = ("不是普通文件", "it is not a regular file") if path.exists() else ("文件不存在（或链接指向的文件不存在）", "no such file (or a link to none)")
        raise _Unreadable(Problem("yaml.unreadable", f"无法读取文件：{why_zh}。", f"cannot read file: {why_en}.", Where(file=name)))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1 if isinstance(exc.object, bytes) else None
        raise _Unreadable(Problem("yaml.encoding", "文件不是 UTF-8 编码。", "the file is not UTF-8 encoded.",
                                  Where(file=name, line=line), "请以 UTF-8 编码保存。", "Save it as UTF-8.")) from exc
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise _Unreadable(Problem("yaml.unreadable", f"无法读取文件：{why}。", f"cannot read file: {why}.",
                                  Where(file=name))) from exc
    if "\x00" in text:
        raise _Unreadable(Problem("yaml.binary", "文件含有 NUL 字节，不是文本。", "the file holds NUL bytes; it is not text.", Where(file=name)))
    loader = _TextDatesLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_nodes(node, aliases)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Where(file=name, line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None)
        raise _Unreadable(Problem("yaml.syntax", f"YAML 语法错误：{exc.problem}。", f"YAML syntax error: {exc.problem}.",
                                  where, "检查缩进、冒号和引号。", "Check indentation, colons and quotes.")) from exc
    except yaml.YAMLError as exc:  # e.g. a character YAML does not allow, reported without a mark
        raise _Unreadable(Problem("yaml.syntax", f"YAML 语法错误：{exc}。", f"YAML syntax error: {exc}.", Where(file=name))) from exc
    except _Limit as exc:
        where = Where(file=name, line=exc.mark.line + 1 if exc.mark else None, column=exc.mark.column + 1 if exc.mark else None)
        raise _Unreadable(Problem(exc.code, f"YAML 文件无法接受：{exc.zh}。", f"the YAML file is refused: {exc.en}.", where)) from None
    finally:
        loader.dispose()
    marks: dict[PathKey, tuple[yaml.Node, yaml.Node | None]] = {}
    if node is not None:
        _index(node, (), None, marks)
    return YamlDocument(name, data, text.splitlines(), marks)


def _check_nodes(root: yaml.Node, aliases: bool) -> None:
    """Refuse duplicate keys, and aliases (``aliases=False``) or an alias expansion beyond ``MAX_NODES``.

    The walk visits each distinct node once but counts what the document expands to: a node reached
    through several aliases counts as often as it is repeated.
    """
    expanded: dict[int, int] = {}  # id(node) → the number of values it expands to
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    seen: set[int] = set()
    while stack:
        node, done = stack.pop()
        if done:
            sizes = [expanded.get(id(c)) for c in _children(node)]
            if None in sizes:  # an alias to a node that contains it: infinite when expanded
                raise _Limit("yaml.alias", "别名指向包含它自身的节点", "an alias refers to a node that contains it", node.start_mark)
            size = 1 + sum(n or 0 for n in sizes)
            if size > MAX_NODES:
                raise _Limit("yaml.too-large", f"展开别名后超过 {MAX_NODES:,} 个值", f"it expands to more than {MAX_NODES:,} values through its aliases",
                             node.start_mark)
            expanded[id(node)] = size
            continue
        if id(node) in seen:
            if not aliases:
                raise _Limit("yaml.alias", "数据文件中不允许使用锚点和别名（&/*）", "anchors and aliases (&/*) are not allowed in a data file",
                             node.start_mark)
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[str, yaml.Node] = {}
            for k, _ in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if k.value in keys:
                        raise _Limit("yaml.duplicate-key", f"键 {k.value!r} 在同一处写了两次（第 {keys[k.value].start_mark.line + 1} 行和这里）",
                                     f"the key {k.value!r} is written twice in one mapping (line {keys[k.value].start_mark.line + 1} and here)",
                                     k.start_mark)
                    keys[k.value] = k
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in expanded)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


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
