"""A real Kubernetes API server for the integration tier: envtest, or a cluster you name.

``KUBELENS_TEST_KUBECONFIG=PATH`` points the tier at a real cluster. Without it, the
session starts ``scripts/envtest.sh`` (a real kube-apiserver and etcd on 127.0.0.1, built
once from the Go module proxy into a cache keyed by version) and stops it at the end.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ENVTEST = REPO / "scripts" / "envtest.sh"
COLD_BUILD_SECONDS = 1800


def crd_documents() -> list[dict[str, Any]]:
    """Every CustomResourceDefinition in crds/."""
    return [doc for path in sorted((REPO / "crds").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text())
            if doc and doc.get("kind") == "CustomResourceDefinition"]


class Unavailable(Exception):
    """No real API server can run here (said why, for a skip)."""


@dataclass
class ApiServer:
    """An API server with an admin kubeconfig; ``envtest`` says whether we started it."""

    kubeconfig: Path
    envtest: bool
    cache_dir: Path

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                kubeconfig: Path | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        binary = shutil.which("kubectl")
        if binary is None:
            raise AssertionError("kubectl is needed for the real API server tier")
        done = subprocess.run(
            [binary, f"--kubeconfig={kubeconfig or self.kubeconfig}",
             f"--cache-dir={self.cache_dir}", *args],
            input=input, capture_output=True, text=True, timeout=timeout, cwd=REPO)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout}{done.stderr}")
        return done

    def apply(self, *objects: dict[str, Any], namespace: str | None = None) -> None:
        args = ["apply", "-f", "-"] + ([f"--namespace={namespace}"] if namespace else [])
        self.kubectl(*args, input=yaml.safe_dump_all(objects))

    def install_crds(self) -> None:
        self.kubectl("apply", "-f", str(REPO / "crds"))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        # The server publishes a new CRD's OpenAPI (what explain reads) a moment later.
        deadline = time.monotonic() + 60
        while self.kubectl("explain", "investigation.spec", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise AssertionError("the Investigation schema never reached the OpenAPI")
            time.sleep(0.5)
        self.warm_watch_caches()

    def warm_watch_caches(self) -> None:
        """List every CRD's kind once, all at once. The server fills a new kind's watch
        cache on its first list (about a second here); an apiserver that has run for a
        while has done that long ago, so a test or bench must not meet it in its first
        Investigation."""
        paths = [f"/apis/{crd['spec']['group']}/{version['name']}/{crd['spec']['names']['plural']}"
                 for crd in crd_documents() for version in crd["spec"]["versions"]
                 if version.get("served", True)]
        with ThreadPoolExecutor(len(paths)) as pool:
            list(pool.map(lambda path: self.kubectl("get", "--raw", path), paths))

    def new_namespace(self, prefix: str = "kl") -> str:
        """A fresh namespace with its ``default`` ServiceAccount (no controller makes it here)."""
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.kubectl("create", "namespace", name)
        if self.envtest:
            self.kubectl("create", "serviceaccount", "default", "-n", name)
        return name

    def service_account_kubeconfig(self, namespace: str, account: str, path: Path) -> Path:
        """A kubeconfig holding the account's own token (TokenRequest), so RBAC applies."""
        token = self.kubectl("create", "token", account, "-n", namespace,
                             "--duration=2h").stdout.strip()
        config = yaml.safe_load(self.kubeconfig.read_text())
        config["users"] = [{"name": account, "user": {"token": token}}]
        for context in config["contexts"]:
            context["context"]["user"] = account
            context["context"]["namespace"] = namespace
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def wait_for(self, resource: str, name: str, namespace: str | None = None,
                 predicate: Any = lambda obj: obj is not None,
                 timeout: float = 60) -> dict[str, Any] | None:
        """Poll until ``predicate`` holds (it sees None while the object is absent)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.get(resource, name, namespace)
            if predicate(found):
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{resource} {namespace}/{name} never matched; last: {found}")
            time.sleep(0.1)

    # The emulator's test helpers, on the real server (tests written for one run on both).

    @functools.cached_property
    def dynamic(self) -> Any:
        from kubernetes import config, dynamic

        return dynamic.DynamicClient(config.new_client_from_config(str(self.kubeconfig)))

    def _resource(self, name: str, api_version: str | None = None) -> Any:
        if api_version:
            return self.dynamic.resources.get(api_version=api_version, kind=name)
        from kubernetes.dynamic.resource import ResourceList

        found = [r for r in self.dynamic.resources.search(name=name)
                 if not isinstance(r, ResourceList)]
        # The core group first, as kubectl does ("events" is also events.k8s.io's).
        found.sort(key=lambda r: r.group_version != "v1")
        if not found:
            raise LookupError(f"the API server serves no {name}")
        return found[0]



    def create(self, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        """Create an object; its status, which a create ignores, is written after."""
        res = self._resource(obj["kind"], obj.get("apiVersion", "v1"))
        namespace = namespace or (obj.get("metadata") or {}).get("namespace")
        body = {k: v for k, v in obj.items() if k != "status"}
        created: dict[str, Any] = res.create(body=body, namespace=namespace).to_dict()
        if obj.get("status"):
            created = self.patch(res.name, obj["metadata"]["name"], {"status": obj["status"]},
                                 namespace, subresource="status")
        return created

    def get(self, resource: str, name: str,
            namespace: str | None = None) -> dict[str, Any] | None:
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            found: dict[str, Any] = self._resource(resource).get(
                name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None
        return found

    def list(self, resource: str,
             namespace: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._resource(resource).get(
            namespace=namespace).to_dict()["items"]
        return items

    def patch(self, resource: str, name: str, patch: dict[str, Any],
              namespace: str | None = None, *, subresource: str | None = None) -> dict[str, Any]:
        res = self._resource(resource)
        if subresource:
            res = getattr(res, "subresources", {}).get(subresource) or res
        patched: dict[str, Any] = res.patch(
            name=name, namespace=namespace, body=patch,
            content_type="application/merge-patch+json").to_dict()
        return patched

    def delete(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        deleted: dict[str, Any] = self._resource(resource).delete(
            name=name, namespace=namespace).to_dict()
        return deleted

    def kubeconfig_for(self, path: Path, namespace: str) -> Path:
        """The admin kubeconfig with ``namespace`` as its context's default."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        for context in config["contexts"]:
            context["context"]["namespace"] = namespace
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path



