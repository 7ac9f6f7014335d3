"""The operator's AgentOperators against running agents: one real, one down, one slow, one
answering garbage. Every failure is an error result, quickly; the investigation completes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubelens.agent.runner import AgentServer
from kubelens.coordinator import Coordinator, RunOptions
from kubelens.coordinator.analyst_model import AnalystModel
from kubelens.models import OperatorResult, RunOutcome, ToolResult, ToolStatus
from kubelens.ports.agents import AgentDirectory, AgentOperators
from kubelens.ports.notifications import InMemoryNotificationStore
from kubelens.ports.operators import CompositeOperators, InProcessOperators
from kubelens.skills import node_skills
from kubelens.skills.base import HostPaths
from tests.integration.agent_helpers import (
    INSTALL_NS,
    OPERATOR_TOKEN,
    StubAgent,
    make_agent_server,
    register_tokens,
    seed_agent_pod,
    seed_pod,
)
from tests.support.emulator import Emulator
from tests.support.processes import free_port

UP, DOWN, SLOW, GARBAGE = "node-up", "node-down", "node-slow", "node-garbage"
ALL = [UP, DOWN, SLOW, GARBAGE]


@dataclass
class Fleet:
    emulator: Emulator
    directory: AgentDirectory
    server: AgentServer


@pytest.fixture
async def fleet(
    emulator: Emulator, emulator_crds: list[dict[str, Any]], kube_client: Any, tmp_path: Path
) -> AsyncIterator[Fleet]:
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INSTALL_NS}})
    register_tokens(emulator)
    server = make_agent_server(emulator, node_skills(HostPaths()), node_name=UP)
    slow, garbage = StubAgent("slow"), StubAgent("garbage")
    await server.start()
    await slow.start()
    await garbage.start()
    seed_agent_pod(emulator, UP, server.port)
    seed_agent_pod(emulator, DOWN, free_port())
    seed_agent_pod(emulator, SLOW, slow.port)
    seed_agent_pod(emulator, GARBAGE, garbage.port)
    token = tmp_path / "token"
    token.write_text(OPERATOR_TOKEN + "\n")
    directory = AgentDirectory(kube_client, INSTALL_NS, port=8181, token_file=token, timeout=1.0)
    try:
        yield Fleet(emulator, directory, server)
    finally:
        await directory.close()
        await slow.stop()
        await garbage.stop()
        await server.stop()


def by_source(results: list[OperatorResult]) -> dict[str, OperatorResult]:
    return {result.source: result for result in results}


async def test_invoke_returns_one_result_per_node_and_never_hangs(fleet: Fleet) -> None:
    operators = fleet.directory.operators("shop", nodes=ALL)
    started = time.monotonic()
    results = by_source(await operators.invoke("os", "initial sweep"))
    assert time.monotonic() - started < 3.0
    assert set(results) == set(ALL)
    assert results[UP].status is ToolStatus.OK
    assert results[UP].snapshot
    assert results[UP].skill == "os"
    for node in (DOWN, SLOW, GARBAGE):
        assert results[node].status is ToolStatus.ERROR
    assert "unreachable" in (results[DOWN].error or "")
    assert "did not answer within 1s" in (results[SLOW].error or "")
    assert "not JSON" in (results[GARBAGE].error or "")
    for node in ALL:
        assert node in (results[node].error or node)


async def test_a_node_without_an_agent_is_an_error_result(fleet: Fleet) -> None:
    operators = fleet.directory.operators("shop", nodes=[UP, "node-without-agent"])
    results = by_source(await operators.invoke("processes", ""))
    assert results[UP].status is ToolStatus.OK
    assert results["node-without-agent"].error == (
        "no running kubelens agent on node node-without-agent"
    )


async def test_non_node_skills_are_not_theirs(fleet: Fleet) -> None:
    operators = fleet.directory.operators("shop", nodes=[UP])
    assert await operators.invoke("pods", "") == []
    assert {entry["name"] for entry in operators.catalog()} == {"os", "processes", "containers"}


async def test_notifications_raised_on_the_agent_pass_through(fleet: Fleet) -> None:
    from tests.integration.agent_helpers import GaugeSkill

    class OsGauge(GaugeSkill):
        name = "os"

    # A node skill that raises: the real agent's os skill swapped for a gauge named "os".
    gauge = OsGauge()
    gauge.set("disk", 99.0)
    fleet.server.agent.skills["os"] = gauge
    operators = fleet.directory.operators("shop", nodes=[UP])
    (result,) = await operators.invoke("os", "")
    assert result.status is ToolStatus.OK
    (notification_id,) = result.notification_ids
    assert fleet.emulator.get("notifications", notification_id, INSTALL_NS) is not None


async def test_tool_calls_pick_a_node_or_fan_out(fleet: Fleet) -> None:
    operators = fleet.directory.operators("shop", nodes=ALL)
    one = await operators.call("processes", "top", {"node": UP, "limit": 3})
    assert one.status is ToolStatus.OK, one.error
    assert isinstance(one.data, (list, dict))

    bad = await operators.call("processes", "top", {"node": UP, "by": "colour"})
    assert bad.status is ToolStatus.ERROR
    assert "must be one of" in (bad.error or "")

    unknown = await operators.call("processes", "top", {"node": "node-x"})
    assert unknown.status is ToolStatus.ERROR
    assert "no kubelens agent on node 'node-x'" in (unknown.error or "")

    started = time.monotonic()
    fanned = await operators.call("os", "disk_usage", {})
    assert time.monotonic() - started < 3.0
    assert fanned.status is ToolStatus.OK
    assert set(fanned.data["byNode"]) == set(ALL)
    assert fanned.data["byNode"][UP]["status"] in ("ok", "no_data")
    assert fanned.data["byNode"][SLOW]["status"] == "error"


async def test_scope_without_nodes_is_where_the_namespace_runs(fleet: Fleet) -> None:
    seed_pod(fleet.emulator, "shop", "web-1", UP)
    seed_pod(fleet.emulator, "shop", "web-2", DOWN)
    operators = fleet.directory.operators("shop")
    assert await operators.scope() == [DOWN, UP]
    # A namespace with no pods: every node with an agent.
    assert sorted(await fleet.directory.operators("empty").scope()) == sorted(ALL)


async def test_scope_by_node_selector(fleet: Fleet) -> None:
    for name, pool in [(UP, "gpu"), (DOWN, "gpu"), (SLOW, "cpu")]:
        fleet.emulator.create({"apiVersion": "v1", "kind": "Node",
                               "metadata": {"name": name, "labels": {"pool": pool}}})
    operators = fleet.directory.operators("shop", nodes=[GARBAGE], node_selector={"pool": "gpu"})
    assert await operators.scope() == [GARBAGE, DOWN, UP]


async def test_scope_is_bounded(fleet: Fleet) -> None:
    fleet.directory.max_nodes = 2
    operators = fleet.directory.operators("shop", nodes=ALL)
    results = await operators.invoke("os", "")
    assert [r.source for r in results] == [UP, DOWN, "agents"]
    assert "4 nodes in scope" in results[-1].summary


async def test_refused_credentials_are_explained(fleet: Fleet, tmp_path: Path) -> None:
    directory = AgentDirectory(fleet.directory.api, INSTALL_NS, port=8181,
                               token_file=tmp_path / "missing", timeout=1.0)
    try:
        (result,) = await directory.operators("shop", nodes=[UP]).invoke("os", "")
    finally:
        await directory.close()
    assert result.status is ToolStatus.ERROR
    assert "answered 401" in (result.error or "")
    assert "credentials were refused" in (result.error or "")


async def test_static_token_fallback(fleet: Fleet, tmp_path: Path) -> None:
    from tests.integration.agent_helpers import STATIC_TOKEN

    directory = AgentDirectory(fleet.directory.api, INSTALL_NS, port=8181,
                               token_file=tmp_path / "missing", static_token=STATIC_TOKEN)
    try:
        (result,) = await directory.operators("shop", nodes=[UP]).invoke("os", "")
    finally:
        await directory.close()
    assert result.status is ToolStatus.OK


async def test_an_investigation_completes_with_agents_up_and_down(fleet: Fleet) -> None:
    store = InMemoryNotificationStore()
    operators = CompositeOperators(
        [InProcessOperators([], store, source="cluster"), fleet.directory.operators("shop", ALL)]
    )
    coordinator = Coordinator(model=AnalystModel(), store=store, operators=operators)
    started = time.monotonic()
    result = await coordinator.run({"reason": "is the fleet healthy?"}, RunOptions(timeout=60))
    assert time.monotonic() - started < 20
    assert result.outcome is RunOutcome.DONE, result.message
    sources = {(r.skill, r.source, r.status) for r in result.operator_results}
    for skill in ("os", "processes", "containers"):
        assert (skill, UP, ToolStatus.OK) in sources
        for node in (DOWN, SLOW, GARBAGE):
            assert (skill, node, ToolStatus.ERROR) in sources


class _Fixed:
    """A minimal Operators member for composition tests."""

    def __init__(self, name: str, skills: list[str], fail: bool = False) -> None:
        self.name, self.skills, self.fail = name, skills, fail

    def catalog(self) -> list[dict[str, Any]]:
        return [{"name": s, "description": f"{s} from {self.name}", "tools": []}
                for s in self.skills]

    async def invoke(self, skill: str, context: str) -> list[OperatorResult]:
        if self.fail:
            raise RuntimeError("boom")
        return [OperatorResult(skill=skill, source=self.name, status=ToolStatus.OK)]

    async def call(self, skill: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        return ToolResult.ok({"from": self.name})


async def test_composite_merges_fans_out_and_routes() -> None:
    first, second = _Fixed("a", ["x", "y"]), _Fixed("b", ["y", "z"])
    composite = CompositeOperators([first, second])
    assert [(e["name"], e["description"]) for e in composite.catalog()] == [
        ("x", "x from a"), ("y", "y from a"), ("z", "z from b")]
    assert [r.source for r in await composite.invoke("y", "")] == ["a", "b"]
    assert [r.source for r in await composite.invoke("z", "")] == ["b"]
    assert (await composite.call("y", "t", {})).data == {"from": "a"}
    assert (await composite.call("z", "t", {})).data == {"from": "b"}
    missing = await composite.call("w", "t", {})
    assert missing.status is ToolStatus.ERROR and "x, y, z" in (missing.error or "")
    broken = CompositeOperators([_Fixed("a", ["x"], fail=True), _Fixed("b", ["x"])])
    results = await broken.invoke("x", "")
    assert [(r.source, r.status) for r in results] == [
        ("_Fixed", ToolStatus.ERROR), ("b", ToolStatus.OK)]
    assert isinstance(AgentOperators, type)
