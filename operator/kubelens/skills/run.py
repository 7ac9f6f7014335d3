"""Where a skill runs: snapshot → detect → store or publish → redact and cap → OperatorResult.

Every caller goes through here: the agent's schedule and its on-demand snapshots, the
in-process operators of ``investigate``, the operator and replay, and the warm-up
samples of ``investigate`` and replay. Callers differ only in how the blocking part runs
(a thread of their own pool, a lock per skill) and where notifications go (the agent
publishes Notification CRs, a local run keeps them in memory), so those are arguments.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from kubelens.detection import AnomalyDetector
from kubelens.models import (
    Notification,
    OperatorResult,
    ToolResult,
    ToolStatus,
    on_recorded_clock,
)
from kubelens.redact import redact
from kubelens.skills.base import DEFAULT_RESULT_CAP, Skill, cap_result

#: Reads one snapshot of a skill (blocking); the agent's holds the skill's lock.
Read = Callable[[Skill], dict[str, Any]]
#: Keeps raised notifications and returns them as stored (merged, published).
Store = Callable[[Sequence[Notification]], Awaitable[list[Notification]]]
#: Runs blocking work off the event loop (the agent: in its own pool, with a timeout).
InThread = Callable[[Callable[[], "SkillRun"]], Awaitable["SkillRun"]]


@dataclass
class SkillRun:
    """What one snapshot of one skill produced (``raw`` is None when the snapshot failed)."""

    skill: str
    raw: dict[str, Any] | None
    raised: list[Notification]
    seconds: float
    error: str | None = None


def _snapshot(skill: Skill) -> dict[str, Any]:
    return skill.snapshot()


def snapshot_and_detect(
    skill: Skill, detector: AnomalyDetector, read: Read = _snapshot
) -> SkillRun:
    """Snapshot ``skill`` and judge it (blocking: call it in a thread); never raises."""
    started = time.perf_counter()
    try:
        raw = read(skill)
    except Exception as exc:  # a broken /proc file or API error is the skill's, not ours
        return SkillRun(skill.name, None, [], time.perf_counter() - started, _text(exc))
    seconds = time.perf_counter() - started
    try:
        raised = detector.observe(skill, raw)
    except Exception as exc:
        return SkillRun(skill.name, raw, [], seconds, f"detection failed: {exc}")
    return SkillRun(skill.name, raw, raised, seconds)


async def _to_thread(work: Callable[[], SkillRun]) -> SkillRun:
    return await asyncio.to_thread(work)


async def sweep(
    skills: Iterable[Skill],
    detector: AnomalyDetector,
    *,
    read: Read = _snapshot,
    in_thread: InThread = _to_thread,
) -> list[SkillRun]:
    """Snapshot and judge each skill in turn, one thread at a time (no results kept)."""
    runs = []
    for skill in skills:
        started = time.perf_counter()
        try:
            runs.append(await in_thread(partial(snapshot_and_detect, skill, detector, read)))
        except TimeoutError:
            runs.append(
                SkillRun(skill.name, None, [], time.perf_counter() - started, "snapshot timed out")
            )
    return runs


async def observe(
    skill: Skill,
    detector: AnomalyDetector,
    store: Store,
    *,
    source: str,
    result_cap: int = DEFAULT_RESULT_CAP,
    read: Read = _snapshot,
    in_thread: InThread = _to_thread,
) -> OperatorResult:
    """One skill run as the coordinator sees it: a redacted, capped OperatorResult."""
    started = time.perf_counter()
    run = await in_thread(partial(snapshot_and_detect, skill, detector, read))
    if run.raw is None:
        return OperatorResult(
            skill=skill.name,
            source=source,
            status=ToolStatus.ERROR,
            error=f"snapshot of {skill.name} on {source} failed: {run.error}",
            duration_ms=_ms_since(started),
        )
    stored = await store(run.raised)
    capped = cap_result(ToolResult.ok(redact(run.raw)), result_cap, hint="")
    snapshot = capped.data if isinstance(capped.data, dict) else {"value": capped.data}
    return OperatorResult(
        skill=skill.name,
        source=source,
        status=ToolStatus.OK,
        summary=skill.summarize(run.raw),
        snapshot=snapshot,
        notification_ids=[n.id for n in stored],
        error=run.error,
        duration_ms=_ms_since(started),
    )


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _ms_since(started: float) -> float:
    if on_recorded_clock():  # a replay's timings say nothing of the recorded system
        return 0.0
    return round((time.perf_counter() - started) * 1000, 2)
