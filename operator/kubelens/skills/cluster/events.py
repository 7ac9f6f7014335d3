"""The ``events`` skill: recent Warning events and what they say about objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelens import anomalies
from kubelens.models import Severity, Subject, ToolResult
from kubelens.skills.base import Finding
from kubelens.skills.cluster.common import (
    DNS_FAILURE,
    ClusterSkill,
    event_time,
    limited,
    namespace_of,
    section,
    short,
)
from kubelens.skills.cluster.source import ClusterSource
from kubelens.skills.params import NAME, integer, params, string

#: Warning reasons worth a notification of their own (kubelet, scheduler, controllers).
NOTABLE_REASONS = frozenset(
    {
        "FailedScheduling",
        "FailedMount",
        "FailedAttachVolume",
        "BackOff",
        "Evicted",
        "OOMKilling",
        "SystemOOM",
        "FailedCreatePodSandBox",
        "FailedKillPod",
        "FailedCreate",
        "ProvisioningFailed",
        "NodeNotReady",
        "EvictionThresholdMet",
        "FreeDiskSpaceFailed",
        "ImageGCFailed",
        "Rebooted",
        "FailedPreStopHook",
        "FailedPostStartHook",
        "NetworkNotReady",
        "ExceededGracePeriod",
        "FailedSync",
        "FailedComputeMetricsReplicas",
        "FailedGetScale",
    }
)
#: Grouped warnings kept in a snapshot.
SNAPSHOT_WARNINGS = 30
#: Findings from one snapshot, so an event storm stays a handful of notifications.
MAX_FINDINGS = 25


class EventsSkill(ClusterSkill):
    name = "events"
    description = "Recent Warning events (scheduling, probes, mounts, evictions, back-off)."
    prompt = (
        "events: Warning events name the object and the reason (Unhealthy = probe failed, "
        "FailedScheduling, FailedMount, BackOff, Evicted, OOMKilling). Counts and times "
        "show whether a problem is ongoing."
    )

    def __init__(self, source: ClusterSource, namespace: str | None = None) -> None:
        super().__init__(source, namespace)
        self.add_tool(
            "warnings",
            "Recent Warning events, grouped, newest first.",
            params(limit=integer(1, 100)),
            self.warnings,
        )
        self.add_tool(
            "for_object",
            "All events of one object.",
            params(["kind", "name"], kind=string(63), name=NAME),
            self.for_object,
        )
        self.add_tool(
            "by_reason",
            "Events with one reason (e.g. FailedMount).",
            params(["reason"], reason=string(128)),
            self.by_reason,
        )

    def snapshot(self) -> dict[str, Any]:
        errors: list[str] = []
        events = self.read("Event", errors, field_selector="type=Warning")
        grouped = group_events(events)
        snapshot: dict[str, Any] = {
            "namespace": self.namespace,
            "warning_total": sum(int(g["count"]) for g in grouped),
            "warnings": grouped[:SNAPSHOT_WARNINGS],
        }
        if len(grouped) > SNAPSHOT_WARNINGS:
            snapshot["warnings_omitted"] = len(grouped) - SNAPSHOT_WARNINGS
        if errors:
            snapshot["errors"] = errors
        return snapshot

    def summarize(self, snapshot: Mapping[str, Any]) -> str:
        reasons = sorted({str(w.get("reason")) for w in snapshot.get("warnings") or []})
        text = f"{snapshot.get('warning_total', 0)} Warning events"
        return text + (f" ({', '.join(reasons[:5])})" if reasons else "")

    def findings(self, snapshot: Mapping[str, Any]) -> list[Finding]:
        found: list[Finding] = []
        for group in snapshot.get("warnings") or []:
            finding = warning_finding(group)
            if finding is not None:
                found.append(finding)
        return found[:MAX_FINDINGS]

    def warnings(self, limit: int = 20) -> ToolResult:
        grouped = group_events(self.list_kind("Event", field_selector="type=Warning"))
        if not grouped:
            return ToolResult.empty("no Warning events")
        return ToolResult.ok(limited(grouped, limit))

    def for_object(self, kind: str, name: str) -> ToolResult:
        events = self.list_kind(
            "Event", field_selector=f"involvedObject.kind={kind},involvedObject.name={name}"
        )
        if not events:
            return ToolResult.empty(f"no events for {kind} {name}")
        return ToolResult.ok(limited(group_events(events), 50))

    def by_reason(self, reason: str) -> ToolResult:
        events = self.list_kind("Event", field_selector=f"reason={reason}")
        if not events:
            return ToolResult.empty(f"no events with reason {reason}")
        return ToolResult.ok(limited(group_events(events), 50))


def group_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (object, reason, type), newest first, with the summed count; the
    kubelet's Unhealthy events per probe (liveness, readiness, startup), since each
    probe failing means something else."""
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for event in events:
        involved = section(event, "involvedObject")
        key = (
            str(involved.get("kind")),
            str(involved.get("namespace") or namespace_of(event)),
            str(involved.get("name")),
            str(event.get("reason")),
            str(event.get("type")),
            _probe_of(event),
        )
        when = event_time(event)
        count = int(event.get("count") or section(event, "series").get("count") or 1)
        group = groups.get(key)
        if group is None:
            groups[key] = {
                "type": event.get("type"),
                "reason": event.get("reason"),
                "object": {
                    "kind": key[0],
                    "namespace": involved.get("namespace") or namespace_of(event),
                    "name": key[2],
                },
                "message": short(event.get("message")),
                "count": count,
                "lastTimestamp": when,
                "node": section(event, "source").get("host") or event.get("reportingInstance"),
            }
            if involved.get("fieldPath"):
                groups[key]["fieldPath"] = involved.get("fieldPath")
        else:
            group["count"] += count
            if when > group["lastTimestamp"]:
                group["lastTimestamp"] = when
                group["message"] = short(event.get("message"))
    return sorted(groups.values(), key=lambda g: str(g["lastTimestamp"]), reverse=True)


