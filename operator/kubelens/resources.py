"""Names of kubelens's resources and labels, and the client shape that writes them.

Kept free of the kubernetes client so the node agent (which talks to the API over its
own small aiohttp client to stay light) and the operator share one definition.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol

GROUP = "kubelens.io"
VERSION = "v1alpha1"
INVESTIGATIONS = "investigations"
NOTIFICATIONS = "notifications"

LABEL_NODE = "kubelens.io/node"
LABEL_SKILL = "kubelens.io/skill"
LABEL_SEVERITY = "kubelens.io/severity"
LABEL_FINGERPRINT = "kubelens.io/fingerprint"
LABEL_ALERT_GROUP = "kubelens.io/alert-group"

#: Set (to the reason) by whoever wants an Investigation that has not started yet
#: dropped, e.g. the webhook when the alert group resolves; the operator, the only
#: writer of an Investigation's status, then cancels it. A started one runs on.
ANNOTATION_CANCEL_IF_PENDING = "kubelens.io/cancel-if-pending"


class Phase(StrEnum):
    """An Investigation's ``status.phase``."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


TERMINAL = frozenset({Phase.SUCCEEDED.value, Phase.FAILED.value, Phase.CANCELLED.value})

#: Phases in which an Investigation has not started ("" = no status yet).
NOT_STARTED = frozenset({"", Phase.PENDING.value})


def label_value(value: str) -> str:
    """A string made safe as a label value (63 characters, alphanumeric ends)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in value)[:63]
    return cleaned.strip("-_.") or "none"


class KubeError(RuntimeError):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    @property
    def temporary(self) -> bool:
        return self.status in (0, 409, 429) or self.status >= 500

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


class ResourceClient(Protocol):
    """What writing kubelens's own resources needs: the operator's CustomObjects and the
    agent's KubeApi both have it."""

    async def list(
        self, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> builtins.list[dict[str, Any]]: ...

    async def create(
        self, plural: str, namespace: str, body: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]: ...