def start_envtest(workdir: Path) -> ApiServer:
    if not shutil.which("go") and not _cached():
        raise Unavailable("the real API server needs Go to build it: scripts/envtest.sh build")
    done = subprocess.run(["bash", str(ENVTEST), "start", str(workdir)], capture_output=True,
                          text=True, timeout=COLD_BUILD_SECONDS, cwd=REPO)
    if done.returncode != 0:
        raise AssertionError(f"scripts/envtest.sh start failed:\n{done.stderr[-3000:]}")
    kubeconfig = Path(done.stdout.strip().splitlines()[-1])
    return ApiServer(kubeconfig, envtest=True, cache_dir=workdir / "kubectl-cache")


def stop_envtest(workdir: Path) -> None:
    subprocess.run(["bash", str(ENVTEST), "stop", str(workdir)], capture_output=True,
                   timeout=60, check=False)


def given_cluster(workdir: Path) -> ApiServer | None:
    kubeconfig = os.environ.get("KUBELENS_TEST_KUBECONFIG", "")
    if not kubeconfig:
        return None
    return ApiServer(Path(kubeconfig).expanduser(), envtest=False,
                     cache_dir=workdir / "kubectl-cache")


def _cached() -> bool:
    cache = Path(os.environ.get("KUBELENS_ENVTEST_CACHE")
                 or Path.home() / ".cache" / "kubelens" / "envtest")
    return any(cache.glob("kube-apiserver-*/kube-apiserver")) and any(cache.glob("etcd-*/etcd"))
