"""The shipped CRDs are sound, and a user's kubectl session against them reads well.

The first half checks ``crds/*.yaml`` offline: valid apiextensions/v1, a description on
every field (for ``kubectl explain``), defaults that pass their own schema, printer columns
that point at declared fields, and the Python models' wire forms fitting the schema.
The second half drives the real kubectl against the emulator, as the README does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kubelens import anomalies
from kubelens.models import (
    Insight,
    Notification,
    OperatorResult,
    Snapshot,
    Subject,
    Usage,
)
from tests.support.emulator import Emulator
from tests.support.fixtures import CRDS_DIR, REPO, Kubectl
from tests.support.schemas import SchemaValidator, apply_defaults

#: kubelens's own CRDs; crds/ also holds kopf's peering CRDs (kopf's schema, not ours).
PEERING_FILE = "kopf-peering.yaml"
CRD_FILES = [p for p in sorted(CRDS_DIR.glob("*.yaml")) if p.name != PEERING_FILE]


def load(path: Path) -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load(path.read_text())
    return crd


def schema_of(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = load(CRDS_DIR / f"{name}.yaml")["spec"]["versions"][0]["schema"][
        "openAPIV3Schema"]
    return schema


def walk(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node under a field name, as ``spec.budget.maxTokens`` / ``x[]``."""
    yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from walk(sub, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}{{}}")


def test_crds_holds_kubelens_two_and_kopfs_peering() -> None:
    assert [p.name for p in CRD_FILES] == ["investigation.yaml", "notification.yaml"]
    assert (CRDS_DIR / PEERING_FILE).exists()



@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: p.stem)
def test_crd_is_valid_apiextensions_v1(path: Path) -> None:
    crd = load(path)
    kubernetes_validate.validate(crd, "1.32", strict=True)
    spec = crd["spec"]
    assert crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}"
    assert spec["group"] == "kubelens.io" and spec["scope"] == "Namespaced"
    assert spec["names"]["categories"] == ["kubelens"] and spec["names"]["shortNames"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}


@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: p.stem)
def test_schema_is_structural_and_documented(path: Path) -> None:
    schema = load(path)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    # The API server refuses anything under metadata but its type (and name rules).
    assert schema["properties"]["metadata"] == {"type": "object"}
    undocumented = [p or "<root>" for p, node in walk(schema)
                    if not node.get("description") and p != "metadata"]
    assert undocumented == [], "every field needs a description for kubectl explain"

    untyped = [p for p, node in walk(schema) if "type" not in node
               and not node.get("x-kubernetes-int-or-string")]
    assert untyped == [], "structural schemas type every node"
    # An object must say what it holds, or the API server prunes everything in it.
    opaque = [p for p, node in walk(schema) if node["type"] == "object" and p != "metadata"
              and not (node.get("properties") or node.get("additionalProperties")
                       or node.get("x-kubernetes-preserve-unknown-fields"))]
    assert opaque == []
    unbounded = [p for p, node in walk(schema) if node["type"] == "array"
                 and "maxItems" not in node]
    assert unbounded == [], "arrays in a CR need maxItems (etcd objects are size-limited)"


@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: p.stem)
def test_defaults_and_enums_pass_their_own_schema(path: Path) -> None:
    schema = load(path)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for field_path, node in walk(schema):
        if "default" in node:
            assert SchemaValidator(node).errors(node["default"]) == [], field_path
        for value in node.get("enum", ()):
            plain = {k: v for k, v in node.items() if k != "enum"}
            assert SchemaValidator(plain).errors(value) == [], field_path


@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: p.stem)
def test_printer_columns_point_at_declared_fields(path: Path) -> None:
    version = load(path)["spec"]["versions"][0]
    declared = {p for p, _ in walk(version["schema"]["openAPIV3Schema"])}
    for column in version["additionalPrinterColumns"]:
        json_path = column["jsonPath"].lstrip(".")
        assert json_path in declared or json_path.startswith("metadata."), column
        assert column["type"] in ("string", "integer", "number", "boolean", "date")


def test_investigation_defaults() -> None:
    obj = {"spec": {"reason": "x"}}
    apply_defaults(obj, schema_of("investigation"))
    assert obj["spec"] == {"reason": "x", "maxIterations": 25, "timeoutSeconds": 300}


def test_every_anomaly_type_is_documented_in_the_notification_crd() -> None:
    description = schema_of("notification")["properties"]["spec"]["properties"]["anomalyType"][
        "description"]
    vocabulary = [v for k, v in vars(anomalies).items() if k.isupper() and isinstance(v, str)]
    assert vocabulary
    assert [v for v in vocabulary if v not in description] == []


def test_model_wire_forms_fit_the_investigation_status() -> None:
    """What the coordinator writes must pass the CRD, or the API server refuses the status."""
    subject = Subject(kind="Pod", name="checkout-1", namespace="shop")
    insight = Insight(correlation_type="causal", summary="OOMKilled 4 times", confidence="high",
                      notification_ids=["ntf-1"], matched_observations=["exit 137"],
                      hypothesis_grounded=True, root_cause_hypothesis="limit too low",
                      evidence=["Pod/shop/checkout-1"], next_steps=["raise the limit"],
                      subjects=[subject])
    result = OperatorResult(skill="containers", source="node-a", status="ok",
                            summary="1 OOM", snapshot={"pods": [{"name": "x"}]},
                            notification_ids=["ntf-1"], duration_ms=12.5)
    failed = OperatorResult(skill="os", source="node-b", status="error", error="timeout")
    obj = {"apiVersion": "kubelens.io/v1alpha1", "kind": "Investigation",
           "metadata": {"name": "x"}, "spec": {"reason": "x"},
           "status": {"phase": "Succeeded", "insights": [insight.wire()], "insightCount": 1,
                      "operatorResults": [result.wire(), failed.wire()],
                      "usage": Usage(llm_calls=2, cost=0.01).wire(), "analyst": "rule-based"}}
    assert SchemaValidator(schema_of("investigation")).errors(obj) == []


