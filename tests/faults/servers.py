"""A raw-socket chat-completions server for faults HTTP frameworks will not produce.

:class:`tests.llm_server.ScriptedLLM` answers through aiohttp, so every answer is a
whole HTTP response. Real providers and proxies also cut a response mid-body, reset
the connection, or accept it and never answer; :class:`RawLLM` does exactly those,
on 127.0.0.1, from its own thread and event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from enum import StrEnum

#: The start of a chat completion, as a provider cut off mid-answer would send it.
PARTIAL_ANSWER = (
    b'{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"the root cause is'
)


class Fault(StrEnum):
    CUT = "cut"  # headers promise 5000 bytes; a partial body, then the connection closes
    RESET = "reset"  # the connection is aborted before any answer
    HANG = "hang"  # the request is read and never answered
    DONE = "done"  # a valid answer that calls the ``done`` tool


def done_answer() -> bytes:
    return json.dumps({
        "id": "chatcmpl-ok", "object": "chat.completion", "created": 0, "model": "scripted",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": None,
            "tool_calls": [{"id": "call_done", "type": "function",
                            "function": {"name": "done", "arguments": "{}"}}]}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    }).encode()


class RawLLM:
    """Answers each request with the next :class:`Fault` of ``script`` (then ``default``)."""

    def __init__(self, script: list[Fault], default: Fault = Fault.DONE) -> None:
        self.script = list(script)
        self.default = default
        self.requests = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> RawLLM:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._answer(reader, writer)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # one connection may carry several requests (keep-alive)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            await reader.readexactly(length)
            self.requests += 1
            fault = self.script.pop(0) if self.script else self.default
            if fault is Fault.RESET:
                writer.transport.abort()
                return
            if fault is Fault.HANG:
                await asyncio.sleep(3600)
                return
            if fault is Fault.CUT:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 5000\r\n\r\n" + PARTIAL_ANSWER)
                await writer.drain()
                return
            body = done_answer()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
