"""The ``nodes`` skill: node conditions, taints and requested versus allocatable resources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubelens import anomalies
from kubelens.models import Severity, Subject, ToolResult
from kubelens.skills.base import Finding
from kubelens.skills.cluster.common import (
    ClusterSkill,
    condition,
    is_finished,
    items,
    limited,
    name_of,
    parse_quantity,
    pod_line,
    pressures,
    section,
    short,
    sort_problem_first,
)
from kubelens.skills.cluster.source import ClusterSource
from kubelens.skills.params import NAME, params

SNAPSHOT_NODES = 20


class NodesSkill(ClusterSkill):
    name = "nodes"
    description = "Node conditions, pressure, taints, requested vs allocatable."
    prompt = (
        "nodes: Ready False/Unknown means the kubelet stopped reporting; Memory/Disk/PID "
        "Pressure make the kubelet evict pods; requests near allocatable leave pods Pending."
    )

    def __init__(self, source: ClusterSource, namespace: str | None = None) -> None:
        super().__init__(source, namespace)
        self.add_tool(
            "list_nodes",
            "Every node: ready, pressure, usage of allocatable.",
            params(),
            self.list_nodes,
        )
        name = params(["name"], name=NAME)
        self.add_tool(
            "describe_node",
            "One node: conditions, taints, capacity, requests of all its pods.",
            name,
            self.describe_node,
        )
        self.add_tool(
            "pods_on_node", "Every pod on a node, of every namespace.", name, self.pods_on_node
        )

    def snapshot(self) -> dict[str, Any]:
        errors: list[str] = []
        nodes = self.read("Node", errors)
        # every namespace: a node's load is all its pods, not the investigated ones
        pods = [p for p in self.read("Pod", errors, every_namespace=True) if not is_finished(p)]
        pods_by_node: dict[str, list[Mapping[str, Any]]] = {}
        for pod in pods:
            node = section(pod, "spec").get("nodeName")
            if node:
                pods_by_node.setdefault(str(node), []).append(pod)
        rows = [node_row(n, pods_by_node.get(name_of(n), [])) for n in nodes]
        rows.sort(key=lambda r: (not r["problems"], r["name"]))
        snapshot: dict[str, Any] = {
            "total": len(rows),
            "not_ready": [r["name"] for r in rows if not r["ready"]],
            "pressure": {r["name"]: r["pressure"] for r in rows if r["pressure"]},
            "nodes": rows[:SNAPSHOT_NODES],
        }
        if errors:
            snapshot["errors"] = errors
        return snapshot

    def summarize(self, snapshot: Mapping[str, Any]) -> str:
        pressure = ", ".join(sorted(snapshot.get("pressure") or {}))
        return (
            f"{snapshot.get('total', 0)} nodes, "
            f"{len(snapshot.get('not_ready') or [])} not ready"
            + (f", pressure: {pressure}" if pressure else "")
        )

    def findings(self, snapshot: Mapping[str, Any]) -> list[Finding]:
        found: list[Finding] = []
        for row in snapshot.get("nodes") or []:
            found.extend(node_findings(row))
        return found

    def list_nodes(self) -> ToolResult:
        nodes = self.source.list("Node")
        if not nodes:
            return ToolResult.empty("no nodes visible")
        pods = [p for p in self.list_every_namespace("Pod") if not is_finished(p)]
        rows = []
        for node in nodes:
            on_node = [p for p in pods if section(p, "spec").get("nodeName") == name_of(node)]
            row = node_row(node, on_node)
            rows.append(
                {
                    k: row[k]
                    for k in ("name", "ready", "pressure", "unschedulable", "pods", "cpu", "memory")
                    if k in row
                }
            )
        return ToolResult.ok(limited(sorted(rows, key=lambda r: (r["ready"], r["name"])), 100))

    def describe_node(self, name: str) -> ToolResult:
        node = self.source.get("Node", None, name)
        if node is None:
            return ToolResult.empty(f"no node named {name!r}")
        pods = [
            p
            for p in self.list_every_namespace("Pod", field_selector=f"spec.nodeName={name}")
            if not is_finished(p)
        ]
        row = node_row(node, pods)
        namespaces: dict[str, int] = {}
        for pod in pods:
            namespace = str(section(pod, "metadata").get("namespace") or "")
            namespaces[namespace] = namespaces.get(namespace, 0) + 1
        row["pods_by_namespace"] = namespaces
        row["conditions"] = [
            {
                k: (short(c[k]) if k == "message" else c[k])
                for k in ("type", "status", "reason", "message", "lastTransitionTime")
                if k in c
            }
            for c in items(section(node, "status"), "conditions")
        ]
        row["labels"] = {
            k: v
            for k, v in (section(node, "metadata").get("labels") or {}).items()
            if k.startswith(
                ("node.kubernetes.io", "topology.kubernetes.io", "kubernetes.io/", "node-role")
            )
        }
        return ToolResult.ok(row)

    def pods_on_node(self, name: str) -> ToolResult:
        pods = self.list_every_namespace("Pod", field_selector=f"spec.nodeName={name}")
        if not pods:
            return ToolResult.empty(f"no pods on node {name!r}")
        return ToolResult.ok(limited([pod_line(p) for p in sort_problem_first(pods)], 100))


def pod_requests(pods: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Summed cpu (cores) and memory (bytes) requests, as the scheduler counts them:
    init containers run one at a time before the others, so the largest one counts
    when it asks for more than the regular containers together."""
    totals = {"cpu": 0.0, "memory": 0.0}
    for pod in pods:
        spec = section(pod, "spec")
        for resource in totals:
            regular = sum(_request(c, resource) for c in items(spec, "containers"))
            init = max((_request(c, resource) for c in items(spec, "initContainers")), default=0.0)
            totals[resource] += max(regular, init)
    return totals


