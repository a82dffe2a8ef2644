"""Connections spread evenly over the workers: the supervisor accepts them and passes each to the next worker.

Neither way of letting the workers accept for themselves spreads a client's connection pool evenly. With one
listening socket shared by all, the first worker to wake took every connection of a burst (a client's eight
keep-alive connections all went to one worker in 7 trials of 8). With a socket of its own per worker
(SO_REUSEPORT) the kernel hashes each connection's addresses onto a socket, and eight connections split over
two workers 4/4 in only 6 trials of 20 (3/5 nine times, 2/6 three, 8/0 twice); the worker with six or eight
connections then answers them at twice to four times the latency. So the supervisor listens, accepts, and hands
each new connection to the workers in turn (as Node's cluster module does), passing the socket over a Unix
socket pair (SCM_RIGHTS). A worker acknowledges each connection it takes off the pair and serves it with
uvicorn's own HTTP protocol, as if it had accepted the connection itself.

uvicorn has no way to be given connections: ``DispatchedServer`` starts it without a listening socket and builds
each connection's protocol as ``uvicorn.Server.startup`` does.

uvicorn closes a connection left idle after a response (``timeout_keep_alive``), but not one that never sends a
request, nor one that sends its request head a byte at a time: each held a descriptor for as long as its client
liked, and enough of them ran a worker out of descriptors. ``with_head_deadline`` gives every request head a
deadline, as nginx's ``client_header_timeout`` does.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn

log = logging.getLogger("perfrules.service")

ACCEPTED_AT_ONCE = 32  # connections accepted before the workers' words are read again
READY, ACK = b"r", b"a"  # a worker's first word on its channel; its answer for each connection it takes off it
MAX_WAITING = 2048  # connections the supervisor keeps while no worker takes them (as a listen backlog would)
BEHIND_SECONDS = 0.5  # a worker that has not taken a connection after this long is passed over (it answers in ms)
BEHIND_CONNECTIONS = 8  # nor one with this many not yet taken
DRAIN_SECONDS = 5.0  # at shutdown, how long connections accepted but not yet passed on wait for a worker


def worker_channel() -> tuple[socket.socket, socket.socket]:
    """The supervisor's end and the worker's end of the pair a worker's connections come through."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


@dataclass(eq=False)
class _Worker:
    channel: socket.socket
    ready: bool = False  # it has started serving: none is passed to it before (its start-up takes seconds)
    untaken: collections.deque[float] = field(default_factory=collections.deque)  # when each unacknowledged one was passed

    def keeping_up(self, now: float) -> bool:
        """Few connections not yet taken, and none of them for long."""
        return not self.untaken or (len(self.untaken) < BEHIND_CONNECTIONS and now - self.untaken[0] < BEHIND_SECONDS)


