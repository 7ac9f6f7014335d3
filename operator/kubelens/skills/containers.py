"""The ``containers`` skill: memory, OOM kills, CPU throttling and pids per cgroup.

It reads the cgroup tree the kernel keeps for every pod and container: cgroup v2
(``memory.current``/``memory.max``, ``memory.events``, ``cpu.stat``, ``cpu.max``,
``pids.*``) or, on v1 and hybrid hosts, the same facts from the v1 controllers
(``memory.usage_in_bytes``, ``memory.oom_control``, ``cpu.stat``, ``cpu.cfs_quota_us``).
On a Kubernetes node the kubelet's cgroups are mapped to pod UIDs and container ids, for
both the systemd driver (``kubepods-burstable-pod<uid_with_underscores>.slice``) and the
cgroupfs driver (``kubepods/burstable/pod<uid>``); the kubelet's log directories
(``/var/log/pods``, ``/var/log/containers``) then give pod and container names.

The walk is bounded (``max_cgroups``); only the worst few cgroups are reported.
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelens import anomalies
from kubelens.models import Severity, Subject, ToolResult
from kubelens.skills import hostfs
from kubelens.skills.base import Finding, HostPaths, Metric, Skill, Threshold
from kubelens.skills.params import integer, params, string

TOP = 5
#: Periods (of usually 100 ms) a cgroup must have been runnable before its throttled
#: ratio means anything: 1 throttled period out of 2 is not "50% throttled".
MIN_PERIODS = 10
#: Below this raw usage/limit the working set cannot cross a threshold, so memory.stat
#: (the largest file per cgroup) is only read above it.
WORKING_SET_FROM = 0.8
#: Limits change rarely (a restart, an in-place resize): re-read them this often.
LIMIT_TTL = 30.0
DEFAULT_MAX_CGROUPS = 400
#: The cgroup root as the user knows it, whatever path the tree is read from (the host's
#: tree mounted into the agent's pod, a recorded sample unpacked in a scratch folder).
HOST_CGROUP = "/sys/fs/cgroup"
MAX_DEPTH = 8

_POD = re.compile(
    r"(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}"
    r"|[0-9a-f]{32})(?:\.slice)?$"
)
_CONTAINER = re.compile(
    r"^(?:cri-containerd-|crio-|docker-|containerd-)?([0-9a-f]{64})(?:\.scope)?$"
)


@dataclass(frozen=True)
class CgroupIdentity:
    """What a cgroup path says about Kubernetes: inside kubepods, which pod, which container."""

    kubepods: bool = False
    pod_uid: str | None = None
    container_id: str | None = None
    qos: str | None = None


def identify(path: str) -> CgroupIdentity:
    """Classify a cgroup path (relative to the hierarchy root) by the kubelet's naming."""
    parts = [p for p in path.split("/") if p]
    kubepods = False
    pod_uid = container_id = qos = None
    for part in parts:
        if "kubepods" in part:
            kubepods = True
            if "besteffort" in part:
                qos = "besteffort"
            elif "burstable" in part:
                qos = "burstable"
        elif kubepods and part in ("burstable", "besteffort"):
            qos = part
        if not kubepods:
            continue
        pod = _POD.search(part)
        if pod:
            pod_uid = pod.group(1).replace("_", "-")
            continue
        if pod_uid:
            container = _CONTAINER.match(part)
            if container:
                container_id = container.group(1)
    if pod_uid and qos is None:
        qos = "guaranteed"
    return CgroupIdentity(kubepods, pod_uid, container_id, qos)


def identify_process(proc: Path, pid: int) -> tuple[str | None, CgroupIdentity]:
    """The cgroup path of a process (the memory controller's on v1) and what it says."""
    text = hostfs.read_text(proc / str(pid) / "cgroup")
    if not text:
        return None, CgroupIdentity()
    best: str | None = None
    for line in text.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        controllers, path = fields[1], fields[2]
        if "memory" in controllers.split(",") or (best is None and controllers == ""):
            best = path
    if best is None:
        best = text.splitlines()[0].split(":", 2)[-1]
    return best, identify(best)


class PodNames:
    """Pod and container names from the kubelet's log directories on the host.

    ``/var/log/pods/<namespace>_<pod>_<uid>`` and
    ``/var/log/containers/<pod>_<namespace>_<container>-<id>.log`` exist on every
    kubelet node and name what the cgroups only number. Namespaces, pod and container
    names cannot contain ``_``, so the split is exact. Re-listed only when a directory's
    mtime changes (a pod or container came or went).
    """

    def __init__(self, rootfs: Path) -> None:
        self.pods_dir = hostfs.host_path(rootfs, "/var/log/pods")
        self.containers_dir = hostfs.host_path(rootfs, "/var/log/containers")
        self._mtimes: tuple[float, float] = (-1.0, -1.0)
        self.pods: dict[str, tuple[str, str]] = {}
        self.containers: dict[str, tuple[str, str, str]] = {}

    def refresh(self) -> None:
        mtimes = (_mtime(self.pods_dir), _mtime(self.containers_dir))
        if mtimes == self._mtimes:
            return
        # Built aside and swapped in whole: a tool call on another thread never sees a
        # half-filled map.
        pods: dict[str, tuple[str, str]] = {}
        containers: dict[str, tuple[str, str, str]] = {}
        for name in _listdir(self.pods_dir):
            parts = name.split("_")
            if len(parts) == 3:
                pods[parts[2]] = (parts[0], parts[1])
        for name in _listdir(self.containers_dir):
            stem = name.removesuffix(".log")
            head, _, cid = stem.rpartition("-")
            parts = head.split("_")
            if len(parts) == 3 and len(cid) == 64:
                containers[cid] = (parts[1], parts[0], parts[2])
        self.pods, self.containers, self._mtimes = pods, containers, mtimes

    def find_uid(self, namespace: str, pod: str) -> str | None:
        for uid, (ns, name) in self.pods.items():
            if ns == namespace and name == pod:
                return uid
        return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


