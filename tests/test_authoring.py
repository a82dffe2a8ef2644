"""docs/authoring.md is executable: every worked example in the guide runs here, in order, as written.

The guide's conventions (also described in its appendix, for whoever edits it):

* A ```sh block holds commands, one per line (``#`` lines are comments; a trailing ``\\`` continues a
  line). They run in a scratch folder holding copies of ``rules/`` and ``samples/``, with ``perfrules``
  replaced by this environment's executable. Each must exit 0, except that the block's last command may
  be given another exit code by ``<!-- expect: exit N -->`` after the block.
* A ```text block that is the next fenced block after a ```sh block is the output of that block's last
  command (stdout and stderr together), checked line by line: ``…`` inside a line stands for any text
  within the line, a line that is only ``…`` for any number of lines. ``<!-- expect-output: "T" -->``
  and ``<!-- expect-no-output: "T" -->`` after a ```sh block require T to occur / not to occur.
* ``<!-- file: PATH -->`` + a block writes the whole file; ``<!-- append: PATH -->`` + a block appends it;
  ``<!-- edit: PATH -->`` + two blocks replaces the first (whole lines, exactly once in PATH) with the
  second; ``<!-- excerpt: PATH -->`` + a block asserts its lines occur, consecutively, in PATH.
* ``<!-- skip -->`` before a ```sh block shows it without running it. Any other ``<!-- … -->`` line is an
  error, so a misspelt directive cannot silently switch a check off.

For speed, the scratch ``rules/tests/`` keeps only ``bases.yaml`` and the test files the guide edits (the
bundled cases are run by test_rule_cases.py). So that the ``perfrules test`` outputs shown in the guide stay
true for the full set, after each such command the harness re-runs, in-process, every dropped case whose
rules the guide's edits have changed. ``AUTHORING_ALL_CASES=1`` keeps every bundled case instead.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml

import perfrules.language.expr as E
from perfrules.authoring.rule_tests import CaseRunner, RuleCase, load_cases
from perfrules.rulepack.compile import CompiledPack, compile_pack
from perfrules.rulepack.model import RulePack
from perfrules.rulepack.pack import load_pack

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "authoring.md"
PERFRULES = Path(sys.executable).parent / "perfrules"
GAP = "…"

FENCE = re.compile(r"^```\s*([\w-]*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*([a-z-]+)\s*(?::\s*(.*?))?\s*-->\s*$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
FILE_DIRECTIVES = {"file": 1, "append": 1, "edit": 2, "excerpt": 1}


class GuideError(Exception):
    """The guide breaks its own conventions (unknown directive, unclosed block, …)."""


@dataclass
class Block:
    info: str
    text: str
    line: int


@dataclass
class Step:
    """One thing the guide tells the reader to do: run commands, or write/append/edit/look at a file."""

    kind: str  # run | file | append | edit | excerpt
    line: int
    section: str
    path: str = ""
    blocks: list[Block] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    exit_code: int = 0
    output: Block | None = None
    contains: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)

    def where(self) -> str:
        return f"docs/authoring.md:{self.line} (section {self.section!r})"


# ----------------------------------------------------------------------------------------- parsing


def parse_guide(text: str) -> list[Step]:
    """The guide's steps in document order."""
    lines = text.splitlines()
    steps: list[Step] = []
    pending: Step | None = None  # a file directive waiting for its block(s)
    skip_next = False
    last_run: Step | None = None
    output_may_follow = False
    titles: dict[int, str] = {}
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            end = i + 1
            while end < len(lines) and lines[end].rstrip() != "```":
                end += 1
            if end == len(lines):
                raise GuideError(f"line {i + 1}: code block is never closed")
            block = Block(fence.group(1), "\n".join(lines[i + 1:end]), i + 1)
            i = end + 1
            may_be_output, output_may_follow = output_may_follow, False
            if pending is not None:
                pending.blocks.append(block)
                if len(pending.blocks) == FILE_DIRECTIVES[pending.kind]:
                    steps.append(pending)
                    pending = None
                continue
            if block.info == "sh":
                if skip_next:
                    skip_next, last_run = False, None
                    continue
                last_run = Step("run", block.line, section, commands=split_commands(block.text))
                if not last_run.commands:
                    raise GuideError(f"line {block.line}: command block without commands")
                steps.append(last_run)
                output_may_follow = True
            elif skip_next:
                raise GuideError(f"line {block.line}: <!-- skip --> must precede a sh block")
            elif block.info == "text" and may_be_output and last_run is not None:
                last_run.output = block
            continue
        heading = HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            titles = {k: v for k, v in titles.items() if k < level} | {level: heading.group(2)}
            section = " › ".join(titles.values())
        directive = DIRECTIVE.match(line.strip())
        if directive:
            name, arg = directive.group(1), (directive.group(2) or "").strip()
            if pending is not None:
                raise GuideError(f"line {i + 1}: <!-- {pending.kind}: {pending.path} --> at line {pending.line} has no block")
            if name in FILE_DIRECTIVES:
                if not arg:
                    raise GuideError(f"line {i + 1}: <!-- {name}: PATH --> needs a path")
                pending = Step(name, i + 1, section, path=arg)
            elif name == "skip":
                skip_next = True
            elif name in ("expect", "expect-output", "expect-no-output"):
                if last_run is None:
                    raise GuideError(f"line {i + 1}: <!-- {name} --> follows no command block")
                if name == "expect":
                    code = re.fullmatch(r"exit\s+(\d+)", arg)
                    if not code:
                        raise GuideError(f"line {i + 1}: write <!-- expect: exit N -->")
                    last_run.exit_code = int(code.group(1))
                else:
                    (last_run.contains if name == "expect-output" else last_run.absent).append(_unquote(arg))
            else:
                raise GuideError(f"line {i + 1}: unknown directive <!-- {name} -->")
        elif line.lstrip().startswith("<!--"):
            raise GuideError(f"line {i + 1}: a comment must be one directive on one line: {line.strip()}")
        i += 1
    if pending is not None:
        raise GuideError(f"line {pending.line}: <!-- {pending.kind}: {pending.path} --> has no block")
    return steps


