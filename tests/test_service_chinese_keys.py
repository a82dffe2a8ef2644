"""Chinese-keyed submissions over HTTP: the service reads them with the file loader's own key mapping, so it
accepts what `perfrules check file.json` accepts and finds the same; schema problems name the caller's own keys."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from conftest import RULES, SAMPLES
from test_submission_chinese_keys import chinese_document

from perfrules.evaluation.durable import available

pytestmark = pytest.mark.skipif(not available()[0], reason=available()[1])
pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from perfrules.cli.main import main  # noqa: E402
from perfrules.language.fields import TABLES  # noqa: E402
from perfrules.service.app import create_app  # noqa: E402
from perfrules.service.config import ServiceConfig  # noqa: E402

COLUMN_ZH = {c.name: c.zh for c in TABLES["projects"].columns}


def chinese_keyed(doc: dict) -> dict:
    """A sample written the way an officer's export might: every key in Chinese, at every level (项目, column
    headers such as 项目编码 and 申请金额, parts such as 绩效目标 and their keys, 绩效指标 and 支付明细 items …)."""
    zh = chinese_document({k: v for k, v in doc.items() if k not in ("expect", "about")})
    for project in zh["项目"]:
        for titled, header in (("申请金额(元)", "申请金额"), ("上年预算金额(元)", "上年预算金额")):
            if titled in project:
                project[header] = project.pop(titled)
    return zh


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("zh-service")
    shutil.copytree(RULES, root / "rules")
    config = ServiceConfig(rules_dir=str(root / "rules"), state_dir=str(root / "state"))
    with TestClient(create_app(config)) as c:
        yield c


def check_json(path, *args: str) -> dict:
    result = CliRunner().invoke(main, ["check", str(path), "--format", "json", "--fail-on", "never", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def without_file(findings: list[dict]) -> list[dict]:
    return [{**f, "location": {k: v for k, v in f["location"].items() if k != "file"}} for f in findings]


def without_own_headers(findings: list[dict]) -> list[dict]:
    """The findings but the evidence's ``headers``, which name each input's own keys (and so differ by input)."""
    return [{**f, "evidence": {k: v for k, v in f["evidence"].items() if k != "headers"}} for f in without_file(findings)]


WITH_PROJECTS = sorted(p.name for p in (SAMPLES / "submissions").glob("*.json") if json.loads(p.read_text(encoding="utf-8"))["projects"])


@pytest.mark.parametrize("name", WITH_PROJECTS)
def test_a_chinese_keyed_submission_gets_checks_findings(client, tmp_path, name):
    """The differential test on every sample written with Chinese keys: the service finds what check finds."""
    english = json.loads((SAMPLES / "submissions" / name).read_text(encoding="utf-8"))
    doc = chinese_keyed(english)
    assert "项目" in doc and "项目编码" in doc["项目"][0] and "project_id" not in doc["项目"][0]
    path = tmp_path / f"zh-{name}"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    checked = check_json(path)
    english_checked = check_json(SAMPLES / "submissions" / name)
    assert without_own_headers(checked["findings"]) == without_own_headers(english_checked["findings"])  # the loader reads both alike
    for f in checked["findings"]:  # and names each field by the key the officer wrote
        assert all(COLUMN_ZH.get(field) in (None, header) for field, header in f["evidence"].get("headers", {}).items()
                   if "." not in header), f["evidence"]

    r = client.post("/v1/screen", json=doc)
    assert r.status_code == 200, r.text
    served = r.json()
    # check's findings exactly (the file name aside), the evidence's headers naming the officer's own keys too
    assert without_file(served["findings"]) == without_file(checked["findings"])
    assert served["errors"] == checked["errors"]
    assert {k: v for k, v in served["summary"].items() if not k.startswith("verdict")} == checked["summary"]
    batch = client.post("/v1/screen/batch", json={"items": [{"id": "zh", "submission": doc}]}).json()["results"][0]
    assert batch["status"] == 200 and without_file(batch["findings"]) == without_file(checked["findings"])


def test_the_p02_finding_of_a_chinese_keyed_submission(client):
    doc = chinese_keyed(json.loads((SAMPLES / "submissions" / "p02-goal-rejected.json").read_text(encoding="utf-8")))
    body = client.post("/v1/screen", json=doc).json()
    assert body["verdict"] == "reject" and [f["rule_id"] for f in body["findings"]] == ["PF-P02-GOALREJECTED"]
    # the evidence names the value by the officer's own key (绩效目标), as check's does
    assert body["findings"][0]["evidence"]["headers"] == {"goal_review_status": "绩效目标.审核状态"}
    # explain=true reads the document as written too: the same sub-expression values as the English-keyed one's
    english = json.loads((SAMPLES / "submissions" / "p02-goal-rejected.json").read_text(encoding="utf-8"))
    explained = client.post("/v1/screen", params={"explain": "true"}, json=doc).json()["findings"][0]["explain"]
    assert explained["verdict"] == "fires" and explained["record"] == "SY-2022-102 2022"
    assert explained == client.post("/v1/screen", params={"explain": "true"}, json=english).json()["findings"][0]["explain"]


def test_schema_problems_of_a_chinese_keyed_submission_name_the_callers_keys(client):
    doc = chinese_keyed(json.loads((SAMPLES / "submissions" / "clean-project.json").read_text(encoding="utf-8")))
    project = doc["项目"][0]
    project["申请金额"] = True
    del project["项目编码"]
    r = client.post("/v1/screen", json=doc)
    assert r.status_code == 422
    problems = {p["pointer"]: p for p in r.json()["error"]["problems"]}
    assert problems["/项目/0/申请金额"]["field"] == "申请金额" and problems["/项目/0/申请金额"]["code"] == "submission.type"
    missing = problems["/项目/0/project_id"]
    assert missing["code"] == "submission.required" and "项目编码" in missing["message_zh"]


@pytest.mark.parametrize("name", ["p02-goal-rejected.json", "m02-zero-paid-oct31.json", "p08-poor-grade-cut.json"])
def test_the_library_screen_reads_a_chinese_keyed_document_as_check_does(name: str, tmp_path) -> None:
    import perfrules
    doc = json.loads((SAMPLES / "submissions" / name).read_text(encoding="utf-8"))
    zh = chinese_keyed(doc)
    path = tmp_path / name
    path.write_text(json.dumps(zh, ensure_ascii=False), encoding="utf-8")
    checked = json.loads(CliRunner().invoke(main, ["check", str(path), "--format", "json", "--fail-on", "never",
                                                   "--rules", str(RULES)]).stdout)
    screened = perfrules.screen(zh, as_of=doc.get("as_of"), rules_dir=RULES)
    assert screened.findings, name  # each sample here has findings: an unread 项目 key would give none
    assert [f.rule_id for f in screened.findings] == [f["rule_id"] for f in checked["findings"]]


def test_a_document_of_departments_only_is_read_as_departments(tmp_path) -> None:
    from perfrules.inputs.submission import load_submission, submission_parts
    doc = {"部门整体": [{"department": "县水利局", "fiscal_year": 2022}]}
    projects, departments, prefix, _ = submission_parts(doc)
    assert (projects, departments, prefix) == ([], doc["部门整体"], "projects")
    path = tmp_path / "d.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    ds = load_submission(path)
    assert len(ds.frame("projects")) == 0 and list(ds.frame("departments")["department"]) == ["县水利局"]


def test_a_body_with_both_projects_and_项目_is_checked_as_it_is_screened(client):
    """The loader reads ``projects`` when both keys are there; the schema check looks at the same list, whatever
    the keys' order (else a valid 项目 would let an unchecked ``projects`` through, screened as no record)."""
    sample = json.loads((SAMPLES / "submissions" / "p02-goal-rejected.json").read_text(encoding="utf-8"))
    good = sample["projects"]
    for doc in ({"projects": [{"x": 1}], "项目": good}, {"项目": good, "projects": [{"x": 1}]}):
        r = client.post("/v1/screen", json=doc)
        assert r.status_code == 422, r.text
        assert {p["pointer"] for p in r.json()["error"]["problems"]} == {"/projects/0/project_id", "/projects/0/fiscal_year", "/projects/0/amount"}
    for doc in ({"项目": [{"x": 1}], "projects": good}, {"projects": good, "项目": [{"x": 1}]}):
        body = client.post("/v1/screen", params={"as_of": sample["as_of"]}, json=doc).json()
        assert [f["rule_id"] for f in body["findings"]] == ["PF-P02-GOALREJECTED"]


def test_schema_problems_inside_nested_chinese_parts_name_the_callers_keys(client):
    doc = chinese_keyed(json.loads((SAMPLES / "submissions" / "clean-project.json").read_text(encoding="utf-8")))
    project = doc["项目"][0]
    project["绩效目标"]["审核状态"] = "乱写"
    project["绩效目标"]["绩效指标"][0]["指标数值"] = True
    project["支付明细"][0]["支付金额"] = [1]
    r = client.post("/v1/screen", json=doc)
    assert r.status_code == 422
    problems = {p["pointer"]: (p["field"], p["code"]) for p in r.json()["error"]["problems"]}
    assert problems == {"/项目/0/绩效目标/审核状态": ("审核状态", "submission.enum"),
                        "/项目/0/绩效目标/绩效指标/0/指标数值": ("指标数值", "submission.type"),
                        "/项目/0/支付明细/0/支付金额": ("支付金额", "submission.type")}