@dataclass
class Layout:
    """Where each controller's hierarchy is, and which cgroup version the host runs."""

    version: str | None
    memory: Path | None = None
    cpu: Path | None = None
    pids: Path | None = None
    note: str = ""

    @classmethod
    def detect(cls, root: Path, proc: Path | None = None) -> Layout:
        """The layout under ``root``: from its files (``cgroup.controllers`` at the root
        is v2; a ``memory`` directory is v1), else from what ``<proc>/mounts`` says is
        mounted at /sys/fs/cgroup (a recorded tree or a host may lack the marker files)."""
        if (root / "cgroup.controllers").exists():
            controllers = (hostfs.read_text(root / "cgroup.controllers") or "").split()
            return cls("v2", root, root, root if "pids" in controllers else None)
        mounts = cgroup_mounts(proc) if proc is not None else {}
        if mounts.get("") == "cgroup2":
            # no controllers file to say whether pids is enabled: its files tell per cgroup
            return cls("v2", root, root, root)
        memory = mounts.get("memory") or "memory"
        if (root / memory).is_dir():
            cpu_names = [mounts[k] for k in ("cpu",) if k in mounts] + ["cpu", "cpu,cpuacct"]
            cpu = next((root / n for n in cpu_names if (root / n).is_dir()), None)
            pids_name = mounts.get("pids") or "pids"
            pids = root / pids_name if (root / pids_name).is_dir() else None
            hybrid = (root / "unified" / "cgroup.controllers").exists() or (
                mounts.get("unified") == "cgroup2"
            )
            return cls("hybrid" if hybrid else "v1", root / memory, cpu, pids)
        return cls(
            None,
            note=f"no cgroup hierarchy found at {HOST_CGROUP}: neither cgroup.controllers "
            f"(v2) nor a memory controller (v1), and no cgroup mount in /proc/mounts",
        )


def io_stat(path: str) -> dict[str, dict[str, int]]:
    """cgroup v2 ``io.stat``: bytes and operations read and written, by device."""
    out: dict[str, dict[str, int]] = {}
    for line in (hostfs.read_text(path) or "").splitlines():
        device, *pairs = line.split()
        counters = {}
        for pair in pairs:
            key, _, value = pair.partition("=")
            if key in ("rbytes", "wbytes", "rios", "wios") and value.isdigit():
                counters[key] = int(value)
        if counters:
            out[device] = counters
    return out


def cgroup_mounts(proc: Path) -> dict[str, str]:
    """What /proc/mounts mounts under /sys/fs/cgroup: ``{"": "cgroup2"}`` for a unified
    root, ``{"memory": "memory", "cpu": "cpu,cpuacct", "unified": "cgroup2"}`` for v1
    controllers (by controller, their directory) and a hybrid's unified tree."""
    found: dict[str, str] = {}
    text = hostfs.read_text(hostfs.host_proc_file(proc, "mounts")) or ""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or not fields[1].startswith(HOST_CGROUP):
            continue
        relative = fields[1][len(HOST_CGROUP) :].strip("/")
        if fields[2] == "cgroup2":
            found["unified" if relative else ""] = "cgroup2"
        elif fields[2] == "cgroup" and relative:
            for option in fields[3].split(","):
                if option in ("memory", "cpu", "pids"):
                    found[option] = relative
    return found


@dataclass
class CgroupStats:
    path: str
    depth: int
    identity: CgroupIdentity
    memory_bytes: int | None = None
    memory_limit: int | None = None
    working_set: int | None = None
    oom_kills: int | None = None
    limit_hits: int | None = None
    cpu_periods: int | None = None
    cpu_throttled: int | None = None
    throttled_usec: int | None = None
    cpu_quota_cores: float | None = None
    pids_current: int | None = None
    pids_limit: int | None = None
    #: Bytes read and written since the cgroup was created (io.stat, pod level, v2).
    io_bytes: int | None = None
    # Filled in by the snapshot, from the previous one.
    throttled_ratio: float | None = None
    new_oom_kills: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def memory_ratio(self) -> float | None:
        used = self.working_set if self.working_set is not None else self.memory_bytes
        return hostfs.ratio(used, self.memory_limit) if used is not None else None

    @property
    def pids_ratio(self) -> float | None:
        if self.pids_current is None:
            return None
        return hostfs.ratio(self.pids_current, self.pids_limit)


def _is_pod_level(s: CgroupStats) -> bool:
    """A pod's own cgroup (not one of its containers'): its task count is the pod's."""
    return bool(s.identity.pod_uid) and not s.identity.container_id


