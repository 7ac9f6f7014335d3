"""The API emulator behaves like kube-apiserver for the official client and for kopf.

These tests pin the behaviours the operator relies on (and kmock 0.8 lacks): versions,
conflicts, selectors, status isolation, finalizers, watches that resume, schema
validation with the server's wording. If one fails, an operator test passing against
the emulator would prove less.
"""

from __future__ import annotations

import json
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import kopf.testing
import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.support.emulator import Emulator, TokenIdentity

GROUP, VERSION = "kubelens.io", "v1alpha1"


def investigation(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Investigation",
            "metadata": {"name": name}, "spec": {"reason": "pods restart", **spec}}


def pod(name: str, namespace: str, *, labels: dict[str, str] | None = None,
        node: str = "node-a", phase: str = "Running") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app:1"}]},
            "status": {"phase": phase}}


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


@pytest.fixture
def crs(kube_client: client.ApiClient, emulator_crds: Any) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube_client)


@pytest.fixture
def core(kube_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube_client)


def test_starts_fast_and_serves_discovery(kube_client: client.ApiClient) -> None:
    started = time.perf_counter()
    with Emulator() as other:
        assert other.port
    assert time.perf_counter() - started < 0.3

    names = [ns.metadata.name for ns in client.CoreV1Api(kube_client).list_namespace().items]
    assert "default" in names
    version = client.VersionApi(kube_client).get_code()
    assert version.major == "1"
    groups = {g.name for g in client.ApisApi(kube_client).get_api_versions().groups}
    assert {"apps", "coordination.k8s.io", "authentication.k8s.io", "kopf.dev"} <= groups


def test_crd_resources_are_discoverable(emulator: Emulator, emulator_crds: Any,
                                        kube_client: client.ApiClient) -> None:
    resources = client.CustomObjectsApi(kube_client).get_api_resources(GROUP, VERSION).resources
    by_name = {r.name: r for r in resources}
    assert by_name["investigations"].short_names == ["inv"]
    assert by_name["investigations"].categories == ["kubelens"]
    assert "investigations/status" in by_name and "notifications/status" in by_name
    pods = {r.name for r in client.CoreV1Api(kube_client).get_api_resources().resources}
    assert {"pods", "pods/log", "pods/status", "events", "namespaces"} <= pods
    crd = client.ApiextensionsV1Api(kube_client).read_custom_resource_definition(
        "investigations.kubelens.io")
    assert {c.type for c in crd.status.conditions} == {"Established", "NamesAccepted"}


