"""How the operator starts: kopf peering when the cluster has it, standalone when not.

kopf pauses every watch when a peering name is given (peering is then mandatory) and
the peering resources or the peering object are missing — even with ``standalone`` —
and says so only at debug level. So the choice is made here, before kopf starts, from
what the cluster serves:

- ``--standalone``: no peering at all (one replica).
- kopf's peering CRD served: join peering ``kubelens``, creating its peering object
  when absent, so several replicas take turns and one handles each Investigation.
- not served (only the Investigation and Notification CRDs applied): standalone, and
  one warning line that says how to enable peering.

Before kopf starts, :func:`check_serving` says in one line at the default log level why
the operator cannot serve yet (no Investigation CRD, no permission to list it); kopf then
keeps waiting for the resource, as it does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiClient, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kubelens.resources import GROUP, INVESTIGATIONS, VERSION

log = logging.getLogger("kubelens.operator")

NAME = "kubelens"
PEERING_GROUP, PEERING_VERSION = "kopf.dev", "v1"
CLUSTER_PEERINGS, PEERINGS = "clusterkopfpeerings", "kopfpeerings"
ENABLE = "kubectl apply -f crds/ installs kopf's peering CRDs, so several replicas take turns"


@dataclass(frozen=True)
class Peering:
    standalone: bool
    #: The peering name to join (None: standalone).
    name: str | None
    #: A warning for the log: why the operator runs standalone.
    note: str | None = None


def choose(api: ApiClient, namespaces: Sequence[str], standalone: bool) -> Peering:
    """Standalone when asked or when the cluster has no peering; else join ``kubelens``."""
    if standalone:
        return Peering(True, None)
    objects = CustomObjectsApi(api)
    plural = PEERINGS if namespaces else CLUSTER_PEERINGS
    try:
        if not _served(objects, plural, namespaces):
            return Peering(
                True,
                None,
                f"kopf's peering CRD ({plural}.{PEERING_GROUP}) is not installed: running "
                f"standalone, so run one replica ({ENABLE})",
            )
        targets: list[str | None] = list(namespaces) or [None]
        for namespace in targets:
            _ensure_peering_object(objects, namespace)

    except (ApiException, HTTPError, OSError) as exc:
        return Peering(
            True,
            None,
            f"cannot use kopf peering ({_reason(exc)}): running standalone, so run one "
            "replica, or let the operator's ServiceAccount get and create "
            f"{plural}.{PEERING_GROUP}",
        )
    return Peering(False, NAME)


def _served(objects: CustomObjectsApi, plural: str, namespaces: Sequence[str]) -> bool:
    try:
        if namespaces:
            objects.list_namespaced_custom_object(
                PEERING_GROUP, PEERING_VERSION, namespaces[0], plural, limit=1
            )
        else:
            objects.list_cluster_custom_object(PEERING_GROUP, PEERING_VERSION, plural, limit=1)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _ensure_peering_object(objects: CustomObjectsApi, namespace: str | None) -> None:
    """kopf joins a peering only through its object: create it when it is missing."""
    kind = "KopfPeering" if namespace else "ClusterKopfPeering"
    body: dict[str, Any] = {
        "apiVersion": f"{PEERING_GROUP}/{PEERING_VERSION}",
        "kind": kind,
        "metadata": {"name": NAME},
    }
    try:
        if namespace:
            objects.get_namespaced_custom_object(
                PEERING_GROUP, PEERING_VERSION, namespace, PEERINGS, NAME
            )
        else:
            objects.get_cluster_custom_object(
                PEERING_GROUP, PEERING_VERSION, CLUSTER_PEERINGS, NAME
            )
        return
    except ApiException as exc:
        if exc.status != 404:
            raise
    try:
        if namespace:
            objects.create_namespaced_custom_object(
                PEERING_GROUP, PEERING_VERSION, namespace, PEERINGS, body
            )
        else:
            objects.create_cluster_custom_object(
                PEERING_GROUP, PEERING_VERSION, CLUSTER_PEERINGS, body
            )
    except ApiException as exc:
        if exc.status != 409:  # another replica created it first
            raise
    log.info("created %s %s for the operator's replicas", kind, NAME)


def check_serving(api: ApiClient, namespaces: Sequence[str]) -> str | None:
    """Why the operator cannot serve Investigations yet, in one line (None: it can)."""
    objects = CustomObjectsApi(api)
    where = namespaces[0] if namespaces else None
    try:
        if where:
            objects.list_namespaced_custom_object(GROUP, VERSION, where, INVESTIGATIONS, limit=1)
        else:
            objects.list_cluster_custom_object(GROUP, VERSION, INVESTIGATIONS, limit=1)
    except (HTTPError, OSError) as exc:
        return f"cannot reach the API server ({_reason(exc)}); kopf keeps retrying"
    except ApiException as exc:
        if exc.status == 404:
            return (
                f"the Investigation CRD ({INVESTIGATIONS}.{GROUP}) is not installed: "
                "kubectl apply -f crds/; waiting for it"
            )
        if exc.status in (401, 403):
            scope = f"in namespace {where}" if where else "cluster-wide"
            return (
                f"cannot list {INVESTIGATIONS}.{GROUP} {scope} ({_reason(exc)}): grant the "
                "operator's ServiceAccount get, list and watch on it (the chart's RBAC does); "
                "waiting"
            )
        return f"the API server answered {_reason(exc)}; kopf keeps retrying"
    return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}".strip()
    return f"{type(exc).__name__}: {exc}"
