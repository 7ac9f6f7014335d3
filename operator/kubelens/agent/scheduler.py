"""The agent's work: snapshot every node skill on a schedule, detect, write Notifications.

One :class:`Agent` per process. A *cycle* runs each skill through
:mod:`kubelens.skills.run` in a worker thread (``/proc`` and cgroup reads must not stall
the event loop, which also serves the API): snapshot, then the
:class:`~kubelens.detection.AnomalyDetector`; then it maps pod anomalies to their pods and
writes each raised notification with :func:`kubelens.notifications.publish` (create, or
bump the open one). On-demand snapshots and tool calls from the API go through the same
skills.

Concurrency: skills keep state between snapshots (previous counter readings), so each
skill has a lock, held for a snapshot or for a tool call (the detector has its own). A
thread waits a bounded time for it and otherwise reports the skill busy: a snapshot
stuck on a hung filesystem must cost one skill, not the agent.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubelens import metrics
from kubelens.agent.autoinvestigate import AutoInvestigator
from kubelens.agent.kubeapi import KubeApi, KubeApiError
from kubelens.agent.pods import PodDirectory
from kubelens.agent.retention import Retention
from kubelens.detection import AnomalyDetector
from kubelens.models import Notification, OperatorResult, ToolResult
from kubelens.notifications import publish
from kubelens.skills.base import DEFAULT_RESULT_CAP, Skill, validate_arguments
from kubelens.skills.run import observe, sweep

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Notifications kept for another try when the API server did not take them.
MAX_UNSENT = 200
#: Seconds between retention sweeps (a list of this node's Notifications each time).
RETENTION_EVERY = 600.0


class SkillBusyError(RuntimeError):
    """The skill's lock was not free in time: an earlier call is still running."""


class UnknownError(LookupError):
    """An unknown skill or tool; the message lists what exists."""


@dataclass
class CycleReport:
    """One scheduled cycle: per-skill timings, what was written, what failed."""

    started: float
    seconds: float = 0.0
    skill_seconds: dict[str, float] = field(default_factory=dict)
    raised: int = 0
    published: list[Notification] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    investigations: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


