"""A node's shared capacity from its agent's snapshots: who is using it up.

Pods on one node share its CPU, memory, PIDs and disks. When one of them runs short,
the pod that suffers is rarely the one that caused it: the node's ``os``, ``processes``
and ``containers`` snapshots say how full each resource is and which pod holds the
most of it. A node short of a resource gets a finding; the pod holding most of it is
linked (``CONSUMED_BY``) and gets a finding that states its share — the culprit a walk
from the suffering pod reaches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubelens.graph.model import Finding, Graph, Ref, Relation
from kubelens.models import OperatorResult
from kubelens.skills.cluster.common import meta

#: Shares of a node resource in use from which it counts as exhausted.
PIDS_FULL = 0.85
MEMORY_AVAILABLE_LOW = 0.08
CPU_BUSY = 90.0
DISK_FULL = 95.0
#: A consumer must hold at least this share of what is used to be named the culprit.
CULPRIT_SHARE = 0.4


def read(graph: Graph, results: Sequence[OperatorResult]) -> None:
    by_node: dict[str, dict[str, Mapping[str, Any]]] = {}
    for result in results:
        if result.snapshot and result.skill in ("os", "processes", "containers"):
            by_node.setdefault(result.source, {})[result.skill] = result.snapshot
    for node, snapshots in by_node.items():
        ref = Ref("Node", None, node)
        if ref not in graph.objects and not graph.of_kind("Node"):
            graph.add(ref, None)
        pods = _pods_by_uid(graph)
        _pids(graph, ref, snapshots, pods)
        _memory(graph, ref, snapshots, pods)
        _cpu(graph, ref, snapshots)
        _disks(graph, ref, snapshots)
        _containers(graph, snapshots, pods)


def _pods_by_uid(graph: Graph) -> dict[str, Ref]:
    found = {}
    for ref in graph.of_kind("Pod"):
        obj = graph.objects.get(ref)
        if obj is not None and meta(obj).get("uid"):
            found[str(meta(obj)["uid"])] = ref
    return found


def _pod_of(entry: Mapping[str, Any], pods: Mapping[str, Ref]) -> Ref | None:
    if entry.get("pod") and entry.get("namespace"):
        return Ref("Pod", str(entry["namespace"]), str(entry["pod"]))
    uid = entry.get("pod_uid")
    return pods.get(str(uid)) if uid else None


def _culprit(
    graph: Graph, node: Ref, pod: Ref | None, resource: str, share: float, text: str, meaning: str
) -> None:
    if pod is None or share < CULPRIT_SHARE:
        return
    graph.link(node, Relation.CONSUMED_BY, pod, f"{resource}: {text}")
    graph.note(
        Finding(ref=pod, code=f"uses:{resource}", text=text, conclusive=True, meaning=meaning)
    )


def _pids(
    graph: Graph, node: Ref, snapshots: Mapping[str, Mapping[str, Any]], pods: Mapping[str, Ref]
) -> None:
    processes = snapshots.get("processes") or {}
    pid_max = processes.get("pid_max")
    if not isinstance(pid_max, int) or pid_max <= 0:
        return
    rows = [
        r
        for r in (snapshots.get("containers") or {}).get("top_pids") or []
        if isinstance(r, Mapping)
        and isinstance(r.get("pids"), int)
        and r.get("pod_uid")
        and not r.get("container_id")
    ]
    held = sum(r["pids"] for r in rows)
    used = max(held, int(processes.get("threads") or 0))
    if used / pid_max < PIDS_FULL:
        return
    graph.note(
        Finding(
            ref=node,
            code="node:pids",
            conclusive=True,
            text=f"{used} of the node's {pid_max} PIDs (kernel.pid_max) in use",
            meaning="new processes and threads on this node fail to fork (EAGAIN)",
        )
    )
    if rows:
        top = max(rows, key=lambda r: r["pids"])
        _culprit(
            graph,
            node,
            _pod_of(top, pods),
            "pids",
            top["pids"] / used,
            f"holds {top['pids']} tasks ({top['pids'] / pid_max:.0%} of the node's pid_max "
            f"{pid_max}), with no pids limit of its own"
            if not top.get("pids_limit")
            else f"holds {top['pids']} tasks of its limit {top['pids_limit']}",
            "this pod's processes or threads use up the node's PIDs (leaked children, zombies "
            "never reaped, a thread leak); set a pids limit and fix the leak",
        )


def _memory(
    graph: Graph, node: Ref, snapshots: Mapping[str, Mapping[str, Any]], pods: Mapping[str, Ref]
) -> None:
    memory = (snapshots.get("os") or {}).get("memory") or {}
    total, available = memory.get("total_bytes"), memory.get("available_bytes")
    if not isinstance(total, int) or not isinstance(available, int) or total <= 0:
        return
    pressured = any(f.code == "MemoryPressure" for f in graph.failing(node))
    if available / total >= MEMORY_AVAILABLE_LOW and not pressured:
        return
    graph.note(
        Finding(
            ref=node,
            code="node:memory",
            conclusive=True,
            text=f"{available / total:.0%} of the node's {total / 2**30:.1f} GiB memory available",
            meaning="the node runs out of memory: the kernel's OOM killer picks victims "
            "among all its pods, whatever their own limits",
        )
    )
    rows = [
        r
        for r in (snapshots.get("containers") or {}).get("top_memory") or []
        if isinstance(r, Mapping)
        and r.get("pod_uid")
        and not r.get("container_id")
        and isinstance(r.get("memory_bytes"), int)
    ]
    if not rows:
        return
    top = max(rows, key=lambda r: r["memory_bytes"])
    used = total - available
    limit = top.get("memory_limit_bytes")
    _culprit(
        graph,
        node,
        _pod_of(top, pods),
        "memory",
        top["memory_bytes"] / max(used, 1),
        f"uses {top['memory_bytes'] / 2**30:.1f} GiB of the node's memory"
        + (" with no memory limit" if not limit else f" (limit {limit / 2**30:.1f} GiB)"),
        "this pod's memory use fills the node; without a limit nothing stops it before the "
        "kernel kills other pods",
    )


def _cpu(graph: Graph, node: Ref, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
    cpu = (snapshots.get("os") or {}).get("cpu") or {}
    busy = cpu.get("utilisation_percent")
    if not isinstance(busy, int | float) or busy < CPU_BUSY:
        return
    graph.note(
        Finding(
            ref=node,
            code="node:cpu",
            conclusive=True,
            text=f"the node's CPUs are {busy:.0f}% busy (load {cpu.get('load1')} on "
            f"{cpu.get('cores')} cores)",
            meaning="every pod on the node competes for CPU time; latency-sensitive "
            "work and probes time out",
        )
    )
    shares: dict[tuple[str, str], float] = {}
    for row in (snapshots.get("processes") or {}).get("top_cpu") or []:
        if (
            isinstance(row, Mapping)
            and row.get("pod")
            and isinstance(row.get("cpu_node_percent"), int | float)
        ):
            key = (str(row.get("namespace")), str(row["pod"]))
            shares[key] = shares.get(key, 0.0) + float(row["cpu_node_percent"])
    if shares:
        (namespace, pod), share = max(shares.items(), key=lambda kv: kv[1])
        _culprit(
            graph,
            node,
            Ref("Pod", namespace, pod),
            "cpu",
            share / max(float(busy), 1.0),
            f"its processes use {share:.0f}% of the node's CPU time",
            "this pod's CPU use starves its neighbours (it has no CPU limit, or a high one)",
        )


#: Share of CPU periods throttled from which a container's CPU limit explains slowness.
THROTTLED = 0.25
#: Share of its memory limit from which a container is about to be OOM-killed.
NEAR_MEMORY_LIMIT = 0.9


def _containers(
    graph: Graph, snapshots: Mapping[str, Mapping[str, Any]], pods: Mapping[str, Ref]
) -> None:
    """Facts about a pod's own containers that explain its failures (not failures
    themselves: a batch job throttled at its limit is doing what it was given)."""
    cgroups = snapshots.get("containers") or {}
    for row in cgroups.get("top_throttled") or []:
        ratio, pod = row.get("throttled_ratio"), _pod_of(row, pods)
        if pod is None or not isinstance(ratio, int | float) or ratio < THROTTLED:
            continue
        graph.note(
            Finding(
                ref=pod,
                code="cgroup:cpu-throttled",
                failing=False,
                conclusive=True,
                text=f"container {row.get('container') or row.get('container_id')} was "
                f"CPU-throttled "
                f"in {ratio:.0%} of its scheduling periods at its limit of "
                f"{row.get('cpu_limit_cores')} cores",
                meaning="its CPU limit (the CFS quota) is too low for its load: it is paused every "
                "period, so requests and probes wait",
            )
        )
    for row in cgroups.get("top_memory") or []:
        ratio, pod = row.get("memory_limit_ratio"), _pod_of(row, pods)
        if pod is None or not row.get("container_id") or not isinstance(ratio, int | float):
            continue
        if ratio >= NEAR_MEMORY_LIMIT:
            graph.note(
                Finding(
                    ref=pod,
                    code="cgroup:memory-near-limit",
                    failing=False,
                    conclusive=True,
                    text=f"container {row.get('container')} uses {ratio:.0%} of its memory limit",
                    meaning="it is at its memory limit: the kernel reclaims and then OOM-kills it",
                )
            )


def _disks(graph: Graph, node: Ref, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
    for disk in ((snapshots.get("os") or {}).get("disks") or {}).get("top") or []:
        if not isinstance(disk, Mapping):
            continue
        for key, what in (("used_percent", "space"), ("inodes_used_percent", "inodes")):
            value = disk.get(key)
            if isinstance(value, int | float) and value >= DISK_FULL:
                graph.note(
                    Finding(
                        ref=node,
                        code=f"node:disk-{what}",
                        text=f"filesystem {disk.get('mount')} ({disk.get('device')}) is full: "
                        f"{value:.0f}% of its {what} used",
                        conclusive=True,
                        meaning=f"writes on {disk.get('mount')} fail with ENOSPC once its "
                        f"{what} run out; "
                        "the kubelet evicts pods under DiskPressure",
                    )
                )
