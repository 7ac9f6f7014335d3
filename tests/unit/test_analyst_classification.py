"""How the analyst classifies what it reads: a memory trend (leak or headroom), a pids
limit, an inode eviction, the registry's answer to an image pull, the node a skill
observed, and a rollout that has really finished."""

from __future__ import annotations

from typing import Any

from kubelens import anomalies
from kubelens.analyst import analyze
from kubelens.detection import AnomalyDetector
from kubelens.models import Confidence, OperatorResult, Severity, Subject, ToolStatus
from kubelens.skills.base import Metric, Skill, Threshold
from kubelens.skills.cluster import StaticSource, WorkloadsSkill
from kubelens.skills.cluster.logs import scan_text
from tests.unit.test_analyst import node_subject, note, only, pod


def container(namespace: str, pod_name: str, name: str) -> Subject:
    return Subject(kind="Container", namespace=namespace, name=f"{pod_name}/{name}")


def cgroups(**entry: Any) -> OperatorResult:
    return OperatorResult(skill="containers", source="node-1", status=ToolStatus.OK,
                          snapshot={"top_memory": [entry], "top_pids": [entry]})


# --------------------------------------------------------------------------- detector


class Gauge(Skill):
    name = "gauge"
    thresholds = (Threshold("g.ratio", anomalies.CONTAINER_MEMORY_NEAR_LIMIT, 0.9, None,
                            "{subject} at {value}"),)

    def metrics(self, snapshot: Any) -> list[Metric]:
        return [Metric("g.ratio", snapshot["value"], Subject(kind="Pod", name="p"))]


def test_a_threshold_notification_carries_the_readings_that_led_to_it() -> None:
    clock = iter(float(t) for t in range(0, 600, 60))
    detector = AnomalyDetector(node="n", clock=lambda: next(clock))
    skill = Gauge()
    raised = [detector.observe(skill, {"value": v}) for v in (0.6, 0.7, 0.8, 0.92)]
    assert raised[:3] == [[], [], []]
    evidence = raised[3][0].snapshots[0].data
    assert evidence["recent"] == [0.6, 0.7, 0.8, 0.92]
    assert evidence["recent_seconds"] == 180.0


# --------------------------------------------------------------------------- memory


def near_limit(values: list[float], seconds: float) -> Any:
    return note("containers", anomalies.CONTAINER_MEMORY_NEAR_LIMIT,
                container("payments", "ledger-1", "ledger"), node="node-1",
                evidence={"metric": "container.memory_limit_ratio", "value": values[-1],
                          "recent": values, "recent_seconds": seconds})


def test_memory_climbing_steadily_to_a_limit_reads_as_a_leak() -> None:
    facts = cgroups(namespace="payments", pod="ledger-1", container="ledger",
                    memory_limit_bytes=512 * 2**20)
    insight = only(analyze([near_limit([0.63, 0.72, 0.82, 0.89, 0.93], 240)], [facts], {}))
    root = insight.root_cause_hypothesis
    assert "keeps growing: 63% → 93% of its 512Mi limit in 4 min" in root
    assert "leak" in root and "reaches the limit in about 1 min" in root
    assert insight.confidence is Confidence.HIGH and insight.hypothesis_grounded


def test_memory_high_but_flat_is_a_headroom_problem_not_a_leak() -> None:
    insight = only(analyze([near_limit([0.93, 0.92, 0.93], 120)], [], {}))
    assert "leak" not in insight.root_cause_hypothesis
    assert "runs at 93% of its memory limit: too little headroom" in (
        insight.root_cause_hypothesis)
    assert insight.confidence is Confidence.MEDIUM


# --------------------------------------------------------------------------- pids


def test_a_pod_at_its_pids_limit_explains_fork_failures_and_exec_probes() -> None:
    pids = note("containers", anomalies.PIDS_NEAR_LIMIT, pod("ci", "runner-1"), node="node-1",
                evidence={"metric": "container.pids_ratio", "value": 0.996,
                          "recent": [0.2, 0.62, 0.996], "recent_seconds": 20})
    line = "/ci/run.sh: fork: retry: Resource temporarily unavailable"
    scan = scan_text(line + "\n")
    assert scan["patterns"] == {"fork_failed": 1}
    logs = note("logs", anomalies.LOG_ERRORS, pod("ci", "runner-1"),
                evidence={"patterns": scan["patterns"], "log_excerpt": scan["log_excerpt"]})
    probe = note("events", anomalies.PROBE_FAILURE, pod("ci", "runner-1"),
                 evidence={"reason": "Unhealthy", "probe": "readiness"})
    facts = cgroups(namespace="ci", pod="runner-1", pids=1020, pids_limit=1024)
    insight = only(analyze([pids, logs, probe], [facts], {}))
    root = insight.root_cause_hypothesis
    assert "pod ci/runner-1 has used 100% of its pids limit (1020/1024 tasks)" in root
    assert "climbing 20% → 100% in 20s (a fork storm)" in root
    assert "fork: retry: Resource temporarily unavailable" in root
    assert "exec probes need a new process too" in root
    assert set(insight.notification_ids) == {pids.id, logs.id, probe.id}
    assert insight.confidence is Confidence.HIGH


