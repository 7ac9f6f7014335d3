"""kubelens: LLM-driven runtime investigation for Kubernetes.

The library API mirrors beamlens's Coordinator::

    import kubelens

    result = kubelens.run({"reason": "why is this machine slow?"})   # scripts
    coordinator = kubelens.Coordinator(model="openai/gpt-4o-mini")   # async code
    result = await coordinator.run({"reason": "..."}, kubelens.RunOptions(max_iterations=10))
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kubelens.models import (
    Insight,
    Notification,
    OperatorResult,
    RunOutcome,
    RunResult,
    Severity,
    Usage,
)

if TYPE_CHECKING:
    from kubelens.coordinator import Coordinator, ModelClient, RunOptions

__all__ = [
    "Coordinator",
    "Insight",
    "ModelClient",
    "Notification",
    "OperatorResult",
    "RunOptions",
    "RunOutcome",
    "RunResult",
    "Severity",
    "Usage",
    "run",
]


def __getattr__(name: str) -> Any:
    """The coordinator, loaded on first use: the node agent imports this package too and
    must not load the tool loop (or litellm) with it."""
    if name in ("Coordinator", "ModelClient", "RunOptions"):
        from kubelens import coordinator

        return getattr(coordinator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run(
    context: Mapping[str, Any],
    options: RunOptions | None = None,
    *,
    model: ModelClient | str | None = None,
) -> RunResult:
    """Investigate this machine synchronously (for scripts); see :class:`Coordinator`."""
    from kubelens.coordinator import Coordinator

    return asyncio.run(Coordinator(model=model).run(context, options))
