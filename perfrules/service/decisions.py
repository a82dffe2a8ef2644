"""Making one decision: screen a submission with the worker's pack, and say it as a response and a log record.

The findings are the ``check --format json`` findings (``Finding.to_dict``) of the durable-rules
screener, which the differential tests hold equal to ``check``'s; a finding's location names the
request (``"file": "request"``, or the batch item) where ``check`` names the file.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from perfrules.authoring.explain import explain
from perfrules.errors import InputError, Problem, UsageError, Where
from perfrules.evaluation.screening import VERDICTS, ScreenResult
from perfrules.inputs.submission import submission_dataset, submission_parts
from perfrules.rulepack.profile import DEFAULT_PROFILE
from perfrules.service.decision_log import input_hash, now
from perfrules.service.runtime import LoadedPack

log = logging.getLogger("perfrules.service")


@dataclass(frozen=True)
class ScreenOptions:
    """The query of a screening request."""

    profile: str | None
    as_of: dt.date | None
    lang: str
    explain: bool


class UnknownProfile(Exception):
    """The requested profile is not one of the pack's (answered 404 with the known ones)."""

    def __init__(self, name: str, known: list[str]):
        super().__init__(name)
        self.name, self.known = name, known


@dataclass
class Decision:
    """One screened submission: the response body and the decision log record."""

    body: dict[str, Any]
    record: dict[str, Any]


def decide(pack: LoadedPack, doc: Any, options: ScreenOptions, name: str, log_inputs: bool,
           extra: dict[str, Any] | None = None) -> Decision:
    """Screen ``doc`` (schema-checked, and as the caller wrote it: the screener reads Chinese keys as the file
    loader does, so a finding's evidence names the caller's own keys, as ``check``'s does) with ``pack``; raises
    ``UsageError``/``InputError`` for input it cannot read."""
    if options.profile is not None and options.profile not in pack.profiles:
        raise UnknownProfile(options.profile, pack.profiles)
    started = time.perf_counter()
    try:
        result = pack.screener.screen(doc, profile=options.profile, as_of=options.as_of, lang=options.lang, name=name)
    except (ValueError, OverflowError) as exc:
        # A value the schema allows but the calendar does not (fiscal_year 0 makes a date of year 0): the
        # caller's to fix, so a 422 naming the value, not a 500. Logged: the evaluator should report it itself.
        log.warning("submission value out of range", exc_info=exc, extra={"event": "submission.out-of-range"})
        raise InputError([Problem("submission.out-of-range", f"提交内容中有超出范围、无法计算的取值：{exc}。",
                                  f"the submission holds a value out of range that cannot be computed with: {exc}.",
                                  Where(file=name))]) from exc
    findings = [f.to_dict() for f in result.findings]
    if options.explain:
        for finding, explained in zip(findings, _explanations(pack, doc, result, options, name)):
            if explained is not None:
                finding["explain"] = explained
    ms = round((time.perf_counter() - started) * 1000, 3)
    decision_id = str(uuid.uuid4())
    zh, en = VERDICTS[result.verdict]
    body = {
        "decision_id": decision_id, "verdict": result.verdict, "verdict_zh": zh, "verdict_en": en,
        "summary": result.summary(), "findings": findings, "errors": result.errors, "not_checked": result.not_checked,
        "pack": {"version": pack.version, "revision": pack.revision}, "profile": result.profile,
        "as_of": result.as_of.isoformat(), "timing_ms": {"screen": ms},
    }
    record = {
        "decision_id": decision_id, "time": now().isoformat(timespec="milliseconds"), "pack_revision": pack.revision,
        "pack_version": pack.version, "profile": result.profile, "as_of": result.as_of.isoformat(),
        "input_hash": input_hash(doc), "verdict": result.verdict, "rule_ids": sorted({f.rule_id for f in result.findings}),
        "findings": len(result.findings), "latency_ms": ms, **(extra or {}),
    }
    if log_inputs:
        record["input"] = doc
    return Decision(body, record)


def _explanations(pack: LoadedPack, doc: Any, result: ScreenResult, options: ScreenOptions, name: str) -> list[dict[str, Any] | None]:
    """Each rule finding's sub-expression values (as ``perfrules explain`` gives them); None for data findings."""
    projects, departments, prefix = _parts(doc)
    dataset = submission_dataset(projects, departments, name, prefix)
    profile_of = _record_profiles(dataset, pack, options.profile)
    cache: dict[tuple[str, str, str], list[Any]] = {}
    out: list[dict[str, Any] | None] = []
    for f in result.findings:
        if f.kind != "rule":
            out.append(None)
            continue
        key = f.project_id or f.department or ""
        profile = profile_of.get(key, options.profile or DEFAULT_PROFILE)
        if (f.rule_id, key, profile) not in cache:
            try:
                cache[(f.rule_id, key, profile)] = explain(dataset, pack.compiled[profile], f.rule_id, result.as_of, key)
            except UsageError:
                cache[(f.rule_id, key, profile)] = []
        wanted = f"{key} {f.fiscal_year}"
        match = next((e for e in cache[(f.rule_id, key, profile)] if e.record == wanted), None)
        out.append(match.to_dict() if match else None)
    return out


def _parts(doc: Any) -> tuple[list[Any], list[Any] | None, str | None]:
    parts = submission_parts(doc)  # as the screener reads it (departments None: the document names none)
    return (parts[0], parts[1], parts[2]) if parts is not None else ([doc], None, None)


def _record_profiles(dataset: Any, pack: LoadedPack, chosen: str | None) -> dict[str, str]:
    """Each record's profile, as the screener chooses it: the request's, else its jurisdiction's, else national."""
    out: dict[str, str] = {}
    for table, key in (("projects", "project_id"), ("departments", "department")):
        if table not in dataset.tables:
            continue
        frame = dataset.frame(table)
        for rid, j in zip(frame[key].astype(object), frame["jurisdiction"].astype(object)):
            out[str(rid)] = chosen or (str(j) if isinstance(j, str) and j in pack.profiles else DEFAULT_PROFILE)
    return out


def input_problem_dicts(problems: list[Problem], lang: str) -> list[dict[str, Any]]:
    """Problems the loader found in a submission, shaped like schema problems (the field as the user wrote it)."""
    out = []
    for p in problems:
        field = p.where.field
        out.append({"pointer": None, "field": field, "code": p.code, "message": p.en if lang == "en" else p.zh,
                    "message_zh": p.zh, "message_en": p.en})
    return out