def test_metadata_is_assigned_like_the_api_server(crs: client.CustomObjectsApi,
                                                   kube_namespace: str) -> None:
    body, code, _ = crs.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, kube_namespace, "investigations", investigation("first"))
    assert code == 201
    meta = body["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["namespace"] == kube_namespace and meta["generation"] == 1
    assert isinstance(meta["resourceVersion"], str)

    generated = crs.create_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, "investigations",
        {**investigation(""), "metadata": {"generateName": "alert-"}})
    assert generated["metadata"]["name"].startswith("alert-")
    assert len(generated["metadata"]["name"]) == len("alert-") + 5
    assert int(generated["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])

    with pytest.raises(ApiException) as exc:
        crs.create_namespaced_custom_object(GROUP, VERSION, kube_namespace, "investigations",
                                            investigation("first"))
    assert exc.value.status == 409
    assert status_of(exc.value)["reason"] == "AlreadyExists"

    with pytest.raises(ApiException) as exc:
        crs.get_namespaced_custom_object(GROUP, VERSION, kube_namespace, "investigations", "nope")
    assert exc.value.status == 404
    assert status_of(exc.value)["message"] == 'investigations.kubelens.io "nope" not found'


def test_generation_counts_spec_changes_only(crs: client.CustomObjectsApi,
                                             kube_namespace: str) -> None:
    args = (GROUP, VERSION, kube_namespace, "investigations", "gen")
    created = crs.create_namespaced_custom_object(*args[:4], investigation("gen"))
    labelled = crs.patch_namespaced_custom_object(*args, {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 1
    assert int(labelled["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"])
    status = crs.patch_namespaced_custom_object_status(*args, {"status": {"phase": "Running"}})
    assert status["metadata"]["generation"] == 1
    changed = crs.patch_namespaced_custom_object(*args, {"spec": {"maxIterations": 5}})
    assert changed["metadata"]["generation"] == 2
    # A write that changes nothing makes no new version (and so no watch event).
    same = crs.patch_namespaced_custom_object(*args, {"spec": {"maxIterations": 5}})
    assert same["metadata"]["resourceVersion"] == changed["metadata"]["resourceVersion"]


def test_stale_resource_version_conflicts(crs: client.CustomObjectsApi,
                                          kube_namespace: str) -> None:
    args = (GROUP, VERSION, kube_namespace, "investigations", "cas")
    first = crs.create_namespaced_custom_object(*args[:4], investigation("cas"))
    second = crs.patch_namespaced_custom_object(*args, {"spec": {"model": "m1"}})

    first["spec"]["model"] = "m2"
    with pytest.raises(ApiException) as exc:
        crs.replace_namespaced_custom_object(*args, first)
    assert exc.value.status == 409 and status_of(exc.value)["reason"] == "Conflict"

    stale = {"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]},
             "spec": {"model": "m3"}}
    with pytest.raises(ApiException) as exc:
        crs.patch_namespaced_custom_object(*args, stale)
    assert exc.value.status == 409

    # kopf guards its JSON patches with a "test" of the resourceVersion: a 422 on mismatch.
    guarded = [{"op": "test", "path": "/metadata/resourceVersion",
                "value": first["metadata"]["resourceVersion"]},
               {"op": "replace", "path": "/spec/model", "value": "m4"}]
    with pytest.raises(ApiException) as exc:
        crs.patch_namespaced_custom_object(*args, guarded,
                                           _content_type="application/json-patch+json")
    assert exc.value.status == 422

    second["spec"]["model"] = "m5"
    replaced = crs.replace_namespaced_custom_object(*args, second)
    assert replaced["spec"]["model"] == "m5"


def test_json_patch_operations(crs: client.CustomObjectsApi, kube_namespace: str) -> None:
    args = (GROUP, VERSION, kube_namespace, "investigations", "jp")
    crs.create_namespaced_custom_object(*args[:4], investigation("jp", skills=["os"]))
    patched = crs.patch_namespaced_custom_object(*args, [
        {"op": "add", "path": "/spec/skills/-", "value": "pods"},
        {"op": "add", "path": "/spec/skills/0", "value": "events"},
        {"op": "copy", "from": "/spec/reason", "path": "/spec/model"},
        {"op": "add", "path": "/metadata/annotations", "value": {}},
        {"op": "move", "from": "/spec/model", "path": "/metadata/annotations/reason"},
        {"op": "remove", "path": "/spec/timeoutSeconds"},
    ], _content_type="application/json-patch+json")
    assert patched["spec"]["skills"] == ["events", "os", "pods"]
    assert "model" not in patched["spec"]
    assert patched["metadata"]["annotations"] == {"reason": "pods restart"}
    assert patched["spec"]["timeoutSeconds"] == 300  # removed, then defaulted again
    with pytest.raises(ApiException) as exc:
        crs.patch_namespaced_custom_object(*args, [{"op": "replace", "path": "/spec/nope",
                                                    "value": 1}],
                                           _content_type="application/json-patch+json")
    assert exc.value.status == 422


def test_status_subresource_is_isolated(crs: client.CustomObjectsApi,
                                        kube_namespace: str) -> None:
    args = (GROUP, VERSION, kube_namespace, "investigations", "iso")
    created = crs.create_namespaced_custom_object(
        *args[:4], {**investigation("iso"), "status": {"phase": "Succeeded"}})
    assert "status" not in created  # create cannot set status

    main = crs.patch_namespaced_custom_object(
        *args, {"spec": {"model": "m"}, "status": {"phase": "Failed"}})
    assert main["spec"]["model"] == "m" and "status" not in main

    status = crs.patch_namespaced_custom_object_status(
        *args, {"spec": {"model": "ignored"}, "status": {"phase": "Running", "iteration": 3}})
    assert status["status"] == {"phase": "Running", "iteration": 3}
    assert status["spec"]["model"] == "m"

    replaced = crs.replace_namespaced_custom_object(
        *args, {**status, "status": {"phase": "Failed"}})
    assert replaced["status"]["phase"] == "Running"


def test_finalizers_defer_deletion(emulator: Emulator, crs: client.CustomObjectsApi,
                                   kube_namespace: str) -> None:
    args = (GROUP, VERSION, kube_namespace, "investigations", "fin")
    body = investigation("fin")
    body["metadata"]["finalizers"] = ["kubelens.io/cleanup"]
    created = crs.create_namespaced_custom_object(*args[:4], body)

    crs.delete_namespaced_custom_object(*args)
    pending = crs.get_namespaced_custom_object(*args)
    assert pending["metadata"]["deletionTimestamp"]

    with pytest.raises(ApiException) as exc:  # no new finalizers while being deleted
        crs.patch_namespaced_custom_object(
            *args, {"metadata": {"finalizers": ["kubelens.io/cleanup", "other"]}})
    assert exc.value.status == 422

    crs.patch_namespaced_custom_object(*args, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as exc:
        crs.get_namespaced_custom_object(*args)
    assert exc.value.status == 404

    since = created["metadata"]["resourceVersion"]
    events = [(e["type"], e["object"]["metadata"].get("deletionTimestamp") is not None)
              for e in watch.Watch().stream(crs.list_namespaced_custom_object, *args[:4],
                                            resource_version=since, timeout_seconds=1)]
    assert events == [("MODIFIED", True), ("DELETED", True)]


def test_owner_references_are_garbage_collected(emulator: Emulator, kube_namespace: str,
                                                core: client.CoreV1Api) -> None:
    owner = emulator.create({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "owner", "namespace": kube_namespace}})
    emulator.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "child", "namespace": kube_namespace,
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                             "uid": owner["metadata"]["uid"]}]}})
    core.delete_namespaced_config_map("owner", kube_namespace)
    assert emulator.get("configmaps", "child", kube_namespace) is None


