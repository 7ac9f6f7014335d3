"""The Alertmanager webhook receiver's HTTP side: routes, authentication, answers.

``POST /alertmanager`` takes Alertmanager's webhook payload (version 4) and hands it to
:class:`~kubelens.webhook.service.AlertGroups`; ``GET /healthz`` and ``GET /metrics``
are open. Answers, in the order they are decided:

- 404 / 405: unknown path / method (aiohttp's router);
- 401 + ``WWW-Authenticate``: no or wrong credentials (the body is not even read);
- 413: body over the size limit; 400: not JSON, or not a version-4 payload;
- 202 ``{"investigation", "namespace", "action"}``: applied;
- 503 + ``Retry-After``: Investigation writes are rate limited, or the Kubernetes API
  failed. Both are 503 on purpose: Alertmanager's webhook notifier retries 5xx answers
  only (a 429 would be logged and dropped), and it ignores ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import logging
import math
import signal
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from multidict import CIMultiDict
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kubelens.config import Settings
from kubelens.kube import CustomObjects, KubeError, api_client
from kubelens.metrics import WEBHOOK_ALERTS, WEBHOOK_REQUESTS
from kubelens.webhook.payload import InvalidNotificationError, parse_notification
from kubelens.webhook.service import (
    AlertGroups,
    KubeInvestigations,
    Outcome,
    RateLimitedError,
    WebhookLimits,
)

log = logging.getLogger(__name__)

PATH = "/alertmanager"
BODY_LIMIT = 1024 * 1024
#: Seconds a client is asked to wait after a Kubernetes API failure.
API_RETRY_AFTER = 5
REALM = "kubelens"

_OUTCOME_METRIC = {
    "created": "created",
    "updated": "updated",
    "resolved": "resolved",
    "ignored": "resolved",
}


class WebhookConfigError(ValueError):
    """The receiver cannot start as configured; the message says what to set."""


@dataclass(frozen=True)
class Credentials:
    """What a caller must present: a bearer token, ``user:password`` basic auth, or either."""

    token: bytes = b""
    basic: bytes = b""

    @classmethod
    def from_settings(cls, settings: Settings) -> Credentials:
        # Trimmed as Alertmanager trims credentials_file and password_file contents.
        token, basic = settings.webhook_token.strip(), settings.webhook_basic_auth.strip()
        if basic and ":" not in basic:
            raise WebhookConfigError(
                "KUBELENS_WEBHOOK_BASIC_AUTH (--webhook-basic-auth) must be USER:PASSWORD"
            )
        if not token and not basic:
            raise WebhookConfigError(
                "refusing to start without authentication: set KUBELENS_WEBHOOK_TOKEN "
                "(--webhook-token, sent by Alertmanager as 'Authorization: Bearer ...') or "
                "KUBELENS_WEBHOOK_BASIC_AUTH (--webhook-basic-auth USER:PASSWORD)"
            )
        return cls(token.encode(), basic.encode())

    def allow(self, authorization: str) -> bool:
        scheme, _, value = authorization.strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme == "bearer" and self.token:
            return hmac.compare_digest(value.encode(), self.token)
        if scheme == "basic" and self.basic:
            try:
                presented = base64.b64decode(value.encode(), validate=True)
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(presented, self.basic)
        return False

    @property
    def challenges(self) -> list[str]:
        offered = []
        if self.token:
            offered.append(f'Bearer realm="{REALM}"')
        if self.basic:
            offered.append(f'Basic realm="{REALM}", charset="UTF-8"')
        return offered


def _error(status: int, message: str, headers: CIMultiDict[str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _retry_after(seconds: float) -> CIMultiDict[str]:
    return CIMultiDict({hdrs.RETRY_AFTER: str(max(1, math.ceil(seconds)))})


class AlertmanagerReceiver:
    """``POST /alertmanager``: authenticate, bound, parse, then let the service decide."""

    def __init__(
        self, credentials: Credentials, groups: AlertGroups, body_limit: int = BODY_LIMIT
    ) -> None:
        self.credentials = credentials
        self.groups = groups
        self.body_limit = body_limit

    async def handle(self, request: web.Request) -> web.Response:
        if not self.credentials.allow(request.headers.get(hdrs.AUTHORIZATION, "")):
            WEBHOOK_ALERTS.labels("rejected").inc()
            challenges = CIMultiDict(
                (hdrs.WWW_AUTHENTICATE, c) for c in self.credentials.challenges
            )
            return _error(401, "missing or wrong credentials", challenges)
        too_large = f"the body is over the {self.body_limit}-byte limit"
        if request.content_length is not None and request.content_length > self.body_limit:
            WEBHOOK_ALERTS.labels("rejected").inc()
            return _error(413, too_large)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            WEBHOOK_ALERTS.labels("rejected").inc()
            return _error(413, too_large)
        try:
            notification = parse_notification(body)
        except InvalidNotificationError as exc:
            WEBHOOK_ALERTS.labels("rejected").inc()
            return _error(400, f"not an Alertmanager webhook payload (version 4): {exc}")

        alerts = len(notification.alerts)
        try:
            outcome = await self.groups.receive(notification)
        except RateLimitedError as exc:
            WEBHOOK_ALERTS.labels("rate_limited").inc(alerts)
            return _error(503, str(exc), _retry_after(exc.retry_after))
        except KubeError as exc:
            WEBHOOK_ALERTS.labels("error").inc(alerts)
            log.warning(
                "alert group %r not recorded, answered 503: %s", notification.group_key[:200], exc
            )
            return _error(503, f"the Kubernetes API failed: {exc}", _retry_after(API_RETRY_AFTER))
        WEBHOOK_ALERTS.labels(_OUTCOME_METRIC[outcome.action]).inc(alerts)
        return web.json_response(_answer(outcome), status=202)


def _answer(outcome: Outcome) -> dict[str, Any]:
    return {
        "investigation": outcome.investigation,
        "namespace": outcome.namespace,
        "action": outcome.action,
    }


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.headers[hdrs.CONTENT_TYPE] = CONTENT_TYPE_LATEST
    return response


_KEPT_HEADERS = (hdrs.ALLOW, hdrs.WWW_AUTHENTICATE, hdrs.RETRY_AFTER)


@web.middleware
async def _json_errors_and_count(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every answer is counted by code; router and size errors are answered in JSON too."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        headers = CIMultiDict((k, v) for k, v in exc.headers.items() if k in _KEPT_HEADERS)
        response = _error(exc.status, _explain(request, exc), headers)
    except Exception:
        log.exception("webhook request %s %s failed", request.method, request.path)
        response = _error(500, "internal error")
    WEBHOOK_REQUESTS.labels(str(response.status)).inc()
    return response


def _explain(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"no such path {request.path!r}; Alertmanager posts to {PATH}"
    if exc.status == 405:
        allowed = exc.headers.get(hdrs.ALLOW, "")
        return f"{request.method} is not allowed on {request.path}; use {allowed}"
    return exc.text or exc.reason


GROUPS_KEY = web.AppKey("groups", AlertGroups)


def build_app(
    credentials: Credentials, groups: AlertGroups, body_limit: int = BODY_LIMIT
) -> web.Application:
    """The receiver's aiohttp application (no socket: see :func:`serve`)."""
    app = web.Application(client_max_size=body_limit, middlewares=[_json_errors_and_count])
    app[GROUPS_KEY] = groups
    receiver = AlertmanagerReceiver(credentials, groups, body_limit)
    app.router.add_post(PATH, receiver.handle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)

    async def finish_batches(app: web.Application) -> None:
        await app[GROUPS_KEY].close()

    app.on_shutdown.append(finish_batches)
    return app


def limits_from(settings: Settings) -> WebhookLimits:
    return WebhookLimits(
        writes_per_second=settings.webhook_write_rate, write_burst=settings.webhook_write_burst
    )


async def serve(settings: Settings, limits: WebhookLimits | None = None) -> None:
    """Run the receiver on 0.0.0.0:``webhook_port`` until SIGTERM or cancellation."""
    try:
        credentials = Credentials.from_settings(settings)
    except WebhookConfigError as exc:
        raise SystemExit(f"kubelens webhook: {exc}") from None
    api: Any = api_client(settings.kubeconfig)  # the client's close() is untyped
    groups = AlertGroups(
        KubeInvestigations(CustomObjects(api)),
        settings.webhook_default_namespace,
        limits or limits_from(settings),
    )
    runner = web.AppRunner(build_app(credentials, groups), access_log=None)
    await runner.setup()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    try:
        await web.TCPSite(runner, "0.0.0.0", settings.webhook_port).start()
        log.info("Alertmanager webhook receiver listening on :%d%s", settings.webhook_port, PATH)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        log.info("SIGTERM: stopping the webhook receiver")
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
        await runner.cleanup()
        api.close()
