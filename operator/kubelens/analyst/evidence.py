"""What the rules reason over: notifications with their facts unpacked, and who claimed what.

Every notification becomes an :class:`Item` that knows the pod, container and node it is
about, however the skill that raised it named them (a ``Pod`` subject, a ``Container``
subject ``pod/container``, a pod UID, evidence keys, the agent's node). Facts that no
notification carries (a container's CPU limit, the node a pod runs on) come from the
operator results' snapshots. :class:`Analysis` hands unclaimed items to the rules and
records each claim, so a notification is cited by one insight at most.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelens import anomalies
from kubelens.models import (
    Confidence,
    CorrelationType,
    Insight,
    Notification,
    NotificationState,
    OperatorResult,
    Subject,
)

#: A pod's identity: (namespace, name); (None, uid) when only its UID is known.
PodKey = tuple[str | None, str]

#: Longest summary (observations joined) an insight carries.
SUMMARY_CAP = 900


def merged_evidence(notification: Notification) -> dict[str, Any]:
    """The snapshots' data, oldest first, so the newest value of a key wins."""
    merged: dict[str, Any] = {}
    for snapshot in sorted(notification.snapshots, key=lambda s: s.captured_at):
        merged.update(snapshot.data)
    return merged


def as_list(value: Any) -> list[Any]:
    """A snapshot field that should be a list; other skills' fields may share the name."""
    return value if isinstance(value, list) else []


def text(value: Any) -> str:
    return "" if value is None else str(value)


def number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


@dataclass
class Facts:
    """Facts about pods and containers read from the operator results' snapshots."""

    pod_nodes: dict[PodKey, str] = field(default_factory=dict)
    uid_to_pod: dict[str, PodKey] = field(default_factory=dict)
    #: (pod, container) -> {"cpu_limit_cores", "memory_limit_bytes", "throttled_ratio", ...}
    containers: dict[tuple[PodKey, str], dict[str, Any]] = field(default_factory=dict)
    node_pods: dict[str, set[PodKey]] = field(default_factory=dict)
    #: Warning events of each pod as (reason, message), whether or not they raised a
    #: notification: a kubelet "Failed" event carries the registry's or runtime's answer.
    pod_events: dict[PodKey, list[tuple[str, str]]] = field(default_factory=dict)
    #: Processes named ``name[pid]`` (as the processes skill names its subjects) → pod.
    process_pods: dict[str, PodKey] = field(default_factory=dict)

    @classmethod
    def from_results(cls, results: Sequence[OperatorResult]) -> Facts:
        facts = cls()
        for result in results:
            snapshot = result.snapshot or {}
            facts._read_pods(snapshot)
            facts._read_cgroups(snapshot, result.source)
            facts._read_nodes(snapshot)
            facts._read_events(snapshot)
            facts._read_processes(snapshot)
        return facts

    def _read_events(self, snapshot: Mapping[str, Any]) -> None:
        for row in as_list(snapshot.get("warnings")):
            if not isinstance(row, Mapping) or not isinstance(row.get("object"), Mapping):
                continue
            involved = row["object"]
            if involved.get("kind") != "Pod" or not involved.get("name"):
                continue
            key: PodKey = (involved.get("namespace") or None, str(involved["name"]))
            entry = (text(row.get("reason")), text(row.get("message")))
            if entry not in self.pod_events.setdefault(key, []):
                self.pod_events[key].append(entry)

    def _read_processes(self, snapshot: Mapping[str, Any]) -> None:
        for list_name in ("top_cpu", "top_memory"):
            for entry in as_list(snapshot.get(list_name)):
                if isinstance(entry, Mapping) and entry.get("pod") and entry.get("pid"):
                    key: PodKey = (entry.get("namespace") or None, str(entry["pod"]))
                    self.process_pods[f"{entry.get('name')}[{entry.get('pid')}]"] = key

    def events_of(self, pod: PodKey | None) -> list[tuple[str, str]]:
        if pod is None:
            return []
        return [e for key, events in self.pod_events.items() if same_pod(key, pod) for e in events]

    def _read_pods(self, snapshot: Mapping[str, Any]) -> None:
        for pod in as_list(snapshot.get("problem_pods")):
            if not isinstance(pod, Mapping) or not pod.get("name"):
                continue
            key: PodKey = (pod.get("namespace"), str(pod["name"]))
            if pod.get("node"):
                self.pod_nodes[key] = str(pod["node"])
            if pod.get("uid"):
                self.uid_to_pod[str(pod["uid"])] = key
            for container in as_list(pod.get("containers")):
                if not isinstance(container, Mapping):
                    continue
                limits = container.get("limits") or {}
                entry = self.containers.setdefault((key, str(container.get("name"))), {})
                if "cpu" in limits:
                    entry.setdefault("cpu_limit_cores", _cores(limits["cpu"]))
                if "memory" in limits:
                    entry.setdefault("memory_limit", limits["memory"])

    def _read_cgroups(self, snapshot: Mapping[str, Any], source: str) -> None:
        for list_name in ("top_throttled", "top_memory", "top_pids", "oom_events"):
            for entry in as_list(snapshot.get(list_name)):
                if not isinstance(entry, Mapping):
                    continue
                key = self.pod_key_from(entry)
                if key is None:
                    continue
                if source and source not in ("cluster", "local"):
                    self.pod_nodes.setdefault(key, source)
                container = text(entry.get("container") or entry.get("container_id"))
                facts = self.containers.setdefault((key, container), {})
                for fact in (
                    "cpu_limit_cores",
                    "throttled_ratio",
                    "memory_limit_bytes",
                    "memory_bytes",
                    "memory_limit_ratio",
                    "pids",
                    "pids_limit",
                ):
                    if entry.get(fact) is not None:
                        facts[fact] = entry[fact]

    def _read_nodes(self, snapshot: Mapping[str, Any]) -> None:
        for row in as_list(snapshot.get("nodes")):
            if not isinstance(row, Mapping):
                continue
            for ref in as_list(row.get("pod_names")):
                namespace, _, name = str(ref).partition("/")
                key: PodKey = (namespace or None, name)
                self.node_pods.setdefault(str(row.get("name")), set()).add(key)
                self.pod_nodes.setdefault(key, str(row.get("name")))

    def pod_key_from(self, values: Mapping[str, Any]) -> PodKey | None:
        """A pod named in evidence: by name and namespace, else by UID."""
        if values.get("pod"):
            return (values.get("namespace") or None, str(values["pod"]))
        uid = values.get("pod_uid")
        if uid:
            return self.uid_to_pod.get(str(uid), (None, str(uid)))
        return None

    def container_facts(self, pod: PodKey | None, container: str | None) -> dict[str, Any]:
        if pod is None:
            return {}
        if container:
            return self.containers.get((pod, container), {})
        merged: dict[str, Any] = {}
        for (key, _), facts in self.containers.items():
            if key == pod:
                merged.update(facts)
        return merged


