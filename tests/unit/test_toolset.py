"""The toolset as a model experiences it (issue 12), through litellm's real HTTP path.

Each test scripts the calls a model would make against a small recorded cluster and
asserts on what came back in the next request: the data a model answers from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelens.coordinator import Coordinator, LiteLLMClient, RunOptions
from kubelens.models import RunOutcome
from kubelens.ports.notifications import InMemoryNotificationStore
from kubelens.ports.operators import InProcessOperators
from kubelens.skills import node_skills
from kubelens.skills.base import Skill
from kubelens.skills.cluster import StaticSource, cluster_skills
from tests.llm_server import ScriptedLLM, Turn, call
from tests.unit.test_node_skills import MIB, POD_UID, FakeHost, systemd_pod, v2_systemd_host

HOME = "shop"
NODE = "node-1"
API_POD = "api-5d8f7c6b9-q2w3e"
BATCH_UID = "6a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
BATCH_CONTAINER_ID = "b" * 64


def pod(
    name: str,
    namespace: str,
    uid: str,
    owner: tuple[str, str] | None = None,
    container_id: str = "a" * 64,
    cpu: str = "100m",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid}
    if owner:
        metadata["ownerReferences"] = [
            {"kind": owner[0], "name": owner[1], "controller": True, "apiVersion": "v1"}
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "main", "image": "img:1",
                            "resources": {"requests": {"cpu": cpu}}}],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "main", "ready": True, "restartCount": 0,
                                   "containerID": f"containerd://{container_id}",
                                   "state": {"running": {}}}],
        },
    }


def cluster() -> list[dict[str, Any]]:
    node = {
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE},
        "status": {"allocatable": {"cpu": "4", "memory": "16Gi"},
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob",
               "metadata": {"name": "nightly-report", "namespace": "batch"},
               "spec": {"schedule": "0 * * * *"}}
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "nightly-report-29000", "namespace": "batch",
                        "ownerReferences": [{"kind": "CronJob", "name": "nightly-report",
                                             "controller": True}]}}
    return [
        node,
        pod(API_POD, HOME, "11111111-2222-4333-8444-555555555555",
            owner=("ReplicaSet", "api-5d8f7c6b9")),
        pod("nightly-report-29000-x7k2p", "batch", BATCH_UID,
            owner=("Job", "nightly-report-29000"), container_id=BATCH_CONTAINER_ID, cpu="3"),
        job,
        cronjob,
    ]


def skills_for(objects: list[dict[str, Any]], logs: dict[Any, str] | None = None) -> list[Skill]:
    return cluster_skills(StaticSource.from_objects(objects, logs=logs), HOME)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    yield


async def model_sees(
    skills: list[Skill], calls: list[tuple[str, str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Make ``calls`` (skill, tool, arguments) in one model turn; return the results the
    model received in its next request, in order."""
    turn = Turn(tool_calls=[
        ("call_skill", {"skill": skill, "tool": tool, "arguments": arguments})
        for skill, tool, arguments in calls
    ])
    store = InMemoryNotificationStore([])
    with ScriptedLLM([turn, call("done")]) as server:
        model = LiteLLMClient(model="openai/scripted", api_base=server.api_base,
                              api_key="sk-test", backoff=0.01)
        coordinator = Coordinator(
            model=model, store=store,
            operators=InProcessOperators(skills, store, source=NODE))
        result = await coordinator.run({"reason": "checkout is slow"}, RunOptions(timeout=30))
    assert result.outcome is RunOutcome.DONE, result.message
    return server.tool_results(1)


# --------------------------------------------------------------------------- scope


async def test_a_read_in_another_namespace_reaches_the_model() -> None:
    seen = await model_sees(skills_for(cluster()), [
        ("pods", "describe_pod", {"name": "nightly-report-29000-x7k2p", "namespace": "batch"}),
        ("pods", "list_pods", {"namespace": "batch"}),
        ("pods", "list_pods", {}),
    ])
    described, listed, home = (s["data"] for s in seen)
    assert described["namespace"] == "batch" and described["owner"] == "Job/nightly-report-29000"
    assert [p["name"] for p in listed["items"]] == ["nightly-report-29000-x7k2p"]
    # the default stays the investigation's namespace
    assert [p["name"] for p in home["items"]] == [API_POD]


