"""The built-in rule-based analyst: insights from evidence, with no model.

:func:`analyze` is what runs when no LLM is configured. It is deterministic and grounded
only in what it is given: the notifications (with their snapshots), the operator
results' snapshots, the investigation's context and, when the run reads a cluster, the
objects themselves. With a cluster it first builds the causal evidence graph
(:mod:`kubelens.graph`) and reports one insight per causal chain, from the symptoms the
question names to the deepest failing object that explains them, with or without a
Notification. Notifications no chain cites go to the rules
(:mod:`kubelens.analyst.rules`), which correlate them by the objects they share and
explain them by Kubernetes and Linux semantics; what no rule joins is grouped by time
or reported on its own. Each notification is cited by one insight at most.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kubelens.analyst.evidence import Analysis
from kubelens.analyst.rules import RULES, Rule
from kubelens.models import Insight, Notification, OperatorResult

if TYPE_CHECKING:
    from kubelens.graph.model import Graph
    from kubelens.skills.cluster.source import ClusterSource


def analyze(
    notifications: Sequence[Notification],
    operator_results: Sequence[OperatorResult],
    context: Mapping[str, Any],
    rules: Sequence[Rule] = RULES,
    cluster: ClusterSource | None = None,
) -> list[Insight]:
    """Insights explaining what is failing: chains that end in a stated cause first, then
    the rules over the notifications no such chain cites, then open-ended chains (the
    deepest failing object says what fails, not why) whose objects nothing else named."""
    graph, concluded, open_ended = _causal_insights(
        notifications, operator_results, context, cluster
    )
    cited = {n for insight in concluded for n in insight.notification_ids}
    rest = [n for n in notifications if n.id not in cited]
    ruled = _rule_insights(rest, operator_results, context, rules)
    if graph is not None:
        skills = {n.id: n.skill for n in notifications}
        ruled = [i for i in ruled if not _about_recovered_pods(graph, i, skills)]
    told = concluded + ruled
    cited |= {n for insight in ruled for n in insight.notification_ids}
    extra = [i for i in open_ended if not _named_by(i, told)]
    for insight in extra:
        insight.notification_ids = [n for n in insight.notification_ids if n not in cited]
    return told + extra


def _causal_insights(
    notifications: Sequence[Notification],
    operator_results: Sequence[OperatorResult],
    context: Mapping[str, Any],
    cluster: ClusterSource | None,
) -> tuple[Graph | None, list[Insight], list[Insight]]:
    """The graph, and its chains as insights: (ending in a stated cause, open-ended)."""
    namespace = context.get("namespace")
    if cluster is None or not isinstance(namespace, str) or not namespace:
        return None, [], []
    from kubelens.analyst.causal import insight_for, named_refs
    from kubelens.graph import build_graph, root_causes

    graph = build_graph(cluster, namespace, operator_results, str(context.get("reason") or ""))
    analysis = Analysis(notifications, operator_results, context)
    concluded: list[Insight] = []
    open_ended: list[Insight] = []
    for cause in root_causes(graph, namespace, named_refs(graph, context)):
        bucket = concluded if cause.concluded else open_ended
        bucket.append(insight_for(graph, cause, analysis))
    return graph, concluded, open_ended


def _about_recovered_pods(graph: Graph, insight: Insight, skills: Mapping[str, str]) -> bool:
    """The insight rests only on what Kubernetes reported (restarts, probe events) about
    pods the cluster shows healthy now — an old restart, a probe that failed twice and
    passes again: history, not the incident. Node-level findings (a leak, throttling)
    are current whatever the pod's state, and stay."""
    from kubelens.graph.model import Ref

    if any(skills.get(n) not in _CLUSTER_SKILLS for n in insight.notification_ids):
        return False
    pods = [Ref("Pod", s.namespace, s.name) for s in insight.subjects if s.kind == "Pod"]
    others = [s for s in insight.subjects if s.kind not in ("Pod", "Container")]
    if not pods or others:
        return False
    return all(graph.exists(p) and not graph.failing(p) for p in pods)


_CLUSTER_SKILLS = frozenset({"pods", "events", "logs", "workloads", "services", "nodes"})


def _named_by(insight: Insight, others: Sequence[Insight]) -> bool:
    names = {s.name for s in insight.subjects}
    return any(
        names & {s.name for s in other.subjects} or any(n in other.summary for n in names)
        for other in others
    )


def _rule_insights(
    notifications: Sequence[Notification],
    operator_results: Sequence[OperatorResult],
    context: Mapping[str, Any],
    rules: Sequence[Rule],
) -> list[Insight]:
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
