"""The agent's skill API over real HTTP on 127.0.0.1, with TokenReview from the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY

from kubelens.agent.runner import AgentServer
from kubelens.detection import DetectorSettings
from tests.integration.agent_helpers import (
    INSTALL_NS,
    OPERATOR_TOKEN,
    OTHER_TOKEN,
    STATIC_TOKEN,
    WRONG_AUDIENCE_TOKEN,
    GaugeSkill,
    make_agent_server,
    register_tokens,
)
from tests.support.emulator import Emulator


@pytest.fixture
def env(emulator: Emulator, emulator_crds: list[dict[str, Any]]) -> Emulator:
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INSTALL_NS}})
    register_tokens(emulator)
    return emulator


@pytest.fixture
async def gauge() -> GaugeSkill:
    return GaugeSkill()


@pytest.fixture
async def server(env: Emulator, gauge: GaugeSkill) -> AsyncIterator[AgentServer]:
    agent = make_agent_server(
        env, [gauge], DetectorSettings(cooldown=0), request_timeout=0.5
    )
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


OPERATOR = bearer(OPERATOR_TOKEN)


async def test_healthz_needs_no_token(server: AgentServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/healthz") as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "ok"
    assert body["node"] == "node-a"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic b3BlcmF0b3I6c2VjcmV0"}, 401),
        ({"Authorization": "Bearer "}, 401),
        (bearer("no-such-token"), 401),
        (bearer(WRONG_AUDIENCE_TOKEN), 401),
        (bearer(OTHER_TOKEN), 403),
        (bearer(OPERATOR_TOKEN), 200),
        (bearer(STATIC_TOKEN), 200),
    ],
    ids=["none", "basic", "empty", "wrong", "wrong-audience", "other-identity", "operator-sa",
         "static"],
)
async def test_auth_matrix(
    server: AgentServer, http: aiohttp.ClientSession, headers: dict[str, str], status: int
) -> None:
    async with http.get(f"{server.url}/v1/skills", headers=headers) as response:
        assert response.status == status, await response.text()
        body = await response.json()
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert body["error"]
    if status == 403:
        assert "intruder" in body["error"]


async def test_unauthenticated_requests_do_not_reach_handlers(
    server: AgentServer, http: aiohttp.ClientSession
) -> None:
    for method, path in [("POST", "/v1/skills/gauge/snapshot"),
                         ("POST", "/v1/skills/gauge/tools/read"),
                         ("GET", "/v1/nothing-here")]:
        async with http.request(method, f"{server.url}{path}", json={"key": "x"}) as response:
            assert response.status == 401


async def test_positive_token_reviews_are_cached(
    server: AgentServer, http: aiohttp.ClientSession, env: Emulator
) -> None:
    for _ in range(3):
        async with http.get(f"{server.url}/v1/skills", headers=OPERATOR) as response:
            assert response.status == 200
    reviews = env.requests_to("POST", "/apis/authentication.k8s.io/v1/tokenreviews")
    assert len(reviews) == 1
    assert reviews[0].body["spec"]["audiences"] == ["kubelens-agent"]


async def test_catalog_lists_skills_with_tool_schemas(
    server: AgentServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/v1/skills", headers=OPERATOR) as response:
        body = await response.json()
    assert body["node"] == "node-a"
    (skill,) = body["skills"]
    assert skill["name"] == "gauge"
    tools = {tool["name"]: tool for tool in skill["tools"]}
    assert tools["read"]["parameters"]["required"] == ["key"]


async def test_snapshot_returns_an_operator_result_with_raised_notification_ids(
    server: AgentServer, http: aiohttp.ClientSession, gauge: GaugeSkill, env: Emulator
) -> None:
    gauge.set("disk", 99.0)
    async with http.post(f"{server.url}/v1/skills/gauge/snapshot", headers=OPERATOR,
                         json={"context": "why is it slow"}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["skill"] == "gauge"
    assert body["source"] == "node-a"
    assert body["status"] == "ok"
    assert body["summary"] == "1 gauge(s)"
    assert body["snapshot"]["values"] == {"disk": 99.0}
    (notification_id,) = body["notificationIds"]
    assert env.get("notifications", notification_id, INSTALL_NS) is not None
    # The same anomaly again: the same Notification, its count bumped.
    async with http.post(f"{server.url}/v1/skills/gauge/snapshot", headers=OPERATOR) as response:
        again = await response.json()
    assert again["notificationIds"] == [notification_id]
    stored = env.get("notifications", notification_id, INSTALL_NS)
    assert stored is not None and stored["status"]["count"] == 2


async def test_tool_call_returns_the_tool_result(
    server: AgentServer, http: aiohttp.ClientSession, gauge: GaugeSkill
) -> None:
    gauge.set("disk", 42.0)
    async with http.post(f"{server.url}/v1/skills/gauge/tools/read", headers=OPERATOR,
                         json={"key": "disk"}) as response:
        assert response.status == 200
        body = await response.json()
    assert body == {"status": "ok", "data": {"key": "disk", "value": 42.0}, "truncated": False}


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/v1/skills/gauge/tools/read", {"key": 5}, "must be string"),
        ("/v1/skills/gauge/tools/read", {}, "missing required argument 'key'"),
        ("/v1/skills/gauge/tools/read", {"key": "a", "rm": "-rf"}, "unknown argument 'rm'"),
        ("/v1/skills/gauge/tools/read", {"key": "x" * 21}, "longer than 20"),
        ("/v1/skills/gauge/tools/read", [1, 2], "must be a JSON object"),
        ("/v1/skills/gauge/tools/read", "{not json", "not valid JSON"),
        ("/v1/skills/gauge/tools/delete_everything", {}, "has no tool 'delete_everything'"),
        ("/v1/skills/nope/tools/read", {}, "unknown skill 'nope'"),
        ("/v1/skills/nope/snapshot", {}, "unknown skill 'nope'"),
    ],
    ids=["type", "missing", "extra", "too-long", "not-object", "bad-json", "unknown-tool",
         "unknown-skill-tool", "unknown-skill-snapshot"],
)
async def test_bad_requests_are_400_with_the_reason(
    server: AgentServer, http: aiohttp.ClientSession, path: str, body: Any, reason: str
) -> None:
    data = body if isinstance(body, str) else None
    payload = None if isinstance(body, str) else body
    async with http.post(f"{server.url}{path}", headers=OPERATOR, json=payload,
                         data=data) as response:
        assert response.status == 400
        answer = await response.json()
    assert reason in answer["error"]


async def test_oversized_body_is_413(server: AgentServer, http: aiohttp.ClientSession) -> None:
    big = {"key": "x" * (70 * 1024)}
    async with http.post(f"{server.url}/v1/skills/gauge/tools/read", headers=OPERATOR,
                         json=big) as response:
        assert response.status == 413
        assert "65536 bytes" in (await response.json())["error"]


async def test_slow_tool_and_slow_snapshot_time_out_with_504(
    server: AgentServer, http: aiohttp.ClientSession, gauge: GaugeSkill
) -> None:
    started = time.monotonic()
    async with http.post(f"{server.url}/v1/skills/gauge/tools/slow", headers=OPERATOR,
                         json={}) as response:
        assert response.status == 504
        assert "0.5s" in (await response.json())["error"]
    assert time.monotonic() - started < 2.0
    gauge.delay = 2.0
    started = time.monotonic()
    async with http.post(f"{server.url}/v1/skills/gauge/snapshot", headers=OPERATOR) as response:
        assert response.status == 504
    assert time.monotonic() - started < 2.0


async def test_only_get_like_methods_exist(
    server: AgentServer, http: aiohttp.ClientSession
) -> None:
    for method, path in [("DELETE", "/v1/skills/gauge/snapshot"),
                         ("PUT", "/v1/skills/gauge/tools/read"),
                         ("GET", "/v1/skills/gauge/snapshot")]:
        async with http.request(method, f"{server.url}{path}", headers=OPERATOR) as response:
            assert response.status == 405


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_requests_are_counted_by_endpoint_and_code(
    server: AgentServer, http: aiohttp.ClientSession, gauge: GaugeSkill
) -> None:
    labels_401 = {"endpoint": "/v1/skills", "code": "401"}
    labels_200 = {"endpoint": "/v1/skills/{skill}/snapshot", "code": "200"}
    before = (_sample("kubelens_agent_requests_total", labels_401),
              _sample("kubelens_agent_requests_total", labels_200))
    raised_before = _sample("kubelens_notifications_raised_total",
                            {"skill": "gauge", "severity": "critical"})
    snapshots_before = _sample("kubelens_skill_snapshot_duration_seconds_count",
                               {"skill": "gauge"})
    async with http.get(f"{server.url}/v1/skills"):
        pass
    gauge.set("disk", 99.0)
    async with http.post(f"{server.url}/v1/skills/gauge/snapshot", headers=OPERATOR):
        pass
    assert _sample("kubelens_agent_requests_total", labels_401) == before[0] + 1
    assert _sample("kubelens_agent_requests_total", labels_200) == before[1] + 1
    assert _sample("kubelens_notifications_raised_total",
                   {"skill": "gauge", "severity": "critical"}) == raised_before + 1
    assert _sample("kubelens_skill_snapshot_duration_seconds_count",
                   {"skill": "gauge"}) == snapshots_before + 1


async def test_without_tokenreview_only_the_static_token_works(
    env: Emulator, gauge: GaugeSkill, http: aiohttp.ClientSession
) -> None:
    server = make_agent_server(env, [gauge])
    server.auth.reviews_available = False  # as after a 404 from a cluster without it
    await server.start()
    try:
        async with http.get(f"{server.url}/v1/skills", headers=OPERATOR) as response:
            assert response.status == 401
        async with http.get(f"{server.url}/v1/skills", headers=bearer(STATIC_TOKEN)) as response:
            assert response.status == 200
    finally:
        await server.stop()


async def test_tokenreview_outage_is_503_not_401(
    env: Emulator, gauge: GaugeSkill, http: aiohttp.ClientSession
) -> None:
    server = make_agent_server(env, [gauge])
    server.api.server = "http://127.0.0.1:9"  # the API server is away
    await server.start()
    try:
        async with http.get(f"{server.url}/v1/skills", headers=OPERATOR) as response:
            assert response.status == 503
            assert "TokenReview" in (await response.json())["error"]
    finally:
        await server.stop()


async def test_the_schedule_runs_in_the_server(
    env: Emulator, gauge: GaugeSkill
) -> None:
    server = make_agent_server(env, [gauge], DetectorSettings(cooldown=0), agent_interval=0.1)
    server.schedule = True
    gauge.set("disk", 99.0)
    await server.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            found = env.list("notifications", INSTALL_NS)
            # A cycle publishes before it counts itself: wait for both.
            if found and found[0].get("status", {}).get("count", 0) >= 3 and (
                    server.agent.cycles >= 3):
                break
            await asyncio.sleep(0.05)
        (only,) = env.list("notifications", INSTALL_NS)
        assert only["status"]["count"] >= 3
        assert server.agent.cycles >= 3
    finally:
        await server.stop()

