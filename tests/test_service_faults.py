"""Faults of the real `perfrules serve` process on a free 127.0.0.1 port: a worker killed with SIGKILL is replaced
and requests keep being answered; a reload whose check takes longer than --reload-timeout is rejected (HTTP and
SIGHUP) and the old revision keeps serving, also after the abandoned check finishes. Each server stops by itself
(SIGTERM, exit 0); the cleanup kills it only if a test failed half-way."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time

import pytest
from conftest import RULES
from test_service_process import DOC, Server, revisions, running

from perfrules.evaluation.durable import available

pytestmark = pytest.mark.skipif(not available()[0], reason=available()[1])
httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from perfrules.service.revision import pack_revision  # noqa: E402


def live_workers(state) -> set[int]:
    """The pids of workers that have loaded the pack (each writes workers/<pid>.json), still alive."""
    out = set()
    for path in (state / "workers").glob("*.json"):
        pid = json.loads(path.read_text(encoding="utf-8"))["pid"]
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        out.add(pid)
    return out


def test_a_killed_worker_is_replaced_and_requests_keep_being_answered(tmp_path):
    state = tmp_path / "state"
    server = Server("--workers", "2", "--state-dir", str(state), "--decision-log", str(tmp_path / "log"))
    statuses: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:  # a new connection per request, as a budget system's pool opens them after a reset
                r = httpx.post(f"{server.url}/v1/screen", json=DOC, timeout=30)
            except httpx.TransportError as exc:
                failures.append(type(exc).__name__)  # only a request in flight on the killed worker
                continue
            statuses.append(r.status_code)

    threads = [threading.Thread(target=load, daemon=True) for _ in range(4)]
    try:
        deadline = time.monotonic() + 60
        while live_workers(state) != set(server.workers):
            assert time.monotonic() < deadline, "the workers did not load the pack"
            time.sleep(0.1)
        for t in threads:
            t.start()
        time.sleep(1.0)
        victim, survivor = server.workers
        os.kill(victim, signal.SIGKILL)
        exited = server.wait_for(lambda x: x.get("event") == "worker.exited" and x.get("worker") == victim, 30)
        assert exited["exitcode"] == -signal.SIGKILL
        started = server.wait_for(lambda x: x.get("event") == "worker.started" and x.get("replaces") == victim, 30)
        replacement = started["worker"]
        answered_during_gap = len(statuses)
        deadline = time.monotonic() + 90
        while live_workers(state) != {survivor, replacement}:  # the new worker has loaded the pack and serves
            assert time.monotonic() < deadline, "the replacement worker did not load the pack"
            time.sleep(0.1)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(30)
        assert set(statuses) == {200}, sorted(set(statuses))
        assert len(statuses) > answered_during_gap  # answered after the replacement too
        assert len(failures) <= 4, failures  # at most the requests in flight on the killed worker, one per client
        assert revisions(server.url, 6, {}) == {pack_revision(RULES)}
        assert server.stop() == 0
        for pid in (survivor, replacement):
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        stop.set()
        server.cleanup()
        for pid in list(live_workers(state)):
            os.kill(pid, signal.SIGKILL)


def test_a_reload_that_takes_too_long_is_rejected_and_the_old_revision_keeps_serving(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    # 0.05 s is less than any check of the bundled pack takes (lint, then every profile's engine): every reload times out.
    server = Server("--workers", "2", "--rules", str(rules), "--state-dir", str(tmp_path / "state"), "--reload-timeout", "0.05")
    try:
        original = pack_revision(rules)
        assert revisions(server.url, 6, {}) == {original}
        pack_yaml = rules / "pack.yaml"
        pack_yaml.write_text(pack_yaml.read_text(encoding="utf-8").replace("version: 2026.11.0", "version: 2026.11.9"), encoding="utf-8")

        r = httpx.post(f"{server.url}/v1/admin/reload", params={"lang": "en"}, timeout=60)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["error"]["code"] == "reload.timeout" and f"revision {original} keeps serving" in body["error"]["message_en"]
        assert body["error"]["problems"][0]["code"] == "reload.timeout" and body["pack"]["revision"] == original
        # the abandoned check runs to its end, and still does not publish
        server.wait_for(lambda x: x.get("event") == "reload.late" and x.get("checked_revision") == pack_revision(rules), 120)
        assert revisions(server.url, 12, {}) == {original}
        assert json.loads((tmp_path / "state" / "current.json").read_text(encoding="utf-8"))["revision"] == original

        server.proc.send_signal(signal.SIGHUP)
        rejected = server.wait_for(lambda x: x.get("event") == "reload.rejected" and x.get("signal") == "SIGHUP", 60)
        assert rejected["timed_out"] is True and any("reload.timeout" in p for p in rejected["problems"])
        server.wait_for(lambda x: x.get("event") == "reload.late" and x.get("pid") == server.proc.pid, 120)
        assert revisions(server.url, 12, {}) == {original}
        assert server.stop() == 0
    finally:
        server.cleanup()


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_workers_stop_when_their_supervisor_is_killed(tmp_path):
    """Connections come only through the supervisor: workers left without it stop instead of lingering."""
    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"))
    try:
        assert httpx.post(f"{server.url}/v1/screen", json=DOC, timeout=30).status_code == 200
        assert all(running(pid) for pid in server.workers)
        server.proc.kill()
        server.proc.wait(10)
        deadline = time.monotonic() + 60
        while any(running(pid) for pid in server.workers):
            assert time.monotonic() < deadline, "the workers did not stop"
            time.sleep(0.1)
        server._reader.join(10)  # the workers' last lines (they share the supervisor's stderr)
        orphaned = {x["pid"] for x in server.lines if x.get("event") == "dispatch.orphaned"}
        assert orphaned == set(server.workers), server.raw[-10:]
    finally:
        server.cleanup()
