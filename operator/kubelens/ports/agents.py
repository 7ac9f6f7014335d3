"""The operator's side of the node agents: node skills of one Investigation, run on agents.

:class:`AgentDirectory` lives on the operator's context (one per process): it finds the
agent pods (label ``app.kubernetes.io/component=agent`` and
``app.kubernetes.io/name=kubelens`` in the install namespace; pod IP and the container
port named ``api``, else ``--agent-port``), holds the HTTP session, and reads the token
the operator authenticates with: a projected ServiceAccount token with audience
``kubelens-agent`` (re-read when the kubelet rotates it), else ``--agent-token``.

:class:`AgentOperators` implements the :class:`~kubelens.ports.operators.Operators` port for one
Investigation. Its nodes are ``spec.nodes`` plus those matching ``spec.nodeSelector``;
without either, the nodes running the Investigation namespace's pods; without any, every
agent; at most :data:`MAX_NODES`. ``invoke`` asks every node in parallel and returns one
OperatorResult per node (``source`` = node name). An agent that is down, slow or answers
nonsense becomes an ``error`` result that says so: never a hang, never an exception.
Notifications an agent raised are already resources; their ids pass through.

``call`` runs a tool on one node: the tool's optional ``node`` argument (added to every
node tool's schema in :meth:`AgentOperators.catalog`) picks it; without it, the single
node in scope, or every node in scope with the results keyed by node.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes import client as k8s

from kubelens.config import Settings, install_namespace
from kubelens.kube import KubeError, call
from kubelens.models import OperatorResult, ToolResult, ToolStatus
from kubelens.skills import node_skills
from kubelens.skills.base import DEFAULT_RESULT_CAP, cap_result

log = logging.getLogger(__name__)

AGENT_SELECTOR = "app.kubernetes.io/name=kubelens,app.kubernetes.io/component=agent"
#: Where the chart mounts the operator's projected token for the agents' audience.
DEFAULT_TOKEN_FILE = Path("/var/run/secrets/kubelens/token")
CALL_TIMEOUT = 10.0
MAX_NODES = 50
#: Seconds the list of agent pods is reused: one list serves a burst of invokes.
DIRECTORY_TTL = 10.0
#: Largest agent answer read; anything bigger is not an agent's (capped) output.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
NODE_ARGUMENT = "node"


@dataclass(frozen=True)
class AgentEndpoint:
    node: str
    pod: str
    url: str


@functools.cache
def node_catalog() -> tuple[dict[str, Any], ...]:
    """The node skills' catalog, from the same skill classes the agents run.

    The coordinator reads the catalog synchronously at the start of a run, before any
    agent could be asked; building it from the classes (which read nothing until a
    snapshot) gives the same names, descriptions and schemas the agents serve.
    """
    return tuple(skill.describe() for skill in node_skills())


def _with_node_argument(entry: Mapping[str, Any]) -> dict[str, Any]:
    tools = []
    for tool in entry.get("tools", []):
        parameters = json.loads(json.dumps(tool["parameters"]))
        parameters.setdefault("properties", {})[NODE_ARGUMENT] = {
            "type": "string",
            "maxLength": 253,
            "description": "Node whose agent runs the tool (default: every node in scope, "
            "results keyed by node).",
        }
        tools.append({**tool, "parameters": parameters})
    return {**entry, "tools": tools}


class AgentDirectory:
    """Finds agents and talks to them; shared by every Investigation of the operator."""

    def __init__(
        self,
        api: Any,
        namespace: str,
        port: int,
        token_file: Path | None = None,
        static_token: str = "",
        timeout: float = CALL_TIMEOUT,
        max_nodes: int = MAX_NODES,
        ttl: float = DIRECTORY_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.port = port
        self.token_file = token_file or DEFAULT_TOKEN_FILE
        self.static_token = static_token
        self.timeout = timeout
        self.max_nodes = max_nodes
        self.ttl = ttl
        self.clock = clock
        self._agents: dict[str, AgentEndpoint] = {}
        self._listed_at: float | None = None
        self._list_lock = asyncio.Lock()
        self._token: tuple[float, str] | None = None
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings, api: Any) -> AgentDirectory:
        return cls(
            api,
            namespace=install_namespace(settings),
            port=settings.agent_port,
            static_token=settings.agent_token,
            token_file=Path(settings.agent_token_file),
        )

    # -- discovery -----------------------------------------------------------------

    async def _list_pods(
        self, namespace: str | None, label_selector: str = "", field_selector: str = ""
    ) -> list[dict[str, Any]]:
        core = k8s.CoreV1Api(self.api)
        kwargs: dict[str, Any] = {"_preload_content": False}
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        # Raw JSON: building the client's model objects for every pod costs far more.
        if namespace:
            response = await call(core.list_namespaced_pod, namespace, **kwargs)
        else:
            response = await call(core.list_pod_for_all_namespaces, **kwargs)
        return list(json.loads(response.data).get("items") or [])

    async def agents(self, refresh: bool = False) -> dict[str, AgentEndpoint]:
        """node → the agent serving it (running pods with an IP; the ready, newest one)."""
        async with self._list_lock:
            fresh = self._listed_at is not None and self.clock() - self._listed_at < self.ttl
            if fresh and not refresh:
                return self._agents
            pods = await self._list_pods(self.namespace, label_selector=AGENT_SELECTOR)
            ranked: dict[str, tuple[tuple[bool, str], AgentEndpoint]] = {}
            for pod in pods:
                endpoint = self._endpoint(pod)
                if endpoint is None:
                    continue
                conditions = (pod.get("status") or {}).get("conditions") or []
                ready = any(
                    c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
                )
                rank = (ready, str(pod["metadata"].get("creationTimestamp") or ""))
                if endpoint.node not in ranked or rank > ranked[endpoint.node][0]:
                    ranked[endpoint.node] = (rank, endpoint)
            self._agents = {node: entry for node, (_, entry) in ranked.items()}
            self._listed_at = self.clock()
            return self._agents

    def _endpoint(self, pod: Mapping[str, Any]) -> AgentEndpoint | None:
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status")
        status = status or {}
        if meta.get("deletionTimestamp") or status.get("phase") != "Running":
            return None
        node, ip = spec.get("nodeName"), status.get("podIP")
        if not node or not ip:
            return None
        port = self.port
        for container in spec.get("containers") or []:
            for declared in container.get("ports") or []:
                if declared.get("name") == "api" and declared.get("containerPort"):
                    port = int(declared["containerPort"])
        host = f"[{ip}]" if ":" in str(ip) else str(ip)
        return AgentEndpoint(node=str(node), pod=str(meta.get("name")), url=f"http://{host}:{port}")

    async def nodes_running(self, namespace: str) -> set[str]:
        """Nodes with a pod of ``namespace`` that has not finished."""
        pods = await self._list_pods(namespace)
        return {
            str(p["spec"]["nodeName"])
            for p in pods
            if (p.get("spec") or {}).get("nodeName")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        }

    async def nodes_selected(self, selector: Mapping[str, str]) -> set[str]:
        core = k8s.CoreV1Api(self.api)
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        response = await call(core.list_node, label_selector=label_selector, _preload_content=False)
        items = json.loads(response.data).get("items") or []
        return {str(n["metadata"]["name"]) for n in items}

    # -- HTTP ----------------------------------------------------------------------

    def token(self) -> str:
        """The projected token (re-read when the file changes), else the shared token."""
        try:
            mtime = self.token_file.stat().st_mtime
        except OSError:
            return self.static_token
        if self._token is None or self._token[0] != mtime:
            try:
                self._token = (mtime, self.token_file.read_text().strip())
            except OSError:
                return self.static_token
        return self._token[1] or self.static_token

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self, endpoint: AgentEndpoint, path: str, body: Mapping[str, Any]
    ) -> tuple[int, Any]:
        """POST JSON to an agent: (status, parsed body). Raises AgentCallError on failure."""
        headers = {"Content-Type": "application/json"}
        token = self.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        where = f"agent {endpoint.pod} on node {endpoint.node} ({endpoint.url})"
        try:
            async with self.session().post(
                endpoint.url + path,
                data=json.dumps(dict(body)),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                raw = await response.content.read(MAX_RESPONSE_BYTES + 1)
                status = response.status
        except TimeoutError:
            raise AgentCallError(f"{where} did not answer within {self.timeout:g}s") from None
        except aiohttp.ClientError as exc:
            # Maybe it moved (a restarted agent has a new IP): list again next time.
            self._listed_at = None
            raise AgentCallError(f"{where} is unreachable: {type(exc).__name__}: {exc}") from None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise AgentCallError(f"{where} answered more than {MAX_RESPONSE_BYTES} bytes")
        try:
            return status, json.loads(raw)
        except ValueError:
            snippet = raw[:120].decode("utf-8", "replace")
            raise AgentCallError(
                f"{where} answered {status} with a body that is not JSON: {snippet!r}"
            ) from None

    def operators(
        self,
        namespace: str,
        nodes: Iterable[str] = (),
        node_selector: Mapping[str, str] | None = None,
    ) -> AgentOperators:
        return AgentOperators(self, namespace, nodes, node_selector)


class AgentCallError(RuntimeError):
    """An agent could not be asked, or its answer could not be read."""


def _refusal(where: str, status: int, body: Any) -> str:
    reason = body.get("error") if isinstance(body, dict) else None
    message = f"{where} answered {status}: {reason or body!r}"
    if status in (401, 403):
        message += (
            " (the operator's credentials were refused: check the projected token at "
            f"{DEFAULT_TOKEN_FILE} or --agent-token, and --operator-service-account on the "
            "agents)"
        )
    return message


def _known_fields(model: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    """The keys a model knows (by alias), so a newer agent's extra fields do not fail it."""
    names = {info.alias or name for name, info in model.model_fields.items()}
    return {k: v for k, v in data.items() if k in names}