class Dispatcher:
    """Accepts on the service's listening socket, in a thread of the supervisor, and passes each connection on.

    Each connection goes to the next worker in turn, passing over one that has fallen behind (it has not taken a
    connection passed to it ``BEHIND_SECONDS`` ago, or ``BEHIND_CONNECTIONS`` of them: stopped, or its event loop
    held up) while another keeps up, so that new clients do not wait on it. (Passing over any worker one or two
    connections behind split bursts unevenly, 7/9 and 6/10 of 16, as acknowledgements arrive a little apart.)
    When no worker can take a connection (the only one is being replaced), the connection is kept until one can,
    as a listen backlog would keep it. A worker is passed nothing before it says it is ready."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self._workers: list[_Worker | None] = []
        self._waiting: collections.deque[socket.socket] = collections.deque()
        self._lock = threading.Lock()
        self._turn = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="perfrules-dispatch", daemon=True)

    def set_channel(self, slot: int, channel: socket.socket) -> None:
        """The supervisor's end of worker ``slot``'s pair (a replaced worker's slot gets its successor's)."""
        channel.setblocking(False)
        with self._lock:
            self._workers.extend([None] * (slot + 1 - len(self._workers)))
            old, self._workers[slot] = self._workers[slot], _Worker(channel)
        if old is not None:
            old.channel.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and close the listening socket, so that new clients are refused at once; pass on the
        connections already accepted (for up to ``DRAIN_SECONDS``) for the workers to finish with theirs."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.listener.fileno() == -1:  # stopped before
            return
        self.listener.setblocking(False)
        while self._accept():  # connections the system had completed when the stop came are served too
            pass
        self.listener.close()
        deadline = time.monotonic() + DRAIN_SECONDS
        while self._waiting and time.monotonic() < deadline:
            self._pass_waiting()
            self._wait_for_acks(0.1)
        while self._waiting:
            self._waiting.popleft().close()

    def close(self) -> None:
        """Close the workers' channels (once they have stopped: a worker whose channel closes stops)."""
        with self._lock:
            for worker in self._workers:
                if worker is not None:
                    worker.channel.close()
            self._workers = []

    def _loop(self) -> None:
        self.listener.setblocking(False)
        while not self._stop.is_set():
            try:
                if self.listener in self._wait_for_acks(0.2, self.listener):
                    self._accept()
                self._pass_waiting()
            except Exception:  # never let one bad moment end the service's accepting
                log.exception("dispatch failed; continuing", extra={"event": "dispatch.error"})
                self._stop.wait(0.05)

    def _wait_for_acks(self, seconds: float, *also: socket.socket) -> list[Any]:
        """Wait up to ``seconds`` for a worker's word (or one of ``also``), read the workers' words; what is readable."""
        with self._lock:
            workers = [w for w in self._workers if w is not None]
        try:
            readable, _, _ = select.select([*also, *(w.channel for w in workers)], [], [], seconds)
        except (OSError, ValueError):  # a replaced worker's channel was closed meanwhile: look again
            return []
        for worker in workers:
            if worker.channel in readable:
                self._read_acks(worker)
        return readable

    def _accept(self) -> bool:
        """Accept up to ACCEPTED_AT_ONCE connections and pass them on; False when none was waiting."""
        for _ in range(ACCEPTED_AT_ONCE):
            try:
                connection, _ = self.listener.accept()
            except BlockingIOError:
                return False
            except OSError as exc:  # out of file descriptors, a connection reset before it was accepted
                log.warning("accept failed", extra={"event": "dispatch.accept-failed", "error": str(exc)})
                return False
            if len(self._waiting) >= MAX_WAITING:
                log.error("no worker takes connections; one refused", extra={"event": "dispatch.no-worker"})
                connection.close()
                continue
            self._waiting.append(connection)
            self._pass_waiting()
        return True

    def _read_acks(self, worker: _Worker) -> None:
        while True:
            try:
                message = worker.channel.recv(16)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            if not message:  # the worker is gone; its slot is refilled by the supervisor
                self._forget(worker)
                return
            if message == READY:
                worker.ready = True
            elif worker.untaken:
                worker.untaken.popleft()

    def _pass_waiting(self) -> None:
        full: set[_Worker] = set()
        while self._waiting:
            worker = self._next_worker(full)
            if worker is None:
                return
            connection = self._waiting[0]
            try:
                socket.send_fds(worker.channel, [b"c"], [connection.fileno()])
            except BlockingIOError:  # its channel is full: it takes nothing more now
                full.add(worker)
                continue
            except OSError:  # the worker is gone
                self._forget(worker)
                continue
            worker.untaken.append(time.monotonic())
            self._waiting.popleft().close()  # the worker has its own copy

    def _next_worker(self, full: set[_Worker]) -> _Worker | None:
        """The next ready worker in turn that keeps up; else the one with fewest connections not yet taken."""
        with self._lock:
            workers = list(self._workers)
        order = [workers[(self._turn + i) % len(workers)] for i in range(len(workers))]
        live = [w for w in order if w is not None and w.ready and w not in full]
        if not live:
            return None
        now = time.monotonic()
        chosen = next((w for w in live if w.keeping_up(now)), None) or min(live, key=lambda w: len(w.untaken))
        self._turn = (workers.index(chosen) + 1) % len(workers)
        return chosen

    def _forget(self, gone: _Worker) -> None:
        with self._lock:
            self._workers = [None if w is gone else w for w in self._workers]
        gone.channel.close()


