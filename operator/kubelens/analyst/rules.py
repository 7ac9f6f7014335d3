"""The analyst's rules: small functions, most specific first, each claiming what it explains.

A rule reads the unclaimed notifications of an :class:`~kubelens.analyst.evidence.Analysis`,
joins them by the relations Kubernetes and Linux give (the same pod, the pods of a
rollout, the node a pod runs on, a claim a pod mounts), and emits an insight whose root
cause rests on the evidence it cites. Rules follow the platform's semantics, not
particular scenarios: an OOM kill is a memory limit reached, a CreateContainerConfigError
names the missing ConfigMap key, a Pending claim needs a StorageClass that exists.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from kubelens import anomalies as a_
from kubelens.analyst.evidence import (
    CPU_LOAD_TYPES,
    IO_LOAD_TYPES,
    MEMORY_PRESSURE_TYPES,
    OOM_TYPES,
    Analysis,
    Cause,
    Item,
    PodKey,
    group_by_node,
    group_by_pod,
    kubectl_ns,
    metric_value,
    number,
    percent,
    same_pod,
    text,
)
from kubelens.models import Confidence, CorrelationType, Insight, Subject
from kubelens.skills.cluster.common import parse_missing_reference
from kubelens.skills.cluster.logs import ERROR_PATTERNS

Rule = Callable[[Analysis], list[Insight]]

HIGH, MEDIUM, LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

#: Default window within which unrelated notifications count as happening together.
TEMPORAL_WINDOW_SECONDS = 300
DNS_SERVER_NAMES = ("coredns", "kube-dns", "node-local-dns")
NODE_MEMORY_EVENT_REASONS = ("Evicted", "OOMKilling", "SystemOOM", "EvictionThresholdMet")
NODE_DISK_EVENT_REASONS = (
    "Evicted",
    "FreeDiskSpaceFailed",
    "ImageGCFailed",
    "EvictionThresholdMet",
)
#: The resources a disk eviction names; the kubelet names that of an inode eviction "inodes".
DISK_EVICTION_RESOURCES = ("ephemeral-storage", "nodefs", "imagefs", "inodes", "")


# ---------------------------------------------------------------------- small helpers


def quote(line: str, cap: int = 200) -> str:
    """A log line or message as quoted data, never as text of our own."""
    return json.dumps(line[:cap])


def pod_name(pod: PodKey | None) -> str:
    if pod is None:
        return "the pod"
    return f"{pod[0]}/{pod[1]}" if pod[0] else pod[1]


def container_of(items: Sequence[Item]) -> str | None:
    return next((i.container for i in items if i.container), None)


def node_condition(item: Item) -> str:
    return text(item.evidence.get("condition"))


def events_on_pod(analysis: Analysis, pod: PodKey | None, *reasons: str) -> list[Item]:
    return [
        i for i in analysis.on_pod(pod, a_.WARNING_EVENTS) if not reasons or i.reason() in reasons
    ]


def logs_showing(
    analysis: Analysis, pod: PodKey | None, pattern: str, types: Sequence[str] = (a_.LOG_ERRORS,)
) -> list[Item]:
    """A pod's log notifications that matched one of the logs skill's error patterns."""
    return [
        i for i in analysis.on_pod(pod, *types) if (i.evidence.get("patterns") or {}).get(pattern)
    ]


def describe_pod_steps(
    pod: PodKey | None, container: str | None = None, previous: bool = False
) -> list[str]:
    ns = kubectl_ns(pod)
    name = pod[1] if pod else "<pod>"
    steps = [f"kubectl {ns}describe pod {name}"]
    if previous:
        steps.append(
            f"kubectl {ns}logs {name}" + (f" -c {container}" if container else "") + " --previous"
        )
    return steps


def memory_limit_text(items: Sequence[Item], analysis: Analysis) -> str | None:
    for item in items:
        limit = item.evidence.get("limit")
        if limit:
            return text(limit)
        raw = number(item.evidence.get("memory_limit_bytes") or item.evidence.get("limit_bytes"))
        if raw:
            return f"{raw / 2**20:.0f}Mi"
    facts = analysis.facts.container_facts(items[0].pod if items else None, container_of(items))
    if facts.get("memory_limit"):
        return text(facts["memory_limit"])
    raw = number(facts.get("memory_limit_bytes"))
    return f"{raw / 2**20:.0f}Mi" if raw else None


def process_pod(analysis: Analysis, item: Item) -> PodKey | None:
    """The pod a process-level notification's process runs in, when the snapshot named it."""
    if item.subject is None or item.subject.kind != "Process":
        return item.pod
    return analysis.facts.process_pods.get(item.subject.name)


def node_signals(analysis: Analysis, condition: str, *types: str) -> list[Item]:
    """Open notifications of the given types, then the NodePressure ones for the condition."""
    return [
        *analysis.open(*types),
        *[i for i in analysis.open(a_.NODE_PRESSURE) if node_condition(i) == condition],
    ]


def evicted_on_node(analysis: Analysis, node: str, resources: Sequence[str]) -> list[Item]:
    """Pods the kubelet evicted from the node for one of the resources ("" when unnamed)."""
    return [
        i
        for i in analysis.on_node(node, a_.POD_EVICTED)
        if text(i.evidence.get("resource")) in resources
    ]


def node_events(analysis: Analysis, node: str, reasons: Sequence[str]) -> list[Item]:
    """Warning events on the node with one of the reasons."""
    return [i for i in analysis.on_node(node, a_.WARNING_EVENTS) if i.reason() in reasons]


def has_node_memory_pressure(analysis: Analysis, node: str | None) -> bool:
    return bool(
        analysis.on_node(node, *MEMORY_PRESSURE_TYPES)
        or [
            i
            for i in analysis.on_node(node, a_.NODE_PRESSURE)
            if node_condition(i) == "MemoryPressure"
        ]
    )


# ---------------------------------------------------------------------- pod-level causes
# These explain one pod's notifications without emitting, so a rollout can explain
# itself through its pods' causes and a pod rule can emit the same cause on its own.


def explain_config_error(analysis: Analysis, items: Sequence[Item]) -> Cause | None:
    errors = [i for i in items if i.type == a_.CONFIG_ERROR]
    if not errors:
        return None
    first = errors[0]
    cited = [*errors, *_config_error_symptoms(analysis, first.pod)]
    evidence = [
        f"{pod_name(i.pod)}: {i.reason() or 'CreateContainerConfigError'}: {quote(i.message())}"
        for i in errors
    ]
    missing = _missing_reference(first)
    if missing:
        return _missing_reference_cause(errors, missing, evidence, cited)
    root = (
        f"container {container_of(errors) or '?'} cannot be created: the kubelet reports "
        f"{first.reason() or 'a configuration error'} ({quote(first.message(), 160)})"
    )
    return Cause(
        root, MEDIUM, bool(first.message()), evidence, describe_pod_steps(first.pod), cited
    )


def _config_error_symptoms(analysis: Analysis, pod: PodKey | None) -> list[Item]:
    """What a container the kubelet cannot create shows besides: back-off, its events,
    and log lines that name the missing key."""
    return [
        *analysis.on_pod(pod, a_.CRASH_LOOP),
        *events_on_pod(analysis, pod),
        *logs_showing(analysis, pod, "missing_key"),
    ]


def _missing_reference(item: Item) -> dict[str, Any] | None:
    """The ConfigMap/Secret (and key) a config error names: from its evidence, else its message."""
    missing = item.evidence.get("missing")
    if isinstance(missing, dict):
        return missing
    return parse_missing_reference(item.message())


def _missing_reference_cause(
    errors: Sequence[Item], missing: dict[str, Any], evidence: list[str], cited: list[Item]
) -> Cause:
    first = errors[0]
    container = container_of(errors) or "?"
    pods = ", ".join(sorted({pod_name(i.pod) for i in errors}))
    namespace = missing.get("namespace") or (first.pod[0] if first.pod else None)
    target = f"{missing['kind']} {namespace + '/' if namespace else ''}{missing['name']}"
    if missing.get("key"):
        root = (
            f"{target} has no key {missing['key']}, which container "
            f"{container} reads, so the kubelet cannot create the container "
            f"(pods: {pods})"
        )
        fix = (
            f"Add key {missing['key']} to {target}, or correct the key name in the "
            "pod template; the kubelet retries on its own"
        )
    else:
        root = (
            f"{target} does not exist, and the pod template references it, so the "
            f"kubelet cannot create container {container} (pods: {pods})"
        )
        fix = f"Create {target} in the pod's namespace, or fix the reference"
    steps = [_show_reference_step(first.pod, missing), fix, *describe_pod_steps(first.pod)]
    subject = Subject(kind=missing["kind"], name=missing["name"], namespace=namespace)
    return Cause(root, HIGH, True, evidence, steps, cited, [subject])


