"""The causal evidence graph: from the symptom to the deepest failing cause.

Each case is a small cluster as ``kubectl get -o yaml`` shows it (built by the helpers
below) read through a StaticSource, analysed by the rule-based analyst with no
notification at all unless the case says so: the graph finds what Kubernetes reports.
"""

from __future__ import annotations

import json
from typing import Any

from kubelens.analyst import analyze
from kubelens.graph import Ref, build_graph, root_causes
from kubelens.graph.skill import GraphSkill
from kubelens.models import Confidence, OperatorResult, ToolStatus
from kubelens.skills.cluster.source import StaticSource

NOW = "2026-11-18T13:30:00Z"
EARLIER = "2026-11-18T13:20:00Z"
DAYS_AGO = "2026-11-14T09:00:00Z"
NODE = "ip-10-0-1-21"


def meta(name: str, namespace: str | None = "shop", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, **extra}
    if namespace:
        out["namespace"] = namespace
    return out


def owned(kind: str, name: str) -> list[dict[str, Any]]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "controller": True}]


def deployment(name: str, replicas: int, available: int) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": meta(name),
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
        "status": {"replicas": replicas, "availableReplicas": available},
    }


def replicaset(name: str, deployment_name: str, replicas: int, ready: int) -> dict[str, Any]:
    return {
        "kind": "ReplicaSet",
        "metadata": meta(name, ownerReferences=owned("Deployment", deployment_name)),
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready},
    }


def pod(
    name: str,
    owner: tuple[str, str] | None,
    *,
    namespace: str = "shop",
    labels: dict[str, str] | None = None,
    phase: str = "Running",
    ready: bool = True,
    node: str | None = NODE,
    container: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    uid: str | None = None,
) -> dict[str, Any]:
    extra: dict[str, Any] = {"labels": labels or {}}
    if owner:
        extra["ownerReferences"] = owned(*owner)
    if uid:
        extra["uid"] = uid
    spec: dict[str, Any] = {"containers": [container or {"name": "app", "image": "app:1"}]}
    if node:
        spec["nodeName"] = node
    if volumes:
        spec["volumes"] = volumes
    body: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            {"type": "Ready", "status": str(ready), "lastTransitionTime": EARLIER},
            {"type": "PodScheduled", "status": str(node is not None)},
        ],
        "containerStatuses": [status] if status else [],
    }
    return {"kind": "Pod", "metadata": meta(name, namespace, **extra), "spec": spec, "status": body}


def crash_looping(restarts: int, exit_code: int, finished: str = EARLIER) -> dict[str, Any]:
    return {
        "name": "app",
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
        "lastState": {
            "terminated": {"reason": "Error", "exitCode": exit_code, "finishedAt": finished}
        },
    }


def service(name: str, selector: dict[str, str], namespace: str = "shop", ip: str = "") -> dict:
    spec: dict[str, Any] = {"selector": selector, "ports": [{"port": 5432}]}
    if ip:
        spec["clusterIP"] = ip
    return {"kind": "Service", "metadata": meta(name, namespace), "spec": spec}


def warning(kind: str, name: str, reason: str, message: str, namespace: str = "shop") -> dict:
    return {
        "kind": "Event",
        "metadata": meta(f"{name}.{reason.lower()}", namespace),
        "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
        "type": "Warning",
        "reason": reason,
        "message": message,
        "count": 12,
        "lastTimestamp": NOW,
    }


def node(name: str = NODE) -> dict[str, Any]:
    return {
        "kind": "Node",
        "metadata": meta(name, None),
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def context(reason: str, namespace: str = "shop") -> dict[str, Any]:
    return {"reason": reason, "namespace": namespace}


# --------------------------------------------------------------------------- cases


def api_behind_an_unprovisioned_database() -> StaticSource:
    """api crash-loops on its database; the database pod waits for a claim whose
    StorageClass does not exist."""
    api = pod(
        "api-7d9f-x2x9q",
        ("ReplicaSet", "api-7d9f"),
        labels={"app": "api"},
        ready=False,
        container={
            "name": "app",
            "image": "api:2",
            "env": [{"name": "DB_HOST", "value": "postgres"}],
        },
        status=crash_looping(9, 1),
    )
    database = pod(
        "postgres-0",
        ("StatefulSet", "postgres"),
        labels={"app": "postgres"},
        phase="Pending",
        ready=False,
        node=None,
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-postgres-0"}}],
    )
    objects = [
        node(),
        deployment("api", 1, 0),
        replicaset("api-7d9f", "api", 1, 0),
        api,
        service("postgres", {"app": "postgres"}, ip="10.100.0.7"),
        {"kind": "Endpoints", "metadata": meta("postgres"), "subsets": []},
        {
            "kind": "StatefulSet",
            "metadata": meta("postgres"),
            "spec": {"replicas": 1},
            "status": {"replicas": 1, "readyReplicas": 0},
        },
        database,
        {
            "kind": "PersistentVolumeClaim",
            "metadata": meta("data-postgres-0"),
            "spec": {"storageClassName": "fast-ssd"},
            "status": {"phase": "Pending"},
        },
        {"kind": "StorageClass", "metadata": meta("standard", None), "provisioner": "ebs"},
        warning(
            "Pod",
            "postgres-0",
            "FailedScheduling",
            "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
        ),
        warning(
            "PersistentVolumeClaim",
            "data-postgres-0",
            "ProvisioningFailed",
            'storageclass.storage.k8s.io "fast-ssd" not found',
        ),
    ]
    logs = {
        ("shop", "api-7d9f-x2x9q", "app", True): (
            "connecting to postgres:5432\n"
            'psycopg.OperationalError: connection to server at "10.100.0.7", port 5432 failed: '
            "Connection refused\n"
        )
    }
    return StaticSource.from_objects(objects, logs=logs)


def test_a_crash_loop_three_hops_from_its_cause_is_one_insight_naming_both_ends() -> None:
    source = api_behind_an_unprovisioned_database()
    insights = analyze([], [], context("api is down"), cluster=source)

    assert len(insights) == 1
    insight = insights[0]
    assert insight.confidence is Confidence.HIGH
    assert insight.summary.startswith("Deployment shop/api is failing")
    assert "StorageClass fast-ssd does not exist" in insight.summary
    assert {s.name for s in insight.subjects} >= {"api", "fast-ssd"}
    hops = "\n".join(insight.evidence)
    for hop in (
        "Service shop/postgres",
        "Pod shop/postgres-0",
        "PersistentVolumeClaim shop/data-postgres-0",
        "StorageClass fast-ssd",
    ):
        assert hop in hops
    assert "Connection refused" in hops  # the observation that proves the first hop
    assert "ruled out: node ip-10-0-1-21 is Ready" in hops


def test_a_failed_job_is_explained_by_its_pods_last_log_line_without_a_notification() -> None:
    job = {
        "kind": "Job",
        "metadata": meta(
            "price-import-2991", "pricing", ownerReferences=owned("CronJob", "price-import")
        ),
        "status": {
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ]
        },
    }
    failed = pod(
        "price-import-2991-q9fcd",
        ("Job", "price-import-2991"),
        namespace="pricing",
        phase="Failed",
        ready=False,
        status={
            "name": "app",
            "restartCount": 0,
            "state": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": EARLIER}},
        },
    )
    line = (
        'psycopg2.errors.UndefinedColumn: column "currency_code" of relation "prices" '
        "does not exist"
    )
    source = StaticSource.from_objects(
        [node(), {"kind": "CronJob", "metadata": meta("price-import", "pricing")}, job, failed],
        logs={("pricing", "price-import-2991-q9fcd", "app", False): f"importing\n{line}\n"},
    )
    insights = analyze([], [], context("did the nightly import run?", "pricing"), cluster=source)

    assert len(insights) == 1
    assert "Job pricing/price-import-2991" in insights[0].summary
    assert "currency_code" in insights[0].summary
    assert "migration" in insights[0].root_cause_hypothesis
    assert insights[0].confidence is Confidence.HIGH


