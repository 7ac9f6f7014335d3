"""The ``pods`` skill: pod phases, restarts, container states and why they fail."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubelens import anomalies
from kubelens.models import Severity, Subject, ToolResult
from kubelens.skills.base import Finding
from kubelens.skills.cluster.common import (
    CONFIG_ERROR_REASONS,
    IMAGE_PULL_REASONS,
    ClusterSkill,
    condition,
    container_specs,
    container_statuses,
    is_problem_pod,
    items,
    limited,
    meta,
    name_of,
    namespace_of,
    owner_of,
    parse_missing_reference,
    parse_quantity,
    pod_line,
    pod_summary,
    resources,
    section,
    short,
    sort_problem_first,
)
from kubelens.skills.cluster.podspec import pod_spec_view
from kubelens.skills.cluster.source import KINDS, ClusterSource, ClusterSourceError
from kubelens.skills.params import NAME, NAMESPACE, enum, integer, params, string

#: Problem pods described in full in a snapshot; the rest are counted.
SNAPSHOT_PROBLEM_PODS = 15
POD_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
_EVICTED_RESOURCE = re.compile(r"low on resource:\s*([\w-]+)")


class PodsSkill(ClusterSkill):
    name = "pods"
    description = "Pod phases, restarts, container states (OOMKilled, CrashLoop, ImagePull)."
    prompt = (
        "pods: read container state and lastState. OOMKilled or exit 137 means the memory "
        "limit was hit; CrashLoopBackOff means the process keeps exiting (check logs); "
        "ImagePullBackOff and CreateContainerConfigError messages name the image or the "
        "missing ConfigMap/Secret key; Pending pods carry the scheduler's reason."
    )

    def __init__(self, source: ClusterSource, namespace: str | None = None) -> None:
        super().__init__(source, namespace)
        self._last_problem_pods: dict[tuple[str | None, str], Mapping[str, Any]] = {}
        self.add_tool(
            "list_pods",
            "Pods, problems first. With node: every pod on that node, of every namespace.",
            params(phase=enum(POD_PHASES), node=NAME, namespace=NAMESPACE, limit=integer(1, 200)),
            self.list_pods,
        )
        self.add_tool(
            "describe_pod",
            "One pod: containers, states, resources, conditions.",
            params(["name"], name=NAME, namespace=NAMESPACE),
            self.describe_pod,
        )
        self.add_tool(
            "problem_pods",
            "Pods not ready, restarting, pending or failed.",
            params(namespace=NAMESPACE, limit=integer(1, 100)),
            self.problem_pods,
        )
        self.add_tool(
            "pod_by_uid",
            "Name the pod behind a pod UID or container ID (as cgroups and processes show "
            "them), in any namespace: namespace, node and owner chain.",
            params(uid=string(100), container_id=string(200)),
            self.pod_by_uid,
        )

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> dict[str, Any]:
        errors: list[str] = []
        pods = self.read("Pod", errors)
        by_phase: dict[str, int] = {}
        for pod in pods:
            phase = str(section(pod, "status").get("phase") or "Unknown")
            by_phase[phase] = by_phase.get(phase, 0) + 1
        problems = [p for p in sort_problem_first(pods) if is_problem_pod(p)]
        self._last_problem_pods = {
            (namespace_of(p), name_of(p)): p for p in problems[:SNAPSHOT_PROBLEM_PODS]
        }
        snapshot: dict[str, Any] = {
            "namespace": self.namespace,
            "total": len(pods),
            "by_phase": by_phase,
            "problem_count": len(problems),
            "problem_pods": [pod_summary(p) for p in problems[:SNAPSHOT_PROBLEM_PODS]],
        }
        if errors:
            snapshot["errors"] = errors
        return snapshot

    def summarize(self, snapshot: Mapping[str, Any]) -> str:
        phases = ", ".join(f"{n} {p}" for p, n in (snapshot.get("by_phase") or {}).items())
        return (
            f"{snapshot.get('total', 0)} pods ({phases or 'none'}), "
            f"{snapshot.get('problem_count', 0)} with problems"
        )

    def findings(self, snapshot: Mapping[str, Any]) -> list[Finding]:
        # The snapshot holds summaries only; findings need the full objects: those the
        # last snapshot read, else (a recorded snapshot) the pods it names read again.
        found: list[Finding] = []
        for summary in snapshot.get("problem_pods") or []:
            key = (summary.get("namespace"), str(summary.get("name")))
            pod = self._last_problem_pods.get(key)
            if pod is None:
                try:
                    pod = self.source.get("Pod", key[0], key[1])
                except ClusterSourceError:
                    continue
            if pod is not None:
                found.extend(pod_findings(pod))
        return found

    # ------------------------------------------------------------------ tools

    def list_pods(
        self,
        phase: str | None = None,
        node: str | None = None,
        namespace: str | None = None,
        limit: int = 50,
    ) -> ToolResult:
        selectors = []
        if phase:
            selectors.append(f"status.phase={phase}")
        if node:
            selectors.append(f"spec.nodeName={node}")
        field_selector = ",".join(selectors) or None
        if node and not namespace:
            # a node view: the neighbours from other namespaces share its CPU and memory
            pods = self.list_every_namespace("Pod", field_selector=field_selector)
        else:
            pods = self.list_kind("Pod", field_selector=field_selector, namespace=namespace)
        if not pods:
            return ToolResult.empty(
                "no pods match"
                + (f" (phase={phase})" if phase else "")
                + (f" (node={node})" if node else f" in {self.where(namespace)}")
            )
        return ToolResult.ok(limited([pod_line(p) for p in sort_problem_first(pods)], limit))

    def describe_pod(self, name: str, namespace: str | None = None) -> ToolResult:
        pod = self.find("Pod", name, namespace)
        if pod is None:
            return ToolResult.empty(f"no pod named {name!r} in {self.where(namespace)}")
        described = {**pod_summary(pod), **pod_spec_view(pod)}
        described["configRefs"] = config_references(pod)
        claims = claim_names(pod)
        if claims:
            described["claims"] = claims
        annotations = {
            # last-applied-configuration repeats the whole spec: noise, and it may hold env
            key: short(value)
            for key, value in (meta(pod).get("annotations") or {}).items()
            if key != "kubectl.kubernetes.io/last-applied-configuration"
        }
        if annotations:
            described["annotations"] = annotations
        return ToolResult.ok(described)

    def problem_pods(self, namespace: str | None = None, limit: int = 20) -> ToolResult:
        pods = self.list_kind("Pod", namespace=namespace)
        problems = [p for p in sort_problem_first(pods) if is_problem_pod(p)]
        if not problems:
            return ToolResult.empty(
                f"every pod in {self.where(namespace)} is ready and none has restarted"
            )
        return ToolResult.ok(limited([pod_summary(p) for p in problems], limit))

    def pod_by_uid(self, uid: str | None = None, container_id: str | None = None) -> ToolResult:
        if not uid and not container_id:
            return ToolResult.fail("give uid (a pod UID) or container_id")
        wanted_uid = normal_pod_uid(uid) if uid else None
        wanted_container = normal_container_id(container_id) if container_id else None
        for pod in self.list_every_namespace("Pod"):
            container = None
            if wanted_container:
                container = container_with_id(pod, wanted_container)
                if container is None:
                    continue
            if wanted_uid and normal_pod_uid(str(meta(pod).get("uid") or "")) != wanted_uid:
                continue
            found = {**pod_line(pod), "uid": meta(pod).get("uid")}
            if container:
                found["container"] = container
            found["owners"] = self.owner_chain(pod)
            return ToolResult.ok(found)
        asked = f"uid {uid}" if uid else f"container id {container_id}"
        return ToolResult.empty(
            f"no pod with {asked} in any namespace (it may have been deleted since)"
        )

    def owner_chain(self, obj: Mapping[str, Any]) -> list[str]:
        """``Kind/name`` of each controlling owner up the chain (ReplicaSet, Deployment;
        Job, CronJob), as far as the owners are readable kinds that still exist."""
        chain: list[str] = []
        namespace = namespace_of(obj)
        current: Mapping[str, Any] | None = obj
        while current is not None and len(chain) < 5:
            owner = owner_of(current)
            if owner is None:
                break
            chain.append(owner)
            kind, _, name = owner.partition("/")
            current = self.source.get(kind, namespace, name) if kind in KINDS else None
        return chain


# ---------------------------------------------------------------------- lookups


def normal_pod_uid(text: str) -> str:
    """A pod UID as the API has it, from the forms cgroup paths use
    (``pod1f2e…``, systemd's ``kubepods-pod1f2e_…slice``)."""
    value = text.strip().lower()
    value = re.sub(r"^.*pod(?=[0-9a-f]{8}[-_])", "", value)
    value = value.removesuffix(".slice")
    return value.replace("_", "-")


def normal_container_id(text: str) -> str:
    """A bare container ID from ``containerd://…``, ``cri-containerd-….scope`` and kin."""
    value = text.strip().lower().rsplit("://", 1)[-1]
    value = re.sub(r"^(?:cri-containerd-|crio-|docker-|containerd-)", "", value)
    return value.removesuffix(".scope")


def container_with_id(pod: Mapping[str, Any], wanted: str) -> str | None:
    """The name of the pod's container whose ID is ``wanted`` (or starts with it)."""
    if len(wanted) < 12:
        return None
    for status in container_statuses(pod):
        known = normal_container_id(str(status.get("containerID") or ""))
        if known and known.startswith(wanted):
            return str(status.get("name"))
    return None


# ---------------------------------------------------------------------- findings


def claim_names(pod: Mapping[str, Any]) -> list[str]:
    return [
        str(section(v, "persistentVolumeClaim").get("claimName"))
        for v in section(pod, "spec").get("volumes") or []
        if isinstance(v, Mapping) and section(v, "persistentVolumeClaim").get("claimName")
    ]


def config_references(pod: Mapping[str, Any]) -> list[str]:
    """The ConfigMaps and Secrets a pod's containers and volumes read (names only)."""
    refs: set[str] = set()
    for container in container_specs(pod).values():
        for source in container.get("envFrom") or []:
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if section(source, key).get("name"):
                    refs.add(f"{kind}/{section(source, key)['name']}")
        for env in container.get("env") or []:
            value_from = section(env, "valueFrom")
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = section(value_from, key)
                if ref.get("name"):
                    refs.add(f"{kind}/{ref['name']}:{ref.get('key')}")
    for volume in section(pod, "spec").get("volumes") or []:
        if not isinstance(volume, Mapping):
            continue
        if section(volume, "configMap").get("name"):
            refs.add(f"ConfigMap/{section(volume, 'configMap')['name']}")
        if section(volume, "secret").get("secretName"):
            refs.add(f"Secret/{section(volume, 'secret')['secretName']}")
    return sorted(refs)


def pod_findings(pod: Mapping[str, Any]) -> list[Finding]:
    """Categorical anomalies of one pod, most specific first, at most one per container.

    An eviction is the whole story; otherwise the scheduler's refusal and each container's
    finding, and only when none of those fired, failing probes.
    """
    view = _Pod.of(pod)
    evicted = _evicted(view)
    if evicted is not None:
        return [evicted]
    found = [f for f in (_unschedulable(view), *_container_findings(view)) if f is not None]
    if not found:
        probes = _probe_failure(view)
        if probes is not None:
            found.append(probes)
    return found


@dataclass
class _Pod:
    """One pod as the finding rules read it: who it is, where it runs, its containers."""

    pod: Mapping[str, Any]
    status: Mapping[str, Any]
    specs: Mapping[str, Mapping[str, Any]]
    subject: Subject
    where: str
    evidence: dict[str, Any]

    @classmethod
    def of(cls, pod: Mapping[str, Any]) -> _Pod:
        namespace, pod_name = namespace_of(pod), name_of(pod)
        node = section(pod, "spec").get("nodeName")
        return cls(
            pod=pod,
            status=section(pod, "status"),
            specs=container_specs(pod),
            subject=Subject(kind="Pod", name=pod_name, namespace=namespace),
            where=f"pod {namespace}/{pod_name}" + (f" on node {node}" if node else ""),
            evidence={
                "pod": pod_name,
                "namespace": namespace,
                "node": node,
                "pod_uid": meta(pod).get("uid"),
            },
        )

    def finding(
        self,
        anomaly_type: str,
        observation: str,
        hypothesis: str,
        evidence: Mapping[str, Any] | None = None,
        severity: Severity = Severity.WARNING,
    ) -> Finding:
        """A finding about this pod, with its own evidence and ``evidence`` over it."""
        return Finding(
            anomaly_type=anomaly_type,
            severity=severity,
            subject=self.subject,
            observation=observation,
            hypothesis=hypothesis,
            context=self.where,
            evidence={**self.evidence, **(evidence or {})},
        )


def _evicted(p: _Pod) -> Finding | None:
    if p.status.get("reason") != "Evicted":
        return None
    message = str(p.status.get("message") or "")
    resource = _EVICTED_RESOURCE.search(message)
    return p.finding(
        anomalies.POD_EVICTED,
        f"{p.where} was evicted: {short(message)}",
        "the kubelet evicted it to relieve node resource pressure",
        {"message": short(message), "resource": resource.group(1) if resource else None},
    )


def _unschedulable(p: _Pod) -> Finding | None:
    scheduled = condition(p.pod, "PodScheduled")
    if not (
        p.status.get("phase") == "Pending"
        and scheduled
        and scheduled.get("status") == "False"
        and scheduled.get("reason") == "Unschedulable"
    ):
        return None
    message = str(scheduled.get("message") or "")
    return p.finding(
        anomalies.POD_PENDING,
        f"{p.where} is Pending, unschedulable: {short(message)}",
        "the scheduler finds no node that fits the pod's requests or constraints",
        {
            "reason": "Unschedulable",
            "message": short(message),
            "claims": claim_names(p.pod),
            "requests": {n: resources(c).get("requests", {}) for n, c in p.specs.items()},
        },
    )


def _container_findings(p: _Pod) -> list[Finding | None]:
    return [_container_finding(status, p) for status in container_statuses(p.pod)]


def _probe_failure(p: _Pod) -> Finding | None:
    if not _running_unready_with_restarts(p):
        return None
    statuses = container_statuses(p.pod)
    unready = [str(s.get("name")) for s in statuses if not s.get("ready")]
    restarts = sum_restarts(p.pod)
    return p.finding(
        anomalies.PROBE_FAILURE,
        f"{p.where} is Running but not Ready (containers {', '.join(unready)}) "
        f"and has restarted {restarts} times",
        "its liveness/readiness probes fail, so it is restarted and kept out of service",
        {
            "containers": unready,
            "restarts": restarts,
            "lastTerminated": {
                str(s.get("name")): dict(section(section(s, "lastState"), "terminated"))
                for s in statuses
                if section(section(s, "lastState"), "terminated")
            },
        },
    )


def sum_restarts(pod: Mapping[str, Any]) -> int:
    return sum(int(s.get("restartCount") or 0) for s in container_statuses(pod))


def _running_unready_with_restarts(p: _Pod) -> bool:
    if p.status.get("phase") != "Running" or sum_restarts(p.pod) == 0:
        return False
    for container_status in container_statuses(p.pod):
        spec = p.specs.get(str(container_status.get("name"))) or {}
        probed = "livenessProbe" in spec or "readinessProbe" in spec
        if probed and not container_status.get("ready"):
            return True
    return False


@dataclass
class _Container:
    """One container's status as the finding rules read it."""

    name: str
    spec: Mapping[str, Any]
    image: Any
    waiting: Mapping[str, Any]
    terminated: Mapping[str, Any]
    last: Mapping[str, Any]
    restart_count: int
    memory_limit: Any
    pod: _Pod
    #: What this container's rule found, over the pod's evidence.
    evidence: dict[str, Any]
    #: An init container the pod's other containers wait for (not a native sidecar).
    init: bool = False

    @property
    def where(self) -> str:
        return self.pod.where

    @property
    def called(self) -> str:
        return f"init container {self.name}" if self.init else f"container {self.name}"

    def finding(self, anomaly_type: str, observation: str, hypothesis: str) -> Finding:
        return self.pod.finding(
            anomaly_type, observation, hypothesis, self.evidence, Severity.CRITICAL
        )


def _container_finding(status: Mapping[str, Any], p: _Pod) -> Finding | None:
    name = str(status.get("name"))
    spec = p.specs.get(name) or {}
    state = section(status, "state")
    restart_count = int(status.get("restartCount") or 0)
    container = _Container(
        name=name,
        spec=spec,
        image=status.get("image") or spec.get("image"),
        waiting=section(state, "waiting"),
        terminated=section(state, "terminated"),
        last=section(section(status, "lastState"), "terminated"),
        restart_count=restart_count,
        memory_limit=resources(spec).get("limits", {}).get("memory"),
        pod=p,
        evidence={"container": name, "restartCount": restart_count},
        init=spec.get("restartPolicy") != "Always"
        and any(c.get("name") == name for c in items(section(p.pod, "spec"), "initContainers")),
    )
    for rule in (_oom_killed, _image_pull, _config_error, _crash_loop):
        found = rule(container)
        if found is not None:
            return found
    return None


def _oom_killed(c: _Container) -> Finding | None:
    oom = next((t for t in (c.last, c.terminated) if t.get("reason") == "OOMKilled"), None)
    if oom is None:
        return None
    limit = c.memory_limit
    c.evidence.update(
        {
            "limit": limit,
            "limit_bytes": parse_quantity(limit),
            "exitCode": oom.get("exitCode", 137),
            "reason": "OOMKilled",
            "finishedAt": oom.get("finishedAt"),
            "state": c.waiting.get("reason") or "running",
        }
    )
    return c.finding(
        anomalies.POD_OOM_KILLED,
        f"container {c.name} of {c.where} was OOMKilled (exit {c.evidence['exitCode']}), "
        f"memory limit {limit or 'none'}, {c.restart_count} restarts",
        "the container's memory use reached its limit and the kernel OOM killer ended it"
        if limit
        else "the node ran out of memory and the kernel OOM killer chose it",
    )


def _image_pull(c: _Container) -> Finding | None:
    reason = str(c.waiting.get("reason") or "")
    if reason not in IMAGE_PULL_REASONS:
        return None
    message = str(c.waiting.get("message") or "")
    c.evidence.update({"image": c.image, "reason": reason, "message": short(message)})
    return c.finding(
        anomalies.IMAGE_PULL_FAILURE,
        f"container {c.name} of {c.where} cannot pull image {c.image}: {reason}",
        "the image or tag does not exist, the registry refuses the credentials, "
        "or the registry is unreachable",
    )


def _config_error(c: _Container) -> Finding | None:
    reason = str(c.waiting.get("reason") or "")
    if reason not in CONFIG_ERROR_REASONS:
        return None
    message = str(c.waiting.get("message") or "")
    missing = parse_missing_reference(message)
    c.evidence.update({"reason": reason, "message": short(message), "missing": missing})
    if missing:
        key = f" key {missing['key']}" if "key" in missing else ""
        hypothesis = (
            f"the pod references {missing['kind']} {missing['name']}{key}, which does not exist"
        )
    else:
        hypothesis = "the container spec references something the node cannot provide"
    return c.finding(
        anomalies.CONFIG_ERROR,
        f"container {c.name} of {c.where} cannot be created: {reason}: {short(message)}",
        hypothesis,
    )


def _crash_loop(c: _Container) -> Finding | None:
    reason = str(c.waiting.get("reason") or "")
    if reason != "CrashLoopBackOff":
        return None
    c.evidence.update(
        {
            "reason": reason,
            "lastReason": c.last.get("reason"),
            "exitCode": c.last.get("exitCode"),
            "finishedAt": c.last.get("finishedAt"),
            "message": short(str(c.waiting.get("message") or "")),
        }
    )
    exit_text = f", last exit code {c.last.get('exitCode')}" if c.last else ""
    waits = "; the pod's other containers do not start until it succeeds" if c.init else ""
    return c.finding(
        anomalies.CRASH_LOOP,
        f"{c.called} of {c.where} is in CrashLoopBackOff after "
        f"{c.restart_count} restarts{exit_text}{waits}",
        "the process exits soon after start; its logs (previous=true) say why",
    )
