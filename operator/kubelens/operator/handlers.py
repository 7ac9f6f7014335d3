"""kopf handlers: every decorator of the operator, and nothing else.

Each handler guards, then calls plain code in :mod:`kubelens.operator.service`. Run with
``kubelens operator`` (or ``kopf run -m kubelens.operator.handlers``).

An Investigation is served by a kopf daemon: kopf starts one per Investigation on
creation and again for every unfinished one after an operator restart, and on deletion
signals it to stop and holds the object (finalizer) until it has, so cancellation is
clean and restarts lose nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from kubelens import config, metrics
from kubelens.coordinator import LiteLLMClient, ModelClient, build_model
from kubelens.kube import (
    GROUP,
    INVESTIGATIONS,
    MAX_CONCURRENT_CALLS,
    VERSION,
    CustomObjects,
    Events,
    api_client,
)
from kubelens.operator import peering, service
from kubelens.ports.agents import AgentDirectory
from kubelens.resources import ANNOTATION_CANCEL_IF_PENDING, TERMINAL

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


def _options() -> config.Settings:
    return _configured or config.load({})


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a pod: the ServiceAccount; elsewhere: --kubeconfig, then $KUBECONFIG."""
    kubeconfig = _options().kubeconfig
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(**kwargs)
    return info or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
async def startup(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    options = _options()
    # kopf keeps its own bookkeeping in annotations: the CRDs' status schemas are strict.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.posting.level = logging.WARNING
    settings.peering.name = peering.NAME  # `kopf run -m` auto-detects peering under this name
    # Client calls and litellm's requests run in the loop's default executor: size it for
    # every namespace's coordinator at once, not for the CPU count.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(MAX_CONCURRENT_CALLS, thread_name_prefix="kubelens-io")
    )
    await _warm_up(build_model(options), logger)
    api = api_client(options.kubeconfig)
    memo.ctx = service.OperatorContext(
        settings=options,
        api=api,
        objects=CustomObjects(api),
        events=Events(api),
        ready_at=time.monotonic() + RESUME_SETTLE_SECONDS,
        agents=AgentDirectory.from_settings(options, api),
    )
    if options.metrics_port:
        metrics.serve(options.metrics_port)

    logger.info("kubelens operator started (model: %s)", options.model or "rule-based analyst")


async def _warm_up(model: ModelClient, logger: kopf.Logger) -> None:
    """Load the model client's libraries before the first Investigation, not in it."""
    if not isinstance(model, LiteLLMClient):
        return
    try:
        await model.warm_up()
    except Exception as exc:  # the first real call reports a broken model, with context
        logger.warning("model %s: warm-up failed (%s: %s)", model.name, type(exc).__name__, exc)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    ctx = getattr(memo, "ctx", None)
    if ctx is not None:
        if ctx.agents is not None:
            await ctx.agents.close()
        ctx.api.close()


@kopf.on.probe(id="coordinators")
def coordinators(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    ctx: service.OperatorContext | None = getattr(memo, "ctx", None)
    return dict(ctx.queues.summary()) if ctx is not None else {}


def _unfinished(status: kopf.Status, **_: Any) -> bool:
    return status.get("phase") not in TERMINAL


@kopf.daemon(
    GROUP,
    VERSION,
    INVESTIGATIONS,
    when=_unfinished,
    # On deletion the daemon is first asked to stop (it cancels the run and reports),
    # and only cancelled by force if it has not finished after the backoff.
    cancellation_backoff=20.0,
    cancellation_timeout=10.0,
    initial_delay=0,
)
async def investigation(
    name: str,
    namespace: str | None,
    meta: kopf.Meta,
    spec: kopf.Spec,
    status: kopf.Status,
    uid: str,
    stopped: kopf.DaemonStopped,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    ref = service.InvestigationRef(
        name=name,
        namespace=namespace or "default",
        generation=int(meta.get("generation") or 1),
        created=str(meta.get("creationTimestamp") or ""),
        uid=uid,
    )
    ctx: service.OperatorContext = memo.ctx

    async def post_event(reason: str, message: str, warning: bool) -> None:
        await ctx.events.post(ref.involved(), reason, message, warning)

    def deleted() -> bool:
        reason = stopped.reason
        return bool(reason and reason & kopf.DaemonStoppingReason.RESOURCE_DELETED)

    await service.run_investigation(
        ctx,
        ref,
        dict(spec),
        dict(status),
        stopped.wait,
        post_event,
        deleted,
        annotations=dict(meta.annotations),
    )


@kopf.on.event(
    GROUP, VERSION, INVESTIGATIONS, annotations={ANNOTATION_CANCEL_IF_PENDING: kopf.PRESENT}
)
def cancel_if_pending(
    name: str, namespace: str | None, meta: kopf.Meta, memo: kopf.Memo, **_: Any
) -> None:
    """An Investigation asked to be dropped unless started (e.g. its alert resolved)."""
    reason = str(meta.annotations.get(ANNOTATION_CANCEL_IF_PENDING, ""))
    service.cancel_if_pending(memo.ctx, namespace or "default", name, reason)
