"""Load a rules directory into a ``RulePack``, reporting every problem found, not just the first.

A rules directory holds YAML files at its top level (subfolders such as ``profiles/`` and
``sources/`` are not rule files). Each file is validated against ``rule-pack.schema.json``, then
its conditions are parsed and type-checked against the field catalogue and the declared
parameters and derived facts.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

import perfrules.language.expr as E
from perfrules.bundled import bundled_path
from perfrules.errors import Problem, RulePackError, Where, did_you_mean
from perfrules.language.parser import parse_expression, scope_for_table
from perfrules.rulepack.model import RECORD_TABLE, DerivedFact, ParamSpec, Rule, RulePack, Source, Text
from perfrules.yaml_source import YamlDocument, YamlUnreadable, load_yaml

_TEMPLATE_NAME = re.compile(r"\{([^{}]+)\}")
IDENTITY_FIELDS = ("project_id", "project_name", "department", "unit", "fiscal_year", "jurisdiction")


def default_rules_dir() -> Path:
    """The default rules: ``$PERFRULES_RULES``, else the bundled pack."""
    env = os.environ.get("PERFRULES_RULES")
    if env:
        return Path(env)
    beside = bundled_path("rules")
    try:
        return beside.relative_to(Path.cwd())  # shorter paths in messages
    except ValueError:
        return beside


def schema_path(name: str) -> Path:
    """The path of a bundled JSON Schema."""
    return bundled_path("schemas") / name


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A bundled JSON Schema, parsed."""
    return json.loads(schema_path(name).read_text(encoding="utf-8"))


def rule_files(directory: Path) -> list[Path]:
    """The rule files of a rules directory, in name order."""
    # Every .yaml entry counts, a dangling link or a folder too: load_yaml reports what it cannot read,
    # where skipping it would shrink the pack without a word.
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith("."))


def load_pack(directory: str | Path) -> RulePack:
    """Load and check every rule file of ``directory``; raise ``RulePackError`` listing all problems."""
    pack, problems = read_pack(directory)
    if problems:
        raise RulePackError(problems)
    return pack


def read_pack(directory: str | Path) -> tuple[RulePack, list[Problem]]:
    """Load what can be loaded of ``directory``, and every problem found on the way (for ``lint``)."""
    root = Path(directory)
    if not root.is_dir():
        raise RulePackError([Problem("pack.not-found", f"规则目录不存在：{str(root)!r}。",
                                     f"rules directory {str(root)!r} does not exist.", Where(file=str(root)))])
    problems: list[Problem] = []
    docs: list[YamlDocument] = []
    for path in rule_files(root):
        doc = read_validated(path, "rule-pack.schema.json", problems)
        if doc is not None:
            docs.append(doc)
    builder = _PackBuilder(str(root), problems)
    for doc in docs:
        builder.add_header(doc)
    for doc in docs:
        builder.add_params(doc)
    builder.add_derived(docs)
    for doc in docs:
        builder.add_rules(doc)
    if not builder.name and not problems:
        problems.append(Problem("pack.no-header", "规则包缺少 pack 信息（name, version）。",
                                "the pack has no 'pack:' section (name, version).", Where(file=str(root))))
    if unreadable(problems):  # what the file it cannot read declares is unknown: a name "missing" may be there
        problems = [p for p in problems if p.code not in MAYBE_DECLARED_THERE]
    return RulePack(builder.name, builder.version, str(root), builder.params, builder.derived, builder.rules), problems


# Problems about a name that a rule file may declare (a parameter, a derived fact and its type): while a file cannot
# be read they may be its consequence, not a mistake (one stray tab in pack.yaml made check report 21 such problems).
MAYBE_DECLARED_THERE = frozenset({"rule.unknown-param", "rule.unknown-field", "rule.type"})


def unreadable(problems: list[Problem]) -> bool:
    """Whether a file could not be read as YAML at all (a syntax error, a bad encoding, a refused document)."""
    return any(p.code.startswith("yaml.") for p in problems)