def test_failed_lookups_are_followed_to_cluster_dns_in_kube_system() -> None:
    coredns = pod(
        "coredns-6b9575c64c-7xq4p",
        ("ReplicaSet", "coredns-6b9575c64c"),
        namespace="kube-system",
        labels={"k8s-app": "kube-dns"},
        ready=False,
        status=crash_looping(14, 1),
    )
    worker = pod(
        "worker-5d7b-lc8vb", None, labels={"app": "worker"}, ready=False, status=crash_looping(3, 1)
    )
    kube_dns = service(
        "kube-dns", {"k8s-app": "kube-dns"}, namespace="kube-system", ip="10.96.0.10"
    )
    kube_dns["metadata"]["labels"] = {"k8s-app": "kube-dns"}

    source = StaticSource.from_objects(
        [node(), worker, coredns, kube_dns],
        logs={
            (
                "shop",
                "worker-5d7b-lc8vb",
                "app",
                True,
            ): "Error -3 connecting to redis.shop.svc.cluster.local:6379. "
            "Temporary failure in name resolution.\n",
            (
                "kube-system",
                "coredns-6b9575c64c-7xq4p",
                "app",
                True,
            ): '[FATAL] plugin/loop: Loop (127.0.0.1:55953 -> :53) detected for zone "."\n',
        },
    )
    insights = analyze([], [], context("worker cannot reach redis"), cluster=source)

    chains = [i for i in insights if i.confidence is not Confidence.LOW]
    assert len(chains) == 1
    assert "Pod kube-system/coredns-6b9575c64c-7xq4p" in chains[0].summary
    assert "resolves names via Service kube-system/kube-dns" in "\n".join(chains[0].evidence)


def node_results(pid_max: int, tasks: dict[str, int]) -> list[OperatorResult]:
    processes = {"pid_max": pid_max, "threads": 300}
    cgroups = {
        "top_pids": [{"pod_uid": uid, "pids": n, "pids_limit": None} for uid, n in tasks.items()]
    }
    return [
        OperatorResult(skill="processes", source=NODE, status=ToolStatus.OK, snapshot=processes),
        OperatorResult(skill="containers", source=NODE, status=ToolStatus.OK, snapshot=cgroups),
    ]


def test_a_fork_failure_names_the_neighbour_holding_the_nodes_pids() -> None:
    victim = pod("sync-7f-r6x2k", None, ready=False, status=crash_looping(6, 1), uid="u-victim")
    renderer = pod("pdf-renderer-h4t8n", None, namespace="reports", uid="u-renderer")
    source = StaticSource.from_objects(
        [node(), victim, renderer],
        logs={
            (
                "shop",
                "sync-7f-r6x2k",
                "app",
                True,
            ): "/opt/sync/run.sh: fork: retry: Resource temporarily unavailable\n"
        },
    )
    results = node_results(32768, {"u-renderer": 30400, "u-victim": 12})
    insights = analyze([], results, context("sync is crash looping"), cluster=source)

    assert insights[0].confidence is Confidence.HIGH
    assert "pdf-renderer-h4t8n" in insights[0].summary
    assert "fork" in insights[0].summary
    assert {"sync-7f-r6x2k", "pdf-renderer-h4t8n"} <= {s.name for s in insights[0].subjects}


def test_an_old_restart_on_a_healthy_namespace_is_not_an_incident() -> None:
    recovered = pod(
        "api-7d9f-x2x9q",
        ("ReplicaSet", "api-7d9f"),
        labels={"app": "api"},
        status={
            "name": "app",
            "ready": True,
            "restartCount": 1,
            "state": {"running": {"startedAt": DAYS_AGO}},
            "lastState": {
                "terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": DAYS_AGO}
            },
        },
    )
    source = StaticSource.from_objects(
        [
            node(),
            deployment("api", 1, 1),
            replicaset("api-7d9f", "api", 1, 1),
            recovered,
            warning("Pod", "api-7d9f-x2x9q", "Pulled", "image already present")
            | {"type": "Normal"},
        ]
    )
    insights = analyze([], [], context("routine check"), cluster=source)
    assert [i for i in insights if i.confidence is not Confidence.LOW] == []


def test_two_analyses_of_one_incident_are_identical() -> None:
    first = analyze([], [], context("api is down"), cluster=api_behind_an_unprovisioned_database())
    second = analyze([], [], context("api is down"), cluster=api_behind_an_unprovisioned_database())
    dump = [json.dumps(i.model_dump(mode="json"), sort_keys=True) for i in first]
    assert dump == [json.dumps(i.model_dump(mode="json"), sort_keys=True) for i in second]
    assert first[0].id.startswith("ins-")


