"""The causal evidence graph's parts: objects, the edges between them, findings, causes.

An object is a :class:`Ref` (kind, namespace, name) — a Kubernetes object, or one that
is referenced and does not exist. Edges are the relations Kubernetes and Linux define
(a pod runs on a node, mounts a claim, calls a Service; a node's PIDs are consumed by a
pod). Findings are what the evidence says about one object (a waiting reason, an exit
code, a log error, a node condition, a cgroup's use). :mod:`kubelens.graph.causes`
walks from the symptoms along the edges to the deepest failing object that explains
them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from kubelens.models import Subject


@dataclass(frozen=True, order=True)
class Ref:
    """One object of the graph, by identity: ``Pod/shop/api-7d9f``, ``Node/ip-10-0-1-2``."""

    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        return (
            f"{self.kind}/{self.namespace}/{self.name}"
            if self.namespace
            else (f"{self.kind}/{self.name}")
        )

    def subject(self) -> Subject:
        return Subject(kind=self.kind, name=self.name, namespace=self.namespace)


class Relation(StrEnum):
    """How one object depends on another, worded from the dependent's side."""

    OWNS = "owns"  # Deployment → ReplicaSet → Pod, StatefulSet/DaemonSet/Job → Pod, CronJob → Job
    SCALED_BY = "is scaled by"  # a workload → the HPA that sets its replicas
    RUNS_ON = "runs on"  # Pod → Node
    MOUNTS = "mounts"  # Pod → PVC / ConfigMap / Secret (volumes)
    READS = "reads"  # Pod → ConfigMap / Secret (env, envFrom)
    BOUND_TO = "is bound to"  # PVC → PV
    USES_CLASS = "uses"  # PVC → StorageClass
    CALLS = "calls"  # Pod → Service (env, args, config keys, hosts in its log errors)
    RESOLVES_VIA = "resolves names via"  # Pod → the cluster DNS Service
    BACKED_BY = "is backed by"  # Service → Pod (its endpoints)
    CONSUMED_BY = "has its capacity used by"  # Node → the pod using a shared resource
    ATTACHED_TO = "is attached to"  # PV → the Node its disk is attached to (volumesAttached)
    PROTECTS = "protects"  # PodDisruptionBudget → the pods its selector selects


#: Relations a symptom is explained through, in the order a walk prefers them.
DEPENDENCIES: tuple[Relation, ...] = tuple(Relation)


@dataclass(frozen=True)
class Edge:
    source: Ref
    relation: Relation
    target: Ref
    #: What established the edge (``env DB_HOST``, ``log: connection refused``…).
    why: str = ""


@dataclass(frozen=True)
class Finding:
    """One thing the evidence says about an object."""

    ref: Ref
    #: A stable code for the kind of finding (``CrashLoopBackOff``, ``exit:137``,
    #: ``log:connection_refused``, ``node:pids``), for joining and tests.
    code: str
    #: The observation, with its numbers and quoted messages.
    text: str
    #: The object is not doing its job (a symptom, or a link of a chain).
    failing: bool = True
    #: The object is broken for a reason of its own that this finding states (a claim's
    #: class does not exist, an image tag is missing, the node's PIDs are used up): a walk
    #: stops here unless the finding itself points further.
    conclusive: bool = False
    #: Objects this finding points at (the host a log error names, the ConfigMap a
    #: config error names): a walk follows these first.
    implicates: tuple[Ref, ...] = ()
    #: What the finding means, in Kubernetes' and Linux's terms (for the hypothesis).
    meaning: str = ""


@dataclass
class Graph:
    """Objects (``None`` for one that is referenced but does not exist), edges, findings."""

    objects: dict[Ref, Mapping[str, Any] | None] = field(default_factory=dict)
    #: The clock findings are judged on ("recent"): the newest time the evidence carries.
    now: datetime | None = None
    findings: dict[Ref, list[Finding]] = field(default_factory=dict)
    _out: dict[Ref, list[Edge]] = field(default_factory=dict)
    _in: dict[Ref, list[Edge]] = field(default_factory=dict)

    def add(self, ref: Ref, obj: Mapping[str, Any] | None) -> None:
        if obj is not None or ref not in self.objects:
            self.objects[ref] = obj

    def link(self, source: Ref, relation: Relation, target: Ref, why: str = "") -> None:
        if source == target:
            return
        if any(e.target == target and e.relation is relation for e in self._out.get(source, [])):
            return
        edge = Edge(source, relation, target, why)
        self._out.setdefault(source, []).append(edge)
        self._in.setdefault(target, []).append(edge)
        self.objects.setdefault(target, None)

    def note(self, finding: Finding) -> None:
        existing = self.findings.setdefault(finding.ref, [])
        if all(f.code != finding.code or f.text != finding.text for f in existing):
            existing.append(finding)
        self.objects.setdefault(finding.ref, None)

    def out(self, ref: Ref) -> list[Edge]:
        return self._out.get(ref, [])

    def into(self, ref: Ref) -> list[Edge]:
        return self._in.get(ref, [])

    def exists(self, ref: Ref) -> bool:
        return self.objects.get(ref) is not None

    def failing(self, ref: Ref) -> list[Finding]:
        return [f for f in self.findings.get(ref, []) if f.failing]

    def edges(self) -> Iterator[Edge]:
        for edges in self._out.values():
            yield from edges

    def owner(self, ref: Ref) -> Ref | None:
        """The controller that owns ``ref`` (a pod's ReplicaSet, a Job's CronJob)."""
        return next((e.source for e in self.into(ref) if e.relation is Relation.OWNS), None)

    def node_of(self, pod: Ref) -> Ref | None:
        """The node a pod runs on (its RUNS_ON edge)."""
        return next((e.target for e in self.out(pod) if e.relation is Relation.RUNS_ON), None)

    def workload(self, ref: Ref) -> Ref:
        """The top of ``ref``'s owner chain (a pod's Deployment), or ``ref`` itself."""
        seen = {ref}
        while (parent := self.owner(ref)) is not None and parent not in seen:
            seen.add(parent)
            ref = parent
        return ref

    def of_kind(self, kind: str) -> list[Ref]:
        return [ref for ref in self.objects if ref.kind == kind]
