"""LLM faults through litellm's real HTTP path: every one ends as documented, in time.

The coordinator retries rate limits (after the provider's Retry-After), 5xx answers,
timeouts, cut or garbage answers; what keeps failing ends the run ``failed`` with a
message naming the model and the error. A hanging model never outlives the run's
deadline. What the model sends wrong (unknown tools, malformed JSON) goes back to it as
an error and the run carries on; a model that never finishes stops at max_iterations.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kubelens.coordinator import RunOptions
from kubelens.models import RunOutcome
from tests.faults.helpers import scripted_coordinator, timed
from tests.faults.servers import Fault, RawLLM
from tests.llm_server import Script, ScriptedLLM, Turn, call

CHAT_COMPLETION_WITHOUT_NAME = json.dumps({
    "id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": "scripted",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "c1", "type": "function",
                        "function": {"name": None, "arguments": None}}]}}],
})


def stamped(arrivals: list[float], turn: Turn) -> Any:
    """A script step that records when its request arrived."""

    def step(body: dict[str, Any]) -> Turn:
        arrivals.append(time.monotonic())
        return turn

    return step


# ---------------------------------------------------------------------- rate limits


async def test_rate_limit_is_retried_after_the_providers_retry_after() -> None:
    arrivals: list[float] = []
    script: Script = [stamped(arrivals, Turn(status=429, headers={"retry-after": "1"})),
              stamped(arrivals, call("done"))]
    with ScriptedLLM(script) as server, timed() as elapsed:
        result = await scripted_coordinator(server.api_base).run(
            {"reason": "x"}, RunOptions(timeout=20))
    assert result.outcome is RunOutcome.DONE, result.message
    assert len(server.requests) == 2
    # backoff is 10 ms in these tests: a wait of a second is the provider's Retry-After
    assert arrivals[1] - arrivals[0] >= 0.9
    assert elapsed.seconds < 5


async def test_retry_after_in_milliseconds_is_honoured() -> None:
    arrivals: list[float] = []
    script: Script = [stamped(arrivals, Turn(status=429, headers={"retry-after-ms": "400"})),
              stamped(arrivals, call("done"))]
    with ScriptedLLM(script) as server:
        result = await scripted_coordinator(server.api_base).run(
            {"reason": "x"}, RunOptions(timeout=20))
    assert result.outcome is RunOutcome.DONE, result.message
    assert 0.35 <= arrivals[1] - arrivals[0] < 3


async def test_a_rate_limit_that_persists_fails_naming_it() -> None:
    with ScriptedLLM([], default=Turn(status=429, headers={"retry-after": "0"})) as server, \
            timed() as elapsed:
        result = await scripted_coordinator(server.api_base, retries=2).run({"reason": "x"})
    assert result.outcome is RunOutcome.FAILED
    assert result.message.startswith(
        "model openai/scripted failed after 3 attempt(s): RateLimitError")
    assert len(server.requests) == 3
    assert elapsed.seconds < 5


async def test_a_retry_after_longer_than_the_deadline_ends_at_the_deadline() -> None:
    with ScriptedLLM([], default=Turn(status=429, headers={"retry-after": "600"})) as server, \
            timed() as elapsed:
        result = await scripted_coordinator(server.api_base).run(
            {"reason": "x"}, RunOptions(timeout=1))
    assert result.outcome is RunOutcome.TIMEOUT
    assert result.message == "deadline of 1s reached"
    assert elapsed.seconds < 2.5


# ---------------------------------------------------------------------- server errors


async def test_server_errors_are_retried_then_recover() -> None:
    script: Script = [Turn(status=502, body="<html>bad gateway</html>"), Turn(status=503),
              Turn(status=504), call("done")]
    with ScriptedLLM(script) as server:
        result = await scripted_coordinator(server.api_base, retries=3).run({"reason": "x"})
    assert result.outcome is RunOutcome.DONE, result.message
    assert len(server.requests) == 4
    assert result.usage.llm_calls == 1  # only the answer that came through is a call


async def test_server_errors_that_persist_fail_with_the_providers_reason() -> None:
    with ScriptedLLM([], default=Turn(status=500)) as server, timed() as elapsed:
        result = await scripted_coordinator(server.api_base, retries=2).run({"reason": "x"})
    assert result.outcome is RunOutcome.FAILED
    assert result.message.startswith(
        "model openai/scripted failed after 3 attempt(s): InternalServerError")
    assert "scripted status 500" in result.message
    assert len(server.requests) == 3
    assert elapsed.seconds < 5


async def test_bad_credentials_fail_at_once_without_retries() -> None:
    with ScriptedLLM([], default=Turn(status=401)) as server:
        result = await scripted_coordinator(server.api_base, retries=5).run({"reason": "x"})
    assert result.outcome is RunOutcome.FAILED
    assert "failed after 1 attempt(s): AuthenticationError" in result.message
    assert len(server.requests) == 1


# ---------------------------------------------------------------------- hanging models


async def test_a_hanging_model_is_stopped_by_the_run_deadline() -> None:
    with ScriptedLLM([], default=Turn(delay=30, tool_calls=[("done", {})])) as server, \
            timed() as elapsed:
        result = await scripted_coordinator(server.api_base, llm_timeout=60).run(
            {"reason": "x"}, RunOptions(timeout=1))
    assert result.outcome is RunOutcome.TIMEOUT
    assert result.message == "deadline of 1s reached"
    assert elapsed.seconds < 2.5


async def test_a_hanging_model_times_out_each_call_then_fails() -> None:
    with RawLLM([], default=Fault.HANG) as server, timed() as elapsed:
        result = await scripted_coordinator(server.api_base, retries=1, llm_timeout=0.5).run(
            {"reason": "x"}, RunOptions(timeout=30))
    assert result.outcome is RunOutcome.FAILED
    assert "failed after 2 attempt(s): Timeout" in result.message
    assert server.requests == 2
    assert elapsed.seconds < 4


async def test_one_hanging_call_is_retried_and_the_run_recovers() -> None:
    with RawLLM([Fault.HANG]) as server:
        result = await scripted_coordinator(server.api_base, retries=1, llm_timeout=0.5).run(
            {"reason": "x"}, RunOptions(timeout=30))
    assert result.outcome is RunOutcome.DONE, result.message
    assert server.requests == 2


# ---------------------------------------------------------------------- broken answers


async def test_answers_cut_mid_body_or_reset_are_retried_and_recover() -> None:
    with RawLLM([Fault.CUT, Fault.RESET]) as server, timed() as elapsed:
        result = await scripted_coordinator(server.api_base, retries=2).run({"reason": "x"})
    assert result.outcome is RunOutcome.DONE, result.message
    assert server.requests == 3
    assert elapsed.seconds < 10


async def test_answers_cut_every_time_fail_clearly() -> None:
    with RawLLM([], default=Fault.CUT) as server, timed() as elapsed:
        result = await scripted_coordinator(server.api_base, retries=1).run({"reason": "x"})
    assert result.outcome is RunOutcome.FAILED
    assert result.message.startswith("model openai/scripted failed after 2 attempt(s): ")
    assert "Connection error" in result.message
    assert elapsed.seconds < 10


async def test_garbage_truncated_and_empty_answers_are_retried_and_recover() -> None:
    script: Script = [
        Turn(body="<html><body>502 Bad Gateway</body></html>"),
        Turn(body='{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"ind'),
        Turn(body=json.dumps({"id": "x", "object": "chat.completion", "choices": []})),
        call("done"),
    ]
    with ScriptedLLM(script) as server:
        result = await scripted_coordinator(server.api_base, retries=3).run({"reason": "x"})
    assert result.outcome is RunOutcome.DONE, result.message
    assert len(server.requests) == 4


async def test_garbage_every_time_fails_clearly() -> None:
    with ScriptedLLM([], default=Turn(body="<html>maintenance</html>")) as server, \
            timed() as elapsed:
        result = await scripted_coordinator(server.api_base, retries=1).run({"reason": "x"})
    assert result.outcome is RunOutcome.FAILED
    assert result.message.startswith("model openai/scripted failed after 2 attempt(s): ")
    assert elapsed.seconds < 5


async def test_an_answer_without_choices_every_time_fails_naming_it() -> None:
    empty = Turn(body=json.dumps({"id": "x", "object": "chat.completion", "choices": []}))
    with ScriptedLLM([], default=empty) as server:
        result = await scripted_coordinator(server.api_base, retries=1).run({"reason": "x"})
    assert result.outcome is RunOutcome.FAILED
    assert "failed after 2 attempt(s): MalformedAnswer: the answer has no message" in (
        result.message)


# ---------------------------------------------------------------------- bad tool calls


async def test_malformed_tool_call_arguments_are_fed_back_and_the_model_recovers() -> None:
    script: Script = [
        Turn(tool_calls=[("call_skill", '{"skill": "echo", "tool": "re')]),  # truncated
        Turn(tool_calls=[("get_notifications", '["unread"]')]),  # not an object
        Turn(tool_calls=[("think", "null")]),
        Turn(tool_calls=[("call_skill", '{"skill": "echo"}')]),  # required argument missing
        Turn(tool_calls=[("update_notification_statuses", '{"ids": 7, "status": "resolved"}')]),
        Turn(body=CHAT_COMPLETION_WITHOUT_NAME),
        call("call_skill", {"skill": "echo", "tool": "read"}),
        call("done"),
    ]
    with ScriptedLLM(script) as server:
        result = await scripted_coordinator(server.api_base).run({"reason": "x"})
    assert result.outcome is RunOutcome.DONE, result.message
    errors = [server.tool_results(i)[-1] for i in range(1, 7)]
    assert all(e["status"] == "error" for e in errors), errors
    assert "arguments of call_skill are not valid JSON" in errors[0]["error"]
    assert errors[1]["error"] == "arguments of get_notifications must be a JSON object"
    assert errors[2]["error"] == "arguments of think must be a JSON object"
    assert "bad arguments for call_skill: missing required argument 'tool'" in errors[3]["error"]
    assert errors[4]["error"].startswith("bad arguments for update_notification_statuses")
    assert errors[5]["error"].startswith("unknown tool ''; available tools: ")
    assert server.tool_results(7)[-1]["data"] == {"value": 42}


async def test_unknown_tools_are_refused_with_the_tools_that_exist() -> None:
    script: Script = [Turn(tool_calls=[("delete_pod", {"name": "api"}), ("kubectl", "apply -f x")]),
              call("done")]
    with ScriptedLLM(script) as server:
        result = await scripted_coordinator(server.api_base).run({"reason": "x"})
    assert result.outcome is RunOutcome.DONE
    refused = server.tool_results(1)
    assert [r["name"] for r in refused] == ["delete_pod", "kubectl"]
    for answer in refused:
        assert answer["status"] == "error"
        assert "available tools: get_notifications, update_notification_statuses" in (
            answer["error"])


# ---------------------------------------------------------------------- models that never finish


async def test_a_model_that_never_calls_done_stops_at_max_iterations() -> None:
    with ScriptedLLM([], default=call("think", {"thought": "more"})) as server, \
            timed() as elapsed:
        result = await scripted_coordinator(server.api_base).run({"reason": "x"},
                                                                 RunOptions(max_iterations=4))
    assert result.outcome is RunOutcome.MAX_ITERATIONS
    assert result.message == "stopped after max_iterations=4 without the model calling done"
    assert result.iterations == 4 and len(server.requests) == 4
    assert set(server.offered_tools(-1)) == {"produce_insight", "done"}
    assert elapsed.seconds < 5


async def test_a_model_that_only_talks_stops_at_max_iterations_saying_so() -> None:
    with ScriptedLLM([], default=Turn(content="The cluster looks fine to me.")) as server:
        result = await scripted_coordinator(server.api_base).run({"reason": "x"},
                                                                 RunOptions(max_iterations=3))
    assert result.outcome is RunOutcome.MAX_ITERATIONS
    assert result.message == (
        "stopped after max_iterations=3 without the model calling done; "
        "its last 3 answer(s) were text without tool calls")
    # Each text-only answer is answered with a nudge to use the tools.
    last = server.requests[-1]["messages"]
    nudges = [m for m in last if m["role"] == "user" and "Use the tools" in m["content"]]
    assert len(nudges) == 2
