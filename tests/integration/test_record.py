"""``kubelens record`` against the API emulator and this host, then replay what it wrote.

The namespace holds an eval scenario's objects plus the things a recording must not
carry: a Secret, ConfigMap values, a password in a pod's env, a token in a log line.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelens import config, record, scenario
from kubelens.replay import replay
from tests.support.emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
OOM = REPO / "tests" / "evals" / "scenarios" / "oom-killed"
SECRET_VALUE = "hunter2-Sup3rS3cret"
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def seed(emulator: Emulator) -> None:
    loaded = scenario.load(OOM)
    source = loaded.source()
    # Namespaces first: creating a namespaced object creates its namespace.
    for obj in sorted(source.objects(), key=lambda o: o["kind"] != "Namespace"):
        obj = json.loads(json.dumps(obj))
        if obj["kind"] == "Pod" and obj["metadata"]["name"] == "api-7c9d8f6b5-x2x9q":
            container = obj["spec"]["containers"][0]
            container["env"] = [{"name": "DB_PASSWORD", "value": SECRET_VALUE},
                                {"name": "LOG_LEVEL", "value": "info"}]
            obj["metadata"].setdefault("annotations", {})[
                "kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(
                    {"spec": {"env": [{"name": "DB_PASSWORD", "value": SECRET_VALUE}]}})
        emulator.create(obj)
    emulator.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"name": "api-db", "namespace": "shop"},
                     "stringData": {"password": SECRET_VALUE}})
    emulator.create({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "api-config", "namespace": "shop"},
                     "data": {"DATABASE_URL": f"postgres://api:{SECRET_VALUE}@db:5432/shop",
                              "LOG_LEVEL": "info"}})
    for (namespace, pod, container, previous), text in loaded.logs.items():
        emulator.set_pod_log(namespace, pod, str(container),
                             text + f"auth header Authorization: Bearer {TOKEN}\n",
                             previous=previous)


def everything(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def test_record_writes_a_redacted_scenario_that_replays(
    emulator: Emulator, kubeconfig: Path, tmp_path: Path
) -> None:
    seed(emulator)
    settings = config.load({"namespace": "shop", "kubeconfig": str(kubeconfig),
                            "samples": 2, "sample_interval": 0.05, "node_name": "worker-1",
                            "reason": "api pods keep restarting"})
    target = tmp_path / "recorded"
    written = record.record(settings, target)

    assert written.objects["Pod"] == 2 and written.objects["Node"] == 2
    assert written.logs == 1 and written.samples == 2
    assert written.warnings == []
    # Secrets are not a kind record reads: not listed, not fetched, not written.
    assert not emulator.requests_to(path_prefix="/api/v1/namespaces/shop/secrets")
    assert not emulator.requests_to(path_prefix="/api/v1/secrets")
    text = everything(target)
    assert SECRET_VALUE not in text and TOKEN not in text
    configmaps = yaml.safe_load((target / "cluster" / "configmaps.yaml").read_text())
    data = {i["metadata"]["name"]: i.get("data") for i in configmaps["items"]}
    assert data["api-config"] == {"DATABASE_URL": "(elided)", "LOG_LEVEL": "(elided)"}
    pods = yaml.safe_load((target / "cluster" / "pods.yaml").read_text())
    assert pods["kind"] == "List" and pods["apiVersion"] == "v1"
    bad = next(p for p in pods["items"] if p["metadata"]["name"] == "api-7c9d8f6b5-x2x9q")
    assert "managedFields" not in bad["metadata"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (
        bad["metadata"].get("annotations") or {})
    env = {e["name"]: e.get("value") for e in bad["spec"]["containers"][0]["env"]}
    assert env == {"DB_PASSWORD": "[REDACTED]", "LOG_LEVEL": "info"}
    log = target / "logs" / "shop" / "api-7c9d8f6b5-x2x9q" / "api.previous.log"
    assert "catalog cache" in log.read_text() and "[REDACTED]" in log.read_text()

    # The host part is this machine: its /proc and cgroup files, and df figures.
    sample = target / "host" / "000"
    assert (sample / "proc" / "meminfo").read_text().startswith("MemTotal:")
    assert (sample / "proc" / "stat").is_file() and (sample / "proc" / "mounts").is_file()
    assert any(p.name.isdigit() for p in (sample / "proc").iterdir())
    df = json.loads((sample / "df.json").read_text())
    assert all({"size", "used", "available"} <= set(v) for v in df.values())
    assert (target / "host" / "001").is_dir()

    loaded = scenario.load(target)
    assert loaded.spec.node == "worker-1" and loaded.spec.reason == "api pods keep restarting"
    assert loaded.spec.sample_interval > 0
    result = asyncio.run(replay(loaded))
    assert result.outcome.value == "done", result.message
    assert {r.skill for r in result.operator_results} == {
        "os", "processes", "containers", "pods", "events", "logs", "nodes", "workloads",
        "services", "graph"}
    assert any("api-7c9d8f6b5-x2x9q" in i.root_cause_hypothesis and "256Mi" in
               i.root_cause_hypothesis for i in result.insights), [i.summary for i in
                                                                    result.insights]
    assert SECRET_VALUE not in result.model_dump_json()


def test_record_refuses_a_folder_that_is_not_empty(kubeconfig: Path, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    settings = config.load({"namespace": "shop", "kubeconfig": str(kubeconfig)})
    with pytest.raises(record.RecordError, match="not an empty folder"):
        record.record(settings, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_record_names_a_missing_namespace(kubeconfig: Path, tmp_path: Path) -> None:
    settings = config.load({"namespace": "nope", "kubeconfig": str(kubeconfig),
                            "record_host": False})
    with pytest.raises(record.RecordError, match="namespace 'nope' does not exist"):
        record.record(settings, tmp_path / "out")


def test_record_and_replay_from_the_command_line(
    emulator: Emulator, kubeconfig: Path, kube_namespace: str, tmp_path: Path
) -> None:
    """The kubeconfig context's namespace is recorded when --namespace is not given."""
    emulator.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"},
                     "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("KUBELENS_")}
    target = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, "-m", "kubelens", "record", str(target), "--kubeconfig",
         str(kubeconfig), "--samples", "1", "--no-record-host"],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "recorded 1 Node" in done.stderr
    spec = yaml.safe_load((target / "scenario.yaml").read_text())
    assert spec["namespace"] == kube_namespace and "node" not in spec
    replayed = subprocess.run(
        [sys.executable, "-m", "kubelens", "replay", str(target), "--output", "json"],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["insights"] == []
