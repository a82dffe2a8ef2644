"""A request head must arrive in time (``perfrules serve --header-timeout``), against the real server on a free
loopback port: a connection that sends nothing, or sends its head a byte at a time, is closed; a request being
answered, or a body still arriving, is not cut, however long it takes. (uvicorn alone kept both kinds of
connection open for as long as the client liked, each holding one of the worker's file descriptors.)"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator

import pytest
from test_service_dispatch import BODY, read_response, screen_request
from test_service_process import DOC, Server

from perfrules.evaluation.durable import available

pytestmark = [pytest.mark.skipif(not available()[0], reason=available()[1]),
              pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")]
pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    state = tmp_path_factory.mktemp("state")
    server = Server("--workers", "1", "--state-dir", str(state), "--header-timeout", str(TIMEOUT), "--max-batch", "1000",
                    "--max-body", str(1 << 24))
    try:
        yield server
        assert server.stop() == 0
    finally:
        server.cleanup()


def seconds_until_closed(sock: socket.socket, trickle: bytes = b"") -> float:
    """Seconds until the server closes ``sock``, sending ``trickle`` a byte every 0.1 s meanwhile."""
    started = time.monotonic()
    sock.settimeout(0.1)
    for i in range(300):
        if i < len(trickle):
            try:
                sock.sendall(trickle[i:i + 1])
            except OSError:  # reset: closed
                break
        try:
            if sock.recv(100) == b"":
                break
        except TimeoutError:
            continue
        except OSError:
            break
    return time.monotonic() - started


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        waited = seconds_until_closed(idle)
    assert TIMEOUT * 0.9 <= waited < TIMEOUT + 3, waited
    assert server.wait_for(lambda x: x.get("event") == "connection.head-timeout", 10)["seconds"] == TIMEOUT


def test_a_request_head_sent_a_byte_at_a_time_is_closed(server):
    head = screen_request()[:-len(BODY)]  # a byte every 0.1 s: ~20 s of head, far past the deadline
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow:
        waited = seconds_until_closed(slow, head)
    assert waited < TIMEOUT + 3, waited


def test_a_connection_idle_after_a_response_gets_the_deadline_again(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(screen_request())
        status, body = read_response(client, bytearray())
        assert status == 200 and json.loads(body)["verdict"] == "reject"
        client.sendall(screen_request()[:20])  # the start of a second request, then nothing
        waited = seconds_until_closed(client)
    assert waited < TIMEOUT + 3, waited


def test_a_request_answered_for_longer_than_the_deadline_is_not_cut(server):
    items = [{"id": i, "submission": DOC} for i in range(1000)]  # about a second or more of screening
    body = json.dumps({"items": items}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=120) as client:
        started = time.monotonic()
        client.sendall(f"POST /v1/screen/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        buffer = bytearray()
        status, answer = read_response(client, buffer)
        took = time.monotonic() - started
        assert status == 200 and [r["status"] for r in json.loads(answer)["results"]] == [200] * 1000
        client.sendall(screen_request())  # the same connection serves the next request
        assert read_response(client, buffer)[0] == 200
    assert took > TIMEOUT, f"the batch took {took:.2f} s: too quick to show that a long answer is not cut"


def test_a_body_still_arriving_after_the_deadline_is_served(server):
    request = screen_request()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(request[:-len(BODY) // 2])  # the head and half the body
        time.sleep(TIMEOUT + 1)
        client.sendall(request[-len(BODY) // 2:])
        status, body = read_response(client, bytearray())
    assert status == 200 and json.loads(body)["verdict"] == "reject"
