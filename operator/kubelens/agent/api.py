"""The agent's skill API (aiohttp), documented in ``docs/agent-api.md``.

- ``GET /healthz``: liveness, no authentication.
- ``GET /v1/skills``: the catalog (names, descriptions, tools with JSON schemas).
- ``POST /v1/skills/{skill}/snapshot``: a fresh snapshot as an OperatorResult.
- ``POST /v1/skills/{skill}/tools/{tool}``: one read-only tool; the body is its arguments.

Handlers are thin: they parse and hand over to :class:`~kubelens.agent.scheduler.Agent`.
Middlewares (outermost first) count every answer for Prometheus, turn errors into JSON,
bound each request's time (a slow TokenReview included), and authenticate. Bodies are
capped by aiohttp's ``client_max_size`` (413 beyond it). Nothing here changes the host:
``POST`` is used because snapshots and tools take input and are not cacheable, not
because they write.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kubelens import metrics
from kubelens.agent.auth import Authenticator
from kubelens.agent.scheduler import Agent, SkillBusyError, UnknownError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
#: Below the operator's 10 s per call, so it gets a 504 that says why, not a bare timeout.
REQUEST_TIMEOUT = 8.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

AGENT: web.AppKey[Agent] = web.AppKey("agent", Agent)
AUTH: web.AppKey[Authenticator] = web.AppKey("auth", Authenticator)
TIMEOUT: web.AppKey[float] = web.AppKey("timeout", float)
INTERVAL: web.AppKey[float] = web.AppKey("interval", float)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


def _endpoint(request: web.Request) -> str:
    """The route's template (``/v1/skills/{skill}/snapshot``): a bounded metric label."""
    resource = request.match_info.route.resource
    return "other" if resource is None else resource.canonical


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.AGENT_REQUESTS.labels(_endpoint(request), str(status)).inc()


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error answer is ``{"error": ..., "status": ...}``, including aiohttp's own."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text or exc.reason
        if exc.status == 413:
            message = f"request body larger than {MAX_BODY_BYTES} bytes"
        return _error(exc.status, message)
    except Exception:
        log.exception("agent API %s %s failed", request.method, request.path)
        return _error(500, "internal error in the agent; see its log")


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/healthz":
        return await handler(request)
    verdict = await request.app[AUTH].verify(request.headers.get("Authorization"))
    if not verdict.allowed:
        response = _error(verdict.status, verdict.reason)
        if verdict.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="kubelens-agent"'
        return response
    return await handler(request)


@web.middleware
async def time_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    timeout = request.app[TIMEOUT]
    try:
        return await asyncio.wait_for(handler(request), timeout=timeout)
    except TimeoutError:
        # The skill's thread may still be running; its lock makes later calls wait or
        # report "busy" instead of piling up.
        return _error(504, f"the request did not finish within {timeout:g}s")


async def _arguments(request: web.Request) -> dict[str, Any]:
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_BODY_BYTES, actual_size=request.content_length
        )
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(
            text=f"body must be a JSON object of tool arguments, got {type(value).__name__}"
        )
    return value


# -- handlers ---------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    agent = request.app[AGENT]
    healthy = agent.healthy(request.app[INTERVAL])
    recent = sorted(agent.cycle_ms)
    body: dict[str, Any] = {
        "status": "ok" if healthy else "stalled",
        "node": agent.node,
        "cycles": agent.cycles,
    }
    if recent:
        body["lastCycleMs"] = round(agent.cycle_ms[-1], 2)
        body["medianCycleMs"] = round(recent[len(recent) // 2], 2)
    return web.json_response(body, status=200 if healthy else 503)


async def list_skills(request: web.Request) -> web.Response:
    agent = request.app[AGENT]
    return web.json_response({"node": agent.node, "skills": agent.catalog()})


async def snapshot(request: web.Request) -> web.Response:
    agent = request.app[AGENT]
    await _arguments(request)  # optional {"context": ...}; read so oversize is refused
    try:
        result = await agent.snapshot(request.match_info["skill"])
    except UnknownError as exc:
        return _error(400, str(exc))
    return web.json_response(result.wire())


async def call_tool(request: web.Request) -> web.Response:
    agent = request.app[AGENT]
    arguments = await _arguments(request)
    skill, tool = request.match_info["skill"], request.match_info["tool"]
    try:
        result = await agent.call(skill, tool, arguments)
    except (UnknownError, ValueError) as exc:
        return _error(400, str(exc.args[0]) if exc.args else str(exc))
    except SkillBusyError as exc:
        return _error(503, str(exc))
    return web.json_response(result.wire())


def build_app(
    agent: Agent,
    auth: Authenticator,
    request_timeout: float = REQUEST_TIMEOUT,
    interval: float = 15.0,
) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[count_requests, json_errors, time_limit, authenticate],
    )
    app[AGENT] = agent
    app[AUTH] = auth
    app[TIMEOUT] = request_timeout
    app[INTERVAL] = interval
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/v1/skills", list_skills)
    app.router.add_post("/v1/skills/{skill}/snapshot", snapshot)
    app.router.add_post("/v1/skills/{skill}/tools/{tool}", call_tool)
    return app
