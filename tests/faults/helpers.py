"""What the fault tests share: a coordinator on a scripted model, and a clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kubelens.coordinator import Coordinator, LiteLLMClient
from kubelens.ports.notifications import InMemoryNotificationStore
from kubelens.ports.operators import InProcessOperators
from kubelens.skills.base import Skill


class EchoSkill(Skill):
    """A skill with one harmless tool, so every loop has something to call."""

    name = "echo"
    description = "Echoes a fixed reading."

    def __init__(self) -> None:
        super().__init__()
        self.add_tool("read", "Read the value.", {}, lambda: {"value": 42})

    def snapshot(self) -> dict[str, Any]:
        return {"value": 42, "summary": "value 42"}


def scripted_coordinator(api_base: str, *, retries: int = 2, llm_timeout: float = 30.0,
                         skills: list[Skill] | None = None, **kwargs: Any) -> Coordinator:
    """A coordinator whose model is litellm talking to ``api_base`` (its real HTTP path)."""
    store = InMemoryNotificationStore()
    operators = InProcessOperators(skills if skills is not None else [EchoSkill()], store,
                                   source="test-node")
    model = LiteLLMClient(model="openai/scripted", api_base=api_base, api_key="sk-test",
                          retries=retries, backoff=0.01, timeout=llm_timeout)
    return Coordinator(model=model, store=store, operators=operators, **kwargs)


@dataclass
class Elapsed:
    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Elapsed]:
    elapsed = Elapsed()
    started = time.monotonic()
    try:
        yield elapsed
    finally:
        elapsed.seconds = time.monotonic() - started
