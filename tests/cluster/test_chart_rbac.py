"""The chart installed for real, each part running with its own ServiceAccount's token.

`helm install` into the real API server creates the chart's ServiceAccounts and RBAC;
TokenRequest gives each account a token, and the operator, the webhook and an agent run
as the real CLI with only that token, so every call they make is authorized by the
chart's roles and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.chart.test_chart import helm
from tests.cluster.test_real_api_server import finished, free_port, start_operator, stop
from tests.integration.agent_helpers import GaugeSkill
from tests.support.apiserver import REPO, ApiServer

from kubelens.agent.kubeapi import KubeApi
from kubelens.agent.pods import PodDirectory
from kubelens.agent.scheduler import Agent
from kubelens.detection import AnomalyDetector, DetectorSettings
from kubelens.webhook.server import PATH

pytestmark = pytest.mark.cluster

RELEASE = "kubelens"
#: Writes a part may make: its own kinds, Events, kopf's peering, leases, and the reviews
#: every authenticated user may post about itself.
ALLOWED_WRITES = {
    "investigations.kubelens.io", "investigations.kubelens.io/status",
    "notifications.kubelens.io", "notifications.kubelens.io/status",
    "events", "events.events.k8s.io", "clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev",
    "leases.coordination.k8s.io", "tokenreviews.authentication.k8s.io",
    "selfsubjectaccessreviews.authorization.k8s.io", "selfsubjectrulesreviews.authorization.k8s.io",
    "selfsubjectreviews.authentication.k8s.io",
}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}


@dataclass
class Release:
    api: ApiServer
    namespace: str
    workdir: Path

    def account(self, part: str) -> str:
        return f"{RELEASE}-{part}"

    def kubeconfig(self, part: str) -> Path:
        return self.api.service_account_kubeconfig(
            self.namespace, self.account(part), self.workdir / f"{part}.kubeconfig")

    def token(self, part: str, audience: str) -> str:
        return self.api.kubectl("create", "token", self.account(part), "-n", self.namespace,
                                f"--audience={audience}").stdout.strip()


@pytest.fixture
def release(api_server: ApiServer, tmp_path: Path) -> Iterator[Release]:
    namespace = api_server.new_namespace("kubelens-system")
    # The chart owns the peering object; one left by an operator run elsewhere would clash.
    api_server.kubectl("delete", "clusterkopfpeering", RELEASE, "--ignore-not-found")
    installed = subprocess.run(
        [helm(), "install", RELEASE, str(REPO / "charts" / "kubelens"), "-n", namespace,
         f"--kubeconfig={api_server.kubeconfig}", "--skip-crds"],
        capture_output=True, text=True, timeout=120, check=False)
    assert installed.returncode == 0, installed.stderr
    try:
        yield Release(api_server, namespace, tmp_path)
    finally:
        subprocess.run([helm(), "uninstall", RELEASE, "-n", namespace,
                        f"--kubeconfig={api_server.kubeconfig}"],
                       capture_output=True, timeout=120, check=False)


def grants(api: ApiServer, kubeconfig: Path, namespace: str) -> dict[str, set[str]]:
    """``kubectl auth can-i --list`` as that account: resource -> verbs."""
    table = api.kubectl("auth", "can-i", "--list", "-n", namespace,
                        kubeconfig=kubeconfig).stdout.splitlines()[1:]
    found: dict[str, set[str]] = {}
    for line in table:
        resource, _, verbs = line.partition(" ")
        if not resource.startswith("/") and "[" in verbs:
            found.setdefault(resource, set()).update(verbs.rsplit("[", 1)[1].strip("] ").split())
    return found


@pytest.mark.parametrize("part", ["operator", "webhook", "agent"])
def test_no_part_can_read_secrets_or_write_outside_its_kinds(release: Release,
                                                            part: str) -> None:
    kubeconfig = release.kubeconfig(part)
    listed = grants(release.api, kubeconfig, release.namespace)
    assert not [r for r in listed if r.startswith("secrets")], listed
    writes = {r for r, verbs in listed.items() if verbs & WRITE_VERBS}
    assert writes <= ALLOWED_WRITES, writes - ALLOWED_WRITES
    for verb in ("get", "list", "watch"):
        answer = release.api.kubectl("auth", "can-i", verb, "secrets", "--all-namespaces",
                                     kubeconfig=kubeconfig, check=False).stdout.strip()
        assert answer == "no", f"{part} may {verb} secrets"


def test_the_operator_runs_an_investigation_with_its_own_permissions(
        release: Release, tmp_path: Path) -> None:
    workload = release.api.new_namespace("shop")
    log = tmp_path / "operator.log"
    operator = start_operator(release.kubeconfig("operator"), log)
    try:
        release.api.kubectl("apply", "-n", workload, "-f", "examples/investigation.yaml")
        found = release.api.wait_for("investigations", "checkout-restarts", workload, finished,
                                     timeout=90)
    finally:
        stop(operator)
    status = (found or {}).get("status") or {}
    assert status.get("phase") == "Succeeded", (status, log.read_text()[-3000:])
    errors = [r for r in status["operatorResults"] if r.get("status") == "error"
              and "forbidden" in str(r).lower()]
    assert errors == [], "the chart's role covers every read the cluster skills make"
    assert "Forbidden" not in log.read_text()


def start(part: str, kubeconfig: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    environ = {**os.environ, "KUBECONFIG": str(kubeconfig), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
               "KUBELENS_METRICS_PORT": "0", **env}
    return subprocess.Popen([sys.executable, "-m", "kubelens", part], env=environ, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)


def request(url: str, token: str = "", body: Any = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers),
                                    timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def wait_healthy(url: str, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            if request(url) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered: {log.read_text()[-2000:]}")


def test_the_webhook_opens_investigations_with_its_own_permissions(release: Release,
                                                                   tmp_path: Path) -> None:
    workload = release.api.new_namespace("shop")
    port, log = free_port(), tmp_path / "webhook.log"
    webhook = start("webhook", release.kubeconfig("webhook"), log, {
        "KUBELENS_WEBHOOK_PORT": str(port), "KUBELENS_WEBHOOK_TOKEN": "alertmanager-secret",
        "KUBELENS_WEBHOOK_DEFAULT_NAMESPACE": workload})
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", webhook, log)
        payload = json.loads((REPO / "tests/fixtures/alertmanager/firing.json").read_text())
        for alert in payload["alerts"]:
            alert["labels"]["namespace"] = workload
        payload["commonLabels"]["namespace"] = workload
        payload["groupLabels"].pop("namespace", None)
        answer = request(f"http://127.0.0.1:{port}{PATH}", "alertmanager-secret", payload)
        assert answer in (200, 201, 202), log.read_text()[-2000:]
        assert request(f"http://127.0.0.1:{port}{PATH}", "wrong", payload) == 401
    finally:
        stop(webhook)
    opened = release.api.list("investigations", workload)
    assert len(opened) == 1, log.read_text()[-2000:]
    assert opened[0]["spec"]["reason"]


def test_the_agent_accepts_only_the_operators_token(
        release: Release, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "agent.log"
    agent = start("agent", release.kubeconfig("agent"), log, {
        "NODE_NAME": "node-a", "KUBELENS_AGENT_PORT": str(port), "KUBELENS_AGENT_INTERVAL": "3600",
        "KUBELENS_OPERATOR_SERVICE_ACCOUNT":
            f"system:serviceaccount:{release.namespace}:{release.account('operator')}"})
    skills = f"http://127.0.0.1:{port}/v1/skills"
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", agent, log)
        assert request(skills, release.token("operator", "kubelens-agent")) == 200
        assert request(skills, release.token("webhook", "kubelens-agent")) == 403
        assert request(skills, release.token("operator", "https://kubernetes.default.svc"
                                             ".cluster.local")) == 401
        assert request(skills) == 401
    finally:
        stop(agent)


async def test_the_agents_schedule_writes_notifications_with_its_own_permissions(
        release: Release) -> None:
    api = KubeApi.from_kubeconfig(release.kubeconfig("agent"))
    gauge = GaugeSkill()
    gauge.set("disk", 97.0)
    agent = Agent(node="node-a", namespace=release.namespace, skills=[gauge], api=api,
                  detector=AnomalyDetector(node="node-a", settings=DetectorSettings(cooldown=0)),
                  pods=PodDirectory(api, "node-a"))
    try:
        for _ in range(2):
            report = await agent.cycle()
            assert not report.errors, report.errors
    finally:
        await agent.close()
    [written] = release.api.list("notifications", release.namespace)
    assert written["status"]["state"] == "Unread" and written["status"]["count"] == 2
    assert "disk gauge is at 97" in written["spec"]["observation"]