def split_commands(text: str) -> list[str]:
    """The commands of a sh block: one per line, ``#`` comments skipped, ``\\`` continuing a line."""
    commands, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        commands.append(current + line)
        current = ""
    if current.strip():
        commands.append(current.strip())
    return commands


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'" else text


# ----------------------------------------------------------------------------------------- matching


def output_pattern(expected: str) -> re.Pattern[str]:
    """A regex for a shown output: ``…`` is any text within a line; a line of only ``…`` is any lines."""
    parts = []
    for line in expected.strip("\n").splitlines():
        line = line.rstrip()
        if line.strip() and not line.strip().replace(GAP, ""):
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(r"[^\n]*?".join(re.escape(piece) for piece in re.split(f"{GAP}+", line)) + r"\n")
    return re.compile("".join(parts))


def output_matches(expected: str, actual: str) -> bool:
    text = "\n".join(line.rstrip() for line in actual.splitlines()).strip("\n") + "\n"
    return output_pattern(expected).fullmatch(text) is not None


def find_lines(haystack: list[str], needle: list[str]) -> list[int]:
    """Where the whole lines ``needle`` occur consecutively in ``haystack`` (trailing spaces ignored)."""
    hay = [h.rstrip() for h in haystack]
    need = [n.rstrip() for n in needle]
    return [i for i in range(len(hay) - len(need) + 1) if hay[i:i + len(need)] == need]


# ----------------------------------------------------------------------------------------- running


