"""Connections spread evenly over the workers: the supervisor accepts them and passes each to the next worker.

Neither way of letting the workers accept for themselves spreads a client's connection pool evenly. With one
listening socket shared by all, the first worker to wake took every connection of a burst (a client's eight
keep-alive connections all went to one worker in 7 trials of 8). With a socket of its own per worker
(SO_REUSEPORT) the kernel hashes each connection's addresses onto a socket, and eight connections split over
two workers 4/4 in only 6 trials of 20 (3/5 nine times, 2/6 three, 8/0 twice); the worker with six or eight
connections then answers them at twice to four times the latency. So the supervisor listens, accepts, and hands
each new connection to the workers in turn (as Node's cluster module does), passing the socket over a Unix
socket pair (SCM_RIGHTS). A worker serves what it is given with uvicorn's own HTTP protocol, as if it had
accepted the connection itself.

uvicorn has no way to be given connections: ``DispatchedServer`` starts it without a listening socket and builds
each connection's protocol as ``uvicorn.Server.startup`` does.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

log = logging.getLogger("perfrules.service")

MAX_FDS = 32  # connections read from the supervisor in one go


def worker_channel() -> tuple[socket.socket, socket.socket]:
    """The supervisor's end and the worker's end of the pair a worker's connections come through."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


class Dispatcher:
    """Accepts on the service's listening socket, in a thread of the supervisor, and passes each connection on."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self._channels: list[socket.socket | None] = []
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="perfrules-dispatch", daemon=True)

    def set_channel(self, slot: int, channel: socket.socket) -> None:
        """The supervisor's end of worker ``slot``'s pair (a replaced worker's slot gets its successor's)."""
        with self._lock:
            self._channels.extend([None] * (slot + 1 - len(self._channels)))
            old, self._channels[slot] = self._channels[slot], channel
        channel.setblocking(False)  # a worker that does not read (stuck, or still starting with a full buffer) is skipped
        if old is not None:
            old.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting (connections not yet accepted are refused when the listening socket closes)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def close(self) -> None:
        """Close the workers' channels (once they have stopped: a worker whose channel closes stops)."""
        with self._lock:
            for channel in self._channels:
                if channel is not None:
                    channel.close()
            self._channels = []

    def _accept_loop(self) -> None:
        self.listener.settimeout(0.2)  # to see the stop flag
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:  # out of file descriptors, a connection reset before it was accepted
                log.warning("accept failed", extra={"event": "dispatch.accept-failed", "error": str(exc)})
                self._stop.wait(0.05)
                continue
            with connection:
                self._pass_on(connection)

    def _pass_on(self, connection: socket.socket) -> None:
        """Give ``connection`` to the next worker that takes it; close it if none does."""
        with self._lock:
            channels = list(self._channels)
        start = next(self._turn)
        for i in range(len(channels)):
            channel = channels[(start + i) % len(channels)]
            if channel is None:
                continue
            try:
                socket.send_fds(channel, [b"c"], [connection.fileno()])
                return
            except OSError:  # that worker is gone or not reading: the next one
                continue
        log.error("no worker took a connection", extra={"event": "dispatch.no-worker"})


class DispatchedServer(uvicorn.Server):
    """A uvicorn server whose connections come from the supervisor over ``channel``, not from a socket it listens on."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket, on_ready: Callable[[], None] = lambda: None):
        super().__init__(config)
        self.channel = channel
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan (the pack is loaded); no listening socket
        config = self.config

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(config=config, server_state=self.server_state,  # type: ignore[call-arg]
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
        self._tasks: set[asyncio.Task[Any]] = set()

    def _receive(self) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(self.channel, 16, MAX_FDS)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        for fd in fds:
            task = self.loop.create_task(self._connect(socket.socket(fileno=fd)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if not data and not fds:  # the supervisor is gone: no connection will come again
            log.error("the supervisor closed the channel; stopping", extra={"event": "dispatch.orphaned"})
            self.close()
            self.server.should_exit = True

    async def _connect(self, connection: socket.socket) -> None:
        connection.setblocking(False)
        try:
            await self.loop.connect_accepted_socket(self.create_protocol, connection)
        except OSError:  # the client went away before it was served
            connection.close()

    def close(self) -> None:
        if self.channel.fileno() != -1:
            self.loop.remove_reader(self.channel.fileno())
            self.channel.close()

    async def wait_closed(self) -> None:
        return None