def _show_reference_step(pod: PodKey | None, missing: dict[str, Any]) -> str:
    """How to read what the referenced ConfigMap holds, or only the keys of a Secret."""
    if missing["kind"] == "ConfigMap":
        return f"kubectl {kubectl_ns(pod)}get configmap {missing['name']} -o yaml"
    return (
        f"kubectl {kubectl_ns(pod)}get secret {missing['name']} -o jsonpath='{{.data}}' | jq 'keys'"
    )


# "code = NotFound" is the gRPC status containerd's CRI returns for a missing tag.
_NOT_FOUND = re.compile(
    r"(?i)not ?found|manifest unknown|does not exist|name unknown|"
    r"repository .{0,80}? not exist"
)
_AUTH = re.compile(
    r"(?i)unauthorized|authentication required|access denied|denied:|"
    r"pull access denied|forbidden|\b401\b|\b403\b"
)
_RATE = re.compile(r"(?i)toomanyrequests|rate limit")
_UNREACHABLE = re.compile(
    r"(?i)i/o timeout|connection refused|timed out|tls handshake|x509|"
    r"network is unreachable"
)
_DNS = re.compile(r"(?i)no such host|could not resolve|name resolution|server misbehaving")
_LOOKUP_HOST = re.compile(
    r"(?i)lookup ([\w.-]+)|resolve (?:host )?['\"]?([\w.-]+\.[\w-]+)|"
    r"getaddrinfo \w+ ([\w.-]+)|UnknownHostException: ([\w.-]+)"
)


def looked_up_host(lines: Sequence[str]) -> str | None:
    for line in lines:
        match = _LOOKUP_HOST.search(line)
        if match:
            return next(g for g in match.groups() if g)
    return None


def explain_image_pull(analysis: Analysis, items: Sequence[Item]) -> Cause | None:
    pulls = [i for i in items if i.type == a_.IMAGE_PULL_FAILURE]
    if not pulls:
        return None
    related = _pull_symptoms(analysis, pulls)
    messages = _registry_answers(analysis, pulls, related)
    image = text(pulls[0].evidence.get("image")) or "the image"
    pods = sorted({pod_name(i.pod) for i in pulls})
    evidence = [
        f"{pod_name(i.pod)}: {i.reason() or 'image pull failed'} for {image}" for i in pulls
    ] + [f"kubelet: {quote(m)}" for m in messages[:3]]
    root, fix, confidence, grounded = _why_pull_fails(image, messages)
    steps = [*describe_pod_steps(pulls[0].pod), f"crictl pull {image}  # on the node", fix]
    return Cause(
        f"{root} (pods: {', '.join(pods)})",
        confidence,
        grounded,
        evidence,
        steps,
        [*pulls, *related],
    )


def _pull_symptoms(analysis: Analysis, pulls: Sequence[Item]) -> list[Item]:
    """The failing pods' Warning events and name-resolution failures."""
    related: list[Item] = []
    for pull in pulls:
        related += events_on_pod(analysis, pull.pod)
        related += analysis.on_pod(pull.pod, a_.DNS_FAILURE)
    return related


def _registry_answers(
    analysis: Analysis, pulls: Sequence[Item], related: Sequence[Item]
) -> list[str]:
    """The messages that may carry the registry's answer, the notifications' first."""
    messages = [i.message() for i in [*pulls, *related] if i.message()]
    # The kubelet's "Failed to pull image" event carries the registry's answer even when
    # no notification was raised for it.
    messages += [
        message
        for pull in pulls
        for _, message in analysis.facts.events_of(pull.pod)
        if message and message not in messages and "image" in message.lower()
    ]
    return messages


def _why_pull_fails(image: str, messages: Sequence[str]) -> tuple[str, str, Confidence, bool]:
    """Root cause, fix, confidence and groundedness, by what the registry answered."""
    joined = "\n".join(messages)
    host = image.split("/")[0] if "/" in image and "." in image.split("/")[0] else "the registry"
    if _DNS.search(joined):
        resolved = looked_up_host(messages) or host
        root = (
            f"the registry host {resolved} does not resolve from the node, so {image} "
            "cannot be pulled"
        )
        fix = f"Fix the registry name in the image reference or DNS for {resolved}"
        return root, fix, HIGH, True
    if _RATE.search(joined):
        root = f"{host} rate-limits pulls of {image}"
        return root, "Authenticate pulls (imagePullSecrets) or mirror the image", HIGH, True
    if _AUTH.search(joined):
        root = (
            f"{host} refuses to serve {image}: pull credentials are missing or wrong "
            "(imagePullSecrets), or the repository is private"
        )
        fix = "Check the pod's imagePullSecrets and that the secret's credentials can pull it"
        return root, fix, HIGH, True
    if _NOT_FOUND.search(joined):
        root = f"image {image} does not exist in the registry (wrong repository or tag)"
        fix = "Correct the image name or tag in the workload's pod template, or push the tag"
        return root, fix, HIGH, True
    if _UNREACHABLE.search(joined):
        root = f"the node cannot reach {host} (network, proxy or TLS failure) to pull {image}"
        return root, f"Test from the node: crictl pull {image}", MEDIUM, True
    root = (
        f"image {image} cannot be pulled; the evidence does not say why "
        "(the pod's events carry the registry's answer)"
    )
    fix = f"Read the pod's events and try the pull on the node: crictl pull {image}"
    return root, fix, MEDIUM, False


def explain_oom(analysis: Analysis, items: Sequence[Item]) -> Cause | None:
    kills = [i for i in items if i.type in OOM_TYPES]
    if not kills:
        return None
    pod = kills[0].pod
    near = analysis.on_pod(pod, a_.CONTAINER_MEMORY_NEAR_LIMIT)
    cited = [*kills, *near, *_oom_restart_cycle(analysis, pod)]
    container = container_of(kills) or container_of(near) or "?"
    limit = memory_limit_text(kills + near, analysis)
    sigkill = any(text(i.evidence.get("exitCode")) == "137" for i in kills)
    evidence = _oom_evidence(kills, near, container, limit, sigkill)
    steps = [
        *describe_pod_steps(pod, container, previous=True),
        f"kubectl {kubectl_ns(pod)}top pod {pod[1] if pod else ''} --containers".strip(),
    ]
    if limit:
        restarts = max((int(number(i.evidence.get("restartCount")) or 0) for i in kills), default=0)
        root = (
            f"container {container} of pod {pod_name(pod)} needs more memory than its "
            f"{limit} limit: the kernel OOM killer ends it (exit 137) and the kubelet "
            f"restarts it" + (f" ({restarts} restarts so far)" if restarts else "")
        )
        steps.append(
            f"Raise resources.limits.memory of container {container} above its peak "
            "working set, or find what grows (heap profile, caches)"
        )
        confident = sigkill or bool(near) or any(i.reason() == "OOMKilled" for i in kills)
        return Cause(root, HIGH if confident else MEDIUM, True, evidence, steps, cited)
    root = (
        f"container {container} of pod {pod_name(pod)} was OOM-killed with no memory "
        "limit in the evidence: the node itself ran short of memory, or the limit was "
        "not reported"
    )
    steps.append(
        f"kubectl describe node {kills[0].node}"
        if kills[0].node
        else "kubectl describe nodes | grep -A5 Conditions"
    )
    return Cause(root, MEDIUM, False, evidence, steps, cited)


def _oom_restart_cycle(analysis: Analysis, pod: PodKey | None) -> list[Item]:
    """The restart cycle an OOM kill starts: back-off, and probes failing while it restarts."""
    return [
        *analysis.on_pod(pod, a_.CRASH_LOOP, a_.PROBE_FAILURE),
        *events_on_pod(analysis, pod, "BackOff", "OOMKilling", "Unhealthy"),
        *logs_showing(analysis, pod, "out_of_memory"),
    ]


def _oom_evidence(
    kills: Sequence[Item], near: Sequence[Item], container: str, limit: str | None, sigkill: bool
) -> list[str]:
    evidence = [i.notification.observation for i in kills]
    if limit:
        evidence.append(f"memory limit of container {container}: {limit}")
    if sigkill:
        evidence.append("exit code 137 = SIGKILL from the kernel OOM killer")
    for item in near:
        evidence.append(
            f"memory use reached {percent(metric_value(item))} of the limit before the kill"
        )
    return evidence


_LOG_CAUSES: tuple[tuple[str, str, Confidence], ...] = (
    ("dns", "it cannot resolve {host} and exits", HIGH),
    ("missing_key", "a configuration key it needs is missing", HIGH),
    ("out_of_memory", "it runs out of memory", HIGH),
    (
        "fork_failed",
        "it cannot start processes or threads: the kernel refuses fork (a pids limit is reached)",
        HIGH,
    ),
    ("connection_refused", "a dependency it connects to at start refuses connections", HIGH),
    ("panic", "it panics (an unhandled error in the program)", HIGH),
    ("traceback", "it dies on an unhandled exception", HIGH),
    ("permission_denied", "it is denied access to a file or resource", MEDIUM),
    ("timeout", "a dependency times out", MEDIUM),
    ("fatal", "it logs a fatal error and exits", MEDIUM),
)


