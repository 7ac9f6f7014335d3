"""In-process ports: notifications kept in memory and skills run in this process.

``kubelens investigate`` uses both; the operator uses :class:`InProcessOperators` for
its cluster skills; replay uses both over recorded files.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Sequence
from typing import Any

from kubelens.detection import AnomalyDetector
from kubelens.models import Notification, NotificationState, OperatorResult, ToolResult, utcnow
from kubelens.skills.base import DEFAULT_RESULT_CAP, Skill
from kubelens.skills.run import observe


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

    async def transition(
        self,
        ids: Sequence[str],
        state: NotificationState,
        reason: str,
        insight_id: str | None = None,
    ) -> builtins.list[str]:
        moved = []
        async with self._lock:
            for notification_id in ids:
                notification = self._by_id.get(notification_id)
                if notification is None:
                    continue
                notification.state = state
                notification.reason = reason or notification.reason
                if insight_id:
                    notification.insight_id = insight_id
                moved.append(notification_id)
        return moved


class InProcessOperators:
    """Runs skills in this process (in a worker thread, so /proc reads never block the loop)."""

    def __init__(
        self,
        skills: Sequence[Skill],
        store: Any,
        source: str,
        detector: AnomalyDetector | None = None,
        result_cap: int = DEFAULT_RESULT_CAP,
    ) -> None:
        self.skills = {skill.name: skill for skill in skills}
        self.store = store
        self.source = source
        self.detector = detector or AnomalyDetector(node=source)
        self.result_cap = result_cap

    def catalog(self) -> builtins.list[dict[str, Any]]:
        return [skill.describe() for skill in self.skills.values()]

    @property
    def cluster_source(self) -> Any:
        """The ClusterSource the cluster skills read (None without cluster skills): the
        analyst and the first message read the same objects through it."""
        # Imported here: the agent process uses this module and stays off the cluster code.
        from kubelens.skills.cluster.common import ClusterSkill

        for skill in self.skills.values():
            if isinstance(skill, ClusterSkill):
                return skill.source
        return None

    async def invoke(self, skill: str, context: str) -> builtins.list[OperatorResult]:
        target = self.skills.get(skill)
        if target is None:
            return []
        run = observe(
            target, self.detector, self.store.add, source=self.source, result_cap=self.result_cap
        )
        return [await run]

    async def call(self, skill: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        target = self.skills.get(skill)
        if target is None:
            known = ", ".join(sorted(self.skills)) or "none"
            return ToolResult.fail(f"unknown skill {skill!r}; available skills: {known}")
        return await asyncio.to_thread(target.call, tool, arguments)