async def test_node_views_show_the_neighbour_from_another_namespace() -> None:
    seen = await model_sees(skills_for(cluster()), [
        ("nodes", "pods_on_node", {"name": NODE}),
        ("pods", "list_pods", {"node": NODE}),
        ("nodes", "describe_node", {"name": NODE}),
    ])
    on_node, listed, described = (s["data"] for s in seen)
    expected = {(HOME, API_POD), ("batch", "nightly-report-29000-x7k2p")}
    assert {(p["namespace"], p["name"]) for p in on_node["items"]} == expected
    assert {(p["namespace"], p["name"]) for p in listed["items"]} == expected
    assert described["pods"] == 2 and described["pods_by_namespace"] == {HOME: 1, "batch": 1}
    # the batch pod's 3 cores count: 3.1 of 4 requested
    assert described["cpu"]["requested"] == pytest.approx(3.1)


@pytest.mark.parametrize("seen_as", [
    {"uid": BATCH_UID},
    # systemd's cgroup slice spelling of the same UID
    {"uid": f"kubepods-besteffort-pod{BATCH_UID.replace('-', '_')}.slice"},
    {"container_id": f"cri-containerd-{BATCH_CONTAINER_ID}.scope"},
])
async def test_a_pod_uid_from_a_cgroup_names_the_pod_and_its_cronjob(
    seen_as: dict[str, str],
) -> None:
    (found,) = await model_sees(skills_for(cluster()), [("pods", "pod_by_uid", seen_as)])
    assert found["status"] == "ok", found
    data = found["data"]
    assert (data["namespace"], data["name"]) == ("batch", "nightly-report-29000-x7k2p")
    assert data["owners"] == ["Job/nightly-report-29000", "CronJob/nightly-report"]
    assert data["node"] == NODE
    assert data.get("container") == ("main" if "container_id" in seen_as else None)


async def test_an_unknown_uid_says_it_looked_everywhere() -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    (found,) = await model_sees(skills_for(cluster()), [("pods", "pod_by_uid", {"uid": unknown})])
    assert found["status"] == "no_data"
    assert f"no pod with uid {unknown} in any namespace" in found["error"]


# --------------------------------------------------------------------------- truncation


def crashed_api(message: str = "back-off") -> dict[str, Any]:
    crashed = pod(API_POD, HOME, "11111111-2222-4333-8444-555555555555")
    crashed["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    crashed["status"]["containerStatuses"][0].update(
        ready=False,
        restartCount=7,
        state={"waiting": {"reason": "ErrImagePull", "message": message}},
        lastState={"terminated": {"reason": "Error", "exitCode": 1}},
    )
    return crashed


def long_log(lines: int) -> str:
    body = [
        f"2026-11-24T05:{i // 60:02d}:{i % 60:02d}Z INFO request {i} served in 12ms "
        + "x" * 120
        for i in range(lines - 1)
    ]
    return "\n".join([*body, "2026-11-24T06:00:00Z FATAL heap exhausted, exiting"]) + "\n"


async def test_a_long_previous_log_keeps_its_last_line() -> None:
    logs = {(HOME, API_POD, "main", True): long_log(500)}
    (tail,) = await model_sees(
        skills_for([crashed_api()], logs),
        [("logs", "tail", {"pod": API_POD, "previous": True, "lines": 500})],
    )
    excerpt = tail["data"]["log_excerpt"]
    assert tail["truncated"] is True
    assert excerpt[-1] == "2026-11-24T06:00:00Z FATAL heap exhausted, exiting"
    assert excerpt[0].startswith("2026-11-24T05:")  # whole lines, not a cut JSON text
    left_out = 500 - len(excerpt)
    assert left_out > 0
    assert tail["data"]["cut"][0] == (
        f"log_excerpt: {left_out} older entries left out; the newest {len(excerpt)} are kept"
    )


