"""Shared pieces of the agent tests: fake skills, a fake cgroup tree, agent assembly."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from kubelens.agent.kubeapi import KubeApi, _TokenSource
from kubelens.agent.runner import AgentServer, build_agent
from kubelens.config import Settings
from kubelens.detection import DetectorSettings
from kubelens.models import Severity, Subject
from kubelens.skills.base import Finding, Metric, Skill, Threshold
from tests.support.emulator import Emulator, TokenIdentity

INSTALL_NS = "kubelens"
OPERATOR_SA = "system:serviceaccount:kubelens:kubelens-operator"
OPERATOR_TOKEN = "operator-projected-token"
OTHER_TOKEN = "someone-elses-token"
WRONG_AUDIENCE_TOKEN = "operator-token-for-the-api-server"
STATIC_TOKEN = "static-shared-token"


class GaugeSkill(Skill):
    """A node skill whose readings the test sets: one gauge per subject, plus findings."""

    name = "gauge"
    description = "A fake node skill with test-set readings."
    prompt = "Fake."
    thresholds = (
        Threshold(
            "gauge.value", "gauge_high", 80.0, 95.0, "{subject} gauge is at {value}",
            "{subject} is overloaded",
        ),
    )

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, float] = {}
        self.subjects: dict[str, Subject] = {}
        self.found: list[Finding] = []
        self.delay = 0.0
        self.add_tool(
            "read",
            "Read one gauge.",
            {
                "properties": {"key": {"type": "string", "maxLength": 20}},
                "required": ["key"],
            },
            self.read,
        )
        self.add_tool("slow", "Sleep for a while.", {"properties": {}}, self.slow)

    def set(self, key: str, value: float, subject: Subject | None = None) -> None:
        self.values[key] = value
        if subject is not None:
            self.subjects[key] = subject

    def snapshot(self) -> dict[str, Any]:
        if self.delay:
            time.sleep(self.delay)
        return {"values": dict(self.values), "summary": f"{len(self.values)} gauge(s)"}

    def metrics(self, snapshot: Mapping[str, Any]) -> list[Metric]:
        return [
            Metric("gauge.value", v, self.subjects.get(k, Subject(kind="Gauge", name=k)))
            for k, v in snapshot["values"].items()
        ]

    def findings(self, snapshot: Mapping[str, Any]) -> list[Finding]:
        return list(self.found)

    def read(self, key: str) -> Any:
        return {"key": key, "value": self.values.get(key)}

    def slow(self) -> Any:
        time.sleep(3.0)
        return {"slept": 3.0}


def critical_finding(name: str, subject: Subject | None = None) -> Finding:
    return Finding(
        anomaly_type="gauge_broken",
        severity=Severity.CRITICAL,
        observation=f"gauge {name} broke",
        subject=subject or Subject(kind="Gauge", name=name),
    )


def emulator_api(emulator: Emulator, timeout: float = 5.0) -> KubeApi:
    return KubeApi(emulator.url, _TokenSource("emulator-admin-token"), timeout=timeout)


def register_tokens(emulator: Emulator) -> None:
    emulator.tokens[OPERATOR_TOKEN] = TokenIdentity(OPERATOR_SA, audiences=["kubelens-agent"])
    emulator.tokens[OTHER_TOKEN] = TokenIdentity(
        "system:serviceaccount:default:intruder", audiences=["kubelens-agent"]
    )
    emulator.tokens[WRONG_AUDIENCE_TOKEN] = TokenIdentity(
        OPERATOR_SA, audiences=["https://kubernetes.default.svc"]
    )


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "node_name": "node-a",
        "install_namespace": INSTALL_NS,
        "operator_service_account": OPERATOR_SA,
        "agent_token": STATIC_TOKEN,
        "agent_interval": 60.0,
    }
    values.update(overrides)
    return Settings(**values)


def make_agent_server(
    emulator: Emulator,
    skills: list[Skill],
    detector: DetectorSettings | None = None,
    request_timeout: float = 5.0,
    **overrides: Any,
) -> AgentServer:
    config = settings(**overrides)
    api = emulator_api(emulator)
    agent = build_agent(config, api, skills=skills, detector_settings=detector)
    return AgentServer(
        config, api, agent, host="127.0.0.1", port=0, request_timeout=request_timeout,
        schedule=False,
    )




def seed_agent_pod(
    emulator: Emulator, node: str, port: int, namespace: str = INSTALL_NS
) -> None:
    """An agent pod of the chart's shape, "running" on 127.0.0.1:<port> for ``node``."""
    emulator.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"kubelens-agent-{node}",
                "namespace": namespace,
                "labels": {
                    "app.kubernetes.io/name": "kubelens",
                    "app.kubernetes.io/component": "agent",
                },
            },
            "spec": {
                "nodeName": node,
                "containers": [
                    {
                        "name": "agent",
                        "image": "kubelens:test",
                        "ports": [{"name": "api", "containerPort": port}],
                    }
                ],
            },
            "status": {
                "phase": "Running",
                "podIP": "127.0.0.1",
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
    )


def seed_pod(emulator: Emulator, namespace: str, name: str, node: str) -> str:
    """A running pod on ``node``; returns the UID the emulator gave it."""
    if emulator.get("namespaces", namespace) is None:
        emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    created = emulator.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app:1"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.9"},
        }
    )
    return str(created["metadata"]["uid"])


def cgroup_tree(root: Path, pod_uid: str, container_id: str) -> Path:
    """A cgroup v2 tree with one burstable pod (systemd driver) and one container."""
    cgroup = root / "cgroup"
    cgroup.mkdir(parents=True)
    (cgroup / "cgroup.controllers").write_text("cpu memory pids\n")
    kubepods = cgroup / "kubepods.slice"
    burstable = kubepods / "kubepods-burstable.slice"
    pod = burstable / f"kubepods-burstable-pod{pod_uid.replace('-', '_')}.slice"
    container = pod / f"cri-containerd-{container_id}.scope"
    for directory in (kubepods, burstable, pod, container):
        directory.mkdir(parents=True, exist_ok=True)
        write_memory(directory, used=100 << 20, limit=None)
    return cgroup


def write_memory(
    directory: Path, used: int, limit: int | None, oom_kills: int = 0, inactive: int = 0
) -> None:
    (directory / "memory.current").write_text(f"{used}\n")
    (directory / "memory.max").write_text(f"{limit if limit else 'max'}\n")
    (directory / "memory.events").write_text(
        f"low 0\nhigh 0\nmax {oom_kills}\noom {oom_kills}\noom_kill {oom_kills}\n"
    )
    (directory / "memory.stat").write_text(f"anon {used}\ninactive_file {inactive}\n")


class StubAgent:
    """An HTTP server on 127.0.0.1 that misbehaves: too slow (``slow``), answering HTML
    (``garbage``) or JSON of the wrong shape (``shape``)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.mode == "slow":
            await asyncio.sleep(30)
        if self.mode == "shape":
            # 200 with JSON that is neither an OperatorResult nor a ToolResult.
            return web.json_response({"status": "splendid", "snapshot": ["not", "a", "map"],
                                      "notificationIds": 7, "data": None})
        return web.Response(text="<html>definitely not json</html>", content_type="text/html")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A short shutdown: the slow handler is cut off instead of awaited.
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class ThreadedAgent:
    """An agent server in its own thread and loop (for tests where kopf owns the main loop)."""

    def __init__(self, server: AgentServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedAgent:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
