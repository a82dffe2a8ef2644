"""The typed expression tree that rule conditions, derived facts and templates compile to.

The tree knows nothing of pandas, durable-rules or Dask: each backend walks it. Every node carries
its position in the rule file (line and column of the condition text) for error messages, and its
static type once the type-checker has run (one of ``TYPES``).

Names in a condition are resolved into ``Ref`` nodes of a definite ``space``:

- ``field``   a column of the record table (``amount``, ``prior_grade``);
- ``derived`` a derived fact declared once in the pack (``execution_rate``);
- ``column``  a column of a related table, inside an aggregate (``level1`` in ``count(indicators, …)``);
- ``builtin`` a value of the evaluation context (``as_of``);
- ``fact``    an aggregate lifted out of a condition by the compiler, computed by the fact layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

TYPES = ("number", "string", "bool", "date", "list", "mapping", "null")

COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
ARITH_OPS = ("+", "-", "*", "/")


@dataclass(frozen=True)
class Pos:
    """Where a node stands: 1-based line and column within the expression text."""

    line: int = 1
    col: int = 1


@dataclass(frozen=True)
class Node:
    """Base of every tree node."""

    pos: Pos = field(default=Pos(), compare=False, kw_only=True)

    def children(self) -> Iterator[Node]:
        """The node's direct sub-expressions."""
        return iter(())


@dataclass(frozen=True)
class Literal(Node):
    """A constant: number, string, bool, None, or a date."""

    value: Any
    type: str


@dataclass(frozen=True)
class ListLit(Node):
    """A literal list such as ``["人员类", "运转类"]``."""

    items: tuple[Node, ...]

    def children(self) -> Iterator[Node]:
        return iter(self.items)


@dataclass(frozen=True)
class Ref(Node):
    """A resolved name (see the module docstring for the spaces)."""

    space: str
    name: str


@dataclass(frozen=True)
class Param(Node):
    """``params.NAME``: a parameter whose value the profile resolves."""

    name: str


@dataclass(frozen=True)
class Compare(Node):
    """A binary comparison or membership test."""

    op: str
    left: Node
    right: Node

    def children(self) -> Iterator[Node]:
        return iter((self.left, self.right))


@dataclass(frozen=True)
class BoolOp(Node):
    """``and`` / ``or`` over two or more operands, with three-valued (Kleene) logic."""

    op: str
    items: tuple[Node, ...]

    def children(self) -> Iterator[Node]:
        return iter(self.items)


@dataclass(frozen=True)
class Not(Node):
    """Logical negation (unknown stays unknown)."""

    item: Node

    def children(self) -> Iterator[Node]:
        return iter((self.item,))


@dataclass(frozen=True)
class Arith(Node):
    """Binary arithmetic on numbers; ``-x`` is ``Arith("-", 0, x)``."""

    op: str
    left: Node
    right: Node

    def children(self) -> Iterator[Node]:
        return iter((self.left, self.right))


@dataclass(frozen=True)
class IsMissing(Node):
    """``x is None`` (or ``is not None`` when ``negate``): always true or false, never unknown."""

    item: Node
    negate: bool = False

    def children(self) -> Iterator[Node]:
        return iter((self.item,))


@dataclass(frozen=True)
class IfElse(Node):
    """``a if cond else b``."""

    cond: Node
    then: Node
    other: Node

    def children(self) -> Iterator[Node]:
        return iter((self.cond, self.then, self.other))


@dataclass(frozen=True)
class Call(Node):
    """A scalar function from ``perfrules.language.functions.SCALAR_FUNCTIONS``."""

    func: str
    args: tuple[Node, ...]

    def children(self) -> Iterator[Node]:
        return iter(self.args)


@dataclass(frozen=True)
class Aggregate(Node):
    """An aggregate over a record's rows in a related table.

    ``value`` is the per-row expression summed/compared (None for ``count``), ``where`` filters
    the rows (None keeps all). Names inside both resolve to the related table's columns.
    """

    func: str
    table: str
    value: Node | None = None
    where: Node | None = None

    def children(self) -> Iterator[Node]:
        return iter(n for n in (self.value, self.where) if n is not None)


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    yield node
    for child in node.children():
        yield from walk(child)


def refs(node: Node, space: str | None = None) -> list[Ref]:
    """The ``Ref`` nodes of a tree (optionally of one space), in order, without duplicates."""
    seen: dict[tuple[str, str], Ref] = {}
    for n in walk(node):
        if isinstance(n, Ref) and (space is None or n.space == space):
            seen.setdefault((n.space, n.name), n)
    return list(seen.values())


def value_refs(node: Node) -> list[Ref]:
    """The ``Ref`` nodes whose *value* the tree depends on: those not only tested by ``is None``.

    A missing value of such a leaf can make the result unknown; a leaf under ``IsMissing`` cannot.
    """
    seen: dict[tuple[str, str], Ref] = {}

    def visit(n: Node) -> None:
        if isinstance(n, IsMissing):
            return
        if isinstance(n, Ref):
            seen.setdefault((n.space, n.name), n)
        for child in n.children():
            visit(child)

    visit(node)
    return list(seen.values())


def params_read(node: Node) -> list[str]:
    """The parameter names a tree reads, in order of first use."""
    return list(dict.fromkeys(n.name for n in walk(node) if isinstance(n, Param)))


def to_text(node: Node) -> str:
    """The expression written back in the rule language (for ``explain`` and error messages)."""
    if isinstance(node, Literal):
        if node.type == "date":
            return f'date("{node.value.isoformat()}")'
        return repr(node.value) if not isinstance(node.value, str) else f'"{node.value}"'
    if isinstance(node, ListLit):
        return "[" + ", ".join(to_text(i) for i in node.items) + "]"
    if isinstance(node, Ref):
        return node.name
    if isinstance(node, Param):
        return f"params.{node.name}"
    if isinstance(node, Compare):
        return f"{_wrap(node.left)} {node.op} {_wrap(node.right)}"
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(_wrap(i) for i in node.items)
    if isinstance(node, Not):
        return f"not {_wrap(node.item)}"
    if isinstance(node, Arith):
        return f"{_wrap(node.left)} {node.op} {_wrap(node.right)}"
    if isinstance(node, IsMissing):
        return f"{_wrap(node.item)} is {'not ' if node.negate else ''}None"
    if isinstance(node, IfElse):
        return f"{_wrap(node.then)} if {_wrap(node.cond)} else {_wrap(node.other)}"
    if isinstance(node, Call):
        return f"{node.func}(" + ", ".join(to_text(a) for a in node.args) + ")"
    if isinstance(node, Aggregate):
        args = [node.table] + [to_text(n) for n in (node.value, node.where) if n is not None]
        return f"{node.func}(" + ", ".join(args) + ")"
    raise TypeError(f"unknown node {node!r}")


def _wrap(node: Node) -> str:
    text = to_text(node)
    compound = isinstance(node, (BoolOp, Compare, Arith, IfElse, Not, IsMissing))
    return f"({text})" if compound else text
