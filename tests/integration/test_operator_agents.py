"""End to end: the operator (kopf, under KopfRunner) runs an Investigation whose node skills
are answered by a real agent over HTTP, authenticated by TokenReview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner

from kubelens.config import Settings
from kubelens.detection import DetectorSettings
from kubelens.skills import node_skills
from kubelens.skills.base import HostPaths
from tests.integration.agent_helpers import (
    OPERATOR_SA,
    OPERATOR_TOKEN,
    ThreadedAgent,
    emulator_api,
    register_tokens,
    seed_agent_pod,
)
from tests.support.fixtures import KubeEnv
from tests.support.processes import free_port

NODE, LOST = "node-e2e", "node-lost"
TERMINAL = {"Succeeded", "Failed", "Cancelled"}


@pytest.fixture
def operator_env(
    kube_env: KubeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> KubeEnv:
    monkeypatch.setenv("KUBELENS_NAMESPACE", kube_env.namespace)
    monkeypatch.setenv("KUBELENS_METRICS_PORT", "0")
    for var in ("KUBELENS_MODEL", "KUBELENS_AGENT_TOKEN", "HTTP_PROXY", "HTTPS_PROXY",
                "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    # The operator's projected token, where the chart mounts it.
    token = tmp_path / "kubelens-token"
    token.write_text(OPERATOR_TOKEN)
    monkeypatch.setenv("KUBELENS_AGENT_TOKEN_FILE", str(token))
    register_tokens(kube_env.emulator)
    return kube_env


def agent_for(env: KubeEnv) -> ThreadedAgent:
    from kubelens.agent.runner import AgentServer, build_agent

    settings = Settings(node_name=NODE, install_namespace=env.namespace,
                        operator_service_account=OPERATOR_SA, agent_interval=3600)
    api = emulator_api(env.emulator)
    agent = build_agent(settings, api, skills=node_skills(HostPaths()),
                        detector_settings=DetectorSettings())
    return ThreadedAgent(AgentServer(settings, api, agent, host="127.0.0.1", port=0,
                                     schedule=False))


def investigation(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubelens.io/v1alpha1", "kind": "Investigation",
            "metadata": {"name": name}, "spec": {"reason": "is this node healthy?", **spec}}


def test_operator_results_include_the_agents(operator_env: KubeEnv) -> None:
    env = operator_env
    with agent_for(env) as agent:
        seed_agent_pod(env.emulator, NODE, agent.server.port, env.namespace)
        seed_agent_pod(env.emulator, LOST, free_port(), env.namespace)
        runner = KopfRunner(["run", "-m", "kubelens.operator.handlers", "--standalone",
                             f"--namespace={env.namespace}"], timeout=60)
        with runner:
            env.emulator.create(investigation("node-check", nodes=[NODE, LOST]),
                                namespace=env.namespace)
            obj = env.emulator.wait_for(
                "investigations", "node-check", env.namespace,
                lambda o: (o or {}).get("status", {}).get("phase") in TERMINAL, timeout=45)
    assert runner.exception is None, runner.output
    assert obj is not None
    status = obj["status"]
    assert status["phase"] == "Succeeded", status.get("message")
    results = {(r["skill"], r["source"]): r for r in status["operatorResults"]}
    for skill in ("os", "processes", "containers"):
        assert results[(skill, NODE)]["status"] == "ok", results[(skill, NODE)].get("error")
        lost = results[(skill, LOST)]
        assert lost["status"] == "error"
        assert "unreachable" in lost["error"]
    # Cluster skills ran in the operator beside them.
    assert any(source == "cluster" for _, source in results)
    # The operator authenticated with its projected token, checked by TokenReview.
    reviews = env.emulator.requests_to("POST", "/apis/authentication.k8s.io/v1/tokenreviews")
    assert reviews and all(r.body["spec"]["token"] == OPERATOR_TOKEN for r in reviews)


def test_unknown_skill_names_are_refused_but_node_skills_are_known(
    operator_env: KubeEnv,
) -> None:
    env = operator_env
    runner = KopfRunner(["run", "-m", "kubelens.operator.handlers", "--standalone",
                         f"--namespace={env.namespace}"], timeout=60)
    with runner:
        env.emulator.create(investigation("typo", skills=["os", "containerz"]),
                            namespace=env.namespace)
        obj = env.emulator.wait_for(
            "investigations", "typo", env.namespace,
            lambda o: (o or {}).get("status", {}).get("phase") in TERMINAL, timeout=30)
    assert obj is not None
    message = obj["status"]["message"]
    assert obj["status"]["phase"] == "Failed"
    assert "containerz" in message
    assert "os" not in message.split("unknown skill(s)")[1].split(";")[0]
    assert "containers" in message  # listed among the available skills