async def test_grep_takes_the_last_or_first_matches_after_a_time() -> None:
    logs = {(HOME, API_POD, "main", True): long_log(300)}
    skills = skills_for([crashed_api()], logs)
    last, first, since = await model_sees(skills, [
        ("logs", "grep", {"pod": API_POD, "previous": True, "pattern": "served", "limit": 3}),
        ("logs", "grep", {"pod": API_POD, "previous": True, "pattern": "served", "limit": 2,
                          "last": False}),
        ("logs", "grep", {"pod": API_POD, "previous": True, "pattern": "request|FATAL",
                          "since": "2026-11-24T05:04:57Z"}),
    ])
    assert [line.split()[3] for line in last["data"]["log_excerpt"]] == ["296", "297", "298"]
    assert last["data"]["shown"] == "last 3 of 299"
    assert [line.split()[3] for line in first["data"]["log_excerpt"]] == ["0", "1"]
    # 05:04:57 is request 297: 297, 298 and the FATAL line
    assert len(since["data"]["log_excerpt"]) == 3
    assert since["data"]["log_excerpt"][-1].endswith("FATAL heap exhausted, exiting")


async def test_a_600_character_waiting_message_arrives_whole() -> None:
    digest = "27182818284590452353602874713526624977572470936999595749669676277240766303535"
    message = (
        'rpc error: code = NotFound desc = failed to pull and unpack image '
        f'"registry.example.com/shop/api@sha256:{digest[:64]}": failed to resolve reference '
        f'"registry.example.com/shop/api@sha256:{digest[:64]}": '
    )
    message += "registry.example.com/shop/api: not found; " * 20
    message = message[:600]
    assert len(message) == 600
    described, problems = await model_sees(
        skills_for([crashed_api(message)]),
        [("pods", "describe_pod", {"name": API_POD}), ("pods", "problem_pods", {})],
    )
    assert described["data"]["containers"][0]["message"] == message
    assert problems["data"]["items"][0]["containers"][0]["message"] == message


# --------------------------------------------------------------------------- objects


def service(name: str, namespace: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20", "selector": selector,
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080,
                            "protocol": "TCP"}]},
    }


async def test_a_service_with_no_endpoints_is_visible_with_the_reason() -> None:
    api = pod(API_POD, HOME, "11111111-2222-4333-8444-555555555555")
    api["metadata"]["labels"] = {"app": "api"}
    dns_slice = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kube-dns-abc", "namespace": "kube-system",
                     "labels": {"kubernetes.io/service-name": "kube-dns"}},
        "endpoints": [
            {"addresses": ["10.0.0.5"], "conditions": {"ready": True}, "nodeName": NODE,
             "targetRef": {"kind": "Pod", "name": "coredns-1"}},
            {"addresses": ["10.0.0.6"], "conditions": {"ready": False},
             "targetRef": {"kind": "Pod", "name": "coredns-2"}},
        ],
    }
    objects = [
        api,
        # a typo in the selector: "payment" for "payments"
        service("payments", HOME, {"app": "payment"}),
        service("api", HOME, {"app": "api"}),
        service("kube-dns", "kube-system", {"k8s-app": "kube-dns"}),
        dns_slice,
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "api", "namespace": HOME},
         "subsets": [{"addresses": [{"ip": "10.0.0.9",
                                     "targetRef": {"kind": "Pod", "name": API_POD}}]}]},
    ]
    listed, described, dns, behind = await model_sees(skills_for(objects), [
        ("services", "list", {}),
        ("services", "describe", {"name": "payments"}),
        ("services", "describe", {"name": "kube-dns", "namespace": "kube-system"}),
        ("services", "for_pod", {"pod": API_POD}),
    ])
    first = listed["data"]["items"][0]
    assert (first["name"], first["ready_endpoints"]) == ("payments", 0)
    assert first["selector"] == {"app": "payment"}
    payments = described["data"]
    assert payments["ready_endpoints"] == 0 and payments["selected_pods"]["total"] == 0
    assert payments["why_no_endpoints"] == "the selector matches no pod in the namespace"
    assert payments["ports"] == [{"name": "http", "port": 80, "targetPort": 8080,
                                  "protocol": "TCP"}]
    assert dns["data"]["ready"] == [{"ip": "10.0.0.5", "pod": "coredns-1", "node": NODE}]
    assert dns["data"]["not_ready"] == [{"ip": "10.0.0.6", "pod": "coredns-2"}]
    assert [(s["name"], s["ready_endpoints"]) for s in behind["data"]["items"]] == [("api", 1)]


