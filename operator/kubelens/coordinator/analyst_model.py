"""The built-in rule-based analyst, speaking the coordinator's tool protocol.

With no model configured, this stands in for the LLM: it drives the very same loop
and tools (invoke operators, read notifications, acknowledge them, produce insights,
done), deciding each turn from the run's ledger (the objects the loop holds, never the
prompts' text), and delegates the reasoning to
the deterministic rules in :mod:`kubelens.analyst`. Because it goes through the same
tools, everything around the loop (statuses, events, metrics) behaves as with an LLM.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kubelens.analyst import analyze
from kubelens.coordinator.ledger import Ledger
from kubelens.coordinator.llm import Completion, Message, ToolCall, ToolSchema

NAME = "rule-based"


class AnalystModel:
    """Decides each turn from the run's :class:`Ledger`, never from the conversation."""

    name = NAME

    async def complete(
        self, messages: list[Message], tools: list[ToolSchema], evidence: Ledger | None = None
    ) -> Completion:
        offered = {tool["function"]["name"] for tool in tools}
        if not offered:
            return Completion(content=_compaction_summary(messages))
        ledger = evidence or Ledger(context={}, skills=[])
        turn = len(ledger.calls)
        if "invoke_operators" in offered and not ledger.called("invoke_operators"):
            return _sweep(turn, ledger.skills)
        if "get_notifications" in offered and not ledger.called("get_notifications"):
            return _call(turn, "get_notifications", {"status": "all"})
        notifications = list(ledger.notifications.values())
        open_ids = [n.id for n in notifications if n.state.value == "Unread"]
        if (
            "update_notification_statuses" in offered
            and open_ids
            and not ledger.called("update_notification_statuses")
        ):
            arguments = {"ids": open_ids, "status": "acknowledged", "reason": "analysing"}
            return _call(turn, "update_notification_statuses", arguments)
        if "produce_insight" in offered and not ledger.called("produce_insight"):
            unresolved = [n for n in notifications if n.state.value != "Resolved"]
            insights = analyze(
                unresolved, ledger.operator_results, ledger.context, cluster=ledger.cluster
            )
            calls = [
                ToolCall(
                    id=f"call_{turn}_{index}",
                    name="produce_insight",
                    arguments=json.dumps(_insight_arguments(insight)),
                )
                for index, insight in enumerate(insights)
            ]
            if calls:
                return Completion(content=None, tool_calls=calls)
        return _call(turn, "done", {})

    def count_tokens(self, messages: list[Message], tools: list[ToolSchema] | None = None) -> int:
        return len(json.dumps(messages, default=str)) // 4


def _sweep(turn: int, skills: Sequence[str]) -> Completion:
    """One invoke_operators call per skill, all in this turn: each result then fits whole
    (with its snapshot) instead of every skill sharing one result's size cap."""
    if not skills:
        return _call(turn, "invoke_operators", {"skills": [], "context": "initial sweep"})
    return Completion(
        content=None,
        tool_calls=[
            ToolCall(
                id=f"call_{turn}_{index}",
                name="invoke_operators",
                arguments=json.dumps({"skills": [skill], "context": "initial sweep"}),
            )
            for index, skill in enumerate(skills)
        ],
    )


def _call(turn: int, name: str, arguments: dict[str, Any]) -> Completion:
    return Completion(
        content=None,
        tool_calls=[ToolCall(id=f"call_{turn}_0", name=name, arguments=json.dumps(arguments))],
    )


def _insight_arguments(insight: Any) -> dict[str, Any]:
    return {
        "notification_ids": insight.notification_ids,
        "correlation_type": insight.correlation_type.value,
        "summary": insight.summary,
        "matched_observations": insight.matched_observations,
        "hypothesis_grounded": insight.hypothesis_grounded,
        "root_cause_hypothesis": insight.root_cause_hypothesis,
        "confidence": insight.confidence.value,
        "evidence": insight.evidence,
        "next_steps": insight.next_steps,
        "subjects": [s.wire() for s in insight.subjects],
    }


def _compaction_summary(messages: list[Message]) -> str:
    return f"{len(messages)} earlier messages compacted by the rule-based analyst."
