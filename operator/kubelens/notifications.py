"""Notification resources: the model ↔ resource mapping, de-duplicated writes, and the
coordinator's store over them.

The agent and the operator write Notifications through :func:`publish`, so a repeat of
the same fingerprint while one is open (Unread or Acknowledged) bumps ``status.count``
and ``status.lastSeen`` instead of creating another object.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubelens.models import Notification, NotificationState, timestamp
from kubelens.resources import (
    LABEL_FINGERPRINT,
    LABEL_NODE,
    LABEL_SEVERITY,
    LABEL_SKILL,
    NOTIFICATIONS,
    KubeError,
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


class NotificationResources:
    """The coordinator's NotificationStore for one Investigation, over the API.

    Scope: every Notification in the Investigation's namespace, plus node-level ones in
    the install namespace for the nodes involved. Acknowledged notifications that this
    Investigation held when the operator stopped count as unread again, so a restarted
    run picks them up; :meth:`release` hands back what it did not resolve.
    """

    def __init__(
        self,
        objects: ResourceClient,
        investigation: str,
        namespace: str,
        install_namespace: str,
        nodes: Iterable[str] | None = None,
    ) -> None:
        self.objects = objects
        self.investigation = investigation
        self.namespace = namespace
        self.install_namespace = install_namespace
        self.nodes = set(nodes) if nodes is not None else None
        self._where: dict[str, str] = {}

    def _in_scope(self, obj: dict[str, Any]) -> bool:
        if obj["metadata"].get("namespace") == self.namespace:
            return True
        node = (obj.get("spec") or {}).get("node")
        return self.nodes is None or node in self.nodes

    def _effective(self, notification: Notification) -> Notification:
        if (
            notification.state is NotificationState.ACKNOWLEDGED
            and notification.investigation == self.investigation
        ):
            # Held by an earlier attempt of this same investigation: not yet analysed.
            notification.state = NotificationState.UNREAD
        return notification

    async def list(self, state: NotificationState | None = None) -> list[Notification]:
        namespaces = dict.fromkeys([self.namespace, self.install_namespace])
        found: list[Notification] = []
        for namespace in namespaces:
            for obj in await self.objects.list(NOTIFICATIONS, namespace):
                if not self._in_scope(obj):
                    continue
                try:
                    notification = self._effective(from_resource(obj))
                except ValueError as exc:
                    log.warning(
                        "skipping malformed notification %s/%s: %s",
                        namespace,
                        obj["metadata"]["name"],
                        exc,
                    )
                    continue
                self._where[notification.id] = namespace
                if state is None or notification.state is state:
                    found.append(notification)
        found.sort(key=lambda n: (n.detected_at, n.id))
        return found

    async def add(self, notifications: Sequence[Notification]) -> builtins.list[Notification]:
        stored = []
        for notification in notifications:
            namespace = namespace_for(notification, self.install_namespace)
            result = await publish(self.objects, notification, namespace)
            self._where[result.id] = namespace
            stored.append(result)
        return stored

    async def transition(
        self,
        ids: Sequence[str],
        state: NotificationState,
        reason: str,
        insight_id: str | None = None,
    ) -> builtins.list[str]:
        if any(i not in self._where for i in ids):
            await self.list()
        moved = []
        for notification_id in ids:
            namespace = self._where.get(notification_id)
            if namespace is None:
                continue
            status: dict[str, Any] = {"state": state.value, "investigation": self.investigation}
            if reason:
                status["reason"] = reason[:500]
            if insight_id:
                status["insightId"] = insight_id
            try:
                await self.objects.patch_status(NOTIFICATIONS, namespace, notification_id, status)
            except KubeError as exc:
                if exc.not_found:
                    continue
                raise
            moved.append(notification_id)
        return moved

    async def release(self) -> builtins.list[str]:
        """Hand back notifications this investigation acknowledged but did not resolve."""
        held = []
        for namespace in dict.fromkeys([self.namespace, self.install_namespace]):
            for obj in await self.objects.list(NOTIFICATIONS, namespace):
                status = obj.get("status") or {}
                if (
                    status.get("state") == NotificationState.ACKNOWLEDGED.value
                    and status.get("investigation") == self.investigation
                ):
                    held.append(obj["metadata"]["name"])
                    self._where[obj["metadata"]["name"]] = namespace
        if held:
            await self.transition(
                held,
                NotificationState.UNREAD,
                f"released: investigation {self.investigation} ended without resolving it",
            )
        return held