def explain_crash_with_logs(analysis: Analysis, items: Sequence[Item]) -> Cause | None:
    crashes = [i for i in items if i.type == a_.CRASH_LOOP]
    if not crashes:
        return None
    pod = crashes[0].pod
    logs = [
        i
        for i in analysis.on_pod(pod, a_.LOG_ERRORS, a_.DNS_FAILURE)
        if i.log_lines() or i.evidence.get("patterns")
    ]
    if not logs:
        return None
    patterns, lines = _log_patterns(logs)
    chosen = next(((n, t, c) for n, t, c in _LOG_CAUSES if patterns.get(n)), None)
    container = container_of(crashes) or container_of(logs) or "?"
    cited = [*crashes, *logs, *events_on_pod(analysis, pod, "BackOff")]
    shown = _lines_showing(chosen[0] if chosen else None, lines)
    evidence = [crashes[0].notification.observation]
    exit_code = crashes[0].evidence.get("exitCode")
    if exit_code is not None:
        evidence.append(f"last exit code {exit_code}")
    evidence += [f"log line (data): {quote(line)}" for line in shown[:3]]
    steps = describe_pod_steps(pod, container, previous=True)
    if chosen is None:
        root = (
            f"container {container} of pod {pod_name(pod)} exits repeatedly; its logs "
            f"show errors ({', '.join(sorted(patterns)) or 'unclassified'})"
            + (f", the last: {quote(lines[-1], 200)}" if lines else "")
        )
        return Cause(root, MEDIUM, bool(lines), evidence, steps, cited)
    name, template, confidence = chosen
    host = looked_up_host(shown) or "a host name"
    root = (
        f"container {container} of pod {pod_name(pod)} crash-loops because "
        + template.format(host=host)
        + (f": {quote(shown[0], 160)}" if shown else "")
    )
    steps += _log_cause_steps(name, host, pod)
    return Cause(root, confidence, True, evidence, steps, cited)


def _log_patterns(logs: Sequence[Item]) -> tuple[dict[str, int], list[str]]:
    """The error patterns the logs matched (with counts; a DNS failure counts as "dns"),
    and their lines."""
    patterns: dict[str, int] = {}
    lines: list[str] = []
    for item in logs:
        for name, count in (item.evidence.get("patterns") or {}).items():
            patterns[name] = patterns.get(name, 0) + int(count)
        lines += item.log_lines()
        if item.type == a_.DNS_FAILURE:
            patterns.setdefault("dns", 1)
    return patterns, lines


def _lines_showing(cause: str | None, lines: list[str]) -> list[str]:
    """The lines that show the chosen cause, not merely the first error lines; all the
    lines when none does."""
    pattern = ERROR_PATTERNS.get(cause) if cause else None
    shown = [line for line in lines if pattern.search(line)] if pattern else []
    return shown or lines


def _log_cause_steps(cause: str, host: str, pod: PodKey | None) -> list[str]:
    """What to check for the causes a step can narrow down."""
    if cause == "dns":
        return [
            f"kubectl run -it --rm dnstest --image=busybox:1.36 --restart=Never -- "
            f"nslookup {host if host != 'a host name' else '<name>'}",
            "kubectl -n kube-system get pods -l k8s-app=kube-dns",
            f"kubectl {kubectl_ns(pod)}get svc,endpoints",
        ]
    if cause == "missing_key":
        return [f"kubectl {kubectl_ns(pod)}get configmaps -o yaml  # the key the log names"]
    if cause == "connection_refused":
        return [f"kubectl {kubectl_ns(pod)}get endpoints  # is the dependency ready?"]
    if cause == "out_of_memory":
        return ["Raise the memory limit or the runtime's heap setting (e.g. -Xmx)"]
    return []


_INSUFFICIENT = re.compile(r"Insufficient ([\w./-]+)")


def explain_unschedulable(analysis: Analysis, items: Sequence[Item]) -> Cause | None:
    pending = [i for i in items if i.type == a_.POD_PENDING]
    if not pending:
        return None
    first = pending[0]
    message = first.message()
    related = events_on_pod(analysis, first.pod, "FailedScheduling")
    evidence = [f"scheduler: {quote(message)}"] if message else []
    steps = [*describe_pod_steps(first.pod), "kubectl describe nodes | grep -A8 'Allocated'"]
    lack = sorted(set(_INSUFFICIENT.findall(message)))
    if lack:
        root = (
            f"no node has enough allocatable {', '.join(lack)} left for the requests of "
            f"pod {pod_name(first.pod)}, so the scheduler cannot place it"
        )
        steps.append("Lower the pod's requests, free capacity, or add nodes")
        return Cause(root, HIGH, True, evidence, steps, [*pending, *related])
    lowered = message.lower()
    reasons = [
        ("untolerated taint", "every node carries a taint the pod does not tolerate"),
        ("node affinity", "no node matches the pod's node selector or affinity"),
        ("node selector", "no node matches the pod's node selector or affinity"),
        (
            "unbound immediate persistentvolumeclaims",
            "a PersistentVolumeClaim it mounts is not bound",
        ),
        ("volume node affinity conflict", "its volume lives in a zone none of the nodes fits"),
        ("too many pods", "the nodes are at their pod limit"),
        ("didn't have free ports", "the host port it asks for is taken on every node"),
    ]
    why = next((w for key, w in reasons if key in lowered), None)
    if why:
        root = f"the scheduler cannot place pod {pod_name(first.pod)}: {why}"
        return Cause(root, HIGH, True, evidence, steps, [*pending, *related])
    root = f"pod {pod_name(first.pod)} is unschedulable; the scheduler says {quote(message, 160)}"
    return Cause(root, MEDIUM, bool(message), evidence, steps, [*pending, *related])


POD_EXPLAINERS: tuple[Callable[[Analysis, Sequence[Item]], Cause | None], ...] = (
    explain_config_error,
    explain_image_pull,
    explain_oom,
    explain_crash_with_logs,
    explain_unschedulable,
)


def emit_per_pod(
    analysis: Analysis,
    rule: str,
    types: Sequence[str],
    explain: Callable[[Analysis, Sequence[Item]], Cause | None],
) -> list[Insight]:
    out = []
    for _, items in group_by_pod(analysis.open(*types)).items():
        if any(i.id in analysis.claimed for i in items):
            continue
        cause = explain(analysis, items)
        if cause is not None:
            out.append(analysis.emit(rule, None, cause))
    return out


# ---------------------------------------------------------------------- the rules


def is_dns_server(item: Item) -> bool:
    name = item.pod[1] if item.pod else (item.subject.name if item.subject else "")
    namespace = item.pod[0] if item.pod else (item.subject.namespace if item.subject else None)
    return namespace in ("kube-system", None) and name.startswith(DNS_SERVER_NAMES)


def dns_server_down(analysis: Analysis) -> list[Insight]:
    """Name resolution fails and the cluster's DNS pods themselves are failing."""
    failures = analysis.open(a_.DNS_FAILURE)
    servers = [i for i in analysis.open() if is_dns_server(i) and i.type != a_.DNS_FAILURE]
    if not failures or not servers:
        return []
    clients = [i.pod for i in failures if i.pod]
    symptoms = [
        i
        for i in analysis.open(a_.CRASH_LOOP, a_.LOG_ERRORS, a_.PROBE_FAILURE, a_.WARNING_EVENTS)
        if any(same_pod(i.pod, c) for c in clients) and not is_dns_server(i)
    ]
    server_state = "; ".join(sorted({f"{i.where()}: {i.type}" for i in servers}))
    lines = [line for i in failures for line in (i.log_lines() or [i.message()]) if line]
    root = (
        f"cluster DNS is failing ({server_state}), so pods that resolve names through it "
        f"fail: {len({pod_name(c) for c in clients})} pods report resolution errors"
    )
    cause = Cause(
        root,
        HIGH,
        True,
        [
            *(f"{i.where()}: {i.notification.observation}" for i in servers),
            *(f"resolution error (data): {quote(line)}" for line in lines[:3]),
        ],
        [
            "kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide",
            "kubectl -n kube-system logs -l k8s-app=kube-dns --tail=50",
            "kubectl -n kube-system get endpoints kube-dns",
            "kubectl run -it --rm dnstest --image=busybox:1.36 --restart=Never -- "
            "nslookup kubernetes.default",
        ],
        [*servers, *failures, *symptoms],
    )
    return [analysis.emit("dns_server_down", CorrelationType.CAUSAL, cause)]


def named_object(item: Item) -> tuple[str, str, str | None]:
    """The kind, name and namespace of the object a notification is about: as its evidence
    names them, else its subject."""
    evidence, subject = item.evidence, item.subject
    kind = text(evidence.get("kind") or (subject.kind if subject else ""))
    name = text(evidence.get("name") or (subject.name if subject else ""))
    namespace = evidence.get("namespace") or (subject.namespace if subject else None)
    return kind, name, namespace