class Sandbox:
    """A scratch folder with copies of rules/ and samples/, where the guide's steps are carried out."""

    def __init__(self, root: Path, steps: list[Step], all_cases: bool):
        self.root = root
        edited = {Path(s.path).name for s in steps if s.kind in ("file", "append", "edit")
                  and Path(s.path).parent.name == "tests"}
        keep = {"bases.yaml", *edited}
        self.dropped: set[str] = set()

        def ignore(folder: str, names: list[str]) -> list[str]:
            if all_cases or Path(folder).name != "tests":
                return []
            out = [n for n in names if n.endswith((".yaml", ".yml")) and n not in keep]
            self.dropped.update(out)
            return out

        shutil.copytree(ROOT / "rules", root / "rules", ignore=ignore)
        shutil.copytree(ROOT / "samples", root / "samples")
        self.rules_before = snapshot(root / "rules")
        self.env = {**os.environ, "PERFRULES_RULES": "rules", "PYTHONIOENCODING": "utf-8"}
        self.base_pack: RulePack | None = None
        self.compiled: dict[tuple[str, str], CompiledPack] = {}

    def file(self, relative: str) -> Path:
        rel = Path(relative)
        assert not rel.is_absolute() and ".." not in rel.parts, f"{relative}: the guide may only touch files in its folder"
        return self.root / rel

    def do(self, step: Step) -> None:
        getattr(self, f"do_{step.kind}")(step)

    def do_file(self, step: Step) -> None:
        path = self.file(step.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(step.blocks[0].text + "\n", encoding="utf-8")

    def do_append(self, step: Step) -> None:
        path = self.file(step.path)
        assert path.is_file(), f"{step.where()}: appends to {step.path}, which does not exist"
        text = path.read_text(encoding="utf-8")
        path.write_text(text + ("" if text.endswith("\n") else "\n") + step.blocks[0].text + "\n", encoding="utf-8")

    def do_edit(self, step: Step) -> None:
        path = self.file(step.path)
        assert path.is_file(), f"{step.where()}: edits {step.path}, which does not exist"
        lines = path.read_text(encoding="utf-8").splitlines()
        before, after = step.blocks[0].text.splitlines(), step.blocks[1].text.splitlines()
        hits = find_lines(lines, before)
        assert len(hits) == 1, (f"{step.where()}: the text to replace occurs {len(hits)} times in {step.path} "
                                f"(must be exactly once):\n{step.blocks[0].text}")
        lines[hits[0]:hits[0] + len(before)] = after
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def do_excerpt(self, step: Step) -> None:
        path = self.file(step.path)
        assert path.is_file(), f"{step.where()}: quotes {step.path}, which does not exist"
        assert find_lines(path.read_text(encoding="utf-8").splitlines(), step.blocks[0].text.splitlines()), \
            f"{step.where()}: the excerpt is not in {step.path} any more:\n{step.blocks[0].text}"

    def do_run(self, step: Step) -> None:
        for n, command in enumerate(step.commands):
            argv = shlex.split(command)
            if argv[0] == "perfrules":
                argv[0] = str(PERFRULES)
            proc = subprocess.run(argv, cwd=self.root, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=120)
            out = proc.stdout.decode("utf-8", errors="replace")
            last = n == len(step.commands) - 1
            want = step.exit_code if last else 0
            context = f"{step.where()}: `{command}`"
            assert proc.returncode == want, f"{context} exited {proc.returncode}, the guide says {want}. Output:\n{out}"
            if not last:
                continue
            if step.output is not None:
                assert output_matches(step.output.text, out), (
                    f"{context}: output differs from the guide's block at line {step.output.line}.\n"
                    f"--- guide ---\n{step.output.text}\n--- actual ---\n{out}")
            for text in step.contains:
                assert text in out, f"{context}: output lacks {text!r}. Output:\n{out}"
            for text in step.absent:
                assert text not in out, f"{context}: output has {text!r}, which the guide says is absent. Output:\n{out}"
            if argv[1:2] == ["test"] and self.dropped:
                self.check_dropped_cases(argv[2] if len(argv) > 2 and not argv[2].startswith("-") else "rules", context)

    # --- the bundled cases left out of the scratch copy ---------------------------------------------

    def check_dropped_cases(self, rules_dir: str, context: str) -> None:
        """Every bundled case the scratch copy dropped, whose rules the guide changed, still passes in ``rules_dir``."""
        head_dir = self.root / rules_dir
        assert (head_dir / "tests" / "bases.yaml").read_bytes() == (ROOT / "rules" / "tests" / "bases.yaml").read_bytes(), \
            f"{context}: the guide changes tests/bases.yaml, which every bundled case uses; run with AUTHORING_ALL_CASES=1"
        head = load_pack(head_dir)
        if self.base_pack is None:
            self.base_pack = load_pack(ROOT / "rules")
        derived_same = _derived_texts(head) == _derived_texts(self.base_pack)
        runner = CaseRunner(head)
        for case in dropped_cases(self.dropped):
            if derived_same and all(rule_signature(self.base_compiled(case.profile), rid)
                                    == rule_signature(runner.compiled_for(case.profile), rid) for rid in case.rules):
                continue
            result = runner.run(case)
            assert result.passed, (f"{context}: bundled case {case.id} (left out of the scratch copy) fails against "
                                   f"{rules_dir}, so the guide's shown output is not what a reader sees:\n{result.diff()}")

    def base_compiled(self, profile: str) -> CompiledPack:
        assert self.base_pack is not None
        if ("base", profile) not in self.compiled:
            self.compiled[("base", profile)] = compile_pack(self.base_pack, profile)
        return self.compiled[("base", profile)]


@cache
def _bundled_cases() -> tuple[RuleCase, ...]:
    return tuple(load_cases(ROOT / "rules"))


def dropped_cases(names: set[str]) -> list[RuleCase]:
    return [c for c in _bundled_cases() if Path(c.where.file or "").name in names]


def rule_signature(compiled: CompiledPack, rule_id: str) -> tuple[object, ...] | None:
    """What decides a rule's findings under a profile: its condition, severities, dates, state and parameter values."""
    rule = compiled.pack.rule(rule_id)
    if rule is None:
        return None
    cr = compiled.rule(rule_id)
    return (rule.when_text, rule.severity, rule.escalate_severity,
            E.to_text(rule.escalate_when) if rule.escalate_when is not None else None,
            rule.effective_from, rule.effective_to, rule.record, cr is not None,
            tuple((p, repr(compiled.params[p])) for p in cr.params) if cr else ())


def _derived_texts(pack: RulePack) -> dict[str, tuple[str, str]]:
    return {name: (d.table, d.text) for name, d in pack.derived.items()}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------------------- the guide


@pytest.fixture(scope="module")
def guide_text() -> str:
    return GUIDE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def steps(guide_text: str) -> list[Step]:
    return parse_guide(guide_text)


def test_guide_examples_run_as_written(tmp_path: Path, steps: list[Step]) -> None:
    sandbox = Sandbox(tmp_path, steps, all_cases=os.environ.get("AUTHORING_ALL_CASES") == "1")
    for step in steps:
        sandbox.do(step)
    assert snapshot(tmp_path / "rules") == sandbox.rules_before, "the guide's examples change rules/ itself; work on a copy"


TOPICS = {  # each worked example the guide promises, with commands it must run there
    "开始之前": ["cp -r rules my-rules"],
    "修改阈值": ["perfrules lint my-rules", "perfrules diff --base rules --head my-rules samples/exports/county-2022",
                 "perfrules test my-rules"],
    "新增规则": ["perfrules lint my-rules", "perfrules test my-rules"],
    "新增地区配置": ["perfrules rules --rules my-rules --profile "],
    "编写并运行规则测试": ["perfrules test my-rules"],
    "读懂 explain": ["perfrules explain samples/submissions/p08-poor-grade-cut.json --rule PF-P08-POORGRADE"],
    "读懂 diff": ["perfrules diff --base "],
    "生效日期": ["perfrules rules --rules my-rules --as-of ", "perfrules explain ", "--as-of "],
    "编写列映射": ["perfrules maps", "perfrules map-check county-export --map maps/county-erp.yaml", "--map maps/county-erp.yaml"],
}


def test_guide_has_every_worked_example(steps: list[Step]) -> None:
    for topic, commands in TOPICS.items():
        in_topic = [s for s in steps if topic in s.section]
        runs = [c for s in in_topic if s.kind == "run" for c in s.commands]
        assert runs, f"the guide has no runnable example for {topic}"
        for wanted in commands:
            assert any(wanted in c for c in runs), f"section {topic}: no command containing {wanted!r} among {runs}"
    kinds = {s.kind for s in steps}
    assert {"run", "file", "append", "edit", "excerpt"} <= kinds
    failing = [s for s in steps if s.kind == "run" and s.exit_code != 0 and s.output is not None]
    assert any("perfrules test" in s.commands[-1] and "\n  - " in s.output.text and "\n  + " in s.output.text
               for s in failing), "the guide must show a failing rule test with its -/+ diff"


def _written_rule_files(steps: list[Step]) -> dict[str, list[dict]]:
    """The rule entries the guide writes or appends to rule files (top-level YAML files of a rules folder)."""
    out: dict[str, list[dict]] = {}
    for s in steps:
        p = Path(s.path)
        if s.kind not in ("file", "append") or p.suffix != ".yaml" or p.parent.name in ("tests", "profiles"):
            continue
        data = yaml.safe_load(s.blocks[0].text)
        rules = data.get("rules", []) if isinstance(data, dict) else data
        out.setdefault(s.path, []).extend(rules or [])
    return out


def test_rules_the_guide_adds_quote_their_sources_verbatim(steps: list[Step]) -> None:
    clauses = yaml.safe_load((ROOT / "rules" / "sources" / "clauses.yaml").read_text(encoding="utf-8"))["clauses"]
    texts = {re.sub(r"\s+", "", c["text"]) for c in clauses.values() if c.get("text")}
    catalogue = {r["id"] for r in yaml.safe_load((ROOT / "rules" / "sources" / "requirements.yaml").read_text(encoding="utf-8"))["requirements"]}
    rules = [r for entries in _written_rule_files(steps).values() for r in entries]
    assert rules, "the guide adds no rule"
    for rule in rules:
        assert set(rule["requirement"]) <= catalogue, rule["id"]
        for source in rule["source"]:
            assert re.sub(r"\s+", "", source["text"]) in texts, f"{rule['id']}: {source['clause']} is not quoted verbatim from clauses.yaml"


SCHEMA_OF = {"tests": "rule-tests.schema.json", "profiles": "profile.schema.json", "maps": "column-map.schema.json"}


def test_files_the_guide_writes_carry_their_schema_and_match_it(steps: list[Step]) -> None:
    written = [s for s in steps if s.kind == "file" and s.path.endswith(".yaml") and Path(s.path).stem != "manifest"]  # (an export's manifest has no schema)
    assert written
    for s in written:
        path = Path(s.path)
        schema_name = SCHEMA_OF.get(path.parent.name, "rule-pack.schema.json")
        first = s.blocks[0].text.splitlines()[0]
        m = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert m, f"{s.where()}: {s.path} must start with the yaml-language-server $schema comment"
        # Relative to the file, as an editor resolves it: my-rules/ sits beside rules/ in the project folder.
        target = (ROOT / path.parent / m.group(1)).resolve()
        assert target == (ROOT / "schemas" / schema_name).resolve(), f"{s.path}: $schema points to {m.group(1)}"
        schema = json.loads(target.read_text(encoding="utf-8"))
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.load(s.blocks[0].text, Loader=_TextDates)))
        assert not errors, f"{s.path}: {[e.message for e in errors]}"