def rich_pod() -> dict[str, Any]:
    rich = pod(API_POD, HOME, "11111111-2222-4333-8444-555555555555")
    rich["spec"].update(
        priorityClassName="shop-critical",
        volumes=[
            {"name": "config", "configMap": {"name": "api-config",
                                             "items": [{"key": "app.yaml", "path": "app.yaml"}]}},
            {"name": "tls", "secret": {"secretName": "api-tls"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "api-data"}},
            {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
    )
    rich["status"]["qosClass"] = "Burstable"
    rich["spec"]["containers"][0].update(
        args=["--config", "/etc/api/app.yaml", "--workers", "4"],
        env=[
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
            {"name": "FEATURES", "valueFrom": {"configMapKeyRef": {"name": "flags",
                                                                   "key": "list"}}},
        ],
        envFrom=[{"configMapRef": {"name": "api-env"}}],
        resources={"requests": {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "1Gi"},
                   "limits": {"memory": "512Mi", "ephemeral-storage": "2Gi"}},
        volumeMounts=[{"name": "config", "mountPath": "/etc/api", "readOnly": True}],
        readinessProbe={"httpGet": {"path": "/healthz", "port": 8080},
                        "timeoutSeconds": 1, "periodSeconds": 5},
    )
    return rich


async def test_describe_pod_shows_volumes_env_sources_resources_and_probes() -> None:
    (described,) = await model_sees(skills_for([rich_pod()]),
                                    [("pods", "describe_pod", {"name": API_POD})])
    data = described["data"]
    assert data["volumes"] == [
        {"name": "config", "source": "ConfigMap/api-config",
         "items": [{"key": "app.yaml", "path": "app.yaml"}]},
        {"name": "tls", "source": "Secret/api-tls"},
        {"name": "data", "source": "PersistentVolumeClaim/api-data"},
        {"name": "scratch", "source": "emptyDir", "sizeLimit": "1Gi"},
    ]
    assert (data["qosClass"], data["priorityClassName"], data["node"]) == (
        "Burstable", "shop-critical", NODE)
    (spec,) = data["containerSpecs"]
    assert spec["args"] == "--config /etc/api/app.yaml --workers 4"
    assert spec["env"] == [
        {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "DB_PASSWORD", "from": "Secret/db key pw"},
        {"name": "FEATURES", "from": "ConfigMap/flags key list"},
    ]
    assert spec["envFrom"] == ["ConfigMap/api-env"]
    assert spec["resources"]["limits"] == {"memory": "512Mi", "ephemeral-storage": "2Gi"}
    assert spec["volumeMounts"] == [{"name": "config", "mountPath": "/etc/api", "readOnly": True}]
    assert spec["probes"]["readinessProbe"] == {
        "periodSeconds": 5, "timeoutSeconds": 1, "httpGet": "http://:8080/healthz"}


def replica_set(
    revision: int, image: str, memory: str, env: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"api-{revision}", "namespace": HOME,
                     "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                     "ownerReferences": [{"kind": "Deployment", "name": "api",
                                          "controller": True}]},
        "spec": {"template": {"spec": {"containers": [{
            "name": "api", "image": image, "env": env,
            "resources": {"limits": {"memory": memory}}}]}}},
        "status": {"replicas": 1 if revision == 3 else 0},
    }