def pvc_pending_storage_class(analysis: Analysis) -> list[Insight]:
    """A Pending claim (missing StorageClass, no default, no provisioner) holds its pods."""
    out = []
    for claim in analysis.open(a_.PVC_PENDING):
        _, name, namespace = named_object(claim)
        users = set(claim.evidence.get("used_by") or [])
        pods = _pods_mounting(analysis, name, namespace, users)
        pod_keys = [i.pod for i in pods]
        events = _claim_events(analysis, name, pod_keys, users)
        rollouts = _rollouts_of(analysis, pod_keys, users)
        target = f"PersistentVolumeClaim {namespace}/{name}"
        root, confidence, grounded, subjects = _why_claim_pending(claim.evidence, target)
        if pods:
            root += (
                f"; pod {', '.join(sorted(pod_name(p) for p in pod_keys))} mounts it and "
                "stays Pending until it binds"
            )
        if rollouts:
            root += "; the workload's rollout cannot progress"
        facts = _claim_facts(claim, pods)
        steps = _claim_steps(claim.evidence.get("storage_class"), name, namespace)
        cited = [claim, *pods, *events, *rollouts]
        cause = Cause(root, confidence, grounded, facts, steps, cited, subjects)
        out.append(analysis.emit("pvc_pending_storage_class", None, cause))
    return out


def _pods_mounting(
    analysis: Analysis, claim: str, namespace: str | None, users: set[str]
) -> list[Item]:
    """Pending pods that mount the claim, by their claims or the claim's users."""
    return [
        i
        for i in analysis.open(a_.POD_PENDING)
        if i.pod
        and (i.pod[0] in (namespace, None))
        and (claim in (i.evidence.get("claims") or []) or i.pod[1] in users)
    ]


def _claim_events(
    analysis: Analysis, claim: str, pod_keys: Sequence[PodKey | None], users: set[str]
) -> list[Item]:
    """Warning events of the claim or of the pods that mount it."""
    return [
        i
        for i in analysis.open(a_.WARNING_EVENTS)
        if (i.subject and i.subject.kind == "PersistentVolumeClaim" and i.subject.name == claim)
        or any(same_pod(i.pod, p) for p in pod_keys)
        or (i.pod and i.pod[1] in users)
    ]


def _rollouts_of(
    analysis: Analysis, pod_keys: Sequence[PodKey | None], users: set[str]
) -> list[Item]:
    """Stuck rollouts whose failing pods are among the claim's pods."""
    return [
        i
        for i in analysis.open(a_.ROLLOUT_STUCK)
        if {p.get("name") for p in i.evidence.get("failing_pods") or []}
        & ({p[1] for p in pod_keys if p} | users)
    ]


def _why_claim_pending(
    evidence: dict[str, Any], target: str
) -> tuple[str, Confidence, bool, list[Subject]]:
    """Root cause, confidence, groundedness and the StorageClass missing, if one is."""
    class_name = evidence.get("storage_class")
    if evidence.get("static_binding") or class_name == "":
        root = (
            f"{target} names no StorageClass, so only a matching pre-created "
            "PersistentVolume can bind it, and none does"
        )
        return root, MEDIUM, True, []
    if evidence.get("storage_class_exists") is False and class_name:
        root = (
            f"StorageClass {class_name} does not exist, so nothing provisions a volume for {target}"
        )
        return root, HIGH, True, [Subject(kind="StorageClass", name=str(class_name))]
    if evidence.get("storage_class_exists") is False:
        return f"{target} names no StorageClass and the cluster has no default one", HIGH, True, []
    provisioner = evidence.get("provisioner") or "its provisioner"
    root = f"{provisioner} has not provisioned a volume for {target} (StorageClass {class_name})"
    return root, MEDIUM, bool(evidence.get("events")), []


def _claim_facts(claim: Item, pods: Sequence[Item]) -> list[str]:
    """The claim's notification, the scheduler's word on its pods, the claim's events."""
    facts = [claim.notification.observation]
    facts += [f"scheduler: {quote(i.message())}" for i in pods if i.message()]
    facts += [
        f"{e.get('reason')}: {quote(text(e.get('message')))}"
        for e in claim.evidence.get("events") or []
        if isinstance(e, dict)
    ]
    return facts


def _claim_steps(class_name: Any, name: str, namespace: str | None) -> list[str]:
    return [
        "kubectl get storageclass",
        f"kubectl -n {namespace} describe pvc {name}",
        f"Create StorageClass {class_name} or point the claim (volumeClaimTemplates) "
        "at an existing class; a claim's class cannot change, so recreate the claim"
        if class_name
        else "Mark a StorageClass as default or name one in the claim",
    ]


def rollout_stuck(analysis: Analysis) -> list[Insight]:
    """A stuck rollout explained by the failure of its new pods."""
    out = []
    for rollout in analysis.open(a_.ROLLOUT_STUCK):
        kind, name, namespace = named_object(rollout)
        failing = {
            text(p.get("name"))
            for p in rollout.evidence.get("failing_pods") or []
            if isinstance(p, dict)
        }
        pod_items = _rollout_pod_items(analysis, rollout, name, namespace, failing)
        workload = f"{kind} {namespace}/{name}"
        steps = [
            f"kubectl -n {namespace} rollout status {kind.lower()}/{name} --timeout=10s",
            f"kubectl -n {namespace} rollout history {kind.lower()}/{name}",
            f"kubectl -n {namespace} rollout undo {kind.lower()}/{name}  # if the new "
            "revision is at fault",
        ]
        cause = _first_pod_cause(analysis, pod_items)
        if cause is not None:
            explained = _rollout_blocked_by(rollout, workload, steps, cause, pod_items, failing)
        else:
            explained = _rollout_unexplained(rollout, workload, steps, pod_items)
        out.append(analysis.emit("rollout_stuck", None, explained))
    return out


def _rollout_pod_items(
    analysis: Analysis, rollout: Item, name: str, namespace: str | None, failing: set[str]
) -> list[Item]:
    """The open notifications of the rollout's pods: those it names as failing, and those
    named after the workload (a Deployment's, StatefulSet's or DaemonSet's pods are named
    <name>-<suffix>)."""
    return [
        i
        for i in analysis.open()
        if i.pod
        and i.pod[0] in (namespace, None)
        and i.id != rollout.id
        and (i.pod[1] in failing or i.pod[1].startswith(f"{name}-"))
    ]


def _first_pod_cause(analysis: Analysis, pod_items: Sequence[Item]) -> Cause | None:
    """The first cause a pod explainer finds, pod by pod, explainers in their order."""
    for _, items in group_by_pod(pod_items).items():
        for explain in POD_EXPLAINERS:
            cause = explain(analysis, items)
            if cause is not None:
                return cause
    return None


def _rollout_blocked_by(
    rollout: Item,
    workload: str,
    steps: list[str],
    cause: Cause,
    pod_items: Sequence[Item],
    failing: set[str],
) -> Cause:
    """The rollout is stuck because of its new pods' cause."""
    # Every anomaly of the rollout's failing new pods (their back-off events, their
    # logs) is a symptom of the same cause, as are pods failing the same way.
    same_cause_pods = [
        i for i in pod_items if i.type == cause.items[0].type or (i.pod and i.pod[1] in failing)
    ]
    root = f"the rollout of {workload} is stuck because its new pods fail: {cause.root_cause}"
    return Cause(
        root,
        cause.confidence,
        cause.grounded,
        [rollout.notification.observation, *cause.evidence],
        [*cause.next_steps, *steps],
        [rollout, *cause.items, *same_cause_pods],
        cause.subjects,
    )


def _rollout_unexplained(
    rollout: Item, workload: str, steps: list[str], pod_items: Sequence[Item]
) -> Cause:
    """No pod explainer found a cause: the failing reasons the rollout reports, if any."""
    facts = [rollout.notification.observation]
    reasons = [text(r) for r in rollout.evidence.get("failing_reasons") or []]
    if reasons:
        root = f"the rollout of {workload} is stuck: its new pods fail with {', '.join(reasons)}"
        return Cause(root, MEDIUM, True, facts, steps, [rollout, *pod_items])
    root = (
        f"the rollout of {workload} is stuck; why its new pods do not become "
        "ready is not in the evidence"
    )
    return Cause(root, LOW, False, facts, steps, [rollout, *pod_items])


