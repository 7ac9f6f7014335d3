"""The built-in rule-based analyst: insights from notifications, with no model.

:func:`analyze` is what runs when no LLM is configured. It is deterministic and grounded
only in what it is given: the notifications (with their snapshots), the operator
results' snapshots, and the investigation's context. Rules (:mod:`kubelens.analyst.rules`)
correlate notifications by the objects they share (a pod, a node, a claim, a rollout's
pods) and explain them by Kubernetes and Linux semantics; what no rule joins is grouped
by time (a low-confidence temporal insight) or reported on its own (symptomatic). Each
notification is cited by one insight at most. No notifications, no insights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubelens.analyst.evidence import Analysis
from kubelens.analyst.rules import RULES, Rule
from kubelens.models import Insight, Notification, OperatorResult


def analyze(
    notifications: Sequence[Notification],
    operator_results: Sequence[OperatorResult],
    context: Mapping[str, Any],
    rules: Sequence[Rule] = RULES,
) -> list[Insight]:
    """Insights explaining ``notifications``, most severe and most certain first."""
    analysis = Analysis(notifications, operator_results, context)
    if not analysis.items:
        return []
    order = {rule: index for index, rule in enumerate(rules)}
    produced: list[tuple[int, Insight]] = []
    for rule in rules:
        produced += [(order[rule], insight) for insight in rule(analysis)]
    severity = {i.id: i.notification.severity.rank for i in analysis.items}

    def rank(entry: tuple[int, Insight]) -> tuple[int, int, int, int]:
        rule_index, insight = entry
        worst = max((severity.get(n, 0) for n in insight.notification_ids), default=0)
        return (-worst, -insight.confidence.rank, -len(insight.notification_ids), rule_index)

    return [insight for _, insight in sorted(produced, key=rank)]


__all__ = ["analyze"]
