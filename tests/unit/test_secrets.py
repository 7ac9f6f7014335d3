"""Secrets planted everywhere kubelens reads never leave it.

Realistic credentials go into process command lines and environments (a fake /proc),
pod logs, Kubernetes events, pod annotations and container messages (a StaticSource),
notification observations and the investigation's context. Full investigations then
run, with the rule-based analyst and with a scripted LLM that calls every skill tool it
can, and none of the secret strings may appear in what the model was sent, in the
result, or in our logs.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubelens.coordinator import Coordinator, LiteLLMClient, RunOptions
from kubelens.coordinator.analyst_model import AnalystModel
from kubelens.coordinator.llm import Completion, Message, ToolSchema
from kubelens.models import Notification, RunOutcome, RunResult, Severity, Snapshot, Subject
from kubelens.ports.notifications import InMemoryNotificationStore
from kubelens.ports.operators import InProcessOperators
from kubelens.skills import node_skills
from kubelens.skills.base import Skill
from kubelens.skills.cluster import StaticSource, cluster_skills
from tests.llm_server import Script, ScriptedLLM, Turn, call
from tests.unit.test_node_skills import FakeHost, v2_systemd_host


@dataclass(frozen=True)
class Secret:
    name: str
    #: What must never leave kubelens.
    value: str
    #: The secret as it shows up in the wild.
    planted: str


_PEM_BODY = "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9OiSh0pK"
_GCP_BODY = "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiShop"
_JWT = ("eyJhbGciOiJSUzI1NiIsImtpZCI6InNob3AifQ"
        ".eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hvcDphcGkifQ"
        ".c2lnbmF0dXJlLXNob3VsZC1uZXZlci1sZWFr")
_GCP_KEY_JSON = json.dumps({
    "type": "service_account", "project_id": "shop",
    "private_key_id": "1f2e3d4c5b6a798801234567deadbeef01234567",
    "private_key": f"-----BEGIN PRIVATE KEY-----\n{_GCP_BODY}\n-----END PRIVATE KEY-----\n",
    "client_email": "api@shop.iam.gserviceaccount.com",
})

SECRETS = [
    Secret("aws access key id", "AKIAZ7QXSHOPKEY12345",
           "AWS_ACCESS_KEY_ID=AKIAZ7QXSHOPKEY12345"),
    Secret("aws access key id, bare", "AKIAZ7QXSHOPKEY67890",
           "S3 refused key AKIAZ7QXSHOPKEY67890 for bucket shop-assets"),
    Secret("aws secret key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSHOPKEY",
           "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSHOPKEY"),
    Secret("gcp service-account key", _GCP_BODY, _GCP_KEY_JSON),
    Secret("gcp private key id", "1f2e3d4c5b6a798801234567deadbeef01234567", _GCP_KEY_JSON),
    Secret("jwt", _JWT, f"id_token={_JWT}"),
    Secret("bearer header", "ya29.A0ARrdaM-shop-bearer-0123456789",
           "Authorization: Bearer ya29.A0ARrdaM-shop-bearer-0123456789"),
    Secret("basic header", "c2hvcDpCYXNpY1Bhc3N3b3Jk",
           "Authorization: Basic c2hvcDpCYXNpY1Bhc3N3b3Jk"),
    Secret("password flag", "CorrectHorseBatteryStaple",
           "--password=CorrectHorseBatteryStaple"),
    Secret("password flag, spaced", "Sp4cedFlagPassw0rd", "--db-password Sp4cedFlagPassw0rd"),
    Secret("java system property", "J4vaPropPassw0rd",
           "-Dspring.datasource.password=J4vaPropPassw0rd"),
    Secret("mysql -p", "MyS3cretRootPw", "mysql -h db -u root -pMyS3cretRootPw shop"),
    Secret("PGPASSWORD", "pg-Secret-4711", "PGPASSWORD=pg-Secret-4711"),
    Secret("env password", "Env-Passw0rd-99", "DB_PASSWORD=Env-Passw0rd-99"),
    Secret("postgres url", "PgPassw0rd4711", "postgres://shop:PgPassw0rd4711@db.shop.svc:5432/shop"),
    Secret("mongodb+srv url", "M0ngoPassw0rd",
           "mongodb+srv://admin:M0ngoPassw0rd@cluster0.abcde.mongodb.net/shop?retryWrites=true"),
    Secret("redis url", "R3disPassw0rd", "redis://:R3disPassw0rd@redis.shop.svc:6379/0"),
    Secret("ado.net connection string", "AdoNetPassw0rd",
           "Server=tcp:sql.shop.net,1433;Database=shop;User ID=app;Password=AdoNetPassw0rd;"
           "Encrypt=true"),
    Secret("pem private key", _PEM_BODY,
           f"-----BEGIN RSA PRIVATE KEY-----\n{_PEM_BODY}\n-----END RSA PRIVATE KEY-----"),
    Secret("github token", "ghp_R4nd0mGitHubT0kenValue0123456789ab",
           "git push https://x:ghp_R4nd0mGitHubT0kenValue0123456789ab@github.com/shop/api"),
    Secret("github token, bare", "ghp_AnotherGitHubT0kenValue987654321cd",
           "using token ghp_AnotherGitHubT0kenValue987654321cd"),
    Secret("slack bot token", "xoxb-2048-4096-ShopSlackBotToken42",
           "slack client started with xoxb-2048-4096-ShopSlackBotToken42"),
    Secret("slack webhook", "SlackWebhookSecret42",
           "POST https://hooks.slack.com/services/T0001/B0002/SlackWebhookSecret42"),
    Secret("openai key", "sk-proj-ShopOpenAIKeyValue0123456789abcdef",
           "openai.AuthenticationError for sk-proj-ShopOpenAIKeyValue0123456789abcdef"),
]
VALUES = [secret.value for secret in SECRETS]

NAMESPACE = "shop"
POD = "checkout-6f7b8c9d4-zz9yx"
POD_UID = "5e6f7a8b-1c2d-4e3f-9a0b-1c2d3e4f5a6b"
CONTAINER = "checkout"


def leaks(text: str) -> list[str]:
    """The secrets (by name) that appear in ``text``."""
    return [secret.name for secret in SECRETS if secret.value in text]


def log_lines(secrets: list[Secret]) -> str:
    """A crashing container's log: an error per secret, some multi-line (the PEM key)."""
    lines = []
    for index, secret in enumerate(secrets):
        kind = ("ERROR connection refused", "panic: fatal error",
                "Traceback (most recent call last)")[index % 3]
        lines.append(f"2026-11-24T06:00:{index:02d}Z {kind} while using {secret.planted}")
    lines.append("2026-11-24T06:01:00Z FATAL giving up")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the world


