"""What a run has gathered so far, as the objects the loop holds.

The conversation is the model's view of the investigation: prose, capped and redacted
JSON. The ledger is the same investigation as data: the context uncut, the skills on
offer, every operator result the loop collected, the notifications it has shown, and
the tools called. The loop hands it to the model client with every turn; an LLM client
ignores it, the built-in rule-based analyst reasons from it alone and never parses the
prompts (so rewording a prompt, or a context too long for the opening message, cannot
change what it concludes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubelens.models import Notification, OperatorResult
from kubelens.redact import redact

if TYPE_CHECKING:  # a node-only run stays off the cluster code
    from kubelens.skills.cluster.source import ClusterSource


@dataclass
class Ledger:
    #: The investigation's context exactly as given (reason, namespace, node, alert…).
    context: Mapping[str, Any]
    #: Names of the skills this run may invoke, in catalog order.
    skills: Sequence[str]
    #: Every operator result collected so far, redacted (the run result's own list).
    operator_results: list[OperatorResult] = field(default_factory=list)
    #: The latest version of each notification the loop has shown, redacted, by id.
    notifications: dict[str, Notification] = field(default_factory=dict)
    #: Names of the tools dispatched so far, in order.
    calls: list[str] = field(default_factory=list)
    #: The objects the cluster skills read (None when the run has no cluster skills).
    cluster: ClusterSource | None = None

    def saw(self, notifications: Sequence[Notification]) -> None:
        for notification in notifications:
            clean = Notification.model_validate(redact(notification.model_dump()))
            self.notifications[clean.id] = clean

    def called(self, tool: str) -> bool:
        return tool in self.calls
