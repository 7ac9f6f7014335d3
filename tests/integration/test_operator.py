"""The real operator (kopf, the kubernetes client) against a real kube-apiserver (envtest).

Each test reads like the README: create an Investigation, wait for its status, look
at what a user would see (phase, insights, Notifications, Events).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner

from kubelens.resources import ANNOTATION_CANCEL_IF_PENDING as CANCEL_IF_PENDING
from tests.llm_server import ScriptedLLM, Turn, call
from tests.support.fixtures import Kubectl, KubeEnv
from tests.support.processes import free_port

TERMINAL = {"Succeeded", "Failed", "Cancelled"}


@pytest.fixture
def operator_env(real_kube_env: KubeEnv, monkeypatch: pytest.MonkeyPatch) -> KubeEnv:
    kube_env = real_kube_env
    monkeypatch.setenv("KUBELENS_NAMESPACE", kube_env.namespace)
    monkeypatch.setenv("KUBELENS_METRICS_PORT", "0")
    for var in ("KUBELENS_MODEL", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    return kube_env


@pytest.fixture
def kubectl(real_kube_env: KubeEnv, tmp_path: Path) -> Kubectl:
    """The real kubectl, pointed at the real API server's namespace for this test."""
    return Kubectl(real_kube_env.kubeconfig, tmp_path / "kubectl-cache")


@pytest.fixture
def scripted_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLLM]:
    """A slow scripted LLM: each investigation thinks for a while, then finishes."""
    server = ScriptedLLM([], default=Turn(delay=0.6, tool_calls=[("done", {})])).start()
    monkeypatch.setenv("KUBELENS_MODEL", "openai/scripted")
    monkeypatch.setenv("KUBELENS_LLM_API_BASE", server.api_base)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-scripted")
    try:
        yield server
    finally:
        server.stop()


def operator(*namespaces: str) -> KopfRunner:
    args = ["run", "-m", "kubelens.operator.handlers", "--standalone"]
    args += [f"--namespace={ns}" for ns in namespaces]
    return KopfRunner(args, timeout=60)


def investigation(name: str, reason: str = "pods keep restarting", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubelens.io/v1alpha1",
        "kind": "Investigation",
        "metadata": {"name": name},
        "spec": {"reason": reason, **spec},
    }


def create(env: KubeEnv, body: dict[str, Any], namespace: str | None = None) -> None:
    from kubernetes import client

    api = client.CustomObjectsApi(_client(env))
    api.create_namespaced_custom_object("kubelens.io", "v1alpha1", namespace or env.namespace,
                                        "investigations", body)


def _client(env: KubeEnv) -> Any:
    from kubernetes import config

    return config.new_client_from_config(config_file=str(env.kubeconfig))


def phase_of(obj: dict[str, Any] | None) -> str | None:
    return (obj or {}).get("status", {}).get("phase")


def wait_phase(env: KubeEnv, name: str, phases: set[str], namespace: str | None = None,
               timeout: float = 30) -> dict[str, Any]:
    obj = env.emulator.wait_for("investigations", name, namespace or env.namespace,
                                lambda o: phase_of(o) in phases, timeout=timeout)
    assert obj is not None
    return obj


def oom_killed_pod(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "api-7d9f", "namespace": namespace, "uid": "u-api",
                     "labels": {"app": "api"}},
        "spec": {"nodeName": "node-1", "containers": [{
            "name": "api", "image": "example/api:1.4",
            "resources": {"limits": {"memory": "128Mi"}, "requests": {"memory": "128Mi"}}}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{
                "name": "api", "ready": False, "restartCount": 6, "image": "example/api:1.4",
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": "back-off 5m0s restarting failed container"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                                             "finishedAt": "2026-11-24T06:00:00Z"}},
            }],
        },
    }


def events_for(env: KubeEnv, name: str) -> list[str]:
    return [e.get("reason", "") for e in env.emulator.list("events", env.namespace)
            if (e.get("involvedObject") or {}).get("name") == name]