def plant_processes(host: FakeHost, secrets: list[Secret]) -> list[int]:
    """Processes whose command lines and environments carry every secret."""
    host.proc_file("stat", "cpu  100 0 50 800 30 0 0 0 0 0\ncpu0 100 0 50 800 30 0 0 0 0 0\n"
                           "btime 1700000000\nprocesses 50\n")
    host.proc_file("uptime", "1000.00 1800.00\n")
    host.proc_file("meminfo", "MemTotal: 1000000 kB\nMemFree: 20000 kB\n"
                              "MemAvailable: 50000 kB\n")
    host.proc_file("loadavg", "1.00 1.00 1.00 1/100 999\n")
    host.write(host.rootfs / "etc/passwd", "root:x:0:0::/root:/bin/sh\n")
    pids = []
    for index, secret in enumerate(secrets):
        pid = 1000 + index
        argv = ["/usr/bin/app", *shlex.split(secret.planted.replace("\n", " "), posix=False)]
        environ = {"HOME": "/app", "NOTE": secret.planted.replace("\n", "\\n"),
                   "DB_PASSWORD": secret.value, "SERVICE_ACCOUNT_JSON": _GCP_KEY_JSON}
        host.process(pid, f"app{index}", utime=100 * (index + 1), rss_pages=1000 + index,
                     cmdline=argv, environ=environ, fds=2)
        # a descriptor whose target names a secret (a socket path, a file with a token)
        os.symlink(f"/run/app/{secret.planted.splitlines()[0][:80]}",
                   host.proc / str(pid) / "fd" / "9")
        pids.append(pid)
    return pids


