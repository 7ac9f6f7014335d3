"""The cluster skills read the same through the live client as from recorded files.

The fixtures under ``tests/fixtures/cluster`` are stored in the API emulator and read
back with :class:`KubernetesSource` over real HTTP; every skill must find the same
anomalies as it does from :class:`StaticSource`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubelens.skills.cluster import KubernetesSource, StaticSource, cluster_skills
from tests.support.emulator import Emulator

FIXTURES = Path(__file__).parent.parent / "fixtures" / "cluster"


def fixture_objects() -> list[dict[str, Any]]:
    source = StaticSource.from_files(sorted(FIXTURES.glob("*.yaml")))
    return source.objects()


def fixture_logs() -> dict[tuple[str, str, str | None, bool], str]:
    logs: dict[tuple[str, str, str | None, bool], str] = {}
    for path in (FIXTURES / "logs").glob("*.log"):
        parts = path.stem.split("_")
        logs[(parts[0], parts[1], parts[2], parts[-1] == "previous")] = path.read_text()
    return logs


def found(source: Any) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for skill in cluster_skills(source, "shop"):
        findings = skill.findings(skill.snapshot())
        out[skill.name] = sorted(
            (f.anomaly_type, f.subject.ref() if f.subject else "") for f in findings
        )
    return out


def test_live_source_finds_what_the_static_source_finds(
    emulator: Emulator, kube_client: Any
) -> None:
    objects = fixture_objects()
    stored = []
    for obj in objects:
        try:
            emulator.create(obj)
            stored.append(obj)
        except Exception:  # kinds the emulator does not serve (StorageClass) stay out
            assert obj["kind"] in ("StorageClass",), obj["kind"]
    logs = fixture_logs()
    for (namespace, pod, container, previous), text in logs.items():
        emulator.set_pod_log(namespace, pod, str(container), text, previous=previous)

    live = found(KubernetesSource(kube_client))
    recorded = found(StaticSource.from_objects(stored, logs=logs))
    assert live == recorded
    assert ("pod_oom_killed", "Pod/shop/api-7c9d8f6b5-x2x9q") in live["pods"]
    assert ("rollout_stuck", "Deployment/shop/checkout") in live["workloads"]
    assert ("dns_failure", "Pod/shop/checkout-6f7b8c9d4-zz9yx") in live["logs"]


def test_yaml_round_trip_of_a_list_document() -> None:
    text = (FIXTURES / "config-error.yaml").read_text()
    source = StaticSource.from_yaml([text])
    assert {o["kind"] for o in yaml.safe_load(text)["items"]} == {"Pod", "ConfigMap"}
    assert len(source.list("ConfigMap", "shop")) == 2
