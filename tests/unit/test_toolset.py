"""The toolset as a model experiences it (issue 12), through litellm's real HTTP path.

Each test scripts the calls a model would make against a small recorded cluster and
asserts on what came back in the next request: the data a model answers from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubelens.coordinator import Coordinator, LiteLLMClient
from kubelens.embedded import InMemoryNotificationStore, InProcessOperators
from kubelens.models import RunOutcome
from kubelens.skills.base import Skill
from kubelens.skills.cluster import StaticSource, cluster_skills
from tests.llm_server import ScriptedLLM, Turn, call

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
        result = await coordinator.run({"reason": "checkout is slow"}, timeout=30)
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