def test_the_graph_links_what_kubernetes_defines() -> None:
    graph = build_graph(api_behind_an_unprovisioned_database(), "shop")
    relations = {(str(e.source), e.relation.value, str(e.target)) for e in graph.edges()}
    assert ("Deployment/shop/api", "owns", "ReplicaSet/shop/api-7d9f") in relations
    assert ("Pod/shop/api-7d9f-x2x9q", "runs on", f"Node/{NODE}") in relations
    assert ("Pod/shop/api-7d9f-x2x9q", "calls", "Service/shop/postgres") in relations
    assert ("Service/shop/postgres", "is backed by", "Pod/shop/postgres-0") in relations
    assert ("Pod/shop/postgres-0", "mounts", "PersistentVolumeClaim/shop/data-postgres-0") in (
        relations
    )
    assert ("PersistentVolumeClaim/shop/data-postgres-0", "uses", "StorageClass/fast-ssd") in (
        relations
    )
    causes = root_causes(graph, "shop")
    assert [c.end.ref for c in causes] == [Ref("StorageClass", None, "fast-ssd")]


# --------------------------------------------------------------------------- the graph skill


def test_the_graph_skill_ranks_the_cause_with_its_hops_in_one_call() -> None:
    skill = GraphSkill(api_behind_an_unprovisioned_database(), "shop")
    result = skill.call("root_causes", {})
    assert result.status is ToolStatus.OK, result.error
    (first,) = result.data["candidates"]
    assert (first["symptom"], first["cause"]) == ("Deployment/shop/api", "StorageClass/fast-ssd")
    assert first["confidence"] == "high"
    assert any("calls Service/shop/postgres" in hop for hop in first["hops"])
    assert "does not exist" in first["hops"][-1]
    assert len(json.dumps(result.data)) < 4_000  # a few hundred tokens


def test_the_graph_skill_shows_an_objects_dependencies_and_their_health() -> None:
    skill = GraphSkill(api_behind_an_unprovisioned_database(), "shop")
    view = skill.call("chain", {"kind": "Pod", "name": "api-7d9f-x2x9q"}).data
    depends = {d["object"]: d["failing"] for d in view["depends_on"]}
    assert depends == {f"Node/{NODE}": False, "Service/shop/postgres": True}
    assert view["owned_by"] == "Deployment/shop/api"
    assert view["chain"][-1].startswith("uses StorageClass/fast-ssd")
    missing = skill.call("chain", {"kind": "Pod", "name": "nope"})
    assert missing.status is ToolStatus.ERROR and "not in namespace shop" in str(missing.error)


def test_the_graph_skill_lists_every_pod_on_a_node_whatever_its_namespace() -> None:
    source = StaticSource.from_objects(
        [
            node(),
            pod("api-1", None),
            pod("batch-1", None, namespace="batch", ready=False, status=crash_looping(2, 1)),
        ]
    )
    view = GraphSkill(source, "shop").call("node_neighbours", {"node": NODE}).data
    assert [(p["namespace"], p["pod"]) for p in view["pods"]] == [
        ("batch", "batch-1"),
        ("shop", "api-1"),
    ]


def test_a_failed_pod_of_a_job_that_then_completed_is_history() -> None:
    job = {
        "kind": "Job",
        "metadata": meta("report-2991"),
        "status": {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1},
    }
    retried = pod(
        "report-2991-a1b2c",
        ("Job", "report-2991"),
        phase="Failed",
        ready=False,
        status={
            "name": "app",
            "restartCount": 0,
            "state": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": EARLIER}},
        },
    )
    source = StaticSource.from_objects([node(), job, retried])
    assert analyze([], [], context("routine check"), cluster=source) == []


def test_a_missing_secret_key_is_stated_by_the_kubelet_though_secrets_are_never_read() -> None:
    waiting = {
        "name": "app",
        "ready": False,
        "restartCount": 0,
        "state": {
            "waiting": {
                "reason": "CreateContainerConfigError",
                "message": "couldn't find key STRIPE_KEY in Secret shop/payments",
            }
        },
    }
    source = StaticSource.from_objects(
        [
            node(),
            deployment("payments", 1, 0),
            replicaset("payments-6c8d", "payments", 1, 0),
            pod(
                "payments-6c8d-wq2lz", ("ReplicaSet", "payments-6c8d"), ready=False, status=waiting
            ),
        ]
    )
    (insight,) = analyze([], [], context("payments never starts"), cluster=source)
    assert insight.confidence is Confidence.HIGH
    assert "STRIPE_KEY" in insight.summary and "Deployment shop/payments" in insight.summary


def test_timeouts_against_a_healthy_database_lead_to_the_neighbour_saturating_its_disk() -> None:
    running = {
        "name": "app",
        "ready": True,
        "restartCount": 0,
        "state": {"running": {"startedAt": DAYS_AGO}},
    }
    api = pod(
        "api-7d9f-x2x9q",
        ("ReplicaSet", "api-7d9f"),
        labels={"app": "api"},
        container={"name": "app", "image": "api:2", "env": [{"name": "DB_HOST", "value": "db"}]},
        status=running,
    )

    database = pod("db-0", ("StatefulSet", "db"), labels={"app": "db"})
    backup = pod("restic-2864-6xk2f", None, namespace="backup", uid="u-restic")
    source = StaticSource.from_objects(
        [
            node(),
            deployment("api", 1, 1),
            replicaset("api-7d9f", "api", 1, 1),
            api,
            database,
            backup,
            service("db", {"app": "db"}, ip="10.100.0.9"),
        ],
        logs={
            (
                "shop",
                "api-7d9f-x2x9q",
                "app",
                False,
            ): "ERROR reserve stock: pq: canceling statement due to statement timeout\n"
        },
    )
    results = [
        OperatorResult(
            skill="os",
            source=NODE,
            status=ToolStatus.OK,
            snapshot={"cpu": {"iowait_percent": 41.0}, "pressure": {"io": {"some_avg60": 60.1}}},
        ),
        OperatorResult(
            skill="containers",
            source=NODE,
            status=ToolStatus.OK,
            snapshot={
                "top_io": [
                    {"pod_uid": "u-restic", "io_bytes_delta": 5_412_000_000, "io_share": 0.98}
                ]
            },
        ),
    ]
    insights = analyze([], results, context("p99 latency of api above 2s"), cluster=source)

    assert insights[0].confidence is Confidence.HIGH
    assert "restic-2864-6xk2f" in insights[0].summary
    hops = "\n".join(insights[0].evidence)
    assert "calls Service shop/db" in hops and "is backed by Pod shop/db-0" in hops
    assert "the node's disks are saturated" in hops


