"""Cluster skills: read-only views of the Kubernetes API (pods, events, logs, nodes,
workloads, services), each reading through a :class:`ClusterSource`."""

from __future__ import annotations

from kubelens.skills.base import Skill
from kubelens.skills.cluster.events import EventsSkill
from kubelens.skills.cluster.logs import LogsSkill
from kubelens.skills.cluster.nodes import NodesSkill
from kubelens.skills.cluster.pods import PodsSkill
from kubelens.skills.cluster.services import ServicesSkill
from kubelens.skills.cluster.source import (
    ClusterSource,
    ClusterSourceError,
    KubernetesSource,
    StaticSource,
)
from kubelens.skills.cluster.workloads import WorkloadsSkill

CLUSTER_SKILLS: tuple[type[Skill], ...] = (
    PodsSkill,
    EventsSkill,
    LogsSkill,
    NodesSkill,
    WorkloadsSkill,
    ServicesSkill,
)


def cluster_skill_names() -> set[str]:
    """Names of every cluster skill, the graph's included."""
    from kubelens.graph.skill import GraphSkill

    return {skill.name for skill in CLUSTER_SKILLS} | {GraphSkill.name}


def cluster_skills(source: ClusterSource, namespace: str | None = None) -> list[Skill]:
    """Every cluster skill, reading ``source`` within ``namespace`` (None: all)."""
    # The graph skill builds on these skills' helpers (kubelens.graph imports this
    # package), so it is imported when the skills are made, not with the package.
    from kubelens.graph.skill import GraphSkill

    return [
        PodsSkill(source, namespace),
        EventsSkill(source, namespace),
        LogsSkill(source, namespace),
        NodesSkill(source, namespace),
        WorkloadsSkill(source, namespace),
        ServicesSkill(source, namespace),
        GraphSkill(source, namespace),
    ]


__all__ = [
    "CLUSTER_SKILLS",
    "ClusterSource",
    "ClusterSourceError",
    "EventsSkill",
    "KubernetesSource",
    "LogsSkill",
    "NodesSkill",
    "PodsSkill",
    "ServicesSkill",
    "StaticSource",
    "WorkloadsSkill",
    "cluster_skill_names",
    "cluster_skills",
]
