"""Property-based API test: schemathesis generates requests from the service's own OpenAPI document
(valid and invalid submissions, query parameters) and sends them over HTTP to the application served by
uvicorn on 127.0.0.1; no response may be a 5xx, and every status must be one the document declares.
Bounded (a few examples per operation) so it runs in well under a minute."""

from __future__ import annotations

import atexit
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import RULES

from perfrules.evaluation.durable import available

pytestmark = pytest.mark.skipif(not available()[0], reason=available()[1])
schemathesis = pytest.importorskip("schemathesis")

import uvicorn  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error, status_code_conformance  # noqa: E402

from perfrules.service.app import create_app  # noqa: E402
from perfrules.service.config import ServiceConfig  # noqa: E402

_ROOT = Path(tempfile.mkdtemp(prefix="perfrules-schemathesis-"))
atexit.register(shutil.rmtree, _ROOT, True)  # made at import (the document is needed to collect the tests)
shutil.copytree(RULES, _ROOT / "rules")
APP = create_app(ServiceConfig(rules_dir=str(_ROOT / "rules"), state_dir=str(_ROOT / "state"), max_body=65_536, max_batch=4))
# The document the service serves at /openapi.json (built without starting it). Reload is exercised by the
# other service tests; here it would only re-check the same pack at every example.
schema = schemathesis.openapi.from_dict(APP.app.openapi()).exclude(path="/v1/admin/reload")
# Explicit examples and Hypothesis fuzzing (max_examples below); the coverage phase would add hundreds of
# boundary cases per operation regardless of max_examples, minutes on this machine.
schema.config.phases.update(phases=["examples", "fuzzing"])


@pytest.fixture(scope="module")
def base_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(APP, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start within 60 s"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()
    shutil.rmtree(_ROOT, ignore_errors=True)


def test_the_served_document_is_the_one_tested(base_url):
    import httpx
    assert httpx.get(f"{base_url}/openapi.json").json() == APP.app.openapi()


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case, base_url):
    case.call_and_validate(base_url=base_url, checks=[not_a_server_error, status_code_conformance])
