"""Parse condition text into the typed tree, resolving names and checking types.

The surface syntax is a Python expression (``amount >= params.ex_ante_threshold and not has_goal``)
read by ``ast.parse(mode="eval")``; only the node types handled below are accepted, so nothing in
a rule file is ever executed. Names may be Chinese field labels as well as English ones.
"""

from __future__ import annotations

import ast
import datetime as dt
from dataclasses import dataclass, field

import perfrules.language.expr as E
from perfrules.errors import Problem, Where, did_you_mean
from perfrules.language.fields import TABLES, flattened_name
from perfrules.language.functions import AGGREGATE_FUNCTIONS, BUILTINS, SCALAR_FUNCTIONS

_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.In: "in", ast.NotIn: "not in"}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


@dataclass
class Scope:
    """What names mean where an expression stands.

    ``fields`` maps the record table's columns (English and Chinese labels) to (name, type);
    ``derived`` the pack's derived facts to their types; ``params`` the declared parameters to their
    types. ``table`` is the related table inside an aggregate, else None.
    """

    fields: dict[str, tuple[str, str]]
    derived: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    table: str | None = None


def scope_for_table(table: str, derived: dict[str, str], params: dict[str, str]) -> Scope:
    """The scope of a condition evaluated on rows of ``table``."""
    names: dict[str, tuple[str, str]] = {}
    for col in TABLES[table].columns:
        for label in (col.name, col.zh, *col.aliases):
            names.setdefault(label, (col.name, col.type))
    return Scope(names, dict(derived), dict(params))


@dataclass
class Checked:
    """A parsed and type-checked expression, or the problems that stopped it."""

    node: E.Node | None
    type: str
    problems: list[Problem]


def parse_expression(text: str, scope: Scope, where: Where | None = None) -> Checked:
    """Parse ``text`` in ``scope``; problems carry positions relative to ``where`` (a YAML location)."""
    base = where or Where()
    if len(str(text)) > MAX_LENGTH:
        return Checked(None, "error", [_problem(
            "rule.too-long", f"条件长 {len(str(text)):,} 个字符，超过上限 {MAX_LENGTH:,}。",
            f"the condition is {len(str(text)):,} characters long, beyond the limit of {MAX_LENGTH:,}.", base, 1, 1,
            "把它拆成派生事实（derived）。", "Split it into derived facts.")])
    # Wrapping in parentheses lets a condition span several lines of a YAML block scalar.
    try:
        tree = ast.parse("(\n" + str(text) + "\n)", mode="eval")
    except (RecursionError, MemoryError):
        return Checked(None, "error", [_too_deep(base, 1, 1)])
    except SyntaxError as exc:
        lines = str(text).split("\n")
        line, col = max((exc.lineno or 2) - 1, 1), exc.offset or 1
        if line > len(lines):  # reported at our closing wrapper: the condition ended too early
            line, col = len(lines), len(lines[-1].rstrip()) + 1
        return Checked(None, "error", [_problem(
            "rule.syntax", f"条件语法错误：{exc.msg}", f"syntax error in condition: {exc.msg}",
            base, line, col, "检查括号、引号和运算符。", "Check brackets, quotes and operators.")])
    deep = _deeper_than(tree.body, MAX_DEPTH)
    if deep is not None:
        return Checked(None, "error", [_too_deep(base, max(getattr(deep, "lineno", 2) - 1, 1), getattr(deep, "col_offset", 0) + 1)])
    checker = _Checker(scope, base)
    node, typ = checker.visit(tree.body)
    return Checked(node if not checker.problems else None, typ, checker.problems)


MAX_DEPTH = 40        # nesting of a condition's parts; the bundled rules nest at most 8 deep
MAX_LENGTH = 20_000   # characters of one condition
MAX_LITERAL = 1e15    # a number literal beyond this is a typo (and beyond exact floating point)


def _deeper_than(root: ast.AST, limit: int) -> ast.AST | None:
    """The first node nested deeper than ``limit`` (walked without recursion), or None."""
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                     if not isinstance(child, (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)))
    return None


def _too_deep(base: Where, line: int, col: int) -> Problem:
    return _problem("rule.too-deep", f"条件嵌套超过 {MAX_DEPTH} 层。", f"the condition nests deeper than {MAX_DEPTH} levels.",
                    base, line, col, "把它拆成派生事实（derived）。", "Split it into derived facts.")


