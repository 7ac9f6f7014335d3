"""An Investigation's status: one typed model, rendered to a merge patch in one place.

Only the operator writes this status. Every write is a :class:`StatusUpdate` holding
the fields that changed (``None``: left as it is); :func:`render` turns it into the
merge patch. Conditions follow metav1.Condition (type, status, reason, message,
lastTransitionTime, observedGeneration).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubelens.models import (
    Insight,
    OperatorResult,
    RunOutcome,
    RunResult,
    Usage,
    timestamp,
    utcnow,
)
from kubelens.resources import TERMINAL, Phase

__all__ = ["TERMINAL", "Phase", "StatusUpdate", "render"]

#: A snapshot kept in status is cut past this many characters of JSON: status lives in
#: etcd, where an object must stay well under 1.5 MB.
STATUS_SNAPSHOT_CAP = 2_000
MAX_INSIGHTS = 50
MAX_OPERATOR_RESULTS = 100

OUTCOME_PHASE = {
    RunOutcome.DONE: Phase.SUCCEEDED,
    RunOutcome.MAX_ITERATIONS: Phase.FAILED,
    RunOutcome.TIMEOUT: Phase.FAILED,
    RunOutcome.FAILED: Phase.FAILED,
    RunOutcome.CANCELLED: Phase.CANCELLED,
}


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str


@dataclass(frozen=True)
class StatusUpdate:
    """The status fields one write sets; ``None`` leaves a field as it is."""

    phase: Phase | None = None
    queue_position: int | None = None
    analyst: str | None = None
    message: str | None = None
    iteration: int | None = None
    insights: Sequence[Insight] | None = None
    operator_results: Sequence[OperatorResult] | None = None
    usage: Usage | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    conditions: Sequence[Condition] | None = None


def render(update: StatusUpdate, generation: int) -> dict[str, Any]:
    """The merge patch that writes ``update`` for the spec's ``generation``."""
    fields: dict[str, Any] = {
        "phase": update.phase.value if update.phase is not None else None,
        "queuePosition": update.queue_position,
        "analyst": update.analyst,
        "message": update.message,
        "iteration": update.iteration,
        "usage": update.usage.wire() if update.usage is not None else None,
        "startedAt": timestamp(update.started_at) if update.started_at else None,
        "finishedAt": timestamp(update.finished_at) if update.finished_at else None,
    }
    patch = {key: value for key, value in fields.items() if value is not None}
    if update.insights is not None:
        kept = list(update.insights)[:MAX_INSIGHTS]
        patch["insights"] = [insight.wire() for insight in kept]
        patch["insightCount"] = len(kept)
    if update.operator_results is not None:
        kept_results = list(update.operator_results)[:MAX_OPERATOR_RESULTS]
        patch["operatorResults"] = [_bounded(result) for result in kept_results]
    if update.conditions is not None:
        patch["conditions"] = [_condition(c, generation) for c in update.conditions]
    patch["observedGeneration"] = generation
    return patch


_ACCEPTED = Condition("Accepted", True, "Valid", "spec is valid")


def pending(position: int, analyst: str) -> StatusUpdate:
    message = (
        f"waiting for the namespace's coordinator: {position} investigation(s) ahead"
        if position
        else "next in line"
    )
    return StatusUpdate(
        phase=Phase.PENDING,
        queue_position=position,
        analyst=analyst,
        message=message,
        conditions=[_ACCEPTED, Condition("Complete", False, "Queued", message)],
    )


def queued_behind(position: int) -> StatusUpdate:
    return StatusUpdate(
        queue_position=position, message=f"waiting: {position} investigation(s) ahead"
    )


def running(analyst: str) -> StatusUpdate:
    message = f"investigating with {analyst}"
    return StatusUpdate(
        phase=Phase.RUNNING,
        queue_position=0,
        analyst=analyst,
        started_at=utcnow(),
        message=message,
        conditions=[_ACCEPTED, Condition("Complete", False, "Running", message)],
    )


def invalid(message: str) -> StatusUpdate:
    return StatusUpdate(
        phase=Phase.FAILED,
        message=message,
        finished_at=utcnow(),
        conditions=[
            Condition("Accepted", False, "InvalidSpec", message),
            Condition("Complete", True, "InvalidSpec", message),
        ],
    )


def finished(result: RunResult) -> StatusUpdate:
    phase = OUTCOME_PHASE[result.outcome]
    message = _outcome_message(result)
    return StatusUpdate(
        phase=phase,
        iteration=result.iterations,
        analyst=result.analyst,
        insights=result.insights,
        operator_results=result.operator_results,
        usage=result.usage,
        message=message,
        finished_at=utcnow(),
        queue_position=0,
        conditions=[
            _ACCEPTED,
            Condition("Complete", phase is Phase.SUCCEEDED, phase.value, message),
        ],
    )


def cancelled(message: str) -> StatusUpdate:
    return StatusUpdate(
        phase=Phase.CANCELLED,
        message=message,
        finished_at=utcnow(),
        queue_position=0,
        conditions=[Condition("Complete", False, Phase.CANCELLED.value, message)],
    )


def _condition(condition: Condition, generation: int) -> dict[str, Any]:
    return {
        "type": condition.type,
        "status": "True" if condition.status else "False",
        "reason": condition.reason,
        "message": condition.message[:1000],
        "lastTransitionTime": timestamp(),
        "observedGeneration": generation,
    }


def _outcome_message(result: RunResult) -> str:
    found = f"{len(result.insights)} insight(s)"
    if result.outcome is RunOutcome.DONE:
        return f"finished with {found}"
    return f"{result.message}; {found} recorded"


def _bounded(result: OperatorResult) -> dict[str, Any]:
    wire = result.wire()
    snapshot = wire.get("snapshot")
    if snapshot is not None and len(json.dumps(snapshot, default=str)) > STATUS_SNAPSHOT_CAP:
        wire["snapshot"] = {
            "note": "snapshot omitted from status (too large); "
            "see the operator logs or call the skill"
        }
    return wire