def test_a_volume_still_attached_to_a_dead_node_blames_that_node_not_the_pods_own() -> None:
    handle = "vol-0a2eb4c232c7c1fb0"
    dead = {
        "kind": "Node",
        "metadata": meta("ip-10-0-3-41", None),
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "Unknown",
                    "reason": "NodeStatusUnknown",
                    "message": "Kubelet stopped posting node status.",
                }
            ],
            "volumesAttached": [{"name": f"kubernetes.io/csi/ebs.csi.aws.com^{handle}"}],
        },
    }
    waiting = {
        "name": "kafka",
        "ready": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": "ContainerCreating"}},
    }
    broker = pod(
        "kafka-2",
        ("StatefulSet", "kafka"),
        phase="Pending",
        ready=False,
        status=waiting,
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-kafka-2"}}],
    )
    source = StaticSource.from_objects(
        [
            node(),
            dead,
            broker,
            {
                "kind": "StatefulSet",
                "metadata": meta("kafka"),
                "spec": {"replicas": 3},
                "status": {"replicas": 3, "readyReplicas": 2},
            },
            {
                "kind": "PersistentVolumeClaim",
                "metadata": meta("data-kafka-2"),
                "spec": {"volumeName": "pvc-8c54"},
                "status": {"phase": "Bound"},
            },
            {
                "kind": "PersistentVolume",
                "metadata": meta("pvc-8c54", None),
                "spec": {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": handle}},
            },
            warning(
                "Pod",
                "kafka-2",
                "FailedAttachVolume",
                'Multi-Attach error for volume "pvc-8c54" Volume is already exclusively attached '
                "to one node and can't be attached to another",
            ),
            warning(
                "Pod",
                "kafka-2",
                "FailedMount",
                "Unable to attach or mount volumes: timed out waiting for the condition",
            ),
        ]
    )

    insights = analyze([], [], context("kafka under-replicated partitions"), cluster=source)

    assert len(insights) == 1
    assert "because Node ip-10-0-3-41" in insights[0].summary
    assert "still attached to ip-10-0-3-41" in insights[0].root_cause_hypothesis
    hops = "\n".join(insights[0].evidence)
    assert "is attached to Node ip-10-0-3-41 [status.volumesAttached]" in hops


MINUTES_AGO = "2026-11-18T13:28:00Z"


def eviction_left_over(
    evicted_at: str = DAYS_AGO,
    pressure: str = "False",
    available: int = 3,
    owner: tuple[str, str] | None = ("ReplicaSet", "api-old"),
) -> StaticSource:
    """api's pod evicted for memory on NODE, replaced by its ReplicaSet; the evicted pod
    stays in phase Failed until pod GC. The arguments make it not history (``available``:
    how many replacements run and are Ready)."""
    evicted = pod("api-old-q8zlm", owner, labels={"app": "api"}, phase="Failed", ready=False)
    evicted["status"] |= {
        "reason": "Evicted",
        "message": "The node was low on resource: memory. Threshold quantity: 100Mi.",
    }
    evicted["status"]["conditions"] = [
        {"type": "DisruptionTarget", "status": "True", "lastTransitionTime": evicted_at,
         "reason": "TerminationByKubelet"},
        {"type": "Ready", "status": "False", "lastTransitionTime": evicted_at},
    ]
    memory = node()
    memory["status"]["conditions"].append({"type": "MemoryPressure", "status": pressure})
    running = [pod(f"api-new-{i}", ("ReplicaSet", "api-new"), labels={"app": "api"})
               for i in range(available)]
    return StaticSource.from_objects([
        memory,
        deployment("api", 3, available),
        replicaset("api-old", "api", 0, 0),
        replicaset("api-new", "api", 3, available),
        evicted,
        *running,
        warning("Pod", "api-old-q8zlm", "Evicted", "The node was low on resource: memory.")
        | {"lastTimestamp": evicted_at, "count": 1},
        warning("Pod", "api-new-0", "Pulled", "image already present") | {"type": "Normal"},
    ])


def names_the_eviction(source: StaticSource) -> bool:
    insights = analyze([], [], context("is api ok?"), cluster=source)
    return any(
        s.name in ("api-old-q8zlm", NODE) for i in insights for s in i.subjects
    )


def test_a_pod_evicted_long_ago_and_replaced_is_history_not_an_incident() -> None:
    assert not names_the_eviction(eviction_left_over())


def test_an_eviction_is_current_if_recent_under_pressure_unreplaced_or_unowned() -> None:
    assert names_the_eviction(eviction_left_over(evicted_at=MINUTES_AGO))
    assert names_the_eviction(eviction_left_over(pressure="True"))
    assert names_the_eviction(eviction_left_over(available=2))
    assert names_the_eviction(eviction_left_over(owner=None))


def test_a_container_the_runtime_could_not_start_is_explained_by_the_runtimes_error() -> None:
    never_ran = {
        "name": "app",
        "ready": False,
        "restartCount": 6,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
        "lastState": {"terminated": {
            "reason": "StartError", "exitCode": 128, "finishedAt": EARLIER,
            "message": 'runc create failed: unable to start container process: exec: "worker": '
                       "executable file not found in $PATH: unknown",
        }},
    }
    source = StaticSource.from_objects([
        node(),
        deployment("api", 1, 0),
        replicaset("api-7d9f", "api", 1, 0),
        pod("api-7d9f-x2x9q", ("ReplicaSet", "api-7d9f"), ready=False, status=never_ran),
        warning("Pod", "api-7d9f-x2x9q", "BackOff", "Back-off restarting failed container"),
    ])
    [insight] = analyze([], [], context("api is down"), cluster=source)
    assert insight.confidence is Confidence.HIGH
    assert "command is not in the image" in (insight.root_cause_hypothesis or "")


def probed(liveness_answer: str, readiness_answer: str) -> StaticSource:
    """api restarted by its liveness probe (httpGet /healthz); its readiness probe
    failed too, the newer event."""
    restarted = pod(
        "api-7d9f-x2x9q", ("ReplicaSet", "api-7d9f"), ready=False,
        container={"name": "app", "image": "api:2",
                   "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                   "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}},
        status={"name": "app", "ready": False, "restartCount": 7,
                "state": {"running": {"startedAt": EARLIER}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 143,
                                             "finishedAt": EARLIER}}},
    )
    liveness = warning("Pod", "api-7d9f-x2x9q", "Unhealthy", liveness_answer)
    readiness = warning("Pod", "api-7d9f-x2x9q", "Unhealthy", readiness_answer)
    liveness["metadata"]["name"] += ".liveness"
    liveness["lastTimestamp"] = EARLIER
    return StaticSource.from_objects([node(), deployment("api", 1, 0),
                                      replicaset("api-7d9f", "api", 1, 0), restarted,
                                      liveness, readiness])