def _problem(code: str, zh: str, en: str, base: Where, line: int, col: int,
             hint_zh: str = "", hint_en: str = "") -> Problem:
    # Positions are relative to the expression; add the YAML location of its first character.
    abs_line = (base.line or 1) + line - 1
    abs_col = ((base.column or 1) + col - 1) if line == 1 else col
    loc = Where(base.file, abs_line if base.line else line, abs_col, None, base.field, base.rule_id)
    return Problem(code, zh, en, loc, hint_zh, hint_en)


class _Checker:
    def __init__(self, scope: Scope, base: Where):
        self.scope = scope
        self.base = base
        self.problems: list[Problem] = []

    # -- helpers ---------------------------------------------------------------------------
    def pos(self, node: ast.AST) -> E.Pos:
        return E.Pos(max(getattr(node, "lineno", 2) - 1, 1), getattr(node, "col_offset", 0) + 1)

    def fail(self, node: ast.AST, code: str, zh: str, en: str, hint_zh: str = "", hint_en: str = "") -> tuple[None, str]:
        p = self.pos(node)
        self.problems.append(_problem(code, zh, en, self.base, p.line, p.col, hint_zh, hint_en))
        return None, "error"

    def type_error(self, node: ast.AST, zh: str, en: str) -> tuple[None, str]:
        return self.fail(node, "rule.type", zh, en)

    # -- dispatch --------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> tuple[E.Node | None, str]:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            return self.fail(node, "rule.unsupported", f"条件中不支持的写法 {type(node).__name__}。",
                             f"unsupported construct {type(node).__name__} in condition.",
                             "只可使用比较、and/or/not、in、算术、函数调用和 params.名称。",
                             "Use comparisons, and/or/not, in, arithmetic, function calls and params.NAME.")
        return method(node)

    def visit_Constant(self, node: ast.Constant) -> tuple[E.Node | None, str]:
        v = node.value
        if v is None:
            return E.Literal(None, "null", pos=self.pos(node)), "null"
        if isinstance(v, bool):
            return E.Literal(v, "bool", pos=self.pos(node)), "bool"
        if isinstance(v, (int, float)):
            if not abs(v) <= MAX_LITERAL:  # (also catches nan and inf, and an int too big for a float)
                return self.type_error(node, f"数字 {str(v)[:20]}… 超出范围（绝对值至多 {MAX_LITERAL:g}）。",
                                       f"the number {str(v)[:20]}… is out of range (at most {MAX_LITERAL:g} in size).")
            return E.Literal(float(v), "number", pos=self.pos(node)), "number"
        if isinstance(v, str):
            return E.Literal(v, "string", pos=self.pos(node)), "string"
        return self.type_error(node, f"不支持的常量 {v!r}。", f"unsupported constant {v!r}.")

    def visit_List(self, node: ast.List | ast.Tuple) -> tuple[E.Node | None, str]:
        items, types = [], set()
        for elt in node.elts:
            n, t = self.visit(elt)
            items.append(n)
            types.add(t)
        if "error" in types or None in items:
            return None, "error"
        types.discard("null")
        if len(types) > 1:
            return self.type_error(node, f"列表中的值类型不一致：{sorted(types)}。", f"list mixes types {sorted(types)}.")
        elem = types.pop() if types else "string"
        return E.ListLit(tuple(items), pos=self.pos(node)), f"list[{elem}]"  # type: ignore[arg-type]

    visit_Tuple = visit_List

    def visit_Name(self, node: ast.Name) -> tuple[E.Node | None, str]:
        name = node.id
        s = self.scope
        if name in s.fields:
            col, typ = s.fields[name]
            return E.Ref("column" if s.table else "field", col, pos=self.pos(node)), typ
        if not s.table and name in s.derived:
            return E.Ref("derived", name, pos=self.pos(node)), s.derived[name]
        if name in BUILTINS:
            return E.Ref("builtin", name, pos=self.pos(node)), BUILTINS[name]
        if name == "params":
            return self.fail(node, "rule.param-syntax", "参数须写作 params.名称。", "write a parameter as params.NAME.")
        known = [*s.fields, *([] if s.table else s.derived), *BUILTINS]
        hz, he = did_you_mean(name, known)
        where_zh = f"表 {s.table} 中" if s.table else ""
        where_en = f" in table {s.table}" if s.table else ""
        return self.fail(node, "rule.unknown-field", f"{where_zh}未知字段 {name!r}。", f"unknown field {name!r}{where_en}.", hz, he)

    def visit_Attribute(self, node: ast.Attribute) -> tuple[E.Node | None, str]:
        path = _dotted(node)
        if path and path[0] == "params" and len(path) == 2:
            name = path[1]
            if name not in self.scope.params:
                hz, he = did_you_mean(name, self.scope.params)
                return self.fail(node, "rule.unknown-param", f"未知参数 {name!r}。", f"unknown parameter {name!r}.", hz, he)
            return E.Param(name, pos=self.pos(node)), self.scope.params[name]
        flat = flattened_name(tuple(path)) if path and not self.scope.table else None
        if flat:
            return self.visit_Name(ast.copy_location(ast.Name(id=flat), node))
        shown = ".".join(path) if path else ast.unparse(node)
        return self.fail(node, "rule.unknown-field", f"未知字段路径 {shown!r}。", f"unknown field path {shown!r}.")

    def visit_BoolOp(self, node: ast.BoolOp) -> tuple[E.Node | None, str]:
        op = "and" if isinstance(node.op, ast.And) else "or"
        items = [self.expect_bool(v) for v in node.values]
        if any(i is None for i in items):
            return None, "error"
        return E.BoolOp(op, tuple(items), pos=self.pos(node)), "bool"  # type: ignore[arg-type]

    def expect_bool(self, node: ast.AST) -> E.Node | None:
        n, t = self.visit(node)
        if t not in ("bool", "error"):
            self.type_error(node, f"此处需要是/否条件，实际为 {t}。", f"expected a true/false condition here, got {t}.")
            return None
        return n

    def visit_UnaryOp(self, node: ast.UnaryOp) -> tuple[E.Node | None, str]:
        if isinstance(node.op, ast.Not):
            item = self.expect_bool(node.operand)
            return (E.Not(item, pos=self.pos(node)), "bool") if item is not None else (None, "error")
        n, t = self.visit(node.operand)
        if t != "number":
            return (None, "error") if t == "error" else self.type_error(node, f"正负号只能用于数值，实际为 {t}。", f"unary sign needs a number, got {t}.")
        if isinstance(node.op, ast.USub):
            return E.Arith("-", E.Literal(0.0, "number"), n, pos=self.pos(node)), "number"  # type: ignore[arg-type]
        return n, t

    def visit_BinOp(self, node: ast.BinOp) -> tuple[E.Node | None, str]:
        op = _ARITH.get(type(node.op))
        if op is None:
            return self.fail(node, "rule.unsupported", "只支持 + - * / 运算。", "only + - * / are supported.")
        left, lt = self.visit(node.left)
        right, rt = self.visit(node.right)
        if "error" in (lt, rt):
            return None, "error"
        if lt != "number" or rt != "number":
            return self.type_error(node, f"算术运算 {op} 需要两个数值，实际为 {lt} 与 {rt}。",
                                   f"arithmetic {op} needs two numbers, got {lt} and {rt}.")
        if op == "/" and isinstance(right, E.Literal) and right.value == 0:
            return self.fail(node.right, "rule.division-by-zero", "条件中除以零。", "the condition divides by zero.")
        return E.Arith(op, left, right, pos=self.pos(node)), "number"  # type: ignore[arg-type]

    def visit_Compare(self, node: ast.Compare) -> tuple[E.Node | None, str]:
        parts: list[E.Node] = []
        left, lt = self.visit(node.left)
        for op_ast, right_ast in zip(node.ops, node.comparators):
            if isinstance(op_ast, (ast.Is, ast.IsNot)):
                if not (isinstance(right_ast, ast.Constant) and right_ast.value is None):
                    return self.fail(node, "rule.unsupported", "is 只能与 None 连用。", "'is' is only for 'is None'.")
                if left is None:
                    return None, "error"
                parts.append(E.IsMissing(left, isinstance(op_ast, ast.IsNot), pos=self.pos(node)))
                left, lt = E.Literal(None, "null"), "null"
                continue
            op = _CMP[type(op_ast)]
            right, rt = self.visit(right_ast)
            if "error" in (lt, rt):
                return None, "error"
            problem = _compare_problem(op, lt, rt)
            if problem:
                return self.type_error(node, *problem)
            parts.append(E.Compare(op, left, right, pos=self.pos(node)))  # type: ignore[arg-type]
            left, lt = right, rt
        if len(parts) == 1:
            return parts[0], "bool"
        return E.BoolOp("and", tuple(parts), pos=self.pos(node)), "bool"

    def visit_IfExp(self, node: ast.IfExp) -> tuple[E.Node | None, str]:
        cond = self.expect_bool(node.test)
        then, tt = self.visit(node.body)
        other, ot = self.visit(node.orelse)
        if cond is None or "error" in (tt, ot):
            return None, "error"
        typ = _unify(tt, ot)
        if typ is None:
            return self.type_error(node, f"条件表达式两支类型不同：{tt} 与 {ot}。", f"branches of 'if' differ: {tt} and {ot}.")
        return E.IfElse(cond, then, other, pos=self.pos(node)), typ  # type: ignore[arg-type]

    def visit_Call(self, node: ast.Call) -> tuple[E.Node | None, str]:
        if not isinstance(node.func, ast.Name) or node.keywords:
            return self.fail(node, "rule.unsupported", "函数调用须写作 名称(参数, …)。", "write a call as name(arg, …).")
        name = node.func.id
        if name == "date":
            return self.date_literal(node)
        if name in AGGREGATE_FUNCTIONS:
            return self.aggregate(node, name)
        if name in SCALAR_FUNCTIONS:
            return self.scalar_call(node, name)
        hz, he = did_you_mean(name, [*SCALAR_FUNCTIONS, *AGGREGATE_FUNCTIONS, "date"])
        return self.fail(node, "rule.unknown-function", f"未知函数 {name!r}。", f"unknown function {name!r}.", hz, he)

    def date_literal(self, node: ast.Call) -> tuple[E.Node | None, str]:
        arg = node.args[0] if len(node.args) == 1 else None
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return self.type_error(node, 'date() 需要一个 "YYYY-MM-DD" 字符串。', 'date() takes one "YYYY-MM-DD" string.')
        try:
            value = dt.date.fromisoformat(arg.value)
        except ValueError:
            return self.type_error(node, f"无效日期 {arg.value!r}。", f"invalid date {arg.value!r}.")
        return E.Literal(value, "date", pos=self.pos(node)), "date"

    def scalar_call(self, node: ast.Call, name: str) -> tuple[E.Node | None, str]:
        sig = SCALAR_FUNCTIONS[name]
        n_args = len(node.args)
        if (n_args < len(sig.args)) if sig.variadic else (n_args != len(sig.args)):
            return self.type_error(node, f"函数 {name} 需要 {len(sig.args)} 个参数，实际 {n_args} 个。",
                                   f"{name}() takes {len(sig.args)} argument(s), got {n_args}.")
        args, types = [], []
        for i, a in enumerate(node.args):
            n, t = self.visit(a)
            want = sig.args[min(i, len(sig.args) - 1)]
            if t != "error" and want != "any" and not _accepts(want, t):
                self.type_error(a, f"函数 {name} 的第 {i + 1} 个参数需要 {want}，实际为 {t}。",
                                f"argument {i + 1} of {name}() must be {want}, got {t}.")
                t = "error"
            args.append(n)
            types.append(t)
        if "error" in types:
            return None, "error"
        bad = _bad_constant_argument(name, node.args)
        if bad is not None:
            return self.type_error(node.args[0], *bad)
        if name in ("missing", "present"):
            return E.IsMissing(args[0], negate=name == "present", pos=self.pos(node)), "bool"  # type: ignore[arg-type]
        result = sig.result
        if result == "T":
            result = types[0]
            for t in types[1:]:
                result = _unify(result, t) or "error"
            if result == "error":
                return self.type_error(node, f"{name} 的参数类型不一致：{types}。", f"arguments of {name}() differ in type: {types}.")
        return E.Call(name, tuple(args), pos=self.pos(node)), result  # type: ignore[arg-type]

    def aggregate(self, node: ast.Call, name: str) -> tuple[E.Node | None, str]:
        sig = AGGREGATE_FUNCTIONS[name]
        if self.scope.table:
            return self.fail(node, "rule.nested-aggregate", "聚合函数不能嵌套。", "aggregates cannot be nested.")
        required = sum(1 for a in sig.args if not a.endswith("?"))
        if not required <= len(node.args) <= len(sig.args):
            return self.type_error(node, f"聚合函数 {name} 的参数个数不对。", f"wrong number of arguments to {name}().")
        table_arg = node.args[0]
        related = [t for t in TABLES if t not in ("projects", "departments")]
        if not isinstance(table_arg, ast.Name) or table_arg.id not in related:
            shown = ast.unparse(table_arg)
            hz, he = did_you_mean(shown, related)
            return self.fail(table_arg, "rule.unknown-table", f"{name} 的第一个参数须为关联表 {related}，实际为 {shown!r}。",
                             f"first argument of {name}() must be a related table {related}, got {shown!r}.", hz, he)
        table = table_arg.id
        inner = scope_for_table(table, {}, self.scope.params)
        inner.table = table
        if table == "evaluations":
            # Evaluations have no fiscal year of their own: inside, it is the project's.
            inner.fields.setdefault("fiscal_year", ("fiscal_year", "number"))
        sub = _Checker(inner, self.base)
        value = where = None
        value_type = "number"
        rest = node.args[1:]
        if sig.args[1] in ("bool", "bool?"):  # count/any/all/streak: (table, cond)
            if rest:
                where = sub.expect_bool(rest[0])
        else:
            value, value_type = sub.visit(rest[0])
            if sig.args[1] == "number" and value_type not in ("number", "error"):
                sub.type_error(rest[0], f"{name} 的值须为数值，实际为 {value_type}。", f"{name}() sums numbers, got {value_type}.")
            if len(rest) > 1:
                where = sub.expect_bool(rest[1])
        self.problems.extend(sub.problems)
        if sub.problems:
            return None, "error"
        result = value_type if sig.result == "T" else sig.result
        return E.Aggregate(name, table, value, where, pos=self.pos(node)), result

    def generic_visit(self, node: ast.AST) -> tuple[None, str]:  # pragma: no cover - via visit()
        return self.fail(node, "rule.unsupported", "不支持的写法。", "unsupported construct.")


