"""pytest fixtures over the API emulator; load with ``pytest_plugins = ["tests.support.fixtures"]``.

Every fixture is function-scoped: each test gets its own emulator (it starts in a few
milliseconds), so tests never see each other's objects or watch events.

- ``emulator``: a running :class:`~tests.support.emulator.Emulator`, no CRDs.
- ``emulator_crds``: the repo's ``crds/*.yaml`` installed on ``emulator``; the CRD dicts.
- ``kube_namespace``: a fresh namespace's name (``test-xxxxxxxx``).
- ``kubeconfig``: a kubeconfig file for ``emulator`` whose context namespace is
  ``kube_namespace``.
- ``kube_client``: a ``kubernetes.client.ApiClient`` for ``emulator``.
- ``kubectl``: run the real kubectl against ``emulator`` (a :class:`Kubectl`).
- ``api_server``: a real kube-apiserver for the session (:mod:`tests.support.apiserver`).
- ``real_kube_env``: ``kube_env`` on that real server: a fresh namespace, the default
  kubeconfig pointed at it; ``.emulator`` offers the same test helpers.
- ``kube_env``: the usual bundle for operator tests: CRDs installed, a namespace, and
  the default kubeconfig pointed at the emulator (see :func:`point_clients_at`), so
  kopf's login and ``kubernetes.config.load_kube_config()`` find it.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.apiserver import (
    ApiServer,
    Unavailable,
    given_cluster,
    start_envtest,
    stop_envtest,
)
from tests.support.emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
CRDS_DIR = REPO / "crds"


def install_repo_crds(emulator: Emulator) -> list[dict[str, Any]]:
    """Install every CRD the project ships, so tests run against the real schemas."""
    installed: list[dict[str, Any]] = []
    for path in sorted(CRDS_DIR.glob("*.yaml")):
        installed.extend(emulator.register_crd(path))
    return installed


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as server:
        yield server


@pytest.fixture
def emulator_crds(emulator: Emulator) -> list[dict[str, Any]]:
    return install_repo_crds(emulator)


@pytest.fixture
def kube_namespace(emulator: Emulator) -> str:
    name = f"test-{uuid.uuid4().hex[:8]}"
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture
def kubeconfig(emulator: Emulator, kube_namespace: str, tmp_path: Path) -> Path:
    return emulator.kubeconfig(tmp_path / "kubeconfig", namespace=kube_namespace)


@pytest.fixture
def kube_client(emulator: Emulator) -> Iterator[Any]:
    kubernetes = pytest.importorskip("kubernetes")
    config = kubernetes.client.Configuration()
    config.host = emulator.url
    config.api_key = {"authorization": "emulator-admin-token"}
    config.api_key_prefix = {"authorization": "Bearer"}
    client = kubernetes.client.ApiClient(config)
    try:
        yield client
    finally:
        client.close()


@dataclass
class Kubectl:
    """The real kubectl, pointed at the emulator, with its own discovery cache."""

    kubeconfig: Path
    cache_dir: Path

    def __call__(self, *args: str, input: str | None = None, check: bool = True,
                 timeout: float = 30) -> subprocess.CompletedProcess[str]:
        binary = shutil.which("kubectl")
        if binary is None:
            pytest.skip("kubectl is not installed")
        result = subprocess.run(
            [binary, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args],
            input=input, capture_output=True, text=True, timeout=timeout, cwd=REPO)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}")
        return result


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path / "kubectl-cache")


@dataclass
class KubeEnv:
    emulator: Emulator | ApiServer
    namespace: str
    kubeconfig: Path

    @property
    def url(self) -> str:
        return self.emulator.url


@pytest.fixture
def kube_env(emulator: Emulator, emulator_crds: list[dict[str, Any]], kube_namespace: str,
             kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> KubeEnv:
    point_clients_at(kubeconfig, monkeypatch)
    return KubeEnv(emulator, kube_namespace, kubeconfig)


def point_clients_at(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make default logins (kopf's, ``kubernetes.config.load_kube_config()``) use ``kubeconfig``.

    Setting ``KUBECONFIG`` is not enough: the kubernetes client reads it once, at import,
    into ``KUBE_CONFIG_DEFAULT_LOCATION``, and kopf's login goes through that client.
    """
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    kube_config = pytest.importorskip("kubernetes.config.kube_config")
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    workdir = tmp_path_factory.mktemp("apiserver")
    given = given_cluster(workdir)
    if given is not None:
        given.install_crds()
        yield given
        return
    try:
        server = start_envtest(workdir)
    except Unavailable as exc:
        pytest.skip(str(exc))
    try:
        server.install_crds()
        yield server
    finally:
        stop_envtest(workdir)


@pytest.fixture
def real_kube_env(api_server: ApiServer, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeEnv]:
    namespace = api_server.new_namespace("test")
    kubeconfig = api_server.kubeconfig_for(tmp_path / "kubeconfig", namespace)
    point_clients_at(kubeconfig, monkeypatch)
    try:
        yield KubeEnv(api_server, namespace, kubeconfig)
    finally:
        api_server.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