class AgentOperators:
    """Node skills for one Investigation, run on the agents of its nodes."""

    def __init__(
        self,
        directory: AgentDirectory,
        namespace: str,
        nodes: Iterable[str] = (),
        node_selector: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.namespace = namespace
        self.nodes = list(dict.fromkeys(nodes))
        self.node_selector = dict(node_selector or {})
        self._scope: list[str] | None = None
        self._scope_note = ""
        self._scope_lock = asyncio.Lock()
        self._skills = {entry["name"] for entry in node_catalog()}
        self._catalog = [_with_node_argument(entry) for entry in node_catalog()]

    def catalog(self) -> builtins.list[dict[str, Any]]:
        return list(self._catalog)

    async def scope(self) -> builtins.list[str]:
        """The nodes this Investigation asks, worked out once (see the module's doc)."""
        async with self._scope_lock:
            if self._scope is not None:
                return self._scope
            wanted: list[str] = list(self.nodes)
            if self.node_selector:
                wanted.extend(sorted(await self.directory.nodes_selected(self.node_selector)))
            how = "named in the Investigation"
            if not wanted:
                wanted = sorted(await self.directory.nodes_running(self.namespace))
                how = f"running pods of namespace {self.namespace}"
            if not wanted:
                wanted = sorted(await self.directory.agents())
                how = "every node with an agent"
            wanted = list(dict.fromkeys(wanted))
            limit = self.directory.max_nodes
            if len(wanted) > limit:
                self._scope_note = (
                    f"{len(wanted)} nodes in scope ({how}); asked the first {limit}. Name "
                    "nodes in spec.nodes to choose others."
                )
                wanted = wanted[:limit]
            self._scope = wanted
            return wanted

    async def _targets(self) -> tuple[list[str], dict[str, AgentEndpoint]]:
        nodes = await self.scope()
        return nodes, await self.directory.agents()

    async def invoke(self, skill: str, context: str) -> builtins.list[OperatorResult]:
        if skill not in self._skills:
            return []
        try:
            nodes, agents = await self._targets()
        except KubeError as exc:
            return [OperatorResult.fail(skill, "agents", f"cannot find the kubelens agents: {exc}")]
        if not nodes:
            return [
                OperatorResult.fail(
                    skill,
                    "agents",
                    f"no kubelens agent found in namespace {self.directory.namespace} "
                    f"(pods labelled {AGENT_SELECTOR})",
                )
            ]
        results = list(
            await asyncio.gather(
                *(self._snapshot(skill, node, agents.get(node), context) for node in nodes)
            )
        )
        if self._scope_note:
            results.append(
                OperatorResult(
                    skill=skill,
                    source="agents",
                    status=ToolStatus.NO_DATA,
                    summary=self._scope_note,
                )
            )
        return results

    async def _snapshot(
        self, skill: str, node: str, endpoint: AgentEndpoint | None, context: str
    ) -> OperatorResult:
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 2)

        if endpoint is None:
            return OperatorResult.fail(
                skill, node, f"no running kubelens agent on node {node}", elapsed()
            )
        where = f"agent {endpoint.pod} on node {node}"
        try:
            status, body = await self.directory.post(
                endpoint, f"/v1/skills/{skill}/snapshot", {"context": context[:2000]}
            )
        except AgentCallError as exc:
            return OperatorResult.fail(skill, node, str(exc), elapsed())
        if status != 200:
            return OperatorResult.fail(skill, node, _refusal(where, status, body), elapsed())
        try:
            if not isinstance(body, dict):
                raise ValueError(f"expected a JSON object, got {type(body).__name__}")
            fields = _known_fields(OperatorResult, body)
            fields.update(skill=skill, source=node)
            fields.setdefault("durationMs", elapsed())
            return OperatorResult.model_validate(fields)
        except ValueError as exc:
            return OperatorResult.fail(
                skill, node, f"{where} answered with an invalid result: {exc}"[:1000], elapsed()
            )

    async def call(self, skill: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        if skill not in self._skills:
            return ToolResult.fail(f"{skill!r} is not a node skill")
        args = dict(arguments)
        chosen = args.pop(NODE_ARGUMENT, None)
        try:
            nodes, agents = await self._targets()
            if chosen is not None and str(chosen) not in agents:
                agents = await self.directory.agents(refresh=True)
        except KubeError as exc:
            return ToolResult.fail(f"cannot find the kubelens agents: {exc}")
        if chosen is not None:
            endpoint = agents.get(str(chosen))
            if endpoint is None:
                known = ", ".join(sorted(agents)[:20]) or "none"
                return ToolResult.fail(
                    f"no kubelens agent on node {chosen!r}; nodes with agents: {known}"
                )
            return await self._tool(endpoint, skill, tool, args)
        if not nodes:
            return ToolResult.fail("no kubelens agent in scope of this investigation")
        if len(nodes) == 1:
            endpoint = agents.get(nodes[0])
            if endpoint is None:
                return ToolResult.fail(f"no running kubelens agent on node {nodes[0]}")
            return await self._tool(endpoint, skill, tool, args)
        results = await asyncio.gather(
            *(
                self._tool(agents[node], skill, tool, args) if node in agents else _no_agent(node)
                for node in nodes
            )
        )
        by_node = {node: result.wire() for node, result in zip(nodes, results, strict=True)}
        if all(result.status is ToolStatus.ERROR for result in results):
            return ToolResult.fail(
                "; ".join(
                    f"{node}: {result.error}" for node, result in zip(nodes, results, strict=True)
                )[:2000]
            )
        return cap_result(
            ToolResult.ok({"byNode": by_node}),
            DEFAULT_RESULT_CAP,
            hint=f"pass the {NODE_ARGUMENT!r} argument to ask one node",
        )

    async def _tool(
        self, endpoint: AgentEndpoint, skill: str, tool: str, args: Mapping[str, Any]
    ) -> ToolResult:
        where = f"agent {endpoint.pod} on node {endpoint.node}"
        try:
            status, body = await self.directory.post(
                endpoint, f"/v1/skills/{skill}/tools/{tool}", args
            )
        except AgentCallError as exc:
            return ToolResult.fail(str(exc))
        if status == 400 and isinstance(body, dict):
            # The agent's reason is written for the model to fix its call.
            return ToolResult.fail(str(body.get("error") or body))
        if status != 200:
            return ToolResult.fail(_refusal(where, status, body))
        try:
            if not isinstance(body, dict):
                raise ValueError(f"expected a JSON object, got {type(body).__name__}")
            return ToolResult.model_validate(_known_fields(ToolResult, body))
        except ValueError as exc:
            return ToolResult.fail(f"{where} answered with an invalid result: {exc}"[:1000])


async def _no_agent(node: str) -> ToolResult:
    return ToolResult.fail(f"no running kubelens agent on node {node}")