class _TextDates(yaml.SafeLoader):
    """Dates stay text, as perfrules reads them."""


_TextDates.yaml_implicit_resolvers = {k: [(t, r) for t, r in v if t != "tag:yaml.org,2002:timestamp"]
                                      for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def test_bundled_rule_files_carry_the_schema_comment_the_guide_describes() -> None:
    for folder, schema in (("rules", "rule-pack.schema.json"), ("rules/profiles", "profile.schema.json"),
                           ("rules/tests", "rule-tests.schema.json")):
        for path in sorted((ROOT / folder).glob("*.yaml")):
            first = path.read_text(encoding="utf-8").splitlines()[0]
            m = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
            assert m and (path.parent / m.group(1)).resolve() == (ROOT / "schemas" / schema).resolve(), path


CODE = re.compile(r'"((?:yaml|schema|pack|rule|profile|tests|lint)\.[a-z-]+)"')


def test_reason_code_table_lists_every_code(guide_text: str) -> None:
    in_source = {m for p in (ROOT / "perfrules").rglob("*.py") for m in CODE.findall(p.read_text(encoding="utf-8"))}
    section = guide_text.split("### 8.3", 1)[1].split("\n## ", 1)[0]
    in_guide = set(re.findall(r"^\| `([a-z]+\.[a-z-]+)` \|", section, re.M))
    assert in_source, "no reason codes found in perfrules/"
    assert in_source - in_guide == set(), "reason codes the guide's table does not explain"
    assert in_guide - in_source == set(), "the guide explains reason codes perfrules no longer has"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (CJK kept), spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(text: str) -> set[str]:
    out, in_fence = set(), False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else HEADING.match(line)
        if m:
            out.add(_slug(m.group(2)))
    return out


def test_links_resolve(guide_text: str) -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", guide_text)
    assert links
    for link in links:
        if re.match(r"[a-z]+://", link):
            continue
        target, _, anchor = link.partition("#")
        path = (GUIDE.parent / target).resolve() if target else GUIDE
        assert path.is_file(), f"link {link}: no such file"
        if anchor:
            assert anchor in _anchors(path.read_text(encoding="utf-8")), f"link {link}: no such heading"


# ----------------------------------------------------------------------------------------- the harness itself


def _run_guide(tmp_path: Path, text: str) -> None:
    steps = parse_guide(text)
    sandbox = Sandbox(tmp_path, steps, all_cases=False)
    for step in steps:
        sandbox.do(step)


def test_harness_fails_when_a_command_fails(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="exited 1, the guide says 0"):
        _run_guide(tmp_path, "```sh\ncp no-such-file somewhere\n```\n")


def test_harness_fails_when_an_exit_code_differs(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="exited 0, the guide says 1"):
        _run_guide(tmp_path, "```sh\ncp -r rules r2\n```\n<!-- expect: exit 1 -->\n")


def test_harness_fails_when_shown_output_is_absent(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="output differs"):
        _run_guide(tmp_path, "```sh\ncp -r rules r2\n```\n\n看到：\n\n```text\n没有发现问题\n```\n")
    with pytest.raises(AssertionError, match="output lacks"):
        _run_guide(tmp_path / "b", '```sh\ncp -r rules r3\n```\n<!-- expect-output: "没有发现问题" -->\n')


def test_harness_fails_on_edits_that_do_not_apply(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="occurs 0 times"):
        _run_guide(tmp_path, "<!-- edit: rules/pack.yaml -->\n```yaml\n    default: 123456789\n```\n\n```yaml\n    default: 1\n```\n")


def test_harness_rejects_unknown_directives() -> None:
    with pytest.raises(GuideError, match="unknown directive"):
        parse_guide("<!-- expct: exit 1 -->\n")
    with pytest.raises(GuideError, match="has no block"):
        parse_guide("<!-- file: my-rules/x.yaml -->\n")


def test_output_matching() -> None:
    actual = "配置 national\n\nPF-A  生效\n    条件: x\nPF-B  停用\n12 passed, 0 failed\n"
    assert output_matches("配置 national\n…\nPF-B  停用\n… passed, 0 failed", actual)
    assert output_matches("…\nPF-A  生效\n…", actual)
    assert output_matches("……\n… passed, 0 failed", actual)
    assert not output_matches("PF-A  生效\n…", actual)  # without a leading … the output must start there
    assert not output_matches("…\nPF-A  生效\nPF-B  停用\n…", actual)  # consecutive lines stay consecutive
    assert not output_matches("…\n… passed, 1 failed", actual)
    assert not output_matches("…\nPF-A  生效", actual)  # without a trailing … the output must end there


def test_commands_and_output_blocks_are_paired() -> None:
    steps = parse_guide("```sh\n# comment\nperfrules lint \\\n  my-rules\n```\n\n看到：\n\n```text\nok\n```\n"
                        "<!-- expect: exit 1 -->\n<!-- expect-output: \"ok\" -->\n\n```text\nnot output\n```\n")
    [run] = steps
    assert run.commands == ["perfrules lint my-rules"] and run.exit_code == 1 and run.contains == ["ok"]
    assert run.output is not None and run.output.text == "ok"


# ----------------------------------------------------------------------------------------- found while writing the guide


def test_lint_does_not_blame_the_parameters_of_a_rule_it_could_not_read(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from perfrules.cli.main import main

    pack = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", pack)
    path = pack / "P-budgeting.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("      and ex_ante_report_id is None\n") == 1  # PF-P05-EXANTE, the only reader of ex_ante_threshold
    path.write_text(text.replace("      and ex_ante_report_id is None\n", "      and ex_ante_reportid is None\n"), encoding="utf-8")
    result = CliRunner().invoke(main, ["lint", str(pack), "--format", "json"])
    problems = json.loads(result.stdout)
    assert [(p["code"], p["rule_id"]) for p in problems] == [("rule.unknown-field", "PF-P05-EXANTE")]