def test_a_liveness_probe_answered_404_is_the_cause_though_readiness_failed_later() -> None:
    source = probed("Liveness probe failed: HTTP probe failed with statuscode: 404",
                    "Readiness probe failed: Get \"http://10.0.0.5:8080/ready\": connect: "
                    "connection refused")
    [insight] = analyze([], [], context("api keeps restarting"), cluster=source)
    assert insight.confidence is Confidence.HIGH
    assert "/healthz on port 8080 does not exist" in insight.root_cause_hypothesis


def test_a_liveness_probe_answered_500_is_the_app_reporting_itself_unhealthy() -> None:
    source = probed("Liveness probe failed: HTTP probe failed with statuscode: 500",
                    "Readiness probe failed: HTTP probe failed with statuscode: 500")
    insights = analyze([], [], context("api keeps restarting"), cluster=source)
    assert "does not exist" not in " ".join(i.root_cause_hypothesis for i in insights)
    assert any("liveness probe failed" in i.summary for i in insights)


def test_log_lines_are_read_by_what_they_say_not_by_one_loggers_format() -> None:
    from kubelens.graph.signatures import classify
    from kubelens.skills.cluster.logs import ERROR_PATTERNS

    refused = {
        '{"level":"fatal","msg":"invalid configuration","error":"yaml: unmarshal errors"}',
        'json: cannot unmarshal string into Go struct field Config.port of type int',
        "level=fatal msg=\"failed to load config: open /etc/app/app.toml\"",
        "ERROR: invalid configuration: unknown field \"retries\"",
    }
    assert {getattr(classify(line), "code", None) for line in refused} == {"config_syntax"}
    assert ERROR_PATTERNS["fatal"].search('{"severity": "CRITICAL", "message": "exiting"}')
    assert not ERROR_PATTERNS["fatal"].search('{"level":"info","msg":"fatal flag off"}')
    assert classify('{"level":"info","msg":"config loaded","routes":12}') is None


def cart_service(target: Any, declared: list[dict[str, Any]], probe_port: Any) -> StaticSource:
    """Service cart (port 80 → ``target``) over one Ready pod declaring ``declared`` and
    probed on ``probe_port``."""
    backend = pod("cart-5c9f-rt4kn", ("ReplicaSet", "cart-5c9f"), labels={"app": "cart"},
                  container={"name": "cart", "image": "cart:3", "ports": declared,
                             "readinessProbe": {"httpGet": {"path": "/ready",
                                                            "port": probe_port}}})
    svc = service("cart", {"app": "cart"}, ip="10.100.0.9")
    svc["spec"]["ports"] = [{"port": 80, "targetPort": target}]
    return StaticSource.from_objects([node(), deployment("cart", 1, 1),
                                      replicaset("cart-5c9f", "cart", 1, 1), backend, svc])


def test_a_service_targeting_a_port_its_pods_neither_declare_nor_answer_on_is_the_cause() -> None:
    source = cart_service(8080, [{"containerPort": 3000, "name": "http"}], "http")
    [insight] = analyze([], [], context("cart calls fail with 502"), cluster=source)
    assert insight.confidence is Confidence.HIGH
    assert "targets 8080" in insight.summary and "3000 (http)" in insight.summary


def test_a_service_port_is_not_doubted_where_the_pods_answer_or_declare_nothing() -> None:
    probed_there = cart_service(8080, [{"containerPort": 9090, "name": "metrics"}], 8080)
    by_name = cart_service("http", [{"containerPort": 3000, "name": "http"}], "http")
    undeclared = cart_service(8080, [], 8080)
    for source in (probed_there, by_name, undeclared):
        assert analyze([], [], context("routine check"), cluster=source) == []


def shared_claim_pods(failing_node: str, other_nodes: list[str]) -> StaticSource:
    """media's pods all mount claim media-shared; the one on ``failing_node`` cannot."""
    volume = [{"name": "shared", "persistentVolumeClaim": {"claimName": "media-shared"}}]
    stuck = pod("media-1", ("ReplicaSet", "media-7c"), phase="Pending", ready=False,
                node=failing_node, volumes=volume,
                status={"name": "app", "ready": False, "restartCount": 0,
                        "state": {"waiting": {"reason": "ContainerCreating"}}})
    running = [pod(f"media-{i + 2}", ("ReplicaSet", "media-7c"), node=name, volumes=volume)
               for i, name in enumerate(other_nodes)]
    mount = warning("Pod", "media-1", "FailedMount",
                    'MountVolume.SetUp failed for volume "pvc-3f0c" : rpc error: code = Internal '
                    'desc = mount failed: exit status 32\nMounting command: mount\nMounting '
                    "arguments: -t nfs 10.0.9.9:/ /var/lib/kubelet/pods/x/mount\n"
                    "Output: mount.nfs: Connection timed out\n\n")
    return StaticSource.from_objects([
        node(failing_node), *[node(n) for n in other_nodes],
        deployment("media", 1 + len(other_nodes), len(other_nodes)),
        replicaset("media-7c", "media", 1 + len(other_nodes), len(other_nodes)),
        {"kind": "PersistentVolumeClaim", "metadata": meta("media-shared"),
         "spec": {"volumeName": "pvc-3f0c"}, "status": {"phase": "Bound"}},
        stuck, *running, mount,
    ])


def test_a_mount_failing_on_one_node_of_several_is_that_nodes_with_the_helpers_words() -> None:
    source = shared_claim_pods("ip-10-0-3-9", ["ip-10-0-1-2", "ip-10-0-2-3"])
    [insight] = analyze([], [], context("media pods stuck in ContainerCreating"), cluster=source)
    assert insight.confidence is Confidence.HIGH
    assert "mount.nfs: Connection timed out" in insight.summary
    assert "claim media-shared" in insight.summary
    assert "kubelet on node ip-10-0-3-9 cannot mount the volume that pods on ip-10-0-1-2, " \
           "ip-10-0-2-3 mount" in insight.root_cause_hypothesis
    alone = shared_claim_pods("ip-10-0-3-9", [])
    [only] = analyze([], [], context("media pod stuck"), cluster=alone)
    assert "the node's failure" not in only.root_cause_hypothesis