def test_selectors(emulator: Emulator, core: client.CoreV1Api, kube_namespace: str) -> None:
    emulator.create(pod("a", kube_namespace, labels={"app": "shop", "tier": "web"}))
    emulator.create(pod("b", kube_namespace, labels={"app": "shop", "tier": "db"},
                        node="node-b", phase="Failed"))
    emulator.create(pod("c", kube_namespace, labels={"app": "blog"}))
    emulator.create(pod("elsewhere", "other", labels={"app": "shop"}))

    def names(**kwargs: Any) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod(kube_namespace,
                                                                  **kwargs).items]

    assert names(label_selector="app=shop") == ["a", "b"]
    assert names(label_selector="app==shop,tier!=db") == ["a"]
    assert names(label_selector="tier in (db, cache)") == ["b"]
    assert names(label_selector="app notin (shop)") == ["c"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c"]
    assert names(field_selector="spec.nodeName=node-b") == ["b"]
    assert names(field_selector="status.phase!=Failed,metadata.name!=c") == ["a"]
    everywhere = core.list_pod_for_all_namespaces(label_selector="app=shop")
    assert len(everywhere.items) == 3
    assert everywhere.kind == "PodList" and everywhere.metadata.resource_version

    with pytest.raises(ApiException) as exc:
        names(field_selector="spec.bogus=1")
    assert exc.value.status == 400
    assert "field label not supported: spec.bogus" in status_of(exc.value)["message"]


def test_watch_resumes_from_a_resource_version(emulator: Emulator, core: client.CoreV1Api,
                                               kube_namespace: str) -> None:
    emulator.create(pod("old", kube_namespace))
    listed = core.list_namespaced_pod(kube_namespace)
    since = listed.metadata.resource_version
    emulator.create(pod("new", kube_namespace))
    emulator.patch("pods", "new", {"metadata": {"labels": {"x": "y"}}}, kube_namespace)

    resumed = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        core.list_namespaced_pod, kube_namespace, resource_version=since, timeout_seconds=1)]
    assert resumed == [("ADDED", "new"), ("MODIFIED", "new")]

    started = time.monotonic()
    fresh = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        core.list_namespaced_pod, kube_namespace, timeout_seconds=1)]
    assert sorted(fresh) == [("ADDED", "new"), ("ADDED", "old")]
    assert 0.9 < time.monotonic() - started < 3


