"""The Alertmanager webhook receiver over real HTTP, against the API emulator.

Payloads are Alertmanager's own format (tests/fixtures/alertmanager/*.json); the
emulator validates every Investigation against crds/investigation.yaml, so what the
receiver writes is what a real API server would accept.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client as kube
from prometheus_client import REGISTRY

from kubelens.config import Settings
from kubelens.kube import CustomObjects, KubeError
from kubelens.resources import ANNOTATION_CANCEL_IF_PENDING as CANCEL_IF_PENDING
from kubelens.webhook.investigations import ANNOTATION_RESOLVED_AT, group_hash
from kubelens.webhook.server import Credentials, WebhookConfigError, build_app, serve
from kubelens.webhook.service import (
    AlertGroups,
    InvestigationStore,
    KubeInvestigations,
    WebhookLimits,
)
from tests.support.emulator import Emulator
from tests.support.processes import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager"
REPO = Path(__file__).resolve().parents[2]
TOKEN = "am-token-3f9c2e71"
BASIC = "alertmanager:s3cret-pass"
BEARER = f"Bearer {TOKEN}"
API = "/apis/kubelens.io"


def payload(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def basic(user_password: str) -> str:
    return "Basic " + base64.b64encode(user_password.encode()).decode()


def metric(outcome: str) -> float:
    value = REGISTRY.get_sample_value("kubelens_webhook_alerts_total", {"outcome": outcome})
    return value or 0.0


def api_client(url: str) -> Any:  # the client is untyped
    configuration = kube.Configuration()
    configuration.host = url
    configuration.api_key = {"authorization": "emulator-admin-token"}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    return kube.ApiClient(configuration)


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any


@dataclass
class Receiver:
    """A running receiver and the emulator behind it."""

    base: str
    emulator: Emulator
    groups: AlertGroups
    session: aiohttp.ClientSession

    async def post(self, body: Any, authorization: str | None = BEARER,
                   path: str = "/alertmanager", method: str = "POST",
                   headers: dict[str, str] | None = None) -> Answer:
        data = json.dumps(body) if isinstance(body, dict | list) else body
        sent = dict(headers or {})
        if authorization is not None:
            sent["Authorization"] = authorization
        async with self.session.request(method, self.base + path, data=data,
                                        headers=sent) as response:
            text = await response.text()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            return Answer(response.status, parsed, response.headers)

    def investigations(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.emulator.list("investigations", namespace)

    def investigation(self, name: str, namespace: str = "shop") -> dict[str, Any]:
        found = self.emulator.get("investigations", name, namespace)
        assert found is not None, f"no Investigation {namespace}/{name}"
        return found

    def set_phase(self, name: str, phase: str, namespace: str = "shop") -> None:
        self.emulator.patch("investigations", name, {"status": {"phase": phase}}, namespace,
                            subresource="status")

    def writes(self) -> int:
        return len([r for r in self.emulator.requests_to(path_prefix=API)
                    if r.method in ("POST", "PATCH", "PUT", "DELETE")])


StartReceiver = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def start_receiver(emulator: Emulator, emulator_crds: Any,
                         kube_client: kube.ApiClient) -> AsyncIterator[StartReceiver]:
    for namespace in ("shop", "payments"):
        emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    runners: list[web.AppRunner] = []
    session = aiohttp.ClientSession()

    async def start(limits: WebhookLimits | None = None,
                    credentials: Credentials = Credentials(TOKEN.encode(), BASIC.encode()),
                    api: kube.ApiClient | None = None,
                    store: InvestigationStore | None = None) -> Receiver:
        store = store or KubeInvestigations(CustomObjects(api or kube_client))
        groups = AlertGroups(store, "default", limits)
        runner = web.AppRunner(build_app(credentials, groups), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return Receiver(f"http://127.0.0.1:{port}", emulator, groups, session)

    yield start
    await session.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def receiver(start_receiver: StartReceiver) -> Receiver:
    return await start_receiver()


FIRING_NAME = "alert-" + group_hash(payload("firing")["groupKey"])


# --- grouping -----------------------------------------------------------------------


async def test_firing_group_opens_one_investigation(receiver: Receiver) -> None:
    answer = await receiver.post(payload("firing"))

    assert answer.status == 202
    assert answer.body == {"investigation": FIRING_NAME, "namespace": "shop",
                           "action": "created"}
    found = receiver.investigation(FIRING_NAME)
    assert found["metadata"]["labels"]["kubelens.io/alert-group"] == FIRING_NAME[6:]
    assert found["spec"]["reason"] == "KubePodCrashLooping: Pod is crash looping."
    context = found["spec"]["context"]
    assert context["source"] == "alertmanager" and context["status"] == "firing"
    assert context["alertGroup"]["externalURL"] == "http://alertmanager.monitoring.svc:9093"
    [alert] = context["alerts"]
    assert alert["fingerprint"] == "5c8e2a7f19b3d640"
    assert alert["labels"]["pod"] == "checkout-7d9f8c6b5-x2k4q"
    assert alert["startsAt"].startswith("2025-01-14T09:12:41.501")
    assert "endsAt" not in alert  # Alertmanager's zero time means "still firing"
    assert alert["generatorURL"].startswith("http://prometheus.monitoring.svc:9090/graph")
    # Annotations are untrusted and may carry secrets: redacted before they are stored.
    assert "s3cr3t-pass" not in json.dumps(found)
    assert alert["annotations"]["runbook_url"] == (
        "https://deploy:[REDACTED]@runbooks.example.com/KubePodCrashLooping")


async def test_repeat_merges_new_alerts_into_the_same_investigation(receiver: Receiver) -> None:
    await receiver.post(payload("firing"))
    answer = await receiver.post(payload("repeat"))

    assert answer.status == 202
    assert answer.body == {"investigation": FIRING_NAME, "namespace": "shop",
                           "action": "updated"}
    assert len(receiver.investigations()) == 1
    alerts = receiver.investigation(FIRING_NAME)["spec"]["context"]["alerts"]
    assert [a["fingerprint"] for a in alerts] == ["5c8e2a7f19b3d640", "a1f04d6e88c27b19"]
    assert "hunter2" not in json.dumps(alerts)

    # The same notification again brings nothing new: answered without an API write.
    writes = receiver.writes()
    again = await receiver.post(payload("repeat"))
    assert again.body["action"] == "updated"
    assert receiver.writes() == writes


async def test_resolved_group_cancels_a_pending_investigation(receiver: Receiver) -> None:
    await receiver.post(payload("firing"))
    receiver.set_phase(FIRING_NAME, "Pending")

    answer = await receiver.post(payload("resolved"))

    assert answer.status == 202
    assert answer.body == {"investigation": FIRING_NAME, "namespace": "shop",
                           "action": "resolved"}
    found = receiver.investigation(FIRING_NAME)
    annotations = found["metadata"]["annotations"]
    assert ANNOTATION_RESOLVED_AT in annotations
    # The operator (the only writer of status) cancels it on this annotation.
    assert "resolved before the investigation started" in annotations[CANCEL_IF_PENDING]
    assert found["status"]["phase"] == "Pending"
    assert {a["status"] for a in found["spec"]["context"]["alerts"]} == {"resolved"}
    assert found["spec"]["context"]["status"] == "resolved"


async def test_resolved_group_only_annotates_a_running_investigation(
        receiver: Receiver) -> None:
    await receiver.post(payload("firing"))
    receiver.set_phase(FIRING_NAME, "Running")

    answer = await receiver.post(payload("resolved"))

    assert answer.body["action"] == "resolved"
    found = receiver.investigation(FIRING_NAME)
    assert found["status"]["phase"] == "Running"
    assert ANNOTATION_RESOLVED_AT in found["metadata"]["annotations"]
    assert CANCEL_IF_PENDING not in found["metadata"]["annotations"]

    # The group fires again while the investigation still runs: merged, and no longer
    # marked resolved.
    again = await receiver.post(payload("repeat"))
    assert again.body["action"] == "updated"
    annotations = receiver.investigation(FIRING_NAME)["metadata"]["annotations"]
    assert ANNOTATION_RESOLVED_AT not in annotations


async def test_resolved_group_without_investigation_is_ignored(receiver: Receiver) -> None:
    answer = await receiver.post(payload("resolved"))

    assert answer.status == 202
    assert answer.body == {"investigation": None, "namespace": "shop", "action": "ignored"}
    assert receiver.investigations() == []


async def test_firing_after_the_investigation_finished_opens_the_next_one(
        receiver: Receiver) -> None:
    await receiver.post(payload("firing"))
    receiver.set_phase(FIRING_NAME, "Succeeded")

    # repeat.json brings a new alert: the write finds the object moved (409), re-reads it,
    # sees it finished, and opens the group's second Investigation.
    answer = await receiver.post(payload("repeat"))
    assert answer.body == {"investigation": f"{FIRING_NAME}-2", "namespace": "shop",
                           "action": "created"}
    assert receiver.investigation(FIRING_NAME)["status"]["phase"] == "Succeeded"
    second = receiver.investigation(f"{FIRING_NAME}-2")
    assert len(second["spec"]["context"]["alerts"]) == 2

    receiver.set_phase(f"{FIRING_NAME}-2", "Pending")
    assert (await receiver.post(payload("resolved"))).body["investigation"] == f"{FIRING_NAME}-2"
    assert CANCEL_IF_PENDING in receiver.investigation(f"{FIRING_NAME}-2")["metadata"][
        "annotations"]
    third = await receiver.post(payload("firing"))
    assert third.body == {"investigation": f"{FIRING_NAME}-3", "namespace": "shop",
                          "action": "created"}
    assert len(receiver.investigations("shop")) == 3


async def test_same_alerts_after_finish_open_the_next_one_once_the_cache_expires(
        start_receiver: StartReceiver) -> None:
    receiver = await start_receiver(WebhookLimits(cache_seconds=0))
    await receiver.post(payload("firing"))
    receiver.set_phase(FIRING_NAME, "Failed")

    answer = await receiver.post(payload("firing"))

    assert answer.body["investigation"] == f"{FIRING_NAME}-2"
    assert answer.body["action"] == "created"


async def test_several_groups_get_one_investigation_each(receiver: Receiver) -> None:
    answers = [await receiver.post(group) for group in payload("several-groups")]

    assert [a.status for a in answers] == [202, 202, 202]
    assert {(a.body["namespace"], a.body["action"]) for a in answers} == {
        ("shop", "created"), ("payments", "created"), ("default", "created")}
    assert len({a.body["investigation"] for a in answers}) == 3
    payments = receiver.investigations("payments")
    assert len(payments) == 1
    assert len(payments[0]["spec"]["context"]["alerts"]) == 2
    # The node alert has no namespace label: it goes to the default namespace.
    [node] = receiver.investigations("default")
    assert node["spec"]["reason"].startswith("NodeFilesystemAlmostOutOfSpace: ")


async def test_group_spanning_namespaces_goes_to_the_default_namespace(
        receiver: Receiver) -> None:
    answer = await receiver.post(payload("several-namespaces"))

    assert answer.body["namespace"] == "default"
    [found] = receiver.investigations("default")
    namespaces = {a["labels"]["namespace"] for a in found["spec"]["context"]["alerts"]}
    assert namespaces == {"shop", "payments"}


async def test_missing_namespace_falls_back_to_the_default(receiver: Receiver) -> None:
    body = payload("firing")
    body["commonLabels"]["namespace"] = "not-created-here"
    body["alerts"][0]["labels"]["namespace"] = "not-created-here"

    answer = await receiver.post(body)

    assert answer.status == 202
    assert answer.body["namespace"] == "default"


async def test_alerts_kept_per_investigation_are_bounded(receiver: Receiver) -> None:
    body = payload("firing")
    template = body["alerts"][0]
    body["alerts"] = []
    for i in range(60):
        alert = copy.deepcopy(template)
        alert["fingerprint"] = f"{i:016x}"
        alert["labels"]["pod"] = f"checkout-{i}"
        body["alerts"].append(alert)
    body["truncatedAlerts"] = 7

    await receiver.post(body)
    await receiver.post(body)  # the same set again: the count does not add up twice

    context = receiver.investigation(FIRING_NAME)["spec"]["context"]
    assert len(context["alerts"]) == 50
    assert context["alertsOmitted"] == 10 + 7


async def test_long_reason_is_cut_to_the_schema_limit(receiver: Receiver) -> None:
    body = payload("firing")
    body["commonAnnotations"]["summary"] = "x" * 5000

    assert (await receiver.post(body)).status == 202
    assert len(receiver.investigation(FIRING_NAME)["spec"]["reason"]) == 2000


# --- concurrency --------------------------------------------------------------------


def distinct_alerts(count: int) -> list[dict[str, Any]]:
    """``count`` notifications of the firing group, each bringing its own alert."""
    bodies = []
    for i in range(count):
        body = payload("firing")
        body["alerts"][0]["fingerprint"] = f"{i:016x}"
        body["alerts"][0]["labels"]["pod"] = f"checkout-{i}"
        bodies.append(body)
    return bodies


async def test_concurrent_notifications_of_one_group_make_exactly_one(
        receiver: Receiver) -> None:
    answers = await asyncio.gather(*(receiver.post(b) for b in distinct_alerts(20)))

    assert [a.status for a in answers] == [202] * 20
    assert sorted(a.body["action"] for a in answers) == ["created"] + ["updated"] * 19
    [found] = receiver.investigations()
    assert len(found["spec"]["context"]["alerts"]) == 20
    creates = receiver.emulator.requests_to("POST", API)
    assert len(creates) == 1
    # Batched: far fewer writes than notifications.
    assert receiver.writes() < 20


async def test_two_replicas_racing_on_one_group_make_exactly_one(
        start_receiver: StartReceiver) -> None:
    first, second = await start_receiver(), await start_receiver()
    bodies = distinct_alerts(20)

    answers = await asyncio.gather(*((first if i % 2 else second).post(body)
                                     for i, body in enumerate(bodies)))

    assert [a.status for a in answers] == [202] * 20
    [found] = first.investigations()
    # Every alert landed: merges carry the resourceVersion and redo on 409.
    assert len(found["spec"]["context"]["alerts"]) == 20


# --- authentication -----------------------------------------------------------------

BOTH = Credentials(TOKEN.encode(), BASIC.encode())
TOKEN_ONLY = Credentials(token=TOKEN.encode())
BASIC_ONLY = Credentials(basic=BASIC.encode())


@pytest.mark.parametrize(("credentials", "authorization", "status"), [
    (BOTH, None, 401),
    (BOTH, "Bearer wrong-token", 401),
    (BOTH, BEARER, 202),
    (BOTH, f"bearer {TOKEN}", 202),
    (BOTH, f"Token {TOKEN}", 401),
    (BOTH, f"Bearer {TOKEN}x", 401),
    (BOTH, basic(BASIC), 202),
    (BOTH, basic("alertmanager:wrong"), 401),
    (BOTH, "Basic !!!not-base64", 401),
    (BOTH, "", 401),
    (TOKEN_ONLY, basic(BASIC), 401),
    (TOKEN_ONLY, BEARER, 202),
    (BASIC_ONLY, BEARER, 401),
    (BASIC_ONLY, basic(BASIC), 202),
], ids=["none", "wrong-token", "token", "token-lowercase-scheme", "other-scheme",
        "token-prefix", "basic", "basic-wrong", "basic-garbage", "empty", "token-only-basic",
        "token-only-token", "basic-only-token", "basic-only-basic"])
async def test_authentication(start_receiver: StartReceiver, credentials: Credentials,
                              authorization: str | None, status: int) -> None:
    receiver = await start_receiver(credentials=credentials)
    rejected = metric("rejected")

    answer = await receiver.post(payload("firing"), authorization=authorization)

    assert answer.status == status
    if status == 401:
        challenges = answer.headers.getall("WWW-Authenticate")
        assert challenges and all('realm="kubelens"' in c for c in challenges)
        offered = {"Bearer"} if credentials.token else set()
        offered |= {"Basic"} if credentials.basic else set()
        assert {c.split()[0] for c in challenges} == offered
        assert answer.body == {"error": "missing or wrong credentials"}
        assert receiver.investigations() == []
        assert receiver.emulator.requests_to(path_prefix=API) == []
        assert metric("rejected") == rejected + 1
    else:
        assert answer.body["action"] == "created"


def test_refuses_to_start_without_credentials() -> None:
    with pytest.raises(WebhookConfigError, match="refusing to start without authentication"):
        Credentials.from_settings(Settings())
    with pytest.raises(WebhookConfigError, match="USER:PASSWORD"):
        Credentials.from_settings(Settings(webhook_basic_auth="no-colon"))
    with pytest.raises(SystemExit, match="KUBELENS_WEBHOOK_TOKEN"):
        asyncio.run(serve(Settings()))
    assert Credentials.from_settings(Settings(webhook_token=TOKEN)).token == TOKEN.encode()


async def test_health_and_metrics_need_no_credentials(receiver: Receiver) -> None:
    await receiver.post(payload("firing"))

    health = await receiver.post(None, authorization=None, path="/healthz", method="GET")
    assert (health.status, health.body) == (200, "ok")
    scraped = await receiver.post(None, authorization=None, path="/metrics", method="GET")
    assert scraped.status == 200
    assert 'kubelens_webhook_alerts_total{outcome="created"}' in scraped.body
    assert 'kubelens_webhook_requests_total{code="202"}' in scraped.body


# --- bad input ----------------------------------------------------------------------


def firing_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body: dict[str, Any] = payload("firing")
    change(body)
    return body


BAD_BODIES: list[tuple[str, Any, str]] = [
    ("truncated-json", b'{"version": "4", "alerts": [', "Invalid JSON"),
    ("empty-body", b"", "Invalid JSON"),
    ("binary", bytes(range(256)), "Invalid JSON"),
    ("not-an-object", [1, 2, 3], "Input should be"),
    ("version-3", firing_with(lambda b: b.update(version="3")), "version"),
    ("no-group-key", firing_with(lambda b: b.pop("groupKey")), "groupKey: Field required"),
    ("no-alerts", firing_with(lambda b: b.update(alerts=[])), "alerts: List should have"),
    ("bad-status", firing_with(lambda b: b.update(status="exploded")), "status: Input should be"),
    ("number-label", firing_with(lambda b: b["alerts"][0]["labels"].update(pod=5)),
     "alerts.0.labels.pod"),
    ("bad-time", firing_with(lambda b: b["alerts"][0].update(startsAt="yesterday")),
     "alerts.0.startsAt"),
    ("negative-truncated", firing_with(lambda b: b.update(truncatedAlerts=-1)),
     "truncatedAlerts"),
]


@pytest.mark.parametrize(("body", "mentions"), [(b, m) for _, b, m in BAD_BODIES],
                         ids=[name for name, _, _ in BAD_BODIES])
async def test_bad_payloads_are_refused_with_what_is_wrong(receiver: Receiver, body: Any,
                                                           mentions: str) -> None:
    answer = await receiver.post(body)

    assert answer.status == 400
    assert mentions in answer.body["error"]
    assert answer.body["error"].startswith("not an Alertmanager webhook payload (version 4): ")
    assert receiver.investigations() == []


async def test_body_over_the_limit_is_413(receiver: Receiver) -> None:
    big = payload("firing")
    big["commonAnnotations"]["description"] = "x" * (1024 * 1024)

    answer = await receiver.post(big)
    assert answer.status == 413
    assert "1048576-byte limit" in answer.body["error"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit still holds
        for _ in range(20):
            yield b" " * 100_000

    streamed = await receiver.post(chunks())
    assert streamed.status == 413
    assert receiver.investigations() == []


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/alertmanager/extra", 404),
    ("POST", "/", 404),
    ("GET", "/api/v2/alerts", 404),
    ("GET", "/alertmanager", 405),
    ("PUT", "/alertmanager", 405),
    ("POST", "/healthz", 405),
])
async def test_unknown_paths_and_methods(receiver: Receiver, method: str, path: str,
                                         status: int) -> None:
    answer = await receiver.post(payload("firing"), path=path, method=method)

    assert answer.status == status
    assert "error" in answer.body
    if status == 405:
        assert method in answer.body["error"]
        assert answer.headers["Allow"]
    assert receiver.investigations() == []


# --- load protection and API failures -------------------------------------------------


async def test_writes_beyond_the_bucket_are_refused_with_retry_after(
        start_receiver: StartReceiver) -> None:
    receiver = await start_receiver(
        WebhookLimits(writes_per_second=0.01, write_burst=2, max_write_wait=0))
    limited = metric("rate_limited")
    groups = payload("several-groups")

    answers = [await receiver.post(group) for group in groups]

    assert [a.status for a in answers] == [202, 202, 503]
    # 503, not 429: Alertmanager's webhook notifier retries 5xx answers only.
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert "rate limited" in answers[2].body["error"]
    assert len(receiver.investigations()) == 2
    assert metric("rate_limited") == limited + len(groups[2]["alerts"])
    # A repeat that changes nothing needs no write, so it is still answered.
    assert (await receiver.post(groups[0])).status == 202


async def test_a_short_wait_for_the_bucket_is_absorbed(start_receiver: StartReceiver) -> None:
    receiver = await start_receiver(
        WebhookLimits(writes_per_second=20, write_burst=1, max_write_wait=1.0))
    started = time.perf_counter()

    answers = await asyncio.gather(*(receiver.post(g) for g in payload("several-groups")))

    assert [a.status for a in answers] == [202, 202, 202]
    assert time.perf_counter() - started >= 0.09  # two writes waited a twentieth each


async def test_missing_crd_is_a_503_with_retry_after(start_receiver: StartReceiver) -> None:
    errors = metric("error")
    with Emulator() as bare:  # no CRDs installed: the API answers 404
        api = api_client(bare.url)
        try:
            receiver = await start_receiver(api=api)
            answer = await receiver.post(payload("firing"))
        finally:
            api.close()

    assert answer.status == 503
    assert answer.headers["Retry-After"] == "5"
    assert "the Kubernetes API failed" in answer.body["error"]
    assert metric("error") == errors + 1


async def test_unreachable_api_is_a_503(start_receiver: StartReceiver,
                                        caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    api = api_client(f"http://127.0.0.1:{closed_port}")
    try:
        receiver = await start_receiver(api=api)
        answer = await receiver.post(payload("firing"))
    finally:
        api.close()

    assert answer.status == 503
    assert "unreachable" in answer.body["error"]
    assert "answered 503" in caplog.text


# --- property: no input makes the receiver fail ---------------------------------------


class ThreadedReceiver:
    """The receiver on its own event loop thread, for synchronous (hypothesis) tests."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedReceiver:
        self._thread.start()
        self.api = api_client(self.emulator.url)
        future = asyncio.run_coroutine_threadsafe(self._start(), self.loop)
        future.result(10)
        return self

    async def _start(self) -> None:
        groups = AlertGroups(KubeInvestigations(CustomObjects(self.api)), "default",
                             WebhookLimits(write_burst=100_000, writes_per_second=100_000))
        self.runner = web.AppRunner(build_app(Credentials(TOKEN.encode()), groups),
                                    access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def post(self, body: bytes) -> tuple[int, Any]:
        async def send() -> tuple[int, Any]:
            async with aiohttp.ClientSession() as session, session.post(
                    f"http://127.0.0.1:{self.port}/alertmanager", data=body,
                    headers={"Authorization": BEARER}) as response:
                return response.status, await response.json(content_type=None)

        return asyncio.run_coroutine_threadsafe(send(), self.loop).result(30)

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
        self.api.close()


@pytest.fixture
def threaded_receiver(emulator: Emulator, emulator_crds: Any) -> Iterator[ThreadedReceiver]:
    with ThreadedReceiver(emulator) as running:
        yield running


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=25,
)
text = st.text(max_size=40)
label_maps = st.dictionaries(text, text, max_size=6)
alerts = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved"]), "labels": label_maps},
    optional={
        "annotations": label_maps,
        "startsAt": st.datetimes().map(lambda d: d.isoformat() + "Z"),
        "endsAt": st.just("0001-01-01T00:00:00Z"),
        "generatorURL": text,
        "fingerprint": st.text(alphabet="0123456789abcdef", max_size=16),
        "unknownField": json_values,
    })
