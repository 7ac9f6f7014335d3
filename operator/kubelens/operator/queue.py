"""One coordinator per namespace: a FIFO of Investigations, one running at a time.

Order is the Investigations' creation order (creationTimestamp, then name), not the
order their handlers happened to start, so after an operator restart the oldest
waiting Investigation still goes first.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from kubelens import metrics

QueueKey = tuple[str, str]  # (creationTimestamp, name)
PositionCallback = Callable[[int], Awaitable[None]]


class NamespaceQueue:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.waiting: list[QueueKey] = []
        self.running: str | None = None
        self._changed = asyncio.Condition()

    def ahead_of(self, key: QueueKey) -> int:
        """How many Investigations go before ``key``: the running one and those in line."""
        ahead = 1 if self.running else 0
        return ahead + (self.waiting.index(key) if key in self.waiting else 0)

    def join(self, key: QueueKey) -> None:
        """Take a place in line now (a later :meth:`turn` keeps it)."""
        if key not in self.waiting:
            bisect.insort(self.waiting, key)
        metrics.QUEUE_DEPTH.labels(self.namespace).set(len(self.waiting))

    @asynccontextmanager
    async def turn(
        self,
        key: QueueKey,
        on_position: PositionCallback | None = None,
        not_before: float = 0.0,
    ) -> AsyncIterator[None]:
        """Wait until ``key`` is first in line, nothing runs and ``not_before`` (a monotonic
        time) has passed, then hold the namespace."""
        self.join(key)
        reported = -1
        try:
            delay = not_before - time.monotonic()
            if delay > 0:
                # After a restart every resumed Investigation joins first; only then the
                # oldest may start, whichever handler happened to run first.
                await asyncio.sleep(delay)
            async with self._changed:
                self._changed.notify_all()
            while True:
                async with self._changed:
                    if self.running is None and self.waiting[0] == key:
                        self.waiting.remove(key)
                        self.running = key[1]
                        break
                    position = self.ahead_of(key)
                    if on_position is None or position == reported:
                        await self._changed.wait()
                        continue
                # Report outside the lock: a status patch must not hold up the line.
                reported = position
                await on_position(position)
        except BaseException:
            # Cancelled (deleted) while waiting: leave the line without blocking it.
            async with self._changed:
                if key in self.waiting:
                    self.waiting.remove(key)
                self._changed.notify_all()
            metrics.QUEUE_DEPTH.labels(self.namespace).set(len(self.waiting))
            raise
        metrics.QUEUE_DEPTH.labels(self.namespace).set(len(self.waiting))
        try:
            yield
        finally:
            async with self._changed:
                self.running = None
                self._changed.notify_all()


class Queues:
    """Every namespace's queue; namespaces run in parallel."""

    def __init__(self) -> None:
        self._queues: dict[str, NamespaceQueue] = {}

    def summary(self) -> dict[str, dict[str, object]]:
        return {
            ns: {"running": q.running, "waiting": len(q.waiting)} for ns, q in self._queues.items()
        }

    def __getitem__(self, namespace: str) -> NamespaceQueue:
        queue = self._queues.get(namespace)
        if queue is None:
            queue = self._queues[namespace] = NamespaceQueue(namespace)
        return queue
