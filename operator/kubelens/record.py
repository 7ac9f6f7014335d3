"""``kubelens record``: write a live namespace and this host into a scenario folder.

The cluster part reads the kinds the cluster skills use through
:class:`~kubelens.skills.cluster.source.KubernetesSource` (Secrets are not a readable
kind, so they are never fetched), drops what only repeats the spec
(``managedFields``, ``last-applied-configuration``), elides ConfigMap values (their
keys stay: a missing key is a finding) and redacts everything else. The host part copies
the /proc and cgroup files the node skills read, a few times, plus disk usage per mount.
The result is the format in ``docs/scenarios.md``; it is loaded back before returning, so
a recording that replay would refuse is reported at once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubelens import scenario as scenarios
from kubelens.config import Settings
from kubelens.models import timestamp
from kubelens.redact import redact, redact_text
from kubelens.skills import hostfs
from kubelens.skills.base import HostPaths
from kubelens.skills.cluster.source import KINDS, ClusterSource, ClusterSourceError
from kubelens.skills.containers import Layout
from kubelens.skills.node_os import LOCAL_FILESYSTEMS, MEMORY_FILESYSTEMS

log = logging.getLogger(__name__)

NAMESPACED_KINDS = (
    "Pod",
    "Event",
    "Service",
    "Endpoints",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
)
CLUSTER_KINDS = ("Node", "StorageClass", "PersistentVolume")
#: Log lines kept per container and run.
LOG_TAIL = 1_000
#: Bounds on what one host sample copies, so a busy node records in well under a second.
MAX_PROCESSES = 2_000
MAX_CGROUPS = 400
MAX_CGROUP_DEPTH = 8
MAX_POD_LOG_NAMES = 2_000
ELIDED = "(elided)"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

PROC_FILES = (
    "loadavg",
    "meminfo",
    "stat",
    "vmstat",
    "uptime",
    "pressure/cpu",
    "pressure/memory",
    "pressure/io",
    "sys/kernel/pid_max",
    "sys/fs/file-nr",
)
#: Per-namespace files: the host's view (PID 1's) is recorded as the plain name.
PROC_HOST_VIEW_FILES = ("mounts", "net/dev")
PROCESS_FILES = ("stat", "status", "cgroup")
CGROUP_V2_FILES = (
    "memory.current",
    "memory.max",
    "memory.events",
    "memory.stat",
    "cpu.stat",
    "cpu.max",
    "pids.current",
    "pids.max",
    "io.stat",
)
CGROUP_V1_FILES = {
    "memory": (
        "memory.usage_in_bytes",
        "memory.limit_in_bytes",
        "memory.oom_control",
        "memory.failcnt",
        "memory.stat",
    ),
    "cpu": ("cpu.stat", "cpu.cfs_quota_us", "cpu.cfs_period_us"),
    "pids": ("pids.current", "pids.max"),
}


class RecordError(RuntimeError):
    """The recording could not be made; the message says what to fix."""


@dataclass
class Recorded:
    root: Path
    objects: dict[str, int] = field(default_factory=dict)
    logs: int = 0
    samples: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.objects.items())) or "no objects"
        return f"{kinds}; {self.logs} logs; {self.samples} host samples"


def record(
    settings: Settings,
    directory: Path,
    *,
    source: ClusterSource | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Recorded:
    """Record ``settings.namespace`` and (with ``record_host``) this host into ``directory``."""
    root = _prepare(directory)
    namespace = settings.namespace or _context_namespace(settings.kubeconfig)
    if source is None:
        source = _live_source(settings)
    recorded = Recorded(root)
    _record_cluster(source, namespace, root, recorded)
    node = settings.node_name or socket.gethostname()
    interval = 0.0
    if settings.record_host:
        paths = HostPaths(settings.host_proc, settings.host_cgroup, settings.host_root)
        interval = _record_host(
            paths, root / scenarios.HOST_DIR, settings.samples, settings.sample_interval, sleep
        )
        recorded.samples = settings.samples
    spec: dict[str, Any] = {
        "reason": settings.reason or f"What is wrong in namespace {namespace}?",
        "namespace": namespace,
        "description": "Recorded by kubelens record. Add an expect block (rootCause, "
        "subjects) to use it as an eval.",
        "recordedAt": timestamp(),
    }
    if settings.record_host:
        spec["node"] = node
        spec["sampleInterval"] = interval
    (root / scenarios.SCENARIO_FILE).write_text(yaml.safe_dump(spec, sort_keys=False))
    try:
        scenarios.load(root)
    except scenarios.ScenarioError as exc:  # a bug here, not the user's: say so plainly
        raise RecordError(f"the recording in {root} does not load back: {exc}") from exc
    return recorded


def _prepare(directory: Path) -> Path:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise RecordError(f"{directory} exists and is not an empty folder; choose a new one")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordError(f"cannot create {directory}: {exc.strerror}") from exc
    return directory


def _context_namespace(kubeconfig: str) -> str:
    """The namespace of the kubeconfig's current context, as kubectl would use it."""
    candidates = (
        [kubeconfig]
        if kubeconfig
        else [*os.environ.get("KUBECONFIG", "").split(os.pathsep), "~/.kube/config"]
    )
    for candidate in candidates:
        path = Path(candidate).expanduser() if candidate else None
        if path is None or not path.is_file():
            continue
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return "default"
        current = config.get("current-context") if isinstance(config, dict) else None
        for context in (config.get("contexts") or []) if isinstance(config, dict) else []:
            if isinstance(context, dict) and context.get("name") == current:
                namespace = (context.get("context") or {}).get("namespace")
                return str(namespace) if namespace else "default"
        return "default"
    return "default"


