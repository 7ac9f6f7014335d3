"""kubectl and the operator against a real kube-apiserver (envtest, or a cluster you name).

What the real server enforces and an emulator may not: the CRDs' structural-schema rules,
`kubectl explain` from the published OpenAPI, printer columns, schema validation messages,
the ServiceAccount admission of pods, and the status subresource.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.apiserver import REPO, ApiServer
from tests.support.processes import free_port, stop

pytestmark = pytest.mark.cluster


def test_explain_prints_the_fields_description(api_server: ApiServer) -> None:
    done = api_server.kubectl("explain", "investigation.spec.maxIterations")
    assert "Most turns of the coordinator's tool loop" in done.stdout


def test_get_investigations_prints_the_printer_columns(api_server: ApiServer,
                                                       namespace: str) -> None:
    api_server.kubectl("apply", "-n", namespace, "-f", "examples/investigation.yaml")
    header = api_server.kubectl("get", "investigations", "-n", namespace).stdout.splitlines()[0]
    assert header.split() == ["NAME", "PHASE", "INSIGHTS", "AGE"]
    header = api_server.kubectl("get", "notifications", "-n", namespace, "-o", "wide",
                                check=False)
    assert header.returncode == 0, header.stderr


def test_an_invalid_spec_is_refused_with_the_schemas_message(api_server: ApiServer,
                                                            namespace: str) -> None:
    manifest = ("apiVersion: kubelens.io/v1alpha1\nkind: Investigation\nmetadata:\n"
                "  name: too-many\nspec:\n  reason: x\n  maxIterations: 500\n")
    done = api_server.kubectl("apply", "-n", namespace, "-f", "-", input=manifest, check=False)
    assert done.returncode != 0
    assert "spec.maxIterations" in done.stderr
    assert "less than or equal to 200" in done.stderr
    assert api_server.get("investigations", "too-many", namespace) is None




def start_operator(kubeconfig: Path, log: Path, *flags: str,
                   env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``kubelens operator`` as a user starts it: its own process, a kubeconfig, no model."""
    environ = {**os.environ, "KUBECONFIG": str(kubeconfig), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
               "KUBELENS_HEALTH_PORT": str(free_port()), "KUBELENS_METRICS_PORT": "0",
               **(env or {})}
    for name in ("KUBELENS_STANDALONE", "KUBELENS_MODEL", "KUBELENS_NAMESPACE"):
        if env is None or name not in env:
            environ.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "kubelens", "operator", *flags], env=environ,
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)




def finished(found: dict[str, Any] | None) -> bool:
    return ((found or {}).get("status") or {}).get("phase") in ("Succeeded", "Failed", "Cancelled")


def crash_looping_pod(api_server: ApiServer, namespace: str, name: str) -> None:
    """A pod bound to a node, its status written as the kubelet writes it (no kubelet here)."""
    api_server.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"}})
    api_server.apply({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"nodeName": "node-a", "containers": [
            {"name": "app", "image": "registry.example/checkout:1.4.2"}]},
    }, namespace=namespace)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [{
            "name": "app", "image": "registry.example/checkout:1.4.2", "imageID": "",
            "ready": False, "restartCount": 7, "started": False,
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": "back-off 5m0s restarting failed container=app"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                         "startedAt": now, "finishedAt": now}}}]}}
    import json

    api_server.kubectl("patch", "pod", name, "-n", namespace, "--subresource=status",
                       "--type=merge", "-p", json.dumps(status))


@pytest.fixture
def operator_log(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "operator.log"
    yield log


def test_a_flagless_operator_investigates_a_crash_looping_pod(
        api_server: ApiServer, namespace: str, operator_log: Path) -> None:
    crash_looping_pod(api_server, namespace, "checkout-7d9f")
    operator = start_operator(api_server.kubeconfig, operator_log)
    try:
        api_server.kubectl("apply", "-n", namespace, "-f", "examples/investigation.yaml")
        found = api_server.wait_for("investigations", "checkout-restarts", namespace, finished,
                                    timeout=90)
    finally:
        stop(operator)
    status = (found or {}).get("status") or {}
    assert status.get("phase") == "Succeeded", (status, operator_log.read_text()[-2000:])
    assert {r["skill"] for r in status["operatorResults"]} >= {"pods", "events"}
    cited = " ".join(str(insight) for insight in status.get("insights", []))
    assert "checkout-7d9f" in cited, status.get("insights")
    table = api_server.kubectl("get", "investigations", "-n", namespace).stdout
    assert "Succeeded" in table
    events = api_server.kubectl("get", "events", "-n", namespace,
                                "--field-selector=involvedObject.name=checkout-restarts").stdout
    assert "Started" in events


def test_operator_investigates_a_pod_that_really_crashes(
        api_server: ApiServer, namespace: str, operator_log: Path) -> None:
    if api_server.envtest:
        pytest.skip("needs a kubelet to run busybox: set KUBELENS_TEST_KUBECONFIG to a cluster")
    api_server.kubectl("run", "crasher", "-n", namespace, "--image=busybox:1.36",
                       "--restart=Always", "--", "sh", "-c",
                       "echo 'fatal: cannot open /config/app.yaml'; exit 3")
    operator = start_operator(api_server.kubeconfig, operator_log, "--standalone",
                              f"--namespace={namespace}")
    try:
        time.sleep(20)  # a few restarts
        api_server.kubectl("apply", "-n", namespace, "-f", "examples/investigation.yaml")
        found = api_server.wait_for("investigations", "checkout-restarts", namespace, finished,
                                    timeout=240)
    finally:
        stop(operator)
    status = (found or {}).get("status") or {}
    assert status.get("phase") == "Succeeded", status.get("message")
    assert "crasher" in " ".join(str(insight) for insight in status.get("insights", []))
