"""Running one Investigation: validate, wait in the namespace's line, investigate, report.

The kopf handler hands each Investigation here; this is plain asyncio code with
explicit arguments, so it reads (and is tested) without kopf's machinery.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubelens import metrics
from kubelens.config import Settings, install_namespace
from kubelens.coordinator import ModelClient, RunEvent, RunOptions, ToolLoop, build_model
from kubelens.kube import GROUP, INVESTIGATIONS, VERSION, CustomObjects, Events, KubeError
from kubelens.models import Insight, RunResult
from kubelens.operator import status as st
from kubelens.operator.queue import Queues
from kubelens.operator.reporter import QUEUE_POSITION_INTERVAL, PostEvent, Reporter
from kubelens.operator.spec import InvalidSpecError, InvestigationSpec, parse_spec
from kubelens.operator.status import StatusUpdate
from kubelens.ports.agents import AgentDirectory, AgentOperators
from kubelens.ports.notifications import NotificationResources
from kubelens.ports.operators import CompositeOperators, InProcessOperators, Operators
from kubelens.resources import ANNOTATION_CANCEL_IF_PENDING
from kubelens.skills import NODE_SKILLS
from kubelens.skills.base import Skill
from kubelens.skills.cluster import KubernetesSource, cluster_skill_names, cluster_skills

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InvestigationRef:
    name: str
    namespace: str
    generation: int
    created: str
    uid: str = ""

    @property
    def queue_key(self) -> tuple[str, str]:
        return (self.created, self.name)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def involved(self) -> dict[str, str]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Investigation",
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
        }


@dataclass
class OperatorContext:
    """What every Investigation shares: set up once at startup, kept on kopf's memo."""

    settings: Settings
    api: Any
    objects: CustomObjects
    events: Events
    queues: Queues = field(default_factory=Queues)
    #: Monotonic time before which no run starts, so Investigations resumed after a
    #: restart all join their lines first and keep their creation order.
    ready_at: float = 0.0
    #: The node agents (None: node skills are not offered, e.g. tests without agents).
    agents: AgentDirectory | None = None
    #: Investigations not started yet, by (namespace, name): resolving one's future with
    #: a reason cancels it before it starts.
    not_started: dict[tuple[str, str], asyncio.Future[str]] = field(default_factory=dict)

    def skills_for(self, namespace: str) -> list[Skill]:
        return cluster_skills(KubernetesSource(self.api), namespace)

    @property
    def known_skills(self) -> set[str]:
        return cluster_skill_names() | {skill.name for skill in NODE_SKILLS}


def cancel_if_pending(ctx: OperatorContext, namespace: str, name: str, reason: str) -> None:
    """Cancel an Investigation that has not started (its cancel-if-pending annotation
    was set); one that has started runs on."""
    waiting = ctx.not_started.get((namespace, name))
    if waiting is not None and not waiting.done():
        waiting.set_result(reason or "cancelled before it started")


async def run_investigation(
    ctx: OperatorContext,
    ref: InvestigationRef,
    spec: Mapping[str, Any],
    current_status: Mapping[str, Any],
    stopped: Callable[[], Awaitable[Any]],
    post_event: PostEvent,
    deleted: Callable[[], bool] = lambda: True,
    annotations: Mapping[str, str] | None = None,
) -> None:
    """Drive one Investigation to a terminal phase (or return if it already is).

    ``stopped`` resolves when the handler must stop; ``deleted`` then tells a deletion
    (cancel and report) from an operator shutdown (stop quietly: the next operator
    process resumes the Investigation where it was). ``annotations`` are the object's
    at the start; a cancel-if-pending one arriving later comes in through
    :func:`cancel_if_pending`."""
    if current_status.get("phase") in st.TERMINAL:
        return
    resumed = current_status.get("phase") == st.Phase.RUNNING.value
    dropped: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    requested = (annotations or {}).get(ANNOTATION_CANCEL_IF_PENDING)
    if requested is not None and not resumed:
        dropped.set_result(requested)
    if not resumed:
        ctx.not_started[ref.key] = dropped
    reporter = Reporter(functools.partial(_patch, ctx, ref), post_event)
    try:
        await _validate_and_wait(
            ctx, ref, spec, current_status, stopped, reporter, deleted, dropped
        )
    finally:
        if ctx.not_started.get(ref.key) is dropped:
            del ctx.not_started[ref.key]
        await reporter.close()


