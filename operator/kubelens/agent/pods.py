"""Which pod an anomaly belongs to: cgroup pod UIDs → pods of this node, via the API.

The containers skill names pods by UID when the kubelet's log directories are not
mounted (``Pod/<uid>``, ``Container/<uid>/<container id>``). The agent maps the UID to
the pod's namespace and name so the Notification lands in the workload's namespace.

Only this node's pods are listed (``fieldSelector=spec.nodeName=<node>``, which the API
server serves from an index). The list is fetched on a miss, not on a timer: a UID never
changes owner, so a cached entry is never wrong, and most cycles raise nothing to map.
At a thousand nodes that is the difference between a list every 15 s per node and a
list now and then. Misses are rate-limited so a UID that is not a pod (a static pod
the API has not mirrored yet) cannot turn into a list per cycle.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from kubelens.agent.kubeapi import KubeApi, KubeApiError
from kubelens.models import Notification, Subject

log = logging.getLogger(__name__)

_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: Fewest seconds between two lists caused by misses.
MISS_REFRESH_SECONDS = 5.0
#: Entries kept at most; a node runs at most a few hundred pods.
MAX_PODS = 5_000


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str


class PodDirectory:
    """Pod UID → namespace and name, for the pods of one node."""

    def __init__(
        self,
        api: KubeApi,
        node: str,
        clock: Callable[[], float] = time.monotonic,
        miss_refresh: float = MISS_REFRESH_SECONDS,
    ) -> None:
        self.api = api
        self.node = node
        self.clock = clock
        self.miss_refresh = miss_refresh
        self._by_uid: dict[str, PodRef] = {}
        self._refreshed_at: float | None = None
        self.lists = 0

    async def refresh(self) -> None:
        pods = await self.api.pods_on_node(self.node)
        self.lists += 1
        self._refreshed_at = self.clock()
        fresh: dict[str, PodRef] = {}
        for pod in pods[:MAX_PODS]:
            meta = pod.get("metadata") or {}
            if meta.get("uid") and meta.get("name"):
                fresh[str(meta["uid"])] = PodRef(str(meta.get("namespace") or ""), meta["name"])
        self._by_uid = fresh

    async def lookup(self, uid: str) -> PodRef | None:
        found = self._by_uid.get(uid)
        if found is not None:
            return found
        if self._refreshed_at is not None and self.clock() - self._refreshed_at < self.miss_refresh:
            return None
        try:
            await self.refresh()
        except KubeApiError as exc:
            # Without the pod the notification still lands, in the install namespace.
            log.warning("cannot list the pods of node %s: %s", self.node, exc)
            self._refreshed_at = self.clock()
            return None
        return self._by_uid.get(uid)

    async def attribute(self, notification: Notification) -> Notification:
        """Point a pod or container anomaly at its Pod, so it is written to its namespace.

        The fingerprint is kept as it was computed (from the cgroup's identity), so the
        same anomaly keeps merging whether or not the pod could be named this time.
        """
        subject = notification.subject
        if subject is None or subject.kind not in ("Pod", "Container"):
            return notification
        head, _, container = subject.name.partition("/")
        if subject.namespace:
            # Named from the kubelet's log directories: "pod" or "pod/container".
            pod = PodRef(subject.namespace, head)
        elif _UID.match(head):
            found = await self.lookup(head)
            if found is None:
                return notification
            pod = found
        else:
            return notification
        context = notification.context
        if subject.kind == "Container" and container:
            context = f"{context}; container {container}" if context else f"container {container}"
        return notification.model_copy(
            update={
                "subject": Subject(kind="Pod", namespace=pod.namespace, name=pod.name),
                "context": context,
            }
        )
