"""Through the operator: an Investigation whose model keeps failing ends ``Failed`` with
a message naming the model error, and never stays ``Running``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.helpers import timed
from tests.faults.operator_helpers import (
    create,
    events_of,
    investigation,
    operator,
    prepare,
    use_scripted_model,
    wait_terminal,
)
from tests.llm_server import ScriptedLLM, Turn
from tests.support.fixtures import KubeEnv


def failing_model(body: dict[str, Any]) -> Turn:
    """500 for every call, except that the "hang" investigation's calls never answer."""
    question = body["messages"][1]["content"]
    if "the model hangs" in question:
        return Turn(delay=30, tool_calls=[("done", {})])
    return Turn(status=500)


def test_investigations_whose_model_keeps_failing_end_failed_with_the_model_error(
        kube_env: KubeEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    env = kube_env
    prepare(env, monkeypatch)
    with ScriptedLLM([], default=failing_model) as server:
        use_scripted_model(monkeypatch, server.api_base, llm_retries="1", llm_timeout="0.5")
        with operator(env.namespace), timed() as elapsed:
            create(env, investigation("errors", "the model answers 500"))
            create(env, investigation("hangs", "the model hangs"))
            errors = wait_terminal(env, "errors")
            hangs = wait_terminal(env, "hangs")
    assert elapsed.seconds < 25

    for obj, error in ((errors, "InternalServerError"), (hangs, "Timeout")):
        status = obj["status"]
        assert status["phase"] == "Failed", status
        assert status["message"].startswith(
            f"model openai/scripted failed after 2 attempt(s): {error}"), status["message"]
        assert status["message"].endswith("; 0 insight(s) recorded")
        complete = {c["type"]: c for c in status["conditions"]}["Complete"]
        assert complete["status"] == "False" and complete["reason"] == "Failed"
        assert status["finishedAt"] >= status["startedAt"]
        failed = [e for e in events_of(env, obj["metadata"]["name"]) if e["reason"] == "Failed"]
        assert len(failed) == 1 and failed[0]["type"] == "Warning"
        assert error in failed[0]["message"]
    assert "scripted status 500" in errors["status"]["message"]
    # Each run made its first call and one retry, nothing more.
    assert len(server.requests) == 4
