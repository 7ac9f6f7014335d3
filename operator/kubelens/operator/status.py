"""How an Investigation's status is written: a phase, conditions, and the results.

Status is always a merge patch of the fields that changed; conditions follow
metav1.Condition (type, status, reason, message, lastTransitionTime,
observedGeneration).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from kubelens.models import Insight, OperatorResult, RunOutcome, RunResult, utcnow

#: A snapshot kept in status is cut past this many characters of JSON: status lives in
#: etcd, where an object must stay well under 1.5 MB.
STATUS_SNAPSHOT_CAP = 2_000
MAX_INSIGHTS = 50
MAX_OPERATOR_RESULTS = 100


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


TERMINAL = frozenset({Phase.SUCCEEDED.value, Phase.FAILED.value, Phase.CANCELLED.value})

OUTCOME_PHASE = {
    RunOutcome.DONE: Phase.SUCCEEDED,
    RunOutcome.MAX_ITERATIONS: Phase.FAILED,
    RunOutcome.TIMEOUT: Phase.FAILED,
    RunOutcome.FAILED: Phase.FAILED,
    RunOutcome.CANCELLED: Phase.CANCELLED,
}


def condition(
    type_: str, status: bool, reason: str, message: str, generation: int
) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message[:1000],
        "lastTransitionTime": utcnow().isoformat().replace("+00:00", "Z"),
        "observedGeneration": generation,
    }


def pending(position: int, generation: int, analyst: str) -> dict[str, Any]:
    message = (
        f"waiting for the namespace's coordinator: {position} investigation(s) ahead"
        if position
        else "next in line"
    )
    return {
        "phase": Phase.PENDING.value,
        "queuePosition": position,
        "analyst": analyst,
        "message": message,
        "observedGeneration": generation,
        "conditions": [
            condition("Accepted", True, "Valid", "spec is valid", generation),
            condition("Complete", False, "Queued", message, generation),
        ],
    }


def running(generation: int, analyst: str) -> dict[str, Any]:
    return {
        "phase": Phase.RUNNING.value,
        "queuePosition": 0,
        "analyst": analyst,
        "startedAt": _now(),
        "message": f"investigating with {analyst}",
        "observedGeneration": generation,
        "conditions": [
            condition("Accepted", True, "Valid", "spec is valid", generation),
            condition("Complete", False, "Running", f"investigating with {analyst}", generation),
        ],
    }


def invalid(message: str, generation: int) -> dict[str, Any]:
    return {
        "phase": Phase.FAILED.value,
        "message": message,
        "observedGeneration": generation,
        "finishedAt": _now(),
        "conditions": [
            condition("Accepted", False, "InvalidSpec", message, generation),
            condition("Complete", True, "InvalidSpec", message, generation),
        ],
    }


def progress(iteration: int, insights: Sequence[Insight]) -> dict[str, Any]:
    return {"iteration": iteration, **insight_fields(insights)}


def insight_fields(insights: Sequence[Insight]) -> dict[str, Any]:
    kept = list(insights)[:MAX_INSIGHTS]
    return {"insights": [i.wire() for i in kept], "insightCount": len(kept)}


def finished(result: RunResult, generation: int) -> dict[str, Any]:
    phase = OUTCOME_PHASE[result.outcome]
    message = _outcome_message(result)
    return {
        "phase": phase.value,
        "iteration": result.iterations,
        "analyst": result.analyst,
        **insight_fields(result.insights),
        "operatorResults": [_bounded(r) for r in result.operator_results[:MAX_OPERATOR_RESULTS]],
        "usage": result.usage.wire(),
        "message": message,
        "finishedAt": _now(),
        "queuePosition": 0,
        "observedGeneration": generation,
        "conditions": [
            condition("Accepted", True, "Valid", "spec is valid", generation),
            condition("Complete", phase is Phase.SUCCEEDED, phase.value, message, generation),
        ],
    }


def cancelled(message: str, generation: int) -> dict[str, Any]:
    return {
        "phase": Phase.CANCELLED.value,
        "message": message,
        "finishedAt": _now(),
        "queuePosition": 0,
        "observedGeneration": generation,
        "conditions": [
            condition("Complete", False, Phase.CANCELLED.value, message, generation),
        ],
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


def _now() -> str:
    return utcnow().isoformat().replace("+00:00", "Z")
