"""The rule-based analyst on fixed notification sets: one per rule, plus the edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubelens import anomalies
from kubelens.analyst import analyze
from kubelens.analyst.rules import RULES
from kubelens.models import (
    Confidence,
    CorrelationType,
    Insight,
    Notification,
    NotificationState,
    OperatorResult,
    Severity,
    Snapshot,
    Subject,
    ToolStatus,
)
from kubelens.skills.cluster import StaticSource, cluster_skills

T0 = datetime(2024, 5, 14, 10, 40, tzinfo=UTC)


def note(
    skill: str,
    anomaly_type: str,
    subject: Subject | None = None,
    severity: Severity = Severity.WARNING,
    node: str | None = None,
    evidence: dict[str, Any] | None = None,
    observation: str | None = None,
    hypothesis: str = "",
    at: datetime = T0,
    id: str | None = None,
) -> Notification:
    fields: dict[str, Any] = {}
    if id:
        fields["id"] = id
    return Notification(
        skill=skill, anomaly_type=anomaly_type, severity=severity, subject=subject, node=node,
        observation=observation or f"{anomaly_type} on {subject.ref() if subject else node}",
        hypothesis=hypothesis, detected_at=at,
        snapshots=[Snapshot(data=evidence or {}, captured_at=at)], **fields,
    )


def pod(namespace: str, name: str) -> Subject:
    return Subject(kind="Pod", namespace=namespace, name=name)


def node_subject(name: str) -> Subject:
    return Subject(kind="Node", name=name)


def only(insights: list[Insight]) -> Insight:
    assert len(insights) == 1, [i.root_cause_hypothesis for i in insights]
    return insights[0]


def refs(insight: Insight) -> set[str]:
    return {s.ref() for s in insight.subjects}


# --------------------------------------------------------------------------- edges


def test_nothing_wrong_means_no_insights() -> None:
    assert analyze([], [], {}) == []
    healthy = OperatorResult(skill="pods", source="cluster", status=ToolStatus.OK,
                             snapshot={"total": 12, "problem_pods": []})
    assert analyze([], [healthy], {"reason": "routine check"}) == []


def test_resolved_notifications_are_not_analysed_again() -> None:
    resolved = note("pods", anomalies.CRASH_LOOP, pod("shop", "a"))
    resolved.state = NotificationState.RESOLVED
    assert analyze([resolved], [], {}) == []


# --------------------------------------------------------------------------- pod rules


def test_oom_kill_with_memory_near_limit_is_one_causal_insight() -> None:
    oom = note("pods", anomalies.POD_OOM_KILLED, pod("shop", "api-1"), Severity.CRITICAL,
               evidence={"container": "api", "limit": "256Mi", "exitCode": 137,
                         "restartCount": 6, "reason": "OOMKilled", "node": "node-1"})
    near = note("containers", anomalies.CONTAINER_MEMORY_NEAR_LIMIT,
                Subject(kind="Container", namespace="shop", name="api-1/api"), node="node-1",
                evidence={"metric": "container.memory_limit_ratio", "value": 0.97})
    insight = only(analyze([oom, near], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.HIGH and insight.hypothesis_grounded
    assert set(insight.notification_ids) == {oom.id, near.id}
    assert refs(insight) == {"Pod/shop/api-1"}
    assert "256Mi" in insight.root_cause_hypothesis and "OOM" in insight.root_cause_hypothesis
    assert any("137" in e for e in insight.evidence)
    assert "kubectl -n shop describe pod api-1" in insight.next_steps
    assert oom.observation in insight.summary


def test_host_memory_pressure_with_a_process_hog() -> None:
    pressure = note("os", anomalies.MEMORY_PRESSURE, node_subject("node-2"), node="node-2",
                    evidence={"metric": "memory.used_percent", "value": 96.0})
    hog = note("processes", anomalies.PROCESS_MEMORY_HOG,
               Subject(kind="Process", name="java (pid 4242)"), node="node-2",
               observation="process java (pid 4242) holds 11.2 GiB resident memory")
    insight = only(analyze([pressure, hog], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.MEDIUM
    assert set(insight.notification_ids) == {pressure.id, hog.id}
    assert "java (pid 4242)" in insight.root_cause_hypothesis
    assert "memory pressure" in insight.root_cause_hypothesis


def test_host_memory_pressure_explains_evictions_and_unlimited_oom_kills() -> None:
    pressure = note("nodes", anomalies.NODE_PRESSURE, node_subject("node-3"),
                    evidence={"condition": "MemoryPressure", "node": "node-3"})
    evicted = note("pods", anomalies.POD_EVICTED, pod("ops", "batch-1"),
                   evidence={"node": "node-3", "resource": "memory",
                             "message": "The node was low on resource: memory."})
    unlimited = note("containers", anomalies.CONTAINER_OOM_KILLED, pod("ops", "etl-0"),
                     Severity.CRITICAL, node="node-3", evidence={"memory_limit_bytes": None})
    insight = only(analyze([pressure, evicted, unlimited], [], {}))
    assert insight.confidence is Confidence.HIGH and insight.hypothesis_grounded
    assert set(insight.notification_ids) == {pressure.id, evicted.id, unlimited.id}
    assert "evicts" in insight.root_cause_hypothesis


def test_crash_loop_with_log_errors_quotes_the_log_line() -> None:
    crash = note("pods", anomalies.CRASH_LOOP, pod("shop", "billing-1"), Severity.CRITICAL,
                 evidence={"container": "billing", "exitCode": 1, "restartCount": 4})
    logs = note("logs", anomalies.LOG_ERRORS, pod("shop", "billing-1"),
                evidence={"container": "billing", "previous": True,
                          "patterns": {"traceback": 1, "missing_key": 1},
                          "log_excerpt": ["Traceback (most recent call last):",
                                          "KeyError: 'LEDGER_URL'"]})
    insight = only(analyze([crash, logs], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.HIGH and insight.hypothesis_grounded
    assert "configuration key" in insight.root_cause_hypothesis
    assert any("KeyError: 'LEDGER_URL'" in e and "(data)" in e for e in insight.evidence)
    assert "kubectl -n shop logs billing-1 -c billing --previous" in insight.next_steps


def test_image_pull_failure_classified_by_the_registry_answer() -> None:
    pull = note("pods", anomalies.IMAGE_PULL_FAILURE, pod("shop", "frontend-1"),
                Severity.CRITICAL,
                evidence={"image": "registry.example.com/shop/frontend:v9",
                          "reason": "ErrImagePull",
                          "message": "rpc error: manifest for registry.example.com/shop/"
                                     "frontend:v9 not found: manifest unknown"})
    insight = only(analyze([pull], [], {}))
    assert insight.correlation_type is CorrelationType.SYMPTOMATIC
    assert insight.confidence is Confidence.HIGH and insight.hypothesis_grounded
    assert "does not exist" in insight.root_cause_hypothesis
    assert "crictl pull registry.example.com/shop/frontend:v9  # on the node" in \
        insight.next_steps

    backoff = note("pods", anomalies.IMAGE_PULL_FAILURE, pod("shop", "private-1"),
                   evidence={"image": "ghcr.io/acme/private:1", "reason": "ImagePullBackOff",
                             "message": 'Back-off pulling image "ghcr.io/acme/private:1"'})
    event = note("events", anomalies.WARNING_EVENTS, pod("shop", "private-1"),
                 evidence={"reason": "Failed", "message": "failed to authorize: 401 "
                           "Unauthorized"})
    insight = only(analyze([backoff, event], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert "credentials" in insight.root_cause_hypothesis
    assert set(insight.notification_ids) == {backoff.id, event.id}


def test_config_error_names_the_missing_configmap_and_key() -> None:
    error = note("pods", anomalies.CONFIG_ERROR, pod("shop", "worker-1"), Severity.CRITICAL,
                 evidence={"container": "worker", "reason": "CreateContainerConfigError",
                           "message": "couldn't find key DATABASE_URL in ConfigMap "
                                      "shop/worker-config"})
    insight = only(analyze([error], [], {}))
    assert insight.confidence is Confidence.HIGH and insight.hypothesis_grounded
    assert "ConfigMap shop/worker-config" in insight.root_cause_hypothesis
    assert "DATABASE_URL" in insight.root_cause_hypothesis
    assert refs(insight) == {"Pod/shop/worker-1", "ConfigMap/shop/worker-config"}
    assert "kubectl -n shop get configmap worker-config -o yaml" in insight.next_steps


def test_cpu_throttling_with_a_low_limit_from_the_containers_snapshot() -> None:
    throttled = note("containers", anomalies.CPU_THROTTLING,
                     Subject(kind="Container", namespace="shop", name="search-1/search"),
                     node="node-1", evidence={"metric": "container.cpu_throttled_ratio",
                                              "value": 0.62})
    snapshot = {"top_throttled": [{"pod": "search-1", "namespace": "shop",
                                   "container": "search", "cpu_limit_cores": 0.2,
                                   "throttled_ratio": 0.62}]}
    result = OperatorResult(skill="containers", source="node-1", status=ToolStatus.OK,
                            snapshot=snapshot)
    insight = only(analyze([throttled], [result], {}))
    assert insight.confidence is Confidence.HIGH and insight.hypothesis_grounded
    assert "0.2-core" in insight.root_cause_hypothesis and "62%" in \
        insight.root_cause_hypothesis
    assert refs(insight) == {"Pod/shop/search-1"}
    # without the limit in the evidence, the cause is plausible but not grounded
    bare = only(analyze([throttled], [], {}))
    assert bare.confidence is Confidence.MEDIUM and not bare.hypothesis_grounded


def test_probe_failure_under_cpu_throttling() -> None:
    probe = note("events", anomalies.PROBE_FAILURE, pod("shop", "api-1"),
                 evidence={"probe": "liveness", "reason": "Unhealthy", "node": "node-1"})
    throttled = note("containers", anomalies.CPU_THROTTLING,
                     Subject(kind="Container", namespace="shop", name="api-1/api"),
                     node="node-1", evidence={"metric": "container.cpu_throttled_ratio",
                                              "value": 0.55, "cpu_limit_cores": 0.25})
    insight = only(analyze([probe, throttled], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.HIGH
    assert "liveness probe" in insight.root_cause_hypothesis
    assert "0.25-core" in insight.root_cause_hypothesis


def test_probe_failure_under_node_load() -> None:
    probe = note("events", anomalies.PROBE_FAILURE, pod("shop", "web-1"),
                 evidence={"probe": "readiness", "node": "node-4"})
    load = note("os", anomalies.CPU_STALL, node_subject("node-4"), node="node-4",
                evidence={"metric": "psi.cpu.some_avg10", "value": 85})
    insight = only(analyze([probe, load], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.MEDIUM and not insight.hypothesis_grounded


def test_noisy_neighbour_dominates_a_saturated_node() -> None:
    saturation = note("os", anomalies.CPU_SATURATION, node_subject("node-2"), node="node-2",
                      evidence={"metric": "cpu.load_per_core", "value": 4.2})
    hog = note("processes", anomalies.PROCESS_CPU_HOG, Subject(kind="Process", name="ffmpeg"),
               node="node-2", evidence={"pod": "transcode-1", "namespace": "media"},
               observation="process ffmpeg uses 15.8 of 16 cores")
    victim = note("events", anomalies.PROBE_FAILURE, pod("shop", "web-2"),
                  evidence={"node": "node-2", "probe": "readiness"})
    insight = only(analyze([saturation, hog, victim], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.HIGH
    assert set(insight.notification_ids) == {saturation.id, hog.id, victim.id}
    assert "dominates node node-2" in insight.root_cause_hypothesis
    assert "starve" in insight.root_cause_hypothesis


def test_dns_failures_across_pods_share_a_resolver() -> None:
    one = note("logs", anomalies.DNS_FAILURE, pod("shop", "a-1"),
               evidence={"log_excerpt": ["dial tcp: lookup db.shop.svc.cluster.local on "
                                         "10.96.0.10:53: no such host"]})
    two = note("logs", anomalies.DNS_FAILURE, pod("web", "b-1"),
               evidence={"log_excerpt": ["getaddrinfo EAI_AGAIN api.example.com"]})
    insight = only(analyze([one, two], [], {}))
    assert insight.correlation_type is CorrelationType.SYMPTOMATIC
    assert insight.confidence is Confidence.MEDIUM and not insight.hypothesis_grounded
    assert "shared resolver" in insight.root_cause_hypothesis
    single = only(analyze([one], [], {}))
    assert "db.shop.svc.cluster.local" in single.root_cause_hypothesis


def test_dns_server_down_explains_resolution_failures() -> None:
    coredns = note("pods", anomalies.CRASH_LOOP, pod("kube-system", "coredns-5d78c9869d-abcde"),
                   Severity.CRITICAL, evidence={"exitCode": 1})
    failure = note("logs", anomalies.DNS_FAILURE, pod("shop", "a-1"),
                   evidence={"log_excerpt": ["Temporary failure in name resolution"]})
    crash = note("pods", anomalies.CRASH_LOOP, pod("shop", "a-1"), Severity.CRITICAL)
    insight = only(analyze([coredns, failure, crash], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.HIGH
    assert set(insight.notification_ids) == {coredns.id, failure.id, crash.id}
    assert "cluster DNS is failing" in insight.root_cause_hypothesis


# --------------------------------------------------------------------------- node rules


def test_node_not_ready_takes_the_pods_on_it() -> None:
    down = note("nodes", anomalies.NODE_NOT_READY, node_subject("node-2"), Severity.CRITICAL,
                evidence={"node": "node-2", "condition": "Ready", "status": "Unknown",
                          "reason": "NodeStatusUnknown",
                          "message": "Kubelet stopped posting node status.",
                          "pod_names": ["shop/cache-0"]})
    probe = note("events", anomalies.PROBE_FAILURE, pod("shop", "cache-0"),
                 evidence={"probe": "readiness"})
    insight = only(analyze([down, probe], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.HIGH
    assert refs(insight) == {"Node/node-2", "Pod/shop/cache-0"}
    assert "stopped reporting" in insight.root_cause_hypothesis
    assert "kubectl describe node node-2" in insight.next_steps


def test_disk_full_with_disk_pressure_and_evictions() -> None:
    full = note("os", anomalies.DISK_FULL, Subject(kind="Mount", name="/var/lib/containerd"),
                Severity.CRITICAL, node="node-5",
                evidence={"metric": "disk.used_percent", "value": 97.5})
    pressure = note("nodes", anomalies.NODE_PRESSURE, node_subject("node-5"),
                    evidence={"condition": "DiskPressure", "node": "node-5"})
    evicted = note("pods", anomalies.POD_EVICTED, pod("shop", "web-9"),
                   evidence={"node": "node-5", "resource": "ephemeral-storage"})
    insight = only(analyze([full, pressure, evicted], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.HIGH and insight.hypothesis_grounded
    assert "98% full" in insight.root_cause_hypothesis
    assert "DiskPressure" in insight.root_cause_hypothesis
    assert any(s.startswith("df -h /var/lib/containerd") for s in insight.next_steps)


def test_inode_exhaustion_alone_points_at_small_files() -> None:
    inodes = note("os", anomalies.INODE_EXHAUSTION, Subject(kind="Mount", name="/"),
                  node="node-6", evidence={"metric": "disk.inodes_used_percent", "value": 96})
    insight = only(analyze([inodes], [], {}))
    assert insight.correlation_type is CorrelationType.SYMPTOMATIC
    assert "small files" in insight.root_cause_hypothesis
    assert not insight.hypothesis_grounded


def test_pid_exhaustion_with_the_forking_processes() -> None:
    pids = note("processes", anomalies.PID_EXHAUSTION, node_subject("node-7"),
                Severity.CRITICAL, node="node-7",
                evidence={"metric": "processes.pid_usage_ratio", "value": 0.93})
    zombies = note("processes", anomalies.ZOMBIE_PROCESSES,
                   Subject(kind="Process", name="worker.sh (pid 811)"), node="node-7",
                   observation="worker.sh (pid 811) has 5200 zombie children")
    insight = only(analyze([pids, zombies], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.HIGH
    assert "fork storm" in insight.root_cause_hypothesis
    assert "93%" in insight.root_cause_hypothesis


# --------------------------------------------------------------------------- workload rules


def test_pvc_pending_with_missing_storage_class_holds_pod_and_rollout() -> None:
    claim = note("workloads", anomalies.PVC_PENDING,
                 Subject(kind="PersistentVolumeClaim", namespace="shop", name="data-db-0"),
                 evidence={"name": "data-db-0", "namespace": "shop", "storage_class": "fast-ssd",
                           "storage_class_exists": False, "used_by": ["db-0"],
                           "events": [{"reason": "ProvisioningFailed", "message":
                                       'storageclass.storage.k8s.io "fast-ssd" not found'}]})
    pending = note("pods", anomalies.POD_PENDING, pod("shop", "db-0"),
                   evidence={"message": "0/3 nodes are available: pod has unbound immediate "
                                        "PersistentVolumeClaims.", "claims": ["data-db-0"]})
    rollout = note("workloads", anomalies.ROLLOUT_STUCK,
                   Subject(kind="StatefulSet", namespace="shop", name="db"), Severity.CRITICAL,
                   evidence={"kind": "StatefulSet", "name": "db", "namespace": "shop",
                             "failing_pods": [{"name": "db-0", "reasons": []}]})
    insight = only(analyze([claim, pending, rollout], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.HIGH and insight.hypothesis_grounded
    assert set(insight.notification_ids) == {claim.id, pending.id, rollout.id}
    assert "StorageClass fast-ssd does not exist" in insight.root_cause_hypothesis
    assert "StorageClass/fast-ssd" in refs(insight)
    assert "kubectl get storageclass" in insight.next_steps


def test_rollout_stuck_explained_by_its_new_pods() -> None:
    rollout = note("workloads", anomalies.ROLLOUT_STUCK,
                   Subject(kind="Deployment", namespace="shop", name="checkout"),
                   Severity.CRITICAL,
                   evidence={"kind": "Deployment", "name": "checkout", "namespace": "shop",
                             "deadline_exceeded": True,
                             "failing_pods": [{"name": "checkout-6f7b8c9d4-zz9yx",
                                               "reasons": ["CrashLoopBackOff"]}]})
    crash = note("pods", anomalies.CRASH_LOOP, pod("shop", "checkout-6f7b8c9d4-zz9yx"),
                 Severity.CRITICAL, evidence={"container": "checkout", "exitCode": 1})
    dns = note("logs", anomalies.DNS_FAILURE, pod("shop", "checkout-6f7b8c9d4-zz9yx"),
               evidence={"container": "checkout", "patterns": {"dns": 2},
                         "log_excerpt": ["lookup payments.shop.svc.cluster.local on "
                                         "10.96.0.10:53: no such host"]})
    insight = only(analyze([rollout, crash, dns], [], {}))
    assert insight.correlation_type is CorrelationType.CAUSAL
    assert insight.confidence is Confidence.HIGH
    assert set(insight.notification_ids) == {rollout.id, crash.id, dns.id}
    root = insight.root_cause_hypothesis
    assert "rollout of Deployment shop/checkout is stuck" in root
    assert "cannot resolve payments.shop.svc.cluster.local" in root
    assert any("rollout undo deployment/checkout" in s for s in insight.next_steps)


def test_unschedulable_pod_for_lack_of_resources() -> None:
    pending = note("pods", anomalies.POD_PENDING, pod("ml", "train-0"),
                   evidence={"message": "0/5 nodes are available: 5 Insufficient nvidia.com/gpu."
                             " preemption: 0/5 nodes are available"})
    insight = only(analyze([pending], [], {}))
    assert insight.confidence is Confidence.HIGH and insight.hypothesis_grounded
    assert "nvidia.com/gpu" in insight.root_cause_hypothesis


# --------------------------------------------------------------------------- fallbacks


def test_unrelated_notifications_in_one_window_are_temporal() -> None:
    steal = note("os", anomalies.CPU_STEAL, node_subject("node-1"), node="node-1",
                 evidence={"metric": "cpu.steal_percent", "value": 18})
    event = note("events", anomalies.WARNING_EVENTS, Subject(kind="Service", namespace="shop",
                                                            name="web"),
                 evidence={"reason": "FailedToUpdateEndpoint"}, at=T0 + timedelta(seconds=60))
    insight = only(analyze([steal, event], [], {}))
    assert insight.correlation_type is CorrelationType.TEMPORAL
    assert insight.confidence is Confidence.LOW and not insight.hypothesis_grounded
    assert "60s" in insight.root_cause_hypothesis
    apart = note("events", anomalies.WARNING_EVENTS, Subject(kind="Service", namespace="shop",
                                                            name="web"),
                 evidence={"reason": "FailedToUpdateEndpoint"}, at=T0 + timedelta(hours=1))
    insights = analyze([steal, apart], [], {"temporal_window_seconds": 120})
    assert [i.correlation_type for i in insights] == [CorrelationType.SYMPTOMATIC] * 2


def test_lone_crash_loop_reads_the_exit_code() -> None:
    crash = note("pods", anomalies.CRASH_LOOP, pod("shop", "cron-1"), Severity.CRITICAL,
                 evidence={"exitCode": 127, "container": "cron"})
    insight = only(analyze([crash], [], {}))
    assert insight.correlation_type is CorrelationType.SYMPTOMATIC
    assert insight.confidence is Confidence.MEDIUM and insight.hypothesis_grounded
    assert "not found in the image" in insight.root_cause_hypothesis
    assert "kubectl -n shop logs cron-1 --previous" in insight.next_steps


def test_anomalies_of_one_pod_with_no_specific_rule_are_grouped() -> None:
    probe = note("events", anomalies.PROBE_FAILURE, pod("shop", "api-1"),
                 hypothesis="the application answers its probe too slowly")
    logs = note("logs", anomalies.LOG_ERRORS, pod("shop", "api-1"),
                evidence={"patterns": {"timeout": 3}}, at=T0 + timedelta(hours=2))
    insight = only(analyze([probe, logs], [], {}))
    assert insight.correlation_type is CorrelationType.SYMPTOMATIC
    assert set(insight.notification_ids) == {probe.id, logs.id}


def test_pod_named_by_uid_joins_through_the_pods_snapshot() -> None:
    oom = note("containers", anomalies.CONTAINER_OOM_KILLED,
               Subject(kind="Pod", name="5b8a3c3e-uid"), Severity.CRITICAL, node="node-1",
               evidence={"pod_uid": "5b8a3c3e-uid", "memory_limit_bytes": 268435456})
    crash = note("pods", anomalies.CRASH_LOOP, pod("shop", "api-1"), Severity.CRITICAL)
    pods = OperatorResult(skill="pods", source="cluster", status=ToolStatus.OK, snapshot={
        "problem_pods": [{"name": "api-1", "namespace": "shop", "uid": "5b8a3c3e-uid",
                          "node": "node-1", "containers": []}]})
    insight = only(analyze([oom, crash], [pods], {}))
    assert set(insight.notification_ids) == {oom.id, crash.id}
    assert "256Mi" in insight.root_cause_hypothesis


def test_mixed_set_every_notification_cited_once_most_severe_first() -> None:
    oom = note("pods", anomalies.POD_OOM_KILLED, pod("shop", "api-1"), Severity.CRITICAL,
               evidence={"container": "api", "limit": "256Mi", "exitCode": 137})
    pull = note("pods", anomalies.IMAGE_PULL_FAILURE, pod("shop", "web-1"), Severity.CRITICAL,
                evidence={"image": "nginx:1.99", "message": "manifest unknown"})
    swap = note("os", anomalies.SWAP_PRESSURE, node_subject("node-9"), Severity.INFO,
                node="node-9", at=T0 + timedelta(hours=3))
    netw = note("os", anomalies.NETWORK_ERRORS, node_subject("node-8"), node="node-8",
                at=T0 + timedelta(hours=5))
    insights = analyze([swap, netw, pull, oom], [], {})
    cited = [n for i in insights for n in i.notification_ids]
    assert sorted(cited) == sorted([oom.id, pull.id, swap.id, netw.id])
    assert insights[0].confidence is Confidence.HIGH
    assert insights[-1].notification_ids == [swap.id]  # info severity comes last
    assert analyze([swap, netw, pull, oom], [], {})[0].id == insights[0].id  # deterministic


ANOMALY_TYPES = sorted(v for k, v in vars(anomalies).items() if k.isupper())
SUBJECTS = [pod("shop", "a-1"), pod("shop", "b-1"), node_subject("node-1"),
            Subject(kind="Mount", name="/"), Subject(kind="Container", namespace="shop",
                                                     name="a-1/app"), None]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ANOMALY_TYPES), st.sampled_from(SUBJECTS),
                          st.sampled_from([None, "node-1", "node-2"]),
                          st.sampled_from(list(Severity)), st.integers(0, 3600)),
                max_size=12))
def test_any_set_cites_each_notification_exactly_once(
    specs: list[tuple[str, Subject | None, str | None, Severity, int]]
) -> None:
    notifications = [
        note("any", anomaly_type, subject, severity, node, at=T0 + timedelta(seconds=offset),
             evidence={"value": 0.5})
        for anomaly_type, subject, node, severity, offset in specs
    ]
    insights = analyze(notifications, [], {})
    cited = [n for i in insights for n in i.notification_ids]
    assert sorted(cited) == sorted(n.id for n in notifications)
    for insight in insights:
        assert insight.summary and insight.root_cause_hypothesis
        assert not (insight.correlation_type is CorrelationType.TEMPORAL
                    and insight.confidence is not Confidence.LOW)


def test_rules_are_named_and_ordered_specific_first() -> None:
    names = [rule.__name__ for rule in RULES]
    assert names[-3:] == ["shared_subject", "temporal", "lone_notification"]
    assert len(set(names)) == len(names)


# --------------------------------------------------------------------------- end to end


def test_cluster_skills_to_insights_on_recorded_objects() -> None:
    fixtures = Path(__file__).parent.parent / "fixtures" / "cluster"
    logs = {("shop", "checkout-6f7b8c9d4-zz9yx", "checkout", True):
            (fixtures / "logs" / "shop_checkout-6f7b8c9d4-zz9yx_checkout_previous.log")
            .read_text()}
    source = StaticSource.from_files(
        [fixtures / "stuck-rollout.yaml", fixtures / "pending-pvc.yaml"], logs=logs)
    notifications: list[Notification] = []
    results: list[OperatorResult] = []
    for skill in cluster_skills(source, "shop"):
        snapshot = skill.snapshot()
        results.append(OperatorResult(skill=skill.name, source="cluster",
                                      status=ToolStatus.OK, snapshot=snapshot))
        for finding in skill.findings(snapshot):
            notifications.append(Notification(
                skill=skill.name, anomaly_type=finding.anomaly_type,
                severity=finding.severity, observation=finding.observation,
                hypothesis=finding.hypothesis, context=finding.context,
                subject=finding.subject, snapshots=[Snapshot(data=finding.evidence or {})]))
    insights = analyze(notifications, results, {})
    roots = [i.root_cause_hypothesis for i in insights]
    assert any("StorageClass fast-ssd does not exist" in r for r in roots), roots
    assert any("rollout of Deployment shop/checkout is stuck" in r
               and "payments.shop.svc.cluster.local" in r for r in roots), roots
    assert len(insights) == 2
    assert sorted(n for i in insights for n in i.notification_ids) == sorted(
        n.id for n in notifications)


def test_lone_warning_event_is_read_by_its_reason() -> None:
    event = note("events", anomalies.WARNING_EVENTS, pod("shop", "web-1"),
                 evidence={"reason": "FailedMount", "message": 'MountVolume.SetUp failed for '
                           'volume "certs": secret "web-tls" not found'})
    insight = only(analyze([event], [], {}))
    assert insight.confidence is Confidence.MEDIUM and insight.hypothesis_grounded
    assert "cannot be mounted" in insight.root_cause_hypothesis
    assert "web-tls" in insight.root_cause_hypothesis
