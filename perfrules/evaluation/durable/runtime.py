"""Run compiled conditions on durable-rules (Rete), one record at a time.

durable-rules 2.0.28 (2020, unmaintained) has sharp edges; each is handled here, and why:

- ``post`` (an event) is consumed by the first matching rule, so the others never fire. We assert the
  record as a *fact* instead — every matching rule fires — and retract it afterwards.
- With facts, a rule with ``$or`` fires once per true branch: the names fired are de-duplicated.
- ``MessageNotHandledException`` is raised when no rule matches: that is a normal outcome here (a
  record where nothing is definitely true or false cannot occur — T and F of one rule cover every
  non-null case — but a record matching no rule at all only means "nothing to report").
- Ruleset names are global within a host and cannot be redefined, and there is no public delete:
  each engine gets unique versioned names and frees its rulesets (``delete_ruleset``) when closed,
  so reloading a changed pack never collides with, or leaks, the old one.
- The alpha network is walked with a fixed stack of 64 nodes (``MAX_STACK_SIZE``, events.c; error
  303 when a record matches more paths than that), so a ruleset must not hold too many conditions. Yet
  each ruleset a fact is asserted into parses the whole fact again: with a ruleset per rule, matching
  one record took 480 µs of CPU on the national pack, 215 µs with its 26 rules in the 5 rulesets made
  here. So a rule's T, F and E conditions stay together and rules share a ruleset while the pushes
  their walk can make stay within the stack (``walk_pushes``, an upper bound); a rule beyond that on
  its own gets a ruleset of its own. And each ruleset is sent only the fields its conditions read
  (``condition_fields``; on the national pack 9–19 of the 47): the engine's part of matching a record
  fell from about 215 to 148 µs.
- A key missing from the fact never matches, not even ``== null``: every field a condition reads is
  always sent, ``null`` when the record lacks it. Comparisons with ``null`` do not match, which is
  what the T/F conditions rely on.
- Numbers: ``json.dumps`` writes small and large floats with an exponent (``1e-05``), which the
  engine's JSON parser rejects; facts are serialised here with a decimal point before any exponent.
  Dates have no type in the engine: they are sent as day numbers.
- ``engine.Host`` starts two timer threads per host; ours does not (``_run`` is a no-op).
- ``Ruleset.do_actions`` decodes the whole state and message JSON, builds a closure and writes the
  state back for every action, which cost more than the matching. We only need the names of the rules
  that fired, so ``match`` walks the actions itself with the same C calls (``start_action_for_state``,
  then ``complete_and_start_action`` until none is left) and reads each rule name from the head of its
  message, ``{"RULE|T": …}``; the registered actions are never called. A started action leases the
  ruleset's one state (sid "0") for 30 s and keeps its frame until completed: if anything interrupts the
  walk, the remaining actions are completed before the fact is retracted (``abandon_action`` releases the
  lease but leaves the frame, which a later complete then frees after its fact is gone: a crash).
- Posting from several threads into one host loses actions: one lock per engine serialises it.
- The C extension fails to import on Python ≥ 3.13 (``PyEval_CallObject``); the import is lazy and
  only this backend needs it (see ``perfrules.evaluation.durable.available``).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import threading
from typing import Any

from perfrules.evaluation.durable.program import ALWAYS, Program

_VERSIONS = itertools.count(1)


class DurableEngine:
    """The engine conditions, one ruleset per rule, registered in a private host."""

    def __init__(self, program: Program, label: str = "perfrules"):
        import durable_rules_engine
        from durable import engine as durable_engine

        class _SyncHost(durable_engine.Host):
            def _run(self) -> None:  # no dispatcher timer threads: actions run in the posting thread
                pass

        self._engine_module = durable_rules_engine
        self._host = _SyncHost()
        self._lock = threading.Lock()
        self.program = program
        version = next(_VERSIONS)
        groups = rulesets(program.conditions)
        self.names = [f"{label}_v{version}_{i}" for i in range(len(groups))]
        self._host.register_rulesets(dict(zip(self.names, groups)))
        self._rulesets = [self._host.get_ruleset(n) for n in self.names]
        self._handles = [r._handle for r in self._rulesets]
        self._reads = [sorted(set().union(*(condition_fields(rule["all"][0]["m"]) for rule in group.values())) - {ALWAYS})
                       for group in groups]

    def match(self, fact: dict[str, Any], fact_id: str) -> set[str]:
        """The engine rules whose conditions hold on ``fact`` (engine field → value)."""
        fields = {key: f"{_encoded_key(key)}:{_encode(value)}," for key, value in fact.items()}
        identity = f'"id":{json.dumps(fact_id, ensure_ascii=False)}'
        tail = f'{_encoded_key(ALWAYS)}:1,{identity}}}'
        retract = f"{{{identity}}}"
        m = self._engine_module
        fired: set[str] = set()
        with self._lock:
            for handle, reads in zip(self._handles, self._reads):
                payload = "{" + "".join(fields[key] for key in reads if key in fields) + tail  # a field the fact lacks stays missing
                code, state = m.assert_fact(handle, payload)
                if code == 1:  # nothing in this ruleset matched (MessageNotHandled): nothing was stored
                    continue
                if code == 2:
                    raise RuntimeError(f"fact {fact_id!r} already asserted: a previous retract was missed")
                messages: list[str] = []
                message = None
                try:
                    started = m.start_action_for_state(handle, state)
                    message = started[1] if started else None
                    while message:
                        messages.append(message)
                        message = m.complete_and_start_action(handle, state)
                except BaseException:
                    # An action left started holds a lease on the ruleset's one state (later facts would
                    # match and hand out nothing for about a minute) and keeps its frame, which a later
                    # complete would free after the fact is gone. Complete what is left before the retract.
                    # (abandon_action frees only the lease, not the frame: not safe here.)
                    while message:
                        message = m.complete_and_start_action(handle, state)
                    raise
                finally:
                    m.retract_fact(handle, retract)
                fired.update(_action_name(message) for message in messages)
            return fired

    def close(self) -> None:
        """Free the rulesets (durable-rules has no public delete)."""
        with self._lock:
            for name, ruleset in zip(self.names, self._rulesets):
                self._host._ruleset_directory.pop(name, None)
                if ruleset in self._host._ruleset_list:
                    self._host._ruleset_list.remove(ruleset)
                self._engine_module.delete_ruleset(ruleset._handle)
            self._rulesets, self._handles = [], []


STACK_PUSHES = 63  # MAX_STACK_SIZE (64) less the root


def rulesets(conditions: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The engine rules (``RULE|T``, ``RULE|F``, ``RULE|E``) grouped into rulesets: a rule's conditions together,
    rules added to a ruleset while its walk stays within the engine's stack."""
    by_rule: dict[str, dict[str, Any]] = {}
    for name, cond in conditions.items():
        by_rule.setdefault(name.split("|")[0], {})[name] = cond
    groups: list[dict[str, Any]] = []
    room = 0
    for rule in by_rule.values():
        pushes = sum(walk_pushes(cond) for cond in rule.values())
        if not groups or pushes > room:
            groups.append({})
            room = STACK_PUSHES
        groups[-1].update({name: {"all": [{"m": cond}], "run": _never_called} for name, cond in rule.items()})
        room -= pushes
    return groups


