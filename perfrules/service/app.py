"""The FastAPI application of one worker: decisions, rules, reload, health, metrics and the OpenAPI document.

Handlers parse the body themselves (``json.loads``, then the submission schema) so that every
problem is answered in one shape with a JSON pointer; ``ApiError`` is turned into a response in
one place, and anything unexpected into a 500 that carries no detail (the traceback goes to the
server log with the request's path).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response

from perfrules.errors import PerfrulesError
from perfrules.rulepack import catalogue
from perfrules.service import openapi
from perfrules.service.auth import TokenFile
from perfrules.service.config import ServiceConfig
from perfrules.service.decision_log import DecisionLog
from perfrules.service.decisions import Decision, ScreenOptions, UnknownProfile, decide, input_problem_dicts
from perfrules.service.metrics import Metrics
from perfrules.service.middleware import ServiceMiddleware
from perfrules.service.responses import ApiError, problem_dict
from perfrules.service.revision import publish, publish_within, read_current
from perfrules.service.runtime import LoadedPack, PackHolder, worker_revisions
from perfrules.service.validation import compile_schema_checks, submission_problems

log = logging.getLogger("perfrules.service")


class Service:
    """One worker's state: config, pack holder, decision log, metrics, tokens."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.tokens = TokenFile(config.token_file) if config.token_file else None
        self.holder = PackHolder(config.state_dir, config.poll_seconds)
        self.metrics = Metrics(config.state_dir)
        self.decisions = DecisionLog(config.decision_log, config.log_inputs) if config.decision_log else None
        self.holder.on_swap.append(lambda p: self.metrics.set_pack(p.revision, p.version))

    def revision(self) -> str | None:
        current = self.holder.current
        return current.revision if current else None

    def pack_json(self) -> dict[str, Any]:
        current = self.holder.current
        return {"version": current.version, "revision": current.revision} if current else {}