def read_validated(path: Path, schema_name: str, problems: list[Problem]) -> YamlDocument | None:
    """Load a YAML file and check it against a bundled schema; problems are appended, None when it is unusable."""
    try:
        doc = load_yaml(path)
    except YamlUnreadable as exc:
        problems.append(exc.problem)
        return None
    found = validate(doc, schema_name)
    problems.extend(found)
    return None if found else doc


def validate(doc: YamlDocument, schema_name: str) -> list[Problem]:
    """Problems of ``doc`` against a bundled schema, each at the line of the offending value."""
    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    problems = []
    for err in sorted(validator.iter_errors(doc.data if doc.data is not None else {}), key=lambda e: list(map(str, e.absolute_path))):
        path = tuple(err.absolute_path)
        rule_id = _rule_id_at(doc, path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = err.schema.get("properties", {})
            for extra in sorted(set(err.instance) - set(allowed)):
                hz, he = did_you_mean(str(extra), allowed)
                problems.append(Problem("schema.unknown-field", f"未知字段 {extra!r}。", f"unknown field {extra!r}.",
                                        doc.key_where(path + (extra,), rule_id=rule_id, field=str(extra)), hz, he))
            continue
        field_name = ".".join(str(p) for p in path) or None
        problems.append(Problem("schema.invalid", f"不符合规则包格式：{err.message}。", f"does not match the schema: {err.message}.",
                                doc.where(path, rule_id=rule_id, field=field_name)))
    return problems


def _rule_id_at(doc: YamlDocument, path: tuple[Any, ...]) -> str | None:
    if len(path) >= 2 and path[0] == "rules" and isinstance(doc.data, dict):
        try:
            rid = doc.data["rules"][path[1]].get("id")
            return str(rid) if rid else None
        except (IndexError, KeyError, AttributeError, TypeError):
            return None
    return None


class _PackBuilder:
    def __init__(self, directory: str, problems: list[Problem]):
        self.directory = directory
        self.problems = problems
        self.name = ""
        self.version = ""
        self.params: dict[str, ParamSpec] = {}
        self.derived: dict[str, DerivedFact] = {}
        self.rules: dict[str, Rule] = {}
        self.rule_where: dict[str, Where] = {}

    def add_header(self, doc: YamlDocument) -> None:
        header = (doc.data or {}).get("pack")
        if header:
            if self.name:
                self.problems.append(Problem("pack.duplicate-header", "pack 信息只能写一次。", "'pack:' may appear only once.",
                                             doc.key_where(("pack",))))
            self.name, self.version = str(header["name"]), str(header["version"])

    def add_params(self, doc: YamlDocument) -> None:
        for name, spec in ((doc.data or {}).get("params") or {}).items():
            where = doc.key_where(("params", name), field=name)
            if name in self.params:
                self.problems.append(Problem("pack.duplicate-param", f"参数 {name!r} 重复定义（首次在 {self.params[name].where}）。",
                                             f"parameter {name!r} is defined twice (first at {self.params[name].where}).", where))
                continue
            problem = check_param_value(spec["type"], spec["default"])
            if problem:
                self.problems.append(Problem("pack.param-default", f"参数 {name!r} 的默认值{problem[0]}",
                                             f"default of parameter {name!r} {problem[1]}", doc.where(("params", name, "default"), field=name)))
            self.params[name] = ParamSpec(name, spec["type"], spec["default"], spec["title"], spec.get("title_en", ""),
                                          spec.get("unit", ""), where)

    def param_types(self) -> dict[str, str]:
        return {n: p.expr_type for n, p in self.params.items()}

    def add_derived(self, docs: list[YamlDocument]) -> None:
        """Parse derived facts of every file in dependency order, so a fact may use one declared anywhere."""
        pending: dict[str, tuple[YamlDocument, dict[str, Any]]] = {}
        for doc in docs:
            for name, spec in ((doc.data or {}).get("derived") or {}).items():
                if name in pending:
                    self.problems.append(Problem("pack.duplicate-derived", f"派生事实 {name!r} 重复定义。",
                                                 f"derived fact {name!r} is defined twice.", doc.key_where(("derived", name))))
                    continue
                pending[name] = (doc, spec)
        for name in _dependency_order(pending, self.problems):
            doc, spec = pending[name]
            self.add_one_derived(doc, name, spec)

    def add_one_derived(self, doc: YamlDocument, name: str, spec: dict[str, Any]) -> None:
        table = spec.get("table", "projects")
        if name in {col for col, _ in scope_for_table(table, {}, {}).fields.values()}:
            self.problems.append(Problem("pack.derived-shadows-field", f"派生事实 {name!r} 与字段同名。",
                                         f"derived fact {name!r} has the name of a field.", doc.key_where(("derived", name))))
            return
        known = {n: d.type for n, d in self.derived.items() if d.table == table}
        text, where = doc.expression(("derived", name, "expr"), field=f"derived.{name}")
        checked = parse_expression(text, scope_for_table(table, known, self.param_types()), where)
        self.problems.extend(checked.problems)
        if checked.node is not None:
            self.derived[name] = DerivedFact(name, table, checked.node, checked.type, text, spec["title"],
                                             spec.get("title_en", ""), doc.key_where(("derived", name)))

    def add_rules(self, doc: YamlDocument) -> None:
        for i, spec in enumerate((doc.data or {}).get("rules") or []):
            rid = spec["id"]
            base = ("rules", i)
            where = doc.where(base + ("id",), rule_id=rid)
            if rid in self.rules or rid in self.rule_where:
                first = self.rule_where[rid]
                self.problems.append(Problem("pack.duplicate-rule", f"规则编号 {rid!r} 重复（首次在 {first.file}:{first.line}）。",
                                             f"rule id {rid!r} is used twice (first at {first.file}:{first.line}).", where))
                continue
            self.rule_where[rid] = where
            rule = self.build_rule(doc, base, spec, rid, where)
            if rule is not None:
                self.rules[rid] = rule

    def build_rule(self, doc: YamlDocument, base: tuple[Any, ...], spec: dict[str, Any], rid: str, where: Where) -> Rule | None:
        table = RECORD_TABLE[spec["scope"]["record"]]
        derived = {n: d.type for n, d in self.derived.items() if d.table == table}
        scope = scope_for_table(table, derived, self.param_types())
        ok = True
        nodes: dict[str, E.Node] = {}
        for key, path in (("when", base + ("when",)), ("escalate", base + ("escalate", "when"))):
            if key == "escalate" and "escalate" not in spec:
                continue
            text, at = doc.expression(path, rule_id=rid, field=".".join(map(str, path[2:])))
            checked = parse_expression(text, scope, at)
            self.problems.extend(checked.problems)
            if checked.node is not None and checked.type != "bool":
                self.problems.append(Problem("rule.type", f"条件须为是/否判断，实际为 {checked.type}。",
                                             f"a condition must be true/false, got {checked.type}.", at))
                ok = False
            if checked.node is None:
                ok = False
            else:
                nodes[key] = checked.node
        dates = {}
        for key in ("effective_from", "effective_to"):
            if key in spec:
                try:
                    dates[key] = dt.date.fromisoformat(str(spec[key]))
                except ValueError:
                    self.problems.append(Problem("rule.date", f"{key} 不是有效日期：{spec[key]!r}。", f"{key} is not a date: {spec[key]!r}.",
                                                 doc.where(base + (key,), rule_id=rid)))
                    ok = False
        if not ok:
            return None
        provided = self.template_names(nodes)
        for key in ("message", "recommendation"):
            for lang in ("zh", "en"):
                for name in _TEMPLATE_NAME.findall(spec[key][lang]):
                    if name not in provided:
                        hz, he = did_you_mean(name, provided)
                        self.problems.append(Problem("rule.template-name", f"{key}.{lang} 引用了条件未提供的值 {{{name}}}。",
                                                     f"{key}.{lang} shows {{{name}}}, a value the condition does not provide.",
                                                     doc.where(base + (key, lang), rule_id=rid, field=f"{key}.{lang}"), hz, he))
        return Rule(
            id=rid, title=spec["title"], title_en=spec["title_en"], requirement=tuple(spec["requirement"]),
            severity=spec["severity"], record=spec["scope"]["record"], stage=spec["scope"]["stage"],
            when=nodes["when"], when_text=str(spec["when"]).strip(),
            message=Text(spec["message"]["zh"], spec["message"]["en"]),
            recommendation=Text(spec["recommendation"]["zh"], spec["recommendation"]["en"]),
            source=tuple(Source(s["document"], s["clause"], s.get("text"), s.get("note")) for s in spec["source"]),
            escalate_when=nodes.get("escalate"), escalate_severity=(spec.get("escalate") or {}).get("severity"),
            enabled=spec.get("enabled", True), watchlist=spec.get("watchlist", False), effective_from=dates.get("effective_from"),
            effective_to=dates.get("effective_to"), where=where,
        )

    def template_names(self, nodes: dict[str, E.Node]) -> list[str]:
        names = list(IDENTITY_FIELDS)
        for node in nodes.values():
            names += [r.name for r in E.refs(node) if r.space in ("field", "derived", "builtin")]
            names += [f"params.{p}" for p in self.params_through(node)]
        return list(dict.fromkeys(names))

    def params_through(self, node: E.Node) -> list[str]:
        """Parameters a tree reads, directly or through the derived facts it uses."""
        out = list(E.params_read(node))
        for ref in E.refs(node, "derived"):
            if ref.name in self.derived:
                out += self.params_through(self.derived[ref.name].expr)
        return list(dict.fromkeys(out))


def _dependency_order(pending: dict[str, tuple[YamlDocument, dict[str, Any]]], problems: list[Problem]) -> list[str]:
    """Derived-fact names ordered so each comes after those it reads; a cycle is a problem."""
    deps = {}
    for name, (_, spec) in pending.items():
        try:
            names = {n.id for n in ast.walk(ast.parse("(\n" + str(spec["expr"]) + "\n)", mode="eval")) if isinstance(n, ast.Name)}
        except SyntaxError:
            names = set()  # the parser reports it with its position
        deps[name] = sorted(names & set(pending) - {name})
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            cycle = " → ".join(chain[chain.index(name):] + [name])
            doc = pending[name][0]
            problems.append(Problem("pack.derived-cycle", f"派生事实循环引用：{cycle}。", f"derived facts refer to each other in a cycle: {cycle}.",
                                    doc.key_where(("derived", name))))
            return
        state[name] = "active"
        for dep in deps[name]:
            visit(dep, chain + [name])
        state[name] = "done"
        order.append(name)

    for name in pending:
        visit(name, [])
    return list(dict.fromkeys(order))


def check_param_value(kind: str, value: Any) -> tuple[str, str] | None:
    """Why ``value`` is not a valid value of parameter type ``kind`` (zh, en), or None."""
    ok = {
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "money": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
        "string": lambda v: isinstance(v, str),
        "month_day": lambda v: isinstance(v, str) and _is_month_day(v),
        "bool": lambda v: isinstance(v, bool),
        "date": lambda v: isinstance(v, dt.date) or (isinstance(v, str) and _is_iso_date(v)),
        "list": lambda v: isinstance(v, list) and all(isinstance(x, (str, int, float)) for x in v),
        "mapping": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in [*v, *v.values()]),
    }[kind]
    if ok(value):
        return None
    return (f"须为 {kind} 类型，实际为 {value!r}。", f"must be of type {kind}, got {value!r}.")


def _is_month_day(text: str) -> bool:
    """A month-day every fiscal year has ("02-29" is not: most years have no such day)."""
    try:
        dt.date.fromisoformat(f"2001-{text}")
        return True
    except ValueError:
        return False


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
        return True
    except ValueError:
        return False

