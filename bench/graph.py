"""Causal graph figures: build and analysis time, and a multi-hop incident in few calls.

    python bench/graph.py

Prints ``figure value unit`` lines:

- ``graph_build_and_analysis_median`` — build the evidence graph of a namespace of 200
  pods on 20 nodes with 2,000 events (ten Deployments, one of which crash-loops on a
  database whose claim cannot be provisioned) and walk it to its root causes, as the
  rule-based analyst does. Target ≤ 100 ms.
- ``graph_objects`` / ``graph_edges`` — the size of that graph.
- ``multi_hop_model_calls`` — a model that only reads what the graph skill returns
  (``root_causes``, then an insight naming the top candidate's two ends, then done)
  solves ``tests/evals/scenarios/api-crashloop-db-claim-unprovisioned`` (four hops from
  the alert to a missing StorageClass); the figure is its number of calls, and the line
  says whether the grader passed it. Target ≤ 6.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from kubelens import evals, scenario
from kubelens.coordinator.llm import Completion, Message, ToolCall, ToolSchema
from kubelens.graph import build_graph, root_causes
from kubelens.replay import replay
from kubelens.skills.cluster import StaticSource

NAMESPACE = "shop"
PODS, NODES, EVENTS, DEPLOYMENTS = 200, 20, 2_000, 10
RUNS = 15
MULTI_HOP = (
    Path(__file__).resolve().parents[1]
    / "tests/evals/scenarios/api-crashloop-db-claim-unprovisioned"
)


def _meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, **extra}


def _pod(index: int, app: str, failing: bool) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {"startedAt": "2026-11-18T10:00:00Z"}}
    if failing:
        state = {"waiting": {"reason": "CrashLoopBackOff"}}
    return {
        "kind": "Pod",
        "metadata": _meta(
            f"{app}-7d9f-{index:05d}",
            labels={"app": app},
            uid=f"uid-{index}",
            ownerReferences=[{"kind": "ReplicaSet", "name": f"{app}-7d9f", "controller": True}],
        ),
        "spec": {
            "nodeName": f"node-{index % NODES}",
            "containers": [{"name": "app", "image": f"{app}:1",
                            "env": [{"name": "DB_HOST", "value": "postgres:5432"}]}],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": str(not failing),
                            "lastTransitionTime": "2026-11-18T12:00:00Z"}],
            "containerStatuses": [{
                "name": "app", "ready": not failing, "restartCount": 7 if failing else 0,
                "state": state,
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1,
                                             "finishedAt": "2026-11-18T12:59:00Z"}}
                if failing else {},
            }],
        },
    }


def synthetic_namespace() -> StaticSource:
    objects: list[dict[str, Any]] = [
        {"kind": "Node", "metadata": {"name": f"node-{n}"},
         "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        for n in range(NODES)
    ]
    per = PODS // DEPLOYMENTS
    for d in range(DEPLOYMENTS):
        app = f"app{d}"
        failing = d == 0
        objects.append({"kind": "Deployment", "metadata": _meta(app),
                        "spec": {"replicas": per},
                        "status": {"availableReplicas": 0 if failing else per}})
        objects.append({"kind": "ReplicaSet", "metadata": _meta(
            f"{app}-7d9f", ownerReferences=[{"kind": "Deployment", "name": app,
                                             "controller": True}]),
            "spec": {"replicas": per}, "status": {"readyReplicas": 0 if failing else per}})
        objects += [_pod(d * per + i, app, failing) for i in range(per)]
    objects += [
        {"kind": "Service", "metadata": _meta("postgres"),
         "spec": {"selector": {"app": "postgres"}, "clusterIP": "10.0.0.9"}},
        {"kind": "Pod", "metadata": _meta("postgres-0", labels={"app": "postgres"}),
         "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
                  "containers": [{"name": "pg", "image": "postgres:16"}]},
         "status": {"phase": "Pending"}},
        {"kind": "PersistentVolumeClaim", "metadata": _meta("data"),
         "spec": {"storageClassName": "fast"}, "status": {"phase": "Pending"}},
    ]
    for e in range(EVENTS):
        target = objects[NODES + 2 + (e % PODS)]
        objects.append({
            "kind": "Event", "metadata": _meta(f"ev-{e}"),
            "involvedObject": {"kind": "Pod", "name": target["metadata"]["name"],
                               "namespace": NAMESPACE},
            "type": "Warning" if e % 4 == 0 else "Normal",
            "reason": "BackOff" if e % 4 == 0 else "Pulled",
            "message": "Back-off restarting failed container" if e % 4 == 0 else "pulled",
            "lastTimestamp": "2026-11-18T13:00:00Z",
        })
    logs = {(NAMESPACE, f"app0-7d9f-{i:05d}", "app", True):
            "dial tcp 10.0.0.9:5432: connect: connection refused\n" for i in range(per)}
    return StaticSource.from_objects(objects, logs=logs)


def build_and_analyse(source: StaticSource) -> tuple[float, int, int, str]:
    started = time.perf_counter()
    graph = build_graph(source, NAMESPACE)
    causes = root_causes(graph, NAMESPACE)
    elapsed = time.perf_counter() - started
    edges = sum(1 for _ in graph.edges())
    return elapsed, len(graph.objects), edges, str(causes[0].end.ref) if causes else "none"


class GraphReader:
    """A model that asks the graph skill once and reports its first candidate."""

    name = "bench/graph-reader"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, messages: list[Message], tools: list[ToolSchema],
                       evidence: Any = None) -> Completion:
        self.calls += 1
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        if turn == 0:
            return _call("call_skill", {"skill": "graph", "tool": "root_causes",
                                        "arguments": {}})
        if turn == 1:
            found = json.loads(str(messages[-1].get("content")))
            top = found["data"]["candidates"][0]
            return _call("produce_insight", {
                "notification_ids": [],
                "correlation_type": "causal",
                "summary": f"{top['symptom']} fails because of {top['cause']}: "
                + " ".join(top["hops"][-2:]),
                "root_cause_hypothesis": top["hops"][-1],
                "hypothesis_grounded": True,
                "confidence": top["confidence"],
                "subjects": [],
            })
        return _call("done", {})

    def count_tokens(self, messages: list[Message], tools: list[ToolSchema] | None = None) -> int:
        return len(json.dumps(messages)) // 4


def _call(name: str, arguments: dict[str, Any]) -> Completion:
    return Completion(content=None, tool_calls=[ToolCall("c", name, json.dumps(arguments))])


def main() -> None:
    source = synthetic_namespace()
    runs = [build_and_analyse(source) for _ in range(RUNS)]
    _, objects, edges, cause = runs[0]
    print(f"graph_build_and_analysis_median {statistics.median(r[0] for r in runs) * 1000:.1f} ms"
          f"  ({PODS} pods, {NODES} nodes, {EVENTS} events; top cause {cause})")
    print(f"graph_objects {objects} objects")
    print(f"graph_edges {edges} edges")
    loaded = scenario.load(MULTI_HOP)
    model = GraphReader()
    result = asyncio.run(replay(loaded, model=model))
    assert loaded.spec.expect is not None
    verdict = evals.grade(result, loaded.spec.expect)
    print(f"multi_hop_model_calls {model.calls} calls  "
          f"(graded {'pass' if verdict.passed else 'fail'}: {verdict.why[:80]})")


if __name__ == "__main__":
    main()