async def test_revisions_storage_classes_jobs_and_configmap_keys() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "api", "namespace": HOME},
                  "spec": {"selector": {"matchLabels": {"app": "api"}}}}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "api-config", "namespace": HOME},
                 "data": {"settings.yaml": "level: debug\n", "SECRET_SAUCE": "never-shown-42"}}
    failed_job = {"apiVersion": "batch/v1", "kind": "Job",
                  "metadata": {"name": "nightly-report-29000", "namespace": "batch",
                               "ownerReferences": [{"kind": "CronJob",
                                                    "name": "nightly-report"}]},
                  "spec": {"backoffLimit": 2},
                  "status": {"failed": 3, "startTime": "2026-11-24T05:00:00Z", "conditions": [
                      {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                       "message": "Job has reached the specified backoff limit"}]}}
    classes = [
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": "standard", "annotations": {
             "storageclass.kubernetes.io/is-default-class": "true"}},
         "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": "fast"}, "provisioner": "ebs.csi.aws.com"},
    ]
    objects = [
        rich_pod(), deployment, configmap, failed_job, *classes, cluster()[-1],
        replica_set(1, "shop/api:1.0", "256Mi", [{"name": "MODE", "value": "a"}]),
        replica_set(3, "shop/api:1.2", "512Mi", [{"name": "MODE", "value": "b"},
                                                 {"name": "CACHE", "value": "on"}]),
        replica_set(2, "shop/api:1.1", "256Mi", [{"name": "MODE", "value": "a"}]),
    ]
    revisions, storage, jobs, keys = await model_sees(skills_for(objects), [
        ("workloads", "revisions", {"name": "api"}),
        ("workloads", "storage_classes", {}),
        ("workloads", "jobs", {"namespace": "batch"}),
        ("workloads", "configmap", {"name": "api-config"}),
    ])
    history = revisions["data"]["revisions"]
    assert [r["revision"] for r in history] == [1, 2, 3] and revisions["data"]["current"] == 3
    assert history[1]["changes"] == ["api: image 'shop/api:1.0' -> 'shop/api:1.1'"]
    assert history[2]["changes"] == [
        "api: image 'shop/api:1.1' -> 'shop/api:1.2'",
        "api: resources {'limits': {'memory': '256Mi'}} -> {'limits': {'memory': '512Mi'}}",
        "api: env CACHE added",
        "api: env MODE changed",
    ]
    assert [(c["name"], c["default"]) for c in storage["data"]["items"]] == [
        ("standard", True), ("fast", False)]
    (job,) = jobs["data"]["jobs"]["items"]
    assert job["cronJob"] == "nightly-report"
    assert job["conditions"][0]["reason"] == "BackoffLimitExceeded"
    assert jobs["data"]["cronjobs"]["items"][0]["schedule"] == "0 * * * *"
    assert keys["data"]["keys"] == {"SECRET_SAUCE": "[REDACTED]",
                                    "settings.yaml": "13 characters"}
    assert keys["data"]["used_by"] == [API_POD]
    assert "never-shown-42" not in json.dumps(keys)


# --------------------------------------------------------------------------- node data


CGROUP2_MOUNTS = (
    "/dev/sda1 / ext4 rw,relatime 0 0\n"
    "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n"
)


def recorded_v2_host(root: Path, mounts: str | None) -> FakeHost:
    """A v2 tree as some recordings hold it: no cgroup.controllers at the root."""
    host = v2_systemd_host(root)
    (host.cgroup / "cgroup.controllers").unlink()
    pod_dir = host.cgroup / systemd_pod(host)
    (pod_dir / "io.stat").write_text("259:0 rbytes=4096 wbytes=1048576 rios=1 wios=256\n")
    if mounts is not None:
        host.proc_file("mounts", mounts)
    return host


async def test_a_recorded_v2_tree_without_cgroup_controllers_is_read_from_proc_mounts(
    tmp_path: Path,
) -> None:
    host = recorded_v2_host(tmp_path, CGROUP2_MOUNTS)
    pod_path = systemd_pod(host)
    found, detail = await model_sees(node_skills(host.paths), [
        ("containers", "pod", {"uid": POD_UID}),
        ("containers", "cgroup", {"path": pod_path}),
    ])
    assert found["status"] == "ok", found
    assert found["data"]["pod"]["memory_limit_bytes"] == 640 * MIB
    assert detail["data"]["memory_stat"] == {"anon": 500000000, "inactive_file": 10485760}
    assert detail["data"]["io_stat"] == {
        "259:0": {"rbytes": 4096, "wbytes": 1048576, "rios": 1, "wios": 256}}