def cluster_objects(
    secrets: list[Secret],
) -> tuple[list[dict[str, Any]], dict[tuple[str, str, str | None, bool], str]]:
    """A crash-looping pod with secrets in annotations, env, args and state messages; a
    Warning event per secret; its logs full of them."""
    annotations = {f"example.com/note-{i}": s.planted for i, s in enumerate(secrets)}
    annotations["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(
        {"env": [{"name": "DB_PASSWORD", "value": secrets[0].planted}]})

    def nth(index: int) -> str:
        return secrets[index % len(secrets)].planted

    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD, "namespace": NAMESPACE, "uid": POD_UID,
                     "labels": {"app": "checkout"}, "annotations": annotations},
        "spec": {"nodeName": "node-1", "containers": [{
            "name": CONTAINER, "image": "shop/checkout:2.1",
            "args": [s.planted for s in secrets],
            "env": [{"name": f"VAR_{i}", "value": s.planted} for i, s in enumerate(secrets)],
            "resources": {"limits": {"memory": "256Mi"}}}]},
        "status": {
            "phase": "Running",
            "message": nth(5),
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                            "message": nth(6)}],
            "containerStatuses": [{
                "name": CONTAINER, "ready": False, "restartCount": 7,
                "image": "shop/checkout:2.1",
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": f"back-off restarting: {nth(7)}"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1,
                                             "message": nth(8),
                                             "finishedAt": "2026-11-24T06:00:00Z"}},
            }],
        },
    }
    reasons = ["BackOff", "Failed", "Unhealthy", "FailedMount", "FailedCreatePodSandBox"]
    events = [{
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"checkout.{i}", "namespace": NAMESPACE},
        "type": "Warning", "reason": reasons[i % len(reasons)],
        "message": (f"Liveness probe failed: {s.planted}" if i % len(reasons) == 2
                    else f"Error: {s.planted}"),
        "involvedObject": {"kind": "Pod", "name": f"{POD}-{i}" if i else POD,
                           "namespace": NAMESPACE},
        "count": 3, "lastTimestamp": f"2026-11-24T06:{i:02d}:00Z",
        "source": {"host": "node-1"},
    } for i, s in enumerate(secrets)]
    logs: dict[tuple[str, str, str | None, bool], str] = {
        (NAMESPACE, POD, CONTAINER, False): log_lines(secrets),
        (NAMESPACE, POD, CONTAINER, True): log_lines(secrets)}
    return [pod, *events], logs


def seeded_notifications(secrets: list[Secret], count: int) -> list[Notification]:
    """``count`` notifications, the secrets spread over their observations, hypotheses,
    contexts and evidence."""
    notifications = []
    for i in range(count):
        mine = secrets[i::count]
        notifications.append(Notification(
            id=f"ntf-seeded-{i}", skill="logs", anomaly_type="log_errors",
            severity=Severity.WARNING,
            observation=f"container {CONTAINER} logs: " + "; ".join(s.planted for s in mine),
            hypothesis=f"the app cannot authenticate with {mine[0].planted}",
            context=mine[-1].planted,
            subject=Subject(kind="Pod", name=POD, namespace=NAMESPACE),
            snapshots=[Snapshot(data={"line": mine[0].planted, "password": mine[-1].value})],
        ))
    return notifications


def investigation_context(secrets: list[Secret]) -> dict[str, Any]:
    return {
        "reason": "checkout cannot reach its database",
        "alert": {"labels": {"alertname": "CheckoutDown"},
                  "annotations": {f"description{i}": s.planted for i, s in enumerate(secrets)}},
        "dsn": secrets[0].planted,
        "token": secrets[-1].value,
    }