def test_watch_streams_live_changes(emulator: Emulator, core: client.CoreV1Api,
                                    kube_namespace: str) -> None:
    since = core.list_namespaced_pod(kube_namespace).metadata.resource_version

    def later() -> None:
        time.sleep(0.2)
        emulator.create(pod("live", kube_namespace))
        emulator.delete("pods", "live", kube_namespace)

    threading.Thread(target=later).start()
    stream = watch.Watch()
    seen = []
    for event in stream.stream(core.list_namespaced_pod, kube_namespace,
                               resource_version=since, timeout_seconds=5):
        seen.append(event["type"])
        if event["type"] == "DELETED":
            stream.stop()
    assert seen == ["ADDED", "DELETED"]


def test_custom_resources_are_validated_and_defaulted(crs: client.CustomObjectsApi,
                                                      kube_namespace: str) -> None:
    created = crs.create_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, "investigations",
        {**investigation("ok"), "spec": {"reason": "x", "unknownField": 1}})
    assert created["spec"] == {"reason": "x", "maxIterations": 25, "timeoutSeconds": 300}

    with pytest.raises(ApiException) as exc:
        crs.create_namespaced_custom_object(GROUP, VERSION, kube_namespace, "investigations",
                                            investigation("bad", maxIterations=500))
    assert exc.value.status == 422
    status = status_of(exc.value)
    assert status["message"] == (
        'Investigation.kubelens.io "bad" is invalid: spec.maxIterations: Invalid value: 500: '
        "spec.maxIterations in body should be less than or equal to 200")
    assert status["reason"] == "Invalid" and status["kind"] == "Status"
    assert status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.maxIterations",
        "message": "Invalid value: 500: spec.maxIterations in body should be less than or "
                   "equal to 200"}]

    with pytest.raises(ApiException) as exc:
        crs.patch_namespaced_custom_object_status(
            GROUP, VERSION, kube_namespace, "investigations", "ok",
            {"status": {"phase": "Bogus", "insights": [{"id": "i"}]}})
    message = status_of(exc.value)["message"]
    assert message.startswith('Investigation.kubelens.io "ok" is invalid: [')
    assert ('status.phase: Unsupported value: "Bogus": supported values: "Pending", '
            '"Running", "Succeeded", "Failed", "Cancelled"') in message
    assert "status.insights[0].summary: Required value" in message