def node_not_ready(analysis: Analysis) -> list[Insight]:
    """A NotReady node, and the pods on it that suffer for it."""
    out = []
    for node, downs in group_by_node(analysis.open(a_.NODE_NOT_READY)).items():
        named = _pods_on_node(analysis, node, downs)
        affected = [
            i
            for i in analysis.open(
                a_.PROBE_FAILURE, a_.POD_EVICTED, a_.WARNING_EVENTS, a_.NETWORK_ERRORS
            )
            if i.node == node or any(same_pod(i.pod, p) for p in named)
        ]
        first = downs[0].evidence
        root = _node_down_root(node, first)
        count = len(named) or len({i.pod for i in affected if i.pod})
        if count:
            root += (
                f"; {'the pod' if count == 1 else f'the {count} pods'} on it "
                f"{'is' if count == 1 else 'are'} unreachable and will be evicted after "
                "the toleration period"
            )
        facts = [d.notification.observation for d in downs]
        if first.get("message"):
            facts.append(f"condition message: {quote(text(first.get('message')))}")
        facts += [f"taint {t}" for t in first.get("taints") or []]
        steps = [
            f"kubectl describe node {node}",
            f"kubectl get pods -A -o wide --field-selector spec.nodeName={node}",
            "systemctl status kubelet containerd  # on the node",
            "journalctl -u kubelet --since -30min | tail -100  # on the node",
        ]
        cause = Cause(root, HIGH if affected else MEDIUM, True, facts, steps, [*downs, *affected])
        out.append(analysis.emit("node_not_ready", None, cause))
    return out


def _pods_on_node(analysis: Analysis, node: str, downs: Sequence[Item]) -> set[PodKey]:
    """The pods the snapshots place on the node, and those its NotReady notifications name."""
    named = set(analysis.facts.node_pods.get(node, set()))
    for down in downs:
        for ref in down.evidence.get("pod_names") or []:
            namespace, _, pod = text(ref).partition("/")
            named.add((namespace or None, pod))
    return named


def _node_down_root(node: str, evidence: dict[str, Any]) -> str:
    """What the node's condition says: no pod network, or a kubelet gone silent."""
    if text(evidence.get("condition")) == "NetworkUnavailable":
        return (
            f"node {node} has no pod network (NetworkUnavailable: "
            f"{text(evidence.get('reason'))}): the CNI plugin has not set it up"
        )
    return (
        f"node {node} stopped reporting to the control plane (Ready="
        f"{text(evidence.get('status')) or 'False'}, {text(evidence.get('reason'))}); "
        "why the kubelet went silent (host down, network partition, kubelet or "
        "runtime failure) is not in the evidence"
    )


def oom_kill(analysis: Analysis) -> list[Insight]:
    """A container killed at its memory limit (with its near-limit readings and crash loop)."""
    out = []
    for _, kills in group_by_pod(analysis.open(*OOM_TYPES)).items():
        if any(i.id in analysis.claimed for i in kills):
            continue
        no_limit = memory_limit_text(kills, analysis) is None
        if no_limit and has_node_memory_pressure(analysis, kills[0].node):
            continue  # a host OOM: host_memory_pressure explains it with the node
        cause = explain_oom(analysis, kills)
        if cause is not None:
            out.append(analysis.emit("oom_kill", None, cause))
    return out


def host_memory_pressure(analysis: Analysis) -> list[Insight]:
    """Node memory pressure with the process that hogs it and/or the pods it evicts or kills."""
    out = []
    pressure = node_signals(analysis, "MemoryPressure", *MEMORY_PRESSURE_TYPES)
    for node, signals in group_by_node(pressure).items():
        hogs = analysis.on_node(node, a_.PROCESS_MEMORY_HOG)
        victims = _memory_victims(analysis, node)
        if not hogs and not victims:
            continue
        cause = _memory_pressure_cause(node, signals, hogs, victims)
        out.append(analysis.emit("host_memory_pressure", CorrelationType.CAUSAL, cause))
    return out


def _memory_victims(analysis: Analysis, node: str) -> list[Item]:
    """What a node short of memory does to pods: evictions, host OOM kills (no limit reached)
    and the kubelet's and kernel's events."""
    return [
        *evicted_on_node(analysis, node, ("memory", "")),
        *[
            i
            for i in analysis.on_node(node, *OOM_TYPES)
            if memory_limit_text([i], analysis) is None
        ],
        *node_events(analysis, node, NODE_MEMORY_EVENT_REASONS),
    ]


def _memory_pressure_cause(
    node: str, signals: list[Item], hogs: list[Item], victims: list[Item]
) -> Cause:
    facts = [i.notification.observation for i in signals]
    steps = [
        f"kubectl describe node {node}",
        f"kubectl get pods -A -o wide --field-selector spec.nodeName={node}",
        "kubectl top pods -A --sort-by=memory | head -20",
        "ps -eo pid,comm,rss --sort=-rss | head -15  # on the node",
    ]
    if hogs:
        hog = hogs[0]
        share = number(
            hog.evidence.get("memory_percent")
            or hog.evidence.get("percent")
            or hog.evidence.get("value")
        )
        facts.append(hog.notification.observation)
        root = (
            f"{hog.where()} takes the most memory on node {node} "
            f"({hog.notification.observation}), driving the node into memory pressure"
        )
        steps.append(f"Bound {hog.where()} with a memory limit, or move it off {node}")
        confidence = HIGH if (share is not None and share >= 40) or victims else MEDIUM
        grounded = bool(victims) or (share is not None and share >= 40)
    else:
        root = f"node {node} is short of memory"
        confidence, grounded = HIGH, True
    if victims:
        root += (
            f"; to reclaim memory the kubelet evicts and the kernel OOM-kills pods "
            f"({', '.join(sorted({v.where() for v in victims}))})"
        )
        facts += [v.notification.observation for v in victims]
    return Cause(root, confidence, grounded, facts, steps, [*signals, *hogs, *victims])


def trend(item: Item) -> tuple[list[float], float]:
    """The readings that led to a threshold notification (oldest first) and their span."""
    values = [v for v in (number(x) for x in item.evidence.get("recent") or []) if v is not None]
    return values, number(item.evidence.get("recent_seconds")) or 0.0


def steady_climb(values: Sequence[float]) -> bool:
    """Rising at every sample (allowing 1% noise), by a tenth of the limit or more."""
    if len(values) < 3 or values[-1] - values[0] < 0.1:
        return False
    return all(b >= a - 0.01 for a, b in itertools.pairwise(values))


def memory_near_limit(analysis: Analysis) -> list[Insight]:
    """A container close to its memory limit: a steady climb (a leak) or no headroom."""
    out = []
    for pod, items in group_by_pod(analysis.open(a_.CONTAINER_MEMORY_NEAR_LIMIT)).items():
        cause = _memory_near_limit_cause(analysis, pod, items)
        out.append(analysis.emit("memory_near_limit", None, cause))
    return out


def _memory_near_limit_cause(analysis: Analysis, pod: PodKey, items: list[Item]) -> Cause:
    # The container's own reading is the most specific; its pod's repeats it.
    best = max(
        items,
        key=lambda i: (
            i.subject is not None and i.subject.kind == "Container",
            len(trend(i)[0]),
        ),
    )
    values, seconds = trend(best)
    container = container_of(items) or "?"
    limit = memory_limit_text(items, analysis) or "memory"
    facts = [i.notification.observation for i in items]
    steps = [
        f"kubectl {kubectl_ns(pod)}top pod {pod[1]} --containers",
        "cat /sys/fs/cgroup/<pod cgroup>/memory.stat  # anon vs file: heap or cache?",
    ]
    if steady_climb(values):
        facts.append(
            "readings, oldest first: "
            + ", ".join(percent(v) for v in values)
            + f" over {seconds / 60:.0f} min"
        )
        root = _leak_root(pod, container, limit, values, seconds)
        steps.append("Take a heap profile now and again in a few minutes; compare what grows")
        confidence = HIGH if len(values) >= 4 else MEDIUM
    else:
        root = (
            f"container {container} in pod {pod_name(pod)} runs at {percent(metric_value(best))} "
            f"of its {limit} limit: too little headroom, so a burst gets it OOM-killed"
        )
        steps.append(
            f"Raise resources.limits.memory of container {container} or lower "
            "its working set (heap size, cache bounds)"
        )
        confidence = MEDIUM
    return Cause(root, confidence, True, facts, steps, items)


def _leak_root(
    pod: PodKey, container: str, limit: str, values: Sequence[float], seconds: float
) -> str:
    """A steady climb: how fast, and when it reaches the limit at that rate."""
    minutes = max(seconds / 60, 1e-9)
    per_minute = (values[-1] - values[0]) / minutes
    left = (1 - values[-1]) / per_minute if per_minute > 0 else None
    root = (
        f"the memory of container {container} in pod {pod_name(pod)} keeps "
        f"growing: {percent(values[0])} → {percent(values[-1])} of its {limit} "
        f"limit in {seconds / 60:.0f} min (about {per_minute * 100:.0f} points a "
        "minute) without falling back, the signature of a leak or an unbounded "
        "cache"
    )
    if left is not None:
        root += (
            f"; at this rate it reaches the limit in about {max(left, 0):.0f} "
            "min and the kernel OOM-kills it"
        )
    return root


