"""Running the real operator (kopf) against the API emulator, for the fault tests."""

from __future__ import annotations

from typing import Any

import pytest
from kopf.testing import KopfRunner

from tests.support.fixtures import KubeEnv

TERMINAL = {"Succeeded", "Failed", "Cancelled"}


def use_scripted_model(monkeypatch: pytest.MonkeyPatch, api_base: str, **settings: str) -> None:
    """Point the operator at a scripted model; ``settings`` are extra KUBELENS_* values."""
    monkeypatch.setenv("KUBELENS_MODEL", "openai/scripted")
    monkeypatch.setenv("KUBELENS_LLM_API_BASE", api_base)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-scripted")
    for name, value in settings.items():
        monkeypatch.setenv(f"KUBELENS_{name.upper()}", value)


def prepare(env: KubeEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELENS_NAMESPACE", env.namespace)
    monkeypatch.setenv("KUBELENS_METRICS_PORT", "0")
    monkeypatch.delenv("KUBELENS_MODEL", raising=False)


def operator(*namespaces: str) -> KopfRunner:
    args = ["run", "-m", "kubelens.operator.handlers", "--standalone"]
    args += [f"--namespace={ns}" for ns in namespaces]
    return KopfRunner(args, timeout=60)


def investigation(name: str, reason: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubelens.io/v1alpha1",
        "kind": "Investigation",
        "metadata": {"name": name},
        "spec": {"reason": reason, **spec},
    }


def create(env: KubeEnv, body: dict[str, Any]) -> None:
    from kubernetes import client, config

    api = config.new_client_from_config(  # type: ignore[attr-defined,no-untyped-call]
        config_file=str(env.kubeconfig))
    try:
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            "kubelens.io", "v1alpha1", env.namespace, "investigations", body)
    finally:
        api.close()


def wait_terminal(env: KubeEnv, name: str, timeout: float = 30) -> dict[str, Any]:
    obj = env.emulator.wait_for(
        "investigations", name, env.namespace,
        lambda o: (o or {}).get("status", {}).get("phase") in TERMINAL, timeout=timeout)
    assert obj is not None, f"{name} never reached a terminal phase"
    return obj


def events_of(env: KubeEnv, name: str) -> list[dict[str, Any]]:
    return [e for e in env.emulator.list("events", env.namespace)
            if (e.get("involvedObject") or {}).get("name") == name]
