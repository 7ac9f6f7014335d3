"""How one Investigation's progress reaches the API server without slowing its run.

Status is written in order, one patch at a time. A *write* (phase changes, insights, the
outcome) is sent at once and awaited: a restart must find it. *Progress* (the queue
position, the iteration) is written in the background, at most once per
:data:`PROGRESS_INTERVAL` (a queue position: :data:`QUEUE_POSITION_INTERVAL`), the latest
value winning; a write carries any progress not
yet sent, so nothing newer is ever overwritten by something older. Events are posted in
the background in order; :meth:`Reporter.close` waits for them, so an Event about a
cancellation is on the server before the Investigation's finalizer is released.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

from kubelens.kube import KubeError
from kubelens.operator.status import StatusUpdate

log = logging.getLogger(__name__)

#: Seconds between two progress patches of one Investigation: ten namespaces moving their
#: lines every few hundred milliseconds would otherwise write more progress than work.
PROGRESS_INTERVAL = 1.0

#: Seconds between two queue-position patches of a waiting Investigation: each move of a
#: namespace's line changes the place of everyone in it, so a line of n rewriting its
#: places every second would cost n patches a second for no decision anyone takes.
QUEUE_POSITION_INTERVAL = 5.0

WriteStatus = Callable[[StatusUpdate], Awaitable[None]]
PostEvent = Callable[[str, str, bool], Awaitable[None]]


def merged(earlier: StatusUpdate | None, later: StatusUpdate) -> StatusUpdate:
    """One update with ``later``'s fields over ``earlier``'s."""
    if earlier is None:
        return later
    newer = {
        field.name: getattr(later, field.name)
        for field in dataclasses.fields(later)
        if getattr(later, field.name) is not None
    }
    return dataclasses.replace(earlier, **newer)


class Reporter:
    def __init__(
        self, write_status: WriteStatus, post_event: PostEvent, interval: float = PROGRESS_INTERVAL
    ) -> None:
        self._write_status = write_status
        self._post_event = post_event
        self._interval = interval
        self._in_order = asyncio.Lock()
        self._progress: StatusUpdate | None = None
        #: How long the progress not yet sent may wait after the last write.
        self._progress_interval = interval
        self._last_write = float("-inf")
        self._progress_task: asyncio.Task[None] | None = None
        self._events: asyncio.Task[None] | None = None

    async def write(self, update: StatusUpdate) -> None:
        """Write ``update`` (with any progress not yet sent under it) and wait for it."""
        async with self._in_order:
            pending, self._progress = self._progress, None
            await self._send(merged(pending, update))

    def progress(self, update: StatusUpdate, interval: float | None = None) -> None:
        """Write ``update`` at most ``interval`` seconds (default: the reporter's) after the
        last write; a newer progress update replaces it if it has not gone."""
        wait = self._interval if interval is None else interval
        if self._progress is None:
            self._progress_interval = wait
        else:
            self._progress_interval = min(self._progress_interval, wait)
        self._progress = merged(self._progress, update)
        if self._progress_task is None or self._progress_task.done():
            self._progress_task = asyncio.ensure_future(self._send_progress())

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        """Post an Event after the ones before it, without waiting for it."""
        self._events = asyncio.ensure_future(
            self._post_after(self._events, reason, message, warning)
        )

    async def close(self) -> None:
        """Wait for every Event; progress not yet sent is dropped (the last write carries
        the run's final figures)."""
        if self._progress_task is not None:
            self._progress_task.cancel()
            await asyncio.gather(self._progress_task, return_exceptions=True)
        if self._events is not None:
            await self._events

    async def _send(self, update: StatusUpdate) -> None:
        self._last_write = time.monotonic()
        await self._write_status(update)

    async def _send_progress(self) -> None:
        while self._progress is not None:
            due = self._last_write + self._progress_interval - time.monotonic()
            if due > 0:
                await asyncio.sleep(due)
                continue
            async with self._in_order:
                pending, self._progress = self._progress, None
                if pending is None:
                    return
                try:
                    await self._send(pending)
                except KubeError as exc:
                    # Progress is a courtesy; the next write carries the state anyway.
                    log.debug("could not write progress: %s", exc)

    async def _post_after(
        self, previous: asyncio.Task[None] | None, reason: str, message: str, warning: bool
    ) -> None:
        if previous is not None:
            await previous
        await self._post_event(reason, message, warning)
