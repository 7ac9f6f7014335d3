"""Causal chains of the evidence graph as insights: one per chain, hops as evidence.

The summary names the symptom and the cause; the evidence lists each hop with the
observation that proves it and the alternatives the evidence rules out; subjects name
both ends. Ids derive from the chain's content, so two replays of one incident produce
the same insights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from kubelens.analyst.evidence import SUMMARY_CAP, Analysis
from kubelens.graph.causes import SYMPTOM_KINDS, Cause, Hop, mentioned
from kubelens.graph.model import Graph, Ref
from kubelens.models import CorrelationType, Insight, Subject, utcnow

_STEPS: dict[str, str] = {
    "missing": "Create the missing object, or point the reference at one that exists.",
    "missing-key": "Add the key to the ConfigMap or Secret, or fix the key the pod references.",
    "ImagePullBackOff": "Check the image reference (repository and tag) and the pull secret.",
    "OOMKilled": "Compare the container's memory use with its limit; raise it or fix the growth.",
    "Unschedulable": "Compare the pod's requests, tolerations and affinity with the nodes.",
    "uses:pids": "Set a pids limit (podPidsLimit) and fix the leak in the pod that holds the PIDs.",
    "uses:memory": "Give the pod that fills the node a memory limit, or move it.",
    "uses:cpu": "Give the pod that uses the node's CPUs a CPU limit, or move it.",
    "NoEndpoints": "Make the Service's selector match the backend pods' labels.",
    "ScaledToZero": "Scale the workload behind the Service up (kubectl scale), or find who "
    "scaled it down.",
    "TargetPortMismatch": "Set the Service's targetPort to the port the pods listen on (their "
    "containerPort or its name).",
    "AtMaxReplicas": "Raise maxReplicas (or the capacity behind it) if the load is legitimate.",
    "NotReady": "Check the node's kubelet and runtime (journalctl -u kubelet).",
    "FailedCreate": "Check the ResourceQuota or admission policy that refuses the pods.",
}


def insight_for(graph: Graph, cause: Cause, analysis: Analysis) -> Insight:
    symptom, end = cause.hops[0], cause.end
    summary = _summary(cause)
    hypothesis = _hypothesis(end) + _mechanism(cause)
    subjects = _subjects(cause)
    return Insight(
        id=_content_id(cause),
        notification_ids=claimed_notifications(graph, cause, analysis),
        correlation_type=CorrelationType.CAUSAL if cause.depth else CorrelationType.SYMPTOMATIC,
        summary=summary,
        matched_observations=[f"{_name(h.ref)}: {h.observation()}" for h in cause.hops],
        hypothesis_grounded=True,
        root_cause_hypothesis=hypothesis,
        confidence=cause.confidence,
        created_at=graph.now or utcnow(),
        evidence=_evidence(cause),
        next_steps=[_STEPS[f.code] for f in end.findings if f.code in _STEPS][:2]
        or [f"Inspect {_name(end.ref)} (describe, events, logs)."],
        subjects=subjects if symptom.ref != end.ref else subjects[:1],
    )


def _name(ref: Ref) -> str:
    where = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
    return f"{ref.kind} {where}"


def _summary(cause: Cause) -> str:
    symptom, end = cause.hops[0], cause.end
    if cause.depth == 0:
        text = f"{_name(symptom.ref)}: {symptom.observation()}"
    else:
        middle = " → ".join(_name(h.ref) for h in cause.hops[1:-1])
        path = f" (through {middle})" if middle else ""
        observed = end.observation()
        named = f"{end.ref.kind} {end.ref.name}"
        because = observed if observed.startswith(named) else f"{_name(end.ref)}: {observed}"
        text = f"{_name(symptom.ref)} is failing ({symptom.observation()}) because {because}{path}"

    if cause.also:
        text += f". Also explains: {', '.join(_name(r) for r in cause.also[:4])}"
    return text if len(text) <= SUMMARY_CAP else text[: SUMMARY_CAP - 1] + "…"


def _hypothesis(end: Hop) -> str:
    # the stated reason first, then what the failure itself means
    ordered = sorted(end.findings, key=lambda f: not f.conclusive)
    meanings = [f.meaning for f in ordered if (f.failing or f.conclusive) and f.meaning]

    texts = [f.text for f in end.findings if f.failing]
    cause = (
        "; ".join(dict.fromkeys(meanings))
        or "it is failing for a reason the evidence does not show"
    )
    return f"{_name(end.ref)}: {cause} ({'; '.join(texts[:2])})"


def _mechanism(cause: Cause) -> str:
    """How the end reaches the symptom: the first object between them that says why."""
    for hop in cause.hops[1:-1]:
        meanings = [f.meaning for f in hop.findings if f.failing and f.meaning]
        if meanings:
            return f"; so {_name(hop.ref)}: {meanings[0]}"
    return ""


def _evidence(cause: Cause) -> list[str]:

    lines = []
    for hop in cause.hops:
        if hop.via is None:
            lines.append(f"{_name(hop.ref)}: {hop.observation()}")
        else:
            why = f" [{hop.via.why}]" if hop.via.why else ""
            lines.append(f"→ {hop.via.relation.value} {_name(hop.ref)}{why}: {hop.observation()}")
    lines += [f"ruled out: {text}" for text in cause.ruled_out]
    return lines


def _subjects(cause: Cause) -> list[Subject]:
    refs = [cause.hops[0].ref, cause.end.ref, *cause.also]
    refs += [h.ref for h in cause.hops[1:-1] if h.ref.kind in SYMPTOM_KINDS]
    out: list[Subject] = []
    for ref in refs:
        if ref.subject() not in out:
            out.append(ref.subject())
    return out[:8]


def _content_id(cause: Cause) -> str:
    parts = [str(h.ref) for h in cause.hops] + [f.code for f in cause.end.findings]
    return "ins-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def claimed_notifications(graph: Graph, cause: Cause, analysis: Analysis) -> list[str]:
    """Notifications about an object of the chain (or a pod a chain workload owns)."""
    refs = set(cause.refs())
    for ref in list(refs):
        refs |= _descendants(graph, ref)
    pods = {(r.namespace, r.name) for r in refs if r.kind == "Pod"}
    nodes = {r.name for r in refs if r.kind == "Node"}
    ids: list[str] = []
    for item in analysis.items:
        if (
            (
                item.pod is not None
                and (
                    item.pod in pods
                    or (None, item.pod[1]) in pods
                    or any(p[1] == item.pod[1] for p in pods)
                )
            )
            or (item.pod is None and item.node in nodes)
            or (
                item.subject is not None
                and Ref(item.subject.kind, item.subject.namespace, item.subject.name) in refs
            )
        ):
            ids.append(item.id)
    return list(dict.fromkeys(ids))


def _descendants(graph: Graph, ref: Ref) -> set[Ref]:
    from kubelens.graph.model import Relation

    found: set[Ref] = set()
    frontier = [ref]
    while frontier:
        current = frontier.pop()
        for edge in graph.out(current):
            if edge.relation is Relation.OWNS and edge.target not in found:
                found.add(edge.target)
                frontier.append(edge.target)
    return found


def named_refs(graph: Graph, context: Mapping[str, Any]) -> list[Ref]:
    """The objects the question names: the alert's labels, and names in its reason."""
    from kubelens.skills.cluster.subjects import named_subjects

    named = [Ref(s.kind, s.namespace, s.name) for s in named_subjects(context)]
    reason = str(context.get("reason") or "")
    for ref in mentioned(graph, str(context.get("namespace") or ""), reason):
        if ref not in named:
            named.append(ref)
    return named


__all__ = ["claimed_notifications", "insight_for", "named_refs"]
