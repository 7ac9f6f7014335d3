"""A small Kubernetes API client on aiohttp, for the agent.

The agent needs a handful of calls: list its node's pods, write Notifications and
Investigations, delete old Notifications and create TokenReviews. The official client
would double the agent's import footprint for that, so these few REST calls are made
directly. Errors become :class:`KubeApiError` with the HTTP status, worded like
:class:`kubelens.kube.KubeError` so logs read the same from operator and agent.

Credentials, in order: a kubeconfig path (``--kubeconfig`` / ``KUBECONFIG``), the pod's
ServiceAccount (in-cluster), ``~/.kube/config``. The in-cluster token is re-read from its
file every minute because the kubelet rotates projected tokens.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from kubelens.config import SERVICE_ACCOUNT_DIR
from kubelens.resources import GROUP, VERSION, KubeError

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
#: How long a token read from a file is used before the file is read again.
TOKEN_REFRESH_SECONDS = 60.0
DEFAULT_TIMEOUT = 10.0


#: The agent's API errors are the operator's: one type, whichever client raised it.
KubeApiError = KubeError


class KubeConfigError(ValueError):
    """No usable credentials: the message says which source failed and why."""


class _TokenSource:
    """A bearer token, fixed or read from a file that may be rotated."""

    def __init__(self, token: str = "", path: Path | None = None) -> None:
        self._token = token
        self._path = path
        self._read_at = -TOKEN_REFRESH_SECONDS

    def __call__(self) -> str:
        if self._path is not None and time.monotonic() - self._read_at >= TOKEN_REFRESH_SECONDS:
            try:
                self._token = self._path.read_text().strip()
                self._read_at = time.monotonic()
            except OSError as exc:
                log.warning("cannot read the API token from %s: %s", self._path, exc)
        return self._token


class KubeApi:
    """The REST calls the agent makes, over one aiohttp session."""

    def __init__(
        self,
        server: str,
        token: _TokenSource | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.server = server.rstrip("/")
        self._token = token or _TokenSource()
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    # -- construction --------------------------------------------------------------

    @classmethod
    def from_environment(cls, kubeconfig: str = "", timeout: float = DEFAULT_TIMEOUT) -> KubeApi:
        """Credentials from ``kubeconfig``, else in-cluster, else ``~/.kube/config``."""
        if kubeconfig:
            return cls.from_kubeconfig(Path(kubeconfig), timeout)
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if host and (SERVICE_ACCOUNT_DIR / "token").exists():
            if ":" in host:  # an IPv6 service address
                host = f"[{host}]"
            context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT_DIR / "ca.crt"))
            return cls(
                f"https://{host}:{port}",
                _TokenSource(path=SERVICE_ACCOUNT_DIR / "token"),
                context,
                timeout,
            )
        default = Path.home() / ".kube" / "config"
        if default.exists():
            return cls.from_kubeconfig(default, timeout)
        raise KubeConfigError(
            "no Kubernetes credentials: pass --kubeconfig, run in a pod with a "
            "ServiceAccount, or create ~/.kube/config"
        )

    @classmethod
    def from_kubeconfig(cls, path: Path, timeout: float = DEFAULT_TIMEOUT) -> KubeApi:
        """The current context of a kubeconfig: server, CA, token or client certificate."""
        import yaml  # only read here: in a pod the agent never needs it

        try:
            config = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise KubeConfigError(f"cannot read kubeconfig {path}: {exc}") from None
        base = path.parent

        def named(section: str, name: str) -> dict[str, Any]:
            for entry in config.get(section) or []:
                if entry.get("name") == name:
                    return dict(entry.get(section.rstrip("s")) or {})
            raise KubeConfigError(f"kubeconfig {path}: no {section.rstrip('s')} named {name!r}")

        current = config.get("current-context") or ""
        context = named("contexts", current)
        cluster = named("clusters", context.get("cluster", ""))
        user = named("users", context.get("user", "")) if context.get("user") else {}
        server = str(cluster.get("server") or "")
        if not server:
            raise KubeConfigError(f"kubeconfig {path}: cluster has no server")
        if user.get("exec") or user.get("auth-provider"):
            raise KubeConfigError(
                f"kubeconfig {path}: exec and auth-provider credentials are not supported by "
                "the agent; use a token or a client certificate"
            )

        ssl_context: ssl.SSLContext | None = None
        if server.startswith("https://"):
            ssl_context = ssl.create_default_context()
            if cluster.get("insecure-skip-tls-verify"):
                ssl_context.check_hostname = False
                ssl_context.verify_mode = ssl.CERT_NONE
            elif cluster.get("certificate-authority-data"):
                ssl_context.load_verify_locations(
                    cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
                )
            elif cluster.get("certificate-authority"):
                ca_file = base / str(cluster["certificate-authority"])
                ssl_context.load_verify_locations(cafile=str(ca_file))
            cert = _material(user, "client-certificate", base)
            key = _material(user, "client-key", base)
            if cert and key:
                ssl_context.load_cert_chain(cert, key)
        if user.get("tokenFile"):
            token = _TokenSource(path=base / str(user["tokenFile"]))
        else:
            token = _TokenSource(str(user.get("token") or ""))
        return cls(server, token, ssl_context, timeout)

    # -- plumbing ------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = content_type
        try:
            async with self._client().request(
                method,
                self.server + path,
                params=dict(params or {}),
                data=data,
                headers=headers,
                ssl=self._ssl,
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    raise KubeApiError(
                        f"Kubernetes API {response.status}: {_reason(text, response.reason)}",
                        response.status,
                    )
                result = json.loads(text) if text else {}
        except KubeApiError:
            raise
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise KubeApiError(
                f"Kubernetes API {method} {path} failed: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(result, dict):
            raise KubeApiError(f"Kubernetes API {method} {path}: not a JSON object")
        return result

    # -- calls ---------------------------------------------------------------------

    async def pods_on_node(self, node: str) -> list[dict[str, Any]]:
        """Every pod the API server places on ``node`` (the apiserver indexes this field)."""
        result = await self.request(
            "GET", "/api/v1/pods", params={"fieldSelector": f"spec.nodeName={node}"}
        )
        return list(result.get("items") or [])

    async def list(
        self, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"labelSelector": label_selector} if label_selector else {}
        result = await self.request("GET", _collection(plural, namespace), params=params)
        return list(result.get("items") or [])

    async def create(self, plural: str, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("POST", _collection(plural, namespace), body=dict(body))

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        return await self.request(
            "PATCH",
            f"{_collection(plural, namespace)}/{quote(name, safe='')}/status",
            body={"status": dict(status)},
            content_type=MERGE_PATCH,
        )

    async def delete(self, plural: str, namespace: str, name: str) -> None:
        await self.request("DELETE", f"{_collection(plural, namespace)}/{quote(name, safe='')}")

    async def review_token(self, token: str, audiences: Sequence[str]) -> dict[str, Any]:
        """A TokenReview's ``status`` for ``token`` (authenticated, user, error)."""
        review = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token, "audiences": list(audiences)},
        }
        result = await self.request(
            "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body=review
        )
        return dict(result.get("status") or {})


def _collection(plural: str, namespace: str | None) -> str:
    if namespace:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace, safe='')}/{plural}"
    return f"/apis/{GROUP}/{VERSION}/{plural}"


def _reason(text: str, fallback: str | None) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return (text or fallback or "").strip()[:300]
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or fallback or "")


def _material(user: Mapping[str, Any], key: str, base: Path) -> str | None:
    """A client certificate or key as a file path (``-data`` is written to a private file)."""
    if user.get(f"{key}-data"):
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - must outlive this call
            prefix="kubelens-", suffix=".pem", delete=False
        )
        with handle:
            handle.write(base64.b64decode(user[f"{key}-data"]))
        return handle.name
    if user.get(key):
        return str(base / str(user[key]))
    return None