async def test_no_cgroup_tree_is_said_without_kubelens_scratch_paths(tmp_path: Path) -> None:
    host = recorded_v2_host(tmp_path, mounts="/dev/sda1 / ext4 rw 0 0\n")
    (found,) = await model_sees(node_skills(host.paths), [("containers", "pod", {"uid": POD_UID})])
    assert found["status"] == "no_data"
    assert "no cgroup hierarchy found at /sys/fs/cgroup" in found["error"]
    assert str(tmp_path) not in found["error"]


async def test_process_figures_are_bounded_and_explained(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    host.proc_file("stat", "cpu  1 0 1 1 0 0 0 0 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\n")
    # an uptime recorded a moment before the processes: lifetimes come out near zero
    host.proc_file("uptime", "100.00 100.00\n")
    host.process(10, "java", utime=7_000_000, start=9_999, rss_pages=50_000)
    host.process(11, "sidecar", utime=10, start=100)
    (host.proc / "11" / "fd").rmdir()  # the recording has stat but no fd table
    top, files, process = await model_sees(node_skills(host.paths), [
        ("processes", "top", {"by": "memory", "limit": 10}),
        ("processes", "open_files", {"pid": 11}),
        ("processes", "process", {"pid": 11}),
    ])
    java = top["data"]["processes"][0]
    assert java["name"] == "java" and java["cpu_percent"] is None  # not 7,841,100 %
    assert top["data"]["note"] == "2 shown: only 2 processes are readable on this node"
    assert files["status"] == "no_data"
    assert "open files of pid 11 are not readable here" in files["error"]
    assert "No such file" not in files["error"]
    assert process["data"]["name"] == "sidecar"


# --------------------------------------------------------------------------- the alert


async def test_the_first_message_leads_with_the_alerts_subjects_and_their_state() -> None:
    crashed = crashed_api('Back-off pulling image "shop/api:1.3"')
    source = StaticSource.from_objects([*cluster(), crashed])
    context = {
        "reason": "KubePodCrashLooping",
        "namespace": HOME,
        "source": "alertmanager",
        "alerts": [{"labels": {"alertname": "KubePodCrashLooping", "namespace": HOME,
                               "pod": API_POD, "node": NODE, "job": "kube-state-metrics"}},
                   {"labels": {"namespace": "batch", "job_name": "nightly-report-29000"}}],
    }
    store = InMemoryNotificationStore([])
    with ScriptedLLM([call("done")]) as server:
        model = LiteLLMClient(model="openai/scripted", api_base=server.api_base,
                              api_key="sk-test", backoff=0.01)
        operators = InProcessOperators(cluster_skills(source, HOME), store, source=NODE)
        coordinator = Coordinator(model=model, store=store, operators=operators)
        result = await coordinator.run(context, RunOptions(timeout=30))
    assert result.outcome is RunOutcome.DONE, result.message
    first = server.requests[0]["messages"][1]["content"]
    lines = first.splitlines()
    start = lines.index("Subjects the investigation names, and their state now (data):")
    assert lines[start + 1:start + 4] == [
        f"- Pod {HOME}/{API_POD}: Running; not ready; 7 restarts; ErrImagePull; "
        f'message: Back-off pulling image "shop/api:1.3"; node {NODE}',
        f"- Node {NODE}: Ready",
        "- Job batch/nightly-report-29000: active 0, succeeded 0",
    ]
    # the subjects come before the skills and the (empty) notifications
    assert start < lines.index("Skills (call_skill(skill, tool, arguments)):")
    assert (f"Scope: namespace {HOME} is this investigation's and every tool's default; "
            "other namespaces are readable too (pass namespace=...), read-only.") in lines
    system = server.requests[0]["messages"][0]["content"]
    assert "Start from the subjects the first message lists" in system