def _live_source(settings: Settings) -> ClusterSource:
    from kubelens.kube import api_client
    from kubelens.skills.cluster.source import KubernetesSource

    try:
        client = api_client(settings.kubeconfig)
    except Exception as exc:  # the client's config errors have no common base worth naming
        raise RecordError(f"cannot load a kubeconfig: {exc}") from exc
    return KubernetesSource(client)


# --------------------------------------------------------------------------- cluster


def _record_cluster(source: ClusterSource, namespace: str, root: Path, recorded: Recorded) -> None:
    try:
        found = source.get("Namespace", None, namespace)
    except ClusterSourceError as exc:
        raise RecordError(f"cannot reach the cluster: {exc}") from exc
    if found is None:
        raise RecordError(f"namespace {namespace!r} does not exist in the cluster")
    folder = root / scenarios.CLUSTER_DIR
    folder.mkdir()
    _write_list(folder / "namespaces.yaml", [clean(found)])
    pods: list[dict[str, Any]] = []
    for kind in (*NAMESPACED_KINDS, *CLUSTER_KINDS):
        try:
            objects = source.list(kind, namespace if KINDS[kind].namespaced else None)
        except ClusterSourceError as exc:
            # One forbidden kind (RBAC) should not lose the rest of the recording.
            recorded.warnings.append(f"{kind}: {exc}")
            continue
        if kind == "Pod":
            pods = objects
        if objects:
            _write_list(folder / f"{KINDS[kind].plural}.yaml", [clean(o) for o in objects])
            recorded.objects[kind] = len(objects)
    recorded.logs = _record_logs(source, namespace, pods, root / scenarios.LOGS_DIR, recorded)


def clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An object as it may be stored: no secrets, no ConfigMap values, no spec echoes."""
    out = dict(obj)
    metadata = dict(out.get("metadata") or {})
    metadata.pop("managedFields", None)  # kubectl hides them too; they are write history
    annotations = dict(metadata.get("annotations") or {})
    # last-applied-configuration repeats the whole object, ConfigMap data included.
    if annotations.pop(LAST_APPLIED, None) is not None:
        metadata["annotations"] = annotations
    out["metadata"] = metadata
    if out.get("kind") == "ConfigMap":
        for key in ("data", "binaryData"):
            if isinstance(out.get(key), Mapping):
                # Keys stay: "key not found in ConfigMap" is diagnosed from them.
                out[key] = dict.fromkeys(out[key], ELIDED)
    if out.get("kind") == "Pod":
        out["spec"] = _mask_env(out.get("spec") or {})
    cleaned: dict[str, Any] = redact(out)
    return cleaned


def _mask_env(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Env values named like secrets (DB_PASSWORD) masked; redact sees only ``value`` keys."""
    out = dict(spec)
    for group in ("initContainers", "containers", "ephemeralContainers"):
        containers = []
        for container in out.get(group) or []:
            container = dict(container)
            env = []
            for entry in container.get("env") or []:
                if isinstance(entry, Mapping) and isinstance(entry.get("value"), str):
                    masked = redact({str(entry.get("name")): entry["value"]})
                    entry = {**entry, "value": masked[str(entry.get("name"))]}
                env.append(entry)
            if env:
                container["env"] = env
            containers.append(container)
        if containers:
            out[group] = containers
    return out


def _write_list(path: Path, items: list[dict[str, Any]]) -> None:
    document = {
        "apiVersion": "v1",
        "items": items,
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }
    path.write_text(yaml.safe_dump(document, sort_keys=True, allow_unicode=True))


def _record_logs(
    source: ClusterSource,
    namespace: str,
    pods: Iterable[Mapping[str, Any]],
    folder: Path,
    recorded: Recorded,
) -> int:
    written = 0
    for pod in pods:
        name = str((pod.get("metadata") or {}).get("name"))
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        restarted = {
            str(s.get("name"))
            for key in ("initContainerStatuses", "containerStatuses")
            for s in status.get(key) or []
            if int(s.get("restartCount") or 0) > 0
        }
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            cname = str(container.get("name"))
            for previous in (False, True) if cname in restarted else (False,):
                try:
                    text = source.logs(
                        namespace, name, cname, previous=previous, tail_lines=LOG_TAIL
                    )
                except ClusterSourceError as exc:
                    recorded.warnings.append(f"logs of {name}/{cname}: {exc}")
                    continue
                if not text:
                    continue
                suffix = scenarios.PREVIOUS_SUFFIX if previous else scenarios.LOG_SUFFIX
                path = folder / namespace / name / f"{cname}{suffix}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("\n".join(redact_text(line) for line in text.splitlines()) + "\n")
                written += 1
    return written


# --------------------------------------------------------------------------- host


def _record_host(
    paths: HostPaths,
    folder: Path,
    samples: int,
    interval: float,
    sleep: Callable[[float], None],
) -> float:
    """Copy ``samples`` host samples; return the mean seconds between them."""
    started = time.monotonic()
    for index in range(samples):
        if index and interval > 0:
            sleep(interval)
        take_sample(paths, folder / f"{index:03d}")
    elapsed = time.monotonic() - started
    mean = elapsed / (samples - 1) if samples > 1 else max(interval, 1.0)
    return round(max(mean, 0.001), 3)


def take_sample(paths: HostPaths, target: Path) -> None:
    """One host sample: the files the node skills read, laid out like the host's root."""
    proc = target / "proc"
    for name in PROC_FILES:
        _copy(paths.proc / name, proc / name)
    for name in PROC_HOST_VIEW_FILES:
        _copy(hostfs.host_proc_file(paths.proc, name), proc / name)
    _copy_processes(paths.proc, proc)
    _copy_cgroups(paths.cgroup, paths.proc, target / scenarios.CGROUP_ROOT)
    _copy_pod_log_names(paths.rootfs, target)
    disks = disk_figures(paths)
    (target / scenarios.DF_FILE).write_text(json.dumps(disks, indent=2, sort_keys=True) + "\n")


def _copy(source: Path | str, target: Path) -> bool:
    data = hostfs.read_bytes(source)
    if data is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return True


