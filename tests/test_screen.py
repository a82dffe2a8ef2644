"""`perfrules screen` and `perfrules.screen`: the verdict a person reads at a glance, the samples' stated
verdicts, the library API that builds its engine once, and a clear error where durable-rules is missing."""

from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner
from conftest import RULES, SAMPLES

from perfrules.cli.main import main
from perfrules.evaluation.durable import available

pytestmark = pytest.mark.skipif(not available()[0], reason=available()[1])

_spec = importlib.util.spec_from_file_location("make_readme", SAMPLES / "make_readme.py")
make_readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_readme)

FILES = sorted((SAMPLES / "submissions").glob("*.json"))
CASES = [(p, prof) for p in FILES for prof in json.loads(p.read_text(encoding="utf-8"))["expect"]]


@pytest.mark.parametrize("path, profile", CASES, ids=[f"{p.name}@{prof}" for p, prof in CASES])
def test_screen_gives_the_verdict_the_samples_readme_states(path, profile):
    doc = json.loads(path.read_text(encoding="utf-8"))
    stated = make_readme.verdict(doc["expect"][profile])
    assert f"**{stated}**" in (SAMPLES / "README.md").read_text(encoding="utf-8")
    result = CliRunner().invoke(main, ["screen", str(path), "--profile", profile, "--format", "json"])
    assert result.exit_code == (1 if stated == "不予通过" else 0), result.output
    summary = json.loads(result.stdout)["summary"]
    assert summary["verdict"] == stated


def test_table_output_starts_with_the_verdict():
    out = CliRunner().invoke(main, ["screen", str(SAMPLES / "submissions" / "p02-goal-rejected.json")]).output
    assert out.splitlines()[0] == "✘ 审核结论：不予通过"
    assert "PF-P02-GOALREJECTED" in out and "建议:" in out and "依据:" in out
    en = CliRunner().invoke(main, ["screen", str(SAMPLES / "submissions" / "clean-project.json"), "--lang", "en"]).output
    assert en.splitlines()[0] == "✔ verdict: pass"


def test_json_shape_matches_check():
    path = str(SAMPLES / "submissions" / "m02-zero-paid-oct31.json")
    screened = json.loads(CliRunner().invoke(main, ["screen", path, "--format", "json"]).stdout)
    checked = json.loads(CliRunner().invoke(main, ["check", path, "--format", "json"]).stdout)
    assert set(screened) == set(checked) == {"summary", "findings", "errors"}
    assert screened["findings"] == checked["findings"]
    assert screened["summary"]["verdict"] == "需整改" and screened["summary"]["verdict_en"] == "needs rectification"
    assert {k: v for k, v in screened["summary"].items() if not k.startswith("verdict")} == checked["summary"]


def test_library_call_and_engine_built_once(monkeypatch):
    import perfrules
    import perfrules.evaluation.screening as screening
    project = json.loads((SAMPLES / "submissions" / "p05-exante-at-threshold.json").read_text(encoding="utf-8"))["projects"][0]
    built = []
    original = screening.DurableEngine.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(screening.DurableEngine, "__init__", counting)
    screening._DEFAULT.clear()
    first = perfrules.screen(project, as_of="2022-11-15")
    second = perfrules.screen({**project, "amount": 100}, as_of="2022-11-15")
    assert (first.verdict, [f.rule_id for f in first.findings]) == ("reject", ["PF-P05-EXANTE"])
    assert second.verdict == "pass"
    assert len(built) == 1


def test_unknown_profile_is_a_usage_error():
    result = CliRunner().invoke(main, ["screen", str(SAMPLES / "submissions" / "clean-project.json"), "--profile", "atlantis"])
    assert result.exit_code == 2 and "atlantis" in result.output and "Traceback" not in result.output


def test_where_durable_rules_cannot_run_screen_says_why_and_check_still_works(monkeypatch):
    import perfrules.evaluation.screening as screening
    monkeypatch.setattr(screening, "available", lambda: (False, "无法使用 durable-rules：ImportError: test (durable-rules is not available: test.)"))
    path = str(SAMPLES / "submissions" / "clean-project.json")
    result = CliRunner().invoke(main, ["screen", path])
    assert result.exit_code == 2 and "durable-rules is not available" in result.output and "Traceback" not in result.output
    assert CliRunner().invoke(main, ["check", path]).exit_code == 0


