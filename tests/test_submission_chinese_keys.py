"""A submission written with Chinese keys at every level (项目 → 绩效目标 → 审核状态, 绩效指标 items, 支付明细 items,
上年度绩效评价, 历年评价, 预算执行, 部门整体 → 整体绩效目标 …) is read as its English twin: `perfrules check` and
`perfrules.screen()` give the same findings for both, on samples that fire rules reading each nested part."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from conftest import ROOT, SAMPLES

import perfrules
from perfrules.evaluation.durable import available
from perfrules.language.fields import TABLES

SCHEMA = json.loads((ROOT / "schemas" / "submission.schema.json").read_text(encoding="utf-8"))
# Keys the schema gives no title: the document's lists, and the 历年评价 items (their evaluations headers).
UNTITLED = {"projects": "项目", "departments": "部门整体", **{c.name: c.zh for c in TABLES["evaluations"].columns}}


def chinese_document(value: Any, node: dict[str, Any] | None = None) -> Any:
    """``value`` with every key the schema defines written as its Chinese title, at every level."""
    if node is None:
        node = next(b for b in SCHEMA["oneOf"] if "properties" in b) if isinstance(value, dict) and "projects" in value else SCHEMA["$defs"]["project"]
    if isinstance(value, list):
        items = node.get("items") or {}
        if "$ref" in items:
            items = SCHEMA["$defs"][items["$ref"].rsplit("/", 1)[1]]
        return [chinese_document(v, items) for v in value]
    if not isinstance(value, dict):
        return value
    properties = node.get("properties") or {}
    out = {}
    for key, inner in value.items():
        prop = properties.get(key) or {}
        out[prop.get("title") or UNTITLED.get(key, key)] = chinese_document(inner, prop)
    return out


# Each fires a rule that reads a different nested part (the rule in the sample's own "expect").
SAMPLES_BY_PART = {
    "p02-goal-rejected.json": "绩效目标.审核状态",
    "e04-goal-not-published.json": "绩效目标.是否公开",
    "p03-no-benefit-indicator.json": "绩效目标.绩效指标[]",
    "p06-exante-insufficient.json": "事前绩效评估",
    "p08-poor-grade-not-cut.json": "上年度绩效评价",
    "e02-goals-unmet-no-explanation.json": "上年度绩效评价.目标是否完成",
    "p13-low-two-years.json": "历年评价[]",
    "m04-idle-two-years.json": "预算执行",
    "m02-zero-paid-oct30.json": "支付明细[]",
    "m06-serious-problem.json": "绩效监控[]",
    "e07-dept-no-self-evaluation.json": "部门整体",
    "m07-dept-midyear-missed.json": "部门整体.整体绩效目标",
}


def english_sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / "submissions" / name).read_text(encoding="utf-8"))


def comparable(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings without what names the input itself: its file, and the evidence's ``headers`` (each input's own keys)."""
    return [{**f, "location": {k: v for k, v in f["location"].items() if k != "file"},
             "evidence": {k: v for k, v in f["evidence"].items() if k != "headers"}} for f in findings]


def check_json(path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "perfrules", "check", str(path), "--format", "json", "--fail-on", "never"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_chinese_copy_is_chinese_at_every_level():
    doc = chinese_document(english_sample("p02-goal-rejected.json"))
    project = doc["项目"][0]
    assert doc["数据所述日期"] == "2022-11-15" and project["项目编码"] == "SY-2022-102"
    assert project["绩效目标"]["审核状态"] == "未通过"
    assert project["绩效目标"]["绩效指标"][0]["一级指标"] == "产出指标"
    assert project["支付明细"][0]["支付日期"] and project["上年度绩效评价"]["评价等级"]
    assert not any(k.isascii() for k in project["预算执行"])


@pytest.mark.parametrize("name", sorted(SAMPLES_BY_PART))
def test_check_reads_a_chinese_keyed_submission_as_its_english_twin(tmp_path, name):
    english = english_sample(name)
    path = tmp_path / f"zh-{name}"
    path.write_text(json.dumps(chinese_document({k: v for k, v in english.items() if k not in ("expect", "about")}),
                               ensure_ascii=False), encoding="utf-8")
    zh, en = check_json(path), check_json(SAMPLES / "submissions" / name)
    expected = {e["rule"] for rules in english["expect"].values() for e in rules}
    assert expected and expected <= {f["rule_id"] for f in zh["findings"]}
    assert comparable(zh["findings"]) == comparable(en["findings"])
    assert zh["errors"] == [] and zh["summary"]["rows"] == en["summary"]["rows"]


@pytest.mark.skipif(not available()[0], reason=available()[1])
@pytest.mark.parametrize("name", sorted(SAMPLES_BY_PART))
def test_screen_reads_a_chinese_keyed_submission_as_its_english_twin(name):
    english = {k: v for k, v in english_sample(name).items() if k not in ("expect", "about")}
    zh, en = perfrules.screen(chinese_document(english)), perfrules.screen(english)
    assert [f.rule_id for f in zh.findings] and zh.verdict == en.verdict
    assert comparable([f.to_dict() for f in zh.findings]) == comparable([f.to_dict() for f in en.findings])


def test_the_nested_keys_are_named_as_written_in_the_evidence(tmp_path):
    english = english_sample("p02-goal-rejected.json")
    path = tmp_path / "zh.json"
    path.write_text(json.dumps(chinese_document({k: v for k, v in english.items() if k != "expect"}), ensure_ascii=False),
                    encoding="utf-8")
    finding = next(f for f in check_json(path)["findings"] if f["rule_id"] == "PF-P02-GOALREJECTED")
    assert finding["evidence"]["headers"]["goal_review_status"] == "绩效目标.审核状态"
    assert finding["evidence"]["goal_review_status"] == "未通过"


def test_amount_unit_is_read_under_its_chinese_title(tmp_path):
    doc = chinese_document({k: v for k, v in english_sample("p05-exante-at-threshold.json").items() if k not in ("expect", "about")})
    project = doc["项目"][0]
    del project["申请金额(元)"]
    project["申请金额"], project["金额单位"] = 50, "万元"
    path = tmp_path / "wan.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    finding = next(f for f in check_json(path)["findings"] if f["rule_id"] == "PF-P05-EXANTE")
    assert finding["evidence"]["amount"] == 500000


@pytest.mark.skipif(not available()[0], reason=available()[1])
def test_screen_names_evidence_by_the_submissions_keys_and_the_packs_titles(tmp_path):
    english = english_sample("p02-goal-rejected.json")
    path = tmp_path / "zh.json"
    path.write_text(json.dumps(chinese_document({k: v for k, v in english.items() if k != "expect"}), ensure_ascii=False),
                    encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "perfrules", "screen", str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "证据: 是否设定绩效目标：是；绩效目标.审核状态：未通过\n" in done.stdout
    assert "has_goal" not in done.stdout and "headers" not in done.stdout
