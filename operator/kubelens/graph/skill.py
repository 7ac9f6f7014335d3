"""The ``graph`` skill: the causal evidence graph, as the model sees it.

The same graph the rule-based analyst walks (:mod:`kubelens.graph`), in few tokens: the
ranked root-cause candidates with the hops that prove them, the dependency chain of one
object with the health of each hop, and the pods sharing a node. It reads the cluster
only (the node agents' cgroup and process data arrive through their own skills).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kubelens.graph import Graph, Ref, build_graph, root_causes
from kubelens.graph.causes import Cause, Hop, describe
from kubelens.models import ToolResult
from kubelens.skills.cluster.common import ClusterSkill, container_statuses, resources, section
from kubelens.skills.cluster.source import ClusterSource
from kubelens.skills.fit import clip
from kubelens.skills.params import NAME, NAMESPACE, enum, integer, params

#: Candidates in the snapshot, and hops shown per chain.
SNAPSHOT_CAUSES = 3
#: How long one graph serves repeated tool calls (one turn's calls share it).
GRAPH_TTL_S = 20.0
OBSERVATION_CAP = 240
KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
    "Service",
    "PersistentVolumeClaim",
    "Node",
)


class GraphSkill(ClusterSkill):
    name = "graph"
    description = "Causal graph: ranked root causes with their hops; an object's dependency chain."

    prompt = (
        "graph: start with root_causes; each candidate is a chain from a failing object "
        "to the deepest failing dependency, every hop with the observation that proves it. "
        "Check a candidate with chain(kind, name) and the raw tools before you conclude."
    )

    def __init__(self, source: ClusterSource, namespace: str | None = None) -> None:
        super().__init__(source, namespace)
        self._cache: dict[str, tuple[float, Graph]] = {}
        self.add_tool(
            "root_causes",
            "Failing objects of a namespace and the deepest failing dependency that "
            "explains each, ranked, with every hop's evidence and what is ruled out.",
            params(namespace=NAMESPACE, limit=integer(1, 10)),
            self.causes,
        )
        self.add_tool(
            "chain",
            "One object's dependencies (owner chain, node, claims, config, Services it "
            "calls, backends) with each one's health, and its best causal chain.",
            params(["kind", "name"], kind=enum(KINDS), name=NAME, namespace=NAMESPACE),
            self.chain,
        )
        self.add_tool(
            "node_neighbours",
            "Every pod on a node (all namespaces): state, restarts, requests and limits, "
            "and the node's own findings.",
            params(["node"], node=NAME),
            self.node_neighbours,
        )

    def graph(self, namespace: str) -> Graph:
        cached = self._cache.get(namespace)
        if cached and time.monotonic() - cached[0] < GRAPH_TTL_S:
            return cached[1]
        graph = build_graph(self.source, namespace)
        self._cache[namespace] = (time.monotonic(), graph)
        return graph

    def _home(self, arguments: Mapping[str, Any]) -> str | None:
        return str(arguments.get("namespace") or self.namespace or "") or None

    def snapshot(self) -> dict[str, Any]:
        if not self.namespace:
            return {"note": "the graph is built per namespace; call root_causes with one"}
        return {"namespace": self.namespace, **self._causes(self.namespace, SNAPSHOT_CAUSES)}

    def summarize(self, snapshot: Mapping[str, Any]) -> str:
        causes = snapshot.get("candidates") or []
        if not causes:
            return "no failing object to explain"
        return f"{len(causes)} root-cause candidates; first: {causes[0].get('cause')}"

    def causes(self, namespace: str | None = None, limit: int = 5) -> ToolResult:
        home = namespace or self.namespace
        if not home:
            return ToolResult.fail("give a namespace: the graph is built per namespace")
        found = self._causes(home, limit)
        if not found["candidates"]:
            return ToolResult.empty(f"no failing object in namespace {home}")
        return ToolResult.ok(found)

    def _causes(self, namespace: str, limit: int) -> dict[str, Any]:
        graph = self.graph(namespace)
        ranked = sorted(root_causes(graph, namespace), key=lambda c: -c.confidence.rank)
        return {"candidates": [_candidate(c) for c in ranked[:limit]]}

    def chain(self, kind: str, name: str, namespace: str | None = None) -> ToolResult:
        home = namespace or self.namespace
        if not home:
            return ToolResult.fail("give a namespace: the graph is built per namespace")
        graph = self.graph(home)
        ref = Ref(kind, None if kind == "Node" else home, name)
        if ref not in graph.objects:
            return ToolResult.fail(f"{kind} {name} is not in namespace {home}'s graph")
        view = dict(describe(graph, ref))
        owner = graph.workload(ref)
        if owner != ref:
            view["owned_by"] = str(owner)
        for cause in root_causes(graph, home, [ref]):
            if cause.symptom == ref or ref in [h.ref for h in cause.hops]:
                view["chain"] = [_hop(h) for h in cause.hops]
                break
        return ToolResult.ok(view)

    def node_neighbours(self, node: str) -> ToolResult:
        pods = self.source.list("Pod", None, field_selector=f"spec.nodeName={node}")
        if not pods:
            return ToolResult.empty(f"no pod runs on node {node}")
        rows = [_neighbour(p) for p in pods]
        rows.sort(key=lambda r: (r["ready"], -r["restarts"]))
        graph = self.graph(str(rows[0]["namespace"]))
        node_ref = Ref("Node", None, node)
        return ToolResult.ok(
            {
                "node": node,
                "node_findings": [f.text for f in graph.findings.get(node_ref, [])],
                "pods": rows,
                "note": "requests and limits from the specs; live use is in the node "
                "agents' containers and processes skills",
            }
        )


def _candidate(cause: Cause) -> dict[str, Any]:
    return {
        "symptom": str(cause.symptom),
        "cause": str(cause.end.ref),
        "confidence": cause.confidence.value,
        "hops": [_hop(h) for h in cause.hops],
        "also_explains": [str(r) for r in cause.also],
        "ruled_out": cause.ruled_out,
    }


def _hop(hop: Hop) -> str:
    how = f"{hop.via.relation.value} " if hop.via else ""
    meaning = next((f.meaning for f in hop.findings if f.conclusive and f.meaning), "")
    text = f"{how}{hop.ref}: {hop.observation()}" + (f" — {meaning}" if meaning else "")
    return clip(text, OBSERVATION_CAP * 2)


def _neighbour(pod: Mapping[str, Any]) -> dict[str, Any]:
    statuses = container_statuses(pod)
    specs = section(pod, "spec").get("containers") or []
    return {
        "namespace": section(pod, "metadata").get("namespace"),
        "pod": section(pod, "metadata").get("name"),
        "phase": section(pod, "status").get("phase"),
        "ready": all(s.get("ready") for s in statuses) if statuses else False,
        "restarts": sum(int(s.get("restartCount") or 0) for s in statuses),
        "resources": {str(c.get("name")): resources(c) for c in specs},
    }


__all__ = ["GraphSkill"]