async def _validate_and_wait(
    ctx: OperatorContext,
    ref: InvestigationRef,
    spec: Mapping[str, Any],
    current_status: Mapping[str, Any],
    stopped: Callable[[], Awaitable[Any]],
    reporter: Reporter,
    deleted: Callable[[], bool],
    dropped: asyncio.Future[str],
) -> None:
    if dropped.done():
        await _cancelled(ref, dropped.result(), reporter)
        return
    resumed = current_status.get("phase") == st.Phase.RUNNING.value
    settings = ctx.settings
    try:
        parsed, model_name = parse_spec(
            dict(spec), ctx.known_skills, settings.model, settings.model_allowlist
        )
    except InvalidSpecError as exc:
        await reporter.write(st.invalid(str(exc)))
        reporter.event("InvalidSpec", str(exc), True)
        metrics.INVESTIGATIONS.labels(ref.namespace, st.Phase.FAILED.value).inc()
        return
    model = build_model(settings, model_name)
    prior = [Insight.model_validate(i) for i in current_status.get("insights") or []]
    run = _Turn(ctx, ref, parsed, model, prior, reporter, deleted, dropped)
    if not resumed:
        queue = ctx.queues[ref.namespace]
        queue.join(ref.queue_key)
        run.position = queue.ahead_of(ref.queue_key)
        await reporter.write(st.pending(run.position, model.name))
        reporter.event("Queued", f"queued for namespace {ref.namespace}'s coordinator")
        metrics.INVESTIGATIONS.labels(ref.namespace, st.Phase.PENDING.value).inc()
    await run.wait_then_run(stopped)


@dataclass
class _Turn:
    """One Investigation waiting for its namespace's coordinator, then running; a
    deletion or a cancel-if-pending request ends the wait."""

    ctx: OperatorContext
    ref: InvestigationRef
    spec: InvestigationSpec
    model: ModelClient
    prior: list[Insight]
    reporter: Reporter
    deleted: Callable[[], bool]
    dropped: asyncio.Future[str]
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    started: bool = False
    #: The queue position last reported (-1: none yet).
    position: int = -1

    async def wait_then_run(self, stopped: Callable[[], Awaitable[Any]]) -> None:
        work = asyncio.ensure_future(self._take_turn())
        stop = asyncio.ensure_future(stopped())
        try:
            await asyncio.wait({work, stop, self.dropped}, return_when=asyncio.FIRST_COMPLETED)
            if self.dropped.done() and not self.started:
                await _abandon(work)
                await _cancelled(self.ref, self.dropped.result(), self.reporter)
            elif work.done():
                work.result()
            else:
                await self._stop(work)
        finally:
            stop.cancel()
            if not work.done():
                work.cancel()

    async def _stop(self, work: asyncio.Future[None]) -> None:
        # Deleted: a running investigation stops itself and reports; a waiting one
        # leaves the line here.
        self.cancel.set()
        if self.started:
            await work
            return
        await _abandon(work)
        if self.deleted():
            await _cancelled(self.ref, "deleted while waiting in the queue", self.reporter)

    async def _take_turn(self) -> None:
        ctx, ref = self.ctx, self.ref
        queue = ctx.queues[ref.namespace]
        async with queue.turn(ref.queue_key, self._report_position, not_before=ctx.ready_at):
            if self.dropped.done():
                return
            self.started = True
            ctx.not_started.pop(ref.key, None)
            await _run(
                ctx,
                ref,
                self.spec,
                self.model,
                self.prior,
                self.cancel,
                self.reporter,
                self.deleted,
            )

    async def _report_position(self, position: int) -> None:
        if position != self.position:
            self.position = position
            self.reporter.progress(st.queued_behind(position), QUEUE_POSITION_INTERVAL)


async def _abandon(work: asyncio.Future[None]) -> None:
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)


async def _run(
    ctx: OperatorContext,
    ref: InvestigationRef,
    spec: InvestigationSpec,
    model: ModelClient,
    prior: list[Insight],
    cancel: asyncio.Event,
    reporter: Reporter,
    deleted: Callable[[], bool],
) -> None:
    agents = (
        ctx.agents.operators(ref.namespace, spec.nodes, spec.node_selector)
        if ctx.agents is not None
        else None
    )
    _, nodes = await asyncio.gather(
        reporter.write(st.running(model.name)), involved_nodes(agents, spec)
    )
    reporter.event("Started", f"investigating with {model.name}")
    metrics.INVESTIGATIONS.labels(ref.namespace, st.Phase.RUNNING.value).inc()
    store = NotificationResources(
        ctx.objects,
        investigation=ref.name,
        namespace=ref.namespace,
        install_namespace=install_namespace(ctx.settings),
        nodes=nodes,
    )
    loop = ToolLoop(
        model,
        store,
        build_operators(ctx, ref, store, agents),
        compaction_max_tokens=ctx.settings.compaction_max_tokens,
        compaction_keep_last=ctx.settings.compaction_keep_last,
    )
    started = time.monotonic()
    options = _run_options(ref, spec, prior, reporter, cancel)
    result = await loop.run(investigation_context(ref, spec), options)
    if cancel.is_set() and not deleted():
        # The operator is shutting down: keep the phase and the held notifications, so
        # the next operator process resumes this run and re-reads what it was analysing.
        await reporter.write(StatusUpdate(message="operator restarting; the investigation resumes"))
        return
    await _finish(ref, store, result, time.monotonic() - started, reporter)