def test_investigation_succeeds_with_insights_from_the_rule_based_analyst(
        operator_env: KubeEnv) -> None:
    env = operator_env
    env.emulator.create(oom_killed_pod(env.namespace))
    with operator(env.namespace):
        create(env, investigation("why-restarts"))
        obj = wait_phase(env, "why-restarts", TERMINAL)
    status = obj["status"]
    assert status["phase"] == "Succeeded", status.get("message")
    assert status["analyst"] == "rule-based"
    assert status["insightCount"] >= 1
    insight = status["insights"][0]
    assert "api-7d9f" in insight["summary"] + insight["rootCauseHypothesis"]
    assert "OOM" in insight["summary"] + insight["rootCauseHypothesis"]
    assert {r["skill"] for r in status["operatorResults"]} >= {"pods", "events", "nodes"}
    assert status["observedGeneration"] == 1
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Accepted": "True", "Complete": "True"}
    assert status["startedAt"] <= status["finishedAt"]
    # The pod's anomaly became a Notification, resolved by the insight that cites it.
    notifications = env.emulator.list("notifications", env.namespace)
    cited = set(insight["notificationIds"])
    assert cited and cited <= {n["metadata"]["name"] for n in notifications}
    for notification in notifications:
        if notification["metadata"]["name"] in cited:
            assert notification["status"]["state"] == "Resolved"
            assert notification["status"]["investigation"] == "why-restarts"
            assert notification["status"]["insightId"] == insight["id"]
    reasons = events_for(env, "why-restarts")
    assert {"Queued", "Started", "Insight", "Succeeded"} <= set(reasons)


