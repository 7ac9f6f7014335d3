"""Cluster skills on recorded objects (``kubectl get -o yaml`` shaped fixtures)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from kubernetes.client import ApiClient, Configuration

from kubelens import anomalies
from kubelens.models import ToolStatus
from kubelens.skills.base import Finding, Skill
from kubelens.skills.cluster import (
    ClusterSourceError,
    EventsSkill,
    KubernetesSource,
    LogsSkill,
    NodesSkill,
    PodsSkill,
    StaticSource,
    WorkloadsSkill,
    cluster_skills,
)
from kubelens.skills.cluster.common import parse_missing_reference, parse_quantity
from kubelens.skills.cluster.source import matches_field_selector, matches_label_selector

FIXTURES = Path(__file__).parent.parent / "fixtures" / "cluster"


def load(*names: str) -> StaticSource:
    """A source from fixture files plus every recorded log (``ns_pod_container[_previous]``)."""
    logs: dict[tuple[str, str, str | None, bool], str] = {}
    for path in (FIXTURES / "logs").glob("*.log"):
        parts = path.stem.split("_")
        previous = parts[-1] == "previous"
        namespace_name, pod, container = parts[0], parts[1], parts[2]
        logs[(namespace_name, pod, container, previous)] = path.read_text()
    return StaticSource.from_files([FIXTURES / n for n in names], logs=logs)


def findings_of(skill: Skill) -> list[Finding]:
    return skill.findings(skill.snapshot())


def by_type(found: list[Finding], anomaly_type: str) -> list[Finding]:
    return [f for f in found if f.anomaly_type == anomaly_type]


# --------------------------------------------------------------------------- pods


def test_oom_killed_pod_is_one_finding_with_limit_and_exit_code() -> None:
    found = findings_of(PodsSkill(load("oom-killed.yaml"), "shop"))
    assert [f.anomaly_type for f in found] == [anomalies.POD_OOM_KILLED]
    oom = found[0]
    assert oom.subject is not None and oom.subject.ref() == "Pod/shop/api-7c9d8f6b5-x2x9q"
    assert oom.evidence is not None
    assert oom.evidence["container"] == "api"
    assert oom.evidence["limit"] == "256Mi"
    assert oom.evidence["limit_bytes"] == 256 * 2**20
    assert oom.evidence["restartCount"] == 6
    assert oom.evidence["exitCode"] == 137
    assert oom.evidence["node"] == "node-1"
    assert "256Mi" in oom.observation and "OOMKilled" in oom.observation


def test_config_error_names_the_missing_configmap_key() -> None:
    found = findings_of(PodsSkill(load("config-error.yaml"), "shop"))
    config = by_type(found, anomalies.CONFIG_ERROR)
    assert len(config) == 1
    assert config[0].evidence is not None
    assert config[0].evidence["missing"] == {
        "kind": "ConfigMap", "name": "worker-config", "key": "DATABASE_URL", "namespace": "shop",
    }
    assert "worker-config" in config[0].hypothesis
    crash = by_type(found, anomalies.CRASH_LOOP)
    assert len(crash) == 1 and crash[0].subject is not None
    assert crash[0].subject.name == "billing-6c7d8e9f0-abcde"
    assert crash[0].evidence is not None and crash[0].evidence["exitCode"] == 1


def test_crash_loop_logs_show_the_missing_key_and_secrets_are_redacted() -> None:
    skill = LogsSkill(load("config-error.yaml"), "shop")
    snapshot = skill.snapshot()
    found = skill.findings(snapshot)
    errors = by_type(found, anomalies.LOG_ERRORS)
    assert len(errors) == 1 and errors[0].evidence is not None
    assert errors[0].evidence["patterns"]["missing_key"] >= 1
    assert errors[0].evidence["previous"] is True
    assert any("KeyError: 'LEDGER_URL'" in line for line in errors[0].evidence["log_excerpt"])
    tail = skill.call("tail", {"pod": "billing-6c7d8e9f0-abcde", "previous": True})
    text = json.dumps(tail.wire())
    assert tail.status is ToolStatus.OK
    assert "sk-live-0123456789abcdef0123" not in text and "ghp_abcdef" not in text
    assert "[REDACTED]" in text


def test_image_pull_failure_carries_image_and_message() -> None:
    found = findings_of(PodsSkill(load("image-pull.yaml"), "shop"))
    assert [f.anomaly_type for f in found] == [anomalies.IMAGE_PULL_FAILURE]
    evidence = found[0].evidence or {}
    assert evidence["image"] == "registry.example.com/shop/frontend:v2.3.1-rc"
    assert "Back-off pulling image" in evidence["message"]
    assert evidence["reason"] == "ImagePullBackOff"


def test_pending_pod_carries_the_scheduler_message_and_claims() -> None:
    found = findings_of(PodsSkill(load("pending-pvc.yaml"), "shop"))
    pending = by_type(found, anomalies.POD_PENDING)
    assert len(pending) == 1
    evidence = pending[0].evidence or {}
    assert "unbound immediate PersistentVolumeClaims" in evidence["message"]
    assert evidence["claims"] == ["data-db-0"]
    assert evidence["requests"] == {"postgres": {"cpu": "500m", "memory": "1Gi"}}


def test_probe_failure_when_running_unready_with_restarts() -> None:
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "shop"},
        "spec": {"nodeName": "node-1", "containers": [
            {"name": "web", "image": "nginx:1.27", "livenessProbe": {"httpGet": {"port": 80}}}]},
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": "False"}],
                   "containerStatuses": [{
                       "name": "web", "ready": False, "restartCount": 3,
                       "state": {"running": {}},
                       "lastState": {"terminated": {"reason": "Error", "exitCode": 137}}}]},
    }
    found = findings_of(PodsSkill(StaticSource.from_objects([pod]), None))
    assert [f.anomaly_type for f in found] == [anomalies.PROBE_FAILURE]
    assert (found[0].evidence or {})["restarts"] == 3


def test_evicted_pod_names_the_resource() -> None:
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "batch-1", "namespace": "ops"},
        "spec": {"nodeName": "node-3", "containers": [{"name": "b", "image": "busybox"}]},
        "status": {"phase": "Failed", "reason": "Evicted",
                   "message": "The node was low on resource: memory. Threshold quantity: "
                              "100Mi, available: 42Mi."},
    }
    found = findings_of(PodsSkill(StaticSource.from_objects([pod])))
    assert [f.anomaly_type for f in found] == [anomalies.POD_EVICTED]
    assert (found[0].evidence or {})["resource"] == "memory"


def test_pod_tools_list_describe_and_problem_pods() -> None:
    source = load("oom-killed.yaml", "config-error.yaml", "stuck-rollout.yaml")
    skill = PodsSkill(source, "shop")
    listed = skill.call("list_pods", {"limit": 2})
    assert listed.status is ToolStatus.OK
    assert listed.data["total"] == 5 and listed.data["shown"] == 2
    running = skill.call("list_pods", {"phase": "Pending"})
    assert [p["name"] for p in running.data["items"]] == ["worker-5f6d7c8b9-qk2lp"]
    on_node = skill.call("list_pods", {"node": "node-3"})
    assert {p["name"] for p in on_node.data["items"]} == {
        "worker-5f6d7c8b9-qk2lp", "checkout-6f7b8c9d4-zz9yx"}
    described = skill.call("describe_pod", {"name": "worker-5f6d7c8b9-qk2lp"})
    assert described.data["configRefs"] == ["ConfigMap/worker-config:DATABASE_URL"]
    problems = skill.call("problem_pods", {})
    assert "checkout-5c6d7e8f9-aaaaa" not in json.dumps(problems.data)
    missing = skill.call("describe_pod", {"name": "nope"})
    assert missing.status is ToolStatus.NO_DATA
    bad = skill.call("list_pods", {"phase": "Sleeping"})
    assert bad.status is ToolStatus.ERROR and "must be one of" in (bad.error or "")


def test_annotations_with_secret_names_are_redacted() -> None:
    skill = PodsSkill(load("oom-killed.yaml"), "shop")
    described = skill.call("describe_pod", {"name": "api-7c9d8f6b5-x2x9q"})
    text = json.dumps(described.wire())
    assert "Sup3rS3cret" not in text
    assert described.data["annotations"]["example.com/owner"] == "team-checkout"


# --------------------------------------------------------------------------- events


def test_events_findings_probe_dns_and_notable_reasons() -> None:
    found = findings_of(EventsSkill(load("events.yaml"), "shop"))
    probe = by_type(found, anomalies.PROBE_FAILURE)
    assert len(probe) == 1 and (probe[0].evidence or {})["probe"] == "liveness"
    assert (probe[0].evidence or {})["count"] == 12
    assert probe[0].subject is not None and probe[0].subject.name == "api-7c9d8f6b5-x2x9q"
    dns = by_type(found, anomalies.DNS_FAILURE)
    assert len(dns) == 1 and dns[0].subject is not None
    assert dns[0].subject.name == "frontend-84d9c7b6f5-7hj2k"
    warnings = {(f.evidence or {})["reason"] for f in by_type(found, anomalies.WARNING_EVENTS)}
    assert warnings == {"BackOff", "FailedScheduling"}


def test_event_tools() -> None:
    skill = EventsSkill(load("events.yaml"), "shop")
    warnings = skill.call("warnings", {"limit": 10})
    assert all(w["type"] == "Warning" for w in warnings.data["items"])
    assert warnings.data["items"][0]["reason"] == "FailedScheduling"  # newest first
    api = skill.call("for_object", {"kind": "Pod", "name": "api-7c9d8f6b5-x2x9q"})
    assert {e["reason"] for e in api.data["items"]} == {"Unhealthy", "BackOff", "Pulled"}
    backoff = skill.call("by_reason", {"reason": "BackOff"})
    assert backoff.data["items"][0]["count"] == 30
    assert skill.call("by_reason", {"reason": "Nothing"}).status is ToolStatus.NO_DATA


# --------------------------------------------------------------------------- logs


def test_dns_errors_in_previous_logs_are_a_dns_failure_quoted_as_data() -> None:
    skill = LogsSkill(load("stuck-rollout.yaml"), "shop")
    snapshot = skill.snapshot()
    assert "untrusted" in snapshot["note"]
    dns = by_type(skill.findings(snapshot), anomalies.DNS_FAILURE)
    assert len(dns) == 1
    evidence = dns[0].evidence or {}
    assert evidence["container"] == "checkout" and evidence["previous"] is True
    assert all("no such host" in line for line in evidence["log_excerpt"])
    tail = skill.call("tail", {"pod": "checkout-6f7b8c9d4-zz9yx", "previous": True, "lines": 10})
    assert tail.status is ToolStatus.OK
    assert "log_excerpt" in tail.data and "untrusted" in tail.data["note"]
    text = json.dumps(tail.wire())
    assert "pa55w0rd-very-secret" not in text
    assert tail.data["container"] == "checkout"  # the failing container is chosen


def test_grep_is_plain_substring_with_alternatives() -> None:
    skill = LogsSkill(load("stuck-rollout.yaml"), "shop")
    pod = "checkout-6f7b8c9d4-zz9yx"
    hits = skill.call("grep", {"pod": pod, "pattern": "FATAL|starting", "previous": True})
    assert hits.data["matches"] == 2
    # regex syntax is taken literally: no pathological pattern can hang the loop
    literal = skill.call("grep", {"pod": pod, "pattern": "(a+)+$", "previous": True})
    assert literal.status is ToolStatus.NO_DATA
    too_long = skill.call("grep", {"pod": pod, "pattern": "x" * 101})
    assert too_long.status is ToolStatus.ERROR
    no_previous = skill.call("tail", {"pod": "checkout-5c6d7e8f9-aaaaa", "previous": True})
    assert no_previous.status is ToolStatus.NO_DATA


def test_errors_tool_scans_every_container_and_run() -> None:
    skill = LogsSkill(load("config-error.yaml"), "shop")
    result = skill.call("errors", {"pod": "billing-6c7d8e9f0-abcde"})
    assert result.status is ToolStatus.OK
    (entry,) = result.data["containers"]
    assert entry["previous"] is True and entry["patterns"]["traceback"] == 1


# --------------------------------------------------------------------------- nodes


def test_not_ready_node_and_memory_pressure() -> None:
    skill = NodesSkill(load("nodes.yaml"))
    snapshot = skill.snapshot()
    assert snapshot["not_ready"] == ["node-2"]
    assert snapshot["pressure"] == {"node-3": ["MemoryPressure"]}
    found = skill.findings(snapshot)
    not_ready = by_type(found, anomalies.NODE_NOT_READY)
    assert len(not_ready) == 1
    evidence = not_ready[0].evidence or {}
    assert evidence["status"] == "Unknown" and evidence["reason"] == "NodeStatusUnknown"
    assert evidence["pod_names"] == ["shop/cache-0"]
    assert "node.kubernetes.io/unreachable:NoExecute" in evidence["taints"]
    pressure = by_type(found, anomalies.NODE_PRESSURE)
    assert [(p.evidence or {})["condition"] for p in pressure] == ["MemoryPressure"]
    assert all(f.subject is not None and f.subject.kind == "Node" for f in found)


def test_requested_counts_init_containers_and_skips_finished_pods() -> None:
    skill = NodesSkill(load("nodes.yaml"))
    node = skill.call("describe_node", {"name": "node-3"})
    assert node.data["cpu"]["requested"] == 3.0  # the 3-core init container dominates
    assert node.data["memory"]["requested"] == 4 * 2**30
    assert node.data["pods"] == 1
    listed = skill.call("list_nodes", {})
    assert listed.data["items"][0]["name"] == "node-2"  # not ready first
    pods = skill.call("pods_on_node", {"name": "node-2"})
    assert [p["name"] for p in pods.data["items"]] == ["cache-0"]


# --------------------------------------------------------------------------- workloads


def test_stuck_rollout_names_its_failing_new_pods() -> None:
    skill = WorkloadsSkill(load("stuck-rollout.yaml"), "shop")
    found = findings_of(skill)
    assert [f.anomaly_type for f in found] == [anomalies.ROLLOUT_STUCK]
    evidence = found[0].evidence or {}
    assert evidence["deadline_exceeded"] is True
    assert [p["name"] for p in evidence["failing_pods"]] == ["checkout-6f7b8c9d4-zz9yx"]
    assert evidence["failing_reasons"] == ["CrashLoopBackOff"]
    status = skill.call("rollout_status", {"kind": "Deployment", "name": "checkout"})
    assert status.data["updated"] == 1 and status.data["desired"] == 3


def test_pending_pvc_with_missing_storage_class() -> None:
    skill = WorkloadsSkill(load("pending-pvc.yaml"), "shop")
    found = findings_of(skill)
    pvc = by_type(found, anomalies.PVC_PENDING)
    assert len(pvc) == 1
    evidence = pvc[0].evidence or {}
    assert evidence["storage_class"] == "fast-ssd"
    assert evidence["storage_class_exists"] is False
    assert evidence["used_by"] == ["db-0"]
    assert evidence["events"][0]["reason"] == "ProvisioningFailed"
    assert "does not exist" in pvc[0].hypothesis
    # the StatefulSet cannot progress either: its only pod cannot be scheduled
    assert by_type(found, anomalies.ROLLOUT_STUCK)
    assert skill.call("pvcs", {}).data["items"][0]["name"] == "data-db-0"
    listed = skill.call("list", {"kind": "StatefulSet"})
    assert listed.data["items"][0]["ready"] == 0


def test_wait_for_first_consumer_claim_without_pod_is_not_an_anomaly() -> None:
    source = StaticSource.from_objects([
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": "local"}, "provisioner": "x",
         "volumeBindingMode": "WaitForFirstConsumer"},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "scratch", "namespace": "ops"},
         "spec": {"storageClassName": "local"}, "status": {"phase": "Pending"}},
    ])
    assert findings_of(WorkloadsSkill(source)) == []


def test_healthy_cluster_has_no_findings() -> None:
    source = load("stuck-rollout.yaml")
    healthy = [o for o in source.list("Pod") if o["metadata"]["name"].endswith("aaaaa")]
    quiet = StaticSource.from_objects(healthy)
    for skill in cluster_skills(quiet, "shop"):
        assert findings_of(skill) == [], skill.name


# --------------------------------------------------------------------------- contracts


def test_every_skill_has_three_tools_and_stays_small() -> None:
    skills = cluster_skills(StaticSource(), None)
    assert [s.name for s in skills] == [
        "pods", "events", "logs", "nodes", "workloads", "services", "graph"]
    total = 0
    for skill in skills:
        assert len(skill.tools) >= 3
        assert len(skill.description) <= 90
        total += len(json.dumps(skill.describe())) + len(skill.prompt)
    # about 4 characters a token: the seven cluster skills take under 2,700 tokens
    assert total < 10_800



def test_source_errors_become_error_results_and_snapshot_notes() -> None:
    class Forbidden(StaticSource):
        def list(self, kind: str, namespace: str | None = None,
                 label_selector: str | None = None,
                 field_selector: str | None = None) -> list[dict[str, Any]]:
            raise ClusterSourceError(f"cannot list {kind}: HTTP 403 forbidden")

    skill = PodsSkill(Forbidden(), "shop")
    result = skill.call("list_pods", {})
    assert result.status is ToolStatus.ERROR and "403 forbidden" in (result.error or "")
    assert "403" in skill.snapshot()["errors"][0]


def test_a_source_reads_one_namespace_or_all() -> None:
    source = load("oom-killed.yaml", "nodes.yaml")
    assert source.list("Pod", "ops") == []
    assert {p["metadata"]["namespace"] for p in source.list("Pod")} == {"shop"}
    assert len(source.list("Pod", "shop")) == len(source.list("Pod"))
    assert len(source.list("Node", "ops")) == 3


def test_selectors_and_quantities() -> None:
    labels = {"app": "web", "tier": "front"}
    assert matches_label_selector(labels, "app=web,tier in (front,back)")
    assert not matches_label_selector(labels, "app!=web")
    assert matches_label_selector(labels, "!canary,app")
    assert not matches_label_selector(labels, "tier notin (front)")
    obj = {"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    assert matches_field_selector(obj, "spec.nodeName=n1,status.phase!=Failed")
    assert parse_quantity("500m") == 0.5
    assert parse_quantity("16222636Ki") == 16222636 * 1024
    assert parse_quantity("1e3") == 1000.0
    assert parse_missing_reference('configmap "app-config" not found') == {
        "kind": "ConfigMap", "name": "app-config"}
    assert parse_missing_reference('secret "db" not found') == {"kind": "Secret", "name": "db"}


# --------------------------------------------------------------------------- live source


class FakeApiServer(BaseHTTPRequestHandler):
    """Just enough of kube-apiserver for KubernetesSource: lists with pages, get, logs."""

    pods = [
        {"metadata": {"name": f"p{i}", "namespace": "shop"}, "spec": {}, "status": {}}
        for i in range(3)
    ]
    requests: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append(self.path)
        if url.path == "/api/v1/namespaces/shop/pods":
            # two pages: the client must follow the continue token
            start = int(query.get("continue") or 0)
            page = self.pods[start:start + 2]
            more = str(start + 2) if start + 2 < len(self.pods) else ""
            self._send(200, {"kind": "PodList", "apiVersion": "v1",
                             "metadata": {"continue": more}, "items": page})
        elif url.path == "/api/v1/pods":
            other = {"metadata": {"name": "dns", "namespace": "kube-system"}}
            self._send(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                             "items": [*self.pods, other]})
        elif url.path == "/api/v1/namespaces/shop/pods/p1":
            self._send(200, {"kind": "Pod", "apiVersion": "v1", **self.pods[1]})
        elif url.path == "/api/v1/namespaces/shop/pods/p1/log":
            if query.get("previous") == "true":
                self._send(400, {"kind": "Status", "message":
                                 "previous terminated container \"app\" not found"})
            else:
                self._send(200, b"line one\nline two\n", "text/plain")
        elif url.path == "/api/v1/nodes":
            self._send(403, {"kind": "Status", "message": 'nodes is forbidden: User '
                             '"system:serviceaccount:kubelens:kubelens" cannot list'})
        elif url.path == "/apis/apps/v1/namespaces/shop/deployments":
            self._send(500, {"kind": "Status", "message": "etcdserver: request timed out"})
        else:
            self._send(404, {"kind": "Status", "message": "not found"})


@pytest.fixture
def fake_api() -> Iterator[ApiClient]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    configuration = Configuration(host=f"http://127.0.0.1:{server.server_address[1]}")
    configuration.retries = False
    client = ApiClient(configuration)
    try:
        yield client
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def test_kubernetes_source_reads_camel_case_pages_and_logs(fake_api: ApiClient) -> None:
    source = KubernetesSource(fake_api)
    pods = source.list("Pod", "shop", label_selector="app=web")
    assert [p["metadata"]["name"] for p in pods] == ["p0", "p1", "p2"]
    # no namespace: the cluster-wide path, every namespace
    assert [p["metadata"]["name"] for p in source.list("Pod")] == ["p0", "p1", "p2", "dns"]
    assert any(r.startswith("/api/v1/pods?") for r in FakeApiServer.requests)
    assert all(p["kind"] == "Pod" and p["apiVersion"] == "v1" for p in pods)
    assert any("labelSelector=app%3Dweb" in r for r in FakeApiServer.requests)
    assert source.get("Pod", "shop", "p1") == {"kind": "Pod", "apiVersion": "v1",
                                                "metadata": {"name": "p1", "namespace": "shop"},
                                                "spec": {}, "status": {}}
    assert source.get("Pod", "shop", "gone") is None
    assert source.logs("shop", "p1", "app") == "line one\nline two\n"
    assert source.logs("shop", "p1", "app", previous=True) is None


def test_kubernetes_source_turns_failures_into_messages(fake_api: ApiClient) -> None:
    source = KubernetesSource(fake_api)
    with pytest.raises(ClusterSourceError, match=r"HTTP 403 forbidden.*cannot list"):
        source.list("Node")
    with pytest.raises(ClusterSourceError, match="HTTP 500 the API server failed: etcdserver"):
        source.list("Deployment", "shop")
    with pytest.raises(ClusterSourceError, match="unknown kind 'Secret'"):
        source.list("Secret")
    result = NodesSkill(source, "shop").call("list_nodes", {})
    assert result.status is ToolStatus.ERROR and "forbidden" in (result.error or "")


def test_kubernetes_source_unreachable_server_is_a_message() -> None:
    configuration = Configuration(host="http://127.0.0.1:9")
    configuration.retries = False
    with ApiClient(configuration) as client:
        source = KubernetesSource(client, request_timeout=2)
        with pytest.raises(ClusterSourceError, match="cannot read pods"):
            source.list("Pod")


def test_an_object_recorded_twice_is_one_object() -> None:
    source = load("events.yaml", "pending-pvc.yaml")
    events = [e for e in source.list("Event") if e["metadata"]["name"] == "db-0.17c0f2"]
    assert len(events) == 1
    assert len(source.objects()) == len({
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        for o in source.objects()})


def test_liveness_and_readiness_failures_of_one_pod_are_told_apart() -> None:
    from kubelens.skills.cluster.events import group_events

    def unhealthy(message: str, when: str, count: int) -> dict[str, Any]:
        return {"kind": "Event", "metadata": {"name": message[:8], "namespace": "shop"},
                "involvedObject": {"kind": "Pod", "name": "api-1", "namespace": "shop"},
                "type": "Warning", "reason": "Unhealthy", "message": message,
                "count": count, "lastTimestamp": when}

    groups = group_events([
        unhealthy("Liveness probe failed: HTTP probe failed with statuscode: 404",
                  "2026-11-18T13:20:00Z", 30),
        unhealthy("Readiness probe failed: connection refused", "2026-11-18T13:25:00Z", 4),
        unhealthy("Readiness probe failed: connection refused", "2026-11-18T13:26:00Z", 2),
    ])
    assert [(g["message"].split(":")[0], g["count"]) for g in groups] == [
        ("Readiness probe failed", 6), ("Liveness probe failed", 30)]


def test_a_crash_looping_init_container_is_said_to_hold_the_pod_back() -> None:
    from kubelens.skills.cluster.pods import pod_findings

    def crashing(name: str) -> dict[str, Any]:
        return {"name": name, "restartCount": 10, "ready": False,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 255, "reason": "Error"}}}

    def pod(init: dict[str, Any]) -> dict[str, Any]:
        return {"kind": "Pod", "metadata": {"name": "api-1", "namespace": "shop"},
                "spec": {"initContainers": [init],
                         "containers": [{"name": "api", "image": "api:2"}]},
                "status": {"phase": "Pending", "initContainerStatuses": [crashing(init["name"])],
                           "containerStatuses": [{"name": "api", "restartCount": 0,
                                                  "state": {"waiting": {
                                                      "reason": "PodInitializing"}}}]}}

    [blocking] = pod_findings(pod({"name": "migrate", "image": "api:2"}))
    assert blocking.observation.startswith("init container migrate of pod shop/api-1")
    assert "other containers do not start until it succeeds" in blocking.observation
    sidecar = {"name": "proxy", "image": "envoy:1", "restartPolicy": "Always"}
    [restarting] = pod_findings(pod(sidecar))
    assert restarting.observation.startswith("container proxy of pod shop/api-1")


def test_log_patterns_read_a_missing_setting_and_an_error_level_by_their_conventions() -> None:
    from kubelens.skills.cluster.logs import ERROR_PATTERNS

    setting = ERROR_PATTERNS["missing_key"]
    assert setting.search("KeyError: 'DATABASE_URL'")
    assert setting.search("environment variable LEDGER_URL not set")
    assert not setting.search("KeyError: 'currency'")  # a dict lookup in the code
    error = ERROR_PATTERNS["error"]
    for line in ("ERROR [alembic] Can't locate revision", "  FAILED: Can't locate revision",
                 '{"level":"error","msg":"x"}', "ts=1 level=error msg=x",
                 "2026-03-10 14:16:36,104 [ERROR] worker died"):
        assert error.search(line), line
    for line in ("INFO retrying after an error", '{"level":"info","msg":"0 errors"}',
                 "ERRORS_TOTAL=0"):
        assert not error.search(line), line