valid_payloads = st.fixed_dictionaries(
    {"version": st.just("4"), "groupKey": st.text(min_size=1, max_size=80),
     "status": st.sampled_from(["firing", "resolved"]),
     "alerts": st.lists(alerts, min_size=1, max_size=5)},
    optional={"receiver": text, "groupLabels": label_maps, "commonLabels": label_maps,
              "commonAnnotations": label_maps, "externalURL": text,
              "truncatedAlerts": st.integers(min_value=0, max_value=2**64 - 1),
              "orgId": json_values})
FUZZ = settings(max_examples=int(os.environ.get("KUBELENS_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(body=json_values)
def test_any_json_gets_a_clean_4xx(threaded_receiver: ThreadedReceiver, body: Any) -> None:
    status, answer = threaded_receiver.post(json.dumps(body).encode())
    assert status == 400, answer
    assert "error" in answer


@FUZZ
@given(body=st.binary(max_size=300))
def test_any_bytes_get_a_clean_4xx(threaded_receiver: ThreadedReceiver, body: bytes) -> None:
    status, answer = threaded_receiver.post(body)
    assert status in (202, 400), answer


@FUZZ
@given(body=valid_payloads)
def test_any_valid_payload_is_accepted(threaded_receiver: ThreadedReceiver,
                                       body: dict[str, Any]) -> None:
    status, answer = threaded_receiver.post(json.dumps(body).encode())
    assert status == 202, answer
    assert answer["action"] in ("created", "updated", "resolved", "ignored")


@FUZZ
@given(data=st.data())
def test_any_mutation_of_a_real_payload_is_a_clean_answer(
        threaded_receiver: ThreadedReceiver, data: st.DataObject) -> None:
    body = payload(data.draw(st.sampled_from(["firing", "repeat", "resolved"])))
    target: Any = body
    for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
        if isinstance(target, dict) and target:
            key = data.draw(st.sampled_from(sorted(target)))
        elif isinstance(target, list) and target:
            key = data.draw(st.integers(min_value=0, max_value=len(target) - 1))
        else:
            break
        if not isinstance(target[key], dict | list):
            break
        target = target[key]
    if isinstance(target, dict) and target and data.draw(st.booleans()):
        del target[data.draw(st.sampled_from(sorted(target)))]
    elif isinstance(target, dict):
        target[data.draw(st.text(max_size=12))] = data.draw(json_values)
    elif isinstance(target, list) and target:
        target[data.draw(st.integers(min_value=0, max_value=len(target) - 1))] = data.draw(
            json_values)

    status, answer = threaded_receiver.post(json.dumps(body).encode())
    assert status in (202, 400), answer


# --- the real command ---------------------------------------------------------------




def webhook_command(port: int, kubeconfig: Path, token: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBELENS_")}
    env.update(KUBELENS_WEBHOOK_TOKEN=token, KUBELENS_LOG_LEVEL="info")
    return subprocess.Popen(
        [sys.executable, "-m", "kubelens", "webhook", f"--webhook-port={port}",
         f"--kubeconfig={kubeconfig}"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_kubelens_webhook_serves_until_sigterm(emulator: Emulator, emulator_crds: Any,
                                                     kubeconfig: Path) -> None:
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    port = free_port()
    process = webhook_command(port, kubeconfig, TOKEN)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as health:
                        if health.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with session.post(f"http://127.0.0.1:{port}/alertmanager",
                                    json=payload("firing"),
                                    headers={"Authorization": BEARER}) as response:
                assert response.status == 202
                assert (await response.json())["investigation"] == FIRING_NAME
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.to_thread(process.communicate, timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "SIGTERM" in stderr
    assert emulator.get("investigations", FIRING_NAME, "shop") is not None


def test_kubelens_webhook_without_credentials_will_not_start(kubeconfig: Path) -> None:
    process = webhook_command(free_port(), kubeconfig, token="")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "refusing to start without authentication" in stderr
    assert "Traceback" not in stderr


# --- a real Alertmanager (Debian's prometheus-alertmanager), when installed -----------

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


class FirstCreateFails(KubeInvestigations):
    """The API server fails the first create (an etcd hiccup), then recovers."""

    failures = 0

    async def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        if not self.failures:
            self.failures += 1
            raise KubeError("Kubernetes API 500: etcdserver: leader changed", 500)
        return await super().create(namespace, body)


@pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager is not installed")
async def test_real_alertmanager_is_retried_grouped_and_resolved(
        start_receiver: StartReceiver, kube_client: kube.ApiClient, tmp_path: Path) -> None:
    store = FirstCreateFails(CustomObjects(kube_client))
    receiver = await start_receiver(store=store)
    am_port = free_port()
    config = {
        "route": {"receiver": "kubelens", "group_by": ["alertname", "namespace"],
                  "group_wait": "100ms", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "kubelens", "webhook_configs": [{
            "url": f"{receiver.base}/alertmanager", "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}}}]}],
    }
    (tmp_path / "alertmanager.yml").write_text(json.dumps(config))
    assert ALERTMANAGER is not None
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={tmp_path / 'alertmanager.yml'}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{am_port}",
         "--cluster.listen-address=", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    api = f"http://127.0.0.1:{am_port}/api/v2"

    def alert(pod: str, ends: str | None = None) -> dict[str, Any]:
        labels = {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": pod}
        sent: dict[str, Any] = {"labels": labels, "generatorURL": "http://prometheus/graph",
                                "annotations": {"summary": "Pod is crash looping."}}
        if ends:
            sent["endsAt"] = ends
        return sent

    async def wait_for(predicate: Callable[[], bool], what: str) -> None:
        for _ in range(300):
            if predicate():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"{api}/status") as ready:
                        if ready.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with session.post(f"{api}/alerts", json=[alert("checkout-a")]) as posted:
                assert posted.status == 200

            # The first delivery hits the failing create: answered 503, and Alertmanager
            # (which retries 5xx only) delivers again.
            await wait_for(lambda: len(receiver.investigations("shop")) == 1, "the Investigation")
            assert store.failures == 1
            [found] = receiver.investigations("shop")
            name = found["metadata"]["name"]
            assert found["spec"]["reason"] == "KubePodCrashLooping: Pod is crash looping."
            receiver.set_phase(name, "Pending")

            async with session.post(f"{api}/alerts", json=[alert("checkout-b")]) as posted:
                assert posted.status == 200
            await wait_for(lambda: len(
                receiver.investigation(name)["spec"]["context"]["alerts"]) == 2, "the merge")

            ended = "2020-01-01T00:00:00Z"
            async with session.post(f"{api}/alerts", json=[alert("checkout-a", ended),
                                                           alert("checkout-b", ended)]) as posted:
                assert posted.status == 200
            await wait_for(lambda: CANCEL_IF_PENDING in (receiver.investigation(name)[
                "metadata"].get("annotations") or {}), "the cancellation request")
    finally:
        process.terminate()
        try:
            _, stderr = await asyncio.to_thread(process.communicate, timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    assert len(receiver.investigations()) == 1, stderr
    annotations = receiver.investigation(name)["metadata"]["annotations"]
    assert ANNOTATION_RESOLVED_AT in annotations