def test_model_wire_form_fits_the_notification_spec() -> None:
    notification = Notification(skill="containers", anomaly_type=anomalies.CONTAINER_OOM_KILLED,
                                severity="critical", observation="exit 137", node="node-a",
                                subject=Subject(kind="Pod", name="p", namespace="shop"),
                                snapshots=[Snapshot(data={"memory": 1})])
    wire = notification.wire()
    schema = schema_of("notification")
    spec_fields = set(schema["properties"]["spec"]["properties"])
    status_fields = set(schema["properties"]["status"]["properties"])
    obj = {"apiVersion": "kubelens.io/v1alpha1", "kind": "Notification",
           "metadata": {"name": wire["id"]},
           "spec": {k: v for k, v in wire.items() if k in spec_fields},
           "status": {k: v for k, v in wire.items() if k in status_fields}}
    assert set(wire) - spec_fields - status_fields == {"id"}  # the id is the object's name
    assert SchemaValidator(schema).errors(obj) == []


# ---------------------------------------------------------------------------------------
# kubectl against the emulator, as a user would type it


@pytest.fixture
def user(kubectl: Kubectl, emulator_crds: Any) -> Kubectl:
    return kubectl


def table(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def test_apply_the_example_and_list_it(user: Kubectl, emulator: Emulator,
                                       kube_namespace: str) -> None:
    applied = user("apply", "-f", "examples/investigation.yaml", "--validate=false")
    assert applied.stdout.strip() == "investigation.kubelens.io/checkout-restarts created"

    listed = table(user("get", "investigations").stdout)
    assert listed[0] == ["NAME", "PHASE", "INSIGHTS", "AGE"]
    assert listed[1][0] == "checkout-restarts" and len(listed[1]) == 2  # no status yet

    emulator.patch("investigations", "checkout-restarts",
                   {"status": {"phase": "Succeeded", "insightCount": 2,
                               "analyst": "rule-based"}},
                   kube_namespace, subresource="status")
    listed = table(user("get", "inv").stdout)
    assert listed[1][:3] == ["checkout-restarts", "Succeeded", "2"]
    wide = user("get", "inv", "-o", "wide").stdout
    assert "ANALYST" in wide and "REASON" in wide
    assert "Pods of the checkout deployment restart every few minutes." in wide

    again = user("apply", "-f", "examples/investigation.yaml")  # default: strict validation
    assert again.stdout.strip() == "investigation.kubelens.io/checkout-restarts unchanged"
    assert "checkout-restarts" in user("get", "kubelens").stdout  # the category

    stored = emulator.get("investigations", "checkout-restarts", kube_namespace)
    assert stored is not None and stored["spec"]["maxIterations"] == 25

    deleted = user("delete", "-f", "examples/investigation.yaml")
    assert 'investigation.kubelens.io "checkout-restarts" deleted' in deleted.stdout
    assert emulator.get("investigations", "checkout-restarts", kube_namespace) is None


INVALID = """\
apiVersion: kubelens.io/v1alpha1
kind: Investigation
metadata:
  name: too-long
spec:
  maxIterations: 500
"""


@pytest.mark.parametrize("validate", ["--validate=false", "--validate=strict"])
def test_an_invalid_investigation_is_refused_with_the_schema_message(
        user: Kubectl, emulator: Emulator, kube_namespace: str, validate: str) -> None:
    refused = user("apply", "-f", "-", validate, input=INVALID, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        'The Investigation "too-long" is invalid: ',
        "* spec.maxIterations: Invalid value: 500: spec.maxIterations in body should be less "
        "than or equal to 200",
        "* spec.reason: Required value",
    ]
    assert emulator.get("investigations", "too-long", kube_namespace) is None


def test_unknown_fields_are_refused_under_strict_validation(user: Kubectl) -> None:
    typo = INVALID.replace("maxIterations: 500", "reason: x\n  maxIteration: 5")
    refused = user("apply", "-f", "-", input=typo, check=False)
    assert refused.returncode == 1
    assert 'strict decoding error: unknown field "spec.maxIteration"' in refused.stderr


def test_notifications_list_with_their_columns(user: Kubectl, emulator: Emulator,
                                               kube_namespace: str) -> None:
    emulator.create({"apiVersion": "kubelens.io/v1alpha1", "kind": "Notification",
                     "metadata": {"name": "ntf-1", "namespace": kube_namespace},
                     "spec": {"skill": "containers", "anomalyType": "container_oom_killed",
                              "severity": "critical", "observation": "exit 137",
                              "node": "node-a", "fingerprint": "0123abcd"},
                     "status": {"state": "Unread", "count": 3}})
    listed = table(user("get", "ntf").stdout)
    assert listed[0] == ["NAME", "SKILL", "SEVERITY", "STATE", "NODE", "COUNT", "AGE"]
    assert listed[1][:6] == ["ntf-1", "containers", "critical", "Unread", "node-a", "3"]


def test_explain_shows_the_schema_descriptions(user: Kubectl) -> None:
    explained = user("explain", "investigation.spec.maxIterations").stdout
    assert "Most turns of the coordinator's tool loop" in explained
    states = user("explain", "ntf.status.state").stdout
    assert "Unread" in states and "Acknowledged" in states


def test_the_example_is_what_the_readme_applies() -> None:
    example = yaml.safe_load((REPO / "examples" / "investigation.yaml").read_text())
    assert example["kind"] == "Investigation" and set(example["spec"]) == {"reason"}
