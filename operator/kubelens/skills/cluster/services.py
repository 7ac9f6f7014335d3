"""The ``services`` skill: Services with their selectors, ports and ready endpoints.

"Connection refused" from a caller is often a Service with no ready endpoint: its
selector matches no pod, or the matching pods are not Ready. Endpoints come from
EndpointSlices (``kubernetes.io/service-name``), else the older Endpoints object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelens.models import ToolResult
from kubelens.skills.cluster.common import (
    ClusterSkill,
    is_ready,
    items,
    label_selector_string,
    limited,
    meta,
    name_of,
    namespace_of,
    section,
)
from kubelens.skills.cluster.source import ClusterSource, ClusterSourceError
from kubelens.skills.params import NAME, NAMESPACE, integer, params

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SNAPSHOT_ROWS = 20
ADDRESSES_SHOWN = 20


class ServicesSkill(ClusterSkill):
    name = "services"
    description = "Services: selectors, ports, ready endpoints and the pods behind them."
    prompt = (
        "services: a Service with no ready endpoint refuses connections; its selector "
        "matching no pod, or matching pods that are not Ready, says which."
    )

    def __init__(self, source: ClusterSource, namespace: str | None = None) -> None:
        super().__init__(source, namespace)
        self.add_tool(
            "list",
            "Services with their ports and ready endpoint counts, empty ones first.",
            params(namespace=NAMESPACE, limit=integer(1, 200)),
            self.list_services,
        )
        self.add_tool(
            "describe",
            "One Service: selector, ports, ready and not-ready endpoints, matching pods.",
            params(["name"], name=NAME, namespace=NAMESPACE),
            self.describe_service,
        )
        self.add_tool(
            "for_pod",
            "The Services whose selector picks a pod, with their endpoints.",
            params(["pod"], pod=NAME, namespace=NAMESPACE),
            self.for_pod,
        )

    def snapshot(self) -> dict[str, Any]:
        errors: list[str] = []
        rows = [self.service_view(s, errors) for s in self.read("Service", errors)]
        empty = [r for r in rows if r.get("selector") and not r["ready_endpoints"]]
        snapshot: dict[str, Any] = {
            "namespace": self.namespace,
            "total": len(rows),
            "without_ready_endpoints": [_row(r) for r in empty][:SNAPSHOT_ROWS],
        }
        if errors:
            snapshot["errors"] = errors
        return snapshot

    def summarize(self, snapshot: Mapping[str, Any]) -> str:
        return (
            f"{snapshot.get('total', 0)} services, "
            f"{len(snapshot.get('without_ready_endpoints') or [])} without a ready endpoint"
        )

    # ------------------------------------------------------------------ tools

    def list_services(self, namespace: str | None = None, limit: int = 50) -> ToolResult:
        errors: list[str] = []
        rows = [
            self.service_view(s, errors) for s in self.list_kind("Service", namespace=namespace)
        ]
        if not rows:
            return ToolResult.empty(f"no Services in {self.where(namespace)}")
        rows.sort(key=lambda r: (bool(r["ready_endpoints"]) or not r.get("selector"), r["name"]))
        result = limited([_row(r) for r in rows], limit)
        if errors:
            result["errors"] = errors
        return ToolResult.ok(result)

    def describe_service(self, name: str, namespace: str | None = None) -> ToolResult:
        service = self.find("Service", name, namespace)
        if service is None:
            return ToolResult.empty(f"no Service named {name!r} in {self.where(namespace)}")
        errors: list[str] = []
        view = self.service_view(service, errors, with_pods=True)
        if errors:
            view["errors"] = errors
        return ToolResult.ok(view)

    def for_pod(self, pod: str, namespace: str | None = None) -> ToolResult:
        obj = self.find("Pod", pod, namespace)
        if obj is None:
            return ToolResult.empty(f"no pod named {pod!r} in {self.where(namespace)}")
        labels = meta(obj).get("labels") or {}
        services = [
            s
            for s in self.list_kind("Service", namespace=namespace_of(obj))
            if (selector := section(s, "spec").get("selector"))
            and all(labels.get(k) == v for k, v in selector.items())
        ]
        if not services:
            return ToolResult.empty(f"no Service in namespace {namespace_of(obj)} selects {pod}")
        errors: list[str] = []
        result = limited([_row(self.service_view(s, errors)) for s in services], 20)
        if errors:
            result["errors"] = errors
        return ToolResult.ok(result)

    # ------------------------------------------------------------------ views

    def service_view(
        self, service: Mapping[str, Any], errors: list[str], with_pods: bool = False
    ) -> dict[str, Any]:
        spec = section(service, "spec")
        namespace = namespace_of(service)
        selector = dict(spec.get("selector") or {})
        view: dict[str, Any] = {
            "name": name_of(service),
            "namespace": namespace,
            "type": spec.get("type", "ClusterIP"),
            "clusterIP": spec.get("clusterIP"),
            "selector": selector,
            "ports": [_port(p) for p in items(spec, "ports")],
        }
        if spec.get("externalName"):
            view["externalName"] = spec.get("externalName")
        ready, not_ready = self._addresses(service, errors)
        view["ready_endpoints"] = len(ready)
        view["not_ready_endpoints"] = len(not_ready)
        view["ready"] = ready[:ADDRESSES_SHOWN]
        if not_ready:
            view["not_ready"] = not_ready[:ADDRESSES_SHOWN]
        if with_pods and selector:
            pods = self.read(
                "Pod",
                errors,
                label_selector=label_selector_string({"matchLabels": selector}),
                namespace=namespace,
            )
            view["selected_pods"] = {
                "total": len(pods),
                "ready": sum(1 for p in pods if is_ready(p)),
                "names": [name_of(p) for p in pods][:ADDRESSES_SHOWN],
            }
            if not pods:
                view["why_no_endpoints"] = "the selector matches no pod in the namespace"
            elif not ready:
                view["why_no_endpoints"] = "the selected pods are not Ready"
        elif not selector and spec.get("type") != "ExternalName":
            view["note"] = "no selector: endpoints are managed by hand (or by another controller)"
        return view

    def _addresses(
        self, service: Mapping[str, Any], errors: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        namespace = namespace_of(service)
        try:
            slices = self.source.list(
                "EndpointSlice",
                namespace,
                label_selector=f"{SERVICE_NAME_LABEL}={name_of(service)}",
            )
        except ClusterSourceError as exc:
            errors.append(str(exc))
            slices = []
        if slices:
            return _slice_addresses(slices)
        endpoints = self.read(
            "Endpoints",
            errors,
            field_selector=f"metadata.name={name_of(service)}",
            namespace=namespace,
        )
        return _endpoints_addresses(endpoints)


def _row(view: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("name", "namespace", "type", "selector", "ports", "ready_endpoints")
    row = {k: view[k] for k in keys if k in view}
    if view.get("not_ready_endpoints"):
        row["not_ready_endpoints"] = view["not_ready_endpoints"]
    return row


def _port(port: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("name", "port", "targetPort", "protocol", "nodePort")
    return {k: port[k] for k in keys if k in port}


def _address(ip: Any, target: Mapping[str, Any], node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"ip": ip}
    if target.get("name"):
        out["pod" if target.get("kind") == "Pod" else "target"] = target.get("name")
    if node:
        out["node"] = node
    return out


def _slice_addresses(
    slices: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ready: list[dict[str, Any]] = []
    not_ready: list[dict[str, Any]] = []
    for endpoint_slice in slices:
        for endpoint in items(endpoint_slice, "endpoints"):
            # ready unset means ready (the API's documented default)
            is_up = section(endpoint, "conditions").get("ready") is not False
            for ip in endpoint.get("addresses") or []:
                entry = _address(ip, section(endpoint, "targetRef"), endpoint.get("nodeName"))
                (ready if is_up else not_ready).append(entry)
    return ready, not_ready


def _endpoints_addresses(
    endpoints: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ready: list[dict[str, Any]] = []
    not_ready: list[dict[str, Any]] = []
    for obj in endpoints:
        for subset in items(obj, "subsets"):
            for key, into in (("addresses", ready), ("notReadyAddresses", not_ready)):
                for address in items(subset, key):
                    into.append(
                        _address(
                            address.get("ip"),
                            section(address, "targetRef"),
                            address.get("nodeName"),
                        )
                    )
    return ready, not_ready
