"""Where the cluster skills read Kubernetes objects from.

A :class:`ClusterSource` hands out objects as plain dicts shaped exactly like the
items of ``kubectl get -o json`` (camelCase keys, ``apiVersion``/``kind``/``metadata``/
``spec``/``status``), so the skills read one shape whether the objects come from a live
API server (:class:`KubernetesSource`) or from files recorded with
``kubectl get -o yaml`` (:class:`StaticSource`). Secrets are never a readable kind.

A source has no namespace scope of its own: ``namespace=None`` reads every namespace, so
a dependency in another namespace (the Service called, cluster DNS, a neighbour pod on the
same node) can be checked. Which namespace an investigation is about is the skills' concern
(their ``namespace``: the default for their tools, never a wall).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

import yaml

#: Most objects one ``list`` returns: bounds memory and time on very large clusters.
DEFAULT_MAX_ITEMS = 5_000
#: Page size for list calls against a live API server.
PAGE_SIZE = 500
#: Largest log text fetched at once, whatever ``tail_lines`` says.
LOG_BYTES_CAP = 256 * 1024


class ClusterSourceError(Exception):
    """A read that could not be done, with a message a user (or a model) can act on."""


@dataclass(frozen=True)
class KindInfo:
    group: str
    version: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
        return base


#: The kinds the cluster skills read, by their plain names. Secret is left out on purpose.
KINDS: dict[str, KindInfo] = {
    "Pod": KindInfo("", "v1", "pods", True),
    "Event": KindInfo("", "v1", "events", True),
    "Node": KindInfo("", "v1", "nodes", False),
    "Namespace": KindInfo("", "v1", "namespaces", False),
    "Service": KindInfo("", "v1", "services", True),
    "Endpoints": KindInfo("", "v1", "endpoints", True),
    "ConfigMap": KindInfo("", "v1", "configmaps", True),
    "PersistentVolumeClaim": KindInfo("", "v1", "persistentvolumeclaims", True),
    "PersistentVolume": KindInfo("", "v1", "persistentvolumes", False),
    "Deployment": KindInfo("apps", "v1", "deployments", True),
    "StatefulSet": KindInfo("apps", "v1", "statefulsets", True),
    "DaemonSet": KindInfo("apps", "v1", "daemonsets", True),
    "ReplicaSet": KindInfo("apps", "v1", "replicasets", True),
    "Job": KindInfo("batch", "v1", "jobs", True),
    "CronJob": KindInfo("batch", "v1", "cronjobs", True),
    "EndpointSlice": KindInfo("discovery.k8s.io", "v1", "endpointslices", True),
    "HorizontalPodAutoscaler": KindInfo("autoscaling", "v2", "horizontalpodautoscalers", True),
    "StorageClass": KindInfo("storage.k8s.io", "v1", "storageclasses", False),
    "PodDisruptionBudget": KindInfo("policy", "v1", "poddisruptionbudgets", True),
}


def kind_info(kind: str) -> KindInfo:
    info = KINDS.get(kind)
    if info is None:
        known = ", ".join(sorted(KINDS))
        raise ClusterSourceError(f"unknown kind {kind!r}; readable kinds are: {known}")
    return info


@runtime_checkable
class ClusterSource(Protocol):
    """Read-only access to Kubernetes objects and pod logs."""

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """Objects of ``kind``; every namespace when ``namespace`` is None."""
        ...

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """One object, or None when it does not exist."""
        ...

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int = 100,
    ) -> str | None:
        """The tail of a container's log, or None when there is none (no previous run)."""
        ...


# --------------------------------------------------------------------------- selectors


