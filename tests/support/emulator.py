"""An in-process Kubernetes API server for tests, good enough for kopf, the client and kubectl.

Why not kmock 0.8's ``KubernetesEmulator``: it assigns no uid/resourceVersion, answers
200 to creates, replays every object on each watch, has no PUT, no 409s, no selectors,
no status subresource and no schema validation (see DESIGN.md), and patching those in
from outside touches most of its internals. This module is written directly on aiohttp
(the project's own pinned dependency), so its behaviour is all here, in one place.

What it models, as kube-apiserver does:

- discovery (``/api``, ``/apis``, group/version resource lists with verbs, short names,
  categories and subresources), ``/version``, health endpoints;
- built-in resources (core, apps, batch, events.k8s.io, coordination, authentication's
  TokenReview, apiextensions' CRDs, kopf.dev peerings) and custom resources registered
  from CRD manifests, with their ``openAPIV3Schema``: pruning, defaulting, validation
  with the server's error wording, ``additionalPrinterColumns`` rendered as Tables;
- metadata: uid, a global resourceVersion counter, creationTimestamp, generation (bumped
  by changes outside metadata and status), generateName, 409 on duplicates and on stale
  resourceVersions, no-op writes that change nothing (no new version, no event);
- status subresource isolation, finalizers and deletionTimestamp, owner-reference
  garbage collection, namespace termination;
- label and field selectors, watch streams that start after a given resourceVersion;
- ``pods/log`` text set by tests, TokenReview answered from a test-set token table.

It runs in its own thread with its own event loop, so a test (or kopf's KopfRunner,
which runs the operator in yet another thread) can talk to it synchronously.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import copy
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from tests.support.patches import PatchError, json_patch, merge_patch, strategic_merge_patch
from tests.support.schemas import FieldError, SchemaValidator, apply_defaults, go_value, prune
from tests.support.selectors import SelectorError, parse_field_selector, parse_label_selector

Obj = dict[str, Any]

# Warnings for the response being built (Warning headers), per request task.
_WARNINGS: contextvars.ContextVar[list[str]] = contextvars.ContextVar("warnings")

KUBERNETES_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0+kubelens-emulator",
                      "gitCommit": "0" * 40, "gitTreeState": "clean",
                      "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4",
                      "compiler": "gc", "platform": "linux/amd64"}

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_METADATA_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
# Same alphabet as apiserver's generateName suffixes: no vowels, no look-alike characters.
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_duration(seconds: float) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``, as the AGE column shows it."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years, days = hours // 24 // 365, hours // 24 % 365
    return f"{years}y" if days == 0 or hours >= 24 * 365 * 8 else f"{years}y{days}d"


class ApiError(Exception):
    """An error answered as a ``Status`` body, shaped like kube-apiserver's."""

    def __init__(self, code: int, reason: str, message: str,
                 details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = dict(details or {})

    def status(self) -> Obj:
        body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                     "status": "Failure", "message": self.message, "reason": self.reason,
                     "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


@dataclass(frozen=True)
class Resource:
    """One served resource: a (group, version, plural) and how the server treats it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    field_labels: frozenset[str] = _METADATA_FIELDS
    schema: Obj | None = None  # openAPIV3Schema, custom resources only
    printer_columns: tuple[Obj, ...] = ()
    crd: str | None = None  # the CustomResourceDefinition that serves it
    # Where objects live: events.k8s.io/v1 events share core v1 events' storage.
    storage_group: str | None = None
    storage_plural: str | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.storage_group if self.storage_group is not None else self.group,
                self.storage_plural or self.plural)

    @property
    def qualified(self) -> str:
        """``investigations.kubelens.io`` / ``pods``, as in "not found" messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Investigation.kubelens.io``, as in "is invalid" messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def names(self) -> set[str]:
        return {self.plural, self.singular or self.kind.lower(), self.kind.lower(),
                *self.short_names}


def _builtin_resources() -> list[Resource]:
    pod_fields = _METADATA_FIELDS | {"spec.nodeName", "spec.restartPolicy",
                                     "spec.schedulerName", "spec.serviceAccountName",
                                     "spec.hostNetwork", "status.phase", "status.podIP",
                                     "status.nominatedNodeName"}
    event_fields = _METADATA_FIELDS | {
        *(f"involvedObject.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion",
                                          "resourceVersion", "fieldPath")),
        "reason", "reportingComponent", "source", "type"}
    new_event_fields = _METADATA_FIELDS | {
        *(f"regarding.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion",
                                     "resourceVersion", "fieldPath")),
        "reason", "reportingController", "type"}
    status = ("status",)
    r = Resource
    return [
        r("", "v1", "namespaces", "Namespace", False, "namespace", ("ns",),
          subresources=("status", "finalize"),
          field_labels=_METADATA_FIELDS | {"status.phase"}),
        r("", "v1", "pods", "Pod", True, "pod", ("po",), ("all",), ("status", "log"),
          field_labels=pod_fields),
        r("", "v1", "events", "Event", True, "event", ("ev",), field_labels=event_fields),
        r("", "v1", "nodes", "Node", False, "node", ("no",), subresources=status,
          field_labels=_METADATA_FIELDS | {"spec.unschedulable"}),
        r("", "v1", "configmaps", "ConfigMap", True, "configmap", ("cm",)),
        r("", "v1", "secrets", "Secret", True, "secret",
          field_labels=_METADATA_FIELDS | {"type"}),
        r("", "v1", "services", "Service", True, "service", ("svc",), ("all",), status),
        r("", "v1", "endpoints", "Endpoints", True, "endpoints", ("ep",)),
        r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True,
          "persistentvolumeclaim", ("pvc",), subresources=status),
        r("", "v1", "persistentvolumes", "PersistentVolume", False, "persistentvolume",
          ("pv",), subresources=status),
        r("", "v1", "serviceaccounts", "ServiceAccount", True, "serviceaccount", ("sa",)),
        r("apps", "v1", "deployments", "Deployment", True, "deployment", ("deploy",),
          ("all",), status),
        r("apps", "v1", "statefulsets", "StatefulSet", True, "statefulset", ("sts",),
          ("all",), status),
        r("apps", "v1", "daemonsets", "DaemonSet", True, "daemonset", ("ds",), ("all",),
          status),
        r("apps", "v1", "replicasets", "ReplicaSet", True, "replicaset", ("rs",), ("all",),
          status),
        r("batch", "v1", "jobs", "Job", True, "job", (), ("all",), status),
        r("batch", "v1", "cronjobs", "CronJob", True, "cronjob", ("cj",), ("all",), status),
        r("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
          "horizontalpodautoscaler", ("hpa",), ("all",), status),
        r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, "storageclass",
          ("sc",)),
        r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True,
          "poddisruptionbudget", ("pdb",), (), status),
        r("events.k8s.io", "v1", "events", "Event", True, "event", ("ev",),
          field_labels=new_event_fields, storage_group=""),
        r("coordination.k8s.io", "v1", "leases", "Lease", True, "lease"),
        r("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, "tokenreview",
          verbs=("create",)),
        r("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
          False, "customresourcedefinition", ("crd", "crds"), subresources=status),
    ]