def test_reloading_a_changed_pack_does_not_collide(tmp_path):
    import shutil

    from perfrules.evaluation.screening import Screener
    project = json.loads((SAMPLES / "submissions" / "p05-exante-at-threshold.json").read_text(encoding="utf-8"))["projects"][0]
    first = Screener(RULES)
    changed = tmp_path / "rules"
    shutil.copytree(RULES, changed)
    (changed / "pack.yaml").write_text((changed / "pack.yaml").read_text(encoding="utf-8").replace("default: 500000", "default: 600000"),
                                       encoding="utf-8")
    second = Screener(changed)
    try:
        assert [f.rule_id for f in first.screen(project, as_of="2022-11-15").findings] == ["PF-P05-EXANTE"]
        assert second.screen(project, as_of="2022-11-15").findings == []
        assert [f.rule_id for f in first.screen(project, as_of="2022-11-15").findings] == ["PF-P05-EXANTE"]
    finally:
        first.close()
        second.close()


def test_engine_reports_every_rule_that_matches_and_forgets_each_fact():
    # Actions are read straight from durable-rules' C calls: an "or" whose two branches hold fires
    # twice (reported once), two rules of one ruleset both fire, a ruleset where nothing holds is
    # skipped, and each fact is retracted so that the same id can be matched again.
    from perfrules.evaluation.durable.program import Program
    from perfrules.evaluation.durable.runtime import DurableEngine
    program = Program({"A|T": {"$or": [{"k0": 1}, {"k1": 1}]}, "A|E": {"$gt": {"k1": 0}}, "B|T": {"k0": 2}})
    engine = DurableEngine(program, "test_runtime")
    try:
        assert engine.match({"k0": 1, "k1": 1}, "x") == {"A|T", "A|E"}
        assert engine.match({"k0": 2, "k1": None}, "x") == {"B|T"}
        assert engine.match({"k0": 3, "k1": 0}, "x") == set()
        assert engine.match({"k0": 1, "k1": 1}, "x") == {"A|T", "A|E"}
    finally:
        engine.close()


def test_each_ruleset_is_sent_every_field_its_conditions_read(monkeypatch):
    # A ruleset is sent only the fields its conditions read, and a field missing from a fact never matches (not even
    # "== null"): a field compared with another field ("$m") and a field compared with null must both be sent.
    import perfrules.evaluation.durable.runtime as runtime
    from perfrules.evaluation.durable.program import Program
    monkeypatch.setattr(runtime, "STACK_PUSHES", 1)  # each rule in a ruleset of its own
    engine = runtime.DurableEngine(Program({"A|T": {"$gt": {"k0": {"$m": "k1"}}}, "B|T": {"k2": None},
                                            "C|T": {"$lt": {"k3": 0}}}), "test_reads")
    try:
        assert len(engine.names) == 3
        assert engine.match({"k0": 2, "k1": 1, "k2": None, "k3": 5}, "x") == {"A|T", "B|T"}
        assert engine.match({"k0": 1, "k1": 2, "k2": 0, "k3": -1}, "x") == {"C|T"}
        assert engine.match({"k0": 2, "k1": 1}, "x") == {"A|T"}  # a fact without k2 does not match "k2 == null"
    finally:
        engine.close()


def test_the_bundled_rulesets_are_sent_every_field_their_conditions_name():
    from perfrules.evaluation.durable.program import compile_program
    from perfrules.evaluation.durable.runtime import condition_fields, rulesets
    from perfrules.rulepack.compile import compile_pack
    from perfrules.rulepack.pack import load_pack
    from perfrules.rulepack.profile import available_profiles
    pack = load_pack(RULES)
    for profile in available_profiles(pack):
        program = compile_program(compile_pack(pack, profile))
        for group in rulesets(program.conditions):
            text = json.dumps([rule["all"] for rule in group.values()])
            named = {key for key in program.keys.values() if f'"{key}"' in text}
            read = set().union(*(condition_fields(rule["all"][0]["m"]) for rule in group.values()))
            assert named and read - {"__rec"} == named, (profile, group)


