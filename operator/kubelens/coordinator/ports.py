"""What the coordinator needs from the world, as protocols.

The same loop runs on a laptop (in-memory notifications, skills in-process), in the
operator (Notification resources, cluster skills and node agents over HTTP) and in
replay (recorded files). Each place supplies these two ports.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, Protocol

from kubelens.models import Notification, NotificationState, OperatorResult, ToolResult


class NotificationStore(Protocol):
    async def list(self, state: NotificationState | None = None) -> list[Notification]:
        """Notifications in scope, optionally only those in one state."""
        ...

    async def add(self, notifications: Sequence[Notification]) -> builtins.list[Notification]:
        """Record notifications raised during the run; repeats of a fingerprint merge."""
        ...

    async def transition(
        self,
        ids: Sequence[str],
        state: NotificationState,
        reason: str,
        insight_id: str | None = None,
    ) -> builtins.list[str]:
        """Move notifications to ``state``; returns the ids that exist and moved."""
        ...


class Operators(Protocol):
    """Runs skills wherever they live and reports back.

    An implementation whose skills read the Kubernetes API may also expose
    ``cluster_source`` (the ClusterSource they read): the loop then reads the objects an
    alert names through it, and hands it to the rule-based analyst, which builds its
    causal graph from the same objects. Optional: node-only operators have none.
    """

    def catalog(self) -> builtins.list[dict[str, Any]]:
        """Each skill's name, description and tools (with parameter schemas)."""
        ...

    async def invoke(self, skill: str, context: str) -> builtins.list[OperatorResult]:
        """Snapshot one skill on every source in scope; results carry raised notification ids."""
        ...

    async def call(self, skill: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        """Run one read-only tool of one skill."""
        ...
