"""The model side of the loop: one protocol, and its litellm implementation.

Everything that talks to a language model goes through :class:`ModelClient`, so the
coordinator cannot tell the built-in rule-based analyst from GPT, Claude or a local
Ollama. :class:`LiteLLMClient` is the one place that imports litellm.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import importlib
import logging
import math
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from kubelens.config import Settings
from kubelens.coordinator.ledger import Ledger
from kubelens.models import Usage
from kubelens.redact import redact_text

log = logging.getLogger(__name__)

# litellm fetches its price list from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

Message = dict[str, Any]
ToolSchema = dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    #: The raw JSON text the model sent; parsing it is the coordinator's job, so a
    #: malformed call can be handed back to the model as an error.
    arguments: str


@dataclass
class Completion:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class ModelError(RuntimeError):
    """The model could not be reached or kept failing; the message says why."""


class ModelClient(Protocol):
    @property
    def name(self) -> str:
        """What status and reports call this model."""
        ...

    async def complete(
        self, messages: list[Message], tools: list[ToolSchema], evidence: Ledger | None = None
    ) -> Completion:
        """One turn: the conversation so far in, an answer (text and/or tool calls) out.

        ``evidence`` is the run's :class:`Ledger` (the same investigation as objects);
        a language model reads the conversation and ignores it."""
        ...

    def count_tokens(
        self, messages: list[Message], tools: list[ToolSchema] | None = None
    ) -> int: ...


def build_model(settings: Settings, model: str | None = None) -> ModelClient:
    """The one way a model is chosen: ``model`` (default: the configured one) through
    litellm with the configured retries, timeout and API base, or the built-in
    rule-based analyst when no model is named."""
    chosen = settings.model if model is None else model
    if not chosen:
        from kubelens.coordinator.analyst_model import AnalystModel

        return AnalystModel()
    return LiteLLMClient(
        model=chosen,
        retries=settings.llm_retries,
        timeout=settings.llm_timeout,
        api_base=settings.llm_api_base or None,
    )


def count_tokens(model: str, messages: list[Message], tools: list[ToolSchema] | None) -> int:
    import litellm

    try:
        return int(litellm.token_counter(model=model, messages=messages, tools=tools))
    except Exception:  # an unknown tokenizer must not stop an investigation
        chars = sum(
            len(str(m.get("content") or "")) + len(str(m.get("tool_calls") or "")) for m in messages
        )
        return chars // 4


class MalformedAnswer(Exception):
    """The provider answered 200 with something that is not a chat completion."""


_WARM_UP_TOOL: ToolSchema = {
    "type": "function",
    "function": {"name": "done", "description": "", "parameters": {"type": "object"}},
}

_RETRYABLE = (
    "MalformedAnswer",
    "RateLimitError",
    "APIConnectionError",
    "ServiceUnavailableError",
    "InternalServerError",
    "Timeout",
    "APIError",
    "BadGatewayError",
)
#: Answers worth another try whatever litellm calls them: timeouts, conflicts, rate
#: limits, server errors and gateways (529: a provider overloaded).
_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass
class LiteLLMClient:
    """Any litellm model: ``openai/gpt-4o-mini``, ``anthropic/...``, ``ollama/...``.

    Provider keys come from the provider's usual environment variables. Rate limits,
    5xx answers and timeouts are retried with backoff (honouring ``Retry-After``);
    what still fails becomes a :class:`ModelError` with the provider's reason.
    """

    model: str
    retries: int = 2
    timeout: float = 60.0
    api_base: str | None = None
    api_key: str | None = None
    backoff: float = 1.0

    @property
    def name(self) -> str:
        return self.model

    async def complete(
        self, messages: list[Message], tools: list[ToolSchema], evidence: Ledger | None = None
    ) -> Completion:
        import litellm

        # litellm prints help banners to stdout on errors; stdout belongs to our output.
        litellm.suppress_debug_info = True
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "timeout": self.timeout,
            "num_retries": 0,  # retries are ours, so they honour our deadline
        }
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = "auto"
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        attempt = 0
        while True:
            try:
                response = await asyncio.wait_for(
                    litellm.acompletion(**kwargs), timeout=self.timeout + 5
                )
                return self._completion(response)
            except (TimeoutError, Exception) as exc:
                kind = "Timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                retryable = (
                    kind in _RETRYABLE
                    or isinstance(exc, TimeoutError)
                    or getattr(exc, "status_code", None) in _RETRYABLE_STATUS
                )
                if not retryable or attempt >= self.retries:
                    raise ModelError(_describe(self.model, kind, exc, attempt + 1)) from exc
                delay = _retry_after(exc) or self.backoff * (2**attempt) * (0.5 + random.random())
                log.warning("model %s: %s, retrying in %.1fs", self.model, kind, delay)
                await asyncio.sleep(delay)
                attempt += 1

    def count_tokens(self, messages: list[Message], tools: list[ToolSchema] | None = None) -> int:
        return count_tokens(self.model, messages, tools)

    async def warm_up(self) -> None:
        """Load now what litellm and the provider's SDK load on the first call with tools
        (litellm's MCP handler, the SDK's resource classes): about a second of CPU that
        would otherwise stall the first investigation, and every run beside it. A mock
        answer: nothing leaves this process."""
        import litellm

        litellm.suppress_debug_info = True
        await litellm.acompletion(
            model=self.model,
            messages=[{"role": "user", "content": "warm-up"}],
            tools=[_WARM_UP_TOOL],
            mock_response="ok",
        )
        # litellm reaches OpenAI and every OpenAI-compatible server through the openai
        # SDK, whose client loads its resource classes on first use.
        with contextlib.suppress(ImportError):
            importlib.import_module("openai.resources")

    def _completion(self, response: Any) -> Completion:
        try:
            message = response.choices[0].message
        except (AttributeError, IndexError, TypeError) as exc:
            raise MalformedAnswer(f"the answer has no message ({type(exc).__name__})") from exc
        calls = [
            ToolCall(
                id=str(call.id or f"call_{index}"),
                name=str(call.function.name or ""),
                arguments=str(call.function.arguments or ""),
            )
            for index, call in enumerate(getattr(message, "tool_calls", None) or [])
        ]
        usage = Usage(llm_calls=1)
        raw_usage = getattr(response, "usage", None)
        if raw_usage is not None:
            usage.prompt_tokens = int(getattr(raw_usage, "prompt_tokens", 0) or 0)
            usage.completion_tokens = int(getattr(raw_usage, "completion_tokens", 0) or 0)
        usage.cost = _cost(response)
        return Completion(content=message.content, tool_calls=calls, usage=usage)


def _cost(response: Any) -> float:
    """The answer's price in USD: what litellm worked out as it answered (kept on the
    response), else asked of it now; 0 when it knows no price for the model."""
    import litellm

    hidden = getattr(response, "_hidden_params", None)
    if isinstance(hidden, dict) and "response_cost" in hidden:
        return float(hidden["response_cost"] or 0.0)
    try:
        return float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # litellm knows no price for this model: cost stays unknown (0)
        return 0.0


#: Longest wait a provider's Retry-After may ask for; the run's deadline still applies.
MAX_RETRY_AFTER = 30.0


def _retry_after(exc: Exception) -> float | None:
    """Seconds the provider asked us to wait (``Retry-After`` / ``retry-after-ms``), if any.

    litellm keeps the provider's headers on ``litellm_response_headers``; the
    ``response`` it attaches to its own exceptions is a stand-in without them.
    """
    candidates = (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    )
    for headers in candidates:
        if not headers or not hasattr(headers, "get"):
            continue
        seconds = _seconds(headers.get("retry-after-ms"), 0.001)
        if seconds is None:
            seconds = _seconds(headers.get("retry-after"), 1.0)
        if seconds is not None:
            return min(seconds, MAX_RETRY_AFTER)
    return None


def _seconds(value: Any, unit: float) -> float | None:
    """A delay header: a number of ``unit``s, or (Retry-After) an HTTP date."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        try:
            when = email.utils.parsedate_to_datetime(str(value))
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    if not math.isfinite(number) or number < 0:
        return None
    return number * unit


def _describe(model: str, kind: str, exc: BaseException, attempts: int) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else kind
    if len(text) > 300:
        text = text[:300] + "…"
    return redact_text(f"model {model} failed after {attempts} attempt(s): {kind}: {text}")
