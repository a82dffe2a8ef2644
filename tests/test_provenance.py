"""Every rule carries provenance, and every quoted clause text stands verbatim in the source documents."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import RULES, SHARED

CATALOGUE_IDS = None


def _policy_text() -> str:
    folder = SHARED / "policies"
    if not folder.is_dir():
        pytest.skip("../shared/policies is not beside this checkout")
    return re.sub(r"\s+", "", "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))))


def _catalogue_ids() -> set[str]:
    path = SHARED / "docs" / "policy-catalogue.md"
    if not path.is_file():
        pytest.skip("../shared/docs is not beside this checkout")
    return set(re.findall(r"^\| ([PMED]\d\d) \|", path.read_text(encoding="utf-8"), re.M))


def test_every_rule_has_requirement_and_source(compiled):
    ids = _catalogue_ids()
    for rule in compiled.pack.rules.values():
        assert rule.requirement and set(rule.requirement) <= ids, rule.id
        assert rule.source, rule.id
        for s in rule.source:
            assert s.document and s.clause, rule.id


def test_every_quoted_text_is_verbatim(compiled):
    corpus = _policy_text()
    for rule in compiled.pack.rules.values():
        for s in rule.source:
            if s.text is None:
                continue
            assert re.sub(r"\s+", "", s.text) in corpus, f"{rule.id}: {s.document} {s.clause} is not quoted verbatim"


def test_clause_reference_file_is_verbatim():
    corpus = _policy_text()
    clauses = yaml.safe_load((RULES / "sources" / "clauses.yaml").read_text(encoding="utf-8"))["clauses"]
    for key, c in clauses.items():
        if c.get("text"):
            assert re.sub(r"\s+", "", c["text"]) in corpus, key


def test_a_paraphrase_would_be_caught():
    corpus = _policy_text()
    assert re.sub(r"\s+", "", "未按要求设定绩效目标或审核未通过的，不得安排预算。") in corpus
    assert re.sub(r"\s+", "", "未设定绩效目标或审核未通过的，不得安排预算。") not in corpus