def _kopf_peering_resources() -> list[Resource]:
    # As kopf's own peering CRDs declare them: no status subresource, free-form status.
    free = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return [
        Resource("kopf.dev", "v1", "kopfpeerings", "KopfPeering", True, "kopfpeering",
                 schema=free),
        Resource("kopf.dev", "v1", "clusterkopfpeerings", "ClusterKopfPeering", False,
                 "clusterkopfpeering", schema=free),
    ]


# events.k8s.io/v1 is a second view of core v1 events: the same objects, renamed fields.
_EVENT_RENAMES = (("involvedObject", "regarding"), ("message", "note"),
                  ("source", "deprecatedSource"), ("count", "deprecatedCount"),
                  ("firstTimestamp", "deprecatedFirstTimestamp"),
                  ("lastTimestamp", "deprecatedLastTimestamp"),
                  ("reportingComponent", "reportingController"))


def _rename(obj: Obj, pairs: Iterable[tuple[str, str]]) -> Obj:
    out = dict(obj)
    for old, new in pairs:
        if old in out:
            out[new] = out.pop(old)
    return out


@dataclass
class WatchEvent:
    rv: int
    key: tuple[str, str]
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj


@dataclass
class RecordedRequest:
    """One request the emulator served, for tests that assert on what a client sent."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any
    status: int = 0


@dataclass
class TokenIdentity:
    """Who a bearer token belongs to, for TokenReview."""

    username: str
    uid: str = ""
    groups: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)  # empty: valid for any audience


def _match_jsonpath(obj: Any, path: str) -> Any:
    """The subset of JSONPath printer columns use: ``.a.b``, ``[0]``, ``[?(@.k=="v")]``."""
    node = obj
    for token in re.findall(r'\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\?\(@\.(\w+)==["\'](.*?)["\']\)\]',
                            path):
        name, index, filter_key, filter_value = token
        if name:
            node = node.get(name) if isinstance(node, dict) else None
        elif index:
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
        else:
            node = next((item for item in node or [] if isinstance(item, dict)
                         and str(item.get(filter_key)) == filter_value), None)
        if node is None:
            return None
    return node


class Emulator:
    """The API server. ``start()`` it, point clients at ``url``, ``stop()`` it."""

    def __init__(self, *, kopf_peerings: bool = True) -> None:
        self._lock = threading.RLock()
        self._resources: dict[tuple[str, str, str], Resource] = {}
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._history: list[WatchEvent] = []
        self._history_rvs: list[int] = []
        self._rv = 0
        self._logs: dict[tuple[str, str, str, bool], str] = {}
        self._validators: dict[int, tuple[Obj, SchemaValidator]] = {}
        self.tokens: dict[str, TokenIdentity | str | Mapping[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._changed: asyncio.Event | None = None
        self._closing = False
        self.port = 0
        for resource in _builtin_resources():
            self._add_resource(resource)
        if kopf_peerings:
            for resource in _kopf_peering_resources():
                self._add_resource(resource)
        for name in ("default", "kube-system", "kube-public"):
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    # ----------------------------------------------------------------------------------
    # Lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_server())
            except BaseException as exc:  # handed to the starting thread, not lost
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop_server())
            loop.close()

        self._thread = threading.Thread(target=serve, name="kube-emulator", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    async def _start_server(self) -> None:
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Watch streams are ended by stop() itself; do not wait the default 60 s for them.
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True,
                                     access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _stop_server(self) -> None:
        self._closing = True
        self._wake()
        await asyncio.sleep(0)
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _wake(self) -> None:
        """Wake every watch stream (called on the server's loop)."""
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _notify(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # The loop may close between the check and the call; then nobody is watching.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._wake)

    # ----------------------------------------------------------------------------------
    # Resources

    def _add_resource(self, resource: Resource) -> None:
        with self._lock:
            self._resources[(resource.group, resource.version, resource.plural)] = resource
            self._objects.setdefault(resource.key, {})

    def resource(self, name: str, api_version: str | None = None) -> Resource:
        """Find a served resource by plural, singular, kind, short name or ``plural.group``."""
        wanted = name.lower()
        group_filter: str | None = None
        version_filter: str | None = None
        if api_version is not None:
            group_filter, _, version_filter = api_version.rpartition("/")
        elif "." in wanted:
            wanted, _, group_filter = wanted.partition(".")
        with self._lock:
            candidates = [r for r in self._resources.values() if wanted in r.names()
                          and (group_filter is None or r.group == group_filter)
                          and (version_filter is None or r.version == version_filter)]
        if not candidates:
            raise KeyError(f"no resource named {name!r}"
                           + (f" in {api_version}" if api_version else ""))
        # Prefer the core group (events over events.k8s.io), as kubectl's shortcuts do.
        candidates.sort(key=lambda r: (r.group != "", r.group, r.version))
        return candidates[0]

    def register_crd(self, source: str | Path | Obj) -> list[Obj]:
        """Install CRDs from a YAML file (one or more documents) or a dict; return them."""
        if isinstance(source, dict):
            documents = [source]
        else:
            documents = [d for d in yaml.safe_load_all(Path(source).read_text()) if d]
        created = []
        for crd in documents:
            name = crd["metadata"]["name"]
            existing = self.get("customresourcedefinitions", name)
            if existing is not None:
                body = copy.deepcopy(crd)
                body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
                created.append(self.replace(body))
            else:
                created.append(self.create(crd))
        return created

    def _install_crd(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group", "")
        with self._lock:
            for key, res in list(self._resources.items()):
                if res.crd == crd["metadata"]["name"]:
                    del self._resources[key]
            for version in spec.get("versions") or []:
                if not version.get("served", True):
                    continue
                subresources = version.get("subresources") or {}
                self._add_resource(Resource(
                    group=group, version=version["name"], plural=names["plural"],
                    kind=names["kind"], namespaced=spec.get("scope") == "Namespaced",
                    singular=names.get("singular", names["kind"].lower()),
                    short_names=tuple(names.get("shortNames") or ()),
                    categories=tuple(names.get("categories") or ()),
                    subresources=tuple(s for s in ("status", "scale") if s in subresources),
                    schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                    printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                    crd=crd["metadata"]["name"]))

    def _uninstall_crd(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        with self._lock:
            gone = [key for key, res in self._resources.items() if res.crd == name]
            for key in gone:
                res = self._resources.pop(key)
                for obj in list(self._objects.get(res.key, {}).values()):
                    self._remove(res, obj)

    # ----------------------------------------------------------------------------------
    # Storage: every write goes through these, from HTTP handlers and test helpers alike.

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _emit(self, res: Resource, type_: str, obj: Obj) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        self._history.append(WatchEvent(rv, res.key, type_, obj))
        self._history_rvs.append(rv)
        self._notify()

    def _store_key(self, obj: Obj) -> tuple[str, str]:
        meta = obj["metadata"]
        return (meta.get("namespace") or "", meta["name"])

    def _current(self, res: Resource, namespace: str | None, name: str) -> Obj:
        obj = self._objects[res.key].get((namespace or "" if res.namespaced else "", name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{res.qualified} "{name}" not found',
                           {"name": name, "group": res.group, "kind": res.plural})
        return obj

    def _to_storage(self, res: Resource, obj: Obj) -> Obj:
        if res.group == "events.k8s.io":
            obj = _rename(obj, [(new, old) for old, new in _EVENT_RENAMES])
            obj["apiVersion"] = "v1"
        return obj

    def view(self, res: Resource, obj: Obj) -> Obj:
        """A stored object as a given resource version serves it (a fresh copy)."""
        out = copy.deepcopy(obj)
        if res.group == "events.k8s.io":
            out = _rename(out, _EVENT_RENAMES)
            # Core events written without eventTime read back with a null one, as on a real
            # server (the kubernetes client's EventsV1Event model refuses to load those).
            out.setdefault("eventTime", None)
        out["apiVersion"] = res.api_version
        out["kind"] = res.kind
        return out

    def _check_metadata(self, res: Resource, obj: Obj) -> list[FieldError]:
        meta = obj["metadata"]
        errors: list[FieldError] = []
        name = meta.get("name", "")
        pattern, limit, what = ((_DNS_LABEL, 63, "RFC 1123 label") if res.plural == "namespaces"
                                else (_DNS_SUBDOMAIN, 253, "RFC 1123 subdomain"))
        if len(name) > limit or not pattern.match(name):
            errors.append(FieldError(
                "FieldValueInvalid", "metadata.name",
                f"Invalid value: {go_value(name)}: a lowercase {what} must consist of lower "
                "case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character"))
        for key in ("labels", "annotations"):
            value = meta.get(key)
            if value is not None and not (isinstance(value, dict) and all(
                    isinstance(v, str) for v in value.values())):
                errors.append(FieldError("FieldValueInvalid", f"metadata.{key}",
                                         f"Invalid value: {go_value(value)}: must be a map "
                                         "of string keys to string values"))
                meta.pop(key)
        for key, value in (meta.get("labels") or {}).items():
            prefix, _, label_name = key.rpartition("/")
            if (len(label_name) > 63 or not _LABEL_NAME.match(label_name)
                    or (prefix and not _DNS_SUBDOMAIN.match(prefix))):
                errors.append(FieldError("FieldValueInvalid", "metadata.labels",
                                         f"Invalid value: {go_value(key)}: name part must "
                                         "consist of alphanumeric characters, '-', '_' or "
                                         "'.', and must start and end with an alphanumeric "
                                         "character"))
            if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
                errors.append(FieldError("FieldValueInvalid", "metadata.labels",
                                         f"Invalid value: {go_value(value)}: a valid label "
                                         "must be an empty string or consist of alphanumeric "
                                         "characters, '-', '_' or '.', and must start and end "
                                         "with an alphanumeric character, at most 63 "
                                         "characters"))
        return errors

    def _admit(self, res: Resource, obj: Obj, strict: bool) -> list[str]:
        """Prune, default and validate a custom resource in place; return pruned paths."""
        errors = self._check_metadata(res, obj)
        pruned: list[str] = []
        if res.schema is not None:
            pruned = prune(obj, res.schema)
            if pruned and strict:
                raise ApiError(400, "BadRequest", f'{res.kind} in version "{res.version}" '
                               f"cannot be handled as a {res.kind}: strict decoding error: "
                               + ", ".join(f'unknown field "{path}"' for path in pruned))
            warnings = _WARNINGS.get(None)  # None outside a request (test helpers)
            if warnings is not None:
                warnings.extend(f'unknown field "{path}"' for path in pruned)
            apply_defaults(obj, res.schema)
            errors += self._validator(res.schema).errors(obj)
        if errors:
            self._invalid(res, obj["metadata"].get("name", ""), errors)
        return pruned

    def _validator(self, schema: Obj) -> SchemaValidator:
        # Compiling a schema costs more than checking an object: keep one per schema dict
        # (held in the value too, so a recycled id() can never match a stale entry).
        cached = self._validators.get(id(schema))
        if cached is None or cached[0] is not schema:
            cached = self._validators[id(schema)] = (schema, SchemaValidator(schema))
        return cached[1]

    def _invalid(self, res: Resource, name: str, errors: list[FieldError]) -> None:
        listed = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
        raise ApiError(422, "Invalid", f'{res.qualified_kind} "{name}" is invalid: {listed}',
                       {"name": name, "group": res.group, "kind": res.kind,
                        "causes": [e.cause() for e in errors]})

    def _create(self, res: Resource, namespace: str | None, body: Any, *,
                via_api: bool = True, dry_run: bool = False, strict: bool = False) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was not a JSON object")
        obj = self._to_storage(res, copy.deepcopy(body))
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            if namespace and meta.get("namespace") and meta["namespace"] != namespace:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does "
                               "not match the namespace sent on the request")
            namespace = namespace or meta.get("namespace") or "default"
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if res.plural == "tokenreviews":  # a question, not an object: nothing is stored
            return self._review_token(obj)
        if not meta.get("name"):
            if not meta.get("generateName"):
                self._invalid(res, "", [FieldError("FieldValueRequired", "metadata.name",
                                                   "Required value: name or generateName is "
                                                   "required")])
            meta["name"] = meta["generateName"] + "".join(
                random.choices(_NAME_SUFFIX_ALPHABET, k=5))
        with self._lock:
            if res.namespaced:
                ns = self._objects[("", "namespaces")].get(("", namespace or ""))
                if ns is None:
                    if via_api:
                        raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                                       {"name": namespace, "kind": "namespaces"})
                    self._create(self.resource("namespaces"), None,
                                 {"metadata": {"name": namespace}}, via_api=False)
                elif ns["metadata"].get("deletionTimestamp"):
                    raise ApiError(403, "Forbidden", f"{res.plural} \"{meta['name']}\" is "
                                   f"forbidden: unable to create new content in namespace "
                                   f"{namespace} because it is being terminated")
            if self._store_key(obj) in self._objects[res.key]:
                raise ApiError(409, "AlreadyExists",
                               f'{res.qualified} "{meta["name"]}" already exists',
                               {"name": meta["name"], "group": res.group, "kind": res.plural})
            if via_api and res.schema is not None and "status" in res.subresources:
                obj.pop("status", None)  # create cannot set status (as apiextensions does)
            for transient in ("deletionTimestamp", "deletionGracePeriodSeconds",
                              "resourceVersion", "uid", "creationTimestamp", "managedFields"):
                meta.pop(transient, None)
            self._admit(res, obj, strict)
            self._on_create(res, obj)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            if dry_run:
                meta["resourceVersion"] = str(self._rv)
                return obj
            meta["resourceVersion"] = str(self._next_rv())
            self._objects[res.key][self._store_key(obj)] = obj
            self._emit(res, "ADDED", obj)
            if res.plural == "customresourcedefinitions":
                self._install_crd(obj)
            return obj

    def _on_create(self, res: Resource, obj: Obj) -> None:
        """What built-in admission and controllers would add at once."""
        if res.plural == "namespaces":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif res.plural == "pods":
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        elif res.plural == "customresourcedefinitions":
            names = (obj.get("spec") or {}).get("names") or {}
            stamp = now_rfc3339()
            obj["status"] = {
                "acceptedNames": names,
                "storedVersions": [v["name"] for v in obj["spec"].get("versions", [])
                                   if v.get("storage")],
                "conditions": [
                    {"type": t, "status": "True", "reason": r, "message": m,
                     "lastTransitionTime": stamp}
                    for t, r, m in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                                    ("Established", "InitialNamesAccepted",
                                     "the initial names have been accepted"))]}

    def _update(self, res: Resource, namespace: str | None, name: str, body: Any, *,
                subresource: str | None = None, dry_run: bool = False,
                strict: bool = False) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was not a JSON object")
        with self._lock:
            current = self._current(res, namespace, name)
            new = self._to_storage(res, copy.deepcopy(body))
            meta = new.setdefault("metadata", {})
            if meta.get("name", name) != name:
                raise ApiError(400, "BadRequest", f"the name of the object ({meta['name']}) "
                               f"does not match the name on the URL ({name})")
            old_meta = current["metadata"]
            wanted_rv = meta.get("resourceVersion")
            if wanted_rv and wanted_rv != old_meta["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on '
                               f'{res.qualified} "{name}": the object has been modified; '
                               'please apply your changes to the latest version and try again',
                               {"name": name, "group": res.group, "kind": res.plural})
            if subresource == "status":
                result = copy.deepcopy(current)
                if "status" in new:
                    result["status"] = new["status"]
                else:
                    result.pop("status", None)
            else:
                result = new
                for key in ("name", "namespace", "uid", "creationTimestamp", "generation",
                            "deletionTimestamp", "deletionGracePeriodSeconds"):
                    if key in old_meta:
                        meta[key] = old_meta[key]
                    else:
                        meta.pop(key, None)
                if "status" in res.subresources:
                    if "status" in current:
                        result["status"] = copy.deepcopy(current["status"])
                    else:
                        result.pop("status", None)
                if old_meta.get("deletionTimestamp"):
                    added = set(meta.get("finalizers") or ()) - set(
                        old_meta.get("finalizers") or ())
                    if added:
                        self._invalid(res, name, [FieldError(
                            "FieldValueForbidden", "metadata.finalizers",
                            "Forbidden: no new finalizers can be added if the object is being "
                            f"deleted, found new finalizers {sorted(added)}")])
            result["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
            self._admit(res, result, strict)
            # Generation counts changes to what the user asked for, not to status or metadata.
            ignored = {"metadata"} | ({"status"} if "status" in res.subresources else set())
            if ({k: v for k, v in result.items() if k not in ignored}
                    != {k: v for k, v in current.items() if k not in ignored}):
                result["metadata"]["generation"] = old_meta.get("generation", 1) + 1
            if result == current or dry_run:
                return result  # a no-op write: no new version, no watch event
            result["metadata"]["resourceVersion"] = str(self._next_rv())
            if result["metadata"].get("deletionTimestamp") and not result["metadata"].get(
                    "finalizers"):
                self._remove(res, result)
                return result
            self._objects[res.key][self._store_key(result)] = result
            self._emit(res, "MODIFIED", result)
            if res.plural == "customresourcedefinitions":
                self._install_crd(result)
            return result

    def _patch(self, res: Resource, namespace: str | None, name: str, patch: Any,
               content_type: str, *, subresource: str | None = None, dry_run: bool = False,
               strict: bool = False) -> Obj:
        with self._lock:
            current = self.view(res, self._current(res, namespace, name))
            try:
                if content_type.startswith("application/json-patch+json"):
                    patched = json_patch(current, patch)
                elif content_type.startswith("application/merge-patch+json"):
                    patched = merge_patch(current, patch)
                elif content_type.startswith("application/strategic-merge-patch+json"):
                    patched = strategic_merge_patch(current, patch)
                elif content_type.startswith("application/apply-patch"):
                    raise ApiError(415, "UnsupportedMediaType",
                                   "server-side apply is not supported by the emulator")
                else:
                    raise ApiError(415, "UnsupportedMediaType",
                                   f"the body of the request was in an unknown format - "
                                   f"accepted media types include: application/json-patch+json,"
                                   f" application/merge-patch+json, "
                                   f"application/strategic-merge-patch+json ({content_type})")
            except PatchError as exc:
                raise ApiError(422, "Invalid", str(exc)) from exc
            return self._update(res, namespace, name, patched, subresource=subresource,
                                dry_run=dry_run, strict=strict)

    def _delete(self, res: Resource, namespace: str | None, name: str,
                options: Mapping[str, Any] | None = None, *, dry_run: bool = False) -> Obj:
        with self._lock:
            current = self._current(res, namespace, name)
            preconditions = (options or {}).get("preconditions") or {}
            meta = current["metadata"]
            for key in ("uid", "resourceVersion"):
                if preconditions.get(key) and preconditions[key] != meta.get(key):
                    raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on "
                                   f'{res.qualified} "{name}": Precondition failed: '
                                   f"{key}: {preconditions[key]}, {key}: {meta.get(key)}",
                                   {"name": name, "group": res.group, "kind": res.plural})
            if dry_run:
                return current
            if meta.get("deletionTimestamp"):
                return current  # already being deleted: waiting for its finalizers
            if res.plural == "namespaces":
                return self._terminate_namespace(res, current)
            if meta.get("finalizers"):
                result = copy.deepcopy(current)
                result["metadata"]["deletionTimestamp"] = now_rfc3339()
                result["metadata"]["deletionGracePeriodSeconds"] = 0
                result["metadata"]["generation"] = meta.get("generation", 1) + 1
                result["metadata"]["resourceVersion"] = str(self._next_rv())
                self._objects[res.key][self._store_key(result)] = result
                self._emit(res, "MODIFIED", result)
                return result
            result = copy.deepcopy(current)
            result["metadata"]["resourceVersion"] = str(self._next_rv())
            self._remove(res, result)
            return result

    def _remove(self, res: Resource, obj: Obj) -> None:
        """Drop an object for good: DELETED event, then its dependents, as the GC would."""
        self._objects[res.key].pop(self._store_key(obj), None)
        if int(obj["metadata"]["resourceVersion"]) <= (self._history_rvs or [0])[-1]:
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self._next_rv())
        self._emit(res, "DELETED", obj)
        if res.plural == "customresourcedefinitions":
            self._uninstall_crd(obj)
        uid = obj["metadata"].get("uid")
        for other in list(self._resources.values()):
            if other.group == "events.k8s.io":
                continue
            for dependent in list(self._objects.get(other.key, {}).values()):
                owners = dependent["metadata"].get("ownerReferences") or ()
                if any(o.get("uid") == uid for o in owners):
                    ns = dependent["metadata"].get("namespace")
                    with contextlib.suppress(ApiError):
                        self._delete(other, ns, dependent["metadata"]["name"])
        namespace = obj["metadata"].get("namespace")
        if namespace:
            self._finish_namespace(namespace)

    def _terminate_namespace(self, res: Resource, ns_obj: Obj) -> Obj:
        result = copy.deepcopy(ns_obj)
        result["metadata"]["deletionTimestamp"] = now_rfc3339()
        result["status"] = {"phase": "Terminating"}
        result["metadata"]["resourceVersion"] = str(self._next_rv())
        self._objects[res.key][self._store_key(result)] = result
        self._emit(res, "MODIFIED", result)
        name = result["metadata"]["name"]
        for other in list(self._resources.values()):
            if not other.namespaced or other.group == "events.k8s.io":
                continue
            for obj in list(self._objects.get(other.key, {}).values()):
                if obj["metadata"].get("namespace") == name:
                    with contextlib.suppress(ApiError):
                        self._delete(other, name, obj["metadata"]["name"])
        self._finish_namespace(name)
        return result

    def _finish_namespace(self, name: str) -> None:
        ns_res = self._resources[("", "v1", "namespaces")]
        ns_obj = self._objects[ns_res.key].get(("", name))
        if ns_obj is None or not ns_obj["metadata"].get("deletionTimestamp"):
            return
        for objects in self._objects.values():
            if any(key[0] == name for key in objects):
                return
        final = copy.deepcopy(ns_obj)
        final["metadata"]["resourceVersion"] = str(self._next_rv())
        self._objects[ns_res.key].pop(("", name), None)
        self._emit(ns_res, "DELETED", final)

    def _select(self, res: Resource, namespace: str | None, label_selector: str | None,
                field_selector: str | None) -> Callable[[Obj], bool]:
        try:
            labels = parse_label_selector(label_selector)
            fields = parse_field_selector(field_selector, res.field_labels)
        except SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from exc

        def matches(obj: Obj) -> bool:
            meta = obj["metadata"]
            if res.namespaced and namespace and meta.get("namespace") != namespace:
                return False
            return labels(meta.get("labels") or {}) and fields(obj)

        return matches

    def _list(self, res: Resource, namespace: str | None, label_selector: str | None = None,
              field_selector: str | None = None) -> tuple[list[Obj], int]:
        matches = self._select(res, namespace, label_selector, field_selector)
        with self._lock:
            items = [self.view(res, obj) for key, obj in sorted(self._objects[res.key].items())]
            return [obj for obj in items if matches(obj)], self._rv

    def _review_token(self, review: Obj) -> Obj:
        spec = review.get("spec") or {}
        wanted = list(spec.get("audiences") or [])
        entry = self.tokens.get(spec.get("token") or "")
        identity = (TokenIdentity(entry) if isinstance(entry, str)
                    else TokenIdentity(**entry) if isinstance(entry, Mapping) else entry)
        status: Obj = {"user": {}}
        if identity is None:
            status["error"] = "invalid bearer token"
        else:
            granted = identity.audiences or ["https://kubernetes.default.svc"]
            matching = [a for a in wanted if a in granted] if wanted else granted
            if wanted and not matching:
                status["error"] = "token audiences are invalid for the target audiences"
            else:
                user: Obj = {"username": identity.username,
                             "uid": identity.uid or str(uuid.uuid5(uuid.NAMESPACE_OID,
                                                                   identity.username)),
                             "groups": identity.groups or ["system:authenticated"]}
                status = {"authenticated": True, "user": user, "audiences": matching}
        review["metadata"]["creationTimestamp"] = None
        return {**review, "status": status}

    # ----------------------------------------------------------------------------------
    # Helpers for tests (thread-safe; objects are given and returned as plain dicts).

    def create(self, obj: Obj, *, namespace: str | None = None) -> Obj:
        """Store an object as it is (status included), creating its namespace if need be."""
        res = self.resource(obj["kind"], obj.get("apiVersion", "v1"))
        namespace = namespace or (obj.get("metadata") or {}).get("namespace")
        return self.view(res, self._create(res, namespace, obj, via_api=False))

    def get(self, resource: str, name: str, namespace: str | None = None) -> Obj | None:
        res = self.resource(resource)
        try:
            with self._lock:
                return self.view(res, self._current(res, namespace, name))
        except ApiError:
            return None

    def patch(self, resource: str, name: str, patch: Obj, namespace: str | None = None, *,
              subresource: str | None = None) -> Obj:
        """Merge-patch an object (``subresource="status"`` to change only its status)."""
        res = self.resource(resource)
        return self.view(res, self._patch(res, namespace, name, patch,
                                          "application/merge-patch+json",
                                          subresource=subresource))

    def replace(self, obj: Obj) -> Obj:
        res = self.resource(obj["kind"], obj.get("apiVersion", "v1"))
        meta = obj["metadata"]
        return self.view(res, self._update(res, meta.get("namespace"), meta["name"], obj))

    def delete(self, resource: str, name: str, namespace: str | None = None) -> Obj:
        res = self.resource(resource)
        return self.view(res, self._delete(res, namespace, name))

    def set_pod_log(self, namespace: str, pod: str, container: str, text: str,
                    previous: bool = False) -> None:
        """What ``pods/log`` returns for this container (``previous``: the last crashed one)."""
        with self._lock:
            self._logs[(namespace, pod, container, previous)] = text

    def wait_for(self, resource: str, name: str, namespace: str | None = None,
                 predicate: Callable[[Obj | None], bool] = lambda obj: obj is not None,
                 timeout: float = 10.0) -> Obj | None:
        """Poll an object until ``predicate`` holds (it sees None while the object is absent)."""
        deadline = time.monotonic() + timeout
        while True:
            obj = self.get(resource, name, namespace)
            if predicate(obj):
                return obj
            if time.monotonic() > deadline:
                raise TimeoutError(f"{resource} {namespace}/{name} never matched; last: {obj}")
            time.sleep(0.02)

    def kubeconfig(self, path: str | Path, namespace: str = "default",
                   token: str = "emulator-admin-token") -> Path:
        """Write a kubeconfig for kubectl, kopf and ``kubernetes.config.load_kube_config``."""
        path = Path(path)
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator-admin", "user": {"token": token}}],
            "contexts": [{"name": "emulator", "context": {
                "cluster": "emulator", "user": "emulator-admin", "namespace": namespace}}],
            "current-context": "emulator",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def requests_to(self, method: str | None = None, path_prefix: str = "") -> list[
            RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if (method is None or r.method == method)
                    and r.path.startswith(path_prefix)]

    # ----------------------------------------------------------------------------------
    # HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body: Any = None
        raw = await request.read() if request.can_read_body else b""
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                try:
                    body = yaml.safe_load(raw)
                except yaml.YAMLError:
                    body = raw.decode(errors="replace")
        record = RecordedRequest(request.method, request.path, dict(request.query),
                                 request.headers.get("Content-Type", ""), body)
        with self._lock:
            self.requests.append(record)
        warnings: list[str] = []
        _WARNINGS.set(warnings)
        try:
            response = await self._route(request, body)
            if warnings and request.query.get("fieldValidation") != "Ignore":
                for text in warnings:
                    response.headers.add("Warning", f"299 - {json.dumps(text)}")
        except ApiError as exc:
            response = web.json_response(exc.status(), status=exc.code)
        except Exception as exc:  # a bug in the emulator: say so, as a 500 Status
            error = ApiError(500, "InternalError", f"emulator error: {exc!r}")
            response = web.json_response(error.status(), status=500)
        record.status = response.status
        return response

    async def _route(self, request: web.Request, body: Any) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            return web.json_response({"paths": ["/api", "/apis", "/version"]})
        head = parts[0]
        if head in ("healthz", "livez", "readyz"):
            return web.Response(text="ok")
        if head == "version":
            return web.json_response(KUBERNETES_VERSION)
        if head == "openapi" and parts[1:2] == ["v3"]:
            return web.json_response(self._openapi_v3("/".join(parts[2:])))
        if head == "openapi":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if head == "api" and len(parts) == 1:
            return web.json_response({"kind": "APIVersions", "versions": ["v1"],
                                      "serverAddressByClientCIDRs": [
                                          {"clientCIDR": "0.0.0.0/0",
                                           "serverAddress": f"127.0.0.1:{self.port}"}]})
        if head == "apis" and len(parts) == 1:
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1",
                                      "groups": self._groups()})
        if head == "apis" and len(parts) == 2:
            found = next((g for g in self._groups() if g["name"] == parts[1]), None)
            if found is None:
                raise ApiError(404, "NotFound", "the server could not find the requested "
                               "resource")
            return web.json_response({"kind": "APIGroup", "apiVersion": "v1", **found})
        if head == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif head == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return web.json_response(self._resource_list(group, version))
        return await self._serve_resource(request, body, group, version, rest)

    def _groups(self) -> list[Obj]:
        with self._lock:
            versions: dict[str, list[str]] = {}
            for res in self._resources.values():
                if res.group and res.version not in versions.setdefault(res.group, []):
                    versions[res.group].append(res.version)
        groups = []
        for name, names in sorted(versions.items()):
            entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in names]
            groups.append({"name": name, "versions": entries, "preferredVersion": entries[0]})
        return groups

    def _resource_list(self, group: str, version: str) -> Obj:
        with self._lock:
            served = sorted((r for r in self._resources.values()
                             if r.group == group and r.version == version),
                            key=lambda r: r.plural)
        if not served:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        resources: list[Obj] = []
        for res in served:
            entry: Obj = {"name": res.plural, "singularName": res.singular,
                          "namespaced": res.namespaced, "kind": res.kind,
                          "verbs": list(res.verbs)}
            if res.short_names:
                entry["shortNames"] = list(res.short_names)
            if res.categories:
                entry["categories"] = list(res.categories)
            resources.append(entry)
            for sub in res.subresources:
                verbs = ["get"] if sub == "log" else ["get", "patch", "update"]
                resources.append({"name": f"{res.plural}/{sub}", "singularName": "",
                                  "namespaced": res.namespaced, "kind": res.kind,
                                  "verbs": verbs})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources}

    def _openapi_v3(self, group_version: str) -> Obj:
        """Just enough OpenAPI v3 for kubectl's default ``--validate=strict``.

        kubectl reads each group/version's PATCH operations to learn whether the server
        takes the ``fieldValidation`` parameter; when it does, kubectl leaves validation to
        the server (which prunes and validates against the CRD) instead of downloading
        schemas. Custom resources' schemas are included, so ``kubectl explain`` works for
        them (built-in kinds have none here).
        """
        with self._lock:
            resources = list(self._resources.values())
        if not group_version:
            paths = {}
            for res in resources:
                prefix = f"apis/{res.group}" if res.group else "api"
                gv = f"{prefix}/{res.version}"
                paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={self._rv}"}
            return {"paths": paths}
        doc_paths: Obj = {}
        for res in resources:
            prefix = f"apis/{res.group}" if res.group else "api"
            if f"{prefix}/{res.version}" != group_version or "patch" not in res.verbs:
                continue
            scope = "/namespaces/{namespace}" if res.namespaced else ""
            doc_paths[f"/{prefix}/{res.version}{scope}/{res.plural}/{{name}}"] = {"patch": {
                "x-kubernetes-group-version-kind": {"group": res.group, "version": res.version,
                                                    "kind": res.kind},
                "parameters": [{"name": "fieldValidation", "in": "query",
                                "schema": {"type": "string", "uniqueItems": True}}],
                "responses": {"200": {"description": "OK"}}}}
        if not doc_paths:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        # Custom resources' schemas, named as the real server names them, for kubectl explain.
        schemas: Obj = {}
        for res in resources:
            prefix = f"apis/{res.group}" if res.group else "api"
            if f"{prefix}/{res.version}" == group_version and res.crd and res.schema:
                reversed_group = ".".join(reversed(res.group.split(".")))
                schemas[f"{reversed_group}.{res.version}.{res.kind}"] = {
                    **res.schema, "x-kubernetes-group-version-kind": [
                        {"group": res.group, "version": res.version, "kind": res.kind}]}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
                "paths": doc_paths, "components": {"schemas": schemas}}

    def _lookup(self, group: str, version: str, plural: str) -> Resource | None:
        with self._lock:
            return self._resources.get((group, version, plural))

    async def _serve_resource(self, request: web.Request, body: Any, group: str, version: str,
                              rest: list[str]) -> web.StreamResponse:
        query = request.query
        watch = query.get("watch", "") in ("true", "1")
        if rest[0] == "watch":  # the deprecated /watch/ paths
            watch, rest = True, rest[1:]
        namespace: str | None = None
        if (len(rest) >= 3 and rest[0] == "namespaces"
                and (res := self._lookup(group, version, rest[2])) is not None
                and res.namespaced):
            namespace, rest = rest[1], rest[2:]
        res = self._lookup(group, version, rest[0]) if rest else None
        if res is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource is not None and subresource not in res.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        method = request.method
        dry_run = bool(query.get("dryRun"))
        strict = query.get("fieldValidation") == "Strict"
        if method == "GET" and subresource == "log":
            return self._pod_log(res, namespace, name or "", query)
        if method == "GET" and (watch or name is None):
            field_selector = query.get("fieldSelector")
            if name is not None:  # GET .../pods/NAME?watch=true: a watch of one object
                field_selector = ",".join(filter(None, [field_selector,
                                                        f"metadata.name={name}"]))
            if watch:
                return await self._watch(request, res, namespace, query.get("labelSelector"),
                                         field_selector)
            items, rv = self._list(res, namespace, query.get("labelSelector"), field_selector)
            if self._wants_table(request):
                return web.json_response(self._table(res, items, rv))
            return web.json_response({"kind": f"{res.kind}List", "apiVersion": res.api_version,
                                      "metadata": {"resourceVersion": str(rv)}, "items": items})
        if method == "GET" and name is not None:
            with self._lock:
                obj = self.view(res, self._current(res, namespace, name))
            if self._wants_table(request):
                return web.json_response(self._table(res, [obj], self._rv))
            return web.json_response(obj)
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(method)
        if verb is None or verb not in res.verbs:
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource")
        if method == "POST" and name is None:
            if res.namespaced and namespace is None:
                raise ApiError(404, "NotFound", "the server could not find the requested "
                               "resource")
            obj = self._create(res, namespace, body, dry_run=dry_run, strict=strict)
            return web.json_response(self.view(res, obj), status=201)
        if method == "PUT" and name is not None:
            obj = self._update(res, namespace, name, body, subresource=subresource,
                               dry_run=dry_run, strict=strict)
            return web.json_response(self.view(res, obj))
        if method == "PATCH" and name is not None:
            content_type = request.headers.get("Content-Type", "application/merge-patch+json")
            obj = self._patch(res, namespace, name, body, content_type,
                              subresource=subresource, dry_run=dry_run, strict=strict)
            return web.json_response(self.view(res, obj))
        if method == "DELETE" and name is not None:
            options = body if isinstance(body, dict) else {}
            obj = self._delete(res, namespace, name, options, dry_run=dry_run)
            return web.json_response(self.view(res, obj))
        if method == "DELETE":  # deletecollection
            items, _ = self._list(res, namespace, query.get("labelSelector"),
                                  query.get("fieldSelector"))
            deleted = [self.view(res, self._delete(res, o["metadata"].get("namespace"),
                                                   o["metadata"]["name"], dry_run=dry_run))
                       for o in items]
            return web.json_response({"kind": f"{res.kind}List", "apiVersion": res.api_version,
                                      "metadata": {"resourceVersion": str(self._rv)},
                                      "items": deleted})
        raise ApiError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource")

    def _pod_log(self, res: Resource, namespace: str | None, name: str,
                 query: Mapping[str, str]) -> web.Response:
        with self._lock:
            pod = self._current(res, namespace, name)
            containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
            container = query.get("container")
            if not container:
                logged = sorted({k[2] for k in self._logs if k[:2] == (namespace, name)})
                candidates = containers or logged
                if len(candidates) > 1:
                    raise ApiError(400, "BadRequest",
                                   f"a container name must be specified for pod {name}, "
                                   f"choose one of: [{' '.join(candidates)}]")
                container = candidates[0] if candidates else ""
            elif containers and container not in containers:
                raise ApiError(400, "BadRequest",
                               f"container {container} is not valid for pod {name}")
            previous = query.get("previous", "") in ("true", "1")
            text = self._logs.get((namespace or "", name, container, previous))
        if text is None:
            if previous:
                raise ApiError(400, "BadRequest", f'previous terminated container '
                               f'"{container}" in pod "{name}" not found')
            text = ""
        if "tailLines" in query:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(query["tailLines"]):]) if int(query["tailLines"]) else ""
        if "limitBytes" in query:
            text = text.encode()[: int(query["limitBytes"])].decode(errors="ignore")
        return web.Response(text=text, content_type="text/plain")

    @staticmethod
    def _wants_table(request: web.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    def _table(self, res: Resource, items: list[Obj], rv: int) -> Obj:
        columns: list[Obj] = [{"name": "Name", "type": "string", "format": "name",
                               "description": "Name must be unique within a namespace.",
                               "priority": 0}]
        printer = list(res.printer_columns) or [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        for column in printer:
            columns.append({"name": column["name"], "type": column.get("type", "string"),
                            "format": column.get("format", ""),
                            "description": column.get("description", ""),
                            "priority": column.get("priority", 0)})
        rows = []
        for obj in items:
            cells: list[Any] = [obj["metadata"]["name"]]
            for column in printer:
                cells.append(self._cell(column, _match_jsonpath(obj, column["jsonPath"])))
            rows.append({"cells": cells, "object": {
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"]}})
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": str(rv)}, "columnDefinitions": columns,
                "rows": rows}

    @staticmethod
    def _cell(column: Mapping[str, Any], value: Any) -> Any:
        if value is None:
            return None
        kind = column.get("type", "string")
        if kind == "date" and isinstance(value, str):
            try:
                stamp = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except ValueError:
                return value
            return human_duration((datetime.now(UTC) - stamp).total_seconds())
        if kind == "string" and not isinstance(value, str):
            return json.dumps(value) if isinstance(value, dict | list) else go_value(value)
        return value

    async def _watch(self, request: web.Request, res: Resource, namespace: str | None,
                     label_selector: str | None, field_selector: str | None) -> web.StreamResponse:
        matches = self._select(res, namespace, label_selector, field_selector)
        since = request.query.get("resourceVersion", "")
        timeout = float(request.query.get("timeoutSeconds") or 0) or None
        deadline = time.monotonic() + timeout if timeout else None
        if since and not since.isdigit():
            raise ApiError(400, "BadRequest", f"invalid resource version: {since}")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        initial: list[Obj] = []
        with self._lock:
            if not since or since == "0":
                # No version: the current state as ADDED events, then changes from now on.
                initial = [self.view(res, obj) for _, obj in sorted(self._objects[res.key].items())]
                position = len(self._history)
            else:
                position = bisect.bisect_right(self._history_rvs, int(since))
        for obj in initial:
            if matches(obj):
                await response.write(_line({"type": "ADDED", "object": obj}))
        if request.query.get("sendInitialEvents") == "true":
            # Streaming lists (kopf's settings.watching.initial_streaming) wait for this mark.
            await response.write(_line({"type": "BOOKMARK", "object": {
                "kind": res.kind, "apiVersion": res.api_version, "metadata": {
                    "resourceVersion": str(self._rv),
                    "annotations": {"k8s.io/initial-events-end": "true"}}}}))
        while not self._closing:
            changed = self._changed
            assert changed is not None
            with self._lock:
                events = self._history[position:]
                position = len(self._history)
            for event in events:
                if event.key != res.key:
                    continue
                obj = self.view(res, event.obj)
                if matches(obj):
                    await response.write(_line({"type": event.type, "object": obj}))
            remaining = deadline - time.monotonic() if deadline else 1.0
            if remaining <= 0 or request.transport is None or request.transport.is_closing():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 1.0))
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response

    # Last in the class: a method named ``list`` shadows the builtin for annotations below it.
    def list(self, resource: str, namespace: str | None = None, *,
             label_selector: str | None = None, field_selector: str | None = None) -> list[Obj]:
        """Objects of a resource (every namespace when ``namespace`` is None), as served."""
        return self._list(self.resource(resource), namespace, label_selector, field_selector)[0]


def _line(event: Obj) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


__all__ = ["ApiError", "Emulator", "RecordedRequest", "Resource", "TokenIdentity", "WatchEvent",
           "human_duration", "now_rfc3339"]