def test_one_running_per_namespace_in_creation_order(
        operator_env: KubeEnv, scripted_model: ScriptedLLM) -> None:
    env = operator_env
    seen_running: list[set[str]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            running = {o["metadata"]["name"] for o in env.emulator.list(
                "investigations", env.namespace) if phase_of(o) == "Running"}
            seen_running.append(running)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    with operator(env.namespace):
        watcher.start()
        for name in ("first", "second", "third"):
            create(env, investigation(name))
            time.sleep(0.05)
        pending = env.emulator.wait_for(
            "investigations", "third", env.namespace,
            lambda o: phase_of(o) == "Pending" and o["status"].get("queuePosition", 0) >= 1,
            timeout=30)
        assert pending is not None
        done = [wait_phase(env, n, TERMINAL) for n in ("first", "second", "third")]
        stop.set()
        watcher.join()
    assert [d["status"]["phase"] for d in done] == ["Succeeded"] * 3
    assert max(len(r) for r in seen_running) == 1
    finished = [d["status"]["finishedAt"] for d in done]
    started = [d["status"]["startedAt"] for d in done]
    assert started == sorted(started) and finished == sorted(finished)
    assert started[1] >= finished[0] and started[2] >= finished[1]


def test_namespaces_run_in_parallel(operator_env: KubeEnv, scripted_model: ScriptedLLM) -> None:
    env = operator_env
    other = "other-ns"
    env.emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    with operator(env.namespace, other):
        create(env, investigation("here"))
        create(env, investigation("there"), namespace=other)
        deadline = time.monotonic() + 20
        both = False
        while time.monotonic() < deadline and not both:
            both = (phase_of(env.emulator.get("investigations", "here", env.namespace))
                    == "Running" == phase_of(env.emulator.get("investigations", "there", other)))
            time.sleep(0.02)
        wait_phase(env, "here", TERMINAL)
        wait_phase(env, "there", TERMINAL, namespace=other)
    assert both, "the two namespaces never ran at the same time"


def test_deleting_running_and_pending_investigations_cancels_them(
        operator_env: KubeEnv, scripted_model: ScriptedLLM) -> None:
    env = operator_env
    scripted_model.default = Turn(delay=0.5, tool_calls=[("think", {"thought": "..."})])
    with operator(env.namespace):
        create(env, investigation("long"))
        create(env, investigation("waiting"))
        wait_phase(env, "long", {"Running"})
        wait_phase(env, "waiting", {"Pending"})
        env.emulator.delete("investigations", "waiting", env.namespace)
        env.emulator.delete("investigations", "long", env.namespace)
        env.emulator.wait_for("investigations", "long", env.namespace, lambda o: o is None,
                              timeout=20)
        env.emulator.wait_for("investigations", "waiting", env.namespace, lambda o: o is None,
                              timeout=20)
    assert "Cancelled" in events_for(env, "long")
    assert "Cancelled" in events_for(env, "waiting")


def test_cancel_if_pending_cancels_a_waiting_investigation_not_a_running_one(
        operator_env: KubeEnv, scripted_model: ScriptedLLM) -> None:
    """What the webhook does when an alert group resolves: it annotates, the operator
    (the only writer of status) cancels what has not started."""
    env = operator_env
    scripted_model.default = Turn(delay=0.3, tool_calls=[("think", {"thought": "..."})])
    cancel = {"metadata": {"annotations": {CANCEL_IF_PENDING: "the alert resolved"}}}
    with operator(env.namespace):
        create(env, investigation("long", maxIterations=8))
        create(env, investigation("waiting"))
        wait_phase(env, "long", {"Running"})
        wait_phase(env, "waiting", {"Pending"})
        env.emulator.patch("investigations", "waiting", cancel, env.namespace)
        env.emulator.patch("investigations", "long", cancel, env.namespace)
        waiting = wait_phase(env, "waiting", TERMINAL)
        early_body = investigation("resolved-early")
        early_body["metadata"]["annotations"] = cancel["metadata"]["annotations"]
        create(env, early_body)
        early = wait_phase(env, "resolved-early", TERMINAL)
        long = wait_phase(env, "long", TERMINAL, timeout=40)
    assert waiting["status"]["phase"] == "Cancelled"
    assert waiting["status"]["message"] == "the alert resolved"
    assert early["status"]["phase"] == "Cancelled"
    assert "startedAt" not in early["status"]
    assert long["status"]["phase"] != "Cancelled"
    assert long["status"]["iteration"] == 8
    assert "Cancelled" in events_for(env, "waiting")


def test_restart_mid_run_finishes_without_duplicate_insights(
        operator_env: KubeEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    env = operator_env
    env.emulator.create(notification("disk-1", env.namespace))
    insight = {"notification_ids": ["disk-1"], "correlation_type": "causal",
               "summary": "disk / on node-1 is 97% full", "confidence": "high",
               "root_cause_hypothesis": "logs fill the disk"}

    def first_life(body: dict[str, Any]) -> Turn:
        if not any(m.get("name") == "produce_insight" for m in body["messages"]):
            return call("produce_insight", insight)
        return Turn(delay=10, tool_calls=[("done", {})])  # the operator dies meanwhile

    def second_life(body: dict[str, Any]) -> Turn:
        # A resumed run is told what was already recorded; it repeats it anyway,
        # as a forgetful model would, then finishes.
        if not any(m.get("name") == "produce_insight" for m in body["messages"]):
            return call("produce_insight", insight)
        return call("done")

    with ScriptedLLM([], default=first_life) as server:
        monkeypatch.setenv("KUBELENS_MODEL", "openai/scripted")
        monkeypatch.setenv("KUBELENS_LLM_API_BASE", server.api_base)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        with operator(env.namespace):
            create(env, investigation("survivor"))
            env.emulator.wait_for("investigations", "survivor", env.namespace,
                                  lambda o: (o or {}).get("status", {}).get("insightCount") == 1)
        assert phase_of(env.emulator.get("investigations", "survivor", env.namespace)) == (
            "Running")
        server.default = second_life
        with operator(env.namespace):
            obj = wait_phase(env, "survivor", TERMINAL)
    assert obj["status"]["phase"] == "Succeeded"
    assert obj["status"]["insightCount"] == 1
    assert len(obj["status"]["insights"]) == 1
    disk = env.emulator.get("notifications", "disk-1", env.namespace)
    assert disk is not None and disk["status"]["state"] == "Resolved"
    resumed = server.requests[-2]["messages"][1]["content"]
    assert "already recorded" in resumed


def notification(name: str, namespace: str, state: str = "Unread") -> dict[str, Any]:
    return {
        "apiVersion": "kubelens.io/v1alpha1", "kind": "Notification",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"kubelens.io/fingerprint": "abcdef0123456789"}},
        "spec": {"skill": "os", "anomalyType": "disk_full", "severity": "critical",
                 "observation": "Mount / on node-1 is 97% full", "node": "node-1",
                 "subject": {"kind": "Mount", "name": "/"},
                 "fingerprint": "abcdef0123456789", "detectedAt": "2026-11-24T06:00:00Z"},
        "status": {"state": state, "count": 1},
    }