@dataclass
class World:
    """A node and a namespace with ``secrets`` planted everywhere."""

    secrets: list[Secret]
    skills: list[Skill]
    pids: list[int]
    proc: Path

    def ports(self, notifications: int) -> tuple[InMemoryNotificationStore, InProcessOperators]:
        store = InMemoryNotificationStore(seeded_notifications(self.secrets, notifications))
        return store, InProcessOperators(self.skills, store, source="node-1")


def build_world(root: Path, secrets: list[Secret]) -> World:
    host = v2_systemd_host(root)
    pids = plant_processes(host, secrets)
    objects, logs = cluster_objects(secrets)
    source = StaticSource.from_objects(objects, logs=logs)
    skills = [*node_skills(host.paths), *cluster_skills(source, NAMESPACE)]
    return World(secrets, skills, pids, host.proc)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path, SECRETS)


# --------------------------------------------------------------------------- the runs


def every_tool_call(world: World) -> list[tuple[str, dict[str, Any]]]:
    """call_skill for every tool of every skill, aimed at where the secrets are."""
    aimed: dict[tuple[str, str], list[dict[str, Any]]] = {
        ("processes", "process"): [{"pid": pid, "include_environment": True}
                                   for pid in world.pids],
        ("processes", "open_files"): [{"pid": pid} for pid in world.pids],
        ("processes", "top"): [{"by": "memory", "limit": 50}, {"by": "open_files"}],
        ("pods", "describe_pod"): [{"name": POD}],
        ("pods", "list_pods"): [{}],
        ("logs", "tail"): [{"pod": POD, "lines": 500}, {"pod": POD, "previous": True}],
        ("logs", "grep"): [{"pod": POD, "pattern": "password|token|key|secret|bearer|BEGIN"}],
        ("events", "for_object"): [{"kind": "Pod", "name": POD}],
        ("events", "by_reason"): [{"reason": "Failed"}, {"reason": "Unhealthy"}],
        ("events", "warnings"): [{"limit": 100}],
        ("containers", "pod"): [{"uid": POD_UID}],
        ("containers", "cgroup"): [{"path": "kubepods.slice"}],
        ("nodes", "describe_node"): [{"name": "node-1"}],
        ("nodes", "pods_on_node"): [{"name": "node-1"}],
        ("workloads", "rollout_status"): [{"kind": "Deployment", "name": "checkout"}],
        ("os", "disk_usage"): [{"mount": "/"}],
    }
    calls = []
    for skill in world.skills:
        for tool in skill.tools:
            for arguments in aimed.get((skill.name, tool), [{}]):
                calls.append(("call_skill", {"skill": skill.name, "tool": tool,
                                             "arguments": arguments}))
    return calls


class Recording:
    """Wraps a model and keeps every conversation it was sent."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = model.name
        self.sent: list[list[Message]] = []

    async def complete(self, messages: list[Message], tools: list[ToolSchema],
                       evidence: Any = None) -> Completion:
        self.sent.append(json.loads(json.dumps(messages, default=str)))
        completion: Completion = await self.model.complete(messages, tools, evidence)
        return completion

    def count_tokens(self, messages: list[Message], tools: list[ToolSchema] | None = None) -> int:
        return int(self.model.count_tokens(messages, tools))


def assert_no_leaks(where: str, text: str) -> None:
    found = leaks(text)
    context = ""
    for secret in SECRETS:
        at = text.find(secret.value)
        if at >= 0:
            context = text[max(0, at - 300):at + 100]
            break
    assert not found, f"secrets leaked into {where}: {', '.join(found)}; e.g. …{context}…"


def our_logs(caplog: pytest.LogCaptureFixture) -> str:
    """What kubelens logged (litellm's own debug lines echo the model's words too)."""
    return "\n".join(record.getMessage() for record in caplog.records
                     if record.name.startswith("kubelens"))


def kubelens_messages(server: ScriptedLLM) -> list[dict[str, Any]]:
    """Every message kubelens wrote in the requests the model received. The model's own
    turns (its tool calls, echoed back as history) are its words, not kubelens's data."""
    return [message for request in server.requests for message in request["messages"]
            if message.get("role") != "assistant"]