def _top_pids(stats: Sequence[CgroupStats], each: int = 3) -> list[CgroupStats]:
    """The cgroups nearest their pids limit, then the ones holding the most tasks: on a
    node whose PIDs run out, the culprit usually has no limit of its own (pids.max "max")."""
    counted = [s for s in stats if s.pids_current is not None]
    nearest = sorted(
        (s for s in counted if s.pids_ratio is not None),
        key=lambda s: (s.pids_ratio or 0.0, s.depth),
        reverse=True,
    )[:each]
    largest = sorted(
        (s for s in counted if _is_pod_level(s)),
        key=lambda s: s.pids_current or 0,
        reverse=True,
    )[:each]
    return nearest + [s for s in largest if all(s is not n for n in nearest)]


class ContainersSkill(Skill):
    """Per-pod and per-container resource limits as the kernel enforces them."""

    name = "containers"
    description = (
        "Node cgroups per pod/container: memory vs limit, OOM kills, CPU throttling, "
        "pids vs limit (cgroup v1 and v2)."
    )
    prompt = (
        "The containers skill reads the kernel's cgroups on a node, so it sees what the "
        "kubelet enforces: a memory ratio near 1 ends in an OOM kill, a high throttled "
        "ratio means the CPU limit, not the node, slows the container. Pods are named by "
        "UID when the kubelet's log directories are not mounted; match them with the "
        "cluster skills' pod UIDs."
    )
    thresholds = (
        Threshold(
            "container.memory_limit_ratio",
            anomalies.CONTAINER_MEMORY_NEAR_LIMIT,
            0.9,
            0.98,
            "{subject} is using {value} of its memory limit (working set / limit)",
            "The memory limit of {subject} is too low for its workload, or it leaks memory",
        ),
        Threshold(
            "container.cpu_throttled_ratio",
            anomalies.CPU_THROTTLING,
            0.25,
            0.5,
            "{subject} was CPU-throttled in {value} of its scheduling periods",
            "The CPU limit of {subject} is below its demand; latency rises while throttled",
        ),
        Threshold(
            "container.pids_ratio",
            anomalies.PIDS_NEAR_LIMIT,
            0.8,
            0.95,
            "{subject} is using {value} of its pids limit",
            "{subject} leaks threads or processes, or forks too much",
        ),
    )

    def __init__(
        self, paths: HostPaths | None = None, max_cgroups: int = DEFAULT_MAX_CGROUPS
    ) -> None:
        super().__init__()
        self.paths = paths or HostPaths()
        self.max_cgroups = max_cgroups
        self.names = PodNames(self.paths.rootfs)
        self._throttle = hostfs.Sampler[dict[str, tuple[int, int]]](min_interval=1.0)
        self._oom_seen: dict[str, int] = {}
        self._io_seen: dict[str, tuple[int | None, int | None]] = {}

        self._limits: dict[str, tuple[float, bool, int | None]] = {}
        self.add_tool(
            "cgroup",
            "Full statistics of one cgroup by path (relative to the cgroup root), "
            "including memory.stat and events.",
            params(["path"], path=string(1024, "e.g. kubepods.slice/... or system.slice")),
            self.cgroup,
        )
        self.add_tool(
            "pod",
            "Memory, OOM kills, throttling and pids of one pod's cgroup and its containers.",
            params(
                ["uid"],
                uid=string(253, "The pod UID, or namespace/name when pod logs are mounted."),
            ),
            self.pod,
        )
        self.add_tool(
            "throttled",
            "Cgroups with a CPU limit, most throttled first (ratio since the last snapshot).",
            params(limit=integer(1, 100, "How many (default 10).")),
            self.throttled,
        )
        self.add_tool(
            "oom_events",
            "Every cgroup whose processes were OOM-killed, with counts and limits.",
            params(limit=integer(1, 100, "How many (default 20).")),
            self.oom_events,
        )
        self.add_tool(
            "memory_usage",
            "Cgroups by memory use relative to their limit, highest first.",
            params(limit=integer(1, 100, "How many (default 10).")),
            self.memory_usage,
        )

    # -- snapshot ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        layout = Layout.detect(self.paths.cgroup, self.paths.proc)
        if layout.version is None or layout.memory is None:
            return {
                "available": False,
                "cgroup_version": None,
                "kubernetes": False,
                "note": layout.note,
            }
        self.names.refresh()
        stats, truncated = self._collect(layout)
        kubernetes = any(s.identity.kubepods for s in stats)
        self._apply_throttle_rates(stats)
        events = self._apply_oom_deltas(stats, hierarchical=layout.version == "v2")

        # Limited cgroups by ratio first; on a plain machine with no limits the biggest
        # users still say where the memory went.
        limited = [s for s in stats if s.memory_bytes is not None]
        # Ties (a pod and its only busy container) go to the deeper, more specific cgroup.
        limited.sort(
            key=lambda s: (s.memory_ratio or -1.0, s.memory_bytes or 0, s.depth), reverse=True
        )
        throttled = [s for s in stats if s.throttled_ratio]
        throttled.sort(key=lambda s: (s.throttled_ratio or 0.0, s.depth), reverse=True)
        pids = _top_pids(stats)

        out: dict[str, Any] = {
            "available": True,
            "cgroup_version": layout.version,
            "kubernetes": kubernetes,
            "cgroups": len(stats),
            "walk_truncated": truncated,
        }
        if kubernetes:
            out["pods"] = len({s.identity.pod_uid for s in stats if s.identity.pod_uid})
            out["containers"] = sum(1 for s in stats if s.identity.container_id)
        else:
            out["note"] = (
                "no kubepods cgroups found: not a Kubernetes node (or the host's cgroup "
                "tree is not mounted); reporting the machine's own cgroups"
            )
        if truncated:
            out["truncated_note"] = f"walk stopped at {self.max_cgroups} cgroups"
        out["oom_kills_total"] = _total_oom_kills(stats, hierarchical=layout.version == "v2")
        out["oom_events"] = events[:TOP]
        out["top_memory"] = [self._entry(s, "memory") for s in limited[:TOP]]
        out["top_throttled"] = [self._entry(s, "cpu") for s in throttled[:TOP]]
        out["top_pids"] = [self._entry(s, "pids") for s in pids]
        out["top_io"] = self._top_io(stats)
        return out

    def _top_io(self, stats: list[CgroupStats]) -> list[dict[str, Any]]:
        """Pods by bytes read and written since the previous snapshot, with their share
        of all pods' I/O: who is using a saturated disk (no clock needed)."""
        deltas: dict[str, tuple[CgroupStats, int]] = {}
        for s in stats:
            if s.io_bytes is None:
                continue
            # A reading equal to the last one (a second look within the same second, or a
            # replay re-reading its last sample) is compared with the reading before it.
            older, last = self._io_seen.get(s.path, (None, None))
            if s.io_bytes != last:
                older, last = last, s.io_bytes
                self._io_seen[s.path] = (older, last)
            if older is not None and s.io_bytes >= older:
                deltas[s.path] = (s, s.io_bytes - older)
        total = sum(delta for _, delta in deltas.values())
        ranked = sorted(deltas.values(), key=lambda pair: pair[1], reverse=True)[:3]
        return [
            {
                **self._entry(s, "io"),
                "io_bytes_delta": delta,
                "io_share": round(delta / total, 3) if total else 0.0,
            }
            for s, delta in ranked
            if delta > 0
        ]

    def summarize(self, snapshot: Mapping[str, Any]) -> str:
        if not snapshot.get("available", True):
            return str(snapshot.get("note") or "no cgroup tree readable")
        kind = "Kubernetes pod cgroups" if snapshot.get("kubernetes") else "cgroups"
        return (
            f"{snapshot.get('cgroups', 0)} {kind} (cgroup {snapshot.get('cgroup_version')}), "
            f"{snapshot.get('oom_kills_total', 0)} OOM kills, "
            f"{len(snapshot.get('top_throttled') or [])} throttled"
        )

    def metrics(self, snapshot: Mapping[str, Any]) -> list[Metric]:
        out: list[Metric] = []
        if isinstance(snapshot.get("oom_kills_total"), int):
            out.append(
                Metric("containers.oom_kills", float(snapshot["oom_kills_total"]), counter=True)
            )
        for entry in snapshot.get("top_memory", []):
            if entry.get("memory_limit_ratio") is not None:
                out.append(
                    Metric(
                        "container.memory_limit_ratio",
                        float(entry["memory_limit_ratio"]),
                        entry_subject(entry),
                    )
                )
        for entry in snapshot.get("top_throttled", []):
            subject = entry_subject(entry)
            if entry.get("throttled_ratio") is not None:
                out.append(
                    Metric(
                        "container.cpu_throttled_ratio", float(entry["throttled_ratio"]), subject
                    )
                )
            if entry.get("nr_throttled") is not None:
                out.append(
                    Metric(
                        "container.cpu_throttled_periods",
                        float(entry["nr_throttled"]),
                        subject,
                        counter=True,
                    )
                )
        for entry in snapshot.get("top_pids", []):
            if entry.get("pids_ratio") is not None:
                out.append(
                    Metric("container.pids_ratio", float(entry["pids_ratio"]), entry_subject(entry))
                )
        return out

    def findings(self, snapshot: Mapping[str, Any]) -> list[Finding]:
        out: list[Finding] = []
        for event in snapshot.get("oom_events", []):
            subject = entry_subject(event)
            kills = int(event.get("new_oom_kills", 0))
            limit = event.get("memory_limit_bytes")
            limit_text = f" (memory limit {_mib(limit)})" if limit else " (no memory limit)"
            where = describe(event)
            if event.get("exited_containers"):
                where += ", in containers that have since exited"
            plural = "process" if kills == 1 else "processes"
            out.append(
                Finding(
                    anomaly_type=anomalies.CONTAINER_OOM_KILLED,
                    severity=Severity.CRITICAL,
                    observation=f"The kernel OOM killer killed {kills} {plural} in {where}"
                    f"{limit_text}",
                    subject=subject,
                    hypothesis=(
                        "The memory limit is below what the workload needs at peak, or it leaks "
                        "memory until the limit is hit"
                    ),
                    context=f"oom_kill +{kills}, total {event.get('oom_kills')}",
                    evidence=dict(event),
                )
            )
        return out

    # -- tools ------------------------------------------------------------------------

    def cgroup(self, path: str) -> Any:
        layout = Layout.detect(self.paths.cgroup, self.paths.proc)
        if layout.memory is None:
            return ToolResult.empty(layout.note)
        relative = self._relative(path, layout)
        if relative is None:
            return ToolResult.fail(
                f"path {path!r} leaves the cgroup tree; give a path relative to "
                f"{HOST_CGROUP}, such as kubepods.slice or system.slice"
            )
        if not (layout.memory / relative).is_dir():
            return ToolResult.empty(
                f"no cgroup {relative!r} under {HOST_CGROUP}; call memory_usage(), "
                "throttled() or pod(uid) to find cgroup paths"
            )
        self.names.refresh()
        stats = self._read(
            layout, relative, relative.count("/") + 1 if relative else 0, detail=True
        )
        children = [e.name for e in _subdirs(layout.memory / relative)]
        row = self._row(stats)
        row["children"] = len(children)
        row["child_names"] = children[:20]
        return row

    def pod(self, uid: str) -> Any:
        layout = Layout.detect(self.paths.cgroup, self.paths.proc)
        if layout.memory is None:
            return ToolResult.empty(layout.note)
        self.names.refresh()
        wanted = uid.strip().lower().replace("_", "-")
        if "/" in wanted:
            namespace, _, name = uid.strip().partition("/")
            found = self.names.find_uid(namespace, name)
            if found is None:
                return ToolResult.empty(
                    f"no pod {uid!r} in the kubelet's /var/log/pods on this node; "
                    "pass the pod UID instead (kubectl get pod -o jsonpath='{.metadata.uid}')"
                )
            wanted = found
        stats, _ = self._collect(layout)
        pod_rows = [s for s in stats if s.identity.pod_uid == wanted]
        if not pod_rows:
            known = sorted({s.identity.pod_uid for s in stats if s.identity.pod_uid})
            if not known:
                return ToolResult.empty("no pod cgroups on this node (not a Kubernetes node)")
            return ToolResult.empty(
                f"no pod with UID {wanted!r} on this node; pods here: {', '.join(known[:20])}"
                + (" …" if len(known) > 20 else "")
            )
        self._apply_throttle_rates(stats, record=False)
        pod_level = [s for s in pod_rows if s.identity.container_id is None]
        containers = [s for s in pod_rows if s.identity.container_id]
        return {
            "pod_uid": wanted,
            **self._names_for(pod_rows[0].identity),
            "qos": pod_rows[0].identity.qos,
            "pod": self._row(pod_level[0]) if pod_level else None,
            "containers": [self._row(s) for s in containers],
        }

    def _tool_stats(self) -> list[CgroupStats] | ToolResult:
        """Every cgroup's statistics for a tool call, or why there are none."""
        layout = Layout.detect(self.paths.cgroup, self.paths.proc)
        if layout.memory is None:
            return ToolResult.empty(layout.note)
        self.names.refresh()
        stats, _ = self._collect(layout)
        return stats

    def throttled(self, limit: int = 10) -> Any:
        stats = self._tool_stats()
        if isinstance(stats, ToolResult):
            return stats
        self._apply_throttle_rates(stats, record=False)
        rows = [s for s in stats if s.cpu_quota_cores is not None or s.cpu_throttled]
        if not rows:
            return ToolResult.empty("no cgroup on this node has a CPU limit or was throttled")
        rows.sort(
            key=lambda s: (s.throttled_ratio or 0.0, s.cpu_throttled or 0, s.depth), reverse=True
        )
        return [self._entry(s, "cpu") for s in rows[:limit]]

    def oom_events(self, limit: int = 20) -> Any:
        stats = self._tool_stats()
        if isinstance(stats, ToolResult):
            return stats
        rows = [s for s in stats if s.oom_kills]
        if not rows:
            return ToolResult.empty(
                f"no OOM kills recorded in the {len(stats)} cgroups read on this node "
                "(counters reset when a cgroup is removed, e.g. a restarted container)"
            )
        rows.sort(key=lambda s: (s.oom_kills or 0, s.depth), reverse=True)
        return [self._entry(s, "oom") for s in rows[:limit]]

    def memory_usage(self, limit: int = 10) -> Any:
        stats = self._tool_stats()
        if isinstance(stats, ToolResult):
            return stats
        rows = [s for s in stats if s.memory_bytes is not None]
        if not rows:
            return ToolResult.empty("no memory statistics readable in the cgroup tree")
        rows.sort(key=lambda s: (s.memory_ratio or 0.0, s.memory_bytes or 0, s.depth), reverse=True)
        return [self._entry(s, "memory") for s in rows[:limit]]

    # -- reading ----------------------------------------------------------------------

    def _collect(self, layout: Layout) -> tuple[list[CgroupStats], bool]:
        assert layout.memory is not None
        paths, truncated = self._walk(layout.memory)
        kubernetes = any("kubepods" in p for p, _ in paths)
        stats: list[CgroupStats] = []
        for path, depth in paths:
            # On a Kubernetes node the kubepods tree is what matters; of the rest only
            # the top slices and services (kubelet, containerd) are worth the reads.
            if depth == 0 or (kubernetes and depth > 2 and "kubepods" not in path):
                continue
            stats.append(self._read(layout, path, depth))
        return stats, truncated

    def _walk(self, root: Path) -> tuple[list[tuple[str, int]], bool]:
        """Relative cgroup paths, breadth first, kubepods subtrees first, bounded."""
        found: list[tuple[str, int]] = [("", 0)]
        kube_roots: list[tuple[str, int]] = []
        for entry in _subdirs(root):
            if "kubepods" in entry.name:
                kube_roots.append((entry.name, 1))
                continue
            # kind and some distributions nest it: kubelet.slice/kubelet-kubepods.slice.
            kube_roots.extend(
                (f"{entry.name}/{child.name}", 2)
                for child in _subdirs(entry.path)
                if "kubepods" in child.name
            )

        def breadth_first(start: str, depth: int, max_depth: int, skip_kubepods: bool) -> bool:
            queue = deque([(start, depth)])
            while queue:
                path, depth = queue.popleft()
                if path:
                    if len(found) > self.max_cgroups:
                        return True
                    found.append((path, depth))
                if depth >= max_depth:
                    continue
                for entry in _subdirs(f"{root}/{path}"):
                    if not (skip_kubepods and "kubepods" in entry.name):
                        queue.append((f"{path}/{entry.name}" if path else entry.name, depth + 1))
            return False

        for path, depth in kube_roots:
            if breadth_first(path, depth, MAX_DEPTH, skip_kubepods=False):
                return found, True
        # Beside the pods only the top slices and services (kubelet, containerd) matter.
        rest_depth = 2 if kube_roots else MAX_DEPTH
        return found, breadth_first("", 0, rest_depth, skip_kubepods=True)

    def _read(self, layout: Layout, path: str, depth: int, detail: bool = False) -> CgroupStats:
        stats = CgroupStats(path=path, depth=depth, identity=identify(path))
        if layout.version == "v2":
            self._read_v2(layout, stats, detail)
        else:
            self._read_v1(layout, stats, detail)
        return stats

    # The readers below run for every cgroup on every snapshot: paths are plain strings
    # because pathlib's object overhead was a third of the cost on a busy node.
    def _read_v2(self, layout: Layout, s: CgroupStats, detail: bool) -> None:
        assert layout.memory is not None
        d = f"{layout.memory}/{s.path}"
        s.memory_bytes = hostfs.read_int(f"{d}/memory.current")
        if _is_pod_level(s):
            devices = io_stat(f"{d}/io.stat")
            if devices:
                s.io_bytes = sum(c.get("rbytes", 0) + c.get("wbytes", 0) for c in devices.values())
        if s.memory_bytes is not None:
            s.memory_limit = self._limit(f"{d}/memory.max")
            events = hostfs.read_keyed(f"{d}/memory.events")
            s.oom_kills = events.get("oom_kill")
            s.limit_hits = events.get("max")
            if detail:
                s.extra["memory_events"] = events
        # Only a cgroup with its own quota is throttled (a child's throttling is counted
        # in the child), and a pids count matters only against a limit: the cached limit
        # decides whether the counters are worth a read.
        s.cpu_quota_cores = self._quota_v2(f"{d}/cpu.max")
        if s.cpu_quota_cores is not None or detail:
            cpu = hostfs.read_keyed(f"{d}/cpu.stat")
            s.cpu_periods = cpu.get("nr_periods")
            s.cpu_throttled = cpu.get("nr_throttled")
            s.throttled_usec = cpu.get("throttled_usec")
            if detail and cpu:
                s.extra["cpu_usage_seconds"] = round(cpu.get("usage_usec", 0) / 1e6, 1)
        if detail:
            io = io_stat(f"{d}/io.stat")
            if io:
                s.extra["io_stat"] = io
        if layout.pids is not None:
            s.pids_limit = self._limit(f"{d}/pids.max")
            if s.pids_limit is not None or detail or _is_pod_level(s):
                s.pids_current = hostfs.read_int(f"{d}/pids.current")
        self._working_set(s, d, "inactive_file", detail)

    def _read_v1(self, layout: Layout, s: CgroupStats, detail: bool) -> None:
        assert layout.memory is not None
        d = f"{layout.memory}/{s.path}"
        s.memory_bytes = hostfs.read_int(f"{d}/memory.usage_in_bytes")
        if s.memory_bytes is not None:
            s.memory_limit = self._limit(f"{d}/memory.limit_in_bytes")
            oom = hostfs.read_keyed(f"{d}/memory.oom_control")
            s.oom_kills = oom.get("oom_kill")
            s.limit_hits = hostfs.read_int(f"{d}/memory.failcnt")
            if detail:
                s.extra["oom_control"] = oom
        if layout.cpu is not None:
            c = f"{layout.cpu}/{s.path}"
            quota = self._limit(f"{c}/cpu.cfs_quota_us")
            if quota:
                period = self._limit(f"{c}/cpu.cfs_period_us")
                s.cpu_quota_cores = round(quota / period, 3) if period else None
            if quota or detail:
                cpu = hostfs.read_keyed(f"{c}/cpu.stat")
                s.cpu_periods = cpu.get("nr_periods")
                s.cpu_throttled = cpu.get("nr_throttled")
                if "throttled_time" in cpu:
                    s.throttled_usec = cpu["throttled_time"] // 1000
        if layout.pids is not None:
            p = f"{layout.pids}/{s.path}"
            s.pids_limit = self._limit(f"{p}/pids.max")
            if s.pids_limit is not None or detail or _is_pod_level(s):
                s.pids_current = hostfs.read_int(f"{p}/pids.current")
        self._working_set(s, d, "total_inactive_file", detail)

    def _working_set(self, s: CgroupStats, d: str, inactive_key: str, detail: bool) -> None:
        raw = hostfs.ratio(s.memory_bytes, s.memory_limit) if s.memory_bytes is not None else None
        if not detail and (raw is None or raw < WORKING_SET_FROM):
            return
        stat = hostfs.read_keyed(f"{d}/memory.stat")
        if inactive_key in stat and s.memory_bytes is not None:
            s.working_set = max(0, s.memory_bytes - stat[inactive_key])
        if detail:
            keep = (
                "anon",
                "file",
                "shmem",
                "inactive_file",
                "active_file",
                "rss",
                "cache",
                "total_rss",
                "total_cache",
                "total_inactive_file",
                "swap",
                "total_swap",
                "kernel",
                "sock",
                "slab",
                "file_dirty",
                "file_writeback",
                "pgmajfault",
            )
            # the usual keys; a kernel that names them otherwise still shows what it has
            chosen = {k: stat[k] for k in keep if k in stat} or dict(stat)
            if chosen:
                s.extra["memory_stat"] = chosen

    def _limit(self, path: str) -> int | None:
        now = time.monotonic()
        cached = self._limits.get(path)
        if cached is not None and now - cached[0] < LIMIT_TTL:
            return cached[2]
        present, value = hostfs.read_limit(path)
        if len(self._limits) > 8 * self.max_cgroups:
            self._limits.clear()
        self._limits[path] = (now, present, value)
        return value

    def _quota_v2(self, path: str) -> float | None:
        now = time.monotonic()
        cached = self._limits.get(path)
        if cached is not None and now - cached[0] < LIMIT_TTL:
            return None if cached[2] is None else cached[2] / 1000.0
        parts = (hostfs.read_text(path) or "").split()
        millicores: int | None = None
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit() and int(parts[1]):
            millicores = round(int(parts[0]) * 1000 / int(parts[1]))
        self._limits[path] = (now, bool(parts), millicores)
        return None if millicores is None else millicores / 1000.0

    def _apply_throttle_rates(self, stats: list[CgroupStats], record: bool = True) -> None:
        counters: dict[str, tuple[int, int]] = {
            s.path: (s.cpu_periods, s.cpu_throttled)
            for s in stats
            if s.cpu_periods is not None and s.cpu_throttled is not None
        }
        # Tools compare with the snapshots' readings but must not move them.
        base, _ = self._throttle.observe(counters) if record else self._throttle.baseline()
        for s in stats:
            if s.path not in counters:
                continue
            periods, throttled = counters[s.path]
            before = base.get(s.path) if base else None
            if before is not None and periods >= before[0]:
                d_periods, d_throttled = periods - before[0], throttled - before[1]
                s.throttled_ratio = (
                    round(d_throttled / d_periods, 3) if d_periods >= MIN_PERIODS else 0.0
                )
            elif periods >= MIN_PERIODS:
                # First sight of this cgroup: its lifetime ratio is the best we know.
                s.throttled_ratio = round(throttled / periods, 3)

    def _apply_oom_deltas(
        self, stats: list[CgroupStats], hierarchical: bool
    ) -> list[dict[str, Any]]:
        current: dict[str, int] = {}
        for s in stats:
            if s.oom_kills is None:
                continue
            current[s.path] = s.oom_kills
            seen = self._oom_seen.get(s.path, 0)
            s.new_oom_kills = s.oom_kills - seen if s.oom_kills >= seen else s.oom_kills
        # Remember cgroups the bounded walk skipped this time, so their old kills are not
        # reported again when they come back; forget everything if the map grows large.
        self._oom_seen.update(current)
        if len(self._oom_seen) > 4 * self.max_cgroups:
            self._oom_seen = current
        by_parent: dict[str, int] = {}
        if hierarchical:
            for s in stats:
                if s.new_oom_kills:
                    parent = s.path.rpartition("/")[0]
                    by_parent[parent] = by_parent.get(parent, 0) + s.new_oom_kills
        events: list[dict[str, Any]] = []
        for s in stats:
            # v2 counts a kill in every ancestor too: report it once, where it happened.
            own = s.new_oom_kills - by_parent.get(s.path, 0)
            if own <= 0:
                continue
            entry = self._entry(s, "oom")
            entry["new_oom_kills"] = own
            if s.identity.pod_uid and not s.identity.container_id:
                entry["exited_containers"] = True
            events.append(entry)
        events.sort(key=lambda e: e["new_oom_kills"], reverse=True)
        return events

    # -- shaping ----------------------------------------------------------------------

    def _relative(self, path: str, layout: Layout) -> str | None:
        text = path.strip()
        for prefix in (str(layout.memory), str(self.paths.cgroup), "/sys/fs/cgroup"):
            if text.startswith(prefix + "/") or text == prefix:
                text = text[len(prefix) :]
                break
        if layout.version != "v2" and text.lstrip("/").startswith("memory/"):
            text = text.lstrip("/")[len("memory/") :]
        assert layout.memory is not None
        resolved = hostfs.under(layout.memory, text)
        if resolved is None:
            return None
        return "/".join(p for p in text.split("/") if p not in ("", "."))

    def _names_for(self, identity: CgroupIdentity) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if identity.container_id and identity.container_id in self.names.containers:
            namespace, pod, container = self.names.containers[identity.container_id]
            out.update(namespace=namespace, pod=pod, container=container)
        elif identity.pod_uid and identity.pod_uid in self.names.pods:
            namespace, pod = self.names.pods[identity.pod_uid]
            out.update(namespace=namespace, pod=pod)
        return out

    def _entry(self, s: CgroupStats, kind: str) -> dict[str, Any]:
        """A compact row for the snapshot's top lists: identity plus the facts of ``kind``."""
        entry: dict[str, Any] = {}
        if s.identity.pod_uid:
            entry["pod_uid"] = s.identity.pod_uid
            if s.identity.container_id:
                entry["container_id"] = s.identity.container_id[:12]
            entry.update(self._names_for(s.identity))
        else:
            entry["cgroup"] = s.path
        if kind == "memory" or kind == "oom":
            entry["memory_bytes"] = s.memory_bytes
            if s.working_set is not None:
                entry["working_set_bytes"] = s.working_set
            entry["memory_limit_bytes"] = s.memory_limit
            entry["memory_limit_ratio"] = s.memory_ratio
        if kind == "oom":
            entry["oom_kills"] = s.oom_kills
        if kind == "cpu":
            entry["cpu_limit_cores"] = s.cpu_quota_cores
            entry["throttled_ratio"] = s.throttled_ratio
            entry["nr_throttled"] = s.cpu_throttled
            entry["nr_periods"] = s.cpu_periods
            if s.throttled_usec is not None:
                entry["throttled_seconds"] = round(s.throttled_usec / 1e6, 1)
        if kind == "pids":
            entry["pids"] = s.pids_current
            entry["pids_limit"] = s.pids_limit
            entry["pids_ratio"] = s.pids_ratio
        return entry

    def _row(self, s: CgroupStats) -> dict[str, Any]:
        """Everything known about one cgroup, for tools."""
        row: dict[str, Any] = {"cgroup": s.path, "depth": s.depth}
        if s.identity.kubepods:
            row.update(
                pod_uid=s.identity.pod_uid, container_id=s.identity.container_id, qos=s.identity.qos
            )
            row.update(self._names_for(s.identity))
        row.update(
            memory_bytes=s.memory_bytes,
            working_set_bytes=s.working_set,
            memory_limit_bytes=s.memory_limit,
            memory_limit_ratio=s.memory_ratio,
            oom_kills=s.oom_kills,
            memory_limit_hits=s.limit_hits,
            cpu_limit_cores=s.cpu_quota_cores,
            nr_periods=s.cpu_periods,
            nr_throttled=s.cpu_throttled,
            throttled_ratio=s.throttled_ratio,
            throttled_seconds=None
            if s.throttled_usec is None
            else round(s.throttled_usec / 1e6, 1),
            pids=s.pids_current,
            pids_limit=s.pids_limit,
        )
        row.update(s.extra)
        return {k: v for k, v in row.items() if v is not None}


