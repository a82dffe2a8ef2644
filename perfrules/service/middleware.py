"""ASGI middleware around every request: body size limit, bearer tokens, access log and request metrics.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so a streamed body is counted as it arrives and
a too-large one is refused with 413 before the application reads it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from perfrules.service.auth import TokenFile
from perfrules.service.metrics import Metrics
from perfrules.service.responses import ApiError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access = logging.getLogger("perfrules.access")
ROUTES = ("/v1/screen/batch", "/v1/screen", "/v1/rules", "/v1/admin/reload", "/health", "/ready", "/metrics", "/openapi.json")


def _lang(scope: Scope) -> str:
    return "en" if b"lang=en" in scope.get("query_string", b"") else "zh"


SHUTTING_DOWN = ApiError(503, "service.shutting-down", "服务正在停止，请求未完成；请重试。",
                         "the service is stopping and the request was not finished; retry it.")


async def _send_error(error: ApiError, scope: Scope, send: Send, revision: str | None) -> None:
    body = json.dumps(error.body(_lang(scope)), ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    if revision:
        headers.append((b"x-perfrules-pack-revision", revision.encode()))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ServiceMiddleware:
    """Limits, auth, access log and metrics for one worker's application."""

    def __init__(self, app: ASGIApp, *, tokens: TokenFile | None, max_body: int, metrics: Metrics,
                 revision: Callable[[], str | None]):
        self.app, self.tokens, self.max_body, self.metrics, self.revision = app, tokens, max_body, metrics, revision

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        status: dict[str, Any] = {"code": 500, "decision": None, "started": False}

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                headers = list(message.get("headers", []))
                names = {k for k, _ in headers}
                for k, v in headers:
                    if k == b"x-decision-id":
                        status["decision"] = v.decode()
                # A decision names the revision that made it itself (a reload may land while its log line syncs).
                revision = self.revision()
                if revision and b"x-perfrules-pack-revision" not in names:
                    headers.append((b"x-perfrules-pack-revision", revision.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            error = self._refused(scope)
            if error is None and scope.get("method") in ("POST", "PUT", "PATCH"):
                body, error = await self._read_body(scope, receive)
                if error is None:
                    receive = _replay(body, receive)
            if error is not None:
                self.metrics.inc("perfrules_errors_total", code=error.code)
                await _send_error(error, scope, send_logged, self.revision())
            else:
                await self.app(scope, receive, send_logged)
        except asyncio.CancelledError:
            # uvicorn cancels what is still running when --graceful-timeout ends (a body still arriving, a
            # screening not finished) and would answer a bare 500: the client is told the service is stopping.
            if status["started"]:
                raise
            await _send_error(SHUTTING_DOWN, scope, send_logged, self.revision())
        finally:
            seconds = time.perf_counter() - started
            route = next((r for r in ROUTES if path == r), "other")
            self.metrics.inc("perfrules_http_requests_total", method=scope.get("method", ""), route=route, status=str(status["code"]))
            self.metrics.observe("perfrules_http_request_duration_seconds", seconds, route=route)
            client = scope.get("client")
            access.info("%s %s %s", scope.get("method"), path, status["code"], extra={
                "event": "access", "method": scope.get("method"), "path": path,
                "query": scope.get("query_string", b"").decode("latin-1"), "status": status["code"],
                "ms": round(seconds * 1000, 2), "client": f"{client[0]}:{client[1]}" if client else None,
                "decision_id": status["decision"]})

    def _refused(self, scope: Scope) -> ApiError | None:
        path = scope.get("path", "")
        if self.tokens is None or not path.startswith("/v1"):
            return None
        header = dict(scope.get("headers", [])).get(b"authorization")
        role = self.tokens.current().role_of(header.decode("latin-1") if header else None)
        if role is None:
            return ApiError(401, "auth.token", "需要有效的令牌：请求头 Authorization: Bearer <令牌>。",
                            "a valid token is required: send 'Authorization: Bearer <token>'.",
                            headers={"WWW-Authenticate": 'Bearer realm="perfrules"'})
        if path.startswith("/v1/admin") and role != "admin":
            return ApiError(403, "auth.admin", "此操作需要管理令牌。", "this call needs an admin token.")
        return None

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes, ApiError | None]:
        too_large = ApiError(413, "request.too-large", f"请求体超过上限 {self.max_body} 字节。",
                             f"the request body is larger than the limit of {self.max_body} bytes.")
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return b"", too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), None


def _replay(body: bytes, original: Receive) -> Receive:
    """The body already read, then the connection's own messages (a disconnect, when it comes)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive
