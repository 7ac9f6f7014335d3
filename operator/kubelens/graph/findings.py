"""Findings on every object, with or without a Notification.

What Kubernetes itself reports — waiting and terminated reasons, exit codes, probe and
scheduling events, workload conditions, claims, endpoints, autoscalers, node conditions
— read with the meaning an SRE gives it. Old history (a restart days before the newest
evidence) is not a finding: only what is failing now, or failed recently, is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kubelens.graph.model import Finding, Graph, Ref, Relation
from kubelens.skills.cluster.common import (
    PRESSURE_CONDITIONS,
    condition,
    container_specs,
    container_statuses,
    cron_period,
    event_time,
    items,
    meta,
    parse_missing_reference,
    parse_quantity,
    pressures,
    section,
    short,
)

if TYPE_CHECKING:
    from kubelens.graph.build import Scope

#: How far before the newest evidence a termination or event still counts as current.
RECENT = timedelta(hours=2)

EXIT_CODES: dict[int, str] = {
    1: "the program exited with an error (exit code 1)",
    2: "the program refused its arguments or configuration (exit code 2)",
    126: "the command is not executable (exit code 126)",
    127: "the command was not found in the image (exit code 127)",
    134: "the program aborted (SIGABRT, exit code 134)",
    137: (
        "the container was killed (SIGKILL, exit code 137): the OOM killer, or a kill "
        "after a failed liveness probe"
    ),
    128: "the container runtime could not start the container's process (exit code 128)",
    139: "the program crashed on a segmentation fault (SIGSEGV, exit code 139)",
    143: (
        "the container was stopped (SIGTERM, exit code 143): a failed liveness probe or an eviction"
    ),
}
SCHEDULING_CONSTRAINTS = (
    "Insufficient",
    "untolerated taint",
    "didn't match Pod's node affinity",
    "didn't match node selector",
    "Too many pods",
    "didn't have free ports",
    "node(s) were unschedulable",
    "exceed quota",
)


def find_all(scope: Scope) -> None:
    # Workloads after pods: a workload short of replicas fails only through its pods.
    ordered = sorted(scope.graph.objects.items(), key=lambda entry: _LEVEL.get(entry[0].kind, 0))
    for ref, obj in ordered:
        if obj is None or ref in scope.found:
            continue
        scope.found.add(ref)
        finder = _FINDERS.get(ref.kind)
        if finder is not None:
            finder(scope, ref, obj)
    _missing_objects(scope)


# --------------------------------------------------------------------------- helpers


def _age(graph: Graph, stamp: Any) -> timedelta | None:
    """How long before the graph's clock ``stamp`` was (None: no stamp, or no clock)."""
    from kubelens.graph.build import parse_time

    when = parse_time(stamp)
    return None if when is None or graph.now is None else graph.now - when


def _recent(graph: Graph, stamp: Any) -> bool:
    age = _age(graph, stamp)
    return age is None or age <= RECENT


#: How long a pod may be not Ready after a change before that counts (start-up, a rollout).
SETTLE = timedelta(minutes=5)
#: Findings are read bottom-up: pods, then what owns pods, then what owns those.
_LEVEL = {
    "ReplicaSet": 1,
    "Job": 1,
    "StatefulSet": 1,
    "DaemonSet": 1,
    "Deployment": 2,
    "CronJob": 2,
}


def _job_is(scope: Scope, pod: Ref, state: str) -> bool:
    """The pod's Job has condition ``state`` (Complete, Failed): that, not the age of
    the pod's exit, says whether its failure is history or the current state."""
    owner = scope.graph.owner(pod)
    job = scope.graph.objects.get(owner) if owner and owner.kind == "Job" else None
    return bool(job) and (condition(job or {}, state) or {}).get("status") == "True"


def _settled(graph: Graph, stamp: Any) -> bool:
    age = _age(graph, stamp)
    return age is None or age >= SETTLE


def _pods_failing(scope: Scope, ref: Ref) -> bool:
    """A workload short of replicas is failing when a pod it owns fails (or it has
    none to show): a rollout in progress is short of replicas by design."""
    children = [e.target for e in scope.graph.out(ref) if e.relation is Relation.OWNS]
    return not children or any(scope.graph.failing(c) for c in children)


def _warnings(scope: Scope, ref: Ref, *reasons: str) -> list[Mapping[str, Any]]:
    events = scope.events.get(ref, [])
    return [
        e
        for e in events
        if e.get("type") == "Warning"
        and (not reasons or e.get("reason") in reasons)
        and _recent(scope.graph, event_time(e))
    ]


def _note(scope: Scope, ref: Ref, code: str, text: str, **kwargs: Any) -> None:
    scope.graph.note(Finding(ref=ref, code=code, text=text, **kwargs))


# --------------------------------------------------------------------------- pods


def _pod(scope: Scope, ref: Ref, pod: Mapping[str, Any]) -> None:
    if _held_by_finalizers(scope, ref, pod):
        return
    status = section(pod, "status")
    phase = status.get("phase")
    if phase == "Succeeded" or (phase == "Failed" and _job_is(scope, ref, "Complete")):
        return  # a Job that completed retried past this pod's failure: history
    if phase == "Failed" and status.get("reason") == "Evicted":
        if _eviction_is_history(scope, ref, pod):
            return
        node = section(pod, "spec").get("nodeName")
        _note(
            scope,
            ref,
            "Evicted",
            f"evicted: {short(status.get('message'), 300)}",
            implicates=(Ref("Node", None, str(node)),) if node else (),
            meaning="the kubelet evicted the pod to reclaim a node resource",
        )
        return
    if phase == "Pending" and not section(pod, "spec").get("nodeName"):
        _unscheduled(scope, ref, pod)
    specs = container_specs(pod)
    for container in container_statuses(pod):
        _container(scope, ref, pod, container, specs.get(str(container.get("name"))) or {})
    _mount_failures(scope, ref)
    _probe_failures(scope, ref, pod)
    if phase == "Running" and not scope.graph.failing(ref):
        ready = condition(pod, "Ready") or {}
        if ready.get("status") == "False" and _settled(
            scope.graph, ready.get("lastTransitionTime")
        ):
            _note(scope, ref, "NotReady", "Running but not Ready")