def investigation_context(ref: InvestigationRef, spec: InvestigationSpec) -> dict[str, Any]:
    """What the analyst is told: the fields kubelens sets, then the user's
    ``spec.context``; a user's key never replaces one of kubelens's."""
    own: dict[str, Any] = {
        "reason": spec.reason,
        "namespace": ref.namespace,
        "investigation": ref.name,
    }
    if spec.notifications:
        own["seedNotifications"] = spec.notifications
    if spec.nodes:
        own["nodes"] = spec.nodes
    return own | {key: value for key, value in spec.context.items() if key not in own}


def _run_options(
    ref: InvestigationRef,
    spec: InvestigationSpec,
    prior: list[Insight],
    reporter: Reporter,
    cancel: asyncio.Event,
) -> RunOptions:
    return RunOptions(
        max_iterations=spec.max_iterations,
        timeout=float(spec.timeout_seconds),
        skills=spec.skills or None,
        token_budget=spec.budget.max_tokens,
        cost_budget=spec.budget.max_cost,
        investigation=ref.name,
        prior_insights=prior,
        listener=_listener(reporter, list(prior)),
        cancel=cancel,
    )


def _listener(reporter: Reporter, insights: list[Insight]) -> Callable[[RunEvent], Awaitable[None]]:
    """What a run's events do: count tool calls, report the iteration as progress, write
    every insight at once (so a restart resumes with it and never writes it twice)."""

    async def listen(event: RunEvent) -> None:
        if event.kind == "tool":
            metrics.TOOL_CALLS.labels(event.data["tool"], event.data["status"]).inc()
        elif event.kind == "iteration":
            reporter.progress(StatusUpdate(iteration=event.iteration))
        elif event.kind == "insight":
            insight: Insight = event.data["insight"]
            insights.append(insight)
            await reporter.write(StatusUpdate(insights=insights))
            reporter.event("Insight", f"[{insight.confidence.value}] {insight.summary}"[:1000])

    return listen


async def _finish(
    ref: InvestigationRef,
    store: NotificationResources,
    result: RunResult,
    seconds: float,
    reporter: Reporter,
) -> None:
    try:
        await store.release()
    except KubeError as exc:
        log.warning("could not release notifications of %s/%s: %s", ref.namespace, ref.name, exc)
    _observe(ref, result, seconds)
    final = st.finished(result)
    await reporter.write(final)
    phase = st.OUTCOME_PHASE[result.outcome]
    reporter.event(phase.value, final.message or "", phase is not st.Phase.SUCCEEDED)


async def involved_nodes(
    agents: AgentOperators | None, spec: InvestigationSpec
) -> list[str] | None:
    """The nodes an Investigation looks at (named, selected, or running the namespace's
    pods): their node-level Notifications are in scope. None: every node."""
    if agents is None:
        return spec.nodes or None
    try:
        return await agents.scope()
    except KubeError as exc:
        log.warning("cannot tell which nodes are involved, using all: %s", exc)
        return spec.nodes or None


def build_operators(
    ctx: OperatorContext,
    ref: InvestigationRef,
    store: NotificationResources,
    agents: AgentOperators | None,
) -> Operators:
    """Where this Investigation's skills run: cluster skills here, node skills on agents."""
    cluster = InProcessOperators(ctx.skills_for(ref.namespace), store, source="cluster")
    return cluster if agents is None else CompositeOperators([cluster, agents])


async def _cancelled(ref: InvestigationRef, message: str, reporter: Reporter) -> None:
    try:
        await reporter.write(st.cancelled(message))
    except KubeError as exc:
        if not exc.not_found:
            raise
    reporter.event("Cancelled", message)
    metrics.INVESTIGATIONS.labels(ref.namespace, st.Phase.CANCELLED.value).inc()


def _observe(ref: InvestigationRef, result: RunResult, seconds: float) -> None:
    phase = st.OUTCOME_PHASE[result.outcome].value
    metrics.INVESTIGATIONS.labels(ref.namespace, phase).inc()
    metrics.INVESTIGATION_DURATION.labels(ref.namespace, result.outcome.value).observe(seconds)
    metrics.INVESTIGATION_ITERATIONS.labels(ref.namespace).observe(result.iterations)
    usage = result.usage
    metrics.LLM_CALLS.labels(result.analyst, result.outcome.value).inc(usage.llm_calls)
    metrics.LLM_TOKENS.labels(result.analyst, "prompt").inc(usage.prompt_tokens)
    metrics.LLM_TOKENS.labels(result.analyst, "completion").inc(usage.completion_tokens)
    metrics.LLM_COST.labels(result.analyst).inc(usage.cost)


async def _patch(ctx: OperatorContext, ref: InvestigationRef, update: StatusUpdate) -> None:
    status = st.render(update, ref.generation)
    await ctx.objects.patch_status(INVESTIGATIONS, ref.namespace, ref.name, status)
