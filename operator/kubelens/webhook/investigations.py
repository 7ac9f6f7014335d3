"""From alert groups to Investigation objects: names, namespace, reason, context.

Plain functions over validated notifications; no I/O. Everything an alert carries
(labels, annotations, URLs) is untrusted text: it only ever lands in ``spec.reason``
and ``spec.context`` as data, redacted and bounded, never in a name, a label or a
selector.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubelens.kube import GROUP, LABEL_ALERT_GROUP, VERSION
from kubelens.models import timestamp
from kubelens.redact import redact, redact_text
from kubelens.webhook.payload import Alert, AlertmanagerNotification

NAME_PREFIX = "alert-"
GROUP_HASH_LENGTH = 10
ANNOTATION_GROUP_KEY = "kubelens.io/alert-group-key"
ANNOTATION_RESOLVED_AT = "kubelens.io/resolved-at"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "kubelens-webhook"
REASON_MAX = 2000
#: alertsOmitted is clamped here: Alertmanager's truncatedAlerts is a uint64, and a
#: number past int64 would not survive the API server's JSON.
_OMITTED_MAX = 1_000_000_000

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class ContextLimits:
    """Bounds on what one Investigation keeps from its alert group (it lives in etcd
    and is shown to the model, so it must stay small)."""

    max_alerts: int = 50
    max_text: int = 1024
    max_map_entries: int = 64
    max_context_bytes: int = 256 * 1024


def group_hash(group_key: str) -> str:
    """The group's short id: first hex digits of sha256(groupKey); a label value."""
    return hashlib.sha256(group_key.encode()).hexdigest()[:GROUP_HASH_LENGTH]


def investigation_name(group: str, sequence: int) -> str:
    """``alert-<hash>`` for a group's first Investigation, ``alert-<hash>-<n>`` after."""
    base = NAME_PREFIX + group
    return base if sequence <= 1 else f"{base}-{sequence}"


def sequence_of(name: str, group: str) -> int:
    """The inverse of :func:`investigation_name` (0 for a name that is not the group's)."""
    base = NAME_PREFIX + group
    if name == base:
        return 1
    suffix = name.removeprefix(base + "-")
    return int(suffix) if suffix != name and suffix.isdigit() else 0


def namespace_for(notification: AlertmanagerNotification, default: str) -> str:
    """The group's ``namespace`` label (common label, else the one every alert that has
    it agrees on); the default when it is absent, ambiguous or not a valid name."""
    candidate = notification.common_labels.get("namespace")
    if candidate is None:
        seen = {a.labels["namespace"] for a in notification.alerts if "namespace" in a.labels}
        candidate = seen.pop() if len(seen) == 1 else None
    return candidate if candidate and _DNS_LABEL.match(candidate) else default


def reason_for(notification: AlertmanagerNotification) -> str:
    """A one-line reason: the alert name and its summary (or description)."""
    first = notification.alerts[0]
    alertname = (
        notification.common_labels.get("alertname")
        or notification.group_labels.get("alertname")
        or first.labels.get("alertname")
        or ""
    ).strip()
    texts = (
        notification.common_annotations.get("summary"),
        first.annotations.get("summary"),
        notification.common_annotations.get("description"),
        first.annotations.get("description"),
    )
    text = next((t.strip() for t in texts if t and t.strip()), "")
    if not text:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(notification.group_labels.items()))
        text = f"Alertmanager alert group {{{labels}}} is firing"
    if alertname and not text.startswith(alertname):
        text = f"{alertname}: {text}"
    reason = redact_text(" ".join(text.split()))[:REASON_MAX].strip()
    return reason or "Alertmanager alert group is firing"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded_map(values: Mapping[str, str], limits: ContextLimits) -> dict[str, str]:
    items = sorted(values.items())[: limits.max_map_entries]
    return {_cut(k, limits.max_text): _cut(v, limits.max_text) for k, v in items}


def alert_record(alert: Alert, limits: ContextLimits) -> dict[str, Any]:
    """One alert as kept in ``spec.context.alerts``: bounded and redacted."""
    record: dict[str, Any] = {
        "status": alert.status.value,
        "labels": _bounded_map(alert.labels, limits),
        "annotations": _bounded_map(alert.annotations, limits),
    }
    if alert.starts_at is not None:
        record["startsAt"] = timestamp(alert.starts_at)
    if alert.ends_at is not None:
        record["endsAt"] = timestamp(alert.ends_at)
    if alert.generator_url:
        record["generatorURL"] = _cut(alert.generator_url, limits.max_text)
    safe: dict[str, Any] = redact(record)
    return {"fingerprint": _cut(alert.identity, 64), **safe}


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def merge_context(
    context: Mapping[str, Any], notification: AlertmanagerNotification, limits: ContextLimits
) -> dict[str, Any]:
    """``context`` with the notification folded in: alerts merged by fingerprint (a
    known alert is updated in place, a new one appended while there is room), the
    group-level fields replaced by the latest notification's."""
    alerts: list[dict[str, Any]] = [
        dict(a) for a in context.get("alerts") or [] if isinstance(a, Mapping)
    ]
    position = {a.get("fingerprint"): i for i, a in enumerate(alerts)}
    used = _size(alerts)
    left_out = notification.truncated_alerts
    for alert in notification.alerts:
        record = alert_record(alert, limits)
        known = position.get(record["fingerprint"])
        if known is not None:
            alerts[known] = record
            continue
        size = _size(record)
        if len(alerts) < limits.max_alerts and used + size <= limits.max_context_bytes:
            position[record["fingerprint"]] = len(alerts)
            alerts.append(record)
            used += size
        else:
            left_out += 1
    previous_left_out = context.get("alertsOmitted")
    group: dict[str, Any] = redact(
        {
            "receiver": _cut(notification.receiver, limits.max_text),
            "key": _cut(notification.group_key, limits.max_text),
            "labels": _bounded_map(notification.group_labels, limits),
            "commonLabels": _bounded_map(notification.common_labels, limits),
            "commonAnnotations": _bounded_map(notification.common_annotations, limits),
            "externalURL": _cut(notification.external_url, limits.max_text),
        }
    )
    return {
        **context,
        "source": "alertmanager",
        "status": notification.status.value,
        "alertGroup": group,
        "alerts": alerts,
        # Each notification carries the group's whole alert set, so the largest count
        # one notification could not store is the number left out (not a running sum).
        "alertsOmitted": min(
            _OMITTED_MAX,
            max(previous_left_out if isinstance(previous_left_out, int) else 0, left_out),
        ),
    }


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``: a key that is
    gone must be sent as null, or the API server keeps it."""
    patch: dict[str, Any] = {key: None for key in old.keys() - new.keys()}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif key not in old or before != value:
            patch[key] = value
    return patch


def new_investigation(
    notification: AlertmanagerNotification,
    group: str,
    sequence: int,
    namespace: str,
    limits: ContextLimits,
) -> dict[str, Any]:
    """The Investigation a firing notification opens for its group."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Investigation",
        "metadata": {
            "name": investigation_name(group, sequence),
            "namespace": namespace,
            "labels": {LABEL_ALERT_GROUP: group, LABEL_MANAGED_BY: MANAGED_BY},
            "annotations": {
                ANNOTATION_GROUP_KEY: redact_text(_cut(notification.group_key, limits.max_text))
            },
        },
        "spec": {
            "reason": reason_for(notification),
            "context": merge_context({}, notification, limits),
        },
    }
