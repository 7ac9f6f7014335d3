"""Shared plumbing for the cluster skills: a base class, quantities and pod summaries."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from kubelens.models import Subject, ToolResult
from kubelens.redact import redact_text
from kubelens.skills.base import Skill, ToolFunction
from kubelens.skills.cluster.source import ClusterSource, ClusterSourceError
from kubelens.skills.fit import VALUE_CAP, clip

#: Longest message (event, condition, container state) kept in a snapshot or tool result:
#: generous, because the informative part (an image digest, a key name) is often the end.
MESSAGE_CAP = VALUE_CAP

#: Container waiting reasons that mean the container cannot start, and what they are.
IMAGE_PULL_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "ErrImageNeverPull",
        "RegistryUnavailable",
    }
)
CONFIG_ERROR_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)
FAILING_WAITING_REASONS = IMAGE_PULL_REASONS | CONFIG_ERROR_REASONS | {"CrashLoopBackOff"}


class ClusterSkill(Skill):
    """A skill that reads the Kubernetes API through a :class:`ClusterSource`.

    ``namespace`` is the investigation's home: the default of every tool, not a wall —
    a tool given another namespace reads it (read-only, redacted like everything else),
    and node views read every namespace, because a neighbour pod is part of a node's
    story. None reads every namespace the source can see. A source failure inside a tool
    comes back as an error result carrying the source's message (what was read, and why
    it failed), never as an exception.
    """

    def __init__(self, source: ClusterSource, namespace: str | None = None) -> None:
        super().__init__()
        self.source = source
        self.namespace = namespace

    def add_tool(
        self, name: str, description: str, parameters: dict[str, Any], function: ToolFunction
    ) -> None:
        super().add_tool(name, description, parameters, _source_errors_as_results(function))

    def read(
        self,
        kind: str,
        errors: list[str],
        label_selector: str | None = None,
        field_selector: str | None = None,
        namespace: str | None = None,
        every_namespace: bool = False,
    ) -> list[dict[str, Any]]:
        """List for a snapshot: a failure is noted in ``errors`` and reads as no objects,
        so one forbidden kind does not blank the whole snapshot."""
        try:
            return self.source.list(
                kind,
                None if every_namespace else namespace or self.namespace,
                label_selector=label_selector,
                field_selector=field_selector,
            )
        except ClusterSourceError as exc:
            errors.append(str(exc))
            return []

    def list_kind(
        self,
        kind: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
        namespace: str | None = None,
    ) -> list[dict[str, Any]]:
        """Objects in ``namespace``, by default the investigation's."""
        return self.source.list(
            kind,
            namespace or self.namespace,
            label_selector=label_selector,
            field_selector=field_selector,
        )

    def list_every_namespace(
        self, kind: str, label_selector: str | None = None, field_selector: str | None = None
    ) -> list[dict[str, Any]]:
        return self.source.list(
            kind, None, label_selector=label_selector, field_selector=field_selector
        )

    def find(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """One object by name; with no namespace scope, the first namespace that has it."""
        namespace = namespace or self.namespace
        if namespace:
            return self.source.get(kind, namespace, name)
        matches = self.source.list(kind, None, field_selector=f"metadata.name={name}")
        return matches[0] if matches else None

    def where(self, namespace: str | None = None) -> str:
        """The namespace a tool read, as a message names it."""
        chosen = namespace or self.namespace
        return f"namespace {chosen}" if chosen else "any namespace"


def _source_errors_as_results(function: ToolFunction) -> ToolFunction:
    @functools.wraps(function)
    def guarded(**kwargs: Any) -> Any:
        try:
            return function(**kwargs)
        except ClusterSourceError as exc:
            return ToolResult.fail(str(exc))

    return guarded


# --------------------------------------------------------------------------- object access


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Mapping[str, Any]) -> str | None:
    value = meta(obj).get("namespace")
    return str(value) if value else None


def subject_of(obj: Mapping[str, Any]) -> Subject:
    return Subject(kind=str(obj.get("kind", "")), name=name_of(obj), namespace=namespace_of(obj))


def ref_of(obj: Mapping[str, Any]) -> str:
    namespace = namespace_of(obj)
    return f"{namespace}/{name_of(obj)}" if namespace else name_of(obj)