def _cores(value: Any) -> float | None:
    raw = text(value)
    if raw.endswith("m"):
        parsed = number(raw[:-1])
        return parsed / 1000 if parsed is not None else None
    return number(raw)


@dataclass
class Item:
    """One notification with the identities the rules join on."""

    notification: Notification
    evidence: dict[str, Any]
    pod: PodKey | None
    container: str | None
    node: str | None

    @property
    def id(self) -> str:
        return self.notification.id

    @property
    def type(self) -> str:
        return self.notification.anomaly_type

    @property
    def subject(self) -> Subject | None:
        return self.notification.subject

    def reason(self) -> str:
        """The Kubernetes reason an event or pod finding carries (``BackOff``, ``Evicted``)."""
        return text(self.evidence.get("reason"))

    def message(self) -> str:
        return text(self.evidence.get("message"))

    def log_lines(self) -> list[str]:
        lines = self.evidence.get("log_excerpt") or []
        return [str(line) for line in lines if line]

    def pod_subject(self) -> Subject | None:
        if self.pod is None:
            return None
        return Subject(kind="Pod", namespace=self.pod[0], name=self.pod[1])

    def where(self) -> str:
        if self.pod is not None:
            return f"pod {self.pod[0]}/{self.pod[1]}" if self.pod[0] else f"pod {self.pod[1]}"
        if self.subject is not None:
            return f"{self.subject.kind} {self.subject.ref().split('/', 1)[-1]}"
        return f"node {self.node}" if self.node else "the cluster"


def make_item(notification: Notification, facts: Facts) -> Item:
    evidence = merged_evidence(notification)
    subject = notification.subject
    pod: PodKey | None = None
    container: str | None = text(evidence.get("container")) or None
    if subject is not None and subject.kind == "Pod":
        if subject.namespace:
            pod = (subject.namespace, subject.name)
        else:  # named by UID by a node skill that could not read the kubelet's names
            pod = facts.uid_to_pod.get(subject.name, (None, subject.name))
    elif subject is not None and subject.kind == "Container" and "/" in subject.name:
        pod_part, _, container_part = subject.name.partition("/")
        if subject.namespace:
            pod = (subject.namespace, pod_part)
        else:
            pod = facts.uid_to_pod.get(pod_part, (None, pod_part))
        container = container or container_part
    if pod is None and (subject is None or subject.kind not in ("Node", "Mount")):
        pod = facts.pod_key_from(evidence)
    # The node a skill observed (a pod's spec.nodeName, an event's source host) beats the
    # node its runner stamped on the notification: a cluster skill runs anywhere.
    node = text(evidence.get("node")) or notification.node or None
    if node is None and subject is not None and subject.kind == "Node":
        node = subject.name
    if node is None and pod is not None:
        node = facts.pod_nodes.get(pod)
    return Item(notification, evidence, pod, container, node)


@dataclass
class Cause:
    """An explanation a rule found, before it becomes an insight."""

    root_cause: str
    confidence: Confidence
    grounded: bool
    evidence: list[str]
    next_steps: list[str]
    items: list[Item]
    subjects: list[Subject] = field(default_factory=list)


