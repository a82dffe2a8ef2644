"""`perfrules serve` in process, through its ASGI application: decisions, errors, rules, reload, auth, metrics,
the decision log, the OpenAPI document, and the service's findings equal to `check --format json`'s on every sample."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import RULES, SAMPLES

from perfrules.evaluation.durable import available

pytestmark = pytest.mark.skipif(not available()[0], reason=available()[1])
fastapi = pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from perfrules.cli.main import main  # noqa: E402
from perfrules.rulepack.pack import load_schema  # noqa: E402
from perfrules.service.app import create_app  # noqa: E402
from perfrules.service.config import ServiceConfig  # noqa: E402
from perfrules.service.revision import pack_revision  # noqa: E402

SUBMISSIONS = SAMPLES / "submissions"
CLIENT_TOKEN = "client-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789ab"


def sample(name: str) -> dict:
    return json.loads((SUBMISSIONS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def service_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    rules = root / "rules"
    shutil.copytree(RULES, rules)
    return {"root": root, "rules": rules, "state": root / "state", "log": root / "decisions"}


@pytest.fixture(scope="module")
def client(service_dirs):
    config = ServiceConfig(rules_dir=str(service_dirs["rules"]), state_dir=str(service_dirs["state"]),
                           decision_log=str(service_dirs["log"]), max_body=200_000, max_batch=5, poll_seconds=0.05)
    with TestClient(create_app(config)) as c:
        yield c


def test_screen_gives_verdict_findings_and_the_pack_revision(client, service_dirs):
    r = client.post("/v1/screen", json=sample("p02-goal-rejected.json"))
    assert r.status_code == 200
    body = r.json()
    assert (body["verdict"], body["verdict_zh"]) == ("reject", "不予通过")
    assert [f["rule_id"] for f in body["findings"]] == ["PF-P02-GOALREJECTED"]
    assert body["findings"][0]["evidence"] == {"has_goal": True, "goal_review_status": "未通过",
                                               "headers": {"goal_review_status": "performance_goal.review_status"}}
    revision = pack_revision(RULES)
    assert body["pack"] == {"version": "2026.11.0", "revision": revision}
    assert r.headers["x-perfrules-pack-revision"] == revision
    assert body["profile"] == "national" and body["as_of"] == "2022-11-15"
    assert r.headers["x-decision-id"] == body["decision_id"]


def test_query_profile_as_of_and_english(client):
    doc = sample("m02-zero-paid-oct31.json")
    r = client.post("/v1/screen", params={"profile": "qitai", "as_of": "2022-11-01", "lang": "en"}, json=doc)
    body = r.json()
    assert r.status_code == 200 and body["profile"] == "qitai" and body["as_of"] == "2022-11-01"
    assert body["verdict"] == "rectify" and body["verdict_en"] == "needs rectification"
    assert body["findings"][0]["message"].isascii()


def _check_json(path: Path, profile: str | None) -> dict:
    args = ["check", str(path), "--format", "json", "--fail-on", "never"] + (["--profile", profile] if profile else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _without_file(findings: list[dict]) -> list[dict]:
    return [{**f, "location": {k: v for k, v in f["location"].items() if k != "file"}} for f in findings]


SAMPLE_FILES = sorted(SUBMISSIONS.glob("*.json"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_findings_equal_check_json_on_every_sample(client, path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    for profile in [None, *doc["expect"]]:
        checked = _check_json(path, profile)
        r = client.post("/v1/screen", params={"profile": profile} if profile else {}, json=doc)
        assert r.status_code == 200
        served = r.json()
        assert _without_file(served["findings"]) == _without_file(checked["findings"]), (path.name, profile)
        assert {f["location"]["file"] for f in served["findings"]} <= {"request"}
        assert {k: v for k, v in served["summary"].items() if not k.startswith("verdict")} == checked["summary"]
        assert served["errors"] == checked["errors"]


def test_schema_problems_are_422_with_json_pointers_in_both_languages(client):
    r = client.post("/v1/screen", json={"projects": [{"project_id": "X-1", "amount": 100, "kind": "工程"}]})
    assert r.status_code == 422
    problems = {p["pointer"]: p for p in r.json()["error"]["problems"]}
    assert set(problems) == {"/projects/0/fiscal_year", "/projects/0/kind"}
    assert problems["/projects/0/fiscal_year"]["message_zh"] == "缺少必填字段 'fiscal_year'（预算年度）。"
    assert problems["/projects/0/fiscal_year"]["message_en"] == "required field 'fiscal_year' is missing."
    assert problems["/projects/0/kind"]["field"] == "kind"
    assert problems["/projects/0/kind"]["message_en"] == "must be one of: 项目, 政策, null; got '工程'."
    r = client.post("/v1/screen", params={"lang": "en"}, json={"projects": [{"project_id": "X-1", "fiscal_year": 2022, "amount": 1,
                                                                            "prior_evaluation": {"score": 130}}]})
    [p] = r.json()["error"]["problems"]
    assert p["pointer"] == "/projects/0/prior_evaluation/score" and p["message"] == "must be at most 100, got 130."


def test_bad_query_parameters_are_422_naming_the_parameter(client):
    r = client.post("/v1/screen", params={"as_of": "2022-13-01", "lang": "fr"}, json=sample("clean-project.json"))
    assert r.status_code == 422
    assert {p["parameter"] for p in r.json()["error"]["problems"]} == {"as_of", "lang"}


def test_malformed_json_is_400_and_names_the_place(client):
    r = client.post("/v1/screen", content=b'{"projects": [}', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "request.json"
    assert "line 1, column 15" in r.json()["error"]["message_en"]


@pytest.mark.parametrize("depth", [500, 100_000])
def test_json_nested_too_deep_is_422_never_500(client, depth):
    """100,000 levels (200 KB, under --max-body) are deeper than the parser can go; 500 parse, but are deeper than
    the schema check can follow. Either is the caller's to fix: 422 input.too-deep, never a 500."""
    nested = b"[" * depth + b"]" * depth
    r = client.post("/v1/screen", content=nested, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "input.too-deep"), r.text[:200]
    if depth < 1000:  # one deep item of a batch fails alone
        body = b'{"items": [{"id": 1, "submission": ' + nested + b'}, {"id": 2, "submission": ' + json.dumps(sample("clean-project.json")).encode() + b"}]}"
        r = client.post("/v1/screen/batch", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text[:200]
        assert [(x["status"], x.get("error", {}).get("code")) for x in r.json()["results"]] == [(422, "input.too-deep"), (200, None)]


def test_oversized_body_is_413(client):
    r = client.post("/v1/screen", content=b"[" + b" " * 200_001 + b"]", headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request.too-large"


def test_unknown_profile_is_404_listing_the_known_ones(client):
    r = client.post("/v1/screen", params={"profile": "shanghai"}, json=sample("clean-project.json"))
    assert r.status_code == 404
    assert r.json()["known_profiles"] == ["nanchang-gaoxin", "national", "qitai", "sheyang", "tongxin", "yongqiao"]
    assert "'shanghai'" in r.json()["error"]["message_zh"]
    assert client.get("/v1/rules", params={"profile": "shanghai"}).status_code == 404


def test_unknown_path_and_method_are_json_errors(client):
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "request.not-found"
    r = client.get("/v1/screen")
    assert r.status_code == 405 and r.json()["error"]["code"] == "request.method"


def test_batch_gives_one_result_per_item_and_a_bad_item_fails_alone(client):
    items = [{"id": "a-1", "submission": sample("p02-goal-rejected.json")}, {"id": 7, "submission": {"projects": [{"amount": 1}]}},
             {"submission": sample("clean-project.json")}, {"id": "c-3", "submission": sample("clean-project.json")}]
    r = client.post("/v1/screen/batch", json={"items": items})
    assert r.status_code == 200
    body = r.json()
    results = body["results"]
    assert [x["id"] for x in results] == ["a-1", 7, None, "c-3"]
    assert [x["status"] for x in results] == [200, 422, 422, 200]
    assert results[0]["verdict"] == "reject" and results[3]["verdict"] == "pass"
    assert {p["pointer"] for p in results[1]["error"]["problems"]} == {"/items/1/submission/projects/0/project_id",
                                                                     "/items/1/submission/projects/0/fiscal_year"}
    assert results[2]["error"]["problems"][0]["pointer"] == "/items/2/id"
    assert results[0]["decision_id"] != results[3]["decision_id"] and body["batch_id"]
    assert results[0]["findings"][0]["location"]["file"] == "items[0]"


def test_batch_limits_and_shape(client):
    one = {"id": "x", "submission": sample("clean-project.json")}
    r = client.post("/v1/screen/batch", json={"items": [one] * 6})
    assert r.status_code == 413 and r.json()["error"]["code"] == "batch.too-many-items"
    r = client.post("/v1/screen/batch", json=[one])
    assert r.status_code == 422 and r.json()["error"]["code"] == "batch.shape"


def test_explain_gives_each_finding_its_sub_expression_values(client):
    r = client.post("/v1/screen", params={"explain": "true"}, json=sample("p08-poor-grade-cut.json"))
    finding = next(f for f in r.json()["findings"] if f["rule_id"] == "PF-P08-POORGRADE")
    explained = finding["explain"]
    assert explained["verdict"] == "fires" and explained["record"].startswith(finding["project_id"])
    assert explained["steps"][0]["value"] is True
    assert any(s["expression"] == "prior_grade" and s["value"] == "差" for s in explained["steps"])


def test_a_slow_explain_does_not_block_health(client, monkeypatch):
    """explain=true is CPU-bound work: it runs on the worker's screening thread, so the event loop still answers /health."""
    import threading
    import time

    import perfrules.service.decisions as decisions_module

    started = threading.Event()
    real = decisions_module._explanations

    def slow(*args, **kwargs):
        started.set()
        until = time.perf_counter() + 3.0
        while time.perf_counter() < until:  # busy, holding the GIL between switches, as a large explain does
            pass
        return real(*args, **kwargs)

    monkeypatch.setattr(decisions_module, "_explanations", slow)
    answer: dict = {}
    explaining = threading.Thread(target=lambda: answer.update(r=client.post("/v1/screen", params={"explain": "true"},
                                                                             json=sample("p08-poor-grade-cut.json"))))
    explaining.start()
    try:
        assert started.wait(30)
        t0 = time.perf_counter()
        health = client.get("/health")
        waited = time.perf_counter() - t0
        assert health.status_code == 200 and explaining.is_alive()  # answered while the explain was still running
        assert waited < 1.0, f"/health waited {waited:.2f} s behind the explain"
    finally:
        explaining.join(60)
    assert answer["r"].status_code == 200
    assert any("explain" in f for f in answer["r"].json()["findings"])


def test_rules_in_force_with_parameters_their_files_and_sources(client):
    r = client.get("/v1/rules", params={"profile": "qitai", "as_of": "2022-11-15"})
    assert r.status_code == 200
    body = r.json()
    assert body["chain"] == ["national", "qitai"] and body["pack"]["revision"] == pack_revision(RULES)
    rules = {x["id"]: x for x in body["rules"]}
    assert all(x["state"] in ("in_force", "built_in") for x in rules.values())
    d01 = rules["PF-D01-BUDGETBOOK"]
    assert d01["params"]["budget_books"]["set_in"] == "pack.yaml"
    assert d01["source"][0]["text"]
    everything = client.get("/v1/rules", params={"profile": "qitai", "all": "true"}).json()["rules"]
    assert len(everything) >= len(body["rules"])


def test_health_ready_and_metrics(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["pack"]["revision"]
    before = client.get("/metrics").text
    client.post("/v1/screen", json=sample("p02-goal-rejected.json"))
    text = client.get("/metrics").text
    assert "# TYPE perfrules_http_request_duration_seconds histogram" in text

    def value(page: str, line_start: str) -> float:
        return next((float(x.rsplit(" ", 1)[1]) for x in page.splitlines() if x.startswith(line_start)), 0.0)

    key = 'perfrules_decisions_total{verdict="reject"}'
    assert value(text, key) == value(before, key) + 1
    assert f'perfrules_pack_info{{revision="{ready["pack"]["revision"]}"' in text
    assert 'perfrules_http_request_duration_seconds_bucket{route="/v1/screen",le="+Inf"}' in text


def test_openapi_request_bodies_are_the_submission_schema_file(client):
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    body = doc["paths"]["/v1/screen"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Submission"}
    schemas = doc["components"]["schemas"]
    file = load_schema("submission.schema.json")
    assert schemas["submission_project"]["properties"].keys() == file["$defs"]["project"]["properties"].keys()
    assert schemas["submission_project"]["required"] == file["$defs"]["project"]["required"]
    assert schemas["Submission"]["oneOf"][0] == {"$ref": "#/components/schemas/submission_project"}
    assert {p["name"] for p in doc["paths"]["/v1/screen"]["post"]["parameters"]} == {"profile", "as_of", "lang", "explain"}


def test_decision_log_has_one_line_per_decision(client, service_dirs):
    r = client.post("/v1/screen", json=sample("p02-goal-rejected.json"))
    decision_id = r.json()["decision_id"]
    lines = [json.loads(x) for f in sorted(service_dirs["log"].glob("decisions-*.jsonl")) for x in f.read_text(encoding="utf-8").splitlines()]
    mine = [x for x in lines if x["decision_id"] == decision_id]
    assert len(mine) == 1
    entry = mine[0]
    assert entry["verdict"] == "reject" and entry["rule_ids"] == ["PF-P02-GOALREJECTED"]
    assert entry["pack_revision"] == r.json()["pack"]["revision"] and entry["as_of"] == "2022-11-15"
    assert entry["input_hash"].startswith("sha256:") and "input" not in entry
    assert entry["latency_ms"] > 0


def test_a_decision_that_cannot_be_logged_durably_is_not_made(client, service_dirs, monkeypatch):
    """An fsync that fails (EIO), or a write that fails (ENOSPC): 503 decision-log.failed with no verdict, the failure
    counted; single and batch alike. The next decision, with the disk back, is made and logged."""
    import errno
    import os

    import perfrules.service.decision_log as decision_log

    real_fsync = os.fsync

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    quiet = TestClient(client.app, raise_server_exceptions=False)
    monkeypatch.setattr(decision_log.os, "fsync", failing_fsync)
    r = quiet.post("/v1/screen", json=sample("p02-goal-rejected.json"), params={"lang": "en"})
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    body = r.json()
    assert body["error"]["code"] == "decision-log.failed" and "verdict" not in body and "findings" not in body
    assert "Input/output error" in body["error"]["message_en"] and "决策日志无法持久写入" in body["error"]["message_zh"]
    assert "Traceback" not in r.text
    batch = quiet.post("/v1/screen/batch", json={"items": [{"id": "a", "submission": sample("clean-project.json")}]})
    assert batch.status_code == 503 and batch.json()["error"]["code"] == "decision-log.failed" and "results" not in batch.json()
    monkeypatch.setattr(decision_log.os, "fsync", real_fsync)

    def full_disk(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(decision_log.os, "write", full_disk)
    r = quiet.post("/v1/screen", json=sample("clean-project.json"))
    assert r.status_code == 503 and "No space left on device" in r.json()["error"]["message_en"]
    monkeypatch.undo()

    r = client.post("/v1/screen", json=sample("clean-project.json"))
    assert r.status_code == 200
    logged = {json.loads(x)["decision_id"] for f in service_dirs["log"].glob("decisions-*.jsonl") for x in f.read_text(encoding="utf-8").splitlines()}
    assert r.json()["decision_id"] in logged
    metrics = client.get("/metrics").text
    assert 'perfrules_errors_total{code="decision-log.failed"} 3' in metrics


def test_decisions_command_filters_the_log(client, service_dirs):
    client.post("/v1/screen", json=sample("p02-goal-rejected.json"))
    client.post("/v1/screen", json=sample("clean-project.json"))
    out = subprocess.run([sys.executable, "-m", "perfrules", "decisions", "--log", str(service_dirs["log"]), "--since", "1h",
                          "--verdict", "不予通过", "--format", "jsonl"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    records = [json.loads(x) for x in out.stdout.splitlines()]
    assert records and all(r["verdict"] == "reject" for r in records)
    table = subprocess.run([sys.executable, "-m", "perfrules", "decisions", "--log", str(service_dirs["log"]), "--verdict", "pass"],
                           capture_output=True, text=True, timeout=60)
    assert table.returncode == 0 and "通过" in table.stdout and "共 " in table.stderr
    bad = subprocess.run([sys.executable, "-m", "perfrules", "decisions", "--log", str(service_dirs["root"] / "none")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "decisions.no-log" in bad.stderr


def test_a_damaged_log_line_is_named_by_file_and_line(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    (log / "decisions-2026-12-01.jsonl").write_text('{"decision_id": "a", "time": "2026-12-01T08:00:00+08:00"}\n{"decision_id": "b", "ti\n',
                                                    encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "perfrules", "decisions", "--log", str(log)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "decisions-2026-12-01.jsonl:2" in out.stderr


def test_reload_rejects_a_broken_pack_and_accepts_a_fixed_one(client, service_dirs):
    rules = service_dirs["rules"]
    before = client.get("/ready").json()["pack"]["revision"]
    pack_yaml = rules / "pack.yaml"
    original = pack_yaml.read_text(encoding="utf-8")
    p_file = rules / "P-budgeting.yaml"
    p_text = p_file.read_text(encoding="utf-8")
    try:
        p_file.write_text(p_text.replace("when: |", "when: |\n      no_such_field and", 1), encoding="utf-8")
        r = client.post("/v1/admin/reload")
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["code"] == "reload.rejected"
        assert any(p["where"].get("file", "").endswith("P-budgeting.yaml") and p["where"].get("line") for p in error["problems"])
        assert all(str(service_dirs["state"]) not in p["text"] for p in error["problems"])
        assert r.json()["pack"]["revision"] == before
        assert client.post("/v1/screen", json=sample("clean-project.json")).json()["pack"]["revision"] == before
    finally:
        p_file.write_text(p_text, encoding="utf-8")
    pack_yaml.write_text(original.replace("version: 2026.11.0", "version: 2026.11.1"), encoding="utf-8")
    try:
        r = client.post("/v1/admin/reload")
        assert r.status_code == 200, r.text
        after = r.json()["pack"]["revision"]
        assert r.json()["status"] == "accepted" and after != before and after == pack_revision(rules)
        served = client.post("/v1/screen", json=sample("clean-project.json")).json()
        assert served["pack"] == {"version": "2026.11.1", "revision": after}
        again = client.post("/v1/admin/reload").json()
        assert again["status"] == "unchanged"
    finally:
        pack_yaml.write_text(original, encoding="utf-8")
        assert client.post("/v1/admin/reload").json()["pack"]["revision"] == before


def test_an_unexpected_error_is_a_500_without_a_stack_trace(client, monkeypatch):
    import perfrules.service.app as app_module

    def broken(*args, **kwargs):
        raise ZeroDivisionError("secret detail")

    monkeypatch.setattr(app_module, "decide", broken)
    quiet = TestClient(client.app, raise_server_exceptions=False)  # the same started app, as a remote caller sees it
    r = quiet.post("/v1/screen", json=sample("clean-project.json"))
    assert r.status_code == 500
    assert "secret" not in r.text and "Traceback" not in r.text and r.json()["error"]["code"] == "internal"


@pytest.fixture(scope="module")
def secured(service_dirs, tmp_path_factory):
    tokens = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    tokens.write_text(f"# tokens\n{CLIENT_TOKEN}\n{ADMIN_TOKEN} admin\n", encoding="utf-8")
    config = ServiceConfig(rules_dir=str(service_dirs["rules"]), state_dir=str(service_dirs["state"]), token_file=str(tokens))
    with TestClient(create_app(config)) as c:
        yield c


def test_tokens_guard_v1_and_admin_but_not_health(secured):
    doc = sample("clean-project.json")
    r = secured.post("/v1/screen", json=doc)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert secured.post("/v1/screen", json=doc, headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert secured.post("/v1/screen", json=doc, headers={"Authorization": f"Bearer {CLIENT_TOKEN}"}).status_code == 200
    assert secured.post("/v1/screen", json=doc, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    r = secured.post("/v1/admin/reload", headers={"Authorization": f"Bearer {CLIENT_TOKEN}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.admin"
    assert secured.post("/v1/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    assert secured.get("/health").status_code == 200 and secured.get("/ready").status_code == 200
    assert secured.get("/openapi.json").json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_a_bad_token_file_is_named_by_line(tmp_path):
    from perfrules.errors import InputError
    from perfrules.service.auth import load_tokens

    path = tmp_path / "tokens.txt"
    path.write_text("good-token-0123456789\nshort\nx-token-0123456789 root\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_tokens(path)
    assert [(p.where.line, p.code) for p in info.value.problems] == [(2, "serve.token-short"), (3, "serve.token-line")]


def test_the_token_file_is_read_again_when_it_changes_and_a_bad_edit_keeps_the_tokens_in_force(tmp_path, caplog):
    from perfrules.service.auth import TokenFile

    caplog.set_level("INFO", logger="perfrules.service")
    path = tmp_path / "tokens.txt"
    path.write_text("old-client-token-0123\nadmin-token-0123456789 admin\n", encoding="utf-8")
    tokens = TokenFile(path)
    assert tokens.current().role_of("Bearer old-client-token-0123") == "client"
    path.write_text("new-client-token-0123\nadmin-token-0123456789 admin\n", encoding="utf-8")  # one revoked, one added
    assert [tokens.current().role_of(f"Bearer {t}") for t in ("old-client-token-0123", "new-client-token-0123")] == [None, "client"]
    path.write_text("new-client-token-0123\nshort\n", encoding="utf-8")  # a mistake mid-edit
    assert tokens.current().role_of("Bearer admin-token-0123456789") == "admin"
    assert [r.event for r in caplog.records if hasattr(r, "event")] == ["tokens.reloaded", "tokens.invalid"]


def test_a_year_the_calendar_cannot_hold_is_a_data_finding_not_a_500(client):
    # Found by the schemathesis test: fiscal_year 0 made the per-record evaluator build a date of year 0. The loaders
    # now read such a year as an unreadable value, as check does, so the answer is a decision with a D03 finding.
    r = client.post("/v1/screen", json={"project_id": "X-0", "fiscal_year": 0, "amount": 100})
    assert r.status_code == 200
    unreadable = [f for f in r.json()["findings"] if f["rule_id"] == "PF-D03-UNREADABLE"]
    assert any("fiscal_year" in json.dumps(f, ensure_ascii=False) for f in unreadable)


def test_decision_log_rotates_by_day_and_the_reader_windows_it(tmp_path):
    import datetime as dt

    from perfrules.service.decision_log import DecisionFilter, DecisionLog, read_decisions

    log = DecisionLog(tmp_path)
    tz = dt.timezone(dt.timedelta(hours=8))
    records = [{"decision_id": f"d{i}", "time": f"2026-12-0{d}T{h:02d}:00:00.000+08:00", "verdict": v, "profile": "national",
                "rule_ids": r} for i, (d, h, v, r) in enumerate([(1, 9, "pass", []), (1, 23, "reject", ["PF-P01-NOGOAL"]),
                                                                 (2, 8, "reject", ["PF-P02-GOALREJECTED"]), (3, 10, "rectify", ["PF-M02-ZEROPAID"])])]
    log.write_durably(records[:2])
    log.write_durably(records[2:])
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decisions-2026-12-01.jsonl", "decisions-2026-12-02.jsonl", "decisions-2026-12-03.jsonl"]
    since = dt.datetime(2026, 12, 1, 12, tzinfo=tz)
    until = dt.datetime(2026, 12, 3, tzinfo=tz)
    assert [r["decision_id"] for r in read_decisions(tmp_path, DecisionFilter(since=since, until=until))] == ["d1", "d2"]
    assert [r["decision_id"] for r in read_decisions(tmp_path, DecisionFilter(verdict="reject", rule_id="PF-P02-GOALREJECTED"))] == ["d2"]


def test_a_line_after_a_write_cut_short_starts_on_a_line_of_its_own(tmp_path, monkeypatch):
    """A full disk cuts one write short (its decision is refused); the next decision's line must not be appended
    to the fragment, nor one written after a crash left the file ending inside a line."""
    import os

    from perfrules.service import decision_log as dl

    day = "2026-12-01"
    (tmp_path / f"decisions-{day}.jsonl").write_text('{"decision_id": "crashed", "ti', encoding="utf-8")  # a crash
    log = dl.DecisionLog(tmp_path)
    record = {"decision_id": "a", "time": f"{day}T09:00:00.000+08:00", "verdict": "pass", "rule_ids": []}
    log.write_durably([record])
    real_write = os.write
    monkeypatch.setattr(dl.os, "write", lambda fd, data: real_write(fd, data[:7]))  # the disk fills mid-line
    with pytest.raises(OSError):
        log.write_durably([{**record, "decision_id": "refused"}])
    monkeypatch.setattr(dl.os, "write", real_write)
    log.write_durably([{**record, "decision_id": "b"}])
    log.close()
    lines = (tmp_path / f"decisions-{day}.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines == ['{"decision_id": "crashed", "ti', json.dumps({**record}, ensure_ascii=False, separators=(",", ":")),
                     '{"decis', json.dumps({**record, "decision_id": "b"}, ensure_ascii=False, separators=(",", ":")), ""]


def test_the_fast_schema_check_agrees_with_jsonschema():
    from perfrules.service.validation import _passes_fast, _validators

    docs = [json.loads(p.read_text(encoding="utf-8")) for p in SAMPLE_FILES]
    bad = [{"projects": [{"project_id": "x", "fiscal_year": 2022, "amount": 1}], "as_of": "2022-13-01"},
           {"projects": [{"project_id": "x", "fiscal_year": 2022, "amount": 1}], "as_of": "20221001"},
           {"project_id": True, "fiscal_year": 2022, "amount": 1}, {"project_id": "x", "fiscal_year": 2022},
           {"project_id": "x", "fiscal_year": 2022, "amount": 1, "prior_evaluation": {"score": 101}},
           {"project_id": "x", "fiscal_year": 2022, "amount": 1, "amount_unit": "千元"}]
    for doc in docs + bad:
        branch = "document" if "projects" in doc else "project"
        assert _passes_fast(branch, doc) == _validators()[branch].is_valid(doc), doc
    assert sum(_passes_fast("document" if "projects" in d else "project", d) for d in bad) == 0


def test_the_fast_schema_check_agrees_with_jsonschema_on_every_field_made_wrong():
    # Each field the samples give, at every level (the money, flag, date and grade definitions the fast check has
    # inlined, inside monitoring reports, payments, the evaluation history, departments …), replaced by a list.
    from perfrules.service.validation import _passes_fast, _validators

    def leaves(node, path=()):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from leaves(value, (*path, key))
        elif isinstance(node, list) and node and isinstance(node[0], (dict, list)):
            for i, value in enumerate(node):
                yield from leaves(value, (*path, i))
        elif path:
            yield path

    tried, refused = set(), 0
    for p in SAMPLE_FILES:
        doc = json.loads(p.read_text(encoding="utf-8"))
        doc.pop("expect", None)
        for path in leaves(doc):
            shape = tuple("[]" if isinstance(k, int) else k for k in path)
            if shape in tried:
                continue
            tried.add(shape)
            wrong = json.loads(json.dumps(doc))
            node = wrong
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = [["not", "a", "value"]]
            branch = "document" if "projects" in wrong else "project"
            assert _passes_fast(branch, wrong) == _validators()[branch].is_valid(wrong), path
            refused += not _passes_fast(branch, wrong)
    assert len(tried) > 60 and refused > 60, (len(tried), refused)


def test_old_published_copies_are_pruned_but_current_and_previous_stay(tmp_path):
    import os

    from perfrules.service.revision import _prune

    for i in range(8):
        (tmp_path / f"rev{i}").mkdir()
        os.utime(tmp_path / f"rev{i}", (1000 + i, 1000 + i))
    (tmp_path / ".incoming-x").mkdir()
    _prune(tmp_path, keep={"rev0", "rev7"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".incoming-x", "rev0", "rev3", "rev4", "rev5", "rev6", "rev7"]


def test_log_inputs_keeps_the_submission_itself(service_dirs, tmp_path):
    log_dir = tmp_path / "decisions"
    config = ServiceConfig(rules_dir=str(service_dirs["rules"]), state_dir=str(service_dirs["state"]), decision_log=str(log_dir), log_inputs=True)
    doc = sample("p02-goal-rejected.json")
    with TestClient(create_app(config)) as c:
        decision_id = c.post("/v1/screen", json=doc).json()["decision_id"]
    [line] = [json.loads(x) for f in log_dir.glob("decisions-*.jsonl") for x in f.read_text(encoding="utf-8").splitlines()]
    assert line["decision_id"] == decision_id and line["input"] == doc
    from perfrules.service.decision_log import input_hash
    assert line["input_hash"] == input_hash(doc)


@pytest.mark.parametrize(("token", "log", "warned"), [(False, False, True), (False, True, True), (True, False, False), (True, True, False)])
def test_serve_warns_of_a_non_loopback_address_without_tokens_whatever_else_it_is_given(tmp_path, monkeypatch, token, log, warned):
    """The warning depends on the tokens alone (it once hung on --decision-log by an ``elif``). The supervisor is
    replaced, so nothing listens."""
    from click.testing import CliRunner

    import perfrules.service.supervisor as supervisor
    from perfrules.cli.main import main

    monkeypatch.setattr(supervisor, "Supervisor", lambda *args, **kwargs: type("Stub", (), {"run": lambda self: 0})())
    tokens = tmp_path / "tokens"
    tokens.write_text("a-client-token-0123456789\n", encoding="utf-8")
    args = ["serve", "--host", "0.0.0.0", "--state-dir", str(tmp_path / "state")]
    args += ["--token-file", str(tokens)] if token else []
    args += ["--decision-log", str(tmp_path / "log")] if log else []
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert ("without --token-file" in result.output) == warned