_SET_REQUIREMENT = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(selector: str) -> list[str]:
    """Split on commas outside parentheses (``a in (x,y),b=c`` is two requirements)."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def matches_label_selector(labels: Mapping[str, str], selector: str | None) -> bool:
    """Kubernetes label selector semantics: ``=``, ``==``, ``!=``, ``in``, ``notin``,
    ``key`` and ``!key``."""
    if not selector:
        return True
    for requirement in _split_selector(selector):
        set_match = _SET_REQUIREMENT.match(requirement)
        if set_match:
            key, operator, raw_values = set_match.groups()
            values = {v.strip() for v in raw_values.split(",") if v.strip()}
            present = key in labels and labels[key] in values
            if (operator == "in") != present:
                return False
        elif "!=" in requirement:
            key, value = (s.strip() for s in requirement.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in requirement:
            key, value = (s.strip() for s in requirement.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif requirement.startswith("!"):
            if requirement[1:].strip() in labels:
                return False
        elif requirement not in labels:
            return False
    return True


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return ""
    return str(value)


def matches_field_selector(obj: Mapping[str, Any], selector: str | None) -> bool:
    """Field selectors as the API server reads them: dotted paths with ``=``/``==``/``!=``."""
    if not selector:
        return True
    for requirement in _split_selector(selector):
        if "!=" in requirement:
            path, value = (s.strip() for s in requirement.split("!=", 1))
            if _field_value(obj, path) == value:
                return False
        elif "=" in requirement:
            path, value = (s.strip() for s in requirement.replace("==", "=").split("=", 1))
            if _field_value(obj, path) != value:
                return False
        else:
            raise ClusterSourceError(f"field selector {requirement!r} has no operator")
    return True


# --------------------------------------------------------------------------- static


LogKey = tuple[str, str, str | None, bool]


class StaticSource:
    """Objects held in memory: recorded scenarios, tests, replays.

    Logs are keyed by ``(namespace, pod, container, previous)``; a ``None`` container
    answers for any container of the pod not listed on its own.
    """

    def __init__(
        self,
        objects: Iterable[Mapping[str, Any]] = (),
        logs: Mapping[LogKey, str] | None = None,
    ) -> None:
        self._objects: list[dict[str, Any]] = []
        self._positions: dict[tuple[str, str, str], int] = {}
        for obj in objects:
            self.add(obj)
        self._logs: dict[LogKey, str] = dict(logs or {})

    @classmethod
    def from_objects(
        cls,
        objects: Iterable[Mapping[str, Any]],
        logs: Mapping[LogKey, str] | None = None,
    ) -> StaticSource:
        return cls(objects, logs=logs)

    @classmethod
    def from_yaml(
        cls,
        texts: Iterable[str],
        logs: Mapping[LogKey, str] | None = None,
    ) -> StaticSource:
        """Objects from YAML texts (``kubectl get -o yaml`` output, multi-document files)."""
        objects: list[Mapping[str, Any]] = []
        for text in texts:
            objects.extend(doc for doc in yaml.safe_load_all(text) if isinstance(doc, Mapping))
        return cls(objects, logs=logs)

    @classmethod
    def from_files(
        cls,
        paths: Iterable[Path],
        logs: Mapping[LogKey, str] | None = None,
    ) -> StaticSource:
        """Objects from ``.yaml``/``.yml``/``.json`` files."""
        texts: list[str] = []
        for path in paths:
            text = path.read_text(encoding="utf-8")
            texts.append(json.dumps(json.loads(text)) if path.suffix == ".json" else text)
        return cls.from_yaml(texts, logs=logs)

    def add(self, obj: Mapping[str, Any]) -> None:
        """Add one object; ``List`` documents (``kind: List``, ``PodList``) are unpacked."""
        kind = str(obj.get("kind", ""))
        if "items" in obj and (kind == "List" or kind.endswith("List") or not kind):
            list_kind = kind[: -len("List")] if kind.endswith("List") and kind != "List" else ""
            for item in obj.get("items") or []:
                if isinstance(item, Mapping):
                    item = dict(item)
                    # list items from the API server carry no kind; the list names it
                    if list_kind and not item.get("kind"):
                        item["kind"] = list_kind
                    self.add(item)
            return
        if not kind:
            raise ClusterSourceError("object without a kind cannot be stored")
        metadata = obj.get("metadata") or {}
        key = (kind, str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        # the same object recorded twice (two overlapping dumps) is one object: last wins
        position = self._positions.get(key)
        if position is None:
            self._positions[key] = len(self._objects)
            self._objects.append(dict(obj))
        else:
            self._objects[position] = dict(obj)

    def objects(self) -> list[dict[str, Any]]:
        """Every stored object, in the order first added."""
        return list(self._objects)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        info = kind_info(kind)
        found: list[dict[str, Any]] = []
        for obj in self._objects:
            if obj.get("kind") != kind:
                continue
            metadata = obj.get("metadata") or {}
            if info.namespaced and namespace and metadata.get("namespace") != namespace:
                continue
            if not matches_label_selector(metadata.get("labels") or {}, label_selector):
                continue
            if not matches_field_selector(obj, field_selector):
                continue
            found.append(obj)
        return found[:DEFAULT_MAX_ITEMS]

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        info = kind_info(kind)
        for obj in self._objects:
            metadata = obj.get("metadata") or {}
            if obj.get("kind") != kind or metadata.get("name") != name:
                continue
            if info.namespaced and namespace and metadata.get("namespace") != namespace:
                continue
            return obj
        return None

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int = 100,
    ) -> str | None:
        text = self._logs.get((namespace, pod, container, previous))
        if text is None and container is not None:
            text = self._logs.get((namespace, pod, None, previous))
        if text is None:
            return None
        lines = text.splitlines()
        return "\n".join(lines[-tail_lines:]) if tail_lines > 0 else text


# --------------------------------------------------------------------------- live


class KubernetesSource:
    """Objects read live through the official client, as camelCase dicts.

    Calls the REST paths directly (the client's ``param_serialize``/``call_api``) and
    parses the JSON, so objects keep the exact wire shape ``kubectl`` shows rather than
    the client's snake_case models. Every failure (403, 404, 5xx, a refused connection)
    becomes a :class:`ClusterSourceError` whose message says what was read and why it
    failed; ``get`` of a missing object is None, not an error.
    """

    def __init__(
        self,
        api_client: Any,
        request_timeout: float = 15.0,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> None:
        self.api_client = api_client
        self.request_timeout = request_timeout
        self.max_items = max_items

    def _request(
        self, path: str, query: list[tuple[str, str]], what: str, accept: str = "application/json"
    ) -> tuple[int, bytes]:
        try:
            method, url, headers, _body, _post = self.api_client.param_serialize(
                "GET",
                path,
                query_params=query,
                header_params={"Accept": accept},
                auth_settings=["BearerToken"],
            )
            response = self.api_client.call_api(
                method, url, header_params=headers, _request_timeout=self.request_timeout
            )
            payload = response.read()
        except Exception as exc:  # urllib3 and ApiException alike: the caller gets a message
            raise ClusterSourceError(f"cannot read {what}: {_describe_failure(exc)}") from exc
        return int(response.status), bytes(payload or b"")

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        info = kind_info(kind)
        path = info.path(namespace)
        what = f"{info.plural}" + (f" in namespace {namespace}" if namespace else "")
        items: list[dict[str, Any]] = []
        continue_token = ""
        while True:
            query: list[tuple[str, str]] = [("limit", str(PAGE_SIZE))]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if field_selector:
                query.append(("fieldSelector", field_selector))
            if continue_token:
                query.append(("continue", continue_token))
            status, payload = self._request(path, query, what)
            if not 200 <= status <= 299:
                raise ClusterSourceError(f"cannot list {what}: {_describe_status(status, payload)}")
            body = _parse_json(payload, what)
            for item in body.get("items") or []:
                # list items arrive without kind/apiVersion; kubectl fills them in too
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", info.api_version)
                items.append(item)
            continue_token = str((body.get("metadata") or {}).get("continue") or "")
            if not continue_token or len(items) >= self.max_items:
                break
        return items[: self.max_items]

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        info = kind_info(kind)
        if info.namespaced and not namespace:
            raise ClusterSourceError(f"reading {kind} {name!r} needs a namespace")
        what = f"{kind} {namespace}/{name}" if info.namespaced else f"{kind} {name}"
        status, payload = self._request(info.path(namespace, name), [], what)
        if status == 404:
            return None
        if not 200 <= status <= 299:
            raise ClusterSourceError(f"cannot read {what}: {_describe_status(status, payload)}")
        return _parse_json(payload, what)

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int = 100,
    ) -> str | None:
        query: list[tuple[str, str]] = [
            ("tailLines", str(max(1, tail_lines))),
            ("limitBytes", str(LOG_BYTES_CAP)),
        ]
        if container:
            query.append(("container", container))
        if previous:
            query.append(("previous", "true"))
        what = f"logs of pod {namespace}/{pod}" + (f" container {container}" if container else "")
        status, payload = self._request(
            KINDS["Pod"].path(namespace, pod) + "/log", query, what, accept="text/plain"
        )
        if status == 404:
            return None
        # 400 is what the API server answers for "previous terminated container not found"
        # and "container is waiting to start": there is simply no log to read.
        if status == 400:
            return None
        if not 200 <= status <= 299:
            raise ClusterSourceError(f"cannot read {what}: {_describe_status(status, payload)}")
        return payload.decode("utf-8", errors="replace")


def _parse_json(payload: bytes, what: str) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise ClusterSourceError(f"cannot read {what}: the API server sent invalid JSON") from exc
    if not isinstance(body, dict):
        raise ClusterSourceError(f"cannot read {what}: the API server sent a non-object")
    return body


_STATUS_MEANING = {
    401: "unauthorized (the credentials were refused)",
    403: "forbidden (the ServiceAccount's RBAC does not allow it)",
    404: "not found",
    429: "throttled by the API server",
}


def _describe_status(status: int, payload: bytes) -> str:
    meaning = _STATUS_MEANING.get(status) or (
        "the API server failed" if status >= 500 else "the API server refused the request"
    )
    detail = ""
    try:
        body = json.loads(payload)
        if isinstance(body, dict):
            detail = str(body.get("message") or "")
    except ValueError:
        detail = payload[:200].decode("utf-8", errors="replace")
    return f"HTTP {status} {meaning}" + (f": {detail}" if detail else "")


def _describe_failure(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status:
        body = getattr(exc, "body", None) or b""
        return _describe_status(status, body if isinstance(body, bytes) else str(body).encode())
    return f"{type(exc).__name__}: {str(exc)[:300]}"
