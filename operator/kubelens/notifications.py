"""Notification resources: the model ↔ resource mapping and de-duplicated writes.

The agent and the operator write Notifications through :func:`publish`, so a repeat of
the same fingerprint while one is open (Unread or Acknowledged) bumps ``status.count``
and ``status.lastSeen`` instead of creating another object. The coordinator's store
over these resources is :class:`kubelens.ports.notifications.NotificationResources`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kubelens.models import Notification, NotificationState, timestamp
from kubelens.resources import (
    LABEL_FINGERPRINT,
    LABEL_NODE,
    LABEL_SEVERITY,
    LABEL_SKILL,
    NOTIFICATIONS,
    ResourceClient,
    label_value,
)

log = logging.getLogger(__name__)

_SPEC_FIELDS = (
    "skill",
    "anomalyType",
    "severity",
    "context",
    "observation",
    "hypothesis",
    "node",
    "subject",
    "detectedAt",
    "fingerprint",
    "snapshots",
)
_STATUS_FIELDS = ("state", "count", "lastSeen", "investigation", "insightId", "reason")


def to_resource(notification: Notification, namespace: str) -> dict[str, Any]:
    wire = notification.wire()
    spec = {key: wire[key] for key in _SPEC_FIELDS if key in wire}
    labels = {
        LABEL_SKILL: label_value(notification.skill),
        LABEL_SEVERITY: notification.severity.value,
        LABEL_FINGERPRINT: notification.fingerprint,
    }
    if notification.node:
        labels[LABEL_NODE] = label_value(notification.node)
    return {
        "apiVersion": "kubelens.io/v1alpha1",
        "kind": "Notification",
        "metadata": {"name": notification.id, "namespace": namespace, "labels": labels},
        "spec": spec,
    }


def from_resource(obj: Mapping[str, Any]) -> Notification:
    """The Notification a resource holds; ValueError (ValidationError is one) if malformed.

    Identity comes from ``metadata.name`` and state from ``status`` only: a spec cannot
    rename a notification or mark it resolved.
    """
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ValueError("notification resource without a metadata.name")
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if not isinstance(spec, Mapping) or not isinstance(status, Mapping):
        raise ValueError(f"notification {name}: spec and status must be objects")
    fields: dict[str, Any] = {key: spec[key] for key in _SPEC_FIELDS if key in spec}
    fields["id"] = name
    fields.update({key: status[key] for key in _STATUS_FIELDS if status.get(key) is not None})
    return Notification.model_validate(fields)


def namespace_for(notification: Notification, install_namespace: str) -> str:
    """A pod's anomaly lives with the pod; a node's in kubelens's own namespace."""
    if notification.subject and notification.subject.namespace:
        return notification.subject.namespace
    return install_namespace


async def publish(
    objects: ResourceClient, notification: Notification, namespace: str
) -> Notification:
    """Create the Notification, or bump the open one with the same fingerprint."""
    selector = f"{LABEL_FINGERPRINT}={notification.fingerprint}"
    for existing in await objects.list(NOTIFICATIONS, namespace, label_selector=selector):
        state = (existing.get("status") or {}).get("state", NotificationState.UNREAD.value)
        if state == NotificationState.RESOLVED.value:
            continue
        count = int((existing.get("status") or {}).get("count", 1)) + 1
        await objects.patch_status(
            NOTIFICATIONS,
            namespace,
            existing["metadata"]["name"],
            {
                "count": count,
                "lastSeen": timestamp(),
            },
        )
        found = from_resource(existing)
        found.count = count
        return found
    created = await objects.create(NOTIFICATIONS, namespace, to_resource(notification, namespace))
    await objects.patch_status(
        NOTIFICATIONS,
        namespace,
        created["metadata"]["name"],
        {
            "state": NotificationState.UNREAD.value,
            "count": 1,
            "lastSeen": timestamp(notification.detected_at),
        },
    )
    return notification
