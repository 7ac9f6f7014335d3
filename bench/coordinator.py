"""Coordinator figures: loop overhead per iteration and the size of the first request.

    python bench/coordinator.py

Prints ``figure value unit`` lines:

- ``coordinator_overhead_per_iteration_median`` — a 25-iteration run with a
  zero-latency in-process model (so only kubelens's own work is timed: prompt
  assembly, tool dispatch, notification store, compaction check), over all node skills
  and the cluster skills on an empty static cluster. Target ≤ 5 ms.
- ``first_request_tokens`` — system prompt, tool schemas and context of the first LLM
  request, counted by litellm's token counter (gpt-4o tokenizer), with every skill the
  operator offers (node and cluster). Target ≤ 2,500 (the toolset issue's figure).
- ``tool_result_at_cap_tokens`` — a tool result cut to the default result cap (a long
  log tail: the newest lines kept), as the model receives it. About the cap / 4.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from kubelens.coordinator import Coordinator, RunOptions
from kubelens.coordinator.llm import Completion, Message, ToolCall, ToolSchema
from kubelens.ports.notifications import InMemoryNotificationStore
from kubelens.ports.operators import InProcessOperators
from kubelens.skills import node_skills
from kubelens.skills.cluster import StaticSource, cluster_skills

ITERATIONS = 25
RUNS = 20


class ZeroLatencyModel:
    """Answers instantly: a sweep, a read, then thoughts until the last turn's done."""

    name = "bench/zero-latency"

    def __init__(self) -> None:
        self.turn_times: list[float] = []
        self.first_request: tuple[list[Message], list[ToolSchema]] | None = None
        self._last = 0.0

    async def complete(self, messages: list[Message], tools: list[ToolSchema],
                       evidence: Any = None) -> Completion:
        now = time.perf_counter()
        if self._last:
            self.turn_times.append(now - self._last)
        self._last = now
        if self.first_request is None:
            self.first_request = (json.loads(json.dumps(messages)), tools)
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        if turn == 0:
            name, args = "invoke_operators", {"skills": ["os"]}
        elif turn == 1:
            name, args = "get_notifications", {"status": "all"}
        elif turn == ITERATIONS - 1:
            name, args = "done", {}
        else:
            name, args = "think", {"thought": f"step {turn}"}
        return Completion(content=None, tool_calls=[ToolCall(f"c{turn}", name, json.dumps(args))])

    def count_tokens(self, messages: list[Message], tools: list[ToolSchema] | None = None) -> int:
        return len(json.dumps(messages)) // 4


def skills() -> list[Any]:
    return [*node_skills(), *cluster_skills(StaticSource.from_objects([]), "default")]


async def one_run() -> ZeroLatencyModel:
    model = ZeroLatencyModel()
    store = InMemoryNotificationStore()
    operators = InProcessOperators(skills(), store, source="bench")
    coordinator = Coordinator(model=model, store=store, operators=operators)
    result = await coordinator.run({"reason": "bench"}, RunOptions(max_iterations=ITERATIONS))
    assert result.iterations == ITERATIONS, result
    return model


def main() -> None:
    import litellm

    per_iteration: list[float] = []
    first = None
    for _ in range(RUNS):
        model = asyncio.run(one_run())
        # Turn 1 includes a real snapshot of the os skill; the rest is pure loop work.
        per_iteration.extend(model.turn_times[1:])
        first = first or model.first_request
    assert first is not None
    messages, tools = first
    tokens = litellm.token_counter(model="gpt-4o", messages=messages, tools=tools)
    print(f"coordinator_overhead_per_iteration_median "
          f"{statistics.median(per_iteration) * 1000:.3f} ms")
    print(f"coordinator_overhead_per_iteration_p95 "
          f"{sorted(per_iteration)[int(len(per_iteration) * 0.95)] * 1000:.3f} ms")
    print(f"first_request_tokens {tokens} tokens")
    print(f"first_request_tool_count {len(tools)} tools")
    print(f"tool_result_at_cap_tokens {result_at_cap_tokens(litellm)} tokens")


def result_at_cap_tokens(litellm: Any) -> int:
    from kubelens.models import ToolResult
    from kubelens.skills.base import DEFAULT_RESULT_CAP, cap_result

    lines = [f"2026-11-18T13:{i // 60:02d}:{i % 60:02d}Z INFO request {i} served in 12ms"
             for i in range(2_000)]
    capped = cap_result(ToolResult.ok({"log_excerpt": lines}), DEFAULT_RESULT_CAP, hint="")
    content = capped.model_dump_json()
    tokens: int = litellm.token_counter(model="gpt-4o", text=content)
    return tokens



if __name__ == "__main__":
    main()