def result_text(result: RunResult) -> str:
    return json.dumps(result.wire())


@pytest.mark.parametrize("part", range(3))
async def test_rule_based_investigation_leaks_no_secret(
        part: int, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A third of the secrets per run, so every answer fits the analyst's tool output cap
    # and it gets as far as writing insights (whose text is checked too).
    world = build_world(tmp_path, SECRETS[part::3])
    caplog.set_level(logging.DEBUG)
    model = Recording(AnalystModel())
    store, operators = world.ports(notifications=2)
    coordinator = Coordinator(model=model, store=store, operators=operators)
    result = await coordinator.run(investigation_context(world.secrets), RunOptions(timeout=60))
    assert result.outcome is RunOutcome.DONE, result.message
    assert result.insights, "the analyst found nothing to say about a crash-looping pod"
    assert {r.skill for r in result.operator_results} >= {"processes", "logs", "events", "pods"}
    assert_no_leaks("the conversation with the rule-based analyst", json.dumps(model.sent))
    assert_no_leaks("the run result", result_text(result))
    assert_no_leaks("the logs", our_logs(caplog))


async def test_llm_investigation_calling_every_tool_leaks_no_secret(
        world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    caplog.set_level(logging.DEBUG)
    tool_calls = every_tool_call(world)
    careless_insight = {
        "notification_ids": ["ntf-seeded-0"], "correlation_type": "causal",
        "summary": f"checkout fails to log in: {SECRETS[14].planted}",
        "root_cause_hypothesis": f"the app uses {SECRETS[8].planted} and {SECRETS[6].planted}",
        "evidence": [s.planted for s in SECRETS], "confidence": "medium",
    }
    script: Script = [
        call("invoke_operators", {}),
        call("get_notifications", {"status": "all"}),
        Turn(tool_calls=tool_calls),
        call("produce_insight", careless_insight),
        call("done"),
    ]
    with ScriptedLLM(script) as server:
        model = LiteLLMClient(model="openai/scripted", api_base=server.api_base,
                              api_key="sk-test", backoff=0.01)
        store, operators = world.ports(notifications=len(SECRETS))
        coordinator = Coordinator(model=model, store=store, operators=operators)
        result = await coordinator.run(investigation_context(SECRETS), RunOptions(timeout=60))
    assert result.outcome is RunOutcome.DONE, result.message
    answers = [a for a in server.tool_results(3) if a["name"] == "call_skill"]
    assert len(answers) == len(tool_calls)
    ok = [a for a in answers if a["status"] == "ok"]
    assert len(ok) >= len(tool_calls) // 2, answers  # the tools did read the planted data
    assert "[REDACTED]" in json.dumps(answers)
    assert_no_leaks("what kubelens sent the model", json.dumps(kubelens_messages(server)))
    assert_no_leaks("the run result", result_text(result))
    assert_no_leaks("the logs", our_logs(caplog))


def test_the_planted_world_really_holds_every_secret(world: World) -> None:
    """The other tests mean something only if the secrets are where they are said to be."""
    objects, logs = cluster_objects(SECRETS)
    raw = json.dumps(objects) + json.dumps(list(logs.values()))
    raw += json.dumps([n.wire() for n in seeded_notifications(SECRETS, 3)])
    raw += json.dumps(investigation_context(SECRETS))
    for pid in world.pids:
        proc = world.proc / str(pid)
        raw += (proc / "cmdline").read_bytes().decode() + (proc / "environ").read_bytes().decode()
    assert leaks(raw) == [secret.name for secret in SECRETS]
