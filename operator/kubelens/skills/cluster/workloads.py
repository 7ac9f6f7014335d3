"""The ``workloads`` skill: rollouts of Deployments/StatefulSets/DaemonSets, PVCs, HPAs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelens import anomalies
from kubelens.models import Severity, Subject, ToolResult
from kubelens.skills.base import Finding
from kubelens.skills.cluster.common import (
    FAILING_WAITING_REASONS,
    ClusterSkill,
    condition,
    container_statuses,
    items,
    label_selector_string,
    limited,
    meta,
    name_of,
    namespace_of,
    pod_line,
    restarts,
    section,
    short,
)
from kubelens.skills.cluster.objects import (
    DEFAULT_CLASS,
    REVISION,
    configmap_keys,
    cronjob_view,
    job_failed,
    job_view,
    revision_history,
    storage_class_view,
)
from kubelens.skills.cluster.pods import config_references
from kubelens.skills.cluster.source import ClusterSource, ClusterSourceError
from kubelens.skills.params import NAME, NAMESPACE, enum, params

ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
LISTABLE_KINDS = (*ROLLOUT_KINDS, "Job", "HorizontalPodAutoscaler", "PersistentVolumeClaim")
SNAPSHOT_ROWS = 20
FAILING_PODS_SHOWN = 5


class WorkloadsSkill(ClusterSkill):
    name = "workloads"
    description = "Rollouts and revisions, Jobs/CronJobs, PVCs/StorageClasses, ConfigMap keys."
    prompt = (
        "workloads: a rollout is stuck when its new pods fail (ProgressDeadlineExceeded); "
        "the failing pods say why. A Pending PVC names a StorageClass that must exist."
    )

    def __init__(self, source: ClusterSource, namespace: str | None = None) -> None:
        super().__init__(source, namespace)
        kind = enum(LISTABLE_KINDS)
        self.add_tool(
            "list",
            "Workloads of a kind (default: all rollout kinds) with their state.",
            params(kind=kind, namespace=NAMESPACE),
            self.list_workloads,
        )
        self.add_tool(
            "rollout_status",
            "Rollout of one workload and its failing pods.",
            params(["kind", "name"], kind=enum(ROLLOUT_KINDS), name=NAME, namespace=NAMESPACE),
            self.rollout_status,
        )
        self.add_tool(
            "revisions",
            "A Deployment's revision history: images, and what changed (env, resources, args).",
            params(["name"], name=NAME, namespace=NAMESPACE),
            self.revisions,
        )
        self.add_tool(
            "pvcs",
            "PersistentVolumeClaims that are not Bound, and why.",
            params(namespace=NAMESPACE),
            self.pvcs,
        )
        self.add_tool(
            "storage_classes",
            "Every StorageClass: default, provisioner, binding mode.",
            params(),
            self.storage_classes,
        )
        self.add_tool(
            "jobs",
            "CronJobs and Jobs with their conditions, failed first.",
            params(namespace=NAMESPACE, cronjob=NAME),
            self.jobs,
        )
        self.add_tool(
            "configmap",
            "A ConfigMap's keys and sizes (never values), and which pods use it.",
            params(["name"], name=NAME, namespace=NAMESPACE),
            self.configmap,
        )

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> dict[str, Any]:
        errors: list[str] = []
        rollouts: list[dict[str, Any]] = []
        total = 0
        for kind in ROLLOUT_KINDS:
            for workload in self.read(kind, errors):
                total += 1
                status = rollout_state(workload)
                if not status["complete"]:
                    rollouts.append(self._with_pods(workload, status, errors))
        claims = [
            pvc_row(self, c, errors)
            for c in self.read("PersistentVolumeClaim", errors)
            if section(c, "status").get("phase") != "Bound"
        ]
        hpas = [hpa_row(h) for h in self.read("HorizontalPodAutoscaler", errors)]
        snapshot: dict[str, Any] = {
            "namespace": self.namespace,
            "workloads": total,
            "incomplete_rollouts": rollouts[:SNAPSHOT_ROWS],
            "unbound_pvcs": claims[:SNAPSHOT_ROWS],
            "hpas_at_max": [h for h in hpas if h["at_max"]][:SNAPSHOT_ROWS],
        }
        if errors:
            snapshot["errors"] = errors
        return snapshot

    def summarize(self, snapshot: Mapping[str, Any]) -> str:
        return (
            f"{snapshot.get('workloads', 0)} workloads, "
            f"{len(snapshot.get('incomplete_rollouts') or [])} rollouts incomplete, "
            f"{len(snapshot.get('unbound_pvcs') or [])} PVCs unbound"
        )

    def findings(self, snapshot: Mapping[str, Any]) -> list[Finding]:
        found: list[Finding] = []
        for row in snapshot.get("incomplete_rollouts") or []:
            if row.get("stuck"):
                found.append(rollout_finding(row))
        for row in snapshot.get("unbound_pvcs") or []:
            finding = pvc_finding(row)
            if finding is not None:
                found.append(finding)
        return found

    def _with_pods(
        self, workload: Mapping[str, Any], status: dict[str, Any], errors: list[str]
    ) -> dict[str, Any]:
        pods = self._new_pods(workload, errors)
        failing = [p for p in pods if pod_failing(p)]
        status["failing_pods"] = [pod_line(p) for p in failing[:FAILING_PODS_SHOWN]]
        status["failing_pod_count"] = len(failing)
        # stuck, not merely progressing: the controller gave up, or the new revision's pods
        # fail outright while it is being rolled out. Pods failing once every replica is
        # updated are the pods' own problem (their findings say why), not a rollout's.
        status["stuck"] = bool(
            status.get("deadline_exceeded") or (failing and rolling_out(status))
        ) and not status.get("paused")
        return status

    def _new_pods(self, workload: Mapping[str, Any], errors: list[str]) -> list[Mapping[str, Any]]:
        """The pods of the revision being rolled out (all the workload's pods if unknown)."""
        selector = label_selector_string(section(section(workload, "spec"), "selector"))
        if not selector:
            return []
        pods: list[Mapping[str, Any]] = []
        pods += self.read("Pod", errors, label_selector=selector, namespace=namespace_of(workload))
        kind = workload.get("kind")
        if kind == "Deployment":
            replica_sets = [
                rs
                for rs in self.read(
                    "ReplicaSet", errors, label_selector=selector, namespace=namespace_of(workload)
                )
                if any(
                    o.get("name") == name_of(workload) for o in items(meta(rs), "ownerReferences")
                )
            ]
            if replica_sets:
                newest = max(
                    replica_sets,
                    key=lambda rs: int((meta(rs).get("annotations") or {}).get(REVISION, 0) or 0),
                )
                pod_hash = (meta(newest).get("labels") or {}).get("pod-template-hash")
                if pod_hash:
                    return [
                        p
                        for p in pods
                        if (meta(p).get("labels") or {}).get("pod-template-hash") == pod_hash
                    ]
        if kind == "StatefulSet":
            revision = section(workload, "status").get("updateRevision")
            if revision:
                return [
                    p
                    for p in pods
                    if (meta(p).get("labels") or {}).get("controller-revision-hash") == revision
                ]
        return pods

    # ------------------------------------------------------------------ tools

    def list_workloads(self, kind: str | None = None, namespace: str | None = None) -> ToolResult:
        kinds = [kind] if kind else list(ROLLOUT_KINDS)
        rows: list[dict[str, Any]] = []
        for each in kinds:
            for obj in self.list_kind(each, namespace=namespace):
                if each in ROLLOUT_KINDS:
                    row = rollout_state(obj)
                elif each == "HorizontalPodAutoscaler":
                    row = hpa_row(obj)
                elif each == "PersistentVolumeClaim":
                    row = pvc_row(self, obj, [])
                else:
                    row = job_row(obj)
                rows.append(row)
        if not rows:
            return ToolResult.empty(f"no {' or '.join(kinds)} objects in {self.where(namespace)}")
        return ToolResult.ok(limited(rows, 100))

    def rollout_status(self, kind: str, name: str, namespace: str | None = None) -> ToolResult:
        workload = self.find(kind, name, namespace)
        if workload is None:
            return ToolResult.empty(f"no {kind} named {name!r} in {self.where(namespace)}")
        errors: list[str] = []
        status = self._with_pods(workload, rollout_state(workload), errors)
        if errors:
            status["errors"] = errors
        return ToolResult.ok(status)

    def revisions(self, name: str, namespace: str | None = None) -> ToolResult:
        deployment = self.find("Deployment", name, namespace)
        if deployment is None:
            return ToolResult.empty(f"no Deployment named {name!r} in {self.where(namespace)}")
        owned = [
            rs
            for rs in self.list_kind("ReplicaSet", namespace=namespace_of(deployment))
            if any(
                o.get("kind") == "Deployment" and o.get("name") == name
                for o in items(meta(rs), "ownerReferences")
            )
        ]
        if not owned:
            return ToolResult.empty(f"no ReplicaSet of Deployment {name} is recorded")
        history = revision_history(owned)
        # newest last (see fit.NEWEST_LAST): a cut keeps the revisions that matter
        return ToolResult.ok(
            {
                "deployment": name,
                "namespace": namespace_of(deployment),
                "current": history[-1]["revision"],
                "revisions": history,
            }
        )

    def pvcs(self, namespace: str | None = None) -> ToolResult:
        errors: list[str] = []
        claims = [
            pvc_row(self, c, errors)
            for c in self.list_kind("PersistentVolumeClaim", namespace=namespace)
            if section(c, "status").get("phase") != "Bound"
        ]
        if not claims:
            return ToolResult.empty(
                f"every PersistentVolumeClaim in {self.where(namespace)} is Bound"
            )
        result = limited(claims, 50)
        if errors:
            result["errors"] = errors
        return ToolResult.ok(result)

    def storage_classes(self) -> ToolResult:
        classes = self.source.list("StorageClass")
        if not classes:
            return ToolResult.empty("no StorageClass exists: claims need a static PersistentVolume")
        return ToolResult.ok(limited([storage_class_view(c) for c in classes], 50))

    def jobs(self, namespace: str | None = None, cronjob: str | None = None) -> ToolResult:
        errors: list[str] = []
        cronjobs = [
            c
            for c in self.read("CronJob", errors, namespace=namespace)
            if cronjob is None or name_of(c) == cronjob
        ]
        jobs = [
            j
            for j in self.read("Job", errors, namespace=namespace)
            if cronjob is None or job_view(j).get("cronJob") == cronjob
        ]
        if not cronjobs and not jobs:
            scope = f" of CronJob {cronjob}" if cronjob else ""
            return ToolResult.empty(
                f"no Jobs{scope} in {self.where(namespace)}"
                + (f" ({'; '.join(errors)})" if errors else "")
            )
        # failed first, newest first within each group
        jobs.sort(key=lambda j: str(section(j, "status").get("startTime") or ""), reverse=True)
        jobs.sort(key=lambda j: not job_failed(j))
        result: dict[str, Any] = {
            "cronjobs": limited([cronjob_view(c) for c in cronjobs], 30),
            "jobs": limited([job_view(j) for j in jobs], 30),
        }
        if errors:
            result["errors"] = errors
        return ToolResult.ok(result)

    def configmap(self, name: str, namespace: str | None = None) -> ToolResult:
        found = self.find("ConfigMap", name, namespace)
        if found is None:
            return ToolResult.empty(f"no ConfigMap named {name!r} in {self.where(namespace)}")
        view = configmap_keys(found)
        view["used_by"] = [
            name_of(p)
            for p in self.list_kind("Pod", namespace=namespace_of(found))
            if f"ConfigMap/{name}" in {ref.split(":")[0] for ref in config_references(p)}
        ][:20]
        return ToolResult.ok(view)


# ---------------------------------------------------------------------- rollout state


def pod_failing(pod: Mapping[str, Any]) -> bool:
    """A pod that will not become ready by waiting: it cannot start, crashes, or cannot
    be scheduled."""
    for status in container_statuses(pod):
        waiting = section(section(status, "state"), "waiting")
        if waiting.get("reason") in FAILING_WAITING_REASONS:
            return True
        if section(section(status, "lastState"), "terminated").get("reason") == "OOMKilled":
            return True
    scheduled = condition(pod, "PodScheduled")
    if scheduled and scheduled.get("reason") == "Unschedulable":
        return True
    ready = condition(pod, "Ready")
    return bool(restarts(pod) > 0 and ready and ready.get("status") != "True")


def rolling_out(row: Mapping[str, Any]) -> bool:
    """Whether a new revision is still being rolled out. A Deployment says so itself: its
    Progressing condition turns to NewReplicaSetAvailable once the new ReplicaSet is
    complete, so pods that fail after that are the pods' problem, not a rollout's.
    StatefulSets and DaemonSets carry no such verdict, so they count as rolling out."""
    if row.get("kind") != "Deployment":
        return True
    desired = int(row.get("desired") or 0)
    finished = (
        row.get("progressing_reason") == "NewReplicaSetAvailable"
        and int(row.get("updated") or 0) >= desired
        and int(row.get("current") or 0) <= desired
        and not row.get("observedGenerationLag")
    )
    return not finished


def rollout_state(workload: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(workload.get("kind"))
    spec, status = section(workload, "spec"), section(workload, "status")
    generation = meta(workload).get("generation")
    observed = status.get("observedGeneration")
    row: dict[str, Any] = {
        "kind": kind,
        "name": name_of(workload),
        "namespace": namespace_of(workload),
    }
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        available = int(status.get("numberAvailable") or 0)
    else:
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        updated = int(status.get("updatedReplicas") or 0)
        ready = int(status.get("readyReplicas") or 0)
        available = int(status.get("availableReplicas") or ready)
    row.update({"desired": desired, "updated": updated, "ready": ready, "available": available})
    if kind == "Deployment":
        row["current"] = int(status.get("replicas") or 0)
    if kind == "StatefulSet" and status.get("updateRevision"):
        row["updateRevision"] = status.get("updateRevision")
        row["currentRevision"] = status.get("currentRevision")
    lag = 0
    if generation is not None and observed is not None:
        lag = max(0, int(generation) - int(observed))
    if lag:
        row["observedGenerationLag"] = lag
    progressing = condition(workload, "Progressing")
    if progressing and progressing.get("reason"):
        row["progressing_reason"] = progressing.get("reason")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        row["deadline_exceeded"] = True
        row["condition"] = {
            "type": "Progressing",
            "reason": "ProgressDeadlineExceeded",
            "message": short(progressing.get("message")),
        }
    if spec.get("paused"):
        row["paused"] = True
    row["images"] = sorted(
        {
            str(c.get("image"))
            for c in items(section(section(spec, "template"), "spec"), "containers")
        }
    )
    extra_old = kind == "Deployment" and row["current"] > desired
    row["complete"] = (
        not lag
        and not row.get("deadline_exceeded")
        and not extra_old
        and updated >= desired
        and ready >= desired
        and available >= desired
    )
    return row


def rollout_finding(row: Mapping[str, Any]) -> Finding:
    kind, name, namespace = str(row.get("kind")), str(row.get("name")), row.get("namespace")
    subject = Subject(kind=kind, name=name, namespace=namespace)
    failing = list(row.get("failing_pods") or [])
    reasons = sorted({r for p in failing for r in p.get("reasons") or []})
    why = f"; new pods fail: {', '.join(reasons)}" if reasons else ""
    return Finding(
        anomaly_type=anomalies.ROLLOUT_STUCK,
        severity=Severity.CRITICAL,
        subject=subject,
        observation=(
            f"rollout of {kind} {namespace}/{name} is stuck: {row.get('updated')}/"
            f"{row.get('desired')} updated, {row.get('ready')} ready, "
            f"{row.get('available')} available"
            + (", ProgressDeadlineExceeded" if row.get("deadline_exceeded") else "")
            + why
        ),
        hypothesis="pods of the new revision do not become ready, so the rollout cannot proceed",
        context=f"{kind} {namespace}/{name}",
        evidence={
            **{
                k: row.get(k)
                for k in (
                    "kind",
                    "name",
                    "namespace",
                    "desired",
                    "updated",
                    "ready",
                    "available",
                    "images",
                    "condition",
                    "deadline_exceeded",
                    "failing_pod_count",
                )
            },
            "failing_pods": [
                {"name": p.get("name"), "reasons": p.get("reasons"), "node": p.get("node")}
                for p in failing
            ],
            "failing_reasons": reasons,
        },
    )


# ---------------------------------------------------------------------- claims, HPAs, jobs


def pvc_row(skill: ClusterSkill, claim: Mapping[str, Any], errors: list[str]) -> dict[str, Any]:
    spec, status = section(claim, "spec"), section(claim, "status")
    namespace, name = namespace_of(claim), name_of(claim)
    row: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "phase": status.get("phase"),
        "request": section(section(spec, "resources"), "requests").get("storage"),
        "accessModes": spec.get("accessModes"),
    }
    class_name = spec.get("storageClassName")
    try:
        if class_name is None:
            # no class named: the cluster's default class applies, if there is one
            defaults = [
                sc
                for sc in skill.source.list("StorageClass")
                if (meta(sc).get("annotations") or {}).get(DEFAULT_CLASS) == "true"
            ]
            storage_class = defaults[0] if defaults else None
            row["storage_class"] = name_of(storage_class) if storage_class else None
            row["storage_class_default"] = True
        elif class_name == "":
            storage_class = None
            row["storage_class"] = ""
            row["static_binding"] = True
        else:
            storage_class = skill.source.get("StorageClass", None, str(class_name))
            row["storage_class"] = class_name
        row["storage_class_exists"] = storage_class is not None
        if storage_class is not None:
            row["provisioner"] = storage_class.get("provisioner")
            row["volumeBindingMode"] = storage_class.get("volumeBindingMode", "Immediate")
        events = skill.source.list(
            "Event",
            namespace,
            field_selector=f"involvedObject.kind=PersistentVolumeClaim,involvedObject.name={name}",
        )
        row["events"] = [
            {"reason": e.get("reason"), "message": short(e.get("message"))}
            for e in events
            if e.get("type") == "Warning"
        ][:3]
        row["used_by"] = [
            name_of(p)
            for p in skill.source.list("Pod", namespace)
            if any(
                section(v, "persistentVolumeClaim").get("claimName") == name
                for v in items(section(p, "spec"), "volumes")
            )
        ][:10]
    except ClusterSourceError as exc:
        errors.append(str(exc))
    return row


def pvc_finding(row: Mapping[str, Any]) -> Finding | None:
    if row.get("phase") != "Pending":
        return None
    # WaitForFirstConsumer claims stay Pending, as designed, until a pod uses them
    if row.get("volumeBindingMode") == "WaitForFirstConsumer" and not row.get("used_by"):
        return None
    name, namespace = str(row.get("name")), row.get("namespace")
    class_name = row.get("storage_class")
    if row.get("static_binding"):
        why = "it names no StorageClass, so only a matching pre-created PersistentVolume binds it"
    elif class_name is None:
        why = "it names no StorageClass and the cluster has no default StorageClass"
    elif not row.get("storage_class_exists"):
        why = f"its StorageClass {class_name!r} does not exist"
    else:
        why = f"the provisioner of StorageClass {class_name!r} has not provisioned a volume"
    return Finding(
        anomaly_type=anomalies.PVC_PENDING,
        severity=Severity.WARNING,
        subject=Subject(kind="PersistentVolumeClaim", name=name, namespace=namespace),
        observation=f"PersistentVolumeClaim {namespace}/{name} is Pending"
        + (
            f" (StorageClass {class_name!r}"
            + ("" if row.get("storage_class_exists") else ", which does not exist")
            + ")"
            if class_name
            else ""
        )
        + (f", used by pods {', '.join(row.get('used_by') or [])}" if row.get("used_by") else ""),
        hypothesis=why,
        context=f"PersistentVolumeClaim {namespace}/{name}",
        evidence={
            k: row.get(k)
            for k in (
                "name",
                "namespace",
                "storage_class",
                "storage_class_exists",
                "storage_class_default",
                "provisioner",
                "volumeBindingMode",
                "request",
                "accessModes",
                "events",
                "used_by",
            )
            if k in row
        },
    )


def hpa_row(hpa: Mapping[str, Any]) -> dict[str, Any]:
    spec, status = section(hpa, "spec"), section(hpa, "status")
    maximum = int(spec.get("maxReplicas") or 0)
    current = int(status.get("currentReplicas") or 0)
    desired = int(status.get("desiredReplicas") or current)
    target = section(spec, "scaleTargetRef")
    limited_condition = next(
        (
            c
            for c in items(status, "conditions")
            if c.get("type") == "ScalingLimited" and c.get("status") == "True"
        ),
        None,
    )
    return {
        "name": name_of(hpa),
        "namespace": namespace_of(hpa),
        "target": f"{target.get('kind')}/{target.get('name')}",
        "min": spec.get("minReplicas", 1),
        "max": maximum,
        "current": current,
        "desired": desired,
        "at_max": bool(maximum and current >= maximum and desired >= maximum),
        "scaling_limited": short(limited_condition.get("message")) if limited_condition else None,
    }


def job_row(job: Mapping[str, Any]) -> dict[str, Any]:
    status = section(job, "status")
    failed = next(
        (
            c
            for c in items(status, "conditions")
            if c.get("type") == "Failed" and c.get("status") == "True"
        ),
        None,
    )
    return {
        "kind": "Job",
        "name": name_of(job),
        "namespace": namespace_of(job),
        "active": status.get("active", 0),
        "succeeded": status.get("succeeded", 0),
        "failed": status.get("failed", 0),
        "failure": {"reason": failed.get("reason"), "message": short(failed.get("message"))}
        if failed
        else None,
    }