def _bad_constant_argument(name: str, args: list[ast.expr]) -> tuple[str, str] | None:
    """Why a literal argument would fail at evaluation (zh, en), or None: lint rejects what evaluation would."""
    arg = args[0] if args else None
    if not isinstance(arg, ast.Constant):
        return None
    if name == "fy_date" and not _is_month_day(str(arg.value)):
        return (f'fy_date 的参数须为每年都有的 "MM-DD" 月日，实际为 {arg.value!r}。',
                f'fy_date() takes a "MM-DD" month-day every year has, got {arg.value!r}.')
    if name == "month_end" and not (isinstance(arg.value, (int, float)) and arg.value in range(1, 13)):
        return f"month_end 的参数须为 1–12 的月份，实际为 {arg.value!r}。", f"month_end() takes a month 1-12, got {arg.value!r}."
    return None


def _is_month_day(text: str) -> bool:
    try:
        dt.date.fromisoformat(f"2001-{text}")  # not a leap year: "02-29" is not a day every year has
    except ValueError:
        return False
    return len(text) == 5


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _unify(a: str, b: str) -> str | None:
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    return None


def _accepts(want: str, got: str) -> bool:
    if want == "list":
        return got.startswith("list")
    return got == want or got == "null"


def _compare_problem(op: str, lt: str, rt: str) -> tuple[str, str] | None:
    if op in ("in", "not in"):
        if not rt.startswith("list"):
            return (f"in 的右边须为列表，实际为 {rt}。", f"the right side of 'in' must be a list, got {rt}.")
        elem = rt[5:-1]
        if lt not in (elem, "null"):
            return (f"不能在 {rt} 中查找 {lt} 值。", f"cannot look for a {lt} in a {rt}.")
        return None
    if lt == "null" or rt == "null":
        return ("与 None 比较请写 is None / is not None。", "compare with None using 'is None' / 'is not None'.")
    if lt != rt:
        return (f"不能比较 {lt} 与 {rt}（{op}）。", f"cannot compare {lt} with {rt} ({op}).")
    if op not in ("==", "!=") and lt not in ("number", "date"):
        return (f"{lt} 值不能比较大小（{op}）。", f"{lt} values cannot be ordered ({op}).")
    return None
