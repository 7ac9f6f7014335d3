"""The node agent's schedule against the API emulator: Notifications, de-duplication,
cooldown and rate limit, pod attribution, retention and auto-investigation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubelens.agent.autoinvestigate import AutoInvestigator
from kubelens.agent.pods import PodDirectory
from kubelens.agent.retention import Retention
from kubelens.agent.scheduler import Agent
from kubelens.detection import AnomalyDetector, DetectorSettings
from kubelens.models import Notification, Severity, Subject
from kubelens.notifications import to_resource
from kubelens.skills import ContainersSkill
from kubelens.skills.base import HostPaths, Skill
from tests.integration.agent_helpers import (
    INSTALL_NS,
    GaugeSkill,
    cgroup_tree,
    critical_finding,
    emulator_api,
    seed_pod,
    write_memory,
)
from tests.support.emulator import Emulator

NODE = "node-a"


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def env(emulator: Emulator, emulator_crds: list[dict[str, Any]]) -> Emulator:
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INSTALL_NS}})
    return emulator


def make_agent(
    emulator: Emulator,
    skills: list[Skill],
    detector: DetectorSettings | None = None,
    clock: FakeClock | None = None,
    auto: bool = False,
) -> Agent:
    api = emulator_api(emulator)
    clock = clock or FakeClock()
    return Agent(
        node=NODE,
        namespace=INSTALL_NS,
        skills=skills,
        api=api,
        detector=AnomalyDetector(node=NODE, settings=detector or DetectorSettings(), clock=clock),
        pods=PodDirectory(api, NODE, clock=clock),
        auto=AutoInvestigator(api, NODE, clock=clock) if auto else None,
        clock=clock,
    )


def notifications(emulator: Emulator, namespace: str = INSTALL_NS) -> list[dict[str, Any]]:
    return emulator.list("notifications", namespace)


async def test_one_notification_per_fingerprint_and_the_count_rises(env: Emulator) -> None:
    gauge = GaugeSkill()
    gauge.set("disk", 97.0)
    gauge.set("cpu", 85.0)
    agent = make_agent(env, [gauge], DetectorSettings(cooldown=0))
    try:
        for _ in range(3):
            report = await agent.cycle()
            assert not report.errors
        found = notifications(env)
        assert len(found) == 2
        by_severity = {n["spec"]["severity"]: n for n in found}
        assert set(by_severity) == {"critical", "warning"}
        for obj in found:
            assert obj["status"]["count"] == 3
            assert obj["status"]["state"] == "Unread"
            labels = obj["metadata"]["labels"]
            assert labels["kubelens.io/node"] == NODE
            assert labels["kubelens.io/skill"] == "gauge"
            assert labels["kubelens.io/severity"] == obj["spec"]["severity"]
            assert obj["spec"]["node"] == NODE
        assert "disk gauge is at 97" in by_severity["critical"]["spec"]["observation"]
    finally:
        await agent.close()
        await agent.api.close()


async def test_a_resolved_notification_is_not_bumped_a_new_one_opens(env: Emulator) -> None:
    gauge = GaugeSkill()
    gauge.set("disk", 97.0)
    agent = make_agent(env, [gauge], DetectorSettings(cooldown=0))
    try:
        await agent.cycle()
        (first,) = notifications(env)
        env.patch("notifications", first["metadata"]["name"], {"status": {"state": "Resolved"}},
                  INSTALL_NS, subresource="status")
        await agent.cycle()
        found = notifications(env)
        assert len(found) == 2
        assert sorted(n["status"]["state"] for n in found) == ["Resolved", "Unread"]
    finally:
        await agent.close()
        await agent.api.close()


async def test_cooldown_holds_repeats_back(env: Emulator) -> None:
    gauge = GaugeSkill()
    gauge.set("disk", 97.0)
    clock = FakeClock()
    agent = make_agent(env, [gauge], DetectorSettings(cooldown=300), clock)
    try:
        for _ in range(4):
            await agent.cycle()
            clock.advance(15)
        (only,) = notifications(env)
        assert only["status"]["count"] == 1
        clock.advance(300)
        await agent.cycle()
        (only,) = notifications(env)
        assert only["status"]["count"] == 2
    finally:
        await agent.close()
        await agent.api.close()


async def test_rate_limit_caps_notifications_per_window(env: Emulator) -> None:
    gauge = GaugeSkill()
    for index in range(5):
        gauge.set(f"g{index}", 99.0)
    clock = FakeClock()
    agent = make_agent(
        env, [gauge], DetectorSettings(cooldown=0, max_per_window=3, rate_window=3600), clock
    )
    try:
        report = await agent.cycle()
        assert report.raised == 3
        clock.advance(60)
        report = await agent.cycle()
        assert report.raised == 0
        assert len(notifications(env)) == 3
        clock.advance(3600)
        report = await agent.cycle()
        assert report.raised == 3
    finally:
        await agent.close()
        await agent.api.close()


async def test_pod_anomalies_land_in_the_pods_namespace(env: Emulator, tmp_path: Path) -> None:
    uid = seed_pod(env, "shop", "checkout-7d9f", NODE)
    seed_pod(env, "other", "elsewhere", "node-b")
    container_id = "ab" * 32
    cgroup = cgroup_tree(tmp_path, uid, container_id)
    pod_dir = next(cgroup.glob("kubepods.slice/kubepods-burstable.slice/*pod*"))
    container_dir = pod_dir / f"cri-containerd-{container_id}.scope"
    write_memory(pod_dir, used=99 << 20, limit=100 << 20)
    write_memory(container_dir, used=99 << 20, limit=100 << 20)
    skill = ContainersSkill(HostPaths(proc=tmp_path / "proc", cgroup=cgroup, rootfs=tmp_path))
    agent = make_agent(env, [skill], DetectorSettings(cooldown=0), auto=True)
    try:
        report = await agent.cycle()
        assert not report.errors, report.errors
        found = notifications(env, "shop")
        assert found, "the memory anomaly should be written to the pod's namespace"
        assert notifications(env) == []
        for obj in found:
            assert obj["spec"]["subject"] == {
                "kind": "Pod", "namespace": "shop", "name": "checkout-7d9f"
            }
            assert obj["spec"]["anomalyType"] == "container_memory_near_limit"
            assert obj["spec"]["severity"] == "critical"
        assert any("container" in obj["spec"].get("context", "") for obj in found)

        # An OOM kill in the container: a critical finding, same namespace.
        write_memory(container_dir, used=99 << 20, limit=100 << 20, oom_kills=1)
        await agent.cycle()
        types = {obj["spec"]["anomalyType"] for obj in notifications(env, "shop")}
        assert "container_oom_killed" in types

        # Only this node's pods were listed, once (then served from the cache).
        lists = env.requests_to("GET", "/api/v1/pods")
        assert len(lists) == 1
        assert lists[0].query.get("fieldSelector") == f"spec.nodeName={NODE}"

        # Auto-investigation: one Investigation in the pod's namespace despite several
        # critical notifications (the 15-minute cooldown).
        (investigation,) = env.list("investigations", "shop")
        spec = investigation["spec"]
        assert spec["nodes"] == [NODE]
        assert len(spec["notifications"]) == 1
        assert spec["notifications"][0] in {n["metadata"]["name"] for n in found}
        assert "container_memory_near_limit" in spec["reason"]
    finally:
        await agent.close()
        await agent.api.close()


async def test_unknown_pod_uid_falls_back_to_the_install_namespace(
    env: Emulator, tmp_path: Path
) -> None:
    ghost = "0f0f0f0f-1111-2222-3333-444455556666"
    cgroup = cgroup_tree(tmp_path, ghost, "cd" * 32)
    pod_dir = next(cgroup.glob("kubepods.slice/kubepods-burstable.slice/*pod*"))
    write_memory(pod_dir, used=99 << 20, limit=100 << 20)
    skill = ContainersSkill(HostPaths(proc=tmp_path / "proc", cgroup=cgroup, rootfs=tmp_path))
    agent = make_agent(env, [skill], DetectorSettings(cooldown=0))
    try:
        await agent.cycle()
        (obj,) = notifications(env)
        assert obj["spec"]["subject"] == {"kind": "Pod", "name": ghost}
        # A miss refreshes, but misses are rate-limited: the next cycle does not list again.
        await agent.cycle()
        assert len(env.requests_to("GET", "/api/v1/pods")) == 1
    finally:
        await agent.close()
        await agent.api.close()


def _stored(emulator: Emulator, namespace: str, node: str, state: str, last_seen: datetime,
            name: str) -> None:
    notification = Notification(
        id=name, skill="os", anomaly_type="disk_full", severity=Severity.WARNING,
        observation="disk full", node=node, subject=Subject(kind="Node", name=node),
    )
    obj = to_resource(notification, namespace)
    obj["status"] = {"state": state, "count": 1, "lastSeen": last_seen.isoformat()}
    emulator.create(obj)


async def test_retention_deletes_old_resolved_notifications_of_this_node(env: Emulator) -> None:
    start = datetime.now(UTC)
    day = 86_400.0
    long_ago = start - timedelta(days=3)
    _stored(env, INSTALL_NS, NODE, "Resolved", long_ago, "old-resolved")
    _stored(env, "shop", NODE, "Resolved", long_ago, "old-resolved-in-shop")
    _stored(env, INSTALL_NS, NODE, "Unread", long_ago, "old-unread")
    _stored(env, INSTALL_NS, "node-b", "Resolved", long_ago, "other-node")
    _stored(env, INSTALL_NS, NODE, "Resolved", start + timedelta(seconds=day), "seen-later")
    clock = FakeClock(start.timestamp())
    api = emulator_api(env)
    retention = Retention(api, NODE, day, clock=clock)
    try:
        # Just seen Resolved: kept for the retention from now, whatever lastSeen says.
        assert await retention.sweep() == []
        clock.advance(day + 1)
        deleted = await retention.sweep()
        assert sorted(deleted) == [f"{INSTALL_NS}/old-resolved", "shop/old-resolved-in-shop"]
        left = {n["metadata"]["name"] for n in notifications(env)}
        assert left == {"old-unread", "other-node", "seen-later"}
        clock.advance(day)
        assert await retention.sweep() == [f"{INSTALL_NS}/seen-later"]
    finally:
        await api.close()


async def test_retention_runs_from_the_schedule(env: Emulator) -> None:
    _stored(env, INSTALL_NS, NODE, "Resolved", datetime.now(UTC) - timedelta(days=3), "gone")
    api = emulator_api(env)
    wall = FakeClock(time.time())
    agent = Agent(NODE, INSTALL_NS, [GaugeSkill()], api,
                  retention=Retention(api, NODE, 60.0, clock=wall), retention_every=0)
    try:
        await agent.cycle()
        wall.advance(61)
        report = await agent.cycle()
        assert report.deleted == [f"{INSTALL_NS}/gone"]
    finally:
        await agent.close()
        await api.close()


async def test_auto_investigation_limits_per_namespace(env: Emulator) -> None:
    gauge = GaugeSkill()
    clock = FakeClock()
    agent = make_agent(env, [gauge], DetectorSettings(cooldown=0, max_per_window=1000), clock,
                       auto=True)

    def pod(name: str) -> Subject:
        return Subject(kind="Pod", namespace="shop", name=name)

    async def raise_critical(*names: str) -> None:
        gauge.found = [critical_finding(n, pod(n)) for n in names]
        await agent.cycle()

    env.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    try:
        await raise_critical("a", "b", "c")  # three at once: one Investigation
        assert len(env.list("investigations", "shop")) == 1
        clock.advance(600)  # within the 15-minute cooldown
        await raise_critical("d")
        assert len(env.list("investigations", "shop")) == 1
        clock.advance(301)
        await raise_critical("e")
        assert len(env.list("investigations", "shop")) == 2
        clock.advance(901)
        await raise_critical("f")
        assert len(env.list("investigations", "shop")) == 3
        clock.advance(901)  # 45 minutes in: the hour's three are used
        await raise_critical("g")
        assert len(env.list("investigations", "shop")) == 3
        # A repeat of a known anomaly bumps its Notification; it starts nothing.
        clock.advance(3600)
        await raise_critical("a")
        assert len(env.list("investigations", "shop")) == 3
        await raise_critical("h")
        assert len(env.list("investigations", "shop")) == 4

        # Warnings never start one; another namespace has its own budget.
        gauge.found = []
        gauge.set("disk", 99.0)  # a node-level critical threshold: install namespace
        await agent.cycle()
        (node_level,) = env.list("investigations", INSTALL_NS)
        assert node_level["spec"]["nodes"] == [NODE]
        assert node_level["metadata"]["labels"]["app.kubernetes.io/created-by"] == (
            "kubelens-agent"
        )
    finally:
        await agent.close()
        await agent.api.close()


async def test_auto_investigation_is_off_by_default(env: Emulator) -> None:
    gauge = GaugeSkill()
    gauge.found = [critical_finding("x")]
    agent = make_agent(env, [gauge])
    try:
        await agent.cycle()
        assert len(notifications(env)) == 1
        assert env.list("investigations", INSTALL_NS) == []
    finally:
        await agent.close()
        await agent.api.close()


async def test_a_missing_pod_namespace_falls_back_to_the_install_namespace(
    env: Emulator,
) -> None:
    gauge = GaugeSkill()
    gauge.found = [critical_finding("x", Subject(kind="Pod", namespace="gone", name="x"))]
    agent = make_agent(env, [gauge])
    try:
        report = await agent.cycle()
        assert len(report.published) == 1
        (obj,) = notifications(env)
        assert obj["spec"]["subject"]["namespace"] == "gone"
    finally:
        await agent.close()
        await agent.api.close()


async def test_unsent_notifications_are_retried_when_the_api_returns(env: Emulator) -> None:
    gauge = GaugeSkill()
    gauge.set("disk", 99.0)
    agent = make_agent(env, [gauge], DetectorSettings(cooldown=0))
    real_server = agent.api.server
    try:
        agent.api.server = "http://127.0.0.1:9"  # nothing listens there
        report = await agent.cycle()
        assert report.published == []
        assert notifications(env) == []
        agent.api.server = real_server
        gauge.values.clear()
        report = await agent.cycle()
        assert [n.skill for n in report.published] == ["gauge"]
        assert len(notifications(env)) == 1
    finally:
        await agent.close()
        await agent.api.close()


async def test_a_failing_skill_does_not_stop_the_others(env: Emulator) -> None:
    class Broken(GaugeSkill):
        name = "broken"

        def snapshot(self) -> dict[str, Any]:
            raise OSError("no such file: /host/proc/stat")

    gauge = GaugeSkill()
    gauge.set("disk", 99.0)
    agent = make_agent(env, [Broken(), gauge])
    try:
        report = await agent.cycle()
        assert report.errors == ["broken: OSError: no such file: /host/proc/stat"]
        assert len(notifications(env)) == 1
    finally:
        await agent.close()
        await agent.api.close()
