"""The library's Coordinator (beamlens's shape): one tool loop, runs taken in turn.

A run asked for while one is active waits its turn (FIFO), and :meth:`Coordinator.status`
says what is running and how many wait. The operator does not use it: it builds a
:class:`~kubelens.coordinator.core.ToolLoop` per Investigation and queues them per
namespace (:mod:`kubelens.operator.queue`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from kubelens.config import Settings
from kubelens.coordinator.core import RunEvent, RunOptions, ToolLoop
from kubelens.coordinator.llm import ModelClient, build_model
from kubelens.models import RunResult
from kubelens.ports.notifications import InMemoryNotificationStore, NotificationStore
from kubelens.ports.operators import InProcessOperators, Operators
from kubelens.skills import node_skills
from kubelens.skills.base import HostPaths, Skill


class Coordinator:
    """Runs investigations one at a time (FIFO), with any model and any ports.

    ``model`` is a litellm model string, a :class:`ModelClient`, or None for the
    model ``settings`` name (none by default: the built-in rule-based analyst); a model
    string is built with ``settings``' retries, timeout and API base. ``skills`` default
    to this machine's node skills; ``store`` and ``operators`` replace the in-process ports.

    >>> coordinator = Coordinator(model="openai/gpt-4o-mini")
    >>> result = await coordinator.run({"reason": "pods restarting"}, RunOptions(timeout=120))
    """

    def __init__(
        self,
        model: ModelClient | str | None = None,
        skills: Sequence[Skill] | None = None,
        *,
        store: NotificationStore | None = None,
        operators: Operators | None = None,
        settings: Settings | None = None,
    ) -> None:
        settings = settings or Settings()
        if model is None or isinstance(model, str):
            model = build_model(settings, model)
        store = store or InMemoryNotificationStore()
        if operators is None:
            operators = InProcessOperators(
                skills if skills is not None else node_skills(HostPaths()),
                store,
                source=socket.gethostname(),
            )
        self.loop = ToolLoop(
            model,
            store,
            operators,
            compaction_max_tokens=settings.compaction_max_tokens,
            compaction_keep_last=settings.compaction_keep_last,
        )
        self._turn = asyncio.Lock()  # asyncio.Lock wakes waiters in FIFO order
        self._waiting = 0
        self._active: RunOptions | None = None
        self._iteration = 0

    @property
    def model(self) -> ModelClient:
        return self.loop.model

    @property
    def store(self) -> NotificationStore:
        return self.loop.store

    def status(self) -> dict[str, Any]:
        return {
            "state": "running" if self._turn.locked() else "idle",
            "investigation": self._active.investigation if self._active else None,
            "iteration": self._iteration,
            "queued": self._waiting,
        }

    async def run(self, context: Mapping[str, Any], options: RunOptions | None = None) -> RunResult:
        """Investigate; waits its turn if another run is active. Never raises on model
        failure, timeout or cancellation: the result's ``outcome`` and ``message`` say."""
        options = options or RunOptions()
        self._waiting += 1
        try:
            await self._turn.acquire()
        finally:
            self._waiting -= 1
        try:
            self._active, self._iteration = options, 0
            return await self.loop.run(context, self._counting(options))
        finally:
            self._active = None
            self._turn.release()

    def _counting(self, options: RunOptions) -> RunOptions:
        """``options`` with a listener that also keeps :meth:`status`'s iteration."""
        listener = options.listener

        def listen(event: RunEvent) -> Any:
            self._iteration = event.iteration
            return listener(event) if listener is not None else None

        return dataclasses.replace(options, listener=listen)