def _request(container: Mapping[str, Any], resource: str) -> float:
    return parse_quantity(section(section(container, "resources"), "requests").get(resource)) or 0.0


def node_row(node: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    status, spec = section(node, "status"), section(node, "spec")
    ready = condition(node, "Ready")
    pressure = pressures(node)
    network = condition(node, "NetworkUnavailable")
    allocatable = section(status, "allocatable")
    requested = pod_requests(pods)
    row: dict[str, Any] = {
        "name": name_of(node),
        "ready": bool(ready and ready.get("status") == "True"),
        "pressure": pressure,
        "unschedulable": bool(spec.get("unschedulable")),
        "taints": [f"{t.get('key')}:{t.get('effect')}" for t in items(spec, "taints")],
        "kubelet": section(status, "nodeInfo").get("kubeletVersion"),
        "pods": len(pods),
    }
    for resource in ("cpu", "memory"):
        total = parse_quantity(allocatable.get(resource))
        usage: dict[str, Any] = {
            "allocatable": allocatable.get(resource),
            "requested": round(requested[resource], 3),
        }
        if total:
            usage["requested_percent"] = round(100 * requested[resource] / total, 1)
        row[resource] = usage
    if ready is None or ready.get("status") != "True":
        row["ready_condition"] = {
            "status": (ready or {}).get("status", "Unknown"),
            "reason": (ready or {}).get("reason"),
            "message": short((ready or {}).get("message")),
            "since": (ready or {}).get("lastTransitionTime"),
        }
    if network is not None and network.get("status") == "True":
        row["network_unavailable"] = {
            "reason": network.get("reason"),
            "message": short(network.get("message")),
        }
    for name in pressure:
        entry = condition(node, name) or {}
        row.setdefault("pressure_detail", {})[name] = {
            "reason": entry.get("reason"),
            "message": short(entry.get("message")),
            "since": entry.get("lastTransitionTime"),
        }
    row["problems"] = bool(not row["ready"] or pressure or "network_unavailable" in row)
    if row["problems"]:
        # the pods a node problem touches, for correlating it with their notifications
        row["pod_names"] = [
            f"{section(p, 'metadata').get('namespace')}/{name_of(p)}" for p in pods
        ][:20]
    return row


def node_findings(row: Mapping[str, Any]) -> list[Finding]:
    name = str(row.get("name"))
    subject = Subject(kind="Node", name=name)
    found: list[Finding] = []
    base = {
        "node": name,
        "taints": row.get("taints"),
        "pods": row.get("pods"),
        "pod_names": row.get("pod_names"),
        "kubelet": row.get("kubelet"),
    }
    if not row.get("ready"):
        ready = row.get("ready_condition") or {}
        found.append(
            Finding(
                anomaly_type=anomalies.NODE_NOT_READY,
                severity=Severity.CRITICAL,
                subject=subject,
                observation=(
                    f"node {name} is not Ready (status {ready.get('status')}, reason "
                    f"{ready.get('reason')}) with {row.get('pods')} pods on it"
                ),
                hypothesis="the kubelet stopped reporting: the node is down, partitioned, or its "
                "kubelet or container runtime failed",
                context=f"node {name}",
                evidence={
                    **base,
                    "condition": "Ready",
                    **{k: ready.get(k) for k in ("status", "reason", "message", "since")},
                },
            )
        )
    if row.get("network_unavailable"):
        network = row["network_unavailable"]
        found.append(
            Finding(
                anomaly_type=anomalies.NODE_NOT_READY,
                severity=Severity.WARNING,
                subject=subject,
                observation=f"node {name} has NetworkUnavailable=True ({network.get('reason')})",
                hypothesis="the CNI plugin has not configured the node's pod network",
                context=f"node {name}",
                evidence={**base, "condition": "NetworkUnavailable", **network},
            )
        )
    for pressure in row.get("pressure") or []:
        detail = (row.get("pressure_detail") or {}).get(pressure, {})
        found.append(
            Finding(
                anomaly_type=anomalies.NODE_PRESSURE,
                severity=Severity.WARNING,
                subject=subject,
                observation=f"node {name} reports {pressure}: {detail.get('message') or 'True'}",
                hypothesis="the kubelet's eviction threshold for this resource is crossed; it "
                "will evict pods and refuse new ones",
                context=f"node {name}",
                evidence={**base, "condition": pressure, **detail},
            )
        )
    return found
