"""The built-in rule-based analyst, speaking the coordinator's tool protocol.

With no model configured, this stands in for the LLM: it drives the very same loop
and tools (invoke operators, read notifications, acknowledge them, produce insights,
done), deciding each turn from the conversation alone, and delegates the reasoning to
the deterministic rules in :mod:`kubelens.analyst`. Because it goes through the same
tools, everything around the loop (statuses, events, metrics) behaves as with an LLM.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from kubelens.analyst import analyze
from kubelens.coordinator.llm import Completion, Message, ToolCall, ToolSchema
from kubelens.models import Notification, OperatorResult

NAME = "rule-based"


class AnalystModel:
    name = NAME

    async def complete(self, messages: list[Message], tools: list[ToolSchema]) -> Completion:
        offered = {tool["function"]["name"] for tool in tools}
        if not offered:
            return Completion(content=_compaction_summary(messages))
        called = _called_tools(messages)
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        if "invoke_operators" in offered and "invoke_operators" not in called:
            # One call per skill, all in this turn: each result then fits whole (with its
            # snapshot) instead of every skill sharing one result's size cap.
            skills = _offered_skills(messages)
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
        if "get_notifications" in offered and "get_notifications" not in called:
            return _call(turn, "get_notifications", {"status": "all"})
        notifications = _notifications(messages)
        open_ids = [n.id for n in notifications if n.state.value == "Unread"]
        if (
            "update_notification_statuses" in offered
            and open_ids
            and ("update_notification_statuses" not in called)
        ):
            return _call(
                turn,
                "update_notification_statuses",
                {
                    "ids": open_ids,
                    "status": "acknowledged",
                    "reason": "analysing",
                },
            )
        if "produce_insight" not in called and "produce_insight" in offered:
            unresolved = [n for n in notifications if n.state.value != "Resolved"]
            insights = analyze(unresolved, _operator_results(messages), _context(messages))
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


def _call(turn: int, name: str, arguments: dict[str, Any]) -> Completion:
    return Completion(
        content=None,
        tool_calls=[ToolCall(id=f"call_{turn}_0", name=name, arguments=json.dumps(arguments))],
    )


def _called_tools(messages: list[Message]) -> set[str]:
    return {
        call["function"]["name"]
        for m in messages
        if m.get("role") == "assistant"
        for call in m.get("tool_calls") or []
    }


def _tool_payloads(messages: list[Message], name: str) -> Iterator[Any]:
    for message in messages:
        if message.get("role") == "tool" and message.get("name") == name:
            try:
                result = json.loads(message.get("content") or "{}")
            except json.JSONDecodeError:
                continue
            if result.get("status") == "ok":
                yield result.get("data")


def _notifications(messages: list[Message]) -> list[Notification]:
    latest: dict[str, Notification] = {}
    for data in _tool_payloads(messages, "get_notifications"):
        for view in (data or {}).get("notifications", []):
            view = dict(view)
            evidence = view.pop("evidence", None)
            if evidence is not None:
                view["snapshots"] = [{"data": evidence}]
            try:
                notification = Notification.model_validate(view)
            except ValidationError:
                continue
            latest[notification.id] = notification
    return list(latest.values())


def _operator_results(messages: list[Message]) -> list[OperatorResult]:
    results: list[OperatorResult] = []
    raw: list[Any] = []
    for data in _tool_payloads(messages, "invoke_operators"):
        raw.extend((data or {}).get("results", []))
    prefix = "Operator results that finished since your last turn (data):\n"
    for message in messages:
        content = message.get("content")
        if (
            message.get("role") == "user"
            and isinstance(content, str)
            and (content.startswith(prefix))
        ):
            try:
                raw.extend(json.loads(content[len(prefix) :]))
            except json.JSONDecodeError:
                continue
    for item in raw:
        try:
            results.append(OperatorResult.model_validate(item))
        except ValidationError:
            continue
    return results


def _offered_skills(messages: list[Message]) -> list[str]:
    """Skill names from the opening message's skills section (``- name: description``)."""
    for message in messages:
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, str):
            continue
        if "Skills (call_skill" not in content:
            continue
        section = content.split("Skills (call_skill", 1)[1].split("\n\n", 1)[0]
        return [
            line[2:].split(":", 1)[0]
            for line in section.splitlines()
            if line.startswith("- ") and ":" in line
        ]
    return []


def _context(messages: list[Message]) -> dict[str, Any]:
    for message in messages:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str):
            lines = content.splitlines()
            if len(lines) > 1 and lines[0].startswith("Investigation context"):
                try:
                    parsed = json.loads(lines[1])
                except json.JSONDecodeError:
                    return {}
                return parsed if isinstance(parsed, dict) else {}
    return {}


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
