"""Writing Notifications from the agent: create, or bump the open one of the same fingerprint.

The same rules as :func:`kubelens.notifications.publish` and the same resource shape as
:func:`kubelens.notifications.to_resource`, over the agent's aiohttp client: that module
imports the kubernetes client, which the agent keeps out of its memory. A test writes
through both and compares the objects, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from kubelens.agent.kubeapi import (
    LABEL_FINGERPRINT,
    LABEL_NODE,
    LABEL_SEVERITY,
    LABEL_SKILL,
    NOTIFICATIONS,
    KubeApi,
)
from kubelens.models import Notification, NotificationState, utcnow

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


def label_value(value: str) -> str:
    """A string made safe as a label value (what ``to_resource`` does to node names)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in value)[:63]
    return cleaned.strip("-_.") or "none"


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


async def publish(api: KubeApi, notification: Notification, namespace: str) -> Notification:
    """Create the Notification, or bump the open one with the same fingerprint.

    Returns the stored notification: a repeat comes back with the existing object's id
    and its new count, so callers hand out the id the cluster knows.
    """
    selector = f"{LABEL_FINGERPRINT}={notification.fingerprint}"
    for existing in await api.list(NOTIFICATIONS, namespace, label_selector=selector):
        status = existing.get("status") or {}
        if status.get("state", NotificationState.UNREAD.value) == NotificationState.RESOLVED.value:
            continue
        count = int(status.get("count", 1)) + 1
        name = existing["metadata"]["name"]
        await api.patch_status(
            NOTIFICATIONS, namespace, name, {"count": count, "lastSeen": utcnow().isoformat()}
        )
        found = notification.model_copy(update={"id": name, "count": count})
        found.state = NotificationState(status.get("state", NotificationState.UNREAD.value))
        return found
    created = await api.create(NOTIFICATIONS, namespace, to_resource(notification, namespace))
    await api.patch_status(
        NOTIFICATIONS,
        namespace,
        created["metadata"]["name"],
        {
            "state": NotificationState.UNREAD.value,
            "count": 1,
            "lastSeen": notification.detected_at.isoformat(),
        },
    )
    return notification
