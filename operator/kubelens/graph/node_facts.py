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
#: Use from which a filesystem is full: the kubelet's default hard eviction thresholds
#: (nodefs.available < 10%, nodefs.inodesFree < 5%).
DISK_FULL = {"space": 90.0, "inodes": 95.0}
#: Host paths pods read rather than fill (log shippers mount /var/log to read it).
READ_SOURCES = ("/var/log", "/var/lib/docker/containers", "/proc", "/sys", "/dev", "/etc", "/run")

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
        _io(graph, ref, snapshots, pods)
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
    use = _memory_by_pod(snapshots, pods)
    if not use:
        return
    pod, (used_bytes, limit) = max(use.items(), key=lambda kv: kv[1][0])
    _culprit(
        graph,
        node,
        pod,
        "memory",
        used_bytes / max(total - available, 1),
        f"uses {used_bytes / 2**30:.1f} GiB of the node's memory"
        + (" with no memory limit" if not limit else f" (limit {limit / 2**30:.1f} GiB)"),
        "this pod's memory use fills the node; without a limit nothing stops it before the "
        "kernel kills other pods",
    )


def _memory_by_pod(
    snapshots: Mapping[str, Mapping[str, Any]], pods: Mapping[str, Ref]
) -> dict[Ref, tuple[int, int | None]]:
    """Each pod's memory (bytes, limit): its cgroup's where listed, else its processes'
    resident memory (a pod without a limit is listed last among cgroups, first here)."""
    use: dict[Ref, tuple[int, int | None]] = {}
    for row in (snapshots.get("processes") or {}).get("top_memory") or []:
        pod = _pod_of(row, pods) if isinstance(row, Mapping) else None
        if pod is not None and isinstance(row.get("rss_bytes"), int):
            held, _ = use.get(pod, (0, None))
            use[pod] = (held + row["rss_bytes"], None)
    for row in (snapshots.get("containers") or {}).get("top_memory") or []:
        if not isinstance(row, Mapping) or row.get("container_id"):
            continue
        pod = _pod_of(row, pods)
        if pod is not None and isinstance(row.get("memory_bytes"), int):
            use[pod] = (
                max(row["memory_bytes"], use.get(pod, (0, None))[0]),
                row.get("memory_limit_bytes"),
            )
    return use


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


#: I/O pressure (PSI ``some`` avg60, %) or iowait (%) from which the node's disks are saturated.
IO_PRESSURE = 40.0
IOWAIT = 30.0


def _io(
    graph: Graph, node: Ref, snapshots: Mapping[str, Mapping[str, Any]], pods: Mapping[str, Ref]
) -> None:
    osnap = snapshots.get("os") or {}
    pressure = ((osnap.get("pressure") or {}).get("io") or {}).get("some_avg60")
    iowait = (osnap.get("cpu") or {}).get("iowait_percent")
    stalled = isinstance(pressure, int | float) and pressure >= IO_PRESSURE
    waiting = isinstance(iowait, int | float) and iowait >= IOWAIT
    if not stalled and not waiting:
        return
    graph.note(
        Finding(
            ref=node,
            code="node:io",
            conclusive=True,
            text=f"the node's disks are saturated: tasks stalled on I/O {pressure}% of the "
            f"last minute (PSI io some), iowait {iowait}%",
            meaning="every pod on the node waits for its disks: reads, writes and fsyncs "
            "(a database's commits) slow down",
        )
    )
    rows = [
        r
        for r in (snapshots.get("containers") or {}).get("top_io") or []
        if isinstance(r, Mapping) and isinstance(r.get("io_share"), int | float)
    ]
    if rows:
        top = max(rows, key=lambda r: r["io_share"])
        _culprit(
            graph,
            node,
            _pod_of(top, pods),
            "io",
            float(top["io_share"]),
            f"does {top['io_share']:.0%} of the I/O of the node's pods "
            f"({top.get('io_bytes_delta', 0) / 2**20:.0f} MiB since the previous sample)",
            "this pod's reads and writes saturate the node's disks (no I/O limit): its "
            "neighbours' I/O waits behind it",
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
    disks = [
        d
        for d in ((snapshots.get("os") or {}).get("disks") or {}).get("top") or []
        if isinstance(d, Mapping) and d.get("mount")
    ]
    mounts = [str(d["mount"]) for d in disks]
    for disk in disks:
        for key, what in (("used_percent", "space"), ("inodes_used_percent", "inodes")):
            value = disk.get(key)
            if isinstance(value, int | float) and value >= DISK_FULL[what]:
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
                _host_path_writer(graph, node, str(disk["mount"]), mounts, what)


def _host_path_writer(graph: Graph, node: Ref, mount: str, mounts: list[str], what: str) -> None:
    """The pod writing to a hostPath on a full filesystem: the kubelet accounts hostPath
    use to no pod, so it evicts others while the writer keeps filling the disk."""
    writers = []
    for edge in graph.into(node):
        pod = graph.objects.get(edge.source)
        if edge.relation is not Relation.RUNS_ON or pod is None:
            continue
        for created, path in _writable_host_paths(pod):
            if _mount_of(path, mounts) == mount and path not in READ_SOURCES:
                writers.append((created, path.count("/"), path, edge.source))
    if not writers:
        return
    _, _, path, pod_ref = max(writers)
    _culprit(
        graph,
        node,
        pod_ref,
        f"disk-{what}",
        1.0,
        f"writes to hostPath {path} on the full filesystem {mount}",
        f"this pod fills {mount}'s {what} through a hostPath, which the kubelet accounts to "
        "no pod: it evicts other pods while the writer keeps filling the disk",
    )


def _writable_host_paths(pod: Mapping[str, Any]) -> list[tuple[bool, str]]:
    spec = pod.get("spec") or {}
    paths = {
        v.get("name"): v["hostPath"]
        for v in spec.get("volumes") or []
        if isinstance(v, Mapping) and isinstance(v.get("hostPath"), Mapping)
    }
    found = []
    for container in spec.get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            host = paths.get(mount.get("name"))
            if host and not mount.get("readOnly"):
                found.append((host.get("type") == "DirectoryOrCreate", str(host.get("path"))))
    return found


def _mount_of(path: str, mounts: list[str]) -> str | None:
    """The mount a path lives on: the longest mount point that contains it."""
    containing = [m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")]
    return max(containing, key=len, default=None)
