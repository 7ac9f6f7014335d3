"""Deleting old Resolved Notifications: each agent sweeps the ones labelled with its node.

A Notification records when its anomaly was last seen (``status.lastSeen``) but not when
it was resolved. Deleting on ``lastSeen`` alone would remove a day-old anomaly the moment
an Investigation resolves it, before anyone reads the verdict. So a Resolved
Notification is kept for ``retention`` seconds after the later of its ``lastSeen`` and
the first sweep that saw it Resolved. That second time is this agent's memory: after a
restart the clock starts again, which keeps a Notification longer, never shorter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kubelens.agent.kubeapi import KubeApi, KubeApiError
from kubelens.models import NotificationState
from kubelens.resources import LABEL_NODE, NOTIFICATIONS, label_value

log = logging.getLogger(__name__)


class Retention:
    def __init__(
        self,
        api: KubeApi,
        node: str,
        retention: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.node = node
        self.retention = retention
        self.clock = clock
        #: uid → wall time this agent first saw the Notification Resolved.
        self._resolved_seen: dict[str, float] = {}

    async def sweep(self) -> list[str]:
        """Delete what has expired; return ``namespace/name`` of each deleted object."""
        selector = f"{LABEL_NODE}={label_value(self.node)}"
        items = await self.api.list(NOTIFICATIONS, None, label_selector=selector)
        now = self.clock()
        deleted: list[str] = []
        resolved_now: dict[str, float] = {}
        for obj in items:
            meta = obj.get("metadata") or {}
            status = obj.get("status") or {}
            if status.get("state") != NotificationState.RESOLVED.value:
                continue
            key = str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
            first_seen = self._resolved_seen.get(key, now)
            resolved_now[key] = first_seen
            last_seen = _timestamp(status.get("lastSeen")) or _timestamp(
                (obj.get("spec") or {}).get("detectedAt")
            )
            if now - max(first_seen, last_seen or 0.0) < self.retention:
                continue
            where = f"{meta.get('namespace')}/{meta.get('name')}"
            try:
                await self.api.delete(NOTIFICATIONS, str(meta["namespace"]), str(meta["name"]))
            except KubeApiError as exc:
                if not exc.not_found:
                    log.warning("cannot delete expired notification %s: %s", where, exc)
                    continue
            resolved_now.pop(key, None)
            deleted.append(where)
        # Forget what is gone or no longer Resolved, so the map stays the size of the node's
        # resolved notifications.
        self._resolved_seen = resolved_now
        if deleted:
            log.info(
                "deleted %d resolved notification(s) older than %.0fs", len(deleted), self.retention
            )
        return deleted


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