# --------------------------------------------------------------------------- disks


def test_an_eviction_for_inodes_is_part_of_the_inode_exhaustion() -> None:
    inodes = note("os", anomalies.INODE_EXHAUSTION, Subject(kind="Mount", name="/"),
                  node="worker-2", evidence={"metric": "disk.inodes_used_percent",
                                             "value": 99.4})
    evicted = note("pods", anomalies.POD_EVICTED, pod("media", "thumbs-1"), node="worker-2",
                   evidence={"resource": "inodes", "node": "worker-2",
                             "message": "The node was low on resource: inodes."})
    insight = only(analyze([inodes, evicted], [], {}))
    assert set(insight.notification_ids) == {inodes.id, evicted.id}
    assert "inode table of / on node worker-2" in insight.root_cause_hypothesis
    assert "evicts pods (pod media/thumbs-1)" in insight.root_cause_hypothesis


# --------------------------------------------------------------------------- image pull


def test_the_registry_answer_in_a_kubelet_event_classifies_an_image_pull() -> None:
    image = "registry.example.com/web/storefront:2.4.1"
    pull = note("pods", anomalies.IMAGE_PULL_FAILURE, pod("web", "storefront-1"),
                Severity.CRITICAL,
                evidence={"image": image, "reason": "ImagePullBackOff",
                          "message": f'Back-off pulling image "{image}"'})
    events = OperatorResult(skill="events", source="cluster", status=ToolStatus.OK, snapshot={
        "warnings": [{"type": "Warning", "reason": "Failed",
                      "object": {"kind": "Pod", "namespace": "web", "name": "storefront-1"},
                      "message": f'Failed to pull image "{image}": rpc error: code = NotFound '
                                 "desc = failed to pull and unpack image"}]})
    without = only(analyze([pull], [], {}))
    assert without.confidence is Confidence.MEDIUM
    insight = only(analyze([pull], [events], {}))
    assert f"image {image} does not exist in the registry" in insight.root_cause_hypothesis
    assert insight.confidence is Confidence.HIGH


# --------------------------------------------------------------------------- nodes


def test_the_node_a_skill_observed_beats_the_node_its_runner_stamped() -> None:
    # A cluster skill run from worker-1 reports a pod on worker-3; worker-3 is NotReady.
    down = note("nodes", anomalies.NODE_NOT_READY, node_subject("worker-3"), Severity.CRITICAL,
                node="worker-1", evidence={"node": "worker-3", "status": "Unknown",
                                           "reason": "NodeStatusUnknown"})
    probe = note("events", anomalies.PROBE_FAILURE, pod("shop", "cart-1"), node="worker-1",
                 evidence={"node": "worker-3", "reason": "Unhealthy"})
    insight = only(analyze([down, probe], [], {}))
    assert insight.root_cause_hypothesis.startswith("node worker-3 stopped reporting")
    assert set(insight.notification_ids) == {down.id, probe.id}


# --------------------------------------------------------------------------- rollouts


def deployment(progressing: str, updated: int) -> dict[str, Any]:
    labels = {"app": "api"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "shop", "generation": 3},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"spec": {"containers": [{"name": "api", "image": "api:1"}]}}},
            "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": updated,
                       "readyReplicas": 1, "availableReplicas": 1,
                       "conditions": [{"type": "Progressing", "status": "True",
                                       "reason": progressing}]}}


CRASHING = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "api-1", "namespace": "shop", "labels": {"app": "api"}},
            "spec": {"containers": [{"name": "api", "image": "api:1"}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "api", "ready": False, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}


def rollout_findings(obj: dict[str, Any]) -> list[str]:
    skill = WorkloadsSkill(StaticSource([obj, CRASHING]), "shop")
    return [f.anomaly_type for f in skill.findings(skill.snapshot())]


def test_a_crashing_pod_of_a_finished_rollout_is_not_a_stuck_rollout() -> None:
    # The Deployment controller declared the rollout complete: the pod's own findings
    # (CrashLoopBackOff) say what is wrong, not a rollout.
    assert rollout_findings(deployment("NewReplicaSetAvailable", updated=2)) == []
    assert rollout_findings(deployment("ReplicaSetUpdated", updated=1)) == [
        anomalies.ROLLOUT_STUCK]
