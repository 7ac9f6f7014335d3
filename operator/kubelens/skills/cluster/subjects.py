"""The objects an investigation's context names (an alert's pod, workload, node), and
their state now: what the model's first message leads with.

An alert with no matching Notification still names its subjects in its labels
(kube-state-metrics' ``pod``, ``deployment``, ``node``, ``job_name``...). Reading them
first saves the model a sweep, and gives it something to cite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubelens.models import Subject
from kubelens.skills.cluster.common import (
    condition,
    container_statuses,
    name_of,
    owner_of,
    pod_line,
    pressures,
    section,
    short,
)
from kubelens.skills.cluster.source import ClusterSource, ClusterSourceError

#: Label (or context key) → the kind it names, as kube-state-metrics and kubelens spell them.
SUBJECT_LABELS: dict[str, str] = {
    "pod": "Pod",
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "daemonset": "DaemonSet",
    # not "job": on most alerts that is Prometheus's scrape job
    "job_name": "Job",
    "cronjob": "CronJob",
    "service": "Service",
    "persistentvolumeclaim": "PersistentVolumeClaim",
    "node": "Node",
}
#: Subjects named in one first message, at most.
MAX_SUBJECTS = 8
_CLUSTER_SCOPED = frozenset({"Node"})


def _label_maps(context: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """The label sets a context carries: its own keys, the alert group's, each alert's."""
    yield context
    group = context.get("alertGroup")
    if isinstance(group, Mapping):
        for key in ("commonLabels", "labels"):
            if isinstance(group.get(key), Mapping):
                yield group[key]
    for key in ("commonLabels", "labels"):
        if isinstance(context.get(key), Mapping):
            yield context[key]
    for alert in context.get("alerts") or []:
        if isinstance(alert, Mapping) and isinstance(alert.get("labels"), Mapping):
            yield alert["labels"]


def named_subjects(context: Mapping[str, Any]) -> list[Subject]:
    """Every object the context's labels name, once each, in the order first seen."""
    default_namespace = str(context.get("namespace") or "") or None
    found: list[Subject] = []
    for labels in _label_maps(context):
        namespace = str(labels.get("namespace") or "") or default_namespace
        for label, kind in SUBJECT_LABELS.items():
            value = labels.get(label)
            if not isinstance(value, str) or not value:
                continue
            subject = Subject(
                kind=kind, name=value, namespace=None if kind in _CLUSTER_SCOPED else namespace
            )
            if subject not in found:
                found.append(subject)
    return found[:MAX_SUBJECTS]


def subject_state(source: ClusterSource, subject: Subject) -> str:
    """One line: the subject and its state now, or why it cannot be read."""
    where = f"{subject.namespace}/{subject.name}" if subject.namespace else subject.name
    label = f"{subject.kind} {where}"
    try:
        obj = source.get(subject.kind, subject.namespace, subject.name)
    except ClusterSourceError as exc:
        return f"{label}: not readable ({short(exc, 200)})"
    if obj is None:
        return f"{label}: not found (deleted, renamed, or in another namespace)"
    return f"{label}: {_state(obj)}"


def subject_states(source: ClusterSource | None, subjects: Iterable[Subject]) -> list[str]:
    if source is None:
        return [f"{s.kind} {s.namespace + '/' if s.namespace else ''}{s.name}" for s in subjects]
    return [subject_state(source, s) for s in subjects]


def _state(obj: Mapping[str, Any]) -> str:
    kind = obj.get("kind")
    status = section(obj, "status")
    if kind == "Pod":
        row = pod_line(obj)
        parts = [str(row.get("phase")), "ready" if row["ready"] else "not ready"]
        parts.append(f"{row['restarts']} restarts")
        if row.get("reasons"):
            parts.append(", ".join(row["reasons"]))
        messages = [
            short(section(section(s, "state"), key).get("message"), 300)
            for s in container_statuses(obj)
            for key in ("waiting", "terminated")
            if section(section(s, "state"), key).get("message")
        ]
        if messages:
            parts.append(f"message: {messages[0]}")
        if row.get("node"):
            parts.append(f"node {row['node']}")
        if owner_of(obj):
            parts.append(f"owner {owner_of(obj)}")
        return "; ".join(parts)
    if kind == "Node":
        ready = condition(obj, "Ready") or {}
        pressure = pressures(obj)
        text = "Ready" if ready.get("status") == "True" else f"not Ready ({ready.get('reason')})"
        return text + (f"; pressure: {', '.join(pressure)}" if pressure else "")
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        desired = section(obj, "spec").get("replicas", status.get("desiredNumberScheduled"))
        ready = status.get("readyReplicas", status.get("numberReady", 0))
        text = f"{ready or 0}/{desired if desired is not None else '?'} ready"
        progressing = condition(obj, "Progressing") or {}
        if progressing.get("reason") == "ProgressDeadlineExceeded":
            text += "; ProgressDeadlineExceeded"
        return text
    if kind == "Job":
        failed = condition(obj, "Failed") or {}
        if failed.get("status") == "True":
            return f"failed: {failed.get('reason')}: {short(failed.get('message'), 200)}"
        return f"active {status.get('active', 0)}, succeeded {status.get('succeeded', 0)}"
    if kind == "PersistentVolumeClaim":
        return f"{status.get('phase')}, class {section(obj, 'spec').get('storageClassName')}"
    if kind == "Service":
        return f"selector {section(obj, 'spec').get('selector') or 'none'}"
    return f"exists ({name_of(obj)})"
