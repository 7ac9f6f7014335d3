"""Failing pods' logs as findings and edges: the error each shows, and what it points at.

A log line is evidence about its pod and, through the catalogue
(:mod:`kubelens.graph.signatures`), about a dependency: the Service or pod IP it names,
cluster DNS, the node's capacity, the pod's configuration. Lines are read through the
cluster source (the crashed run's log first), redacted, and quoted whole up to a bound.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kubelens.graph.model import Finding, Graph, Ref, Relation
from kubelens.graph.signatures import Signature, classify, looked_up_name
from kubelens.redact import redact_text
from kubelens.skills.cluster.common import container_statuses, items, namespace_of, section
from kubelens.skills.cluster.source import ClusterSourceError

if TYPE_CHECKING:
    from kubelens.graph.build import Scope

#: Lines read per container log.
TAIL_LINES = 300
#: Longest quoted line.
LINE_CAP = 400
#: Findings (distinct signatures) kept per pod.
PER_POD = 3
_CLUSTER_NAME = re.compile(r"\b[a-z0-9-]{1,63}\.([a-z0-9-]{1,63})\.svc(?:\.cluster\.local)?\b")
#: What a capacity signature points at on the pod's own node.
_NODE_RESOURCES = frozenset({"pids", "memory", "files", "disk"})
_STATED_CODES = frozenset({"exec_not_found", "permission_denied"})
#: What a serving pod's log does not make a cause of: its own program and configuration
#: (a Ready pod whose configuration were broken would not be serving: a request's missing
#: file or key is the request's).
_OWN = frozenset({"self", "config"})
#: What a line states as the reason by itself (the peer's data, a Secret, a certificate,
#: the process's own limit): no further hop is needed.
_STATED = frozenset({"schema", "credentials", "tls", "nofile", "config"})


def read_logs(scope: Scope, home: str, focus: Sequence[Ref] = ()) -> list[str]:
    """Note the log errors of failing pods, and of the pods of the objects the question
    names (an alert on error rates names a workload whose pods look healthy); return the
    other namespaces their lines name."""
    called: list[str] = []
    failing = [r for r in scope.graph.of_kind("Pod") if scope.graph.failing(r)]
    named = [r for r in _pods_of(scope.graph, focus) if r not in failing]
    for ref in failing + named:
        pod = scope.graph.objects.get(ref)
        if pod is None or ref.namespace is None:
            continue
        for line in _error_lines(scope, ref, pod, pointing_only=ref in named):
            for namespace in _CLUSTER_NAME.findall(line.lower()):
                if namespace != home and namespace not in called:
                    called.append(namespace)
    for ref, pod in scope.objects("Pod"):
        for container in section(pod, "spec").get("containers") or []:
            for env in container.get("env") or []:
                for namespace in _CLUSTER_NAME.findall(str(env.get("value") or "").lower()):
                    if namespace != home and namespace not in called and ref.namespace == home:
                        called.append(namespace)
    return called


def _pods_of(graph: Graph, refs: Sequence[Ref]) -> list[Ref]:
    """The pods under ``refs``: owned (a Deployment's, through its ReplicaSets) or backing
    (a Service's)."""
    found: list[Ref] = []
    frontier = list(refs)
    while frontier:
        ref = frontier.pop()
        if ref.kind == "Pod":
            found.append(ref)
            continue
        frontier += [
            e.target for e in graph.out(ref) if e.relation in (Relation.OWNS, Relation.BACKED_BY)
        ]
    return list(dict.fromkeys(found))


def _error_lines(
    scope: Scope, ref: Ref, pod: Mapping[str, Any], pointing_only: bool = False
) -> list[str]:
    """Classify each container's log; note one finding per signature (newest line). A pod
    that looks healthy but that the question names fails by errors that point somewhere
    (a peer, a capacity), not by a stack trace or a request's missing file or key."""

    seen: dict[str, tuple[Signature, str, str]] = {}
    for status in container_statuses(pod):
        container = str(status.get("name"))
        previous = int(status.get("restartCount") or 0) > 0
        for text in _read(scope, ref, container, previous):
            for line in _entries(text):
                signature = classify(line)
                if signature is not None and (
                    not pointing_only or signature.implicates not in _OWN
                ):
                    seen[signature.code] = (signature, container, _quote(line))
    ranked = sorted(seen.values(), key=lambda entry: _rank(entry[0]))[:PER_POD]
    for signature, container, line in ranked:
        _note(scope, ref, pod, signature, container, line)
    return [line for _, _, line in ranked]


def _entries(text: str) -> list[str]:
    """Log entries: a line with the indented lines under it ("invalid configuration:" and
    its reason on the next line, a stack trace's frames), as one."""
    entries: list[str] = []
    for line in text.splitlines():
        under = entries and entries[-1].strip() and line[:1] in (" ", "\t") and line.strip()
        if under and len(entries[-1]) < LINE_CAP:
            entries[-1] += " " + line.strip()
        else:
            entries.append(line)
    return entries


def _rank(signature: Signature) -> int:
    from kubelens.graph.signatures import CATALOGUE

    return CATALOGUE.index(signature)


def _read(scope: Scope, ref: Ref, container: str, previous: bool) -> list[str]:
    texts = []
    for run in (True, False) if previous else (False,):
        try:
            text = scope.source.logs(str(ref.namespace), ref.name, container, run, TAIL_LINES)
        except ClusterSourceError:
            text = None
        if text:
            texts.append(text)
    return texts


def _quote(line: str) -> str:
    clean = redact_text(" ".join(line.split()))
    return clean if len(clean) <= LINE_CAP else clean[: LINE_CAP - 1] + "…"


def _note(
    scope: Scope,
    ref: Ref,
    pod: Mapping[str, Any],
    signature: Signature,
    container: str,
    line: str,
) -> None:
    implicated = _implicated(scope, ref, pod, signature, line)
    conclusive = signature.implicates in _STATED or signature.code in _STATED_CODES
    if signature.code == "tls" and implicated and _PEER_CERTIFICATE.search(line):
        # The client could not verify what the peer presented: the peer's certificate.
        conclusive = False
        for peer in implicated:
            _peer_certificate(scope, peer, ref, line)
    scope.graph.note(
        Finding(
            ref=ref,
            code=f"log:{signature.code}",
            text=f'container {container} logs: "{line}"',
            conclusive=conclusive,
            implicates=tuple(implicated),
            meaning=signature.meaning,
        )
    )


#: A client's verification of the certificate its peer presented failed (not "remote
#: error: tls: …", which is the peer refusing the client's own).
_PEER_CERTIFICATE = re.compile(
    r"(?i)certificate (?:has expired|is not yet valid|is valid for|signed by unknown)"
    r"|x509: certificate|CERTIFICATE_VERIFY_FAILED"
)


def _peer_certificate(scope: Scope, peer: Ref, client: Ref, line: str) -> None:
    scope.graph.note(
        Finding(
            ref=peer,
            code="tls:certificate",
            text=f"the certificate it serves fails verification, as {client.name} reports: "
            f'"{line}"',
            conclusive=True,
            meaning="the certificate this peer presents is expired, not yet valid, for another "
            "name or from an unknown issuer: renew or replace it where the peer mounts it "
            "(ready endpoints say nothing of a certificate)",
        )
    )


def _implicated(
    scope: Scope, ref: Ref, pod: Mapping[str, Any], signature: Signature, line: str
) -> list[Ref]:
    from kubelens.graph.build import hosts_in, resolve_host

    graph = scope.graph
    kind = signature.implicates
    found: list[Ref] = []
    if kind in ("host", "schema", "credentials", "tls", "dns"):
        for token in hosts_in(line):
            target = resolve_host(scope, ref.namespace, token) or _pod_with_ip(scope, token)
            if target is not None and target not in found:
                found.append(target)
                graph.link(ref, Relation.CALLS, target, f"log: {signature.code}")
    if kind in ("host", "schema", "tls", "credentials") and not found:
        # A peer's error that names no host ("canceling statement due to statement
        # timeout") points at the peers the pod is configured to call.
        found += [e.target for e in graph.out(ref) if e.relation is Relation.CALLS]

    if kind == "dns":
        found += _dns_targets(scope, ref, line)
    if kind in _NODE_RESOURCES:
        node = section(pod, "spec").get("nodeName")
        if node:
            found.append(Ref("Node", None, str(node)))
    if kind == "config":
        named = _env_references(scope, pod, line)
        found += named or [
            e.target for e in graph.out(ref) if e.target.kind in ("ConfigMap", "Secret")
        ]
    return found


_ENV_NAME = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\b")


def _env_references(scope: Scope, pod: Mapping[str, Any], line: str) -> list[Ref]:
    """The ConfigMaps and Secrets behind the environment variables a line names (``env``
    ``valueFrom``), noting a ConfigMap key whose value is empty: the variable is set, to
    nothing. (Secrets' values are never read.)"""
    named = set(_ENV_NAME.findall(line))
    found: list[Ref] = []
    for container in items(section(pod, "spec"), "containers"):
        for env in items(container, "env"):
            if env.get("name") not in named:
                continue
            source = section(env, "valueFrom")
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                reference = section(source, key)
                if not reference.get("name"):
                    continue
                target = Ref(kind, namespace_of(pod), str(reference["name"]))
                found.append(target)
                if kind == "ConfigMap":
                    _empty_key(scope, target, str(reference.get("key")), str(env["name"]))
    return list(dict.fromkeys(found))


def _empty_key(scope: Scope, ref: Ref, key: str, variable: str) -> None:
    data = section(scope.graph.objects.get(ref) or {}, "data")
    if key in data and not str(data[key]).strip():
        scope.graph.note(
            Finding(
                ref=ref,
                code="empty-key",
                text=f"key {key} is empty, so {variable} is set to an empty string",
                conclusive=True,
                meaning=f"the ConfigMap has key {key} with no value: the container starts with "
                f"{variable} empty and its configuration check refuses it",
            )
        )


def _pod_with_ip(scope: Scope, token: str) -> Ref | None:
    if not re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", token):
        return None
    for ref, pod in scope.objects("Pod"):
        if section(pod, "status").get("podIP") == token:
            return ref
    return None


def _dns_targets(scope: Scope, ref: Ref, line: str) -> list[Ref]:
    """Cluster DNS, and the Service a failed lookup named when no such Service exists."""
    from kubelens.graph.build import DNS_NAMESPACE

    graph = scope.graph
    found = []
    for dns in [r for r in graph.of_kind("Service") if r.namespace == DNS_NAMESPACE]:
        if graph.exists(dns):
            graph.link(ref, Relation.RESOLVES_VIA, dns, "log: a name did not resolve")
            found.append(dns)
    name = looked_up_name(line)
    missing = _missing_service(scope, ref, name) if name else None
    if missing is not None:
        graph.link(ref, Relation.CALLS, missing, f"log: lookup {name}")
        found.insert(0, missing)
    return found


def _missing_service(scope: Scope, ref: Ref, name: str) -> Ref | None:
    """The Service a cluster name would be, when its namespace was read and it is absent."""
    parts = name.split(".")
    if len(parts) == 1:
        target = Ref("Service", ref.namespace, parts[0])
    elif len(parts) >= 3 and parts[2] == "svc":
        target = Ref("Service", parts[1], parts[0])
    else:
        return None
    if not scope.knows_absent(target):
        return None
    scope.graph.note(
        Finding(
            ref=target,
            code="missing",
            text=f"no Service {target.name} exists in namespace {target.namespace}",
            conclusive=True,
            meaning=f"the name {name} does not resolve (the DNS lookup fails: NXDOMAIN): no such "
            "Service exists, so the caller is configured with a wrong host or the Service "
            "was deleted",
        )
    )
    return target
