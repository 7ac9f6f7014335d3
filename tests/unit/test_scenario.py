"""Scenario folders: what loads, and what is refused with a message naming file and problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelens import scenario
from kubelens.scenario import ScenarioError

SCENARIOS = Path(__file__).resolve().parents[1] / "evals" / "scenarios"

POD: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-1", "namespace": "shop"},
       "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
       "status": {"phase": "Running"}}


def make(root: Path, spec: dict[str, object] | None = None,
         objects: list[dict[str, Any]] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "scenario.yaml").write_text(yaml.safe_dump(
        spec if spec is not None else {"reason": "web is slow", "namespace": "shop"}))
    (root / "cluster").mkdir(exist_ok=True)
    (root / "cluster" / "pods.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "List", "items": objects or [POD]}))
    return root


def sample(root: Path, index: int, df: dict[str, object] | None = None,
           mounts: str = "/dev/sda1 / ext4 rw,relatime 0 0\n") -> Path:
    folder = root / "host" / f"{index:03d}"
    (folder / "proc").mkdir(parents=True)
    (folder / "proc" / "mounts").write_text(mounts)
    if df is not None:
        (folder / "df.json").write_text(json.dumps(df))
    return folder


def refused(root: Path) -> str:
    with pytest.raises(ScenarioError) as caught:
        scenario.load(root)
    return str(caught.value)


def test_an_eval_scenario_loads_with_objects_logs_and_samples() -> None:
    loaded = scenario.load(SCENARIOS / "memory-leak")
    assert loaded.name == "memory-leak"
    assert loaded.spec.namespace == "payments" and loaded.spec.node == "worker-1"
    assert loaded.spec.sample_interval == 60
    assert loaded.spec.expect is not None and loaded.spec.expect.min_confidence is not None
    assert [s.index for s in loaded.samples] == [0, 1, 2, 3, 4]
    assert loaded.samples[0].disks["/"].size > loaded.samples[0].disks["/"].used
    kinds = {o["kind"] for o in loaded.objects}
    assert {"Pod", "Node", "Deployment", "ReplicaSet", "Event", "Namespace"} <= kinds
    source = loaded.source()
    assert [p["metadata"]["name"] for p in source.list("Pod")] == ["ledger-5d8f7b9c6-q4wzt"]


def test_class_and_tags_are_read() -> None:
    spec = scenario.load(SCENARIOS / "noisy-neighbour").spec
    assert spec.scenario_class is scenario.ScenarioClass.NOISY_NEIGHBOUR
    assert spec.tags == [scenario.ScenarioTag.MULTI_HOP, scenario.ScenarioTag.CULPRIT_ELSEWHERE]


def test_logs_are_keyed_by_namespace_pod_container_and_run() -> None:
    loaded = scenario.load(SCENARIOS / "dns-failures")
    assert set(loaded.logs) == {
        ("orders", "order-service-7f8e9d6c5-hx2mb", "order-service", True),
        ("orders", "order-service-7f8e9d6c5-hx2mb", "order-service", False),
    }


def test_kinds_not_read_are_skipped_and_secrets_never_loaded(tmp_path: Path) -> None:
    secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret",
                              "metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="}}
    account: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount",
                               "metadata": {"name": "web"}}
    unnamespaced: dict[str, Any] = {**POD, "metadata": {"name": "web-2"}}
    loaded = scenario.load(make(tmp_path / "s", objects=[POD, secret, account, unnamespaced]))
    assert loaded.skipped == {"Secret": 1, "ServiceAccount": 1}
    assert [o["metadata"]["name"] for o in loaded.objects] == ["web-1", "web-2"]
    # an object without a namespace lives in the scenario's, as with kubectl apply -n
    assert loaded.objects[1]["metadata"]["namespace"] == "shop"


def test_several_documents_and_typed_lists_are_read(tmp_path: Path) -> None:
    root = make(tmp_path / "s")
    (root / "cluster" / "more.yaml").write_text(
        "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: web-3, namespace: shop}\n"
        "---\napiVersion: v1\nkind: Node\nmetadata: {name: worker-1}\n")
    (root / "cluster" / "events.json").write_text(json.dumps(
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "shop"},
         "type": "Normal", "reason": "Pulled"}))
    (root / "cluster" / ".gitkeep").write_text("")
    loaded = scenario.load(root)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in loaded.objects) == [
        ("Event", "e1"), ("Node", "worker-1"), ("Pod", "web-1"), ("Pod", "web-3")]


@pytest.mark.parametrize(("spec", "problem"), [
    ({"namespace": "shop"}, "reason: Field required"),
    ({"reason": "", "namespace": "shop"}, "reason: String should have at least 1 character"),
    ({"reason": "x", "namespace": "Shop_1"}, "namespace: 'Shop_1' is not a namespace name"),
    ({"reason": "x", "namespace": "shop", "colour": "red"}, "colour: Extra inputs"),
    ({"reason": "x", "namespace": "shop", "sampleInterval": 0}, "sampleInterval"),
    ({"reason": "x", "namespace": "shop", "expect": {"noInsight": True, "subjects": ["a"]}},
     "noInsight cannot be combined"),
    ({"reason": "x", "namespace": "shop", "expect": {"rootCause": [["oom"], []]}},
     "group 1 must list one or more non-empty keywords"),
    ({"reason": "x", "namespace": "shop", "expect": {"minConfidence": "high"}},
     "give rootCause and/or subjects"),
    ({"reason": "x", "namespace": "shop", "expect": {"rootCause": [["a"]],
                                                     "minConfidence": "sure"}},
     "expect.minConfidence"),
    ({"reason": "x", "namespace": "shop", "expect": {"rootCause": [["a"]], "maxInsights": -1}},
     "expect.maxInsights"),
    ({"reason": "x", "namespace": "shop", "class": "oom"},
     "class: 'oom' is not a scenario class; allowed: memory, cpu, noisy-neighbour, pids,"),
    ({"reason": "x", "namespace": "shop", "tags": ["multi-hop", "hard"]},
     "tags: 'hard' is not a scenario tag; allowed: multi-hop, culprit-elsewhere, "
     "no-notification"),
    ({"reason": "x", "namespace": "shop", "tags": ["multi-hop", "multi-hop"]},
     "tags: lists a tag more than once"),
])
def test_bad_scenario_yaml_is_refused_naming_the_field(
    tmp_path: Path, spec: dict[str, object], problem: str
) -> None:
    message = refused(make(tmp_path / "s", spec=spec))
    assert message.startswith(str(tmp_path / "s" / "scenario.yaml") + ": ")
    assert problem in message


@pytest.mark.parametrize(("content", "problem"), [
    ("kind: Pod\nmetadata: {namespace: shop}\n", "(document 1): Pod has no metadata.name"),
    ("metadata: {name: x}\n", "(document 1): has no kind"),
    ("- just\n- a list\n", "(document 1): a Kubernetes object must be a mapping"),
    ("kind: List\nitems: {a: b}\n", "a List needs an items list"),
    ("kind: List\nitems:\n- kind: Pod\n  metadata: {}\n", "items[0]: Pod has no metadata.name"),
    ("kind: Pod\n  bad: [indent\n", "cannot be parsed"),
])
def test_bad_cluster_files_are_refused_naming_file_and_document(
    tmp_path: Path, content: str, problem: str
) -> None:
    root = make(tmp_path / "s")
    (root / "cluster" / "extra.yaml").write_text(content)
    message = refused(root)
    assert str(root / "cluster" / "extra.yaml") in message and problem in message


def test_other_files_in_cluster_are_refused(tmp_path: Path) -> None:
    root = make(tmp_path / "s")
    (root / "cluster" / "notes.txt").write_text("hi")
    assert "notes.txt: not a .yaml, .yml, .json file" in refused(root)


def test_log_files_must_follow_the_layout(tmp_path: Path) -> None:
    root = make(tmp_path / "s")
    (root / "logs" / "shop" / "web-1").mkdir(parents=True)
    (root / "logs" / "shop" / "web-1" / "web.log").write_text("ok\n")
    (root / "logs" / "shop" / "web-1" / "web.previous.log").write_text("crashed\n")
    assert scenario.load(root).logs == {("shop", "web-1", "web", False): "ok\n",
                                        ("shop", "web-1", "web", True): "crashed\n"}
    (root / "logs" / "shop" / "web-1.log").write_text("misplaced")
    assert "web-1.log: expected logs/<namespace>/<pod>/<container>.log" in refused(root)


def test_host_samples_are_numbered_without_gaps(tmp_path: Path) -> None:
    root = make(tmp_path / "s", spec={"reason": "x", "namespace": "shop", "node": "n1"})
    sample(root, 0)
    sample(root, 2)
    assert "sample 001 is missing before it" in refused(root)
    shutil.rmtree(root / "host" / "002")
    (root / "host" / "latest").mkdir()
    assert "host/latest: host/ holds only sample folders numbered" in refused(root)
    shutil.rmtree(root / "host" / "latest")
    (root / "host" / "001").mkdir()
    assert "host/001: empty sample" in refused(root)


def test_samples_need_the_node_they_were_taken_on(tmp_path: Path) -> None:
    root = make(tmp_path / "s")
    sample(root, 0)
    assert "node is required when host/ has samples" in refused(root)


def test_a_scenario_with_nothing_to_replay_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    (root / "scenario.yaml").write_text("reason: x\nnamespace: shop\n")
    assert "nothing to replay" in refused(root)
    assert "not a folder" in refused(tmp_path / "missing")
    (tmp_path / "bare").mkdir()
    assert "scenario.yaml: missing" in refused(tmp_path / "bare")


@pytest.mark.parametrize(("df", "problem"), [
    ({"/": {"size": 10, "used": 11}}, "used (11) is larger than size (10)"),
    ({"/": {"size": 10}}, "used is required"),
    ({"/": {"size": 10, "used": 1, "free": 9}}, "unknown key(s) free"),
    ({"/": {"size": 10, "used": -1}}, "used must be a whole number >= 0"),
    ({"/": {"size": 10, "used": 1, "inodes": 5, "inodes_used": 6}}, "inodes_used (6)"),
    ({"data": {"size": 10, "used": 1}}, "keys are absolute mount points"),
    ({"/data": {"size": 10, "used": 1}}, "/data not listed in proc/mounts"),
    (["/"], "must be an object of mount point"),
])
def test_bad_df_json_is_refused(tmp_path: Path, df: object, problem: str) -> None:
    root = make(tmp_path / "s", spec={"reason": "x", "namespace": "shop", "node": "n1"})
    folder = sample(root, 0)
    (folder / "df.json").write_text(json.dumps(df))
    message = refused(root)
    assert str(folder / "df.json") in message and problem in message


def test_df_json_reads_as_statvfs_would(tmp_path: Path) -> None:
    root = make(tmp_path / "s", spec={"reason": "x", "namespace": "shop", "node": "n1"})
    sample(root, 0, df={"/": {"size": 100, "used": 60, "inodes": 10, "inodes_used": 9},
                        "/var/lib/my data": {"size": 10, "used": 5, "available": 4}},
           mounts="/dev/sda1 / ext4 rw 0 0\n/dev/sdb /var/lib/my\\040data xfs rw 0 0\n")
    disks = scenario.load(root).samples[0].disks
    assert disks["/"].available == 40 and disks["/"].inodes_used == 9
    assert disks["/var/lib/my data"].available == 4  # df.json may say what root reserves


# --- property: any folder content gets a scenario or a ScenarioError, nothing else ----------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
_text = st.one_of(
    _json.map(yaml.safe_dump),
    st.text(max_size=200),
    st.sampled_from(["reason: x\nnamespace: ns\n", "- a\n- b\n", "{", "kind: List\nitems: 3\n",
                     "apiVersion: v1\nkind: Pod\nmetadata: {name: 1}\n"]),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=_text, cluster=_text, log=st.text(max_size=100), df=_text)
def test_any_folder_loads_or_is_refused_clearly(
        tmp_path_factory: pytest.TempPathFactory, spec: str, cluster: str, log: str,
        df: str) -> None:
    root = tmp_path_factory.mktemp("scenario")
    (root / "scenario.yaml").write_text(spec)
    (root / "cluster").mkdir()
    (root / "cluster" / "objects.yaml").write_text(cluster)
    (root / "logs" / "ns" / "pod").mkdir(parents=True)
    (root / "logs" / "ns" / "pod" / "app.log").write_text(log)
    (root / "host" / "000").mkdir(parents=True)
    (root / "host" / "000" / "df.json").write_text(df)
    try:
        loaded = scenario.load(root)
    except ScenarioError as exc:
        assert str(exc).strip(), "a refusal must say what is wrong"
    else:
        assert loaded.spec.reason