class Agent:
    """The node's skills, its detector and its writers; driven by the schedule and the API."""

    def __init__(
        self,
        node: str,
        namespace: str,
        skills: Sequence[Skill],
        api: KubeApi,
        detector: AnomalyDetector | None = None,
        pods: PodDirectory | None = None,
        retention: Retention | None = None,
        auto: AutoInvestigator | None = None,
        skill_timeout: float = 5.0,
        retention_every: float = RETENTION_EVERY,
        result_cap: int = DEFAULT_RESULT_CAP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = node
        self.namespace = namespace
        self.skills = {skill.name: skill for skill in skills}
        self.api = api
        self.detector = detector or AnomalyDetector(node=node)
        self.pods = pods or PodDirectory(api, node)
        self.retention = retention
        self.auto = auto
        self.skill_timeout = skill_timeout
        self.retention_every = retention_every
        self.result_cap = result_cap
        self.clock = clock
        self._locks = {name: threading.Lock() for name in self.skills}
        # The schedule and the API get separate threads, so a burst of slow tool calls
        # cannot delay the schedule (nor the other way round).
        self._cycle_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kubelens-cycle")
        self._api_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kubelens-api")
        self._unsent: deque[Notification] = deque(maxlen=MAX_UNSENT)
        self._next_sweep = clock()
        self.started_at = clock()
        self.last_cycle_at: float | None = None
        self.cycles = 0
        #: Durations of recent cycles (ms), for /healthz and the footprint benchmark.
        self.cycle_ms: deque[float] = deque(maxlen=256)

    # -- skills in threads -----------------------------------------------------------

    def catalog(self) -> list[dict[str, Any]]:
        return [skill.describe() for skill in self.skills.values()]

    def skill(self, name: str) -> Skill:
        found = self.skills.get(name)
        if found is None:
            known = ", ".join(sorted(self.skills)) or "none"
            raise UnknownError(f"unknown skill {name!r}; skills on this node: {known}")
        return found

    def _locked(self, name: str, work: Callable[[], T]) -> T:
        lock = self._locks[name]
        if not lock.acquire(timeout=self.skill_timeout):
            raise SkillBusyError(
                f"skill {name!r} is busy: an earlier snapshot or tool call has not finished "
                f"within {self.skill_timeout:.0f}s"
            )
        try:
            return work()
        finally:
            lock.release()

    def _read(self, skill: Skill) -> dict[str, Any]:
        """A snapshot under the skill's lock (blocking), timed for the metrics."""
        started = time.perf_counter()
        raw = self._locked(skill.name, skill.snapshot)
        metrics.SKILL_SNAPSHOT_SECONDS.labels(skill.name).observe(time.perf_counter() - started)
        return raw

    async def _in_thread(self, pool: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        # The margin lets the thread report "busy" itself before the loop gives up on it.
        return await asyncio.wait_for(
            loop.run_in_executor(pool, work), timeout=self.skill_timeout * 2 + 1
        )

    # -- writing ---------------------------------------------------------------------

    async def publish(self, raised: Sequence[Notification]) -> list[Notification]:
        """Write notifications; those the API refuses for now are retried next cycle."""
        stored: list[Notification] = []
        pending = [*self._unsent, *raised]
        self._unsent.clear()
        for index, notification in enumerate(pending):
            try:
                attributed = await self.pods.attribute(notification)
                namespace = (
                    attributed.subject.namespace
                    if attributed.subject and attributed.subject.namespace
                    else self.namespace
                )
                result, namespace = await self._publish_one(attributed, namespace)
            except KubeApiError as exc:
                log.warning("cannot write notification %s: %s", notification.id, exc)
                if exc.temporary:
                    # The API server is away or busy: keep the rest for the next cycle.
                    self._unsent.extend(pending[index:])
                    break
                continue  # refused for good (403, 422): retrying cannot help
            metrics.NOTIFICATIONS_RAISED.labels(result.skill, result.severity.value).inc()
            stored.append(result)
            if self.auto is not None:
                await self.auto.consider(result, namespace)
        return stored

    async def _publish_one(
        self, notification: Notification, namespace: str
    ) -> tuple[Notification, str]:
        """Write one notification; returns it as stored and the namespace it is in."""
        try:
            return await publish(self.api, notification, namespace), namespace
        except KubeApiError as exc:
            if not exc.not_found or namespace == self.namespace:
                raise
            # The pod's namespace is gone or going: keep the anomaly, in kubelens's own.
            return await publish(self.api, notification, self.namespace), self.namespace

    # -- the schedule ----------------------------------------------------------------

    async def cycle(self) -> CycleReport:
        """Snapshot every skill once, write what it raised, sweep old notifications."""
        report = CycleReport(started=self.clock())
        began = time.perf_counter()
        raised: list[Notification] = []
        runs = await sweep(
            self.skills.values(),
            self.detector,
            read=self._read,
            in_thread=functools.partial(self._in_thread, self._cycle_pool),
        )
        for run in runs:
            report.skill_seconds[run.skill] = run.seconds
            if run.error:
                report.errors.append(f"{run.skill}: {run.error}")
                log.warning("snapshot of %s failed: %s", run.skill, run.error)
            raised.extend(run.raised)
        report.raised = len(raised)
        if raised or self._unsent:
            report.published = await self.publish(raised)
        if self.retention is not None and self.clock() >= self._next_sweep:
            self._next_sweep = self.clock() + self.retention_every
            try:
                report.deleted = await self.retention.sweep()
            except KubeApiError as exc:
                report.errors.append(f"retention: {exc}")
                log.warning("retention sweep failed: %s", exc)
        report.seconds = time.perf_counter() - began
        self.last_cycle_at = self.clock()
        self.cycles += 1
        self.cycle_ms.append(report.seconds * 1000)
        return report

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Cycle every ``interval`` seconds until ``stop`` is set.

        Ticks are on a fixed grid: a slow cycle delays the next one, it does not shift
        every later one; missed ticks are skipped, not run back to back.
        """
        next_at = self.clock()
        while not stop.is_set():
            try:
                await self.cycle()
            except Exception:  # the schedule must outlive any one bad cycle
                log.exception("agent cycle failed")
            next_at += interval
            now = self.clock()
            if next_at <= now:
                next_at = now + interval - ((now - next_at) % interval)
            try:
                await asyncio.wait_for(stop.wait(), timeout=next_at - now)
            except TimeoutError:
                continue

    # -- on demand (the API) ---------------------------------------------------------

    async def snapshot(self, name: str) -> OperatorResult:
        """A fresh snapshot, detected and written like a scheduled one, as an OperatorResult."""
        return await observe(
            self.skill(name),
            self.detector,
            self.publish,
            source=self.node,
            result_cap=self.result_cap,
            read=self._read,
            in_thread=functools.partial(self._in_thread, self._api_pool),
        )

    def check_call(self, name: str, tool: str, arguments: Mapping[str, Any]) -> None:
        """Refuse an unknown tool or bad arguments before any work (the API's 400)."""
        skill = self.skill(name)
        found = skill.tools.get(tool)
        if found is None:
            known = ", ".join(sorted(skill.tools)) or "none"
            raise UnknownError(f"skill {name!r} has no tool {tool!r}; its tools are: {known}")
        problem = validate_arguments(found.parameters, arguments)
        if problem:
            raise ValueError(f"invalid arguments for {name}.{tool}: {problem}")

    async def call(self, name: str, tool: str, arguments: Mapping[str, Any]) -> ToolResult:
        self.check_call(name, tool, arguments)
        skill = self.skill(name)
        args = dict(arguments)

        def run() -> ToolResult:
            return skill.call(tool, args)

        return await self._in_thread(self._api_pool, lambda: self._locked(name, run))

    def healthy(self, interval: float) -> bool:
        """Cycles keep coming: the last one ended within three intervals (or a minute)."""
        since = self.last_cycle_at if self.last_cycle_at is not None else self.started_at
        return self.clock() - since <= max(3 * interval, 60.0)

    async def close(self) -> None:
        self._cycle_pool.shutdown(wait=False, cancel_futures=True)
        self._api_pool.shutdown(wait=False, cancel_futures=True)
