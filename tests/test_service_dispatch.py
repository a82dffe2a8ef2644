"""The supervisor's dispatch of connections (perfrules.service.dispatch), against the real `perfrules serve` on a
free loopback port: no file descriptor leaks over thousands of connections, idle and half-sent connections do not
hold up other clients, connections spread evenly over 1 and 3 workers, pipelined keep-alive requests, bodies at
the --max-body limit, IPv6 loopback, and what a client meets while a worker is replaced, stuck, or stopping.
Each server stops by itself (SIGTERM, exit 0); the cleanup kills it only if a test failed half-way."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_service_process import DOC, Server, running

from perfrules.evaluation.durable import available

pytestmark = [pytest.mark.skipif(not available()[0], reason=available()[1]),
              pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")]
httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

BODY = json.dumps(DOC).encode()


def screen_request(body: bytes = BODY, extra: str = "") -> bytes:
    return (f"POST /v1/screen HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes]:
    """One HTTP/1.1 response (status, body) off ``sock``; bytes past it stay in ``buffer`` for the next one."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {bytes(buffer)!r}")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(v) for k, _, v in (x.partition(": ") for x in lines[1:]) if k.lower() == "content-length")
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        rest += chunk
    buffer[:] = rest[length:]
    return int(lines[0].split()[1]), rest[:length]


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def served_per_worker(state: Path, route: str, total: int) -> dict[str, float]:
    """Requests to ``route`` per worker pid, from the metrics files the workers write about once a second."""
    served: dict[str, float] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.5)
        served = {}
        for path in (state / "metrics").glob("*.json"):
            try:
                counts = json.loads(path.read_text(encoding="utf-8"))["counters"]
            except ValueError:  # being replaced this instant
                continue
            served[path.stem] = sum(v for name, labels, v in counts
                                    if name == "perfrules_http_requests_total" and labels.get("route") == route)
        if sum(served.values()) >= total:
            break
    return served


def wait_all_listening(server: Server) -> None:
    deadline = time.monotonic() + 60
    while {x["pid"] for x in server.lines if x.get("event") == "worker.listening"} < set(server.workers):
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.1)