def section(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def items(obj: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = obj.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def short(text: Any, cap: int = MESSAGE_CAP) -> str:
    """A message fit for a snapshot: redacted, one line, bounded."""
    return clip(redact_text(" ".join(str(text or "").split())), cap)


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for entry in items(section(obj, "status"), "conditions"):
        if entry.get("type") == kind:
            return entry
    return None


#: The node conditions in which the kubelet reports a resource short (and evicts pods).
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")


def pressures(node: Mapping[str, Any]) -> list[str]:
    """The pressure conditions a node reports True."""
    return [c for c in PRESSURE_CONDITIONS if (condition(node, c) or {}).get("status") == "True"]


def owner_of(obj: Mapping[str, Any]) -> str | None:
    """``Kind/name`` of the controlling owner (a ReplicaSet, a StatefulSet, a Job...)."""
    owners = items(meta(obj), "ownerReferences")
    controller = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    if controller is None:
        return None
    return f"{controller.get('kind')}/{controller.get('name')}"


def label_selector_string(selector: Mapping[str, Any]) -> str:
    """A LabelSelector object as the string form list calls take."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in items(selector, "matchExpressions"):
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(str(v) for v in expression.get("values") or [])
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


# --------------------------------------------------------------------------- quantities

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}
_QUANTITY = re.compile(r"^\s*([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_quantity(value: Any) -> float | None:
    """A Kubernetes quantity (``500m``, ``1.5``, ``128Mi``, ``2G``) as a float, or None."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _QUANTITY.match(str(value))
    if not match:
        return None
    number, suffix = match.groups()
    try:
        base = float(number)
    except ValueError:
        return None
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    if suffix in _DECIMAL:
        return base * _DECIMAL[suffix]
    return None


# --------------------------------------------------------------------------- pods


def container_specs(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    spec = section(pod, "spec")
    every = items(spec, "initContainers") + items(spec, "containers")
    return {str(c.get("name")): c for c in every}


def container_statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = section(pod, "status")
    return items(status, "initContainerStatuses") + items(status, "containerStatuses")


def resources(container: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    spec = section(container, "resources")
    out: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        values = section(spec, part)
        chosen = {k: str(values[k]) for k in ("cpu", "memory") if k in values}
        if chosen:
            out[part] = chosen
    return out


def restarts(pod: Mapping[str, Any]) -> int:
    return sum(int(s.get("restartCount") or 0) for s in container_statuses(pod))


def is_ready(pod: Mapping[str, Any]) -> bool:
    ready = condition(pod, "Ready")
    return bool(ready and ready.get("status") == "True")


def is_finished(pod: Mapping[str, Any]) -> bool:
    return section(pod, "status").get("phase") in ("Succeeded", "Failed")


def is_problem_pod(pod: Mapping[str, Any]) -> bool:
    """Worth a look: not Ready while it should run, restarted, failed, or evicted."""
    phase = section(pod, "status").get("phase")
    if phase == "Succeeded":
        return False
    if phase == "Failed" or restarts(pod) > 0:
        return True
    return not is_ready(pod)


def state_text(state: Mapping[str, Any]) -> str:
    for key in ("waiting", "terminated", "running"):
        if key in state:
            reason = section(state, key).get("reason")
            return f"{key}:{reason}" if reason else key
    return "unknown"


def container_summary(status: Mapping[str, Any], spec: Mapping[str, Any] | None) -> dict[str, Any]:
    state = section(status, "state")
    summary: dict[str, Any] = {
        "name": status.get("name"),
        "image": status.get("image") or (spec or {}).get("image"),
        "ready": bool(status.get("ready")),
        "restarts": int(status.get("restartCount") or 0),
        "state": state_text(state),
    }
    for key in ("waiting", "terminated"):
        message = section(state, key).get("message")
        if message:
            summary["message"] = short(message)
        exit_code = section(state, key).get("exitCode")
        if exit_code is not None:
            summary["exitCode"] = exit_code
    last = section(section(status, "lastState"), "terminated")
    if last:
        summary["lastTerminated"] = {
            k: last[k] for k in ("reason", "exitCode", "finishedAt") if k in last
        }
    if spec is not None:
        summary.update(resources(spec))
    return summary


def pod_summary(pod: Mapping[str, Any]) -> dict[str, Any]:
    """A compact, model-friendly view of one pod."""
    status = section(pod, "status")
    specs = container_specs(pod)
    statuses = container_statuses(pod)
    ready_count = sum(1 for s in items(status, "containerStatuses") if s.get("ready"))
    total = len(items(section(pod, "spec"), "containers"))
    summary: dict[str, Any] = {
        "name": name_of(pod),
        "namespace": namespace_of(pod),
        "phase": status.get("phase"),
        "node": section(pod, "spec").get("nodeName"),
        # node skills name pods by UID when they cannot read names: this joins the two
        "uid": meta(pod).get("uid"),
        "ready": f"{ready_count}/{total}",
        "restarts": restarts(pod),
    }
    if status.get("reason"):
        summary["reason"] = status.get("reason")
    if status.get("message"):
        summary["message"] = short(status.get("message"))
    owner = owner_of(pod)
    if owner:
        summary["owner"] = owner
    summary["containers"] = [
        container_summary(s, specs.get(str(s.get("name")))) for s in statuses
    ] or [{"name": n, **resources(c)} for n, c in specs.items()]
    bad_conditions = [
        {
            k: (short(c[k]) if k == "message" else c[k])
            for k in ("type", "reason", "message")
            if c.get(k)
        }
        for c in items(status, "conditions")
        if c.get("status") != "True"
    ]
    if bad_conditions:
        summary["conditions"] = bad_conditions
    return summary


def pod_line(pod: Mapping[str, Any]) -> dict[str, Any]:
    """One row of a pod listing: smaller than :func:`pod_summary`."""
    reasons = sorted(
        {
            str(section(section(s, "state"), key).get("reason"))
            for s in container_statuses(pod)
            for key in ("waiting", "terminated")
            if section(section(s, "state"), key).get("reason")
        }
    )
    status = section(pod, "status")
    row: dict[str, Any] = {
        "name": name_of(pod),
        "namespace": namespace_of(pod),
        "phase": status.get("phase"),
        "ready": is_ready(pod),
        "restarts": restarts(pod),
        "node": section(pod, "spec").get("nodeName"),
    }
    owner = owner_of(pod)
    if owner:
        row["owner"] = owner
    if status.get("reason"):
        reasons.insert(0, str(status.get("reason")))
    if reasons:
        row["reasons"] = reasons
    return row


def sort_problem_first(pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(pods, key=lambda p: (not is_problem_pod(p), -restarts(p), ref_of(p)))


def limited(values: Sequence[Any], limit: int) -> dict[str, Any]:
    """A bounded list with the total, so the model knows when it saw only part."""
    return {"total": len(values), "shown": min(len(values), limit), "items": list(values[:limit])}


Predicate = Callable[[Mapping[str, Any]], bool]


_MISSING_OBJECT = re.compile(r'(?i)\b(configmap|secret)s?\s+"([^"]+)"\s+not found')
_MISSING_KEY = re.compile(
    r"(?i)couldn't find key\s+(\S+)\s+in\s+(ConfigMap|Secret)\s+(?:([\w.-]+)/)?([\w.-]+)"
)


def parse_missing_reference(message: str) -> dict[str, str] | None:
    """What a CreateContainerConfigError says is missing: a ConfigMap/Secret or one key."""
    key_match = _MISSING_KEY.search(message)
    if key_match:
        key, kind, namespace, name = key_match.groups()
        found = {
            "kind": "ConfigMap" if kind.lower() == "configmap" else "Secret",
            "name": name,
            "key": key,
        }
        if namespace:
            found["namespace"] = namespace
        return found
    object_match = _MISSING_OBJECT.search(message)
    if object_match:
        kind, name = object_match.groups()
        return {"kind": "ConfigMap" if kind.lower() == "configmap" else "Secret", "name": name}
    return None


#: Text that means a name did not resolve (glibc, musl, Go, Java, Node.js, Python).
DNS_FAILURE = re.compile(
    r"(?i)no such host|temporary failure in name resolution|could not resolve"
    r"|name or service not known|nodename nor servname|getaddrinfo (?:ENOTFOUND|EAI_AGAIN)"
    r"|UnknownHostException|server misbehaving|NXDOMAIN|name resolution failed"
    r"|can't resolve|bad address '"
    r"|lookup \S{1,253} on [\d.:\[\]a-f]{1,60}:53"
)


def event_time(event: Mapping[str, Any]) -> str:
    """When an event last happened, across the old and new event fields."""
    return str(
        event.get("lastTimestamp")
        or section(event, "series").get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or meta(event).get("creationTimestamp")
        or ""
    )


#: The fixed-period schedules a CronJob may name.
_CRON_MACROS = {"@hourly": 3600, "@daily": 86400, "@midnight": 86400, "@weekly": 604800}


def cron_period(schedule: str) -> timedelta | None:
    """The longest gap between two runs of a cron schedule that fires every day
    ("0 * * * *": an hour, "*/15 * * * *": 15 minutes, "30 2 * * *": a day), or None for
    one restricted by day of month, month or weekday (not worked out here)."""
    if schedule in _CRON_MACROS:
        return timedelta(seconds=_CRON_MACROS[schedule])
    fields = schedule.split()
    if len(fields) != 5 or any(f != "*" for f in fields[2:]):
        return None
    minutes, hours = _cron_values(fields[0], 60), _cron_values(fields[1], 24)
    if not minutes or not hours:
        return None
    runs = sorted(h * 60 + m for h in hours for m in minutes)
    gaps = [b - a for a, b in itertools.pairwise(runs)] + [runs[0] + 1440 - runs[-1]]
    return timedelta(minutes=max(gaps))


def _cron_values(field: str, size: int) -> list[int]:
    """The values one cron field allows (``*``, ``5``, ``*/15``, ``1-5``, ``0,30``)."""
    values: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            start, end = 0, size - 1
        elif "-" in base:
            low, _, high = base.partition("-")
            start, end = int(low), int(high)
        elif base.isdigit():
            start = end = int(base)
        else:
            return []
        if step and not step.isdigit():
            return []
        values.update(range(start, min(end, size - 1) + 1, int(step or 1)))
    return sorted(values)