def test_api_creates_need_an_existing_namespace(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("missing", {"metadata": {"name": "x"}})
    assert exc.value.status == 404


def test_namespace_deletion_removes_its_objects(emulator: Emulator, core: client.CoreV1Api,
                                                kube_namespace: str) -> None:
    emulator.create(pod("p", kube_namespace))
    core.delete_namespace(kube_namespace)
    assert emulator.get("pods", "p", kube_namespace) is None
    assert emulator.get("namespaces", kube_namespace) is None


def test_events_are_served_by_both_event_apis(emulator: Emulator, kube_client: client.ApiClient,
                                              kube_namespace: str) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_event(kube_namespace, {
        "metadata": {"generateName": "shop-"}, "type": "Warning", "reason": "BackOff",
        "message": "Back-off restarting failed container",
        "involvedObject": {"kind": "Pod", "name": "shop", "namespace": kube_namespace},
        "count": 7})
    found = core.list_namespaced_event(kube_namespace,
                                       field_selector="involvedObject.name=shop,type=Warning")
    assert [e.reason for e in found.items] == ["BackOff"]
    # Read raw: the client's EventsV1Event model cannot load events with a null eventTime,
    # which is what events written through the core API look like on a real server.
    response = client.EventsV1Api(kube_client).list_namespaced_event(
        kube_namespace, field_selector="regarding.name=shop", _preload_content=False)
    modern = json.loads(response.data)["items"]
    assert [(e["note"], e["deprecatedCount"], e["regarding"]["kind"], e["eventTime"])
            for e in modern] == [("Back-off restarting failed container", 7, "Pod", None)]


def test_pod_logs(emulator: Emulator, core: client.CoreV1Api, kube_namespace: str) -> None:
    emulator.create(pod("app", kube_namespace))
    emulator.set_pod_log(kube_namespace, "app", "app", "one\ntwo\nthree\n")
    emulator.set_pod_log(kube_namespace, "app", "app", "panic: boom\n", previous=True)
    assert core.read_namespaced_pod_log("app", kube_namespace) == "one\ntwo\nthree\n"
    assert core.read_namespaced_pod_log("app", kube_namespace, tail_lines=1) == "three\n"
    assert core.read_namespaced_pod_log("app", kube_namespace, container="app",
                                        previous=True) == "panic: boom\n"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("app", kube_namespace, container="sidecar")
    assert exc.value.status == 400


def test_token_reviews(emulator: Emulator, kube_client: client.ApiClient) -> None:
    emulator.tokens["operator-token"] = TokenIdentity(
        "system:serviceaccount:kubelens:operator", groups=["system:serviceaccounts"],
        audiences=["kubelens-agent"])
    emulator.tokens["plain"] = "alice"
    api = client.AuthenticationV1Api(kube_client)

    def review(token: str, audiences: list[str] | None = None) -> Any:
        body = client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token,
                                                                  audiences=audiences))
        return api.create_token_review(body).status

    ok = review("operator-token", ["kubelens-agent"])
    assert ok.authenticated and ok.user.username == "system:serviceaccount:kubelens:operator"
    assert ok.audiences == ["kubelens-agent"]
    assert not review("operator-token", ["someone-else"]).authenticated
    assert review("plain").user.username == "alice"
    assert not review("forged").authenticated


def test_crds_can_be_created_through_the_api(emulator: Emulator,
                                             kube_client: client.ApiClient,
                                             kube_namespace: str) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True}}}]}}
    client.ApiextensionsV1Api(kube_client).create_custom_resource_definition(crd)
    crs = client.CustomObjectsApi(kube_client)
    crs.create_namespaced_custom_object("example.com", "v1", kube_namespace, "widgets", {
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 3}})
    assert emulator.get("widgets", "w", kube_namespace)["spec"] == {"size": 3}


def test_requests_are_recorded(emulator: Emulator, core: client.CoreV1Api,
                               kube_namespace: str) -> None:
    core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": "cm"},
                                                       "data": {"k": "v"}})
    posts = emulator.requests_to("POST", f"/api/v1/namespaces/{kube_namespace}/configmaps")
    assert [(r.body["data"], r.status) for r in posts] == [({"k": "v"}, 201)]


# ---------------------------------------------------------------------------------------
# kopf against the emulator

