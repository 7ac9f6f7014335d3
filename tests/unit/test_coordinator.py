"""The coordinator loop driven by a scripted model through litellm's real HTTP path."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubelens import anomalies
from kubelens.config import Settings
from kubelens.coordinator import Coordinator, LiteLLMClient
from kubelens.coordinator.core import RunEvent, RunOptions
from kubelens.models import NotificationState, RunOutcome, Severity, Subject
from kubelens.ports.notifications import InMemoryNotificationStore
from kubelens.ports.operators import InProcessOperators
from kubelens.skills.base import Metric, Skill, Threshold
from tests.llm_server import ScriptedLLM, Turn, call


class GaugeSkill(Skill):
    """A skill whose single reading the test controls."""

    name = "gauge"
    description = "A test gauge."
    thresholds = (
        Threshold(key="gauge.percent", anomaly_type=anomalies.MEMORY_PRESSURE, warning=80,
                  critical=95, observation="gauge at {value}% on {subject}"),
    )

    def __init__(self, value: float = 97.0, delay: float = 0.0) -> None:
        super().__init__()
        self.value = value
        self.delay = delay
        self.add_tool("read", "Read the gauge.", {}, lambda: {"percent": self.value})

    def snapshot(self) -> dict[str, Any]:
        if self.delay:
            time.sleep(self.delay)
        return {"percent": self.value, "summary": f"gauge {self.value}%"}

    def metrics(self, snapshot: Any) -> list[Metric]:
        return [Metric("gauge.percent", snapshot["percent"], Subject(kind="Node", name="n1"))]


def make(server: ScriptedLLM, skill: Skill | None = None, **kwargs: Any) -> Coordinator:
    store = InMemoryNotificationStore()
    operators = InProcessOperators([skill or GaugeSkill()], store, source="n1")
    model = LiteLLMClient(model="openai/scripted", api_base=server.api_base, api_key="sk-test",
                          retries=kwargs.pop("retries", 2), backoff=0.01,
                          timeout=kwargs.pop("llm_timeout", 30))
    return Coordinator(model=model, store=store, operators=operators, **kwargs)


def insight_args(ids: Any) -> dict[str, Any]:
    return {
        "notification_ids": ids,
        "correlation_type": "causal",
        "summary": "gauge at 97% on n1",
        "root_cause_hypothesis": "the gauge is full",
        "hypothesis_grounded": True,
        "confidence": "high",
        "evidence": ["gauge.percent=97"],
    }


def first_notification_id(body: dict[str, Any]) -> str:
    for message in body["messages"]:
        if message.get("role") == "tool" and message.get("name") == "invoke_operators":
            return json.loads(message["content"])["data"]["results"][0]["notificationIds"][0]
    raise AssertionError("no operator result with a notification in the conversation")


async def test_multi_step_investigation_ends_in_an_insight() -> None:
    script = [
        call("invoke_operators", {"skills": ["gauge"]}),
        call("get_notifications", {"status": "unread"}),
        lambda body: call("produce_insight", insight_args([first_notification_id(body)])),
        call("done"),
    ]
    with ScriptedLLM(script) as server:
        coordinator = make(server)
        result = await coordinator.run({"reason": "slow"}, RunOptions(timeout=30))
        store = coordinator.store
    assert result.outcome is RunOutcome.DONE
    assert result.iterations == 4
    assert [i.summary for i in result.insights] == ["gauge at 97% on n1"]
    assert result.operator_results[0].skill == "gauge"
    assert result.operator_results[0].summary == "gauge 97.0%"
    cited = result.insights[0].notification_ids
    notifications = await store.list()
    assert [n.id for n in notifications] == cited
    assert notifications[0].state is NotificationState.RESOLVED
    assert notifications[0].insight_id == result.insights[0].id
    assert result.usage.llm_calls == 4
    assert result.usage.prompt_tokens == 400
    # The notification reached the model as data with its observation.
    unread = server.tool_results(2)[1]
    assert unread["data"]["notifications"][0]["observation"] == "gauge at 97% on n1"


async def test_first_request_carries_tools_and_context() -> None:
    with ScriptedLLM([call("done")]) as server:
        await make(server).run({"reason": "why is checkout slow"})
    first = server.requests[0]
    assert set(server.offered_tools(0)) == {
        "get_notifications", "update_notification_statuses", "invoke_operators",
        "call_skill", "produce_insight", "think", "done",
    }
    assert "why is checkout slow" in first["messages"][1]["content"]
    assert "- gauge: A test gauge.\n  - read(): Read the gauge." in first["messages"][1]["content"]


async def test_malformed_and_unknown_tool_calls_are_fed_back_and_recovered() -> None:
    script = [
        Turn(tool_calls=[("get_notifications", "{not json")]),
        call("drop_database", {}),
        call("call_skill", {"skill": "gauge", "tool": "read", "arguments": {"x": 1}}),
        call("call_skill", {"skill": "gauge", "tool": "read"}),
        call("done"),
    ]
    with ScriptedLLM(script) as server:
        result = await make(server).run({"reason": "x"})
    assert result.outcome is RunOutcome.DONE
    errors = [server.tool_results(i)[-1] for i in (1, 2, 3)]
    assert errors[0]["status"] == "error" and "not valid JSON" in errors[0]["error"]
    assert errors[1]["status"] == "error" and "unknown tool 'drop_database'" in errors[1]["error"]
    assert errors[2]["status"] == "error" and "unknown argument 'x'" in errors[2]["error"]
    assert server.tool_results(4)[-1] == {"name": "call_skill", "status": "ok",
                                          "data": {"percent": 97.0}, "truncated": False}


async def test_max_iterations_drops_tools_on_the_last_turn_and_stops() -> None:
    with ScriptedLLM([], default=call("think", {"thought": "hmm"})) as server:
        result = await make(server).run({"reason": "x"}, RunOptions(max_iterations=3))
    assert result.outcome is RunOutcome.MAX_ITERATIONS
    assert result.iterations == 3
    assert len(server.requests) == 3
    assert set(server.offered_tools(-1)) == {"produce_insight", "done"}
    assert "max_iterations=3" in result.message


async def test_deadline_ends_a_hanging_model_with_a_clear_status() -> None:
    with ScriptedLLM([Turn(delay=2, tool_calls=[("done", {})])]) as server:
        started = time.monotonic()
        result = await make(server).run({"reason": "x"}, RunOptions(timeout=1))
        elapsed = time.monotonic() - started
    assert result.outcome is RunOutcome.TIMEOUT
    assert "deadline of 1s" in result.message
    assert elapsed < 3


async def test_provider_errors_are_retried_then_succeed() -> None:
    script = [Turn(status=429, headers={"retry-after": "0"}), Turn(status=500), call("done")]
    with ScriptedLLM(script) as server:
        result = await make(server, retries=2).run({"reason": "x"})
    assert result.outcome is RunOutcome.DONE
    assert len(server.requests) == 3


async def test_provider_errors_that_persist_fail_clearly() -> None:
    with ScriptedLLM([], default=Turn(status=500)) as server:
        result = await make(server, retries=1).run({"reason": "x"})
    assert result.outcome is RunOutcome.FAILED
    assert "model openai/scripted failed after 2 attempt(s)" in result.message
    assert len(server.requests) == 2


async def test_compaction_summarises_old_turns_and_keeps_ids() -> None:
    big = " ".join(f"observation{i}" for i in range(400))
    planned = [call("invoke_operators", {"skills": ["gauge"]})]
    planned += [call("think", {"thought": big}) for _ in range(6)]
    planned += [call("get_notifications", {"status": "all"}), call("done")]

    def respond(body: dict[str, Any]) -> Turn:
        if not body.get("tools"):
            return Turn(content="summary: one gauge notification seen")
        return planned.pop(0)

    with ScriptedLLM([], default=call("done")) as server:
        server.default = respond
        compaction = Settings(compaction_max_tokens=2500, compaction_keep_last=2)
        coordinator = make(server, settings=compaction)
        result = await coordinator.run({"reason": "x"})
        notification_id = (await coordinator.store.list())[0].id
    assert result.outcome is RunOutcome.DONE
    summary_requests = [r for r in server.requests if not r.get("tools")]
    assert summary_requests, "compaction never asked the model for a summary"
    last = server.requests[-1]["messages"]
    compacted = [m for m in last if "compacted" in str(m.get("content"))]
    assert compacted and notification_id in compacted[0]["content"]
    assert "summary: one gauge notification seen" in compacted[0]["content"]
    # The id survives: the model still reads the notification after compaction.
    after = server.tool_results(-1)
    assert after[-1]["data"]["notifications"][0]["id"] == notification_id
    assert len(json.dumps(last)) < 3 * len(big)


async def test_done_is_refused_while_operators_are_still_running(monkeypatch: Any) -> None:
    from kubelens.coordinator import core

    monkeypatch.setattr(core, "OPERATOR_WAIT_SECONDS", 0.05)
    script = [call("invoke_operators", {"skills": ["gauge"]}), call("done"),
              Turn(delay=0.6, tool_calls=[("think", {"thought": "waiting"})]), call("done")]
    with ScriptedLLM(script) as server:
        result = await make(server, skill=GaugeSkill(delay=0.3)).run({"reason": "x"})
    assert result.outcome is RunOutcome.DONE
    first = server.tool_results(1)[0]
    assert first["data"]["still_running"] == 1
    refused = server.tool_results(2)[-1]
    assert refused["status"] == "error" and "still running" in refused["error"]
    assert len(result.operator_results) == 1 and result.operator_results[0].status.value == "ok"


async def test_runs_queue_fifo_and_status_reports_it() -> None:
    with ScriptedLLM([], default=Turn(delay=0.2, tool_calls=[("done", {})])) as server:
        coordinator = make(server)
        assert coordinator.status()["state"] == "idle"
        first = asyncio.ensure_future(coordinator.run({"reason": "first"}))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(coordinator.run({"reason": "second"}))
        await asyncio.sleep(0.05)
        status = coordinator.status()
        assert status["state"] == "running" and status["queued"] == 1
        await asyncio.gather(first, second)
    reasons = [json.loads(r["messages"][1]["content"].splitlines()[1])["reason"]
               for r in server.requests]
    assert reasons == ["first", "second"]
    assert coordinator.status()["state"] == "idle"


async def test_cancel_event_stops_a_run() -> None:
    with ScriptedLLM([], default=Turn(delay=2, tool_calls=[("done", {})])) as server:
        cancel = asyncio.Event()
        task = asyncio.ensure_future(make(server).run({"reason": "x"}, RunOptions(cancel=cancel)))
        await asyncio.sleep(0.2)
        cancel.set()
        result = await asyncio.wait_for(task, 2)
    assert result.outcome is RunOutcome.CANCELLED


async def test_insights_are_not_duplicated_and_bad_ids_are_refused() -> None:
    script = [
        call("invoke_operators", {}),
        call("produce_insight", insight_args(["ntf-doesnotexist"])),
        lambda body: call("produce_insight", insight_args([first_notification_id(body)])),
        lambda body: call("produce_insight", insight_args([first_notification_id(body)])),
        call("done"),
    ]
    with ScriptedLLM(script) as server:
        result = await make(server).run({"reason": "x"}, options=None)
    assert len(result.insights) == 1
    assert "unknown notification ids: ntf-doesnotexist" in server.tool_results(2)[-1]["error"]
    assert server.tool_results(4)[-1]["data"]["note"] == "already recorded"


async def test_token_budget_ends_the_run() -> None:
    with ScriptedLLM([], default=Turn(tool_calls=[("think", {"thought": "x"})],
                                      prompt_tokens=3000)) as server:
        result = await make(server).run(
            {"reason": "x"}, options=RunOptions(token_budget=5000, max_iterations=10))
    assert result.outcome is RunOutcome.FAILED
    assert "token budget of 5000 exhausted" in result.message
    assert result.iterations == 2


def test_severity_of_threshold() -> None:
    threshold = GaugeSkill.thresholds[0]
    assert threshold.severity_for(97) is Severity.CRITICAL
    assert threshold.severity_for(85) is Severity.WARNING
    assert threshold.severity_for(10) is None


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: Any) -> None:
    # litellm must reach 127.0.0.1 directly even where a proxy is configured.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def test_oversized_operator_results_drop_the_largest_snapshots_not_the_json() -> None:
    from kubelens.models import OperatorResult, ToolStatus
    from kubelens.skills.fit import fit_operator_results

    results = [
        OperatorResult(skill=f"s{i}", source="n1", status=ToolStatus.OK, summary=f"r{i}",
                       snapshot={"rows": ["x" * 100] * (10 * (i + 1))})
        for i in range(6)
    ]
    views = fit_operator_results(results, 20_000)
    assert len(json.dumps(views)) <= 20_000
    assert [v["summary"] for v in views] == [f"r{i}" for i in range(6)]
    omitted = [v["skill"] for v in views if "omitted" in v["snapshot"]]
    kept = [v["skill"] for v in views if "rows" in v["snapshot"]]
    assert omitted and kept
    assert max(int(s[1:]) for s in kept) < min(int(s[1:]) for s in omitted)  # largest go first


def test_a_model_named_to_the_coordinator_gets_the_configured_retries_timeout_and_base() -> None:
    settings = Settings(llm_retries=5, llm_timeout=7.0, llm_api_base="http://127.0.0.1:9")
    model = Coordinator(model="openai/gpt-4o-mini", settings=settings).model
    assert isinstance(model, LiteLLMClient)
    assert (model.retries, model.timeout, model.api_base) == (5, 7.0, "http://127.0.0.1:9")
    assert Coordinator().model.name == Coordinator(model="").model.name != model.name


async def test_status_reports_the_running_iteration_and_investigation() -> None:
    seen: list[dict[str, Any]] = []
    script = [call("think", {"thought": "one"}), call("think", {"thought": "two"}), call("done")]
    with ScriptedLLM(script) as server:
        coordinator = make(server)

        def listen(event: RunEvent) -> None:
            if event.kind == "iteration":
                seen.append(coordinator.status())

        result = await coordinator.run(
            {"reason": "x"}, RunOptions(listener=listen, investigation="inv-1"))
    assert result.outcome is RunOutcome.DONE
    assert [(s["iteration"], s["investigation"]) for s in seen] == [
        (1, "inv-1"), (2, "inv-1"), (3, "inv-1")]
    assert coordinator.status()["iteration"] == 3 and coordinator.status()["investigation"] is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["system", "user", "assistant", "tool"]),
                          st.text(max_size=60)), min_size=1, max_size=6))
def test_a_conversation_never_has_more_tokens_than_its_json_has_characters(
        turns: list[tuple[str, str]]) -> None:
    from kubelens.coordinator.llm import count_tokens

    messages: list[dict[str, Any]] = [{"role": role, "content": text} for role, text in turns]
    for message in messages:
        if message["role"] == "assistant":
            function = {"name": "think", "arguments": message["content"]}
            message["tool_calls"] = [{"id": "c1", "type": "function", "function": function}]
    assert count_tokens("openai/gpt-4o-mini", messages, None) <= len(json.dumps(messages))


async def test_an_answers_price_is_litellms_for_a_known_model_and_zero_for_an_unknown() -> None:
    import litellm

    price = litellm.model_cost["gpt-4o-mini"]
    answer = Turn(content="ok", prompt_tokens=1000, completion_tokens=100)
    with ScriptedLLM([], default=answer) as srv:
        known = LiteLLMClient(model="openai/gpt-4o-mini", api_base=srv.api_base, api_key="sk-t")
        unknown = LiteLLMClient(model="openai/scripted", api_base=srv.api_base, api_key="sk-t")
        priced = await known.complete([{"role": "user", "content": "hi"}], [])
        unpriced = await unknown.complete([{"role": "user", "content": "hi"}], [])
    expected = 1000 * price["input_cost_per_token"] + 100 * price["output_cost_per_token"]
    assert priced.usage.cost == pytest.approx(expected)
    assert priced.usage.prompt_tokens == 1000 and priced.usage.completion_tokens == 100
    assert unpriced.usage.cost == 0.0
