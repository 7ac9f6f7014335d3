"""kopf handlers: every decorator of the operator, and nothing else.

Each handler guards, then calls plain code in :mod:`kubelens.operator.service`. Run with
``kubelens operator`` (or ``kopf run -m kubelens.operator.handlers``).

An Investigation is served by a kopf daemon: kopf starts one per Investigation on
creation and again for every unfinished one after an operator restart, and on deletion
signals it to stop and holds the object (finalizer) until it has, so cancellation is
clean and restarts lose nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import kopf

from kubelens import config, metrics
from kubelens.kube import GROUP, INVESTIGATIONS, VERSION, CustomObjects, api_client
from kubelens.operator import service
from kubelens.operator.status import TERMINAL

log = logging.getLogger(__name__)

#: Settings handed over by ``kubelens operator``; under plain ``kopf run`` they come from
#: the environment.
_configured: config.Settings | None = None

#: After a (re)start, runs wait this long so every resumed Investigation joins its
#: namespace's line first and creation order is kept.
RESUME_SETTLE_SECONDS = 1.0


def configure(settings: config.Settings) -> None:
    global _configured
    _configured = settings


@kopf.on.startup()
async def startup(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    options = _configured or config.load({})
    # kopf keeps its own bookkeeping in annotations: the CRDs' status schemas are strict.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.posting.level = logging.WARNING
    settings.peering.name = "kubelens"
    api = api_client(options.kubeconfig)
    memo.ctx = service.OperatorContext(
        settings=options,
        api=api,
        objects=CustomObjects(api),
        ready_at=time.monotonic() + RESUME_SETTLE_SECONDS,
    )
    if options.metrics_port:
        metrics.serve(options.metrics_port)
    logger.info("kubelens operator started (model: %s)", options.model or "rule-based analyst")


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    ctx = getattr(memo, "ctx", None)
    if ctx is not None:
        ctx.api.close()


@kopf.on.probe(id="coordinators")
def coordinators(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    ctx: service.OperatorContext | None = getattr(memo, "ctx", None)
    return dict(ctx.queues.summary()) if ctx is not None else {}


def _unfinished(status: kopf.Status, **_: Any) -> bool:
    return status.get("phase") not in TERMINAL


@kopf.daemon(
    GROUP, VERSION, INVESTIGATIONS, when=_unfinished, cancellation_timeout=30.0, initial_delay=0
)
async def investigation(
    name: str,
    namespace: str | None,
    meta: kopf.Meta,
    spec: kopf.Spec,
    status: kopf.Status,
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    ref = service.InvestigationRef(
        name=name,
        namespace=namespace or "default",
        generation=int(meta.get("generation") or 1),
        created=str(meta.get("creationTimestamp") or ""),
    )

    def post_event(reason: str, message: str, warning: bool) -> None:
        kopf.event(body, type="Warning" if warning else "Normal", reason=reason, message=message)

    await service.run_investigation(
        memo.ctx, ref, dict(spec), dict(status), stopped.wait, post_event
    )