def test_thousands_of_short_connections_leave_no_file_descriptor_open(tmp_path):
    """Connect-request-close, connect-close and connect-half-a-request-close, 1000 each: the supervisor's
    accept-and-pass and the workers' receive close every descriptor they were given."""
    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"))
    try:
        wait_all_listening(server)
        for _ in range(20):  # whatever a process opens once (its metrics file, the log) is open before the baseline
            assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        time.sleep(1.5)
        pids = [server.proc.pid, *server.workers]
        baseline = {pid: open_fds(pid) for pid in pids}
        statuses = []
        for i in range(3000):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                if i % 3 == 0:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    statuses.append(read_response(s, bytearray())[0])
                elif i % 3 == 1:
                    s.sendall(b"POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"pro")
        assert statuses == [200] * 1000
        deadline = time.monotonic() + 15
        while (now := {pid: open_fds(pid) for pid in pids}) != baseline:
            assert time.monotonic() < deadline, f"open descriptors {now}, before {baseline}"
            time.sleep(0.2)
        assert httpx.post(f"{server.url}/v1/screen", json=DOC, timeout=10).status_code == 200
        assert server.stop() == 0
    finally:
        server.cleanup()


def test_idle_and_half_sent_connections_do_not_hold_up_other_clients_of_the_same_worker(tmp_path):
    server = Server("--workers", "1", "--state-dir", str(tmp_path / "state"))
    hostile: list[socket.socket] = []
    try:
        for i in range(60):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            if i % 3 == 1:  # slowloris: half the headers
                s.sendall(b"POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Ty")
            elif i % 3 == 2:  # the headers, and a tenth of the body they announce
                s.sendall(screen_request()[: -len(BODY) * 9 // 10])
            hostile.append(s)
        time.sleep(0.5)
        started = time.monotonic()
        for _ in range(10):
            r = httpx.post(f"{server.url}/v1/screen", json=DOC, timeout=10)
            assert r.status_code == 200 and r.json()["verdict"] == "reject"
        assert time.monotonic() - started < 10
        for s in hostile[2::3]:  # the slow bodies are still served once they arrive
            s.sendall(BODY[len(BODY) // 10:])
            assert read_response(s, bytearray())[0] == 200
        assert server.stop() == 0
    finally:
        for s in hostile:
            s.close()
        server.cleanup()


@pytest.mark.parametrize("workers", [1, 3])
def test_connections_are_served_and_spread_evenly_over_the_workers(tmp_path, workers):
    state = tmp_path / "state"
    server = Server("--workers", str(workers), "--state-dir", str(state))
    try:
        wait_all_listening(server)
        for _ in range(10 * workers):  # a new connection each
            r = httpx.post(f"{server.url}/v1/screen", json=DOC, timeout=30)
            assert r.status_code == 200, r.text
        served = served_per_worker(state, "/v1/screen", 10 * workers)
        assert sorted(served) == sorted(str(pid) for pid in server.workers), served
        assert list(served.values()) == [10] * workers, served
        assert server.stop() == 0
    finally:
        server.cleanup()


def test_pipelined_keep_alive_requests_are_answered_in_order(tmp_path):
    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"))
    try:
        wrong = dict(DOC, projects="not a list")
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + screen_request() + screen_request(json.dumps(wrong).encode())
                      + b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n" + screen_request())
            buffer = bytearray()
            answers = [read_response(s, buffer) for _ in range(5)]
            assert [status for status, _ in answers] == [200, 200, 422, 200, 200]
            assert json.loads(answers[1][1])["verdict"] == json.loads(answers[4][1])["verdict"] == "reject"
            assert json.loads(answers[3][1])["pack"]["revision"] == json.loads(answers[1][1])["pack"]["revision"]
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # the same connection, later
            assert read_response(s, buffer)[0] == 200
            assert s.recv(1) == b""
        assert server.stop() == 0
    finally:
        server.cleanup()


def test_bodies_at_the_limit_are_screened_and_one_byte_more_is_413(tmp_path):
    limit = 200_000
    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"), "--max-body", str(limit))
    try:
        at_limit = BODY[:-1] + b" " * (limit - len(BODY)) + b"}"
        assert len(at_limit) == limit
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            buffer = bytearray()
            s.sendall(screen_request(at_limit))
            status, body = read_response(s, buffer)
            assert status == 200 and json.loads(body)["verdict"] == "reject"
            s.sendall(screen_request(at_limit + b" "))
            status, body = read_response(s, buffer)
            assert status == 413 and json.loads(body)["error"]["code"]
        # chunked, no length announced: the limit holds as the body arrives
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (at_limit[:100_000], at_limit[100_000:] + b" ")) + b"0\r\n\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            s.sendall(b"POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
            assert read_response(s, bytearray())[0] == 413
        assert httpx.post(f"{server.url}/v1/screen", content=at_limit, headers={"Content-Type": "application/json"}, timeout=30).status_code == 200
        assert server.stop() == 0
    finally:
        server.cleanup()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "perfrules", "serve", "--host", "::1", "--port", "0", "--workers", "2",
                             "--state-dir", str(tmp_path / "state")], stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        assert proc.stderr is not None
        listening = next(x for x in map(json.loads, proc.stderr) if x.get("event") == "listening")
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
        assert listening["host"] == "::1"
        url = f"http://[::1]:{listening['port']}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "not ready on ::1"
            time.sleep(0.2)
        for _ in range(4):
            r = httpx.post(f"{url}/v1/screen", json=DOC, timeout=30)
            assert r.status_code == 200 and r.json()["verdict"] == "reject"
        with pytest.raises(httpx.ConnectError):  # ::1 only, not 127.0.0.1
            httpx.get(f"http://127.0.0.1:{listening['port']}/health", timeout=5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_with_one_worker_connections_made_while_it_is_replaced_wait_for_the_new_worker(tmp_path):
    server = Server("--workers", "1", "--state-dir", str(tmp_path / "state"))
    outcomes: list[str] = []
    try:
        (victim,) = server.workers
        os.kill(victim, signal.SIGKILL)
        started = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:  # a new connection each, as a client retrying does
                outcomes.append(str(httpx.get(f"{server.url}/health", timeout=30).status_code))
            except httpx.TransportError as exc:
                outcomes.append(type(exc).__name__)
            started = started or next((x for x in server.lines if x.get("event") == "worker.started"), None)
            if started and outcomes[-1] == "200":
                break
            time.sleep(0.05)
        assert started and started["replaces"] == victim
        no_worker = sum(x.get("event") == "dispatch.no-worker" for x in server.lines)
        assert outcomes == ["200"] * len(outcomes), f"{outcomes}; dispatch.no-worker logged {no_worker} times"
        assert server.stop() == 0
    finally:
        server.cleanup()


def test_a_stuck_worker_does_not_get_new_connections_while_another_is_free(tmp_path):
    """The first connection passed to a worker that has stopped reading waits for it (nothing can know it is stuck
    before); it must be the only one."""
    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"))
    stuck = None
    outcomes: list[str] = []
    try:
        wait_all_listening(server)
        stuck = server.workers[0]
        os.kill(stuck, signal.SIGSTOP)  # a worker hung in a request: its event loop no longer reads the channel
        for _ in range(8):
            try:
                outcomes.append(str(httpx.post(f"{server.url}/v1/screen", json=DOC, timeout=2).status_code))
            except httpx.TransportError as exc:
                outcomes.append(type(exc).__name__)
        os.kill(stuck, signal.SIGCONT)
        stuck = None
        assert outcomes.count("200") >= 7, outcomes
        assert server.stop() == 0
    finally:
        if stuck is not None:
            os.kill(stuck, signal.SIGCONT)
        server.cleanup()


def test_sigterm_with_hundreds_of_requests_waiting_answers_every_one_and_exits_0(tmp_path):
    """400 connections opened together, each with its request sent, then SIGTERM: each gets its answer."""
    import asyncio

    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"), "--decision-log", str(tmp_path / "log"),
                    "--graceful-timeout", "20")
    try:
        wait_all_listening(server)

        async def run() -> list[bytes]:
            async def send() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(screen_request())
                await writer.drain()
                return reader, writer

            connections = await asyncio.wait_for(asyncio.gather(*(send() for _ in range(400))), 30)
            server.proc.send_signal(signal.SIGTERM)

            async def answer(reader: asyncio.StreamReader) -> bytes:
                try:
                    return await reader.readline() or b"closed"
                except OSError as exc:
                    return type(exc).__name__.encode()

            return await asyncio.wait_for(asyncio.gather(*(answer(r) for r, _ in connections)), 60)

        statuses = asyncio.run(run())
        assert [s for s in statuses if not s.startswith(b"HTTP/1.1 200")] == []
        assert server.proc.wait(60) == 0
        logged = [x for f in (tmp_path / "log").glob("decisions-*.jsonl") for x in f.read_text(encoding="utf-8").splitlines()]
        assert len(logged) == 400
    finally:
        server.cleanup()


def test_after_sigterm_a_new_connection_is_refused_at_once(tmp_path):
    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"), "--graceful-timeout", "20",
                    "--max-batch", "5000", "--max-body", "50000000")
    answered: dict[str, object] = {}
    try:
        wait_all_listening(server)
        items = {"items": [{"id": str(i), "submission": DOC} for i in range(1200)]}  # a second or two of screening

        def long_request() -> None:
            r = httpx.post(f"{server.url}/v1/screen/batch", json=items, timeout=60)
            answered["status"] = r.status_code

        in_flight = threading.Thread(target=long_request)
        in_flight.start()
        time.sleep(1.0)
        server.proc.send_signal(signal.SIGTERM)
        server.wait_for(lambda x: x.get("event") == "stopping", 10)
        started = time.monotonic()
        try:
            httpx.get(f"{server.url}/health", timeout=30)
            outcome = "answered"
        except httpx.TransportError as exc:
            outcome = type(exc).__name__
        waited = time.monotonic() - started
        in_flight.join(60)
        assert answered == {"status": 200}  # the request in flight is finished
        assert server.proc.wait(60) == 0
        assert (outcome, waited < 0.5) == ("ConnectError", True), (outcome, round(waited, 2))
    finally:
        server.cleanup()


def test_a_worker_out_of_file_descriptors_does_not_lose_connections_the_other_could_serve(tmp_path):
    import resource

    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"))
    idle: list[socket.socket] = []
    try:
        wait_all_listening(server)
        full = server.workers[0]
        limit = open_fds(full) + 20
        resource.prlimit(full, resource.RLIMIT_NOFILE, (limit, limit))
        # idle keep-alive connections (uvicorn never closes one that sent nothing) fill its descriptor table
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(80)]
        deadline = time.monotonic() + 10
        while open_fds(full) < limit:
            assert time.monotonic() < deadline, (open_fds(full), limit)
            time.sleep(0.1)
        outcomes = []
        for _ in range(10):
            try:
                outcomes.append(str(httpx.get(f"{server.url}/health", timeout=5).status_code))
            except httpx.TransportError as exc:
                outcomes.append(type(exc).__name__)
        for s in idle:
            s.close()
        assert outcomes == ["200"] * 10, outcomes
        assert server.stop() == 0
    finally:
        for s in idle:
            s.close()
        server.cleanup()


def _load_until(server: Server, stop: threading.Event, record: list[tuple[float, float, str]]) -> None:
    """Requests on a new connection each (a client's pool after a reset) until ``stop``: (start, end, outcome)."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            outcome = str(httpx.post(f"{server.url}/v1/screen", json=DOC, timeout=30).status_code)
        except httpx.TransportError as exc:
            outcome = type(exc).__name__
        record.append((started, time.monotonic(), outcome))


def test_connections_made_while_a_worker_is_replaced_are_served_by_the_other(tmp_path):
    """Six clients on new connections, one of two workers SIGKILLed: only requests already passed to it fail (at most
    one per client); every connection made after the kill is answered."""
    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"))
    record: list[tuple[float, float, str]] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_load_until, args=(server, stop, record), daemon=True) for _ in range(6)]
    try:
        wait_all_listening(server)
        for t in threads:
            t.start()
        time.sleep(1.0)
        victim = server.workers[0]
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        replacement = server.wait_for(lambda x: x.get("event") == "worker.started" and x.get("replaces") == victim, 30)["worker"]
        server.wait_for(lambda x: x.get("event") == "worker.listening" and x.get("pid") == replacement, 60)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(30)
        failed = [(round(s - killed, 3), outcome) for s, _, outcome in record if outcome != "200"]
        after_kill = [outcome for s, _, outcome in record if s > killed + 0.2]
        assert len(failed) <= 6 and all(s < 0.2 for s, _ in failed), failed
        assert len(after_kill) > 20 and set(after_kill) == {"200"}
        assert server.stop() == 0
    finally:
        stop.set()
        server.cleanup()


def test_connections_do_not_wait_for_a_replacement_worker_to_start(tmp_path):
    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"))
    latencies: list[tuple[str, float]] = []
    try:
        wait_all_listening(server)
        victim = server.workers[0]
        os.kill(victim, signal.SIGKILL)
        replacement = server.wait_for(lambda x: x.get("event") == "worker.started" and x.get("replaces") == victim, 30)["worker"]
        while not any(x.get("event") == "worker.listening" and x.get("pid") == replacement for x in server.lines):
            started = time.monotonic()  # one at a time: the survivor alone answers each in milliseconds
            latencies.append((str(httpx.get(f"{server.url}/health", timeout=30).status_code), time.monotonic() - started))
        slow = [round(seconds, 2) for _, seconds in latencies if seconds > 0.75]
        assert {status for status, _ in latencies} == {"200"} and slow == [], slow
        assert server.stop() == 0
    finally:
        server.cleanup()


def test_a_body_still_arriving_when_the_graceful_timeout_ends_is_answered_503_not_500(tmp_path):
    """uvicorn cancels what is still running when --graceful-timeout ends, and answered a bare 500 (text/plain, a
    traceback in the log); the client is told the service is stopping."""
    server = Server("--workers", "1", "--state-dir", str(tmp_path / "state"), "--graceful-timeout", "2")
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        slow.sendall(screen_request()[:-len(BODY) // 2])  # the headers and half the body, then nothing
        time.sleep(0.5)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
        assert idle.recv(100) == b""  # a connection that sent nothing is closed
        answer = slow.recv(65536)
        server._reader.join(10)
        tracebacks = [x["message"] for x in server.lines if x.get("traceback")]
        assert answer.startswith(b"HTTP/1.1 503") and tracebacks == [], (answer[:120], tracebacks)
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "service.shutting-down"
    finally:
        slow.close()
        idle.close()
        server.cleanup()


def test_a_request_in_flight_when_the_supervisor_is_killed_is_answered_and_the_workers_stop(tmp_path):
    server = Server("--workers", "2", "--state-dir", str(tmp_path / "state"), "--max-batch", "5000", "--max-body", "50000000")
    answered: dict[str, object] = {}
    try:
        wait_all_listening(server)
        items = {"items": [{"id": str(i), "submission": DOC} for i in range(1500)]}  # a second or two of screening

        def long_request() -> None:
            r = httpx.post(f"{server.url}/v1/screen/batch", json=items, timeout=60)
            answered["results"] = [x["status"] for x in r.json()["results"]]

        in_flight = threading.Thread(target=long_request)
        in_flight.start()
        time.sleep(0.8)
        server.proc.kill()
        in_flight.join(60)
        assert answered == {"results": [200] * 1500}
        deadline = time.monotonic() + 30
        while any(map(running, server.workers)):
            assert time.monotonic() < deadline, "the workers did not stop"
            time.sleep(0.1)
    finally:
        server.cleanup()
