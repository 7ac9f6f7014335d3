"""A scripted, OpenAI-compatible chat-completions server on 127.0.0.1.

Tests point litellm at it (``openai/scripted`` with ``api_base``), so every request
goes through litellm's real HTTP path. Each turn of the script is a :class:`Turn` or a
function of the request that returns one; every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Turn:
    """One scripted answer."""

    tool_calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, dict or raw str)
    content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: str | None = None  # a raw body, for garbage answers
    prompt_tokens: int = 100
    completion_tokens: int = 20


def call(name: str, arguments: Any = None) -> Turn:
    return Turn(tool_calls=[(name, {} if arguments is None else arguments)])


Script = list[Turn | Callable[[dict[str, Any]], Turn]]


class ScriptedLLM:
    def __init__(
        self, script: Script, default: Turn | Callable[[dict[str, Any]], Turn] | None = None
    ) -> None:
        self.script = list(script)
        self.default: Turn | Callable[[dict[str, Any]], Turn] = default or call("done")
        self.requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedLLM:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        # Cancel a delayed answer when the client hangs up, as a real server would.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        step = self.script.pop(0) if self.script else self.default
        turn = step(body) if callable(step) else step
        if turn.delay:
            await asyncio.sleep(turn.delay)
        if turn.body is not None:
            return web.Response(status=turn.status, text=turn.body, headers=turn.headers,
                                content_type="application/json")
        if turn.status != 200:
            error = {"error": {"message": f"scripted status {turn.status}", "type": "scripted",
                               "code": turn.status}}
            return web.json_response(error, status=turn.status, headers=turn.headers)
        calls = [
            {
                "id": f"call_{next(self._ids)}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
            for name, args in turn.tool_calls
        ]
        message: dict[str, Any] = {"role": "assistant", "content": turn.content}
        if calls:
            message["tool_calls"] = calls
        return web.json_response({
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
            }],
            "usage": {
                "prompt_tokens": turn.prompt_tokens,
                "completion_tokens": turn.completion_tokens,
                "total_tokens": turn.prompt_tokens + turn.completion_tokens,
            },
        })

    def tool_results(self, request_index: int = -1) -> list[dict[str, Any]]:
        """The tool messages the coordinator sent in one request, parsed."""
        return [
            {"name": m.get("name"), **json.loads(m["content"])}
            for m in self.requests[request_index]["messages"]
            if m.get("role") == "tool"
        ]

    def offered_tools(self, request_index: int = -1) -> list[str]:
        return [t["function"]["name"] for t in self.requests[request_index].get("tools", [])]
