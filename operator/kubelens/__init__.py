"""kubelens: LLM-driven runtime investigation for Kubernetes.

The library API mirrors beamlens's Coordinator::

    import kubelens

    result = kubelens.run({"reason": "why is this machine slow?"})   # scripts
    coordinator = kubelens.Coordinator(model="openai/gpt-4o-mini")   # async code
    result = await coordinator.run({"reason": "..."}, max_iterations=10)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from kubelens.coordinator import Coordinator, ModelClient
from kubelens.models import (
    Insight,
    Notification,
    OperatorResult,
    RunOutcome,
    RunResult,
    Severity,
    Usage,
)

__all__ = [
    "Coordinator",
    "Insight",
    "ModelClient",
    "Notification",
    "OperatorResult",
    "RunOutcome",
    "RunResult",
    "Severity",
    "Usage",
    "run",
]


def run(
    context: Mapping[str, Any],
    *,
    model: ModelClient | str | None = None,
    notifications: Sequence[Notification] = (),
    max_iterations: int = 25,
    timeout: float = 300.0,
    skills: Sequence[str] | None = None,
) -> RunResult:
    """Investigate this machine synchronously (for scripts); see :class:`Coordinator`."""
    coordinator = Coordinator(model=model)
    return asyncio.run(
        coordinator.run(
            context, notifications, max_iterations=max_iterations, timeout=timeout, skills=skills
        )
    )