def autoscaled(current: int, maximum: int, utilization: int, limit: str = "2") -> StaticSource:
    """api (CPU request 500m, limit ``limit``) autoscaled on 70% CPU, ``current`` of
    ``maximum`` replicas, at ``utilization`` % of request."""
    api = deployment("api", current, current)
    api["spec"]["template"] = {"spec": {"containers": [{
        "name": "app", "resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": limit}}}]}}
    hpa = {
        "kind": "HorizontalPodAutoscaler", "metadata": meta("api"),
        "spec": {"maxReplicas": maximum, "minReplicas": 2,
                 "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                 "metrics": [{"type": "Resource", "resource": {
                     "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
        "status": {"currentReplicas": current, "desiredReplicas": current,
                   "currentMetrics": [{"type": "Resource", "resource": {
                       "name": "cpu", "current": {"averageUtilization": utilization}}}]},
    }
    pods = [pod(f"api-7d9f-{i}", ("ReplicaSet", "api-7d9f"), labels={"app": "api"})
            for i in range(current)]
    return StaticSource.from_objects([node(), api, replicaset("api-7d9f", "api", current, current),
                                      hpa, *pods])


def test_an_autoscaler_at_its_maximum_with_load_above_target_is_the_cause() -> None:
    [insight] = analyze([], [], context("api p99 is 6 s"), cluster=autoscaled(8, 8, 190))
    assert insight.confidence is Confidence.HIGH
    assert "at maxReplicas 8" in insight.root_cause_hypothesis
    assert "CPU limit" not in insight.summary  # 190% of 500m is far from the 2-core limit
    [capped] = analyze([], [], context("api p99 is 6 s"), cluster=autoscaled(8, 8, 195, "1"))
    assert "at its CPU limit 1 (the kernel's CFS quota throttles it there)" in capped.summary


def test_an_autoscaler_with_room_or_load_at_target_is_no_incident() -> None:
    for source in (autoscaled(6, 8, 190), autoscaled(8, 8, 75)):
        assert [i for i in analyze([], [], context("routine check"), cluster=source)
                if i.confidence is not Confidence.LOW] == []


def test_what_an_insight_rules_out_is_read_from_the_objects_not_inferred() -> None:
    volume = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}]
    waiting = pod("db-0", ("StatefulSet", "db"), phase="Pending", ready=False, node=None,
                  volumes=volume)
    source = StaticSource.from_objects([
        node(),
        {"kind": "StatefulSet", "metadata": meta("db"), "spec": {"replicas": 1},
         "status": {"replicas": 1, "readyReplicas": 0}},
        waiting,
        {"kind": "PersistentVolumeClaim", "metadata": meta("data-db-0"),
         "spec": {"storageClassName": "standard"}, "status": {"phase": "Pending"}},
        {"kind": "StorageClass", "metadata": meta("standard", None), "provisioner": "ebs",
         "volumeBindingMode": "WaitForFirstConsumer"},
        warning("Pod", "db-0", "FailedScheduling",
                "0/3 nodes are available: 3 Insufficient cpu."),
    ])
    insights = analyze([], [], context("db is down"), cluster=source)
    assert insights and not any("is Bound" in e for i in insights for e in i.evidence)


def test_a_service_whose_workload_is_scaled_to_zero_is_not_called_mislabelled() -> None:
    payments = deployment("payments", 0, 0)
    payments["spec"]["template"] = {"metadata": {"labels": {"app": "payments"}}}
    source = StaticSource.from_objects([
        node(), payments, service("payments", {"app": "payments"}),
        pod("checkout-1", ("ReplicaSet", "checkout-7f"), labels={"app": "checkout"}),
    ])
    [insight] = analyze([], [], context("payments is unreachable"), cluster=source)
    assert "Deployment payments, which is scaled to 0 replicas" in insight.summary
    assert insight.next_steps[0].startswith("Scale the workload behind the Service up")


def stuck_member(deleted: str) -> StaticSource:
    """rabbitmq-1, deleted at ``deleted`` (grace 120 s), held by a finalizer; its
    StatefulSet runs 2 of 3. The newest evidence is the deletion itself."""
    member = pod("rabbitmq-1", ("StatefulSet", "rabbitmq"), phase="Succeeded", ready=False)
    member["metadata"] |= {"deletionTimestamp": deleted, "deletionGracePeriodSeconds": 120,
                           "finalizers": ["ops.example.com/quorum-drain"]}
    member["status"]["conditions"] = [{"type": "Ready", "status": "False",
                                       "lastTransitionTime": DAYS_AGO}]
    return StaticSource.from_objects([
        node(),
        {"kind": "StatefulSet", "metadata": meta("rabbitmq"), "spec": {"replicas": 3},
         "status": {"replicas": 3, "readyReplicas": 2}},
        member,
    ])


def test_a_pod_deleted_long_ago_and_held_by_a_finalizer_is_named_with_it() -> None:
    from datetime import datetime

    from kubelens.models import recorded_clock

    with recorded_clock(datetime.fromisoformat(NOW.replace("Z", "+00:00"))):
        [insight] = analyze([], [], context("rabbitmq-1 stays Terminating"),
                            cluster=stuck_member("2026-11-18T11:30:00Z"))
    assert "finalizers ops.example.com/quorum-drain hold it" in insight.summary
    assert insight.confidence is Confidence.HIGH
    with recorded_clock(datetime.fromisoformat(NOW.replace("Z", "+00:00"))):
        just_deleted = analyze([], [], context("rabbitmq-1 is restarting"),
                               cluster=stuck_member("2026-11-18T13:29:00Z"))
    assert not any("finalizer" in i.summary for i in just_deleted)


def oom_killed_with(env: list[dict[str, str]], args: list[str] | None = None) -> str:
    """The root cause told for a container OOMKilled at its 1536Mi limit."""
    container: dict[str, Any] = {"name": "app", "image": "app:1", "env": env,
                                 "resources": {"limits": {"memory": "1536Mi"}}}
    if args:
        container["args"] = args
    killed = pod("api-7d9f-x2x9q", ("ReplicaSet", "api-7d9f"), ready=False, container=container,
                 status={"name": "app", "ready": False, "restartCount": 5,
                         "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                         "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                                                      "finishedAt": EARLIER}}})
    source = StaticSource.from_objects([node(), deployment("api", 1, 0),
                                        replicaset("api-7d9f", "api", 1, 0), killed])
    [insight] = analyze([], [], context("api restarts"), cluster=source)
    return insight.root_cause_hypothesis