class Analysis:
    """The notifications under analysis, the facts, and which ones are already explained."""

    def __init__(
        self,
        notifications: Sequence[Notification],
        operator_results: Sequence[OperatorResult],
        context: Mapping[str, Any],
    ) -> None:
        self.facts = Facts.from_results(operator_results)
        self.context = context
        live = [n for n in notifications if n.state is not NotificationState.RESOLVED]
        unique = {n.id: n for n in live}  # the same notification twice is still one
        self.items = [make_item(n, self.facts) for n in unique.values()]
        self.claimed: set[str] = set()
        self.insights: list[Insight] = []

    def open(self, *types: str) -> list[Item]:
        """Unclaimed items, of the given anomaly types (all when none given)."""
        wanted = set(types)
        return [
            i for i in self.items if i.id not in self.claimed and (not wanted or i.type in wanted)
        ]

    def on_pod(self, pod: PodKey | None, *types: str) -> list[Item]:
        if pod is None:
            return []
        return [i for i in self.open(*types) if same_pod(i.pod, pod)]

    def on_node(self, node: str | None, *types: str) -> list[Item]:
        if not node:
            return []
        return [i for i in self.open(*types) if i.node == node]

    def emit(self, rule: str, correlation: CorrelationType | None, cause: Cause) -> Insight:
        """Turn a cause into an insight and claim its notifications."""
        items = unique_items(cause.items)
        if correlation is None:
            correlation = CorrelationType.CAUSAL if len(items) > 1 else CorrelationType.SYMPTOMATIC
        observations = unique_strings(i.notification.observation for i in items)
        summary = "; ".join(observations)
        if len(summary) > SUMMARY_CAP:
            summary = summary[: SUMMARY_CAP - 1] + "…"
        ids = [i.id for i in items]
        digest = hashlib.sha256("|".join([rule, *sorted(ids)]).encode()).hexdigest()[:12]
        subjects: list[Subject] = []
        for subject in [*(subject_of(i) for i in items), *cause.subjects]:
            if subject is not None and all(s.ref() != subject.ref() for s in subjects):
                subjects.append(subject)
        insight = Insight(
            id=f"ins-{digest}",
            notification_ids=ids,
            correlation_type=correlation,
            summary=summary,
            matched_observations=observations,
            hypothesis_grounded=cause.grounded,
            root_cause_hypothesis=cause.root_cause,
            confidence=cause.confidence,
            evidence=unique_strings(cause.evidence),
            next_steps=unique_strings(cause.next_steps),
            subjects=subjects,
        )
        self.claimed.update(ids)
        self.insights.append(insight)
        return insight


def same_pod(a: PodKey | None, b: PodKey | None) -> bool:
    """Equal pods; a namespace missing on one side (a UID-named pod) does not separate them."""
    if a is None or b is None:
        return False
    if a[1] != b[1]:
        return False
    return a[0] is None or b[0] is None or a[0] == b[0]


def subject_of(item: Item) -> Subject | None:
    """The object an insight names for an item: the pod for container-level subjects."""
    if item.subject is not None and item.subject.kind in ("Container", "Cgroup") and item.pod:
        return item.pod_subject()
    return item.subject or item.pod_subject()


def unique_items(items: Iterable[Item]) -> list[Item]:
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item.id, item)
    return list(seen.values())


def unique_strings(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        if value and value not in out:
            out.append(value)
    return out


def group_by_pod(items: Iterable[Item]) -> dict[PodKey, list[Item]]:
    groups: dict[PodKey, list[Item]] = {}
    for item in items:
        if item.pod is None:
            continue
        key = next((k for k in groups if same_pod(k, item.pod)), item.pod)
        groups.setdefault(key, []).append(item)
    return groups


def group_by_node(items: Iterable[Item]) -> dict[str, list[Item]]:
    groups: dict[str, list[Item]] = {}
    for item in items:
        if item.node:
            groups.setdefault(item.node, []).append(item)
    return groups


def kubectl_ns(pod: PodKey | None) -> str:
    return f"-n {pod[0]} " if pod and pod[0] else ""


def metric_value(item: Item) -> float | None:
    """The reading a threshold or baseline notification fired on."""
    return number(item.evidence.get("value"))


def percent(value: float | None) -> str:
    if value is None:
        return "unknown"
    # ratios (0..1) and percentages (0..100) both occur in metric readings
    return f"{value * 100:.0f}%" if value <= 1 else f"{value:.0f}%"


MEMORY_PRESSURE_TYPES = (anomalies.MEMORY_PRESSURE, anomalies.SWAP_PRESSURE)
CPU_LOAD_TYPES = (anomalies.CPU_SATURATION, anomalies.CPU_STALL)
IO_LOAD_TYPES = (anomalies.IO_STALL, anomalies.IOWAIT_HIGH)
OOM_TYPES = (anomalies.POD_OOM_KILLED, anomalies.CONTAINER_OOM_KILLED)