def pids_limit_reached(analysis: Analysis) -> list[Insight]:
    """A pod at its pids limit: fork fails, and so does every exec probe."""
    out = []
    for pod, items in group_by_pod(analysis.open(a_.PIDS_NEAR_LIMIT)).items():
        forks = logs_showing(analysis, pod, "fork_failed", (a_.LOG_ERRORS, a_.CRASH_LOOP))
        probes = analysis.on_pod(pod, a_.PROBE_FAILURE)
        ratio = max((metric_value(i) or 0.0 for i in items), default=0.0)
        facts_ = analysis.facts.container_facts(pod, None)
        used, limit = facts_.get("pids"), facts_.get("pids_limit")
        counts = f" ({used}/{limit} tasks)" if used is not None and limit else ""
        values, seconds = trend(max(items, key=lambda i: len(trend(i)[0])))
        root = (
            f"pod {pod_name(pod)} has used {percent(ratio)} of its pids limit{counts}: "
            "its processes fork (or start threads) until the kernel refuses new ones"
        )
        if len(values) >= 2 and values[-1] > values[0]:
            root += (
                f", climbing {percent(values[0])} → {percent(values[-1])} in "
                f"{seconds:.0f}s (a fork storm)"
            )
        lines = [
            line
            for i in forks
            for line in i.log_lines()
            if ERROR_PATTERNS["fork_failed"].search(line)
        ]
        if lines:
            root += f"; its log shows fork failing: {quote(lines[0], 120)}"
        if probes:
            root += "; exec probes need a new process too, so they fail as well"
        facts = [i.notification.observation for i in [*items, *forks, *probes]]
        steps = [
            f"kubectl {kubectl_ns(pod)}exec {pod[1]} -- ps -eo pid,ppid,comm | head -50",
            "cat /sys/fs/cgroup/<pod cgroup>/pids.current pids.max  # on the node",
            "Find the process that re-spawns itself; the kubelet's podPidsLimit keeps it "
            "from exhausting the node",
        ]
        confidence = HIGH if lines or ratio >= 0.95 else MEDIUM
        cause = Cause(root, confidence, True, facts, steps, [*items, *forks, *probes])
        out.append(analysis.emit("pids_limit_reached", CorrelationType.CAUSAL, cause))
    return out


def throttle_facts(analysis: Analysis, items: Sequence[Item]) -> tuple[float | None, float | None]:
    """The throttled ratio and the CPU limit (cores) of a pod's throttled container."""
    ratio = next((metric_value(i) for i in items if metric_value(i) is not None), None)
    if ratio is None:
        ratio = next(
            (
                number(i.evidence.get("throttled_ratio"))
                for i in items
                if i.evidence.get("throttled_ratio") is not None
            ),
            None,
        )
    limit = next(
        (
            number(i.evidence.get("cpu_limit_cores"))
            for i in items
            if i.evidence.get("cpu_limit_cores") is not None
        ),
        None,
    )
    if limit is None and items:
        facts = analysis.facts.container_facts(items[0].pod, container_of(items))
        limit = number(facts.get("cpu_limit_cores"))
        ratio = ratio if ratio is not None else number(facts.get("throttled_ratio"))
    return ratio, limit


def probe_failure_under_throttling(analysis: Analysis) -> list[Insight]:
    """Probes fail in a pod whose container is CPU-throttled by its own limit."""
    out = []
    for pod, probes in group_by_pod(analysis.open(a_.PROBE_FAILURE)).items():
        throttles = analysis.on_pod(pod, a_.CPU_THROTTLING)
        if not throttles:
            continue
        ratio, limit = throttle_facts(analysis, throttles)
        container = container_of(throttles) or container_of(probes) or "?"
        probe = text(probes[0].evidence.get("probe")) or "health"
        restarts = [
            *analysis.on_pod(pod, a_.CRASH_LOOP),
            *events_on_pod(analysis, pod, "BackOff", "Killing"),
        ]
        root = (
            f"container {container} of pod {pod_name(pod)} is CPU-throttled in "
            f"{percent(ratio)} of its scheduling periods"
            + (f" by its {limit:g}-core limit" if limit else "")
            + f"; starved of CPU it answers its {probe} probe too late, so the probe fails"
        )
        facts = [i.notification.observation for i in [*throttles, *probes]]
        if limit:
            facts.append(f"CPU limit {limit:g} cores")
        steps = [
            *describe_pod_steps(pod),
            f"kubectl {kubectl_ns(pod)}top pod {pod[1]} --containers",
            f"Raise resources.limits.cpu of container {container} (or drop the limit); "
            "raising the probe's timeoutSeconds only hides the starvation",
        ]
        confidence = HIGH if ratio is not None and ratio >= 0.25 else MEDIUM
        cause = Cause(root, confidence, True, facts, steps, [*probes, *throttles, *restarts])
        out.append(analysis.emit("probe_failure_under_throttling", CorrelationType.CAUSAL, cause))
    return out


def noisy_neighbour(analysis: Analysis) -> list[Insight]:
    """A node saturated (CPU or I/O) while one process or pod dominates it."""
    out = []
    load = analysis.open(*CPU_LOAD_TYPES, *IO_LOAD_TYPES)
    for node, signals in group_by_node(load).items():
        hogs = analysis.on_node(node, a_.PROCESS_CPU_HOG)
        if not hogs:
            continue
        victims = [
            i
            for i in analysis.on_node(node, a_.PROBE_FAILURE, a_.CPU_THROTTLING)
            if not any(same_pod(i.pod, h.pod) for h in hogs if h.pod)
        ]
        hog = hogs[0]
        hog_pod = process_pod(analysis, hog)
        culprit = hog.where() + (f" (in pod {pod_name(hog_pod)})" if hog_pod else "")
        root = (
            f"{culprit} dominates node {node} ({hog.notification.observation}) and "
            f"saturates it ({', '.join(sorted({s.type for s in signals}))})"
        )
        if victims:
            root += (
                f"; other workloads on the node starve: "
                f"{', '.join(sorted({v.where() for v in victims}))}"
            )
        facts = [i.notification.observation for i in [*signals, *hogs, *victims]]
        steps = [
            "top -b -n1 -o %CPU | head -20  # on the node",
            f"kubectl get pods -A -o wide --field-selector spec.nodeName={node}",
            "kubectl top pods -A --sort-by=cpu | head -20",
            f"Give {culprit} a CPU limit or move it to its own node",
        ]
        subjects = [Subject(kind="Pod", namespace=hog_pod[0], name=hog_pod[1])] if hog_pod else []
        cause = Cause(
            root,
            HIGH if victims else MEDIUM,
            True,
            facts,
            steps,
            [*signals, *hogs, *victims],
            subjects,
        )
        out.append(analysis.emit("noisy_neighbour", CorrelationType.CAUSAL, cause))
    return out


def probe_failure_under_node_load(analysis: Analysis) -> list[Insight]:
    """Probes fail on a node whose CPUs or disks are saturated."""
    out = []
    for node, probes in group_by_node(analysis.open(a_.PROBE_FAILURE)).items():
        load = analysis.on_node(node, *CPU_LOAD_TYPES, *IO_LOAD_TYPES, a_.CPU_STEAL)
        if not load:
            continue
        root = (
            f"node {node} is saturated ({', '.join(sorted({i.type for i in load}))}); "
            f"probe handlers of pods on it ({', '.join(sorted({p.where() for p in probes}))})"
            " answer late, so their probes fail"
        )
        facts = [i.notification.observation for i in [*load, *probes]]
        steps = [
            "top -b -n1 | head -20  # on the node",
            "cat /proc/pressure/cpu /proc/pressure/io",
            f"kubectl get pods -A -o wide --field-selector spec.nodeName={node}",
        ]
        cause = Cause(root, MEDIUM, False, facts, steps, [*probes, *load])
        out.append(analysis.emit("probe_failure_under_node_load", CorrelationType.CAUSAL, cause))
    return out


def cpu_throttling_low_limit(analysis: Analysis) -> list[Insight]:
    """A container throttled by a CPU limit below its demand."""
    out = []
    for pod, throttles in group_by_pod(analysis.open(a_.CPU_THROTTLING)).items():
        ratio, limit = throttle_facts(analysis, throttles)
        container = container_of(throttles) or "?"
        slow = logs_showing(analysis, pod, "timeout")
        facts = [i.notification.observation for i in [*throttles, *slow]]
        if limit:
            facts.append(f"CPU limit {limit:g} cores")
            root = (
                f"the {limit:g}-core CPU limit of container {container} in pod "
                f"{pod_name(pod)} is below its demand: the kernel's CFS quota throttles it "
                f"in {percent(ratio)} of periods, adding latency"
            )
        else:
            root = (
                f"container {container} in pod {pod_name(pod)} is throttled in "
                f"{percent(ratio)} of periods: its CPU limit is below its demand (the limit "
                "itself is not in the evidence)"
            )
        steps = [
            f"kubectl {kubectl_ns(pod)}get pod {pod[1]} -o jsonpath="
            "'{.spec.containers[*].resources}'",
            f"kubectl {kubectl_ns(pod)}top pod {pod[1]} --containers",
            "Raise resources.limits.cpu (the limit, not the request, throttles) or drop it",
        ]
        cause = Cause(
            root,
            HIGH if limit and ratio is not None else MEDIUM,
            limit is not None,
            facts,
            steps,
            [*throttles, *slow],
        )
        out.append(analysis.emit("cpu_throttling_low_limit", None, cause))
    return out