def entry_subject(entry: Mapping[str, Any]) -> Subject:
    """The object a reported cgroup is about: a container, a pod, or a plain cgroup.

    Names come from the kubelet's log directories when mounted; otherwise pods are named
    by UID (``Pod/<uid>``) and containers by ``<pod uid>/<container id[:12]>``, with no
    namespace: the coordinator matches them against the cluster skills' pods.
    """
    namespace = entry.get("namespace")
    if entry.get("container_id"):
        if entry.get("pod") and entry.get("container"):
            return Subject(
                kind="Container", namespace=namespace, name=f"{entry['pod']}/{entry['container']}"
            )
        return Subject(kind="Container", name=f"{entry['pod_uid']}/{entry['container_id']}")
    if entry.get("pod_uid"):
        if entry.get("pod"):
            return Subject(kind="Pod", namespace=namespace, name=str(entry["pod"]))
        return Subject(kind="Pod", name=str(entry["pod_uid"]))
    return Subject(kind="Cgroup", name="/" + str(entry.get("cgroup", "")))


def describe(entry: Mapping[str, Any]) -> str:
    """A reported cgroup in words, for observations."""
    if entry.get("pod_uid"):
        pod = f"{entry['namespace']}/{entry['pod']}" if entry.get("pod") else str(entry["pod_uid"])
        if entry.get("container_id"):
            container = entry.get("container") or entry["container_id"]
            return f"container {container} of pod {pod}"
        return f"pod {pod}"
    return f"cgroup /{entry.get('cgroup', '')}"


def _total_oom_kills(stats: Iterable[CgroupStats], hierarchical: bool) -> int:
    if hierarchical:
        # Top-level cgroups already count everything below them.
        return sum(s.oom_kills or 0 for s in stats if s.depth == 1)
    return sum(s.oom_kills or 0 for s in stats)


def _subdirs(path: hostfs.FilePath) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return [e for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _mib(value: Any) -> str:
    return f"{int(value) / 1048576:.0f} MiB"
