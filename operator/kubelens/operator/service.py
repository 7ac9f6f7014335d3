"""Running one Investigation: validate, wait in the namespace's line, investigate, report.

The kopf handler hands each Investigation here; this is plain asyncio code with
explicit arguments, so it reads (and is tested) without kopf's machinery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubelens import metrics
from kubelens.agent.client import AgentDirectory, AgentOperators, CompositeOperators
from kubelens.config import Settings
from kubelens.coordinator import Coordinator, build_model
from kubelens.coordinator.core import RunEvent, RunOptions
from kubelens.coordinator.ports import Operators
from kubelens.embedded import InProcessOperators
from kubelens.kube import GROUP, INVESTIGATIONS, VERSION, CustomObjects, Events, KubeError
from kubelens.models import Insight, RunResult
from kubelens.notifications import NotificationResources
from kubelens.operator import status as st
from kubelens.operator.queue import Queues
from kubelens.operator.spec import InvalidSpecError, InvestigationSpec, parse_spec
from kubelens.skills import NODE_SKILLS
from kubelens.skills.base import Skill
from kubelens.skills.cluster import KubernetesSource, cluster_skill_names, cluster_skills

log = logging.getLogger(__name__)

#: Event poster: (reason, message, warning?) → posts a Kubernetes Event on the object.
PostEvent = Callable[[str, str, bool], Awaitable[None]]


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
    skills_factory: Callable[[str], list[Skill]] | None = None
    #: The node agents (None: node skills are not offered, e.g. tests without agents).
    agents: AgentDirectory | None = None

    def skills_for(self, namespace: str) -> list[Skill]:
        if self.skills_factory is not None:
            return self.skills_factory(namespace)
        return cluster_skills(KubernetesSource(self.api), namespace)

    @property
    def known_skills(self) -> set[str]:
        return cluster_skill_names() | {skill.name for skill in NODE_SKILLS}


async def run_investigation(
    ctx: OperatorContext,
    ref: InvestigationRef,
    spec: Mapping[str, Any],
    current_status: Mapping[str, Any],
    stopped: Callable[[], Awaitable[Any]],
    post_event: PostEvent,
    deleted: Callable[[], bool] = lambda: True,
) -> None:
    """Drive one Investigation to a terminal phase (or return if it already is).

    ``stopped`` resolves when the handler must stop; ``deleted`` then tells a deletion
    (cancel and report) from an operator shutdown (stop quietly: the next operator
    process resumes the Investigation where it was)."""
    if current_status.get("phase") in st.TERMINAL:
        return
    settings = ctx.settings
    try:
        parsed, model_name = parse_spec(
            dict(spec), ctx.known_skills, settings.model, settings.model_allowlist
        )
    except InvalidSpecError as exc:
        await _patch(ctx, ref, st.invalid(str(exc), ref.generation))
        await post_event("InvalidSpec", str(exc), True)
        metrics.INVESTIGATIONS.labels(ref.namespace, st.Phase.FAILED.value).inc()
        return
    model = build_model(settings, model_name)

    if current_status.get("phase") != st.Phase.RUNNING.value:
        ctx.queues[ref.namespace].join(ref.queue_key)
        await _patch(ctx, ref, st.pending(0, ref.generation, model.name))
        await post_event("Queued", f"queued for namespace {ref.namespace}'s coordinator", False)
        metrics.INVESTIGATIONS.labels(ref.namespace, st.Phase.PENDING.value).inc()

    async def report_position(position: int) -> None:
        await _patch(
            ctx,
            ref,
            {"queuePosition": position, "message": f"waiting: {position} investigation(s) ahead"},
        )

    cancel = asyncio.Event()
    started = asyncio.Event()

    async def wait_and_run() -> None:
        queue = ctx.queues[ref.namespace]
        async with queue.turn(ref.queue_key, report_position, not_before=ctx.ready_at):
            started.set()
            await _run(ctx, ref, parsed, model, current_status, cancel, post_event, deleted)

    work = asyncio.ensure_future(wait_and_run())
    stop = asyncio.ensure_future(stopped())
    try:
        await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            work.result()
            return
        # Deleted: a running investigation stops itself and reports; a waiting one
        # leaves the line here.
        cancel.set()
        if started.is_set():
            await work
            return
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        if deleted():
            await _cancelled(ctx, ref, "deleted while waiting in the queue", post_event)
    finally:
        stop.cancel()
        if not work.done():
            work.cancel()


async def _run(
    ctx: OperatorContext,
    ref: InvestigationRef,
    spec: InvestigationSpec,
    model: Any,
    current_status: Mapping[str, Any],
    cancel: asyncio.Event,
    post_event: PostEvent,
    deleted: Callable[[], bool],
) -> None:
    prior = [Insight.model_validate(i) for i in current_status.get("insights") or []]
    await _patch(ctx, ref, st.running(ref.generation, model.name))
    await post_event("Started", f"investigating with {model.name}", False)
    metrics.INVESTIGATIONS.labels(ref.namespace, st.Phase.RUNNING.value).inc()

    agents = (
        ctx.agents.operators(ref.namespace, spec.nodes, spec.node_selector)
        if ctx.agents is not None
        else None
    )
    store = NotificationResources(
        ctx.objects,
        investigation=ref.name,
        namespace=ref.namespace,
        install_namespace=ctx.settings.namespace or ref.namespace,
        nodes=await involved_nodes(agents, spec),
    )
    operators = build_operators(ctx, ref, store, agents)
    coordinator = Coordinator(
        model=model,
        store=store,
        operators=operators,
        compaction_max_tokens=ctx.settings.compaction_max_tokens,
        compaction_keep_last=ctx.settings.compaction_keep_last,
    )
    insights: list[Insight] = list(prior)

    async def listen(event: RunEvent) -> None:
        if event.kind == "tool":
            metrics.TOOL_CALLS.labels(event.data["tool"], event.data["status"]).inc()
        elif event.kind == "iteration":
            await _patch(ctx, ref, {"iteration": event.iteration})
        elif event.kind == "insight":
            insight: Insight = event.data["insight"]
            insights.append(insight)
            # Written at once, so a restart resumes with it and never writes it twice.
            await _patch(ctx, ref, st.insight_fields(insights))
            await post_event(
                "Insight", f"[{insight.confidence.value}] {insight.summary}"[:1000], False
            )

    context: dict[str, Any] = {
        "reason": spec.reason,
        "namespace": ref.namespace,
        "investigation": ref.name,
        **spec.context,
    }
    if spec.notifications:
        context["seedNotifications"] = spec.notifications
    if spec.nodes:
        context["nodes"] = spec.nodes
    started = time.monotonic()
    result = await coordinator.run(
        context,
        listener=listen,
        prior_insights=prior,
        cancel=cancel,
        options=RunOptions(
            max_iterations=spec.max_iterations,
            timeout=float(spec.timeout_seconds),
            skills=spec.skills or None,
            token_budget=spec.budget.max_tokens,
            cost_budget=spec.budget.max_cost,
            investigation=ref.name,
        ),
    )
    if cancel.is_set() and not deleted():
        # The operator is shutting down: keep the phase and the held notifications, so
        # the next operator process resumes this run and re-reads what it was analysing.
        await _patch(ctx, ref, {"message": "operator restarting; the investigation resumes"})
        return
    try:
        await store.release()
    except KubeError as exc:
        log.warning("could not release notifications of %s/%s: %s", ref.namespace, ref.name, exc)
    _observe(ref, result, time.monotonic() - started)
    final = st.finished(result, ref.generation)
    await _patch(ctx, ref, final)
    await post_event(final["phase"], final["message"], final["phase"] != st.Phase.SUCCEEDED.value)


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


async def _cancelled(
    ctx: OperatorContext, ref: InvestigationRef, message: str, post_event: PostEvent
) -> None:
    try:
        await _patch(ctx, ref, st.cancelled(message, ref.generation))
    except KubeError as exc:
        if not exc.not_found:
            raise
    await post_event("Cancelled", message, False)
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


async def _patch(ctx: OperatorContext, ref: InvestigationRef, status: Mapping[str, Any]) -> None:
    await ctx.objects.patch_status(INVESTIGATIONS, ref.namespace, ref.name, status)