def _held_by_finalizers(scope: Scope, ref: Ref, pod: Mapping[str, Any]) -> bool:
    """Deleted, its grace period long over, and still there: the finalizers on it wait for
    a controller that has not removed them. A StatefulSet cannot recreate a pod under the
    same name while the old object exists."""
    metadata = section(pod, "metadata")
    since = _age(scope.graph, metadata.get("deletionTimestamp"))
    finalizers = [str(f) for f in metadata.get("finalizers") or []]
    grace = timedelta(seconds=int(metadata.get("deletionGracePeriodSeconds") or 0))
    if since is None or not finalizers or since < grace + SETTLE:
        return False
    _note(
        scope,
        ref,
        "StuckTerminating",
        f"deleted at {metadata.get('deletionTimestamp')} and still present: finalizers "
        f"{', '.join(finalizers)} hold it",
        conclusive=True,
        meaning=f"the pod cannot go until the controller behind finalizer {finalizers[0]} "
        "removes it (or someone does, once it is safe): a deleted pod held by a finalizer",
    )
    return True


def _eviction_is_history(scope: Scope, ref: Ref, pod: Mapping[str, Any]) -> bool:
    """The kubelet leaves an evicted pod in phase Failed until pod GC removes it, and its
    controller replaces it at once. The eviction is history when it has settled, its
    node no longer reports a resource short, and the controller has its replicas again."""
    evicted = condition(pod, "DisruptionTarget") or condition(pod, "Ready") or {}
    since = _age(scope.graph, evicted.get("lastTransitionTime"))
    if since is None or since < SETTLE:
        return False
    node = scope.graph.objects.get(Ref("Node", None, str(section(pod, "spec").get("nodeName"))))
    if node and pressures(node):
        return False
    return _replicas_restored(scope.graph, scope.graph.owner(ref))


def _replicas_restored(graph: Graph, owner: Ref | None) -> bool:
    """The pod's controller (a ReplicaSet's Deployment, or the ReplicaSet or DaemonSet
    itself) has every replica it wants available. A StatefulSet reuses the pod's name
    and a Job judges its own pods, so neither is said to have replaced one."""
    if owner is None or owner.kind not in ("ReplicaSet", "DaemonSet"):
        return False
    top = graph.workload(owner)
    obj = graph.objects.get(top)
    if not obj:
        return False
    status = section(obj, "status")
    if top.kind == "DaemonSet":
        return not int(status.get("numberUnavailable") or 0)
    wanted = int(section(obj, "spec").get("replicas", 1) or 0)
    counted = "availableReplicas" if top.kind == "Deployment" else "readyReplicas"
    return int(status.get(counted) or 0) >= wanted


def _unscheduled(scope: Scope, ref: Ref, pod: Mapping[str, Any]) -> None:
    scheduled = condition(pod, "PodScheduled") or {}
    events = _warnings(scope, ref, "FailedScheduling")
    message = str((events[-1].get("message") if events else None) or scheduled.get("message") or "")
    if not message:
        _note(scope, ref, "Pending", "Pending, not yet scheduled")
        return
    claims = tuple(
        e.target for e in scope.graph.out(ref) if e.target.kind == "PersistentVolumeClaim"
    )
    if "PersistentVolumeClaim" in message or "persistentvolumeclaim" in message:
        _note(
            scope,
            ref,
            "Unschedulable",
            f"cannot be scheduled: {short(message, 400)}",
            implicates=claims,
            meaning="the scheduler waits for the pod's claims to bind",
        )
        return
    placed = _volume_placement(scope, claims, message)
    if placed:
        _note(
            scope,
            ref,
            "Unschedulable",
            f"cannot be scheduled: {short(message, 300)}; {placed}",
            conclusive=True,
            implicates=claims,
            meaning=f"the pod must run where its volume can be: {placed}",
        )
        return
    constrained = any(c in message for c in SCHEDULING_CONSTRAINTS)
    _note(
        scope,
        ref,
        "Unschedulable",
        f"cannot be scheduled: {short(message, 400)}",
        conclusive=constrained,
        meaning="no node satisfies the pod's requests, taints, affinity or selectors"
        if constrained
        else "the scheduler found no node for it",
    )


def _volume_placement(scope: Scope, claims: tuple[Ref, ...], message: str) -> str:
    """Where the pod's volumes may be (a bound volume's nodeAffinity, or its class's
    allowedTopologies), when no schedulable node is there: why the scheduler says the
    volumes cannot bind or conflict with every node's affinity."""
    if "persistent volumes to bind" not in message and "volume node affinity" not in message:
        return ""
    nodes = scope.objects("Node")
    for claim in claims:
        for where, key, values in _volume_zones(scope, claim):
            there = [(r, n) for r, n in nodes if section(meta(n), "labels").get(key) in values]
            usable = [r for r, n in there if not section(n, "spec").get("unschedulable")]
            wanted = f"{key} in {', '.join(values)}"
            if not there:
                present = sorted({str(section(meta(n), "labels").get(key)) for _, n in nodes})
                return (
                    f"{where} allows only {wanted}, and no node is there (nodes: "
                    f"{', '.join(present)})"
                )
            if not usable:
                return (
                    f"{where} allows only {wanted}, and every node there is cordoned "
                    f"(unschedulable: {', '.join(sorted(r.name for r, _ in there))})"
                )
    return ""


def _volume_zones(scope: Scope, claim: Ref) -> list[tuple[str, str, list[str]]]:
    """(what says it, label key, allowed values): a bound claim's volume nodeAffinity, an
    unbound one's StorageClass allowedTopologies."""
    graph = scope.graph
    bound = [e.target for e in graph.out(claim) if e.relation is Relation.BOUND_TO]
    out: list[tuple[str, str, list[str]]] = []
    for volume in bound:
        required = section(
            section(section(graph.objects.get(volume) or {}, "spec"), "nodeAffinity"), "required"
        )
        out += [
            (
                f"volume {volume.name} of claim {claim.name}",
                str(x.get("key")),
                list(x.get("values") or []),
            )
            for term in items(required, "nodeSelectorTerms")
            for x in items(term, "matchExpressions")
            if x.get("operator") == "In"
        ]
    classes = (
        [] if bound else [e.target for e in graph.out(claim) if e.relation is Relation.USES_CLASS]
    )
    out += [
        (
            f"StorageClass {c.name} of claim {claim.name} (allowedTopologies)",
            str(x.get("key")),
            list(x.get("values") or []),
        )
        for c in classes
        for term in items(graph.objects.get(c) or {}, "allowedTopologies")
        for x in items(term, "matchLabelExpressions")
    ]
    return out


def _container(
    scope: Scope,
    ref: Ref,
    pod: Mapping[str, Any],
    status: Mapping[str, Any],
    spec: Mapping[str, Any],
) -> None:
    name = status.get("name")
    state = section(status, "state")
    waiting = section(state, "waiting")
    last = section(section(status, "lastState"), "terminated")
    reason = str(waiting.get("reason") or "")
    message = short(waiting.get("message"), 400)
    if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
        _image(scope, ref, str(name), status, spec, message)
    elif reason in ("CreateContainerConfigError", "CreateContainerError", "RunContainerError"):
        _config_error(scope, ref, str(name), reason, message)
    elif reason == "CrashLoopBackOff" or (last and _recent(scope.graph, last.get("finishedAt"))):
        _terminated(scope, ref, pod, str(name), status, last or section(state, "terminated"))
    terminated = section(state, "terminated")
    failed = terminated and terminated.get("exitCode") not in (0, None)
    current = _recent(scope.graph, terminated.get("finishedAt")) or _job_is(scope, ref, "Failed")
    if failed and not last and current:
        _terminated(scope, ref, pod, str(name), status, terminated)


def _image(
    scope: Scope,
    ref: Ref,
    name: str,
    status: Mapping[str, Any],
    spec: Mapping[str, Any],
    message: str,
) -> None:
    events = _warnings(scope, ref, "Failed")
    # The kubelet's "Failed to pull image …" event carries the registry's answer; the
    # later "Error: ImagePullBackOff" ones only repeat the state.
    answers = [
        str(e.get("message")) for e in events if "failed to pull" in str(e.get("message")).lower()
    ]
    detail = answers[-1] if answers else message
    image = spec.get("image") or status.get("image")
    lowered = detail.lower()
    if "not found" in lowered or "manifest unknown" in lowered:
        meaning = f"the image {image} does not exist in its registry (a wrong tag or repository)"
    elif "unauthorized" in lowered or "denied" in lowered or "authentication" in lowered:
        meaning = f"the registry refused to serve {image}: missing or wrong imagePullSecrets"
    else:
        meaning = f"the node could not pull {image} (the registry or the network failed)"
    _note(
        scope,
        ref,
        "ImagePullBackOff",
        f"container {name} cannot pull {image}: {short(detail, 400)}",
        conclusive=True,
        meaning=meaning,
    )


def _config_error(scope: Scope, ref: Ref, name: str, reason: str, message: str) -> None:
    missing = parse_missing_reference(message)
    implicated: tuple[Ref, ...] = ()
    if missing is not None:
        target = Ref(missing["kind"], missing.get("namespace") or ref.namespace, missing["name"])
        implicated = (target,)
        scope.graph.link(ref, Relation.READS, target, f"container {name}")
        if "key" in missing:
            _missing_key(scope, target, missing["key"])
    _note(
        scope,
        ref,
        reason,
        f"container {name} cannot start: {message}",
        # a Secret is never read: the kubelet's message is the evidence that it lacks
        conclusive=missing is None or missing["kind"] == "Secret",
        implicates=implicated,
        meaning=_config_error_meaning(message),
    )


#: What the kubelet's CreateContainerConfigError says → what it means (else: a reference).
_CONFIG_ERRORS = (
    (
        "runasnonroot",
        "the pod's securityContext requires a non-root user (runAsNonRoot) and the "
        "image runs as root or names no numeric user: set runAsUser, or use a non-root image",
    ),
    (
        "non-numeric user",
        "runAsNonRoot cannot be verified for an image whose user is a name: "
        "set a numeric runAsUser",
    ),
)


def _config_error_meaning(message: str) -> str:
    lowered = message.lower()
    return next(
        (meaning for pattern, meaning in _CONFIG_ERRORS if pattern in lowered),
        "the kubelet cannot build the container from its spec (a referenced ConfigMap, "
        "Secret or key)",
    )


def _missing_key(scope: Scope, target: Ref, key: str) -> None:
    obj = scope.graph.objects.get(target)
    if obj is None:
        return
    keys = sorted({*section(obj, "data"), *section(obj, "binaryData")})
    _note(
        scope,
        target,
        "missing-key",
        f"{target.kind} {target.name} has no key {key} (keys: {', '.join(keys) or 'none'})",
        conclusive=True,
        meaning=f"the pod expects key {key} in {target.kind} {target.name}",
    )


def _terminated(
    scope: Scope,
    ref: Ref,
    pod: Mapping[str, Any],
    name: str,
    status: Mapping[str, Any],
    terminated: Mapping[str, Any],
) -> None:
    code = terminated.get("exitCode")
    reason = str(terminated.get("reason") or "")
    restarts = int(status.get("restartCount") or 0)
    waiting = section(section(status, "state"), "waiting").get("reason")
    state = "CrashLoopBackOff" if waiting == "CrashLoopBackOff" else "terminated"
    text = f"container {name} {state} after {restarts} restarts, last exit code {code}"
    if reason:
        text += f" ({reason})"
    if terminated.get("message"):
        text += f": {short(terminated.get('message'), 300)}"
    if reason == "OOMKilled":
        _oom(scope, ref, pod, name, text)
        return
    not_started = _start_failure(reason, str(terminated.get("message") or ""))
    if not_started:
        _note(scope, ref, state, text, conclusive=True, meaning=not_started)
        return
    meaning = EXIT_CODES.get(int(code), "") if isinstance(code, int) else ""
    _note(scope, ref, state, text, conclusive=code in (126, 127), meaning=meaning)


#: What the runtime's (runc, crun) start error says, lower-cased → what it means.
_START_ERRORS = (
    (
        "executable file not found",
        "the container's command is not in the image (or not on its PATH)",
    ),
    (
        "no such file or directory",
        "the container's command or working directory is not in the image",
    ),
    ("permission denied", "the container's command is not executable in the image"),
    ("exec format error", "the image was built for another CPU architecture"),
)