def config_error(analysis: Analysis) -> list[Insight]:
    """CreateContainerConfigError naming the missing ConfigMap/Secret or key."""
    return emit_per_pod(analysis, "config_error", (a_.CONFIG_ERROR,), explain_config_error)


def image_pull_failure(analysis: Analysis) -> list[Insight]:
    """ImagePullBackOff/ErrImagePull, classified by the registry's answer; one per image."""
    out = []
    by_image: dict[str, list[Item]] = {}
    for item in analysis.open(a_.IMAGE_PULL_FAILURE):
        by_image.setdefault(text(item.evidence.get("image")) or item.id, []).append(item)
    for items in by_image.values():
        cause = explain_image_pull(analysis, items)
        if cause is not None:
            out.append(analysis.emit("image_pull_failure", None, cause))
    return out


def crash_loop_with_logs(analysis: Analysis) -> list[Insight]:
    """CrashLoopBackOff explained by the error its logs show."""
    return emit_per_pod(analysis, "crash_loop_with_logs", (a_.CRASH_LOOP,), explain_crash_with_logs)


def dns_failure(analysis: Analysis) -> list[Insight]:
    """Name resolution failures: one pod's wrong name, or many pods' shared resolver."""
    failures = analysis.open(a_.DNS_FAILURE)
    if not failures:
        return []
    pods = sorted({i.where() for i in failures})
    lines = [line for i in failures for line in (i.log_lines() or [i.message()]) if line]
    hosts = sorted({h for h in (looked_up_host([line]) for line in lines) if h})
    facts = [f"resolution error (data): {quote(line)}" for line in lines[:4]]
    steps = [
        "kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide",
        "kubectl -n kube-system logs -l k8s-app=kube-dns --tail=50",
        "kubectl run -it --rm dnstest --image=busybox:1.36 --restart=Never -- "
        f"nslookup {hosts[0] if hosts else 'kubernetes.default'}",
    ]
    if len(pods) > 1:
        root = (
            f"{len(pods)} workloads fail to resolve names ({', '.join(hosts) or 'several'}):"
            " a shared resolver (cluster DNS or its upstream) is the likely common cause"
        )
        cause = Cause(root, MEDIUM, False, facts, steps, failures)
        return [analysis.emit("dns_failure", CorrelationType.SYMPTOMATIC, cause)]
    host = hosts[0] if hosts else "a name"
    root = (
        f"{pods[0]} cannot resolve {host}: the name is wrong or its Service does not "
        "exist, or cluster DNS fails for it"
    )
    if hosts and ".svc" in host:
        steps.append(f"kubectl get svc -A | grep {host.split('.')[0]}")
    cause = Cause(root, MEDIUM, bool(hosts), facts, steps, failures)
    return [analysis.emit("dns_failure", None, cause)]


def unschedulable_pod(analysis: Analysis) -> list[Insight]:
    """Pending pods, explained by the scheduler's own message."""
    return emit_per_pod(analysis, "unschedulable_pod", (a_.POD_PENDING,), explain_unschedulable)


def disk_exhaustion(analysis: Analysis) -> list[Insight]:
    """A full filesystem or inode table, with the DiskPressure and evictions it causes."""
    out = []
    disk = node_signals(analysis, "DiskPressure", a_.DISK_FULL, a_.INODE_EXHAUSTION)
    for node, signals in group_by_node(disk).items():
        victims = [
            *evicted_on_node(analysis, node, DISK_EVICTION_RESOURCES),
            *node_events(analysis, node, NODE_DISK_EVENT_REASONS),
        ]
        cause = _disk_exhaustion_cause(node, signals, victims)
        out.append(analysis.emit("disk_exhaustion", None, cause))
    return out


def _disk_exhaustion_cause(node: str, signals: list[Item], victims: list[Item]) -> Cause:
    inodes = [i for i in signals if i.type == a_.INODE_EXHAUSTION]
    full = [i for i in signals if i.type == a_.DISK_FULL]
    pressure = [i for i in signals if i.type == a_.NODE_PRESSURE]
    mount = next(
        (i.subject.name for i in inodes + full if i.subject and i.subject.kind == "Mount"), "/"
    )
    highest = max((metric_value(i) or 0 for i in inodes + full), default=0.0)
    root = _disk_state(node, mount, inodes, full)
    if pressure and (full or inodes):
        root += "; the kubelet signals DiskPressure"
    if victims:
        root += f" and evicts pods ({', '.join(sorted({v.where() for v in victims}))})"
    facts = [i.notification.observation for i in [*signals, *victims]]
    related = len(signals) + len(victims) > 1
    confidence = HIGH if (pressure or victims or highest >= 95) and related else MEDIUM
    if not related and not full and not inodes:
        confidence = MEDIUM
    grounded = bool(related and (full or inodes))
    if not related:
        root += "; what is filling it is not yet in the evidence"
    steps = _disk_steps(node, mount, bool(inodes))
    return Cause(root, confidence, grounded, facts, steps, [*signals, *victims])


def _disk_state(node: str, mount: str, inodes: list[Item], full: list[Item]) -> str:
    """What is exhausted: the inode table (space left), the space, or only DiskPressure."""
    if inodes and not full:
        used = percent(metric_value(inodes[0]))
        return (
            f"the inode table of {mount} on node {node} is {used}"
            " used while space remains: many small files (container layers, caches, "
            "logs) exhaust it"
        )
    if full:
        return f"filesystem {mount} on node {node} is {percent(metric_value(full[0]))} full"
    return f"node {node} reports DiskPressure"


def _disk_steps(node: str, mount: str, inodes: bool) -> list[str]:
    steps = [
        f"df -h {mount}; df -i {mount}  # on the node",
        f"du -xh --max-depth=2 {mount} 2>/dev/null | sort -h | tail -20",
        "crictl rmi --prune  # unused images",
        "journalctl --vacuum-size=500M",
        f"kubectl describe node {node}",
    ]
    if inodes:
        steps.insert(
            1, f"find {mount} -xdev -type f | cut -d/ -f2-4 | sort | uniq -c | sort -n | tail"
        )
    return steps


def pid_exhaustion(analysis: Analysis) -> list[Insight]:
    """Process IDs running out on a node (a fork storm or thread leak) and its culprits."""
    out = []
    signals_all = node_signals(analysis, "PIDPressure", a_.PID_EXHAUSTION)
    for node, signals in group_by_node(signals_all).items():
        culprits = analysis.on_node(
            node, a_.PIDS_NEAR_LIMIT, a_.ZOMBIE_PROCESSES, a_.PROCESS_CPU_HOG, a_.FD_EXHAUSTION
        )
        value = next((metric_value(i) for i in signals if metric_value(i) is not None), None)
        root = f"node {node} is running out of process IDs" + (
            f" ({percent(value)} of pid_max)" if value is not None else ""
        )
        if culprits:
            root += (
                ": a fork storm or thread leak in "
                f"{', '.join(sorted({c.where() for c in culprits}))} "
                f"({culprits[0].notification.observation})"
            )
        else:
            root += "; which process forks is not yet in the evidence"
        facts = [i.notification.observation for i in [*signals, *culprits]]
        steps = [
            "ps -eo pid,ppid,nlwp,comm --sort=-nlwp | head -15  # threads per process",
            "ps -eo ppid= | sort | uniq -c | sort -n | tail  # parents with most children",
            "cat /proc/sys/kernel/pid_max /proc/loadavg",
            f"kubectl describe node {node}",
            "Set podPidsLimit in the kubelet configuration to contain one pod's fork storm",
        ]
        cause = Cause(
            root, HIGH if culprits else MEDIUM, bool(culprits), facts, steps, [*signals, *culprits]
        )
        out.append(analysis.emit("pid_exhaustion", None, cause))
    return out


def shared_subject(analysis: Analysis) -> list[Insight]:
    """Several remaining anomalies of one pod, or of one node: one object, likely one cause."""
    out = []
    groups: list[list[Item]] = [g for g in group_by_pod(analysis.open()).values() if len(g) > 1]
    for items in groups:
        out.append(_shared(analysis, items, items[0].where()))
    node_level = [i for i in analysis.open() if i.pod is None]
    for node, items in group_by_node(node_level).items():
        if len(items) > 1:
            out.append(_shared(analysis, items, f"node {node}"))
    return out