def _copy_processes(proc: Path, target: Path) -> None:
    try:
        pids = sorted((n for n in os.listdir(proc) if n.isdigit()), key=int)
    except OSError:
        return
    for pid in pids[:MAX_PROCESSES]:
        if not _copy(proc / pid / "stat", target / pid / "stat"):
            continue  # exited since the listing
        for name in PROCESS_FILES[1:]:
            _copy(proc / pid / name, target / pid / name)
        raw = hostfs.read_bytes(proc / pid / "cmdline")
        if raw is not None:
            # Arguments carry passwords and tokens: stored redacted, joined by spaces as
            # the processes skill shows them, NUL-terminated as the kernel writes them.
            text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
            (target / pid / "cmdline").write_bytes(redact_text(text).encode() + b"\0")


def _copy_cgroups(root: Path, proc: Path, target: Path) -> None:
    layout = Layout.detect(root, proc)
    if layout.version is None:
        return
    if layout.version == "v2":
        _copy(root / "cgroup.controllers", target / "cgroup.controllers")
        _copy_tree(root, target, CGROUP_V2_FILES)
        return
    if layout.version == "hybrid":
        _copy(root / "unified" / "cgroup.controllers", target / "unified" / "cgroup.controllers")
    for controller, hierarchy in (
        ("memory", layout.memory),
        ("cpu", layout.cpu),
        ("pids", layout.pids),
    ):
        if hierarchy is not None:
            _copy_tree(hierarchy, target / hierarchy.name, CGROUP_V1_FILES[controller])


def _copy_tree(root: Path, target: Path, files: tuple[str, ...]) -> None:
    """Breadth first, kubepods first, bounded: the cgroups the containers skill reads."""
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    copied = 0
    while queue and copied < MAX_CGROUPS:
        directory, depth = queue.popleft()
        relative = directory.relative_to(root)
        for name in files:
            _copy(directory / name, target / relative / name)
        (target / relative).mkdir(parents=True, exist_ok=True)
        copied += 1
        if depth >= MAX_CGROUP_DEPTH:
            continue
        try:
            children = [e for e in os.scandir(directory) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        children.sort(key=lambda e: ("kubepods" not in e.name, e.name))
        queue.extend((Path(e.path), depth + 1) for e in children)


def _copy_pod_log_names(rootfs: Path, target: Path) -> None:
    """The kubelet's log folder names (never their contents): they name pods and containers."""
    for folder, as_dirs in (("var/log/pods", True), ("var/log/containers", False)):
        source = hostfs.host_path(rootfs, "/" + folder)
        try:
            names = sorted(os.listdir(source))[:MAX_POD_LOG_NAMES]
        except OSError:
            continue
        destination = target / folder
        destination.mkdir(parents=True, exist_ok=True)
        for name in names:
            if as_dirs:
                (destination / name).mkdir(exist_ok=True)
            else:
                (destination / name).touch()


def disk_figures(paths: HostPaths) -> dict[str, dict[str, int]]:
    """df.json: usage of every local and memory filesystem, as statvfs measures it."""
    reader = hostfs.statvfs_reader(paths.rootfs)
    figures: dict[str, dict[str, int]] = {}
    text = hostfs.read_text(hostfs.host_proc_file(paths.proc, "mounts")) or ""
    for line in text.splitlines():
        parts = line.split()
        # Network filesystems are skipped: statvfs on a dead server blocks forever.
        if len(parts) < 3 or parts[2] not in LOCAL_FILESYSTEMS | MEMORY_FILESYSTEMS:
            continue
        mountpoint = hostfs.unescape_mount(parts[1])
        if mountpoint in figures:
            continue
        usage = reader(mountpoint)
        if usage is None:
            continue
        figures[mountpoint] = {
            "size": usage.size,
            "used": usage.used,
            "available": usage.available,
            "inodes": usage.inodes,
            "inodes_used": usage.inodes_used,
        }
    return figures
