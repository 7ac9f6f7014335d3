"""The newcomer's path, as the README gives it: ``kubectl apply -f crds/``, ``kubelens
operator`` with no flags, ``kubectl apply -f examples/investigation.yaml``.

The operator runs as the real CLI in its own process. Each cluster holds only what the
user applied: the emulator starts without kopf's peering resources (the fixtures that
other operator tests use install them), so a missing peering CRD is met here as a user
meets it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.emulator import Emulator
from tests.support.fixtures import CRDS_DIR, REPO, Kubectl
from tests.support.processes import free_port, stop

KUBELENS_CRDS = ("investigation.yaml", "notification.yaml")




class Cluster:
    def __init__(self, emulator: Emulator, tmp_path: Path) -> None:
        self.emulator = emulator
        self.namespace = "shop"
        emulator.create({"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": self.namespace}})
        self.kubeconfig = emulator.kubeconfig(tmp_path / "kubeconfig", namespace=self.namespace)
        self.kubectl = Kubectl(self.kubeconfig, tmp_path / "kubectl-cache")
        self.log = tmp_path / "operator.log"

    def start_operator(self, *flags: str) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBELENS_HEALTH_PORT": str(free_port()),
            "KUBELENS_METRICS_PORT": "0",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        env.pop("KUBELENS_STANDALONE", None)
        return subprocess.Popen(
            [sys.executable, "-m", "kubelens", "operator", *flags],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"), text=True)

    def stderr(self) -> str:
        return self.log.read_text()

    def phase(self, name: str) -> str | None:
        found = self.emulator.get("investigations", name, self.namespace)
        return ((found or {}).get("status") or {}).get("phase")

    def wait_phase(self, name: str, timeout: float = 60) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.phase(name) in ("Succeeded", "Failed", "Cancelled"):
                break
            time.sleep(0.2)
        return self.phase(name)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Emulator(kopf_peerings=False) as emulator:
        yield Cluster(emulator, tmp_path)




def test_kubectl_apply_crds_then_a_flagless_operator_joins_peering_and_succeeds(
    cluster: Cluster,
) -> None:
    cluster.kubectl("apply", "-f", "crds/")  # every CRD the operator needs, peering included
    operator = cluster.start_operator()
    try:
        cluster.kubectl("apply", "-n", cluster.namespace, "-f", "examples/investigation.yaml")
        assert cluster.wait_phase("checkout-restarts") == "Succeeded", cluster.stderr()
        peering = cluster.emulator.get("clusterkopfpeerings", "kubelens")
        assert peering is not None, "the operator creates its peering object"
        assert peering.get("status"), "and announces itself there while it runs"
    finally:
        stop(operator)
    assert "standalone" not in cluster.stderr()



def test_without_kopfs_peering_crd_the_operator_runs_standalone_and_says_so_once(
    cluster: Cluster,
) -> None:
    for name in KUBELENS_CRDS:  # a cluster where only kubelens's own CRDs were applied
        cluster.kubectl("apply", "-f", str(CRDS_DIR / name))
    operator = cluster.start_operator()
    try:
        cluster.kubectl("apply", "-n", cluster.namespace, "-f", "examples/investigation.yaml")
        assert cluster.wait_phase("checkout-restarts") == "Succeeded", cluster.stderr()
    finally:
        stop(operator)
    warnings = [line for line in cluster.stderr().splitlines() if "running standalone" in line]
    assert len(warnings) == 1, cluster.stderr()
    assert "kubectl apply -f crds/" in warnings[0]


def test_standalone_always_works_even_with_peering_installed(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "crds/")
    operator = cluster.start_operator("--standalone")
    try:
        cluster.kubectl("apply", "-n", cluster.namespace, "-f", "examples/investigation.yaml")
        assert cluster.wait_phase("checkout-restarts") == "Succeeded", cluster.stderr()
    finally:
        stop(operator)
    assert cluster.emulator.get("clusterkopfpeerings", "kubelens") is None


def test_an_operator_that_cannot_serve_says_why_in_one_line_and_keeps_running(
    cluster: Cluster,
) -> None:
    operator = cluster.start_operator()  # no CRD applied at all
    try:
        deadline = time.monotonic() + 20
        while "is not installed" not in cluster.stderr() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "the Investigation CRD (investigations.kubelens.io) is not installed" in (
            cluster.stderr())
        time.sleep(1)
        assert operator.poll() is None, "it keeps waiting for the CRD instead of exiting"
    finally:
        stop(operator)
