"""Agent faults, seen from the model's side of the loop.

tests/integration/test_agent_client.py already proves the operator's AgentOperators turn
an agent that is down, slow or answering HTML into error results (and that a rule-based
investigation completes). This adds what a real model sees, through litellm: with one
agent up and four broken (down, slow, HTML, JSON of the wrong shape), invoke_operators
and call_skill answer the model with per-node errors that say what went wrong, the run
ends ``done`` within the agent timeout, and the broken nodes are errors in the result.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelens.coordinator import Coordinator, LiteLLMClient, RunOptions
from kubelens.models import RunOutcome, ToolStatus
from kubelens.ports.agents import AgentDirectory
from kubelens.ports.notifications import InMemoryNotificationStore
from kubelens.ports.operators import CompositeOperators, InProcessOperators
from kubelens.skills import node_skills
from kubelens.skills.base import HostPaths
from tests.faults.helpers import timed
from tests.integration.agent_helpers import (
    INSTALL_NS,
    OPERATOR_TOKEN,
    StubAgent,
    make_agent_server,
    register_tokens,
    seed_agent_pod,
)
from tests.llm_server import Script, ScriptedLLM, Turn, call
from tests.support.emulator import Emulator
from tests.support.processes import free_port

UP, DOWN, SLOW, HTML, SHAPE = "node-up", "node-down", "node-slow", "node-html", "node-shape"
BROKEN = {
    DOWN: "is unreachable",
    SLOW: "did not answer within 1s",
    HTML: "with a body that is not JSON",
    SHAPE: "answered with an invalid result",
}
ALL = [UP, *BROKEN]


@pytest.fixture
async def agents(emulator: Emulator, emulator_crds: list[dict[str, Any]], kube_client: Any,
                 tmp_path: Path) -> AsyncIterator[AgentDirectory]:
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INSTALL_NS}})
    register_tokens(emulator)
    server = make_agent_server(emulator, node_skills(HostPaths()), node_name=UP)
    slow, html, shape = StubAgent("slow"), StubAgent("garbage"), StubAgent("shape")
    for running in (server, slow, html, shape):
        await running.start()
    seed_agent_pod(emulator, UP, server.port)
    seed_agent_pod(emulator, DOWN, free_port())
    seed_agent_pod(emulator, SLOW, slow.port)
    seed_agent_pod(emulator, HTML, html.port)
    seed_agent_pod(emulator, SHAPE, shape.port)
    token = tmp_path / "token"
    token.write_text(OPERATOR_TOKEN + "\n")
    directory = AgentDirectory(kube_client, INSTALL_NS, port=8181, token_file=token, timeout=1.0)
    try:
        yield directory
    finally:
        await directory.close()
        for running in (shape, html, slow, server):
            await running.stop()


async def test_a_model_is_told_which_agents_failed_and_the_run_completes(
        agents: AgentDirectory, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    store = InMemoryNotificationStore()
    operators = CompositeOperators([InProcessOperators([], store, source="cluster"),
                                    agents.operators("shop", ALL)])
    script: Script = [
        call("invoke_operators", {"skills": ["os"]}),
        Turn(tool_calls=[
            ("call_skill", {"skill": "os", "tool": "memory_details", "arguments": {}}),
            ("call_skill", {"skill": "processes", "tool": "top",
                            "arguments": {"node": DOWN, "limit": 3}}),
            ("call_skill", {"skill": "processes", "tool": "zombies",
                            "arguments": {"node": SHAPE}}),
        ]),
        call("done"),
    ]
    with ScriptedLLM(script) as server, timed() as elapsed:
        model = LiteLLMClient(model="openai/scripted", api_base=server.api_base,
                              api_key="sk-test", backoff=0.01)
        coordinator = Coordinator(model=model, store=store, operators=operators)
        result = await coordinator.run({"reason": "is the fleet healthy?"}, RunOptions(timeout=30))
    assert result.outcome is RunOutcome.DONE, result.message
    assert elapsed.seconds < 8

    # What the run reports: one result per node, the broken ones as errors.
    by_node = {r.source: r for r in result.operator_results}
    assert by_node[UP].status is ToolStatus.OK
    for node, reason in BROKEN.items():
        assert by_node[node].status is ToolStatus.ERROR
        assert reason in (by_node[node].error or ""), by_node[node].error

    # What the model was told, in the tool results it received.
    invoked = server.tool_results(1)[0]
    told = {r["source"]: r for r in invoked["data"]["results"]}
    for node, reason in BROKEN.items():
        assert told[node]["status"] == "error" and reason in told[node]["error"]
    fanned, down, shape = server.tool_results(2)[1:]
    assert fanned["status"] == "ok"
    assert fanned["data"]["byNode"][UP]["status"] == "ok"
    for node, reason in BROKEN.items():
        assert reason in fanned["data"]["byNode"][node]["error"]
    assert down["status"] == "error" and BROKEN[DOWN] in down["error"]
    assert shape["status"] == "error" and BROKEN[SHAPE] in shape["error"]
    assert len(json.dumps(server.requests[-1])) < 100_000