def _shared(analysis: Analysis, items: list[Item], where: str) -> Insight:
    worst = max(items, key=lambda i: i.notification.severity.rank)
    root = (
        f"{len(items)} anomalies of {where} ({', '.join(sorted({i.type for i in items}))}) "
        f"likely share one cause; the most severe suggests: "
        f"{worst.notification.hypothesis or worst.notification.observation}"
    )
    steps = (
        [*describe_pod_steps(worst.pod, worst.container, previous=True)]
        if worst.pod
        else [f"kubectl describe node {worst.node}"]
        if worst.node
        else []
    )
    cause = Cause(root, MEDIUM, False, [i.notification.observation for i in items], steps, items)
    return analysis.emit("shared_subject", CorrelationType.SYMPTOMATIC, cause)


def temporal(analysis: Analysis) -> list[Insight]:
    """Unrelated anomalies within one time window: perhaps one trigger, weakly supported."""
    window = timedelta(
        seconds=float(analysis.context.get("temporal_window_seconds", TEMPORAL_WINDOW_SECONDS))
    )
    remaining = sorted(analysis.open(), key=lambda i: i.notification.detected_at)
    groups: list[list[Item]] = []
    for item in remaining:
        if (
            groups
            and item.notification.detected_at - groups[-1][-1].notification.detected_at <= window
        ):
            groups[-1].append(item)
        else:
            groups.append([item])
    out = []
    for items in groups:
        if len(items) < 2:
            continue
        start = items[0].notification.detected_at
        span = (items[-1].notification.detected_at - start).total_seconds()
        root = (
            f"{len(items)} anomalies on different objects "
            f"({', '.join(sorted({i.where() for i in items}))}) began within {span:.0f}s "
            "of each other and share no pod or node; a common trigger (a deploy, a "
            "configuration change, an infrastructure event) is possible but not shown"
        )
        steps = [
            "kubectl get events -A --sort-by=.lastTimestamp | tail -50",
            f"Check what changed around {start.isoformat()} (rollouts, config, nodes)",
        ]
        cause = Cause(root, LOW, False, [i.notification.observation for i in items], steps, items)
        out.append(analysis.emit("temporal", CorrelationType.TEMPORAL, cause))
    return out


_EXIT_CODES = {
    "1": "the application exited with a generic error",
    "2": "the application rejected its arguments or configuration",
    "126": "the container's command is not executable",
    "127": "the container's command was not found in the image",
    "137": "the process was killed with SIGKILL (an OOM kill or a failed liveness probe)",
    "139": "the process crashed with a segmentation fault",
    "143": "the process was stopped with SIGTERM",
}

#: What a Warning event's reason means, said by the component that emitted it.
_EVENT_MEANINGS = {
    "FailedMount": "a volume cannot be mounted into the pod",
    "FailedAttachVolume": "a volume cannot be attached to the pod's node",
    "FailedCreatePodSandBox": "the container runtime cannot create the pod's sandbox "
    "(usually its network, the CNI plugin)",
    "FailedCreate": "the controller cannot create pods (quota, admission webhook or "
    "Pod Security refusal)",
    "ProvisioningFailed": "the volume provisioner fails to create a volume",
    "BackOff": "the kubelet backs off restarting a failing container",
    "FailedScheduling": "the scheduler cannot place the pod",
    "NodeNotReady": "the pod's node is not ready",
    "Evicted": "the kubelet evicted the pod",
    "OOMKilling": "the kernel OOM killer fired on the node",
    "SystemOOM": "the node ran out of memory and the kernel OOM killer fired",
    "Rebooted": "the node rebooted",
    "FreeDiskSpaceFailed": "the kubelet cannot free enough disk space on the node",
    "ImageGCFailed": "the kubelet's image garbage collection fails",
    "EvictionThresholdMet": "the node crossed a kubelet eviction threshold",
    "NetworkNotReady": "the node's pod network is not ready (CNI)",
    "FailedKillPod": "the kubelet cannot stop a pod's containers",
    "FailedPostStartHook": "a container's postStart hook fails",
    "FailedPreStopHook": "a container's preStop hook fails",
    "ExceededGracePeriod": "a container did not stop within its grace period",
}

_LONE_STEPS: dict[str, list[str]] = {
    a_.CRASH_LOOP: ["kubectl {ns}logs {pod} --previous", "kubectl {ns}describe pod {pod}"],
    a_.POD_EVICTED: ["kubectl {ns}describe pod {pod}", "kubectl describe node {node}"],
    a_.PROBE_FAILURE: ["kubectl {ns}describe pod {pod}", "kubectl {ns}logs {pod}"],
    a_.LOG_ERRORS: ["kubectl {ns}logs {pod} --tail=200"],
    a_.NODE_PRESSURE: ["kubectl describe node {node}"],
    a_.WARNING_EVENTS: ["kubectl get events -A --field-selector reason={reason}"],
    a_.MEMORY_PRESSURE: ["ps -eo pid,comm,rss --sort=-rss | head -15  # on {node}"],
    a_.CPU_SATURATION: ["top -b -n1 -o %CPU | head -20  # on {node}"],
    a_.CPU_STALL: ["cat /proc/pressure/cpu; top -b -n1 | head -20  # on {node}"],
    a_.IO_STALL: ["iostat -x 1 3; cat /proc/pressure/io  # on {node}"],
    a_.IOWAIT_HIGH: ["iostat -x 1 3; iotop -b -n1 | head  # on {node}"],
    a_.CPU_STEAL: ["mpstat 1 3  # on {node}; ask the cloud provider about the host"],
    a_.NETWORK_ERRORS: ["ip -s link; ethtool -S <iface> | grep -i err  # on {node}"],
    a_.ZOMBIE_PROCESSES: ["ps -eo pid,ppid,stat,comm | awk '$3 ~ /Z/'  # on {node}"],
    a_.FD_EXHAUSTION: ["ls /proc/<pid>/fd | wc -l; cat /proc/sys/fs/file-nr  # on {node}"],
    a_.PROCESS_MEMORY_HOG: ["ps -eo pid,comm,rss --sort=-rss | head  # on {node}"],
    a_.PROCESS_CPU_HOG: ["top -b -n1 -o %CPU | head  # on {node}"],
    a_.CONTAINER_MEMORY_NEAR_LIMIT: ["kubectl {ns}top pod {pod} --containers"],
    a_.PIDS_NEAR_LIMIT: ["ps -eLf | wc -l  # inside the container's cgroup"],
    a_.BASELINE_DEVIATION: ["Compare with the skill's snapshot history for this metric"],
}


def lone_notification(analysis: Analysis) -> list[Insight]:
    """Whatever no rule joined: one symptomatic insight per notification."""
    out = []
    for item in analysis.open():
        notification = item.notification
        root = notification.hypothesis or "the cause is not determined by the evidence"
        confidence, grounded = LOW, False
        facts = [notification.observation]
        if item.type == a_.CRASH_LOOP:
            code = text(item.evidence.get("exitCode"))
            if code in _EXIT_CODES:
                root = f"{item.where()} crash-loops: exit code {code}: {_EXIT_CODES[code]}"
                confidence = MEDIUM
                grounded = code in ("126", "127")
                facts.append(f"last exit code {code}")
        elif item.type == a_.POD_EVICTED and item.evidence.get("resource"):
            root = (
                f"the kubelet evicted {item.where()} because node {item.node} ran low on "
                f"{item.evidence['resource']}"
            )
            confidence, grounded = MEDIUM, True
            facts.append(f"kubelet: {quote(item.message())}")
        elif item.type == a_.WARNING_EVENTS and item.reason() in _EVENT_MEANINGS:
            root = f"{_EVENT_MEANINGS[item.reason()]} ({item.where()})"
            if item.message():
                root += f": {quote(item.message(), 200)}"
                facts.append(f"{item.reason()}: {quote(item.message())}")
            confidence, grounded = MEDIUM, bool(item.message())
        elif item.evidence.get("metric"):
            facts.append(f"{item.evidence['metric']} = {item.evidence.get('value')}")
        values = {
            "ns": kubectl_ns(item.pod),
            "pod": item.pod[1] if item.pod else "<pod>",
            "node": item.node or "<node>",
            "reason": item.reason() or "<reason>",
        }
        steps = [s.format(**values) for s in _LONE_STEPS.get(item.type, [])]
        cause = Cause(root, confidence, grounded, facts, steps, [item])
        out.append(analysis.emit("lone_notification", CorrelationType.SYMPTOMATIC, cause))
    return out


#: The rules in the order they run: the more specific a rule, the earlier it claims.
RULES: tuple[Rule, ...] = (
    dns_server_down,
    pvc_pending_storage_class,
    rollout_stuck,
    node_not_ready,
    oom_kill,
    host_memory_pressure,
    pids_limit_reached,
    probe_failure_under_throttling,
    noisy_neighbour,
    probe_failure_under_node_load,
    cpu_throttling_low_limit,
    config_error,
    image_pull_failure,
    crash_loop_with_logs,
    dns_failure,
    unschedulable_pod,
    disk_exhaustion,
    pid_exhaustion,
    memory_near_limit,
    shared_subject,
    temporal,
    lone_notification,
)
