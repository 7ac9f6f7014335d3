"""The same operator against a real cluster: set KUBELENS_TEST_KUBECONFIG to run.

    KUBELENS_TEST_KUBECONFIG=~/.kube/kind-config pytest -m cluster tests/cluster

Needs rights to install CRDs and create a namespace (a kind or minikube cluster is
fine). It installs crds/*.yaml, runs the operator in this process against a fresh
namespace, and deletes the namespace afterwards. Nothing here needs a model key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

KUBECONFIG = os.environ.get("KUBELENS_TEST_KUBECONFIG", "")
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not KUBECONFIG, reason="no real cluster: set KUBELENS_TEST_KUBECONFIG"),
]


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("kubectl")
    assert binary, "kubectl is needed for the real-cluster tier"
    return subprocess.run([binary, f"--kubeconfig={KUBECONFIG}", *args], capture_output=True,
                          text=True, timeout=120, check=check)


@pytest.fixture
def namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    kubectl("apply", "-f", str(REPO / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/investigations.kubelens.io",
            "crd/notifications.kubelens.io", "--timeout=60s")
    name = f"kubelens-test-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    monkeypatch.setenv("KUBECONFIG", KUBECONFIG)
    monkeypatch.setenv("KUBELENS_KUBECONFIG", KUBECONFIG)
    monkeypatch.setenv("KUBELENS_NAMESPACE", name)
    monkeypatch.setenv("KUBELENS_METRICS_PORT", "0")
    monkeypatch.delenv("KUBELENS_MODEL", raising=False)
    try:
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=false", check=False)


def get(namespace: str, name: str) -> dict[str, Any]:
    import json

    done = kubectl("get", "investigation", name, "-n", namespace, "-o", "json")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_invalid_spec_is_refused_by_the_real_api_server(namespace: str) -> None:
    manifest = ("apiVersion: kubelens.io/v1alpha1\nkind: Investigation\nmetadata:\n"
                "  name: too-many\nspec:\n  reason: x\n  maxIterations: 500\n")
    done = subprocess.run(
        [shutil.which("kubectl") or "kubectl", f"--kubeconfig={KUBECONFIG}", "apply", "-n",
         namespace, "-f", "-"], input=manifest, capture_output=True, text=True, timeout=60,
        check=False)
    assert done.returncode != 0
    assert "spec.maxIterations" in done.stderr


def test_operator_investigates_a_crashing_pod_on_a_real_cluster(namespace: str) -> None:
    from kopf.testing import KopfRunner

    kubectl("run", "crasher", "-n", namespace, "--image=busybox:1.36", "--restart=Always",
            "--", "sh", "-c", "echo 'fatal: cannot open /config/app.yaml'; exit 3")
    with KopfRunner(["run", "-m", "kubelens.operator.handlers", "--standalone",
                     f"--namespace={namespace}"], timeout=300):
        kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "investigation.yaml"))
        name = kubectl("get", "investigations", "-n", namespace, "-o",
                       "jsonpath={.items[0].metadata.name}").stdout
        deadline = time.monotonic() + 240
        phase = ""
        while time.monotonic() < deadline:
            phase = get(namespace, name).get("status", {}).get("phase", "")
            if phase in ("Succeeded", "Failed", "Cancelled"):
                break
            time.sleep(2)
    status = get(namespace, name)["status"]
    assert phase == "Succeeded", status.get("message")
    assert {r["skill"] for r in status["operatorResults"]} >= {"pods", "events"}
    table = kubectl("get", "investigations", "-n", namespace).stdout
    assert "Succeeded" in table
    events = kubectl("get", "events", "-n", namespace,
                     f"--field-selector=involvedObject.name={name}").stdout
    assert "Started" in events