def _start_failure(reason: str, message: str) -> str:
    """What a container that never ran its process failed on (``StartError``,
    ``ContainerCannotRun``: the runtime's exec failed), or "" for a process that ran."""
    if reason not in ("StartError", "ContainerCannotRun"):
        return ""
    lowered = message.lower()
    meaning = next((m for pattern, m in _START_ERRORS if pattern in lowered), "")
    return meaning or "the container runtime could not start the container's process"


#: Heap caps a runtime honours: the JVM's -Xmx (k, m or g; bytes without a unit) and
#: Node.js's --max-old-space-size (megabytes).
_HEAP_FLAGS = re.compile(r"(-Xmx(\d+)([kKmMgG]?)\b|--max-old-space-size=(\d+))")
_HEAP_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}
#: Variables the JVM and Node.js read flags from.
_RUNTIME_VARIABLES = (
    "JAVA_TOOL_OPTIONS",
    "JAVA_OPTS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "NODE_OPTIONS",
)


def _heap_cap(container: Mapping[str, Any], limit: float) -> str:
    """ "-Xmx2g in JAVA_TOOL_OPTIONS" when a heap cap (or Go's GOMEMLIMIT) is set at 90 %
    or more of the memory limit: heap plus the runtime's own memory cannot fit."""
    texts = [
        ("command", " ".join(map(str, container.get("command") or []))),
        ("args", " ".join(map(str, container.get("args") or []))),
    ]
    texts += [
        (str(e.get("name")), str(e.get("value") or ""))
        for e in items(container, "env")
        if e.get("name") in (*_RUNTIME_VARIABLES, "GOMEMLIMIT")
    ]
    for where, value in texts:
        if where == "GOMEMLIMIT":
            # Go writes its sizes 2GiB, 512MiB: Kubernetes' quantity without the B.
            cap, shown = parse_quantity(value.removesuffix("B")) or 0.0, f"GOMEMLIMIT={value}"
            if limit and cap >= 0.9 * limit:
                return shown
            continue
        for flag, java, unit, node in _HEAP_FLAGS.findall(value):
            cap = int(java) * _HEAP_UNITS[unit.lower()] if java else int(node) * 2**20
            if limit and cap >= 0.9 * limit:
                return f"{flag} in {where}"
    return ""


def _oom_at_limit(name: str, limit: str, heap: str, tmpfs: str) -> str:
    """Why a container reached its own memory limit: a heap cap above it, files in
    memory-backed volumes, or (neither seen) its own use."""
    if heap:
        return (
            f"the runtime may grow to {heap}, so container {name} reaches its memory limit "
            f"({limit}) and the kernel kills it before the runtime's own out-of-memory "
            "error: the heap setting, not a leak"
        )
    if tmpfs:
        return (
            f"{tmpfs} count against its memory limit ({limit}) with the process's own "
            "memory (tmpfs pages are charged to the container's cgroup), and the kernel "
            "kills it when together they reach the limit"
        )
    return f"container {name} used its whole memory limit ({limit}) and the kernel killed it"


def _memory_volumes(pod: Mapping[str, Any], container: Mapping[str, Any]) -> str:
    """The memory-backed emptyDirs (tmpfs) the container mounts: the files written there
    are charged to its memory cgroup, so they count against its limit."""
    mounted = {
        str(m.get("name")): str(m.get("mountPath")) for m in items(container, "volumeMounts")
    }
    tmpfs = [
        f"{mounted[str(v.get('name'))]} (emptyDir {v.get('name')}, medium Memory"
        + (
            f", sizeLimit {section(v, 'emptyDir')['sizeLimit']})"
            if section(v, "emptyDir").get("sizeLimit")
            else ", no sizeLimit)"
        )
        for v in items(section(pod, "spec"), "volumes")
        if section(v, "emptyDir").get("medium") == "Memory" and str(v.get("name")) in mounted
    ]
    return f"the files it writes under {', '.join(tmpfs)}" if tmpfs else ""


def _oom(scope: Scope, ref: Ref, pod: Mapping[str, Any], name: str, text: str) -> None:
    spec = container_specs(pod).get(name) or {}
    limit = section(section(spec, "resources"), "limits").get("memory")
    node = section(pod, "spec").get("nodeName")
    node_ref = Ref("Node", None, str(node)) if node else None
    node_short = node_ref is not None and any(
        f.code in ("node:memory", "MemoryPressure") for f in scope.graph.failing(node_ref)
    )
    if limit and not node_short:
        heap = _heap_cap(spec, parse_quantity(limit) or 0)
        tmpfs = _memory_volumes(pod, spec)
        _note(
            scope,
            ref,
            "OOMKilled",
            f"{text}; memory limit {limit}" + "".join(f"; {x}" for x in (heap, tmpfs) if x),
            conclusive=True,
            meaning=_oom_at_limit(name, str(limit), heap, tmpfs),
        )
        return
    _note(
        scope,
        ref,
        "OOMKilled",
        text + ("" if limit else "; no memory limit"),
        implicates=(node_ref,) if node_ref else (),
        meaning="the kernel killed it for the node's memory, not for a limit of its own",
    )


def _mount_failures(scope: Scope, ref: Ref) -> None:
    # A mount times out because the attach before it failed: the attach error is the cause.
    events = _warnings(scope, ref, "FailedAttachVolume") or _warnings(scope, ref, "FailedMount")
    for event in events[-1:]:
        message = str(event.get("message"))
        claims = tuple(
            e.target
            for e in scope.graph.out(ref)
            if e.relation is Relation.MOUNTS
            and (e.target.name in message or e.target.kind == "PersistentVolumeClaim")
        )
        if "Multi-Attach" in message:
            _multi_attach(scope, ref, message, claims)
            continue
        _mount_failure(scope, ref, str(event.get("reason")), message, claims)


def _mount_failure(
    scope: Scope, ref: Ref, reason: str, message: str, claims: tuple[Ref, ...]
) -> None:
    """The kubelet could not mount a volume. The mount helper's output (past the
    command line the event repeats) says why; the same claim mounted by running pods on
    other nodes makes it this node's failure (its zone, network or mount helper)."""
    output = re.search(r"Output:\s*(.+?)(?:\n\s*\n|$)", message, re.S)
    said = " ".join(output.group(1).split()) if output else ""
    head = message.split("Mounting command:")[0]
    named = ", ".join(f"claim {c.name}" for c in claims if c.kind == "PersistentVolumeClaim")
    text = f"{reason}: {short(head, 300)}" + (f" ({named})" if named else "")
    if said:
        text += f"; mount output: {short(said, 300)}"
    own, elsewhere = _mounted_elsewhere(scope.graph, ref, claims)
    if elsewhere and own is not None:
        meaning = (
            f"the kubelet on node {own.name} cannot mount the volume that pods on "
            f"{', '.join(sorted(elsewhere))} mount: the node's failure, not the volume's"
        )
    else:
        meaning = "the kubelet cannot mount a volume the pod names"
    _note(scope, ref, reason, text, conclusive=bool(said), implicates=claims, meaning=meaning)