def create_app(config: ServiceConfig) -> Any:
    """The ASGI application for one worker (FastAPI wrapped in the service middleware)."""
    service = Service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if read_current(config.state_dir) is None:
            outcome = await asyncio.to_thread(publish, config.rules_dir, config.state_dir)
            if not outcome.accepted:
                raise PerfrulesError(outcome.problems)
        await asyncio.to_thread(compile_schema_checks)  # not on the first request's time
        await asyncio.to_thread(service.holder.start)
        saver = asyncio.create_task(_save_metrics(service.metrics))
        try:
            yield
        finally:
            saver.cancel()
            await asyncio.to_thread(service.holder.stop)
            service.metrics.save()
            if service.decisions:
                service.decisions.close()

    app = FastAPI(title="perfrules 审核前筛查服务 (pre-approval screening)", version=_version(), lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    ops = openapi.operations(service.tokens is not None)
    _routes(app, service, ops)
    _handlers(app, service)

    def custom_openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            doc = get_openapi(title=app.title, version=app.version, routes=app.routes,
                              description="预算绩效管理审核前筛查：提交一份申报，得到 通过 / 需整改 / 不予通过 及各项发现。")
            app.openapi_schema = openapi.complete(doc, service.tokens is not None)
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    app.state.service = service
    return ServiceMiddleware(app, tokens=service.tokens, max_body=config.max_body, metrics=service.metrics, revision=service.revision)


async def _save_metrics(metrics: Metrics) -> None:
    while True:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(metrics.save)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("perfrules")
    except PackageNotFoundError:  # pragma: no cover - a checkout on sys.path without installing
        return "0"


# --- request parsing --------------------------------------------------------------------------


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "zh"


def _options(request: Request) -> ScreenOptions:
    q = request.query_params
    problems = []
    lang = q.get("lang", "zh")
    if lang not in ("zh", "en"):
        problems.append(_param_problem("lang", "须为 zh 或 en", "must be zh or en", lang))
    as_of = None
    if q.get("as_of") is not None:
        try:
            as_of = dt.date.fromisoformat(q["as_of"])
        except ValueError:
            problems.append(_param_problem("as_of", "须为 YYYY-MM-DD 日期", "must be a YYYY-MM-DD date", q["as_of"]))
    explain = q.get("explain", "false").lower()
    if explain not in ("true", "false", "1", "0"):
        problems.append(_param_problem("explain", "须为 true 或 false", "must be true or false", q["explain"]))
    if problems:
        raise ApiError(422, "request.query", "查询参数有误。", "a query parameter is wrong.", problems)
    return ScreenOptions(q.get("profile") or None, as_of, lang if lang in ("zh", "en") else "zh", explain in ("true", "1"))


def _param_problem(name: str, zh: str, en: str, value: str) -> dict[str, Any]:
    return {"pointer": None, "parameter": name, "field": name, "code": "request.query",
            "message": f"查询参数 {name} {zh}，实际为 {value!r}。", "message_zh": f"查询参数 {name} {zh}，实际为 {value!r}。",
            "message_en": f"query parameter {name} {en}, got {value!r}."}


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ApiError(400, "request.encoding", "请求体须为 UTF-8 编码的 JSON。", "the request body must be UTF-8 encoded JSON.") from exc
    except RecursionError:  # nested deeper than the parser's stack (about a thousand levels)
        raise _too_deep() from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "request.json", f"JSON 语法错误（第 {exc.lineno} 行第 {exc.colno} 列）：{exc.msg}。",
                       f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from exc


def _too_deep() -> ApiError:
    """A body nested deeper than Python's stack lets it be read or checked (the recursion limit; hundreds of levels).
    Caught where it happens rather than walked for beforehand: a walk costs every request ~0.1 ms."""
    return ApiError(422, "input.too-deep", "请求体的 JSON 嵌套过深，无法读取；提交内容的结构只需几层。",
                    "the request body's JSON nests too deep to be read; a submission needs only a few levels.")


def _schema_error(problems: list[Any], lang: str) -> ApiError:
    return ApiError(422, "submission.schema", f"提交内容不符合 submission.schema.json（{len(problems)} 处问题）。",
                    f"the submission does not match submission.schema.json ({len(problems)} problem(s)).",
                    [p.to_dict(lang) for p in problems])


def _unknown_profile(exc: UnknownProfile) -> ApiError:
    known = ", ".join(exc.known)
    return ApiError(404, "request.unknown-profile", f"未知的地区配置 {exc.name!r}；可用：{known}。",
                    f"unknown profile {exc.name!r}; known profiles: {known}.", extra={"known_profiles": exc.known})


def _input_error(exc: PerfrulesError, lang: str) -> ApiError:
    return ApiError(422, "submission.unreadable", "提交内容无法读取。", "the submission cannot be read.",
                    input_problem_dicts(exc.problems, lang))


# --- routes -----------------------------------------------------------------------------------


def _routes(app: FastAPI, service: Service, ops: dict[str, dict[str, Any]]) -> None:
    config = service.config

    def record(decision: Decision) -> None:
        service.metrics.inc("perfrules_decisions_total", verdict=decision.body["verdict"])

    @app.post("/v1/screen", openapi_extra=ops["screen"], summary="筛查一份申报 (screen one submission)")
    async def screen(request: Request) -> Response:
        started = time.perf_counter()
        options = _options(request)
        doc = await _json_body(request)

        def job(pack: LoadedPack) -> tuple[Decision, concurrent.futures.Future[None] | None]:
            try:
                problems = submission_problems(doc)
                if problems:
                    raise _schema_error(problems, options.lang)
                decision = decide(pack, doc, options, "request", config.log_inputs, {"endpoint": "screen"})
            except RecursionError:
                raise _too_deep() from None
            return decision, service.decisions.append([decision.record]) if service.decisions else None

        try:
            decision, logged = await service.holder.run(job)
        except UnknownProfile as exc:
            raise _unknown_profile(exc) from None
        except PerfrulesError as exc:
            raise _input_error(exc, options.lang) from None
        await _durably_logged(logged, [decision.body["decision_id"]])  # on disk before it is answered
        record(decision)
        decision.body["timing_ms"]["total"] = round((time.perf_counter() - started) * 1000, 3)
        return JSONResponse(decision.body, headers={"X-Decision-Id": decision.body["decision_id"],
                                                    "X-Perfrules-Pack-Revision": decision.body["pack"]["revision"]})

    @app.post("/v1/screen/batch", openapi_extra=ops["batch"], summary="批量筛查 (screen a batch)")
    async def batch(request: Request) -> Response:
        started = time.perf_counter()
        options = _options(request)
        doc = await _json_body(request)
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ApiError(422, "batch.shape", "请求体须为 {\"items\": [{\"id\": …, \"submission\": {…}}, …]}。",
                           "the body must be {\"items\": [{\"id\": …, \"submission\": {…}}, …]}.",
                           [{"pointer": "/items", "field": "items", "code": "batch.shape", "message": "items 须为列表。",
                             "message_zh": "items 须为列表。", "message_en": "items must be a list."}])
        if len(items) > config.max_batch:
            raise ApiError(413, "batch.too-many-items", f"批量条目 {len(items)} 个，超过上限 {config.max_batch} 个。",
                           f"the batch has {len(items)} items, more than the limit of {config.max_batch}.")
        batch_id = str(uuid.uuid4())
        results: list[dict[str, Any] | None] = [None] * len(items)
        valid: list[tuple[int, Any, Any]] = []

        def job(pack: LoadedPack) -> tuple[list[tuple[int, Decision | ApiError]], concurrent.futures.Future[None] | None]:
            for i, item in enumerate(items):
                caller_id = item.get("id") if isinstance(item, dict) else None
                try:
                    problems = _item_problems(item, i)
                except RecursionError:
                    results[i] = {"id": caller_id, "status": 422, **_too_deep().body(options.lang)}
                    continue
                if problems:
                    results[i] = {"id": caller_id, "status": 422, **_schema_error(problems, options.lang).body(options.lang)}
                else:
                    valid.append((i, caller_id, item["submission"]))
            out: list[tuple[int, Decision | ApiError]] = []
            for i, caller_id, submission in valid:
                try:
                    out.append((i, decide(pack, submission, options, f"items[{i}]", config.log_inputs,
                                          {"endpoint": "batch", "batch_id": batch_id, "item_id": caller_id})))
                except UnknownProfile:
                    raise
                except PerfrulesError as exc:
                    out.append((i, _input_error(exc, options.lang)))
                except RecursionError:
                    out.append((i, _too_deep()))
                except Exception:
                    log.exception("batch item failed", extra={"event": "error", "batch_id": batch_id, "item": i})
                    out.append((i, ApiError(500, "internal", "内部错误，已记入服务日志。", "internal error; it is in the server log.")))
            records = [d.record for _, d in out if isinstance(d, Decision)]
            return out, service.decisions.append(records) if service.decisions else None

        try:
            decided, logged = await service.holder.run(job)
        except UnknownProfile as exc:
            raise _unknown_profile(exc) from None
        await _durably_logged(logged, [d.body["decision_id"] for _, d in decided if isinstance(d, Decision)])
        revision = {}
        caller_ids = {i: caller_id for i, caller_id, _ in valid}
        for i, outcome in decided:
            caller_id = caller_ids[i]
            if isinstance(outcome, Decision):
                record(outcome)
                revision = outcome.body["pack"]
                results[i] = {"id": caller_id, "status": 200, **outcome.body}
            else:
                service.metrics.inc("perfrules_errors_total", code=outcome.code)
                results[i] = {"id": caller_id, "status": outcome.status, **outcome.body(options.lang)}
        pack_json = revision or service.pack_json()
        body = {"batch_id": batch_id, "pack": pack_json, "results": results,
                "timing_ms": {"total": round((time.perf_counter() - started) * 1000, 3)}}
        return JSONResponse(body, headers={"X-Decision-Id": batch_id, "X-Perfrules-Pack-Revision": str(pack_json.get("revision", ""))})

    @app.get("/v1/rules", openapi_extra=ops["rules"], summary="生效规则 (rules in force)")
    async def rules(request: Request) -> Response:
        options = _options(request)
        show_all = request.query_params.get("all", "false").lower() in ("true", "1")
        pack = service.holder.current
        if pack is None:
            raise _not_ready()
        profile = options.profile or "national"
        if profile not in pack.compiled:
            raise _unknown_profile(UnknownProfile(profile, pack.profiles))
        compiled = pack.compiled[profile]
        when = options.as_of or dt.date.today()
        rows = catalogue.rule_listing(compiled, when)
        texts = {(s.document, s.clause): s.text for r in pack.pack.rules.values() for s in r.source}
        for row in rows:
            for s in row["source"]:
                s.setdefault("text", texts.get((s["document"], s["clause"])))
        if not show_all:
            rows = [r for r in rows if r["state"] in ("in_force", "built_in")]
        body = {"pack": {"version": pack.version, "revision": pack.revision}, "profile": profile,
                "chain": list(compiled.profile.chain), "as_of": when.isoformat(), "rules": rows}
        return Response(json.dumps(body, ensure_ascii=False, default=str), media_type="application/json")

    @app.post("/v1/admin/reload", openapi_extra=ops["reload"], summary="重新加载规则包 (reload the rule pack)")
    async def reload(request: Request) -> Response:
        lang = _lang(request)
        before = service.revision()
        outcome = await asyncio.to_thread(publish_within, config.rules_dir, config.state_dir, config.reload_timeout_seconds)
        if outcome.timed_out:
            service.metrics.inc("perfrules_reloads_total", outcome="timeout")
            log.warning("reload timed out", extra={"event": "reload.timeout", "seconds": config.reload_timeout_seconds})
            raise ApiError(503, "reload.timeout", f"规则包的检查超过 {config.reload_timeout_seconds:g} 秒仍未完成，已放弃；继续使用修订版 {before}。",
                           f"checking the pack took longer than {config.reload_timeout_seconds:g} s; it was abandoned and "
                           f"revision {before} keeps serving.", [problem_dict(p, lang) for p in outcome.problems],
                           extra={"pack": service.pack_json()})
        if not outcome.accepted:
            service.metrics.inc("perfrules_reloads_total", outcome="rejected")
            log.warning("reload rejected", extra={"event": "reload.rejected", "checked_revision": outcome.revision,
                                                  "problems": [p.text("en") for p in outcome.problems]})
            raise ApiError(422, "reload.rejected", f"新规则包未通过检查（{len(outcome.problems)} 处问题），继续使用修订版 {before}。",
                           f"the new pack did not pass ({len(outcome.problems)} problem(s)); revision {before} keeps serving.",
                           [problem_dict(p, lang) for p in outcome.problems],
                           extra={"pack": service.pack_json(), "rejected_revision": outcome.revision})
        assert outcome.current is not None
        workers = await _await_workers(service, outcome.current.revision)
        status = "accepted" if outcome.changed else "unchanged"
        service.metrics.inc("perfrules_reloads_total", outcome=status)
        log.info("reload %s", status, extra={"event": f"reload.{status}", "previous_revision": before})
        return JSONResponse({"status": status, "pack": {"version": outcome.current.version, "revision": outcome.current.revision},
                             "previous_revision": before, "workers": {str(k): v for k, v in workers.items()}})

    @app.get("/health", openapi_extra=ops["health"], summary="存活 (liveness)")
    async def health() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/ready", openapi_extra=ops["ready"], summary="就绪 (readiness)")
    async def ready() -> Response:
        if service.holder.current is None:
            raise _not_ready()
        return JSONResponse({"status": "ready", "pack": service.pack_json()})

    @app.get("/metrics", openapi_extra=ops["metrics"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return PlainTextResponse(service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _item_problems(item: Any, index: int) -> list[Any]:
    """A batch item's problems (the item's own, or its submission's)."""
    from perfrules.service.validation import SchemaProblem, pointer

    base = pointer(["items", index])
    if not isinstance(item, dict):
        return [SchemaProblem(base, None, "batch.item", "批量条目须为 {\"id\": …, \"submission\": {…}}。",
                              "a batch item must be {\"id\": …, \"submission\": {…}}.")]
    missing = [k for k in ("id", "submission") if k not in item]
    if missing:
        return [SchemaProblem(pointer(["items", index, k]), k, "batch.required", f"缺少必填字段 {k!r}。",
                              f"required field {k!r} is missing.") for k in missing]
    if not isinstance(item["id"], (str, int)) or isinstance(item["id"], bool):
        return [SchemaProblem(pointer(["items", index, "id"]), "id", "batch.id", "id 须为字符串或整数。", "id must be a string or an integer.")]
    return submission_problems(item["submission"], pointer(["items", index, "submission"]))


async def _durably_logged(logged: concurrent.futures.Future[None] | None, decision_ids: list[str]) -> None:
    """Wait for the decisions' log lines to be synced; a decision that cannot be logged durably is not made (503)."""
    if logged is None:
        return
    try:
        await asyncio.wrap_future(logged)
    except OSError as exc:
        why = exc.strerror or str(exc)
        log.error("decision log write failed; the decisions are not answered", exc_info=exc,
                  extra={"event": "decision-log.failed", "decision_ids": decision_ids})
        raise ApiError(503, "decision-log.failed", f"决策日志无法持久写入（{why}），本次未作出审核结论；请稍后重试。",
                       f"the decision log could not be written durably ({why}), so no decision was made; try again later.",
                       headers={"Retry-After": "5"}) from None


def _not_ready() -> ApiError:
    return ApiError(503, "service.not-ready", "尚未加载规则包。", "no rule pack is loaded yet.")


async def _await_workers(service: Service, revision: str) -> dict[int, str]:
    """Wait until every live worker serves ``revision`` (each follows ``current.json``), up to the configured time."""
    deadline = time.monotonic() + service.config.reload_wait_seconds
    while True:
        workers = await asyncio.to_thread(worker_revisions, service.config.state_dir)
        if all(r == revision for r in workers.values()) or time.monotonic() > deadline:
            return workers
        await asyncio.sleep(0.05)


def _handlers(app: FastAPI, service: Service) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        service.metrics.inc("perfrules_errors_total", code=exc.code)
        return exc.response(_lang(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            error = ApiError(404, "request.not-found", f"没有此路径：{request.url.path}。", f"no such path: {request.url.path}.")
        elif exc.status_code == 405:
            error = ApiError(405, "request.method", f"{request.url.path} 不接受 {request.method}。",
                             f"{request.url.path} does not accept {request.method}.", headers=dict(exc.headers or {}))
        else:
            error = ApiError(exc.status_code, "request.http", str(exc.detail), str(exc.detail))
        service.metrics.inc("perfrules_errors_total", code=error.code)
        return error.response(_lang(request))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error", exc_info=exc, extra={"event": "error", "path": request.url.path})
        service.metrics.inc("perfrules_errors_total", code="internal")
        return ApiError(500, "internal", "内部错误，已记入服务日志。", "internal error; it is in the server log.").response(_lang(request))
