"""Build the evidence graph from the objects the cluster skills read.

Scope grows along the edges, as an SRE's look does: the investigated namespace; the
cluster-scoped objects its pods use (nodes, volumes, storage classes); cluster DNS in
kube-system; every pod sharing a node with the namespace's pods; and the namespaces of
the Services its pods call. Everything is read through the same read-only
:class:`~kubelens.skills.cluster.source.ClusterSource`; a ConfigMap contributes its keys,
never its values, and Secrets are never read (a Secret is known by name only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kubelens.graph import findings, node_facts
from kubelens.graph.causes import mentioned
from kubelens.graph.logs import read_logs
from kubelens.graph.model import Graph, Ref, Relation
from kubelens.models import OperatorResult, on_recorded_clock, utcnow
from kubelens.skills.cluster.common import (
    event_time,
    items,
    meta,
    name_of,
    namespace_of,
    section,
)
from kubelens.skills.cluster.source import ClusterSource, ClusterSourceError, KubernetesSource

NAMESPACED = (
    "Pod",
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
    "Event",
)
CLUSTER_SCOPED = ("Node", "PersistentVolume", "StorageClass")
#: Namespaces beyond the investigated one whose objects are read when its pods call them.
MAX_CALLED_NAMESPACES = 4
DNS_NAMESPACE = "kube-system"
DNS_SELECTOR = "k8s-app=kube-dns"
_TOKEN = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")


class Scope:
    """Reads objects into a graph once each, remembering which kinds could be read."""

    def __init__(self, source: ClusterSource) -> None:
        self.source = source
        self.graph = Graph()
        self.events: dict[Ref, list[Mapping[str, Any]]] = {}
        #: (kind, namespace) lists read successfully; an object absent from one is missing.
        self.read: set[tuple[str, str | None]] = set()
        self.namespaces: list[str] = []
        #: Objects whose findings were read already.
        self.found: set[Ref] = set()

    def load(self, kind: str, namespace: str | None, **selectors: str) -> list[dict[str, Any]]:
        try:
            found = self.source.list(kind, namespace, **selectors)
        except ClusterSourceError:
            return []
        if not selectors:
            self.read.add((kind, namespace))
        for obj in found:
            self.take(obj, kind)
        return found

    def take(self, obj: Mapping[str, Any], kind: str) -> None:
        if kind == "Event":
            involved = section(obj, "involvedObject")
            ref = Ref(
                str(involved.get("kind")), involved.get("namespace"), str(involved.get("name"))
            )
            bucket = self.events.setdefault(ref, [])
            if obj not in bucket:
                bucket.append(obj)
            return
        scoped = None if kind in CLUSTER_SCOPED else namespace_of(obj)
        self.graph.add(Ref(kind, scoped, name_of(obj)), obj)

    def load_namespace(self, namespace: str) -> None:
        if namespace in self.namespaces:
            return
        self.namespaces.append(namespace)
        for kind in NAMESPACED:
            self.load(kind, namespace)

    def knows_absent(self, ref: Ref) -> bool:
        """``ref`` was looked for and is not there (as opposed to: not read)."""
        return (ref.kind, ref.namespace) in self.read and not self.graph.exists(ref)

    def objects(self, kind: str) -> list[tuple[Ref, Mapping[str, Any]]]:
        return [
            (ref, obj)
            for ref, obj in self.graph.objects.items()
            if ref.kind == kind and obj is not None
        ]


def build_graph(
    source: ClusterSource,
    namespace: str,
    results: Sequence[OperatorResult] = (),
    question: str = "",
) -> Graph:
    """The evidence graph of ``namespace`` and what it depends on; ``question`` (the
    investigation's reason) names objects whose pods' logs are read even when they look
    healthy."""
    scope = Scope(source)
    scope.load_namespace(namespace)
    for kind in CLUSTER_SCOPED:
        scope.load(kind, None)
    scope.load("Service", DNS_NAMESPACE, label_selector=DNS_SELECTOR)
    scope.load("Pod", DNS_NAMESPACE, label_selector=DNS_SELECTOR)
    for node in sorted({_node_of(obj) for _, obj in scope.objects("Pod")} - {""}):
        scope.load("Pod", None, field_selector=f"spec.nodeName={node}")
    _link_all(scope)
    graph = scope.graph
    graph.now = _clock(scope)
    node_facts.read(graph, results)
    findings.find_all(scope)
    called = read_logs(scope, namespace, mentioned(graph, namespace, question))
    for other in called[:MAX_CALLED_NAMESPACES]:
        scope.load_namespace(other)
        _link_all(scope)
        findings.find_all(scope)
    return graph


def _node_of(pod: Mapping[str, Any]) -> str:
    return str(section(pod, "spec").get("nodeName") or "")


# --------------------------------------------------------------------------- edges


def _link_all(scope: Scope) -> None:
    graph = scope.graph
    for ref, obj in list(graph.objects.items()):
        if obj is None:
            continue
        _link_owner(graph, ref, obj)
        if ref.kind == "Pod":
            _link_pod(scope, ref, obj)
        elif ref.kind == "PersistentVolumeClaim":
            _link_claim(graph, ref, obj)
        elif ref.kind == "Service":
            _link_service(scope, ref, obj)
        elif ref.kind == "PodDisruptionBudget":
            _link_budget(scope, ref, obj)
        elif ref.kind == "Node":
            _link_attached_volumes(graph, ref, obj)
        elif ref.kind == "HorizontalPodAutoscaler":
            target = section(section(obj, "spec"), "scaleTargetRef")
            if target.get("kind") and target.get("name"):
                workload = Ref(str(target["kind"]), ref.namespace, str(target["name"]))
                graph.link(workload, Relation.SCALED_BY, ref, "spec.scaleTargetRef")


def _link_owner(graph: Graph, ref: Ref, obj: Mapping[str, Any]) -> None:
    owners = items(meta(obj), "ownerReferences")
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    if owner is None or not owner.get("kind") or not owner.get("name"):
        return
    kind = str(owner["kind"])
    namespace = None if kind in CLUSTER_SCOPED else ref.namespace
    graph.link(Ref(kind, namespace, str(owner["name"])), Relation.OWNS, ref, "ownerReferences")


def _link_pod(scope: Scope, ref: Ref, pod: Mapping[str, Any]) -> None:
    graph = scope.graph
    spec = section(pod, "spec")
    if spec.get("nodeName"):
        graph.link(ref, Relation.RUNS_ON, Ref("Node", None, str(spec["nodeName"])), "spec.nodeName")
    for volume in items(spec, "volumes"):
        for target, why in _volume_targets(ref.namespace, volume):
            graph.link(ref, Relation.MOUNTS, target, why)
    containers = items(spec, "initContainers") + items(spec, "containers")
    for container in containers:
        for target, why in _env_targets(ref.namespace, container):
            graph.link(ref, Relation.READS, target, why)
    for target, why in _called_services(scope, ref, containers):
        graph.link(ref, Relation.CALLS, target, why)


def _volume_targets(namespace: str | None, volume: Mapping[str, Any]) -> Iterable[tuple[Ref, str]]:
    name = volume.get("name")
    claim = section(volume, "persistentVolumeClaim").get("claimName")
    if claim:
        yield Ref("PersistentVolumeClaim", namespace, str(claim)), f"volume {name}"
    config_map = section(volume, "configMap").get("name")
    if config_map:
        yield Ref("ConfigMap", namespace, str(config_map)), f"volume {name}"
    secret = section(volume, "secret").get("secretName")
    if secret:
        yield Ref("Secret", namespace, str(secret)), f"volume {name}"
    for projected in items(section(volume, "projected"), "sources"):
        for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
            if section(projected, key).get("name"):
                yield Ref(kind, namespace, str(section(projected, key)["name"])), f"volume {name}"


def _env_targets(namespace: str | None, container: Mapping[str, Any]) -> Iterable[tuple[Ref, str]]:
    for env in items(container, "env"):
        source = section(env, "valueFrom")
        for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            selector = section(source, key)
            if selector.get("name"):
                why = f"env {env.get('name')} (key {selector.get('key')})"
                yield Ref(kind, namespace, str(selector["name"])), why
    for env_from in items(container, "envFrom"):
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if section(env_from, key).get("name"):
                yield Ref(kind, namespace, str(section(env_from, key)["name"])), "envFrom"


def service_names(scope: Scope) -> dict[str, Ref]:
    """Every name a Service answers to (``db``, ``db.ns``, ``db.ns.svc…``, its cluster IP)."""
    names: dict[str, Ref] = {}
    for ref, obj in scope.objects("Service"):
        namespace = ref.namespace or ""
        for name in (
            f"{ref.name}.{namespace}",
            f"{ref.name}.{namespace}.svc",
            f"{ref.name}.{namespace}.svc.cluster.local",
        ):
            names[name] = ref
        ip = section(obj, "spec").get("clusterIP")
        if ip and ip != "None":
            names[str(ip)] = ref
    return names


def resolve_host(scope: Scope, namespace: str | None, host: str) -> Ref | None:
    """The Service a hostname or IP names, seen from a pod in ``namespace``."""
    host = host.lower().rstrip(".")
    short = Ref("Service", namespace, host)
    if scope.graph.exists(short):
        return short
    return service_names(scope).get(host)


def hosts_in(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _called_services(
    scope: Scope, ref: Ref, containers: Sequence[Mapping[str, Any]]
) -> Iterable[tuple[Ref, str]]:
    """Services named in literal env values, args and command (URLs, host:port, names)."""
    for container in containers:
        texts = [
            (f"env {e.get('name')}", str(e.get("value")))
            for e in items(container, "env")
            if e.get("value")
        ]
        texts += [("args", " ".join(map(str, container.get("args") or [])))]
        texts += [("command", " ".join(map(str, container.get("command") or [])))]
        for why, value in texts:
            for token in hosts_in(value):
                service = resolve_host(scope, ref.namespace, token)
                if service is not None and _looks_like_host(token, value):
                    yield service, why


def _looks_like_host(token: str, value: str) -> bool:
    """A bare word is a host only where a host goes (``x:5432``, ``//x``, ``@x``, alone)."""
    if "." in token:
        return True
    return bool(re.search(rf"(?:^|[/@=\s]){re.escape(token)}(?::\d+|/|$|\s)", value.lower()))


def _link_claim(graph: Graph, ref: Ref, claim: Mapping[str, Any]) -> None:
    spec = section(claim, "spec")
    if spec.get("volumeName"):
        graph.link(
            ref,
            Relation.BOUND_TO,
            Ref("PersistentVolume", None, str(spec["volumeName"])),
            "spec.volumeName",
        )
    if spec.get("storageClassName"):
        graph.link(
            ref,
            Relation.USES_CLASS,
            Ref("StorageClass", None, str(spec["storageClassName"])),
            "spec.storageClassName",
        )


def volume_handle(volume: Mapping[str, Any]) -> str:
    """The id the attach/detach controller knows a PersistentVolume's disk by."""
    spec = section(volume, "spec")
    for key, field in (
        ("csi", "volumeHandle"),
        ("awsElasticBlockStore", "volumeID"),
        ("gcePersistentDisk", "pdName"),
        ("azureDisk", "diskName"),
        ("cinder", "volumeID"),
        ("vsphereVolume", "volumePath"),
    ):
        if section(spec, key).get(field):
            return str(section(spec, key)[field])
    return ""


def _link_attached_volumes(graph: Graph, ref: Ref, node: Mapping[str, Any]) -> None:
    """A node's ``status.volumesAttached`` names disks as ``plugin^handle`` or ``plugin/handle``."""
    attached = [str(v.get("name") or "") for v in items(section(node, "status"), "volumesAttached")]
    if not attached:
        return
    for volume_ref, volume in list(graph.objects.items()):
        if volume_ref.kind != "PersistentVolume" or volume is None:
            continue
        handle = volume_handle(volume)
        if handle and any(name.endswith(("^" + handle, "/" + handle)) for name in attached):
            graph.link(volume_ref, Relation.ATTACHED_TO, ref, "status.volumesAttached")


def _link_service(scope: Scope, ref: Ref, service: Mapping[str, Any]) -> None:
    """A Service is backed by the pods its selector selects."""
    _link_selected(scope, ref, section(section(service, "spec"), "selector"), Relation.BACKED_BY)


def _link_budget(scope: Scope, ref: Ref, budget: Mapping[str, Any]) -> None:
    """A PodDisruptionBudget protects the pods its selector's matchLabels select."""
    selector = section(section(section(budget, "spec"), "selector"), "matchLabels")
    _link_selected(scope, ref, selector, Relation.PROTECTS)


def _link_selected(scope: Scope, ref: Ref, selector: Mapping[str, Any], relation: Relation) -> None:
    if not selector:
        return
    for pod_ref, pod in scope.objects("Pod"):
        labels = section(meta(pod), "labels")
        if pod_ref.namespace == ref.namespace and all(
            labels.get(k) == v for k, v in selector.items()
        ):
            scope.graph.link(ref, relation, pod_ref, "spec.selector")


def _clock(scope: Scope) -> datetime | None:
    """What "now" is for judging ages: the live cluster's present, or a replay's recorded
    moment, and never before the newest time the evidence carries (a pod deleted two
    hours ago and stuck since leaves no newer event to date the present by)."""
    newest = _newest_time(scope)
    if not (on_recorded_clock() or isinstance(scope.source, KubernetesSource)):
        return newest
    present = utcnow()
    return present if newest is None else max(newest, present)


def _newest_time(scope: Scope) -> datetime | None:
    """The recorded clock: the newest time any event or pod status carries."""
    stamps = [event_time(e) for events in scope.events.values() for e in events]
    for _, pod in scope.objects("Pod"):
        for entry in items(section(pod, "status"), "conditions"):
            stamps.append(str(entry.get("lastTransitionTime") or ""))
    parsed = [t for t in (parse_time(s) for s in stamps) if t is not None]
    return max(parsed) if parsed else None


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
