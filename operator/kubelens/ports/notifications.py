"""Where the coordinator's notifications live: the NotificationStore port and its two
implementations.

:class:`InMemoryNotificationStore` keeps one local run's notifications (``kubelens
investigate``, replay, tests); :class:`NotificationResources` is one Investigation's view
of the Notification resources in the cluster (the operator), written through
:func:`kubelens.notifications.publish` as the agents write them.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubelens.models import Notification, NotificationState, utcnow
from kubelens.notifications import from_resource, namespace_for, publish
from kubelens.resources import NOTIFICATIONS, KubeError, ResourceClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transition:
    """Where notifications move and why: the new state, the reason recorded on them and
    the insight that resolved them, if one did."""

    state: NotificationState
    reason: str
    insight_id: str | None = None


class NotificationStore(Protocol):
    async def list(self, state: NotificationState | None = None) -> list[Notification]:
        """Notifications in scope, optionally only those in one state."""
        ...

    async def add(self, notifications: Sequence[Notification]) -> builtins.list[Notification]:
        """Record notifications raised during the run; repeats of a fingerprint merge."""
        ...

    async def transition(self, ids: Sequence[str], change: Transition) -> builtins.list[str]:
        """Move notifications as ``change`` says; returns the ids that exist and moved."""
        ...


class InMemoryNotificationStore:
    """Notifications of one local run, merged by fingerprint like the agent does."""

    def __init__(self, notifications: Sequence[Notification] = ()) -> None:
        self._by_id: dict[str, Notification] = {}
        self._lock = asyncio.Lock()
        for notification in notifications:
            self._merge(notification)

    def _merge(self, notification: Notification) -> Notification:
        for existing in self._by_id.values():
            if (
                existing.fingerprint == notification.fingerprint
                and existing.state is not NotificationState.RESOLVED
            ):
                existing.count += 1
                existing.last_seen = utcnow()
                return existing
        self._by_id[notification.id] = notification
        return notification

    async def list(self, state: NotificationState | None = None) -> list[Notification]:
        return [n for n in self._by_id.values() if state is None or n.state is state]

    async def add(self, notifications: Sequence[Notification]) -> builtins.list[Notification]:
        async with self._lock:
            return [self._merge(n) for n in notifications]

    async def transition(self, ids: Sequence[str], change: Transition) -> builtins.list[str]:
        moved = []
        async with self._lock:
            for notification_id in ids:
                notification = self._by_id.get(notification_id)
                if notification is None:
                    continue
                notification.state = change.state
                notification.reason = change.reason or notification.reason
                if change.insight_id:
                    notification.insight_id = change.insight_id
                moved.append(notification_id)
        return moved


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
        #: What this Investigation may hold (acknowledged, by an earlier attempt or this
        #: one); None until the first list, when only the server can tell.
        self._maybe_held: set[str] | None = None

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
            self._maybe_held = (self._maybe_held or set()) | {notification.id}
        return notification

    async def list(self, state: NotificationState | None = None) -> list[Notification]:
        namespaces = dict.fromkeys([self.namespace, self.install_namespace])
        found: list[Notification] = []
        if self._maybe_held is None:
            self._maybe_held = set()
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

    async def transition(self, ids: Sequence[str], change: Transition) -> builtins.list[str]:
        if any(i not in self._where for i in ids):
            await self.list()
        moved = []
        for notification_id in ids:
            namespace = self._where.get(notification_id)
            if namespace is None:
                continue
            status: dict[str, Any] = {
                "state": change.state.value,
                "investigation": self.investigation,
            }
            if change.reason:
                status["reason"] = change.reason[:500]
            if change.insight_id:
                status["insightId"] = change.insight_id
            try:
                await self.objects.patch_status(NOTIFICATIONS, namespace, notification_id, status)
            except KubeError as exc:
                if exc.not_found:
                    continue
                raise
            moved.append(notification_id)
        if change.state is NotificationState.ACKNOWLEDGED:
            self._maybe_held = (self._maybe_held or set()) | set(moved)
        return moved

    async def release(self) -> builtins.list[str]:
        """Hand back notifications this investigation acknowledged but did not resolve."""
        if self._maybe_held == set():
            return []  # listed, and acknowledged nothing since: nothing to read back
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
            reason = f"released: investigation {self.investigation} ended without resolving it"
            await self.transition(held, Transition(NotificationState.UNREAD, reason))
        return held
