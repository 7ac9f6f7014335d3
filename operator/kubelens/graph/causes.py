"""From symptoms to causes: follow the edges to the deepest failing object that explains.

A symptom is a failing object the question is about: what the alert names, and the
investigated namespace's failing workloads, Services, claims and Jobs. From each one the
walk follows dependency edges (a workload's pods, a pod's node, claims, configuration
and the Services it calls, a Service's backends, a node's heaviest consumer) to objects
that are failing too. A finding that states its own reason (``conclusive``) stops the
walk, except along what it implicates; an edge a finding points at is taken before a
merely structural one. One :class:`Cause` per causal chain: symptoms on another chain,
or explained by the same end, are absorbed by it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubelens.graph.model import Edge, Finding, Graph, Ref, Relation
from kubelens.models import Confidence
from kubelens.skills.cluster.common import condition, pressures, section

#: Kinds a symptom can be: what users run and alert on.
SYMPTOM_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
    "Service",
    "PersistentVolumeClaim",
    "Pod",
    "PodDisruptionBudget",
)
MAX_DEPTH = 8


@dataclass(frozen=True)
class Hop:
    ref: Ref
    #: The edge that led here from the previous hop (None for the symptom).
    via: Edge | None
    findings: tuple[Finding, ...]

    def observation(self) -> str:
        failing = [f.text for f in self.findings if f.failing][:2]
        explaining = [f.text for f in self.findings if f.conclusive and not f.failing][:2]
        return "; ".join(failing + explaining) or "failing"


def stated(findings: Iterable[Finding]) -> bool:
    """An object that fails and whose findings state why (a conclusive finding: its own
    failure's reason, or a fact that explains it, such as CPU throttling at its limit)."""
    findings = list(findings)
    return any(f.failing for f in findings) and any(f.conclusive for f in findings)


@dataclass
class Cause:
    symptom: Ref
    hops: list[Hop]
    confidence: Confidence
    #: Other symptoms the same end explains.
    also: list[Ref] = field(default_factory=list)
    ruled_out: list[str] = field(default_factory=list)

    @property
    def end(self) -> Hop:
        return self.hops[-1]

    @property
    def depth(self) -> int:
        return len(self.hops) - 1

    @property
    def concluded(self) -> bool:
        """The chain ends in a finding that states its own reason, or leaves the symptom's
        own objects (a dependency is failing: the chain says where, if not why)."""
        outside = any(h.via is not None and h.via.relation is not Relation.OWNS for h in self.hops)
        return outside or stated(self.end.findings)

    def refs(self) -> list[Ref]:
        return [h.ref for h in self.hops] + self.also


def symptoms(graph: Graph, namespace: str, named: Iterable[Ref] = ()) -> list[Ref]:
    """Failing objects worth explaining: those the question names first, then the
    namespace's, each at the top of its owner chain (a pod's Deployment)."""
    found: list[Ref] = []
    for ref in list(named) + sorted(graph.findings):
        if ref.namespace != namespace and ref not in named:
            continue
        if ref.kind not in SYMPTOM_KINDS or not graph.failing(ref):
            continue
        top = _failing_top(graph, ref)
        if top not in found:
            found.append(top)
    return found


def mentioned(graph: Graph, namespace: str, text: str) -> list[Ref]:
    """Objects of ``namespace`` a text names as a whole word (an alert's reason)."""
    lowered = text.lower()
    return [
        ref
        for ref in graph.objects
        if ref.kind in SYMPTOM_KINDS
        and ref.namespace == namespace
        and re.search(rf"(?<![\w-]){re.escape(ref.name.lower())}(?![\w-])", lowered)
    ]


def _failing_top(graph: Graph, ref: Ref) -> Ref:
    top = ref
    while (owner := graph.owner(top)) is not None and graph.failing(owner):
        top = owner
    return top


def root_causes(graph: Graph, namespace: str, named: Iterable[Ref] = ()) -> list[Cause]:
    named = list(named)
    walker = _Walker(graph)
    causes: list[Cause] = []
    for symptom in symptoms(graph, namespace, named):
        if any(symptom in c.refs() or _inside(graph, symptom, c) for c in causes):
            continue
        hops = walker.chain(symptom)
        same = next((c for c in causes if c.end.ref == hops[-1].ref), None)
        if same is not None:
            same.also.append(symptom)
            continue
        causes.append(Cause(symptom, hops, _confidence(hops)))
    for cause in causes:
        cause.ruled_out = ruled_out(graph, cause)
    return _absorb(causes)


def _inside(graph: Graph, ref: Ref, cause: Cause) -> bool:
    """``ref`` is owned by an object of the chain (a pod of a Deployment on it)."""
    chain = {h.ref for h in cause.hops}
    seen = {ref}
    while (owner := graph.owner(ref)) is not None and owner not in seen:
        if owner in chain:
            return True
        seen.add(owner)
        ref = owner
    return False


def _absorb(causes: list[Cause]) -> list[Cause]:
    """A chain whose symptom lies on a longer chain is that chain's."""
    kept: list[Cause] = []
    for cause in sorted(causes, key=lambda c: -c.depth):
        host = next((k for k in kept if cause.symptom in [h.ref for h in k.hops]), None)
        if host is not None:
            host.also += [r for r in [cause.symptom, *cause.also] if r not in host.refs()]
        else:
            kept.append(cause)
    return kept


class _Walker:
    """Depth-first, each object's best continuation computed once (graphs of a few
    thousand objects walk in milliseconds)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._best: dict[Ref, list[Hop]] = {}

    def chain(self, start: Ref) -> list[Hop]:
        return self._walk(start, None, frozenset({start}), 0)

    def _walk(self, ref: Ref, via: Edge | None, seen: frozenset[Ref], depth: int) -> list[Hop]:
        findings = tuple(self.graph.findings.get(ref, []))
        here = Hop(ref, via, findings)
        if depth >= MAX_DEPTH:
            return [here]
        if ref not in self._best:
            best: list[Hop] = []
            for edge in self._next(ref, findings, seen):
                tail = self._walk(edge.target, edge, seen | {edge.target}, depth + 1)
                if not self.graph.failing(tail[-1].ref):
                    continue  # passed through healthy objects and found nothing failing
                if _score(tail) > _score(best):
                    best = tail
            self._best[ref] = best
        tail = [h for h in self._best[ref] if h.ref not in seen]
        return [here, *tail] if len(tail) == len(self._best[ref]) else [here]

    def _next(self, ref: Ref, findings: tuple[Finding, ...], seen: frozenset[Ref]) -> list[Edge]:
        implicated = {r for f in findings for r in f.implicates}
        stops = stated(findings)
        edges = []
        # A healthy object is entered only where a finding points (a caller's timeouts
        # name a Service that has endpoints); from there the walk goes on to its backends
        # and their node, and keeps the chain only if it reaches something failing.
        passing = not self.graph.failing(ref)
        for edge in self.graph.out(ref):
            if edge.target in seen:
                continue
            through = edge.target in implicated or (
                passing and edge.relation in (Relation.BACKED_BY, Relation.RUNS_ON)
            )
            if not self.graph.failing(edge.target) and not through:
                continue

            # who uses up a node's resource explains the node's state: always worth a hop
            if (
                stops
                and edge.target not in implicated
                and edge.relation is not Relation.CONSUMED_BY
            ):
                continue
            if (
                edge.relation is Relation.RUNS_ON
                and edge.target not in implicated
                and not _node_wide(self.graph, edge.target)
            ):
                continue
            edges.append(edge)
        edges.sort(key=lambda e: (e.target not in implicated, list(Relation).index(e.relation)))
        return edges


def _node_wide(graph: Graph, node: Ref) -> bool:
    """A node failure that reaches every pod on it (not ready, short of a shared resource)."""
    return any(
        f.code == "NotReady" or f.code.startswith("node:") or f.code.endswith("Pressure")
        for f in graph.failing(node)
    )


def _score(hops: list[Hop]) -> tuple[int, int, int]:
    if not hops:
        return (-1, 0, 0)
    end = hops[-1]
    conclusive = stated(end.findings)
    backed = sum(1 for h in hops if h.via is not None and h.via.why.startswith("log"))
    return (int(conclusive), len(hops), backed)


def _confidence(hops: list[Hop]) -> Confidence:
    end = hops[-1]
    conclusive = stated(end.findings)
    if conclusive:
        # ownership hops (Deployment → ReplicaSet → Pod) add no doubt; dependency hops do
        dependencies = sum(
            1 for h in hops if h.via is not None and h.via.relation is not Relation.OWNS
        )
        return Confidence.HIGH if dependencies <= 5 else Confidence.MEDIUM

    if len(hops) > 1:
        return Confidence.MEDIUM
    return Confidence.LOW


def ruled_out(graph: Graph, cause: Cause) -> list[str]:
    """Plausible alternatives the evidence excludes: healthy nodes and dependencies."""
    out: list[str] = []
    on_chain = {h.ref for h in cause.hops}
    for hop in cause.hops:
        for edge in graph.out(hop.ref):
            target = edge.target
            if target in on_chain or graph.failing(target) or not graph.exists(target):
                continue
            text = _healthy(edge.relation, target, graph.objects.get(target) or {})
            if text and text not in out:
                out.append(text)
    return out[:4]


def _healthy(relation: Relation, target: Ref, obj: Mapping[str, Any]) -> str | None:
    """What the dependency's own status shows healthy (never inferred from the absence of
    a finding: a claim waiting for its first consumer is not Bound)."""
    if relation is Relation.RUNS_ON:
        ready = (condition(obj, "Ready") or {}).get("status") == "True"
        if not ready or pressures(obj):
            return None
        return f"node {target.name} is Ready with no memory, disk or PID pressure"
    if relation in (Relation.CALLS, Relation.RESOLVES_VIA):
        return f"Service {target.namespace}/{target.name} has ready endpoints"
    bound = section(obj, "status").get("phase") == "Bound"
    if relation is Relation.MOUNTS and target.kind == "PersistentVolumeClaim" and bound:
        return f"claim {target.name} is Bound"
    return None


def describe(graph: Graph, ref: Ref) -> Mapping[str, Any]:
    """One object's findings and its dependencies' health, for the graph skill."""
    return {
        "object": str(ref),
        "exists": graph.exists(ref),
        "findings": [f.text for f in graph.findings.get(ref, []) if f.failing],
        "depends_on": [
            {
                "relation": e.relation.value,
                "object": str(e.target),
                "failing": bool(graph.failing(e.target)),
                "why": e.why,
            }
            for e in graph.out(ref)
        ],
    }