def with_head_deadline(protocol_class: type[Any], seconds: float) -> type[Any]:
    """uvicorn's HTTP protocol class, closing a connection whose request head is not complete ``seconds`` after the
    connection opened or after its last response. A request being answered (however long it takes) is not cut:
    the deadline is armed again when it is answered."""

    class HeadDeadline(protocol_class):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(seconds, self._expire)

        def _expire(self) -> None:
            self._deadline = None
            # uvicorn's protocols keep the request being read or answered as ``cycle`` (None before the first)
            if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
                log.info("closed a connection that sent no complete request head in time",
                         extra={"event": "connection.head-timeout", "seconds": seconds})
                self.transport.close()

    return HeadDeadline


class DispatchedServer(uvicorn.Server):
    """A uvicorn server whose connections come from the supervisor over ``channel``, not from a socket it listens on;
    a request head must be complete within ``head_seconds`` of the connection or of the last response."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket, head_seconds: float,
                 on_ready: Callable[[], None] = lambda: None):
        super().__init__(config)
        self.channel = channel
        self.head_seconds = head_seconds
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan (the pack is loaded); no listening socket
        config = self.config
        protocol_class = with_head_deadline(config.http_protocol_class, self.head_seconds)

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return protocol_class(config=config, server_state=self.server_state,
                                  app_state=self.lifespan.state, _loop=_loop)

        self.servers = [_ChannelReceiver(self.channel, create_protocol, self)]  # type: ignore[list-item]
        self.on_ready()


class _ChannelReceiver:
    """Reads passed connections off the channel and connects each to a new protocol; closed like an asyncio server."""

    def __init__(self, channel: socket.socket, create_protocol: Callable[[], asyncio.Protocol], server: uvicorn.Server):
        self.channel, self.create_protocol, self.server = channel, create_protocol, server
        self.loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        self.loop.add_reader(channel.fileno(), self._receive)
        channel.send(READY)
        self._tasks: set[asyncio.Task[Any]] = set()

    def _receive(self) -> None:
        if not self._take_one():  # the supervisor is gone: no connection will come again
            log.error("the supervisor closed the channel; stopping", extra={"event": "dispatch.orphaned"})
            self.close()
            self.server.should_exit = True

    def _take_one(self) -> bool:
        """Take the next connection off the channel, if there is one; False when the supervisor is gone."""
        try:
            data, fds, flags, _ = socket.recv_fds(self.channel, 16, 1)  # one connection a message
        except BlockingIOError:
            return True
        except OSError:
            return False
        if flags & socket.MSG_CTRUNC:  # out of file descriptors: the kernel dropped the connection it carried
            log.error("a connection passed to this worker was lost: out of file descriptors",
                      extra={"event": "dispatch.connection-lost"})
        for fd in fds:
            try:
                self.channel.send(ACK)
            except OSError:
                pass  # the supervisor is gone: the end of the channel says so
            task = self.loop.create_task(self._connect(socket.socket(fileno=fd)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return bool(data or fds)

    async def _connect(self, connection: socket.socket) -> None:
        connection.setblocking(False)
        try:
            await self.loop.connect_accepted_socket(self.create_protocol, connection)
        except OSError:  # the client went away before it was served
            connection.close()

    def close(self) -> None:
        """Stop taking connections; those already passed are taken and served first (the supervisor stops passing
        before it stops the workers)."""
        if self.channel.fileno() != -1:
            self.loop.remove_reader(self.channel.fileno())
            while self._pending() and self._take_one():
                pass
            self.channel.close()

    def _pending(self) -> bool:
        readable, _, _ = select.select([self.channel], [], [], 0)
        return bool(readable)

    async def wait_closed(self) -> None:
        return None