def condition_fields(condition: dict[str, Any]) -> set[str]:
    """The fact fields an engine condition reads (``{"$and": [...]}``, ``{"$lt": {field: operand}}``, ``{field: value}``,
    an operand ``{"$m": field}``)."""
    out: set[str] = set()
    for key, value in condition.items():
        if key in ("$and", "$or"):
            out = out.union(*(condition_fields(part) for part in value))
        elif key.startswith("$"):
            out |= condition_fields(value)
        else:
            out.add(key)
            if isinstance(value, dict):
                out.update(value.values())
    return out


def walk_pushes(condition: Any) -> int:
    """At most how many nodes the engine's alpha walk pushes for ``condition``."""
    return _paths_and_pushes(condition)[1]


def _paths_and_pushes(condition: Any) -> tuple[int, int]:
    """The paths through a condition's alpha nodes and the pushes along them. An ``$or`` joins its branches in a
    node of its own, which is pushed once per path reaching it, and whatever follows is pushed once per path."""
    if isinstance(condition, dict) and len(condition) == 1:
        ((op, parts),) = condition.items()
        if op == "$and":
            paths, pushes = 1, 0
            for part in parts:
                p, n = _paths_and_pushes(part)
                paths, pushes = paths * p, pushes + paths * n
            return paths, pushes
        if op == "$or":
            branches = [_paths_and_pushes(part) for part in parts]
            return sum(p for p, _ in branches), sum(n + p for p, n in branches)
    return 1, 1  # a comparison


def _never_called(c: Any) -> None:  # pragma: no cover - ``match`` dispatches the actions itself
    raise AssertionError("durable-rules actions are read by DurableEngine.match, not run")


def _action_name(message: str) -> str:
    """The rule an action message is for: its first key (rule names hold no quote or backslash)."""
    if not message.startswith('{"'):
        raise RuntimeError(f"unexpected durable-rules action message: {message[:80]!r}")
    return message[2:message.index('"', 2)]


@functools.lru_cache(maxsize=4096)  # a program's few field names, encoded once
def _encoded_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


_CONSTANTS = {None: "null", True: "true", False: "false"}


def _encode(value: Any) -> str:
    """A fact's value as JSON the engine's parser accepts (no bare exponents, no inf/nan)."""
    if value is None or value is True or value is False:
        return _CONSTANTS[value]
    if isinstance(value, int):
        return str(max(min(value, 2 ** 63 - 1), -(2 ** 63)))
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "null"
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    return json.dumps(value, ensure_ascii=False)
