"""How a finished run reads: a text report for people, one JSON object for programs."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from kubelens.coordinator.analyst_model import NAME as ANALYST_NAME
from kubelens.coordinator.core import RunEvent
from kubelens.models import RunOutcome, RunResult, ToolStatus


def as_json(result: RunResult) -> str:
    wire = result.wire()
    return json.dumps(
        {
            "insights": wire.get("insights", []),
            "operator_results": wire.get("operatorResults", []),
            "usage": wire.get("usage", {}),
        },
        indent=2,
        sort_keys=False,
    )


def as_text(result: RunResult, reason: str = "") -> str:
    lines: list[str] = []
    analyst = (
        "built-in rule-based analyst (no model configured)"
        if result.analyst == ANALYST_NAME
        else f"model {result.analyst}"
    )
    lines.append("kubelens investigation")
    if reason:
        lines.append(f"  reason:   {reason}")
    lines.append(f"  analyst:  {analyst}")
    lines.append(
        f"  outcome:  {result.outcome.value} after {result.iterations} iteration(s)"
        + (f" ({result.message})" if result.outcome is not RunOutcome.DONE else "")
    )
    lines.append("")
    if result.insights:
        lines.append(f"Insights ({len(result.insights)})")
        for index, insight in enumerate(result.insights, 1):
            lines.append(
                f"  {index}. [{insight.confidence.value} confidence, "
                f"{insight.correlation_type.value}] {insight.summary}"
            )
            if insight.root_cause_hypothesis:
                grounded = "grounded" if insight.hypothesis_grounded else "not yet grounded"
                lines.append(f"     root cause ({grounded}): {insight.root_cause_hypothesis}")
            for item in insight.evidence:
                lines.append(f"     evidence: {item}")
            for step in insight.next_steps:
                lines.append(f"     next: {step}")
            if insight.notification_ids:
                lines.append(f"     notifications: {', '.join(insight.notification_ids)}")
    else:
        lines.append("Insights: none. Nothing anomalous enough to explain was found.")
    lines.append("")
    lines.append(f"Operator results ({len(result.operator_results)})")
    for op in result.operator_results:
        status = op.status.value if op.status is ToolStatus.OK else f"{op.status.value.upper()}"
        detail = op.summary or op.error or ""
        raised = f", raised {len(op.notification_ids)}" if op.notification_ids else ""
        lines.append(
            f"  - {op.skill}@{op.source}: {status} ({op.duration_ms:.0f} ms{raised})"
            + (f" {detail}" if detail else "")
        )
    usage = result.usage
    lines.append("")
    lines.append(
        f"Usage: {usage.llm_calls} LLM call(s), {usage.prompt_tokens} prompt + "
        f"{usage.completion_tokens} completion tokens, cost ${usage.cost:.4f}, "
        f"{usage.tool_calls} tool call(s)"
    )
    return "\n".join(lines) + "\n"


class Progress:
    """A one-line live display on a terminal's stderr; silent elsewhere."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self.insights = 0

    def __call__(self, event: RunEvent) -> None:
        if not self.enabled:
            return
        if event.kind == "insight":
            self.insights += 1
        detail: dict[str, Any] = dict(event.data)
        text = {
            "started": f"starting with {detail.get('notifications', 0)} notification(s)",
            "iteration": "thinking",
            "tool": f"{detail.get('tool')} → {detail.get('status')}",
            "insight": "insight recorded",
            "compacted": "compacted the conversation",
            "finished": f"finished: {detail.get('outcome')}",
        }.get(event.kind, event.kind)
        elapsed = time.monotonic() - self.started
        self.stream.write(
            f"\r\033[K[{elapsed:5.1f}s] iteration {event.iteration}, "
            f"{self.insights} insight(s): {text}"
        )
        if event.kind == "finished":
            self.stream.write("\r\033[K")
        self.stream.flush()
