"""Optional auto-investigation: a new critical Notification starts an Investigation.

As beamlens's anomaly skill does, with limits so a flapping node cannot flood a
namespace (and the LLM bill): at most ``max_per_hour`` Investigations per namespace in
any rolling hour, and none within ``cooldown`` seconds of the previous one there. Only a
newly created Notification triggers one; repeats bump the same Notification, which any
running or later Investigation in that namespace reads anyway.

The limits are this agent's own (in memory, per node): the agent's RBAC may create
Investigations but not list them, on purpose.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubelens.agent.kubeapi import KubeApi, KubeApiError
from kubelens.models import Notification, Severity
from kubelens.resources import INVESTIGATIONS, LABEL_NODE, LABEL_SKILL, label_value

log = logging.getLogger(__name__)

HOUR = 3600.0


@dataclass
class AutoInvestigator:
    api: KubeApi
    node: str
    max_per_hour: int = 3
    cooldown: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _started: dict[str, deque[float]] = field(default_factory=dict)

    def allowed(self, namespace: str) -> bool:
        now = self.clock()
        recent = self._started.setdefault(namespace, deque())
        while recent and now - recent[0] >= HOUR:
            recent.popleft()
        if recent and now - recent[-1] < self.cooldown:
            return False
        return len(recent) < self.max_per_hour

    async def consider(self, notification: Notification, namespace: str) -> str | None:
        """Start an Investigation for a new critical notification, within the limits.

        Returns the Investigation's name, or None when none was started.
        """
        if notification.severity is not Severity.CRITICAL or notification.count != 1:
            return None
        if not self.allowed(namespace):
            log.info(
                "not auto-investigating %s in %s: limit of %d per hour, %ds apart",
                notification.id,
                namespace,
                self.max_per_hour,
                self.cooldown,
            )
            return None
        # The slot is taken before the await, so two notifications raised at once (the
        # schedule and an on-demand snapshot) cannot both pass the check.
        slot = self.clock()
        self._started[namespace].append(slot)
        try:
            created = await self.api.create(INVESTIGATIONS, namespace, self.body(notification))
        except KubeApiError as exc:
            # A refused create does not use up the namespace's budget.
            self._started[namespace].remove(slot)
            log.warning("cannot create an Investigation for %s: %s", notification.id, exc)
            return None
        name = str(created.get("metadata", {}).get("name", ""))
        log.info("auto-investigation %s/%s started for %s", namespace, name, notification.id)
        return name

    def body(self, notification: Notification) -> dict[str, Any]:
        where = notification.subject.ref() if notification.subject else f"node {self.node}"
        reason = (
            f"Critical {notification.anomaly_type} ({notification.skill}) on node "
            f"{self.node}, {where}: {notification.observation}"
        )
        return {
            "apiVersion": "kubelens.io/v1alpha1",
            "kind": "Investigation",
            "metadata": {
                "generateName": "auto-",
                "labels": {
                    LABEL_NODE: label_value(self.node),
                    LABEL_SKILL: label_value(notification.skill),
                    "app.kubernetes.io/created-by": "kubelens-agent",
                },
            },
            "spec": {
                "reason": reason[:2000],
                "notifications": [notification.id],
                "nodes": [self.node],
                "context": {
                    "trigger": "auto-investigation",
                    "notification": notification.id,
                    "anomalyType": notification.anomaly_type,
                    "node": self.node,
                },
            },
        }
