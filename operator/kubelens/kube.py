"""The one place kubelens talks to the Kubernetes API (apart from kopf itself).

The official client is synchronous; every call here runs in a worker thread so the
operator's event loop never blocks. API errors become :class:`KubeError`, which says
whether retrying can help (conflicts, 5xx, throttling) or not (403, 404, 422).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import load_incluster_config
from kubernetes.config.kube_config import load_kube_config
from urllib3.exceptions import HTTPError

from kubelens.models import timestamp
from kubelens.redact import redact_text
from kubelens.resources import (  # re-exported: callers import names from here
    GROUP,
    INVESTIGATIONS,
    LABEL_ALERT_GROUP,
    LABEL_FINGERPRINT,
    LABEL_NODE,
    LABEL_SEVERITY,
    LABEL_SKILL,
    NOTIFICATIONS,
    VERSION,
    KubeError,
)

log = logging.getLogger(__name__)

__all__ = [
    "GROUP",
    "INVESTIGATIONS",
    "LABEL_ALERT_GROUP",
    "LABEL_FINGERPRINT",
    "LABEL_NODE",
    "LABEL_SEVERITY",
    "LABEL_SKILL",
    "NOTIFICATIONS",
    "VERSION",
    "CustomObjects",
    "Events",
    "KubeError",
    "api_client",
    "call",
]

MERGE_PATCH = "application/merge-patch+json"


#: Blocking client calls in flight at once (each holds a thread and a connection), shared
#: by every namespace's coordinator: the client's default pool (five per core) queues
#: ten namespaces' status writes behind each other on a two-core node.
MAX_CONCURRENT_CALLS = 32


def api_client(kubeconfig: str = "") -> client.ApiClient:
    """A client for the configured cluster: an explicit kubeconfig, else in-cluster, else
    ``$KUBECONFIG`` or ``~/.kube/config`` (read now: the client reads it at import)."""
    configuration = client.Configuration()
    if kubeconfig or not _in_cluster(configuration):
        path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        load_kube_config(config_file=path or None, client_configuration=configuration)
    configuration.connection_pool_maxsize = MAX_CONCURRENT_CALLS
    return client.ApiClient(configuration)


def _in_cluster(configuration: client.Configuration) -> bool:
    """Load the pod's ServiceAccount into ``configuration``; False outside a pod."""
    try:
        load_incluster_config(client_configuration=configuration)
    except ConfigException:
        return False
    return True


def _error(exc: ApiException) -> KubeError:
    reason = exc.reason or ""
    try:
        body = json.loads(exc.body or "{}")
        reason = body.get("message") or reason
    except (TypeError, ValueError):
        pass
    return KubeError(f"Kubernetes API {exc.status}: {reason}", int(exc.status or 0))


async def call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one client call in a thread, translating ApiException."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except ApiException as exc:
        raise _error(exc) from None
    except (OSError, HTTPError) as exc:
        # No answer at all (refused, reset, timed out): temporary, status 0.
        raise KubeError(f"Kubernetes API unreachable: {type(exc).__name__}: {exc}") from None


class Events:
    """Kubernetes Events on kubelens's objects, posted at once (not batched), so an
    Event about a cancellation is written before the object's finalizer is released."""

    def __init__(self, api: client.ApiClient, component: str = "kubelens") -> None:
        self.core = client.CoreV1Api(api)
        self.component = component

    async def post(
        self, involved: Mapping[str, str], reason: str, message: str, warning: bool = False
    ) -> None:
        now = timestamp(datetime.now(UTC))
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{involved['name']}.",
                "namespace": involved["namespace"],
            },
            "involvedObject": dict(involved),
            "reason": reason,
            "message": redact_text(message)[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await call(self.core.create_namespaced_event, involved["namespace"], body)
        except KubeError as exc:
            # An Event is a courtesy: failing to post one must not fail the work.
            log.warning("could not post event %s on %s: %s", reason, involved.get("name"), exc)


class CustomObjects:
    """Typed helpers over CustomObjectsApi for kubelens's own resources."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = client.CustomObjectsApi(api)

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await call(
            self.api.get_namespaced_custom_object, GROUP, VERSION, namespace, plural, name
        )
        return result

    async def list(
        self, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        if label_selector:
            kwargs["label_selector"] = label_selector
        if namespace:
            result = await call(
                self.api.list_namespaced_custom_object, GROUP, VERSION, namespace, plural, **kwargs
            )
        else:
            result = await call(
                self.api.list_cluster_custom_object, GROUP, VERSION, plural, **kwargs
            )
        return list(result.get("items", []))

    async def create(self, plural: str, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await call(
            self.api.create_namespaced_custom_object, GROUP, VERSION, namespace, plural, dict(body)
        )
        return result

    async def patch(
        self, plural: str, namespace: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = await call(
            self.api.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            plural,
            name,
            dict(body),
            _content_type=MERGE_PATCH,
        )
        return result

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = await call(
            self.api.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            plural,
            name,
            {"status": dict(status)},
            _content_type=MERGE_PATCH,
        )
        return result

    async def delete(self, plural: str, namespace: str, name: str) -> None:
        await call(
            self.api.delete_namespaced_custom_object, GROUP, VERSION, namespace, plural, name
        )