def test_an_error_while_reading_actions_does_not_hold_the_engine():
    # A started action leases the ruleset's state; if anything fails while the actions are read, the
    # rest are completed before the fact is retracted, so the next submission is matched normally
    # (a leased state hands out no actions for about a minute).
    import perfrules.evaluation.durable.runtime as runtime
    from perfrules.evaluation.durable.program import Program
    engine = runtime.DurableEngine(Program({"R|T": {"$gt": {"k0": 1}}, "R|F": {"$gt": {"k0": 2}}}), "test_interrupted")
    real = engine._engine_module

    class FailingOnce:  # the C module, but the first complete_and_start_action is interrupted
        failed = False

        def __getattr__(self, name):
            return getattr(real, name)

        def complete_and_start_action(self, handle, state):
            if not self.failed:
                self.failed = True
                raise KeyboardInterrupt
            return real.complete_and_start_action(handle, state)

    engine._engine_module = FailingOnce()
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.match({"k0": 5}, "a")
        assert engine.match({"k0": 5}, "b") == {"R|T", "R|F"}
        assert engine.match({"k0": 2}, "c") == {"R|T"}
    finally:
        engine.close()
    assert engine.match({"k0": 5}, "d") == set()  # a closed engine has no rulesets left to match


def test_rules_share_a_ruleset_only_while_the_engine_s_stack_holds_their_walk(monkeypatch):
    # durable-rules walks a fact through a ruleset's conditions with a stack of 64 nodes (error 303 beyond it).
    # 70 one-comparison rules that all hold: in one ruleset the walk overflows; grouped, every rule is reported.
    import perfrules.evaluation.durable.runtime as runtime
    from perfrules.evaluation.durable.program import Program
    program = Program({f"R{i}|T": {"$gte": {"k0": i}} for i in range(70)})
    engine = runtime.DurableEngine(program, "test_grouped")
    try:
        assert len(engine.names) == 2
        assert engine.match({"k0": 100}, "x") == {f"R{i}|T" for i in range(70)}
    finally:
        engine.close()
    monkeypatch.setattr(runtime, "STACK_PUSHES", 1000)
    ungrouped = runtime.DurableEngine(program, "test_ungrouped")
    try:
        assert len(ungrouped.names) == 1
        with pytest.raises(Exception, match="error code: 303"):
            ungrouped.match({"k0": 100}, "x")
    finally:
        ungrouped.close()


def test_the_walk_bound_holds_for_nested_and_or_conditions():
    # Generated conditions (and/or nested three deep, every comparison true on the fact, no two alike): grouped
    # by ``rulesets``, every rule is reported and the engine's stack never overflows, except in a ruleset holding a
    # single rule whose own bound exceeds the stack (as when each rule had a ruleset of its own).
    import random

    import perfrules.evaluation.durable.runtime as runtime
    from perfrules.evaluation.durable.program import Program
    rng = random.Random(20261206)
    made = iter(range(1, 10 ** 6))

    def condition(depth: int) -> dict:
        if depth == 0 or rng.random() < 0.35:
            return {"$gte": {f"k{rng.randrange(4)}": -next(made)}}
        return {rng.choice(["$and", "$or"]): [condition(depth - 1) for _ in range(rng.randint(2, 3))]}

    fact = {"k0": 0, "k1": 0, "k2": 0, "k3": 0}
    grouped = 0
    for trial in range(150):
        conditions = {f"R{i}|T": condition(3) for i in range(rng.randint(2, 60))}
        try:
            engine = runtime.DurableEngine(Program(conditions), f"test_walk_{trial}")
        except Exception as exc:  # a shape the engine cannot compile (ours never makes it): not this test's concern
            assert "Could not create ruleset" in str(exc)
            continue
        try:
            groups = runtime.rulesets(conditions)
            grouped += any(len(g) > 1 for g in groups)
            try:
                assert engine.match(fact, "x") == set(conditions)
            except Exception as exc:
                assert "error code: 303" in str(exc)
                assert any(len(g) == 1 and runtime.walk_pushes(next(iter(g.values()))["all"][0]["m"]) > runtime.STACK_PUSHES
                           for g in groups), conditions
        finally:
            engine.close()
    assert grouped >= 50, grouped  # the bound let rules share rulesets in most trials
