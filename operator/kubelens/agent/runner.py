"""``kubelens agent``: wire the node agent together and run it until SIGTERM.

:func:`serve` is what the CLI runs. :class:`AgentServer` is the same assembly with its
parts injectable (the API client, the skills, the address), for tests and the benchmark.

Deliberately not imported here: kopf, litellm and the kubernetes client. The agent runs
on every node, so its memory is paid once per node; see :mod:`kubelens.agent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Sequence

from aiohttp import web

from kubelens import metrics
from kubelens.agent.api import REQUEST_TIMEOUT, build_app
from kubelens.agent.auth import Authenticator
from kubelens.agent.autoinvestigate import AutoInvestigator
from kubelens.agent.kubeapi import KubeApi, KubeConfigError
from kubelens.agent.pods import PodDirectory
from kubelens.agent.retention import Retention
from kubelens.agent.scheduler import Agent
from kubelens.config import Settings, install_namespace
from kubelens.detection import AnomalyDetector, DetectorSettings
from kubelens.skills import host_paths, node_skills
from kubelens.skills.base import Skill

log = logging.getLogger(__name__)


def node_name(settings: Settings) -> str:
    if settings.node_name:
        return settings.node_name
    name = socket.gethostname()
    log.warning("NODE_NAME is not set: using the host name %r as the node name", name)
    return name


def build_agent(
    settings: Settings,
    api: KubeApi,
    skills: Sequence[Skill] | None = None,
    detector_settings: DetectorSettings | None = None,
) -> Agent:
    node = node_name(settings)
    return Agent(
        node=node,
        namespace=install_namespace(settings),
        skills=list(skills) if skills is not None else node_skills(host_paths(settings)),
        api=api,
        detector=AnomalyDetector(node=node, settings=detector_settings or DetectorSettings()),
        pods=PodDirectory(api, node),
        retention=Retention(api, node, settings.notification_retention),
        auto=AutoInvestigator(api, node) if settings.auto_investigate else None,
    )


class AgentServer:
    """The agent's schedule and API server, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        api: KubeApi,
        agent: Agent | None = None,
        host: str | None = None,
        port: int | None = None,
        request_timeout: float = REQUEST_TIMEOUT,
        schedule: bool = True,
    ) -> None:
        self.settings = settings
        self.api = api
        self.agent = agent or build_agent(settings, api)
        self.auth = Authenticator(api, settings.operator_service_account, settings.agent_token)
        self.host = host
        self.port = settings.agent_port if port is None else port
        self.request_timeout = request_timeout
        self.schedule = schedule
        self.stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host or '127.0.0.1'}:{self.port}"

    async def start(self) -> None:
        if not self.settings.operator_service_account and not self.settings.agent_token:
            log.warning(
                "neither --operator-service-account nor --agent-token is set: every call "
                "to the skill API will be refused"
            )
        app = build_app(
            self.agent,
            self.auth,
            request_timeout=self.request_timeout,
            interval=self.settings.agent_interval,
        )
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host=self.host, port=self.port)
        await site.start()
        if self.port == 0:  # an ephemeral port (tests): report the one the kernel chose
            self.port = int(self._runner.addresses[0][1])
        if self.schedule:
            self._loop_task = asyncio.create_task(
                self.agent.run(self.settings.agent_interval, self.stopping)
            )
        log.info(
            "kubelens agent on node %s: skills %s every %gs, API on port %d",
            self.agent.node,
            ", ".join(self.agent.skills),
            self.settings.agent_interval,
            self.port,
        )

    async def stop(self) -> None:
        self.stopping.set()
        if self._loop_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._runner is not None:
            await self._runner.cleanup()
        await self.agent.close()
        await self.api.close()

    async def wait(self) -> None:
        await self.stopping.wait()


async def serve(settings: Settings) -> None:
    """Run the agent until SIGTERM or SIGINT."""
    try:
        api = KubeApi.from_environment(settings.kubeconfig)
    except KubeConfigError as exc:
        raise SystemExit(f"kubelens agent: {exc}") from None
    server = AgentServer(settings, api)
    metrics.serve(settings.metrics_port)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.stopping.set)
    await server.start()
    try:
        await server.wait()
    finally:
        await server.stop()
