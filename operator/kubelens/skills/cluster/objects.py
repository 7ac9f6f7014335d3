"""Views of the objects a diagnosis checks against: a Deployment's revision history,
Jobs and CronJobs, StorageClasses and a ConfigMap's keys (never its values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelens.skills.cluster.common import (
    condition,
    items,
    meta,
    name_of,
    namespace_of,
    section,
    short,
)
from kubelens.skills.cluster.podspec import env_from_view, env_view, resources_view

REVISION = "deployment.kubernetes.io/revision"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


# --------------------------------------------------------------------------- revisions


def template_digest(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What differs between two revisions' pod templates, per container."""
    out: dict[str, dict[str, Any]] = {}
    for container in items(section(template, "spec"), "containers"):
        out[str(container.get("name"))] = {
            "image": container.get("image"),
            "env": {e["name"]: e.get("value", e.get("from")) for e in env_view(container)},
            "envFrom": env_from_view(container),
            "resources": resources_view(container),
            "args": short(" ".join(str(a) for a in container.get("args") or [])),
        }
    return out


def template_changes(
    before: Mapping[str, dict[str, Any]], after: Mapping[str, dict[str, Any]]
) -> list[str]:
    """Changes from one revision's template to the next, as lines a person reads."""
    changes: list[str] = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old is None or new is None:
            changes.append(f"container {name} {'added' if old is None else 'removed'}")
            continue
        for key in ("image", "args", "resources", "envFrom"):
            if old[key] != new[key]:
                changes.append(f"{name}: {key} {old[key]!r} -> {new[key]!r}")
        for env in sorted(set(old["env"]) | set(new["env"])):
            if env not in old["env"]:
                changes.append(f"{name}: env {env} added")
            elif env not in new["env"]:
                changes.append(f"{name}: env {env} removed")
            elif old["env"][env] != new["env"][env]:
                changes.append(f"{name}: env {env} changed")
    return changes


def revision_history(replica_sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A Deployment's ReplicaSets, oldest revision first, each with what it changed."""
    ordered = sorted(
        replica_sets, key=lambda rs: int((meta(rs).get("annotations") or {}).get(REVISION, 0))
    )
    history: list[dict[str, Any]] = []
    previous: Mapping[str, dict[str, Any]] | None = None
    for replica_set in ordered:
        status = section(replica_set, "status")
        digest = template_digest(section(section(replica_set, "spec"), "template"))
        entry: dict[str, Any] = {
            "revision": int((meta(replica_set).get("annotations") or {}).get(REVISION, 0)),
            "replicaSet": name_of(replica_set),
            "created": meta(replica_set).get("creationTimestamp"),
            "replicas": status.get("replicas", 0),
            "ready": status.get("readyReplicas", 0),
            "images": {name: c["image"] for name, c in digest.items()},
        }
        if previous is not None:
            entry["changes"] = template_changes(previous, digest) or ["no template change"]
        history.append(entry)
        previous = digest
    return history


# --------------------------------------------------------------------------- jobs


def job_view(job: Mapping[str, Any]) -> dict[str, Any]:
    spec, status = section(job, "spec"), section(job, "status")
    view: dict[str, Any] = {
        "name": name_of(job),
        "namespace": namespace_of(job),
        "active": status.get("active", 0),
        "succeeded": status.get("succeeded", 0),
        "failed": status.get("failed", 0),
        "backoffLimit": spec.get("backoffLimit", 6),
        "startTime": status.get("startTime"),
        "completionTime": status.get("completionTime"),
        "conditions": [_condition(c) for c in items(status, "conditions")],
    }
    owners = [o for o in items(meta(job), "ownerReferences") if o.get("kind") == "CronJob"]
    if owners:
        view["cronJob"] = owners[0].get("name")
    if spec.get("activeDeadlineSeconds"):
        view["activeDeadlineSeconds"] = spec.get("activeDeadlineSeconds")
    return view


def _condition(entry: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("type", "status", "reason", "message", "lastTransitionTime")
    return {k: (short(entry[k]) if k == "message" else entry[k]) for k in keys if k in entry}


def cronjob_view(cronjob: Mapping[str, Any]) -> dict[str, Any]:
    spec, status = section(cronjob, "spec"), section(cronjob, "status")
    return {
        "name": name_of(cronjob),
        "namespace": namespace_of(cronjob),
        "schedule": spec.get("schedule"),
        "suspend": bool(spec.get("suspend")),
        "concurrencyPolicy": spec.get("concurrencyPolicy", "Allow"),
        "active": [a.get("name") for a in items(status, "active")],
        "lastScheduleTime": status.get("lastScheduleTime"),
        "lastSuccessfulTime": status.get("lastSuccessfulTime"),
    }


def job_failed(job: Mapping[str, Any]) -> bool:
    failed = condition(job, "Failed")
    return bool(failed and failed.get("status") == "True")


# --------------------------------------------------------------------------- storage, config


def storage_class_view(storage_class: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": name_of(storage_class),
        "default": (meta(storage_class).get("annotations") or {}).get(DEFAULT_CLASS) == "true",
        "provisioner": storage_class.get("provisioner"),
        "volumeBindingMode": storage_class.get("volumeBindingMode", "Immediate"),
        "reclaimPolicy": storage_class.get("reclaimPolicy", "Delete"),
        "allowVolumeExpansion": bool(storage_class.get("allowVolumeExpansion")),
    }


def configmap_keys(configmap: Mapping[str, Any]) -> dict[str, Any]:
    """A ConfigMap's keys and sizes: enough to check "the mounted file is missing",
    never the values (they may hold anything)."""
    data = configmap.get("data") or {}
    binary = configmap.get("binaryData") or {}
    return {
        "name": name_of(configmap),
        "namespace": namespace_of(configmap),
        "keys": {key: f"{len(str(value))} characters" for key, value in sorted(data.items())},
        "binaryKeys": sorted(binary),
        "immutable": bool(configmap.get("immutable")),
    }