def test_a_heap_cap_at_or_above_the_memory_limit_is_the_oom_kills_cause() -> None:
    java = [{"name": "JAVA_TOOL_OPTIONS", "value": "-Xms1g -Xmx2g -XX:+UseG1GC"}]
    assert "-Xmx2g in JAVA_TOOL_OPTIONS" in oom_killed_with(java)
    assert "--max-old-space-size=1536 in args" in oom_killed_with(
        [], ["node", "--max-old-space-size=1536", "server.js"])
    assert "GOMEMLIMIT=2GiB" in oom_killed_with([{"name": "GOMEMLIMIT", "value": "2GiB"}])
    room = oom_killed_with([{"name": "JAVA_OPTS", "value": "-Xmx1g"}])
    assert "Xmx" not in room and "used its whole memory limit (1536Mi)" in room


def test_a_cron_schedules_longest_gap() -> None:
    from datetime import timedelta

    from kubelens.skills.cluster.common import cron_period

    assert cron_period("0 * * * *") == timedelta(hours=1)
    assert cron_period("*/15 * * * *") == timedelta(minutes=15)
    assert cron_period("30 2 * * *") == timedelta(days=1)
    assert cron_period("0 8,20 * * *") == timedelta(hours=12)
    assert cron_period("0 9-17 * * *") == timedelta(hours=16)  # 17:00 to 09:00
    assert cron_period("@daily") == timedelta(days=1)
    assert cron_period("0 3 * * 1") is None  # weekly on Mondays: not worked out
    assert cron_period("nonsense") is None


def exporter(policy: str, last_schedule: str) -> StaticSource:
    """CronJob export (hourly) with one Job still active since ``last_schedule``."""
    cron = {"kind": "CronJob", "metadata": meta("export"),
            "spec": {"schedule": "0 * * * *", "concurrencyPolicy": policy},
            "status": {"active": [{"kind": "Job", "name": "export-100"}],
                       "lastScheduleTime": last_schedule}}
    owner = owned("CronJob", "export")
    job = {"kind": "Job", "metadata": meta("export-100", ownerReferences=owner),
           "status": {"active": 1, "startTime": last_schedule}}
    running = pod("export-100-abc", ("Job", "export-100"))
    return StaticSource.from_objects([node(), cron, job, running])


def test_a_job_that_never_finishes_under_forbid_is_why_its_cronjob_stopped() -> None:
    [insight] = analyze([], [], context("export has not run today"),
                        cluster=exporter("Forbid", "2026-11-18T09:00:00Z"))
    assert "Job shop/export-100" in insight.summary and "Forbid" in insight.root_cause_hypothesis
    for quiet in (exporter("Allow", "2026-11-18T09:00:00Z"),
                  exporter("Forbid", "2026-11-18T13:00:00Z")):
        assert analyze([], [], context("routine check"), cluster=quiet) == []


def test_a_variable_a_crash_names_is_traced_to_its_configmap_key_and_an_empty_value() -> None:
    def app(brokers: str) -> StaticSource:
        container = {"name": "app", "image": "api:4", "env": [{
            "name": "KAFKA_BROKERS",
            "valueFrom": {"configMapKeyRef": {"name": "api-config", "key": "kafka.brokers"}}}]}
        crashing = pod("api-7d9f-x2x9q", ("ReplicaSet", "api-7d9f"), ready=False,
                       container=container, status=crash_looping(6, 1))
        config = {"kind": "ConfigMap", "metadata": meta("api-config"),
                  "data": {"kafka.brokers": brokers}}
        line = '{"level":"fatal","msg":"invalid configuration: KAFKA_BROKERS must not be blank"}'
        logs = {("shop", "api-7d9f-x2x9q", "app", True): line + "\n"}
        return StaticSource.from_objects(
            [node(), deployment("api", 1, 0), replicaset("api-7d9f", "api", 1, 0), crashing,
             config], logs=logs)

    [empty] = analyze([], [], context("api crash-loops"), cluster=app(""))
    assert "ConfigMap shop/api-config: key kafka.brokers is empty" in empty.summary
    [filled] = analyze([], [], context("api crash-loops"), cluster=app("b-1:9092"))
    assert "is empty" not in filled.summary


def zoned_claim(bound: bool, cordoned: bool, zones: tuple[str, ...] = ("a", "b")) -> StaticSource:
    """db-0 cannot be scheduled for its volume: bound to a volume in zone c, or unbound
    with a class allowing only zone c; the nodes are in ``zones`` (and zone c's is
    cordoned when ``cordoned``)."""
    volume = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}]
    waiting = pod("db-0", ("StatefulSet", "db"), phase="Pending", ready=False, node=None,
                  volumes=volume)
    nodes = []
    for zone in zones + (("c",) if cordoned else ()):
        member = node(f"node-{zone}")
        member["metadata"]["labels"] = {"topology.kubernetes.io/zone": zone}
        member["spec"] = {"unschedulable": True} if zone == "c" else {}
        nodes.append(member)
    zone_c = [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["c"]}]
    claim = {"kind": "PersistentVolumeClaim", "metadata": meta("data-db-0"),
             "spec": {"storageClassName": "zonal", **({"volumeName": "pv-1"} if bound else {})},
             "status": {"phase": "Bound" if bound else "Pending"}}
    objects: list[dict[str, Any]] = [
        *nodes, claim, waiting,
        {"kind": "StatefulSet", "metadata": meta("db"), "spec": {"replicas": 1},
         "status": {"replicas": 1, "readyReplicas": 0}},
        {"kind": "StorageClass", "metadata": meta("zonal", None), "provisioner": "ebs",
         "allowedTopologies": [{"matchLabelExpressions": [
             {"key": "topology.kubernetes.io/zone", "values": ["c"]}]}]},
        warning("Pod", "db-0", "FailedScheduling", "0/2 nodes are available: 2 node(s) "
                + ("had volume node affinity conflict." if bound
                   else "didn't find available persistent volumes to bind.")),
    ]
    if bound:
        objects.append({"kind": "PersistentVolume", "metadata": meta("pv-1", None),
                        "spec": {"claimRef": {"name": "data-db-0", "namespace": "shop"},
                                 "nodeAffinity": {"required": {"nodeSelectorTerms": [
                                     {"matchExpressions": zone_c}]}}}})
    return StaticSource.from_objects(objects)


def test_a_pod_whose_volume_may_only_be_where_no_usable_node_is_says_where() -> None:
    [unbound] = analyze([], [], context("db is down"), cluster=zoned_claim(False, False))
    assert ("StorageClass zonal of claim data-db-0 (allowedTopologies) allows only "
            "topology.kubernetes.io/zone in c, and no node is there (nodes: a, b)"
            in unbound.root_cause_hypothesis)
    [bound] = analyze([], [], context("db is down"), cluster=zoned_claim(True, True))
    assert ("volume pv-1 of claim data-db-0 allows only topology.kubernetes.io/zone in c, and "
            "every node there is cordoned (unschedulable: node-c)" in bound.root_cause_hypothesis)
    assert bound.confidence is Confidence.HIGH