def _probe_of(event: Mapping[str, Any]) -> str:
    """``Liveness`` of "Liveness probe failed: …" (an Unhealthy event), else ""."""
    if event.get("reason") != "Unhealthy":
        return ""
    first = str(event.get("message") or "").split(" ", 1)[0]
    return first if first in ("Liveness", "Readiness", "Startup") else ""


def warning_finding(group: Mapping[str, Any]) -> Finding | None:
    """The anomaly one grouped Warning event stands for, if any."""
    if group.get("type") != "Warning":
        return None
    involved = group.get("object") or {}
    subject = Subject(
        kind=str(involved.get("kind")),
        name=str(involved.get("name")),
        namespace=involved.get("namespace"),
    )
    reason, message = str(group.get("reason")), str(group.get("message") or "")
    where = f"{subject.kind} {subject.namespace + '/' if subject.namespace else ''}{subject.name}"
    evidence = {
        "reason": reason,
        "message": message,
        "count": group.get("count"),
        "lastTimestamp": group.get("lastTimestamp"),
        "node": group.get("node"),
        "object": dict(involved),
    }
    if reason == "Unhealthy" or "probe failed" in message.lower():
        probe = next((p for p in ("Liveness", "Readiness", "Startup") if p in message), "")
        evidence["probe"] = probe.lower() or None
        return Finding(
            anomaly_type=anomalies.PROBE_FAILURE,
            severity=Severity.WARNING,
            subject=subject,
            observation=f"{probe or 'A'} probe of {where} failed {group.get('count')} times: "
            f"{short(message)}",
            hypothesis="the application answers its probe too slowly or not at all",
            context=where,
            evidence=evidence,
        )
    if DNS_FAILURE.search(message):
        return Finding(
            anomaly_type=anomalies.DNS_FAILURE,
            severity=Severity.WARNING,
            subject=subject,
            observation=f"{reason} on {where}: a name did not resolve: {short(message)}",
            hypothesis="cluster DNS or the upstream resolver fails, or the name is wrong",
            context=where,
            evidence=evidence,
        )
    if reason in NOTABLE_REASONS:
        critical = reason in ("OOMKilling", "SystemOOM")
        return Finding(
            anomaly_type=anomalies.WARNING_EVENTS,
            severity=Severity.CRITICAL if critical else Severity.WARNING,
            subject=subject,
            observation=f"{reason} on {where} ({group.get('count')}x): {short(message)}",
            hypothesis="",
            context=where,
            evidence=evidence,
        )
    return None
