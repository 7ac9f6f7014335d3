"""``kubelens investigate``: the coordinator on this machine, no cluster or key needed.

It samples the node skills a few times (so counters have deltas and the detector has
readings), then runs the same :class:`~kubelens.coordinator.ToolLoop` the operator
runs, with in-process ports. With ``--namespace`` and a kubeconfig it adds the cluster
skills for that namespace.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Any

from kubelens.config import Settings
from kubelens.coordinator import Listener, ModelClient, RunOptions, ToolLoop, build_model
from kubelens.detection import AnomalyDetector
from kubelens.models import RunResult
from kubelens.ports.notifications import InMemoryNotificationStore
from kubelens.ports.operators import InProcessOperators
from kubelens.skills import host_paths, node_skills
from kubelens.skills.base import Skill
from kubelens.skills.run import sweep


class UnknownSkillError(ValueError):
    """``--skills`` named a skill that does not exist here."""


async def sample(
    skills: Sequence[Skill],
    detector: AnomalyDetector,
    store: InMemoryNotificationStore,
    samples: int,
    interval: float,
) -> None:
    """Feed ``samples`` snapshots of each skill to the detector, ``interval`` apart.

    A skill that cannot read here says so when it is invoked, so failures are not kept.
    """
    for index in range(samples):
        for run in await sweep(skills, detector):
            await store.add(run.raised)
        if index + 1 < samples and interval > 0:
            await asyncio.sleep(interval)


def select_skills(available: Sequence[Skill], wanted: Sequence[str]) -> list[Skill]:
    if not wanted:
        return list(available)
    by_name = {skill.name: skill for skill in available}
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise UnknownSkillError(
            f"unknown skill(s): {', '.join(unknown)}; available: {', '.join(sorted(by_name))}"
        )
    return [by_name[name] for name in wanted]


async def investigate(settings: Settings, listener: Listener | None = None) -> RunResult:
    node = socket.gethostname()
    available: list[Skill] = []
    if not settings.namespace or settings.node_skills:
        available.extend(node_skills(host_paths(settings)))
    if settings.namespace:
        from kubelens.cluster import cluster_skills_for

        available.extend(cluster_skills_for(settings))
    skills = select_skills(available, settings.skills)
    store = InMemoryNotificationStore()
    detector = AnomalyDetector(node=node)
    await sample(skills, detector, store, settings.samples, settings.sample_interval)
    context: dict[str, Any] = {"reason": settings.reason, "node": node}
    if settings.namespace:
        context["namespace"] = settings.namespace
    return await run_in_process(settings, skills, store, detector, node, context, listener)


async def run_in_process(
    settings: Settings,
    skills: Sequence[Skill],
    store: InMemoryNotificationStore,
    detector: AnomalyDetector,
    source: str,
    context: dict[str, Any],
    listener: Listener | None = None,
    model: ModelClient | None = None,
) -> RunResult:
    """The coordinator over skills run in this process (investigate and replay)."""
    loop = ToolLoop(
        model or build_model(settings),
        store,
        InProcessOperators(skills, store, source=source, detector=detector),
        compaction_max_tokens=settings.compaction_max_tokens,
        compaction_keep_last=settings.compaction_keep_last,
    )
    options = RunOptions(
        max_iterations=settings.max_iterations,
        timeout=settings.timeout,
        skills=[skill.name for skill in skills],
        listener=listener,
    )
    return await loop.run(context, options)