def test_a_disruption_budget_spent_by_a_pod_that_is_down_names_that_pod() -> None:
    budget = {"kind": "PodDisruptionBudget", "metadata": meta("db"),
              "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "db"}}},
              "status": {"disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2,
                         "expectedPods": 3}}
    down = pod("db-2", ("StatefulSet", "db"), labels={"app": "db"}, phase="Pending", ready=False,
               node=None)
    members = [pod(f"db-{i}", ("StatefulSet", "db"), labels={"app": "db"}) for i in (0, 1)]
    source = StaticSource.from_objects([
        node(), budget, down, *members,
        {"kind": "StatefulSet", "metadata": meta("db"), "spec": {"replicas": 3},
         "status": {"replicas": 3, "readyReplicas": 2}},
        warning("Pod", "db-2", "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu."),
    ])
    insights = analyze([], [], context("kubectl drain loops: Cannot evict pod db-0"),
                       cluster=source)
    told = " ".join(i.summary for i in insights)
    assert "PodDisruptionBudget shop/db" in told and "db-2" in told
    budget["status"] |= {"disruptionsAllowed": 1, "currentHealthy": 3}
    healthy = build_graph(StaticSource.from_objects([node(), budget, *members]), "shop")
    assert "BudgetSpent" not in str(healthy.findings)


def test_a_startup_probe_shorter_than_the_boot_is_the_cause() -> None:
    probe = {"httpGet": {"path": "/ready", "port": 8080}, "failureThreshold": 6,
             "periodSeconds": 10}
    booting = pod("api-7d9f-x2x9q", ("ReplicaSet", "api-7d9f"), ready=False,
                  container={"name": "app", "image": "api:2", "startupProbe": probe},
                  status={"name": "app", "ready": False, "restartCount": 4,
                          "state": {"running": {"startedAt": EARLIER}},
                          "lastState": {"terminated": {
                              "reason": "Error", "exitCode": 143,
                              "startedAt": "2026-11-18T13:17:59Z",
                              "finishedAt": "2026-11-18T13:19:01Z"}}})
    source = StaticSource.from_objects([
        node(), deployment("api", 1, 0), replicaset("api-7d9f", "api", 1, 0), booting,
        warning("Pod", "api-7d9f-x2x9q", "Unhealthy",
                "Startup probe failed: Get http://10.0.0.5:8080/ready: connection refused"),
    ])
    [insight] = analyze([], [], context("api never becomes ready"), cluster=source)
    assert "the startup probe allows 60 s" in insight.root_cause_hypothesis
    assert "killed after 62 s" in insight.root_cause_hypothesis


def test_container_config_errors_and_read_only_filesystems_say_what_they_are() -> None:
    from kubelens.graph.signatures import classify

    assert getattr(classify('mkdir() "/var/cache/nginx" failed (30: Read-only file system)'),
                   "code", None) == "read_only_filesystem"
    refused = pod("api-1", ("ReplicaSet", "api-7d9f"), ready=False, status={
        "name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {
            "reason": "CreateContainerConfigError",
            "message": "container has runAsNonRoot and image will run as root"}}})
    source = StaticSource.from_objects([node(), deployment("api", 1, 0),
                                        replicaset("api-7d9f", "api", 1, 0), refused])
    [insight] = analyze([], [], context("api does not start"), cluster=source)
    assert "requires a non-root user (runAsNonRoot)" in insight.root_cause_hypothesis


def test_a_memory_backed_emptydir_is_named_in_an_oom_kill_at_the_limit() -> None:
    container = {"name": "app", "image": "app:1",
                 "resources": {"limits": {"memory": "1Gi"}},
                 "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}
    killed = pod("api-7d9f-x2x9q", ("ReplicaSet", "api-7d9f"), ready=False, container=container,
                 status={"name": "app", "ready": False, "restartCount": 3,
                         "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                         "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                                                      "finishedAt": EARLIER}}})
    killed["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {"medium": "Memory"}}]
    source = StaticSource.from_objects([node(), deployment("api", 1, 0),
                                        replicaset("api-7d9f", "api", 1, 0), killed])
    [insight] = analyze([], [], context("api restarts"), cluster=source)
    assert ("the files it writes under /scratch (emptyDir scratch, medium Memory, no sizeLimit) "
            "count against its memory limit (1Gi)") in insight.root_cause_hypothesis


def test_a_log_entry_keeps_the_indented_lines_that_say_its_reason() -> None:
    from kubelens.graph.logs import _entries

    text = ("[main.go:59] invalid configuration:\n"
            "  cookie_secret must be 16, 24, or 32 bytes, but is 44 bytes\n"
            "next entry\n\n  stray indented line after a blank\n")
    assert _entries(text) == [
        "[main.go:59] invalid configuration: cookie_secret must be 16, 24, or 32 bytes, "
        "but is 44 bytes",
        "next entry", "", "  stray indented line after a blank"]


def tls_client(line: str) -> list[Any]:
    """api (configured with DB_HOST=postgres) crash-loops logging ``line``."""
    api = pod("api-7d9f-x2x9q", ("ReplicaSet", "api-7d9f"), labels={"app": "api"}, ready=False,
              container={"name": "app", "image": "api:2",
                         "env": [{"name": "DB_HOST", "value": "postgres"}]},
              status=crash_looping(9, 1))
    database = pod("postgres-0", ("StatefulSet", "postgres"), labels={"app": "postgres"})
    source = StaticSource.from_objects(
        [node(), deployment("api", 1, 0), replicaset("api-7d9f", "api", 1, 0), api,
         service("postgres", {"app": "postgres"}, ip="10.100.0.7"), database],
        logs={("shop", "api-7d9f-x2x9q", "app", True): line + "\n"})
    return analyze([], [], context("api is down"), cluster=source)


def test_a_certificate_the_client_cannot_verify_is_the_peers() -> None:
    [expired] = tls_client("FATAL cannot open pool: tls error (x509: certificate has expired)")
    assert "because Service shop/postgres: the certificate it serves fails verification" \
        in expired.summary
    [refused] = tls_client("FATAL connect: remote error: tls: bad certificate")
    assert "Service shop/postgres: the certificate" not in refused.summary