HANDLERS = textwrap.dedent('''
    import kopf

    @kopf.on.login()
    def login(**kwargs):
        # A fresh registry has none of kopf's default login handlers.
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup()
    def configure(settings: kopf.OperatorSettings, **_):
        # The CRD's status is structural: kopf's default progress storage (status.kopf)
        # would be pruned by the API server, so keep kopf's state in annotations.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
        settings.persistence.finalizer = "kubelens.io/test-finalizer"

    @kopf.on.create("kubelens.io", "v1alpha1", "investigations")
    def created(body, spec, patch, logger, **_):
        patch.status["phase"] = "Succeeded"
        patch.status["message"] = "seen: " + spec["reason"]
        # kopf 1.45 no longer turns log lines into Events by default; post one explicitly.
        kopf.info(body, reason="Handled", message="investigation seen")

    @kopf.on.delete("kubelens.io", "v1alpha1", "investigations")
    def deleted(name, logger, **_):
        logger.info("cleaned up after %s", name)
''')


def run_kopf(tmp_path: Path, kube_env: Any, *extra: str) -> None:
    handlers = tmp_path / "handlers.py"
    handlers.write_text(HANDLERS)
    crs = kube_env.emulator
    args = ["run", "--namespace", kube_env.namespace, *extra, str(handlers)]
    # kopf's handler registry is process-global: give this throwaway module its own and
    # restore the default after, or its handlers would also run in later operator tests.
    previous = kopf.get_default_registry()
    registry = kopf.OperatorRegistry()
    kopf.set_default_registry(registry)
    try:
        _run_kopf(args, crs, kube_env, registry)
    finally:
        kopf.set_default_registry(previous)


def _run_kopf(args: list[str], crs: Any, kube_env: Any, registry: Any) -> None:
    with kopf.testing.KopfRunner(args, timeout=30, registry=registry) as runner:
        crs.create(investigation("kopf-made"), namespace=kube_env.namespace)
        done = crs.wait_for("investigations", "kopf-made", kube_env.namespace,
                            lambda o: bool(o and o.get("status", {}).get("phase")))
        assert done is not None
        assert done["status"] == {"phase": "Succeeded", "message": "seen: pods restart"}
        assert "kubelens.io/test-finalizer" in done["metadata"]["finalizers"]
        # kopf posted a Kubernetes Event about the handler (core v1 events).
        crs.wait_for("events", "", kube_env.namespace, lambda _: any(
            e["involvedObject"]["name"] == "kopf-made" and e["reason"] == "Handled"
            for e in crs.list("events", kube_env.namespace)))
        # Deletion waits for kopf's finalizer; kopf runs the handler and releases it.
        crs.delete("investigations", "kopf-made", kube_env.namespace)
        crs.wait_for("investigations", "kopf-made", kube_env.namespace, lambda o: o is None)
    assert runner.exit_code == 0, runner.output
    assert runner.exception is None
    assert "Patching failed with inconsistencies" not in runner.output
    assert "cleaned up after kopf-made" in runner.output


def test_kopf_standalone_operator(tmp_path: Path, kube_env: Any) -> None:
    run_kopf(tmp_path, kube_env, "--standalone")


def test_kopf_operator_with_absent_default_peering(tmp_path: Path, kube_env: Any) -> None:
    # No flags: kopf keeps alive a "default" KopfPeering; absent, it carries on alone.
    run_kopf(tmp_path, kube_env)


def test_kopf_operator_with_peering(tmp_path: Path, kube_env: Any) -> None:
    kube_env.emulator.create({"apiVersion": "kopf.dev/v1", "kind": "KopfPeering",
                              "metadata": {"name": "kubelens", "namespace": kube_env.namespace}})
    run_kopf(tmp_path, kube_env, "--peering", "kubelens")
    peering = kube_env.emulator.get("kopfpeerings", "kubelens", kube_env.namespace)
    # kopf wrote its keep-alive and removed itself on exit.
    assert peering is not None
    assert int(peering["metadata"]["resourceVersion"]) > 1
    patches = kube_env.emulator.requests_to(
        "PATCH", f"/apis/kopf.dev/v1/namespaces/{kube_env.namespace}/kopfpeerings/kubelens")
    assert patches