def _mounted_elsewhere(
    graph: Graph, ref: Ref, claims: tuple[Ref, ...]
) -> tuple[Ref | None, set[str]]:
    """This pod's node, and the other nodes where Running pods mount one of ``claims``."""
    own = graph.node_of(ref)
    elsewhere = {
        node.name
        for claim in claims
        for e in graph.into(claim)
        if e.relation is Relation.MOUNTS
        and e.source != ref
        and section(graph.objects.get(e.source) or {}, "status").get("phase") == "Running"
        and (node := graph.node_of(e.source)) is not None
        and node != own
    }
    return own, elsewhere


def _multi_attach(scope: Scope, ref: Ref, message: str, claims: tuple[Ref, ...]) -> None:
    """A ReadWriteOnce disk still attached elsewhere: the node holding it is the culprit."""
    graph = scope.graph
    own_node = graph.node_of(ref)
    volumes = [e.target for c in claims for e in graph.out(c) if e.relation is Relation.BOUND_TO]
    holders = tuple(
        e.target
        for v in volumes
        if v.name in message
        for e in graph.out(v)
        if e.relation is Relation.ATTACHED_TO and e.target != own_node
    )
    where = ", ".join(sorted({h.name for h in holders})) or "another node"
    _note(
        scope,
        ref,
        "FailedAttachVolume",
        f"FailedAttachVolume: {short(message, 300)}; the volume is attached to {where}",
        implicates=claims,
        conclusive=not holders,
        meaning=f"its ReadWriteOnce volume is still attached to {where} and cannot attach "
        "to the pod's node until it is detached there",
    )
    for volume in {e.source for e in graph.edges() if e.target in holders and e.source in volumes}:
        held_by = tuple(e.target for e in graph.out(volume) if e.target in holders)
        _note(
            scope,
            volume,
            "AttachedElsewhere",
            f"attached to {', '.join(h.name for h in held_by)} (status.volumesAttached) while "
            f"{ref.name} waits for it on {own_node.name if own_node else 'its node'}",
            implicates=held_by,
            meaning="the attach/detach controller detaches a disk only once the node holding "
            "it has unmounted it (or is confirmed shut down)",
        )


def _probe_failures(scope: Scope, ref: Ref, pod: Mapping[str, Any]) -> None:
    """Each probe judged on its own events: a liveness probe that fails restarts the
    container, a readiness probe that fails takes the pod out of its Services."""
    failed = [
        e
        for e in _warnings(scope, ref, "Unhealthy")
        if "probe failed" in str(e.get("message")).lower()
    ]
    for kind in ("Startup", "Liveness", "Readiness"):
        mine = [e for e in failed if str(e.get("message")).startswith(kind)]
        if mine and _probe_matters(pod, kind):
            _probe_finding(scope, ref, pod, kind, mine[-1])


def _probe_matters(pod: Mapping[str, Any], kind: str) -> bool:
    if kind == "Startup":
        return (condition(pod, "Ready") or {}).get("status") != "True"
    if kind == "Readiness":
        # Ready again: it failed a check or two and is serving.
        return (condition(pod, "Ready") or {}).get("status") != "True"
    return any(int(s.get("restartCount") or 0) for s in container_statuses(pod))


def _probe_finding(
    scope: Scope, ref: Ref, pod: Mapping[str, Any], kind: str, event: Mapping[str, Any]
) -> None:
    message = str(event.get("message"))
    probe = _probe(pod, kind)
    timing = (
        f" (timeoutSeconds {probe.get('timeoutSeconds', 1)}, periodSeconds "
        f"{probe.get('periodSeconds', 10)})"
        if probe
        else ""
    )
    mismatch = (
        _startup_budget(pod, probe, kind)
        or _probe_port_mismatch(pod, probe, message)
        or _probe_path_refused(probe, message)
    )
    _note(
        scope,
        ref,
        f"{kind}ProbeFailed",
        f"{kind.lower()} probe failed {event.get('count') or 1} times{timing}: "
        f"{short(message, 300)}" + (f"; {mismatch}" if mismatch else ""),
        conclusive=bool(mismatch),
        meaning=mismatch
        or (
            "the probe's target did not answer in time: the process is starved or blocked"
            if "timeout" in message.lower() or "deadline" in message.lower()
            else "the container's health endpoint reports a failure"
        ),
    )


def _startup_budget(pod: Mapping[str, Any], probe: Mapping[str, Any], kind: str) -> str:
    """A startup probe's whole allowance (initialDelaySeconds + failureThreshold *
    periodSeconds) shorter than the container's runs last before it is killed: the app
    needs longer to start than the probe gives it."""
    if kind != "Startup" or not probe:
        return ""
    from kubelens.graph.build import parse_time

    budget = int(probe.get("initialDelaySeconds", 0)) + int(probe.get("failureThreshold", 3)) * int(
        probe.get("periodSeconds", 10)
    )
    for status in container_statuses(pod):
        last = section(section(status, "lastState"), "terminated")
        started, finished = parse_time(last.get("startedAt")), parse_time(last.get("finishedAt"))
        if started and finished and int(status.get("restartCount") or 0) > 0:
            ran = (finished - started).total_seconds()
            if ran >= budget * 0.9:
                return (
                    f"the startup probe allows {budget} s (initialDelaySeconds + failureThreshold "
                    f"* periodSeconds) and the container is killed after {ran:.0f} s: it needs "
                    "longer to start than the probe gives it"
                )
    return ""


#: HTTP answers that say the server is up and the probe asks for something it does not
#: serve (a wrong path, a method, an endpoint behind authentication).
_PROBE_REQUEST_REFUSED = {
    401: "requires authentication",
    403: "is forbidden",
    404: "does not exist",
    405: "does not allow GET",
}