def test_notifications_not_resolved_are_released_not_left_acknowledged(
        operator_env: KubeEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    env = operator_env
    env.emulator.create(notification("noise-1", env.namespace))
    script = [call("get_notifications", {"status": "unread"}),
              call("update_notification_statuses",
                   {"ids": ["noise-1"], "status": "acknowledged", "reason": "looking"}),
              call("done")]
    with ScriptedLLM(script) as server:
        monkeypatch.setenv("KUBELENS_MODEL", "openai/scripted")
        monkeypatch.setenv("KUBELENS_LLM_API_BASE", server.api_base)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        with operator(env.namespace):
            create(env, investigation("glance"))
            wait_phase(env, "glance", TERMINAL)
    obj = env.emulator.get("notifications", "noise-1", env.namespace)
    assert obj is not None
    assert obj["status"]["state"] == "Unread"
    assert "released" in obj["status"]["reason"]


def test_invalid_specs_are_refused_by_the_api_with_the_schema_message(
        operator_env: KubeEnv) -> None:
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as refused:
        create(operator_env, investigation("too-many", maxIterations=500))
    assert refused.value.status == 422
    assert "spec.maxIterations" in refused.value.body
    with pytest.raises(ApiException) as missing:
        create(operator_env, {"apiVersion": "kubelens.io/v1alpha1", "kind": "Investigation",
                              "metadata": {"name": "no-reason"}, "spec": {}})
    assert missing.value.status == 422 and "spec.reason" in missing.value.body


def test_a_spec_that_cannot_run_fails_with_a_message_naming_the_problem(
        operator_env: KubeEnv) -> None:
    env = operator_env
    with operator(env.namespace):
        create(env, investigation("bad-skill", skills=["pods", "telepathy"]))
        create(env, investigation("bad-model", model="openai/gpt-5-ultra"))
        skill = wait_phase(env, "bad-skill", TERMINAL)
        model = wait_phase(env, "bad-model", TERMINAL)
    assert skill["status"]["phase"] == "Failed"
    assert "unknown skill(s) telepathy" in skill["status"]["message"]
    assert model["status"]["phase"] == "Failed"
    assert "not in the operator's allow-list" in model["status"]["message"]
    assert "InvalidSpec" in events_for(env, "bad-skill")


def test_kubectl_apply_example_then_get_investigations(
        operator_env: KubeEnv, kubectl: Any) -> None:
    env = operator_env
    with operator(env.namespace):
        kubectl("apply", "-f", "examples/investigation.yaml")
        name = env.emulator.list("investigations", env.namespace)[0]["metadata"]["name"]
        wait_phase(env, name, TERMINAL)
    table = kubectl("get", "investigations").stdout
    assert table.split()[:4] == ["NAME", "PHASE", "INSIGHTS", "AGE"]
    assert name in table and "Succeeded" in table


def test_operator_metrics_count_investigations_and_tool_calls(
        operator_env: KubeEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    env = operator_env
    port = free_port()
    monkeypatch.setenv("KUBELENS_METRICS_PORT", str(port))
    env.emulator.create(oom_killed_pod(env.namespace))
    with operator(env.namespace):
        create(env, investigation("measured"))
        wait_phase(env, "measured", TERMINAL)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }
    ns = env.namespace
    assert samples[("kubelens_investigations_total",
                    (("namespace", ns), ("phase", "Succeeded")))] == 1
    assert samples[("kubelens_investigations_total",
                    (("namespace", ns), ("phase", "Running")))] == 1
    assert samples[("kubelens_queue_depth", (("namespace", ns),))] == 0
    tool_calls = sum(v for (name, labels), v in samples.items()
                     if name == "kubelens_tool_calls_total" and ("outcome", "ok") in labels)
    assert tool_calls >= 3
    assert samples[("kubelens_investigation_duration_seconds_count",
                    (("namespace", ns), ("outcome", "done")))] == 1
