"""The ``perfrules serve`` process: publishes the pack, listens on the port, runs and watches the worker processes.

Workers are separate processes (durable-rules holds the GIL), each a uvicorn server with its own compiled
pack and engine. The supervisor listens on the service's port and passes each new connection to the workers
in turn (``perfrules.service.dispatch``: letting the workers accept for themselves spread a client's
connection pool unevenly); it serves no request itself:

- SIGHUP publishes the rules directory again (the same check as ``POST /v1/admin/reload``); every
  worker follows the published record, and a failing pack is logged with its problems and ignored.
- SIGTERM or SIGINT stops the service gracefully: the supervisor closes the port (new clients are refused
  at once) after passing on the connections already made; each worker finishes its requests in flight (up
  to ``--graceful-timeout``), writes its last metrics and closes its decision log.
- A worker that dies is replaced.

Workers run in their own process group, so a Ctrl-C in the terminal reaches only the supervisor,
which then stops them once (a second signal would make uvicorn skip the graceful wait).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn

from perfrules.errors import RulePackError
from perfrules.service import logging_json
from perfrules.service.config import ServiceConfig
from perfrules.service.dispatch import DispatchedServer, Dispatcher, worker_channel
from perfrules.service.revision import publish, publish_within, read_current

log = logging.getLogger("perfrules.service")


def listening_socket(host: str, port: int) -> socket.socket:
    """The service's listening socket on ``host``:``port`` (``0``: a free port)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def run_worker(config: ServiceConfig, channel: socket.socket, graceful_timeout: float) -> None:
    """One worker process: the application, serving the connections the supervisor passes over ``channel``, until SIGTERM."""
    from perfrules.service.app import create_app

    os.setpgrp()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloads come through the published record, not signals
    app = create_app(config)
    service = app.app.state.service
    logging_json.configure(service.revision)
    server = DispatchedServer(uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, server_header=False,
                                             timeout_graceful_shutdown=int(graceful_timeout)), channel,
                              config.header_timeout_seconds, on_ready=lambda: log.info("worker listening", extra={"event": "worker.listening"}))
    server.run()


BACKLOG = 2048


class Supervisor:
    """Starts, watches and stops the workers; handles SIGHUP (reload) and SIGTERM/SIGINT (graceful stop)."""

    def __init__(self, config: ServiceConfig, host: str, port: int, workers: int, graceful_timeout: float = 30.0,
                 remove_state: bool = False):
        self.config, self.host, self.port, self.count = config, host, port, workers
        self.graceful_timeout = graceful_timeout
        self.remove_state = remove_state
        self.workers: list[BaseProcess] = []
        self._reload = False
        self._stop = False
        self._context = multiprocessing.get_context("spawn")
        self.dispatcher: Dispatcher | None = None

    def revision(self) -> str | None:
        current = read_current(self.config.state_dir)
        return current.revision if current else None

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; 0 then. A pack that fails its checks, or a port in use, raises (exit 2)."""
        try:
            return self._run()
        finally:
            if self.remove_state:
                shutil.rmtree(self.config.state_dir, ignore_errors=True)

    def _run(self) -> int:
        logging_json.configure(self.revision)
        outcome = publish(self.config.rules_dir, self.config.state_dir)
        if not outcome.accepted:
            raise RulePackError(outcome.problems)
        listener = self._listen()
        port = listener.getsockname()[1]
        self.dispatcher = Dispatcher(listener)
        signal.signal(signal.SIGHUP, self._on_hup)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        try:
            self.workers = [self._start(slot) for slot in range(self.count)]
            self.dispatcher.start()
            log.info("listening", extra={"event": "listening", "host": self.host, "port": port,
                                         "workers": [w.pid for w in self.workers]})
            while not self._stop:
                time.sleep(0.1)
                if self._reload:
                    self._reload = False
                    self._publish()
                self._replace_dead()
            self.dispatcher.stop()  # new connections refused, then the workers finish theirs
            self._stop_workers()
        finally:
            self.dispatcher.stop()
            self.dispatcher.close()
        log.info("stopped", extra={"event": "stopped"})
        return 0

    def _listen(self) -> socket.socket:
        try:
            return listening_socket(self.host, self.port)
        except OSError as exc:
            from perfrules.errors import Problem, UsageError
            raise UsageError([Problem("serve.bind", f"无法监听 {self.host}:{self.port}：{exc.strerror}。",
                                      f"cannot listen on {self.host}:{self.port}: {exc.strerror}.")]) from exc

    def _start(self, slot: int) -> BaseProcess:
        ours, theirs = worker_channel()
        process = self._context.Process(target=run_worker, args=(self.config, theirs, self.graceful_timeout),
                                        name="perfrules-worker")
        try:
            process.start()
        finally:
            theirs.close()
        assert self.dispatcher is not None
        self.dispatcher.set_channel(slot, ours)
        return process

    def _replace_dead(self) -> None:
        for i, worker in enumerate(self.workers):
            if not worker.is_alive() and not self._stop:
                log.error("worker exited; starting another", extra={"event": "worker.exited", "worker": worker.pid,
                                                                   "exitcode": worker.exitcode})
                time.sleep(0.5)  # a worker that cannot start at all must not spin the machine
                self.workers[i] = self._start(i)
                log.info("worker started", extra={"event": "worker.started", "worker": self.workers[i].pid, "replaces": worker.pid})

    def _publish(self) -> None:
        try:
            outcome = publish_within(self.config.rules_dir, self.config.state_dir, self.config.reload_timeout_seconds)
        except Exception:  # the supervisor outlives any reload: the workers keep serving the previous revision
            log.exception("reload failed; the previous revision keeps serving", extra={"event": "reload.failed", "signal": "SIGHUP"})
            return
        if outcome.accepted:
            log.info("reload %s", "accepted" if outcome.changed else "unchanged",
                     extra={"event": "reload.accepted" if outcome.changed else "reload.unchanged", "signal": "SIGHUP"})
        else:
            log.warning("reload rejected; the previous revision keeps serving",
                        extra={"event": "reload.rejected", "signal": "SIGHUP", "checked_revision": outcome.revision,
                               "timed_out": outcome.timed_out, "problems": [p.text("en") for p in outcome.problems]})

    def _stop_workers(self) -> None:
        log.info("stopping workers", extra={"event": "stopping"})
        for worker in self.workers:
            if worker.is_alive() and worker.pid:
                os.kill(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.graceful_timeout + 10
        for worker in self.workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                log.error("worker did not stop in time; killing it", extra={"event": "worker.killed", "worker": worker.pid})
                worker.kill()
                worker.join(5)

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self._reload = True

    def _on_stop(self, signum: int, frame: FrameType | None) -> Any:
        self._stop = True
