"""The real `perfrules serve` process on a free 127.0.0.1 port, over HTTP: tokens, limits, reload of a broken
pack (HTTP and SIGHUP) that leaves the old revision serving in every worker, a fixed pack that reaches every
worker, and SIGTERM during load (requests in flight answered and logged, exit 0). Each server stops by itself;
the cleanup kills it only if a test failed half-way."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import RULES, SAMPLES

from perfrules.evaluation.durable import available

pytestmark = pytest.mark.skipif(not available()[0], reason=available()[1])
httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from perfrules.service.revision import pack_revision  # noqa: E402

CLIENT = "process-client-token-0123"
ADMIN = "process-admin-token-01234"
DOC = json.loads((SAMPLES / "submissions" / "p02-goal-rejected.json").read_text(encoding="utf-8"))


class Server:
    """`perfrules serve --port 0` as a subprocess; its JSON log lines collected as they come."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "perfrules", "serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self.lines: list[dict] = []
        self.raw: list[str] = []
        self.workers: list[int] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            listening = self.wait_for(lambda x: x.get("event") == "listening", 180)  # (80 s seen on a loaded machine)
            self.port = listening["port"]
            self.workers = listening["workers"]
            self.url = f"http://127.0.0.1:{self.port}"
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{self.url}/ready", timeout=5).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            raise AssertionError("the server did not become ready:\n" + "\n".join(self.raw[-20:]))
        except BaseException:
            self.cleanup()  # a server that never became ready stops too
            raise

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.raw.append(line.rstrip())
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                pass

    def wait_for(self, predicate, seconds: float) -> dict:
        deadline = time.monotonic() + seconds
        seen = 0
        while time.monotonic() < deadline:
            for line in self.lines[seen:]:
                if predicate(line):
                    return line
            seen = len(self.lines)
            if self.proc.poll() is not None and seen == len(self.lines):
                break
            time.sleep(0.05)
        raise AssertionError("log line not seen:\n" + "\n".join(self.raw[-20:]))

    def stop(self, seconds: float = 60) -> int:
        """SIGTERM and wait; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(seconds)

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in self.workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def running(pid: int) -> bool:
    """True while ``pid`` is a live process (not gone, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def revisions(url: str, n: int, headers: dict) -> set[str]:
    """The pack revision of ``n`` requests, each on a new connection (so both workers answer some)."""
    out = set()
    for _ in range(n):
        r = httpx.post(f"{url}/v1/screen", json=DOC, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        out.add(r.json()["pack"]["revision"])
        assert r.headers["x-perfrules-pack-revision"] == r.json()["pack"]["revision"]
    return out


def test_tokens_limits_and_reload_across_two_workers(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{CLIENT}\n{ADMIN} admin\n", encoding="utf-8")
    server = Server("--workers", "2", "--rules", str(rules), "--token-file", str(tokens), "--max-body", "20000",
                    "--max-batch", "3", "--decision-log", str(tmp_path / "log"), "--state-dir", str(tmp_path / "state"))
    client, admin = {"Authorization": f"Bearer {CLIENT}"}, {"Authorization": f"Bearer {ADMIN}"}
    try:
        url = server.url
        # tokens
        assert httpx.post(f"{url}/v1/screen", json=DOC).status_code == 401
        assert httpx.post(f"{url}/v1/screen", json=DOC, headers={"Authorization": "Bearer not-a-known-token-000"}).status_code == 401
        assert httpx.post(f"{url}/v1/admin/reload", headers=client).status_code == 403
        assert httpx.get(f"{url}/health").status_code == 200
        # limits
        big = httpx.post(f"{url}/v1/screen", content=b"[" + b" " * 20_000 + b"]", headers={**client, "content-type": "application/json"})
        assert big.status_code == 413
        batch = httpx.post(f"{url}/v1/screen/batch", json={"items": [{"id": i, "submission": DOC} for i in range(4)]}, headers=client)
        assert batch.status_code == 413 and batch.json()["error"]["code"] == "batch.too-many-items"
        original = pack_revision(rules)
        assert revisions(url, 12, client) == {original}

        # a broken pack over HTTP: rejected with its problems, the old revision keeps serving everywhere
        p_file = rules / "P-budgeting.yaml"
        p_text = p_file.read_text(encoding="utf-8")
        p_file.write_text(p_text.replace("when: |", "when: |\n      no_such_field and", 1), encoding="utf-8")
        r = httpx.post(f"{url}/v1/admin/reload", headers=admin, timeout=120)
        assert r.status_code == 422
        assert any(p["where"].get("file", "").endswith("P-budgeting.yaml") for p in r.json()["error"]["problems"])
        assert revisions(url, 12, client) == {original}

        # a fixed pack over HTTP: every worker serves it when the reply comes
        p_file.write_text(p_text, encoding="utf-8")
        pack_yaml = rules / "pack.yaml"
        pack_text = pack_yaml.read_text(encoding="utf-8")
        pack_yaml.write_text(pack_text.replace("version: 2026.11.0", "version: 2026.11.7"), encoding="utf-8")
        r = httpx.post(f"{url}/v1/admin/reload", headers=admin, timeout=120)
        assert r.status_code == 200, r.text
        changed = r.json()["pack"]["revision"]
        assert changed != original and sorted(map(int, r.json()["workers"])) == sorted(server.workers)
        assert set(r.json()["workers"].values()) == {changed}
        assert revisions(url, 12, client) == {changed}

        # SIGHUP with a broken pack: rejected (logged with its problems), nothing changes
        p_file.write_text(p_text.replace("when: |", "when: |\n      no_such_field and", 1), encoding="utf-8")
        server.proc.send_signal(signal.SIGHUP)
        rejected = server.wait_for(lambda x: x.get("event") == "reload.rejected" and x.get("signal") == "SIGHUP", 120)
        assert any("P-budgeting.yaml" in p for p in rejected["problems"])
        assert revisions(url, 12, client) == {changed}

        # SIGHUP with the original pack: it reaches both workers
        p_file.write_text(p_text, encoding="utf-8")
        pack_yaml.write_text(pack_text, encoding="utf-8")
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for(lambda x: x.get("event") == "reload.accepted" and x.get("signal") == "SIGHUP", 120)
        deadline = time.monotonic() + 60
        while revisions(url, 12, client) != {original}:
            assert time.monotonic() < deadline, "a worker did not follow the SIGHUP reload"
            time.sleep(0.2)
        assert all(line.get("pack_revision") for line in server.lines if line.get("event") == "access")
        assert server.stop() == 0
    finally:
        server.cleanup()


def test_sigterm_during_load_answers_and_logs_the_requests_in_flight(tmp_path):
    log_dir = tmp_path / "log"
    server = Server("--workers", "2", "--decision-log", str(log_dir), "--graceful-timeout", "20")
    answered: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=30) as c:
            while not stop.is_set():
                try:
                    r = c.post(f"{server.url}/v1/screen", json=DOC)
                except httpx.TransportError:
                    if server.proc.poll() is not None:
                        return
                    time.sleep(0.01)  # the server is closing connections: expected after SIGTERM
                    continue
                statuses.append(r.status_code)
                if r.status_code == 200:
                    answered.append(r.json()["decision_id"])

    threads = [threading.Thread(target=load, daemon=True) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        time.sleep(2.0)
        before = len(answered)
        assert before > 0
        code = server.stop(60)
        stop.set()
        for t in threads:
            t.join(30)
        assert code == 0
        assert set(statuses) == {200}, sorted(set(statuses))
        logged = [json.loads(x)["decision_id"] for f in log_dir.glob("decisions-*.jsonl") for x in f.read_text(encoding="utf-8").splitlines()]
        assert len(logged) == len(set(logged))
        assert set(answered) == set(logged)  # every answered decision is on disk, and nothing else is
        for pid in server.workers:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert server.wait_for(lambda x: x.get("event") == "stopped", 5)
    finally:
        stop.set()
        server.cleanup()


def test_the_readme_commands_start_the_service_and_screen_a_sample(tmp_path):
    import re

    from conftest import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Screening over HTTP \(`perfrules serve`\).*?```sh\n(.*?)```", text, re.S)
    assert block, "README has no serve code block"
    install_and_start, curl = [line for line in block.group(1).splitlines() if line.strip()]
    start = install_and_start.split("&&")[-1].split()
    assert start[:2] == [".venv/bin/perfrules", "serve"] and "--port" in start and "8080" in curl
    args = start[2:]
    args[args.index("--port") + 1] = "0"  # a free port here; the README's own may be taken on this machine
    args[args.index("--decision-log") + 1] = str(tmp_path / "decisions")
    server = Server(*args)
    try:
        command = curl.replace("127.0.0.1:8080", f"127.0.0.1:{server.port}").replace("@samples/", f"@{SAMPLES}/")
        out = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60, cwd=ROOT)
        body = json.loads(out.stdout)
        assert body["verdict"] == "reject" and [f["rule_id"] for f in body["findings"]] == ["PF-P02-GOALREJECTED"]
        assert server.stop() == 0
        assert list((tmp_path / "decisions").glob("decisions-*.jsonl"))
    finally:
        server.cleanup()


def test_a_pack_that_fails_its_checks_stops_serve_before_it_listens(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    p_file = rules / "P-budgeting.yaml"
    p_file.write_text(p_file.read_text(encoding="utf-8").replace("when: |", "when: |\n      no_such_field and", 1), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "perfrules", "serve", "--port", "0", "--rules", str(rules), "--state-dir", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "P-budgeting.yaml:" in out.stderr and "no_such_field" in out.stderr and "Traceback" not in out.stderr
    assert not list((tmp_path / "s" / "packs").glob("*/pack.yaml"))  # nothing was published


def test_a_port_in_use_is_a_clear_error(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        out = subprocess.run([sys.executable, "-m", "perfrules", "serve", "--port", str(taken.getsockname()[1]), "--lang", "en"],
                             capture_output=True, text=True, timeout=120)
    finally:
        taken.close()
    assert out.returncode == 2 and "cannot listen on 127.0.0.1:" in out.stderr and "[serve.bind]" in out.stderr


def test_a_chinese_keyed_submission_over_http_gets_checks_findings(tmp_path):
    """Chinese keys as UTF-8 bytes on a real connection: the findings (evidence headers too) are check's on the
    same document, a schema problem names the caller's key, and the decision log keeps the input as sent."""
    from click.testing import CliRunner
    from test_service_chinese_keys import chinese_keyed

    from perfrules.cli.main import main
    from perfrules.service.decision_log import input_hash

    doc = chinese_keyed(json.loads((SAMPLES / "submissions" / "p02-goal-rejected.json").read_text(encoding="utf-8")))
    path = tmp_path / "zh-p02.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    checked = json.loads(CliRunner().invoke(main, ["check", str(path), "--format", "json", "--fail-on", "never"]).stdout)
    assert [f["rule_id"] for f in checked["findings"]] == ["PF-P02-GOALREJECTED"]
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    assert "项目编码".encode() in body
    log_dir = tmp_path / "log"
    server = Server("--workers", "1", "--decision-log", str(log_dir), "--log-inputs")
    try:
        headers = {"Content-Type": "application/json"}
        r = httpx.post(f"{server.url}/v1/screen", content=body, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        served = r.json()
        assert [{**f, "location": {**f["location"], "file": None}} for f in served["findings"]] == \
            [{**f, "location": {**f["location"], "file": None}} for f in checked["findings"]]
        assert served["findings"][0]["evidence"]["headers"] == {"goal_review_status": "绩效目标.审核状态"}

        batch_body = json.dumps({"items": [{"id": "甲", "submission": doc}]}, ensure_ascii=False).encode("utf-8")
        item = httpx.post(f"{server.url}/v1/screen/batch", content=batch_body, headers=headers, timeout=30).json()["results"][0]
        assert item["id"] == "甲" and item["status"] == 200 and item["findings"][0]["evidence"] == served["findings"][0]["evidence"]

        broken = json.loads(json.dumps(doc))
        broken["项目"][0]["申请金额"] = True
        r = httpx.post(f"{server.url}/v1/screen", content=json.dumps(broken, ensure_ascii=False).encode("utf-8"), headers=headers, timeout=30)
        assert r.status_code == 422
        assert [(p["pointer"], p["field"]) for p in r.json()["error"]["problems"]] == [("/项目/0/申请金额", "申请金额")]
        assert server.stop() == 0
        logged = [json.loads(x) for f in log_dir.glob("decisions-*.jsonl") for x in f.read_text(encoding="utf-8").splitlines()]
        first = next(x for x in logged if x["decision_id"] == served["decision_id"])
        assert first["input"] == doc and first["input_hash"] == input_hash(doc) and first["rule_ids"] == ["PF-P02-GOALREJECTED"]
    finally:
        server.cleanup()


def test_a_burst_of_keep_alive_connections_is_spread_evenly_over_both_workers(tmp_path):
    """The supervisor passes connections to the workers in turn: 16 connections opened together are 8 and 8. (With
    one socket shared by the workers, the first to wake took every connection of a burst; with a socket each, the
    kernel's hash split 8 connections 2/6 or 8/0 in 5 trials of 20.)"""
    import asyncio

    state = tmp_path / "state"
    server = Server("--workers", "2", "--state-dir", str(state))
    try:
        first = server.wait_for(lambda x: x.get("event") == "worker.listening", 60)
        server.wait_for(lambda x: x.get("event") == "worker.listening" and x["pid"] != first["pid"], 60)
        body = json.dumps(DOC).encode()
        request = (f"POST /v1/screen HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body

        async def one_connection() -> bytes:  # opened together, as a client's connection pool does
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(request)
            status = await reader.readline()
            writer.close()
            return status

        async def burst() -> list[bytes]:
            return await asyncio.wait_for(asyncio.gather(*(one_connection() for _ in range(16))), 60)

        assert all(s.startswith(b"HTTP/1.1 200") for s in asyncio.run(burst()))
        served: dict[str, float] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(served) < 2 or sum(served.values()) < 16):
            time.sleep(0.5)  # each worker writes its counts about once a second
            served = {}
            for path in (state / "metrics").glob("*.json"):
                counts = json.loads(path.read_text(encoding="utf-8"))["counters"]
                served[path.stem] = sum(v for name, labels, v in counts
                                        if name == "perfrules_http_requests_total" and labels.get("route") == "/v1/screen")
        assert sorted(served) == sorted(str(pid) for pid in server.workers), served
        assert sorted(served.values()) == [8, 8], served
        assert server.stop() == 0
    finally:
        server.cleanup()


def test_a_second_serve_on_the_port_of_a_running_one_is_a_clear_error(tmp_path):
    """Another `perfrules serve` on the port of a running one must fail, not share the port and take some of
    its connections."""
    first = Server("--workers", "1")
    try:
        first.wait_for(lambda x: x.get("event") == "worker.listening", 60)
        out = subprocess.run([sys.executable, "-m", "perfrules", "serve", "--port", str(first.port), "--lang", "en"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and f"cannot listen on 127.0.0.1:{first.port}" in out.stderr, out.stderr[-500:]
        assert httpx.get(f"{first.url}/ready", timeout=10).status_code == 200
        assert first.stop() == 0
    finally:
        first.cleanup()