def _probe_path_refused(probe: Mapping[str, Any], message: str) -> str:
    """An HTTP probe the server answers with 401/403/404/405: the app is up, the probe's
    request is wrong (a 5xx is the app reporting itself unhealthy)."""
    found = re.search(r"statuscode: (\d{3})", message)
    code = int(found.group(1)) if found else 0
    answer = _PROBE_REQUEST_REFUSED.get(code)
    if not answer:
        return ""
    target = section(probe, "httpGet")
    where = f"{target.get('path') or '/'} on port {target.get('port')}" if target else "its path"
    return (
        f"the server answers {code}: the probe's path {where} {answer}, so the probe fails "
        "while the app runs"
    )


def _probe(pod: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    key = f"{kind.lower()}Probe"
    for container in items(section(pod, "spec"), "containers"):
        probe = container.get(key)
        if isinstance(probe, Mapping):
            return probe
    return {}


def _probe_port_mismatch(pod: Mapping[str, Any], probe: Mapping[str, Any], message: str) -> str:
    """A probe aimed at a port no container declares, refused: it checks the wrong port."""
    if "refused" not in message.lower():
        return ""
    target = section(probe, "httpGet") or section(probe, "tcpSocket") or section(probe, "grpc")
    port = target.get("port")
    declared = {
        p.get("containerPort")
        for c in items(section(pod, "spec"), "containers")
        for p in items(c, "ports")
    }
    names = {
        p.get("name") for c in items(section(pod, "spec"), "containers") for p in items(c, "ports")
    }
    if port is None or not declared or port in declared or port in names:
        return ""
    ports = ", ".join(str(p) for p in sorted(x for x in declared if x is not None))
    return f"the probe checks port {port}, but the container listens on {ports}"


# --------------------------------------------------------------------------- workloads


def _deployment(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    status = section(obj, "status")
    wanted = int(section(obj, "spec").get("replicas", 1) or 0)
    available = int(status.get("availableReplicas") or 0)
    progressing = condition(obj, "Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        _note(
            scope,
            ref,
            "ProgressDeadlineExceeded",
            f"rollout stuck: {short(progressing.get('message'), 300)} ({available}/{wanted} "
            f"available)",
        )
    elif wanted and available < wanted and _pods_failing(scope, ref):
        _note(scope, ref, "Unavailable", f"{available}/{wanted} replicas available")
    failure = condition(obj, "ReplicaFailure") or {}
    if failure.get("status") == "True":
        _note(
            scope,
            ref,
            "ReplicaFailure",
            f"cannot create pods: {short(failure.get('message'), 400)}",
            conclusive=True,
            meaning="the API server refuses the workload's pods (a quota or a policy)",
        )


def _replicaset(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    wanted = int(section(obj, "spec").get("replicas") or 0)
    if not wanted:
        return
    for event in _warnings(scope, ref, "FailedCreate")[-1:]:
        _note(
            scope,
            ref,
            "FailedCreate",
            f"cannot create pods: {short(event.get('message'), 400)}",
            conclusive=True,
            meaning="the API server refuses the pods (a ResourceQuota, a LimitRange or an "
            "admission policy)",
        )
    ready = int(section(obj, "status").get("readyReplicas") or 0)
    if ready < wanted and not scope.graph.failing(ref) and _pods_failing(scope, ref):
        _note(scope, ref, "Unavailable", f"{ready}/{wanted} pods ready")


def _statefulset(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    wanted = int(section(obj, "spec").get("replicas", 1) or 0)
    ready = int(section(obj, "status").get("readyReplicas") or 0)
    if wanted and ready < wanted and _pods_failing(scope, ref):
        _note(scope, ref, "Unavailable", f"{ready}/{wanted} replicas ready")


def _daemonset(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    unavailable = int(section(obj, "status").get("numberUnavailable") or 0)
    if unavailable and _pods_failing(scope, ref):
        _note(scope, ref, "Unavailable", f"{unavailable} pods unavailable")


def _job(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    failed = condition(obj, "Failed") or {}
    if failed.get("status") != "True":
        return
    reason = failed.get("reason") or "Failed"
    _note(
        scope,
        ref,
        str(reason),
        f"Job failed ({reason}): {short(failed.get('message'), 300)}",
        meaning="the Job's pods kept failing until its backoffLimit"
        if reason == "BackoffLimitExceeded"
        else "the Job ran past its activeDeadlineSeconds",
    )


def _cronjob(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    """A CronJob fails through its Jobs (OWNS edges), and by not running: under
    concurrencyPolicy Forbid a Job that never finishes makes the controller skip every
    schedule after it."""
    spec, status = section(obj, "spec"), section(obj, "status")
    period = cron_period(str(spec.get("schedule") or ""))
    since = _age(scope.graph, status.get("lastScheduleTime"))
    active = [str(a.get("name")) for a in items(status, "active") if a.get("name")]
    if spec.get("suspend") or spec.get("concurrencyPolicy") != "Forbid" or not active:
        return
    if period is None or since is None or since < 2 * period:
        return
    job = Ref("Job", ref.namespace, active[0])
    started = section(scope.graph.objects.get(job) or {}, "status").get("startTime") or "?"
    _note(
        scope,
        job,
        "Hung",
        f"still active, started {started}: the runs of its schedule ({spec.get('schedule')}) "
        "since were skipped",
        conclusive=True,
        meaning="the Job never finishes (no activeDeadlineSeconds ends it), and under "
        "concurrencyPolicy Forbid the CronJob skips every run while it is active",
    )
    _note(
        scope,
        ref,
        "NotScheduling",
        f"no run since {status.get('lastScheduleTime')} (schedule {spec.get('schedule')}): "
        f"concurrencyPolicy Forbid and Job {job.name} still active",
        implicates=(job,),
        meaning="the controller skips each schedule while the previous Job is still active",
    )


def _claim(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    if section(obj, "status").get("phase") != "Pending":
        return
    events = _warnings(scope, ref, "ProvisioningFailed", "FailedBinding")
    message = str(events[-1].get("message")) if events else ""
    classes = tuple(e.target for e in scope.graph.out(ref) if e.relation is Relation.USES_CLASS)
    absent = [c for c in classes if scope.knows_absent(c)]
    if not events and not absent:
        return  # waiting for a first consumer, or provisioning: nothing has failed yet
    for storage_class in absent:
        if storage_class:
            present = ", ".join(sorted(r.name for r, _ in scope.objects("StorageClass"))) or "none"
            _note(
                scope,
                storage_class,
                "missing",
                f"StorageClass {storage_class.name} does not exist (classes: {present})",
                conclusive=True,
                meaning=f"no provisioner can create a volume for class {storage_class.name}",
            )
    _note(
        scope,
        ref,
        "Pending",
        "claim Pending" + (f": {short(message, 400)}" if message else ""),
        implicates=classes,
        conclusive=not classes and bool(message),
        meaning="no volume is bound to the claim",
    )


def _service(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    selector = section(section(obj, "spec"), "selector")
    if not selector:
        return
    backing = [e.target for e in scope.graph.out(ref) if e.relation is Relation.BACKED_BY]
    _target_ports(scope, ref, obj, backing)
    ready = _ready_addresses(scope, ref)
    if ready:
        return
    wanted = ",".join(f"{k}={v}" for k, v in selector.items())
    if not backing and _scaled_to_zero(scope, ref, selector, wanted):
        return
    if not backing:
        nearby = _similar_labels(scope, ref, selector)
        _note(
            scope,
            ref,
            "NoEndpoints",
            f"no ready endpoints: selector {wanted} matches no pod"
            + (f" ({nearby})" if nearby else ""),
            conclusive=True,
            meaning="the Service's selector matches no pod, so it routes nowhere",
        )
        return
    _note(
        scope,
        ref,
        "NoEndpoints",
        f"no ready endpoints: {len(backing)} pods match {wanted}, none is ready",
    )


def _target_ports(scope: Scope, ref: Ref, service: Mapping[str, Any], backing: list[Ref]) -> None:
    """A Service port whose targetPort none of its pods declares or probes. Declared
    ports are informational (a process may listen on another), so it is stated only
    when a Ready pod's probe shows where the app does listen."""
    pods = [p for p in (scope.graph.objects.get(b) for b in backing) if p]
    containers = [c for pod in pods for c in items(section(pod, "spec"), "containers")]
    declared = [port for c in containers for port in items(c, "ports")]
    if not declared:
        return  # nothing declared: nothing to compare with
    known = {p.get("containerPort") for p in declared} | {p.get("name") for p in declared}
    probed = {_probe_port(c, kind) for c in containers for kind in ("readiness", "liveness")}
    known |= probed
    listening = any(_pod_ready(p) for p in pods) and bool(probed - {None})
    listed = ", ".join(
        sorted(
            {
                f"{p.get('containerPort')}" + (f" ({p['name']})" if p.get("name") else "")
                for p in declared
            }
        )
    )
    for port in items(section(service, "spec"), "ports"):
        target = port.get("targetPort", port.get("port"))
        if target in known:
            continue
        _note(
            scope,
            ref,
            "TargetPortMismatch",
            f"port {port.get('port')} targets {target}, but its pods' containers declare "
            f"only {listed}" + (" and answer their probes there" if listening else ""),
            conclusive=listening,
            meaning=f"the Service sends traffic to port {target} of its pods, where their "
            f"containers do not listen (they declare {listed}): callers are refused",
        )


def _probe_port(container: Mapping[str, Any], kind: str) -> Any:
    probe = section(container, f"{kind}Probe")
    target = section(probe, "httpGet") or section(probe, "tcpSocket") or section(probe, "grpc")
    return target.get("port")


def _ready_addresses(scope: Scope, ref: Ref) -> int:
    endpoints = scope.graph.objects.get(Ref("Endpoints", ref.namespace, ref.name))
    if endpoints is not None:
        return sum(len(items(s, "addresses")) for s in items(endpoints, "subsets"))
    return sum(
        1
        for e in scope.graph.out(ref)
        if e.relation is Relation.BACKED_BY and _pod_ready(scope.graph.objects.get(e.target))
    )


def _pod_ready(pod: Mapping[str, Any] | None) -> bool:
    return bool(pod) and (condition(pod or {}, "Ready") or {}).get("status") == "True"


def _scaled_to_zero(scope: Scope, ref: Ref, selector: Mapping[str, Any], wanted: str) -> bool:
    """The selector is right, and the workload whose pods it selects runs none: note it."""
    for kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        for workload, obj in scope.objects(kind):
            template = section(section(section(obj, "spec"), "template"), "metadata")
            labels = section(template, "labels")
            same = workload.namespace == ref.namespace and scope.graph.owner(workload) is None
            if not same or any(labels.get(k) != v for k, v in selector.items()):
                continue
            if int(section(obj, "spec").get("replicas", 1) or 0) == 0:
                _note(
                    scope,
                    ref,
                    "ScaledToZero",
                    f"no ready endpoints: selector {wanted} selects the pods of {kind} "
                    f"{workload.name}, which is scaled to 0 replicas",
                    conclusive=True,
                    implicates=(workload,),
                    meaning=f"{kind} {workload.name}, whose pods back the Service, is scaled "
                    "to zero: the Service routes nowhere until it is scaled up",
                )
                return True
    return False


def _similar_labels(scope: Scope, ref: Ref, selector: Mapping[str, Any]) -> str:
    for pod_ref, pod in scope.objects("Pod"):
        labels = section(meta(pod), "labels")
        if pod_ref.namespace == ref.namespace and any(labels.get(k) for k in selector):
            shown = ",".join(f"{k}={labels[k]}" for k in selector if k in labels)
            return f"pod {pod_ref.name} is labelled {shown}"
    return ""


def _hpa(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    limited = condition(obj, "ScalingLimited") or {}
    status = section(obj, "status")
    maximum = section(obj, "spec").get("maxReplicas")
    at_max = limited.get("status") == "True" and limited.get("reason") == "TooManyReplicas"
    at_max = at_max or (maximum is not None and int(status.get("currentReplicas") or 0) >= maximum)
    if at_max:
        over = _over_target(obj)
        _note(
            scope,
            ref,
            "AtMaxReplicas",
            f"at maxReplicas {maximum} ({status.get('currentReplicas')} running)"
            + (f" with {', '.join(over)}" if over else "")
            + (f": {short(limited.get('message'), 200)}" if limited.get("message") else ""),
            conclusive=bool(over),
            meaning="the autoscaler may not add the replicas the load asks for: maxReplicas "
            f"{maximum} caps it while its pods run above the target",
        )
        if over:
            _saturated(scope, ref, obj, over)
    able = condition(obj, "AbleToScale") or {}
    if able.get("status") == "False":
        _note(
            scope,
            ref,
            "UnableToScale",
            f"cannot scale: {short(able.get('message'), 300)}",
            conclusive=True,
            meaning="the autoscaler cannot change the target's replicas",
        )


#: How far above its target a metric must be to count as more load than the replicas
#: carry (the autoscaler itself ignores 10 %).
_OVER_TARGET = 1.2


def _over_target(hpa: Mapping[str, Any]) -> list[str]:
    """The resource metrics well above their utilization target ("cpu 192% of request,
    target 70%")."""
    targets = {
        section(m, "resource").get("name"): section(section(m, "resource"), "target").get(
            "averageUtilization"
        )
        for m in items(section(hpa, "spec"), "metrics")
        if m.get("type") == "Resource"
    }
    over = []
    for metric in items(section(hpa, "status"), "currentMetrics"):
        resource = section(metric, "resource")
        current = section(resource, "current").get("averageUtilization")
        target = targets.get(resource.get("name"))
        numbers = isinstance(current, int | float) and isinstance(target, int | float)
        if numbers and target and current >= target * _OVER_TARGET:
            over.append(f"{resource.get('name')} at {current}% of request (target {target}%)")
    return over


def _saturated(scope: Scope, hpa: Ref, obj: Mapping[str, Any], over: list[str]) -> None:
    """The workload the autoscaler may not grow carries more load than its replicas can."""
    target = section(section(obj, "spec"), "scaleTargetRef")
    if not target.get("kind") or not target.get("name"):
        return
    workload = Ref(str(target["kind"]), hpa.namespace, str(target["name"]))
    capped = _at_cpu_limit(scope.graph.objects.get(workload), obj)
    _note(
        scope,
        workload,
        "Saturated",
        f"saturated: {', '.join(over)}{capped} and its autoscaler {hpa.name} is at maxReplicas",
        implicates=(hpa,),
        meaning="its pods carry more load than their requests allow and no replica can be added",
    )


def _at_cpu_limit(workload: Mapping[str, Any] | None, hpa: Mapping[str, Any]) -> str:
    """ ", at its CPU limit 200m (…throttles it)" when the pods' CPU use is within 10 % of
    their limit: the CFS quota caps each pod as the autoscaler's maximum caps their number."""
    used = next(
        (
            section(section(m, "resource"), "current").get("averageUtilization")
            for m in items(section(hpa, "status"), "currentMetrics")
            if section(m, "resource").get("name") == "cpu"
        ),
        None,
    )
    template = section(section(section(workload or {}, "spec"), "template"), "spec")
    for container in items(template, "containers"):
        resources = section(container, "resources")
        cpu = section(resources, "limits").get("cpu")
        limit = parse_quantity(cpu)
        request = parse_quantity(section(resources, "requests").get("cpu"))
        if isinstance(used, int | float) and limit and request and used >= 90 * limit / request:
            return f", at its CPU limit {cpu} (the kernel's CFS quota throttles it there)"
    return ""


def _budget(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    """A PodDisruptionBudget spent by pods that are not healthy: it refuses every
    voluntary eviction (a drain, an autoscaler's scale-down) until they are."""
    status = section(obj, "status")
    allowed = int(status.get("disruptionsAllowed") or 0)
    healthy = int(status.get("currentHealthy") or 0)
    expected = int(status.get("expectedPods") or 0)
    if allowed or healthy >= expected:
        return
    protected = [e.target for e in scope.graph.out(ref) if e.relation is Relation.PROTECTS]
    down = tuple(p for p in protected if not _pod_ready(scope.graph.objects.get(p)))
    _note(
        scope,
        ref,
        "BudgetSpent",
        f"allows no disruption: {healthy} of {expected} pods healthy (needs "
        f"{status.get('desiredHealthy')})"
        + (f"; not healthy: {', '.join(p.name for p in down)}" if down else ""),
        implicates=down,
        meaning="the disruption budget is used up by pods that are down, so the API server "
        "refuses to evict any other (kubectl drain loops on 'Cannot evict pod')",
    )


def _node(scope: Scope, ref: Ref, obj: Mapping[str, Any]) -> None:
    ready = condition(obj, "Ready") or {}
    if ready.get("status") in ("False", "Unknown"):
        _note(
            scope,
            ref,
            "NotReady",
            f"NotReady ({ready.get('reason')}): {short(ready.get('message'), 300)}",
            conclusive=True,
            meaning="the node's kubelet stopped reporting or is unhealthy; its pods do not run",
        )
    for kind in PRESSURE_CONDITIONS:
        entry = condition(obj, kind) or {}
        if entry.get("status") == "True":
            _note(
                scope,
                ref,
                kind,
                f"{kind}: {short(entry.get('message'), 200)}",
                conclusive=True,
                meaning="the kubelet reports the node short of a resource and evicts or "
                "refuses pods",
            )


def _missing_objects(scope: Scope) -> None:
    """ConfigMaps and claims pods reference that do not exist (where their kind was read)."""
    for edge in list(scope.graph.edges()):
        target = edge.target
        if target.kind not in ("ConfigMap", "PersistentVolumeClaim") or not scope.knows_absent(
            target
        ):
            continue
        if any(f.code == "missing" for f in scope.graph.findings.get(target, [])):
            continue
        if not any(target.name in f.text for f in scope.graph.failing(edge.source)):
            continue  # only what a failing pod reports missing (a mount or config error)

        _note(
            scope,
            target,
            "missing",
            f"{target.kind} {target.name} does not exist in namespace {target.namespace}",
            conclusive=True,
            meaning=f"the pod references {target.kind} {target.name}, which is absent",
        )


_FINDERS = {
    "Pod": _pod,
    "Deployment": _deployment,
    "ReplicaSet": _replicaset,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "Job": _job,
    "CronJob": _cronjob,
    "PersistentVolumeClaim": _claim,
    "Service": _service,
    "HorizontalPodAutoscaler": _hpa,
    "PodDisruptionBudget": _budget,
    "Node": _node,
}
