"""beamlens's Coordinator in Python: the LLM tool loop that turns notifications into insights.

A :class:`ToolLoop` runs one investigation from start to end over one model and one set
of ports; it queues nothing (the library's :class:`~kubelens.coordinator.library.Coordinator`
and the operator's namespace queues decide when a run starts). A run ends on ``done``, on
``max_iterations``, on the deadline, on cancellation, or when the model keeps failing, and
always returns what it found so far. Nothing the model sends can crash the loop: unknown
tools, malformed JSON and bad arguments go back to it as errors it can correct.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kubelens.coordinator import prompts
from kubelens.coordinator.ledger import Ledger
from kubelens.coordinator.llm import (
    Completion,
    Message,
    ModelClient,
    ModelError,
    ToolCall,
)
from kubelens.models import (
    Insight,
    Notification,
    NotificationState,
    OperatorResult,
    RunOutcome,
    RunResult,
    ToolResult,
)
from kubelens.ports.notifications import NotificationStore, Transition
from kubelens.ports.operators import Operators
from kubelens.redact import redact
from kubelens.skills.base import DEFAULT_RESULT_CAP, cap_result
from kubelens.skills.fit import fit_notifications, fit_operator_results

log = logging.getLogger(__name__)

#: Characters of operator results handed to the model at once (snapshots give way first).
OPERATOR_RESULTS_CAP = 24_000

#: How long invoke_operators waits before handing back what has finished; the rest keep
#: running and are delivered at the start of a later turn.
OPERATOR_WAIT_SECONDS = 30.0

_STATES = {
    "unread": NotificationState.UNREAD,
    "acknowledged": NotificationState.ACKNOWLEDGED,
    "resolved": NotificationState.RESOLVED,
}


@dataclass(frozen=True)
class RunEvent:
    """Progress of a run, for live displays, Kubernetes Events and status updates."""

    kind: str  # started, iteration, tool, insight, operator_results, finished
    iteration: int
    data: Mapping[str, Any] = field(default_factory=dict)


Listener = Callable[[RunEvent], Awaitable[None] | None]


@dataclass
class RunOptions:
    """Everything a run takes besides its context: limits, hooks and what it resumes from."""

    max_iterations: int = 25
    timeout: float = 300.0
    #: The skills the model may use (default: every skill the operators offer).
    skills: Sequence[str] | None = None
    token_budget: int | None = None
    cost_budget: float | None = None
    #: The Investigation's name, for logs and status.
    investigation: str | None = None
    #: Notifications to add to the store before the run starts.
    notifications: Sequence[Notification] = ()
    #: Insights an earlier attempt recorded (a resumed run keeps and never repeats them).
    prior_insights: Sequence[Insight] = ()
    #: Called with every :class:`RunEvent`.
    listener: Listener | None = None
    #: Set it to end the run with outcome ``cancelled``.
    cancel: asyncio.Event | None = None


class _Finished(Exception):
    def __init__(self, outcome: RunOutcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


class _Run:
    """The state of one investigation: conversation, results, pending operators."""

    def __init__(self, loop: ToolLoop, context: Mapping[str, Any], options: RunOptions) -> None:
        self.loop = loop
        self.model = loop.model
        self.context = context
        self.options = options
        self.store = loop.store
        self.operators = loop.operators
        self.listener = options.listener
        self.result = RunResult(analyst=self.model.name, insights=list(options.prior_insights))
        self.messages: list[Message] = []
        self.pending: set[asyncio.Task[list[OperatorResult]]] = set()
        self.iteration = 0
        #: Answers in a row with no tool call: a model that only chats, for the message.
        self.text_only_turns = 0
        self.done = False
        self.allowed_skills = self._allowed_skills()
        self.ledger = Ledger(
            context=context,
            skills=[],
            operator_results=self.result.operator_results,
            cluster=getattr(self.operators, "cluster_source", None),
        )

    def _allowed_skills(self) -> set[str]:
        available = {skill["name"] for skill in self.operators.catalog()}
        wanted = set(self.options.skills or available)
        return wanted & available

    async def emit(self, kind: str, **data: Any) -> None:
        if self.listener is None:
            return
        try:
            outcome = self.listener(RunEvent(kind, self.iteration, data))
            if asyncio.iscoroutine(outcome):
                await outcome
        except Exception:  # a broken display must not end an investigation
            log.exception("run listener failed on %s", kind)

    # --- the loop ------------------------------------------------------------------

    async def execute(self) -> RunResult:
        await self._start()
        while not self.done:
            if self.iteration >= self.options.max_iterations:
                raise _Finished(RunOutcome.MAX_ITERATIONS, self._max_iterations_message())
            self.iteration += 1
            await self.emit("iteration")
            await self._turn()
            self._check_budget()
        return self.result

    async def _start(self) -> None:
        """The first message: the context, unread notifications, the skills, the objects
        the context names (read now, so the model starts from them)."""
        catalog = [s for s in self.operators.catalog() if s["name"] in self.allowed_skills]
        self.ledger.skills = [s["name"] for s in catalog]
        unread = await self.store.list(NotificationState.UNREAD)
        # Imported here: a node-only run stays off the cluster code.
        from kubelens.skills.cluster.subjects import named_subjects, subject_states

        subjects = await asyncio.to_thread(
            subject_states, self.ledger.cluster, named_subjects(self.context)
        )
        first = prompts.first_message(self.context, unread, catalog, self.result.insights, subjects)
        self.messages = [
            {"role": "system", "content": prompts.SYSTEM_PROMPT},
            {"role": "user", "content": first},
        ]
        await self.emit("started", notifications=len(unread))

    async def _turn(self) -> None:
        """One model answer and every tool call in it, answered."""
        self._deliver_finished_operators()
        await self._compact_if_needed()
        final = self.iteration == self.options.max_iterations
        tools = [
            schema
            for name, schema in prompts.TOOLS.items()
            if not final or name in prompts.FINAL_TOOLS
        ]
        completion = await self._complete(tools)
        self.messages.append(_assistant_message(completion))
        self.text_only_turns = 0 if completion.tool_calls else self.text_only_turns + 1
        if not completion.tool_calls:
            self.messages.append(
                {
                    "role": "user",
                    "content": "Use the tools to continue; call done when you are finished.",
                }
            )
            return
        for call in completion.tool_calls:
            result = await self._dispatch(call)
            self.result.usage.tool_calls += 1
            await self.emit("tool", tool=call.name, status=result.status.value)
            self.messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id,
                    "name": call.name,
                    # Redacted again as it leaves for the model: error texts carry
                    # exception messages no skill has redacted.
                    "content": json.dumps(redact(result.wire()), default=str),
                }
            )

    def _max_iterations_message(self) -> str:
        message = (
            f"stopped after max_iterations={self.options.max_iterations} "
            "without the model calling done"
        )
        if self.text_only_turns:
            message += f"; its last {self.text_only_turns} answer(s) were text without tool calls"
        return message

    async def _complete(self, tools: list[dict[str, Any]]) -> Completion:
        try:
            completion = await self.model.complete(self.messages, tools, self.ledger)
        except ModelError as exc:
            raise _Finished(RunOutcome.FAILED, str(exc)) from None
        self.result.usage.add(completion.usage)
        return completion

    def _check_budget(self) -> None:
        usage = self.result.usage
        budget = self.options.token_budget
        if budget is not None and usage.prompt_tokens + usage.completion_tokens > budget:
            raise _Finished(RunOutcome.FAILED, f"token budget of {budget} exhausted")
        if self.options.cost_budget is not None and usage.cost > self.options.cost_budget:
            raise _Finished(
                RunOutcome.FAILED, f"cost budget of {self.options.cost_budget} exhausted"
            )

    # --- tools ---------------------------------------------------------------------

    async def _dispatch(self, call: ToolCall) -> ToolResult:
        self.ledger.calls.append(call.name)
        handler = _HANDLERS.get(call.name)
        if handler is None:
            return ToolResult.fail(
                f"unknown tool {call.name!r}; available tools: {', '.join(prompts.TOOLS)}"
            )
        try:
            arguments = json.loads(call.arguments) if call.arguments.strip() else {}
        except json.JSONDecodeError as exc:
            return ToolResult.fail(
                f"arguments of {call.name} are not valid JSON ({exc.msg} at position "
                f"{exc.pos}); send a JSON object matching the tool's schema"
            )
        except RecursionError:
            return ToolResult.fail(
                f"arguments of {call.name} are nested too deeply; send a flat JSON object "
                "matching the tool's schema"
            )
        if not isinstance(arguments, dict):
            return ToolResult.fail(f"arguments of {call.name} must be a JSON object")
        try:
            return await handler(self, arguments)
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            return ToolResult.fail(f"bad arguments for {call.name}: {_short(exc)}")

    async def get_notifications(self, args: dict[str, Any]) -> ToolResult:
        status = str(args.get("status", "unread"))
        if status != "all" and status not in _STATES:
            return ToolResult.fail(f"status must be one of {prompts.STATUS_ENUM}")
        notifications = await self.store.list(_STATES.get(status))
        if not notifications:
            return ToolResult.empty(f"no {status} notifications")
        ranked = sorted(notifications, key=lambda n: n.severity.rank, reverse=True)
        self.ledger.saw(ranked)
        payload = fit_notifications(
            [_notification_view(n) for n in ranked[:50]], len(notifications), DEFAULT_RESULT_CAP
        )
        return cap_result(ToolResult.ok(payload), DEFAULT_RESULT_CAP, hint="filter by status")

    async def update_notification_statuses(self, args: dict[str, Any]) -> ToolResult:
        ids = [str(i) for i in args["ids"]]
        status = str(args["status"])
        if status not in ("acknowledged", "resolved"):
            return ToolResult.fail("status must be 'acknowledged' or 'resolved'")
        change = Transition(_STATES[status], str(args.get("reason", "")))
        moved = await self.store.transition(ids, change)
        unknown = sorted(set(ids) - set(moved))
        if unknown and not moved:
            return ToolResult.fail(f"no such notifications: {', '.join(unknown)}")
        return ToolResult.ok({"updated": moved, "unknown": unknown})

    async def invoke_operators(self, args: dict[str, Any]) -> ToolResult:
        requested = [str(s) for s in args.get("skills") or sorted(self.allowed_skills)]
        unknown = [s for s in requested if s not in self.allowed_skills]
        if unknown:
            return ToolResult.fail(
                f"unknown or disallowed skills: {', '.join(unknown)}; "
                f"available: {', '.join(sorted(self.allowed_skills))}"
            )
        context = str(args.get("context", ""))
        tasks = [asyncio.ensure_future(self.operators.invoke(s, context)) for s in requested]
        self.pending.update(tasks)
        done, _ = await asyncio.wait(tasks, timeout=OPERATOR_WAIT_SECONDS)
        results = self._collect(done)
        still = len(tasks) - len(done)
        payload: dict[str, Any] = {"results": fit_operator_results(results, OPERATOR_RESULTS_CAP)}
        if still:
            payload["still_running"] = still
            payload["note"] = "results of running operators arrive in a later turn"
        return cap_result(
            ToolResult.ok(payload), OPERATOR_RESULTS_CAP * 2, hint="invoke fewer skills at once"
        )

    def _collect(self, finished: set[asyncio.Task[list[OperatorResult]]]) -> list[OperatorResult]:
        results: list[OperatorResult] = []
        for task in finished:
            self.pending.discard(task)
            try:
                # Whatever runs the skill (this process, an agent of any version), its
                # results reach the model and the Investigation's status only redacted.
                results.extend(
                    OperatorResult.model_validate(redact(r.model_dump())) for r in task.result()
                )
            except Exception as exc:
                results.append(OperatorResult.fail("?", "?", f"{type(exc).__name__}: {exc}"))
        self.result.operator_results.extend(results)
        return results

    def _deliver_finished_operators(self) -> None:
        finished = {task for task in self.pending if task.done()}
        if not finished:
            return
        results = self._collect(finished)
        self.messages.append(
            {
                "role": "user",
                "content": "Operator results that finished since your last turn (data):\n"
                + json.dumps(fit_operator_results(results, OPERATOR_RESULTS_CAP), default=str),
            }
        )

    async def call_skill(self, args: dict[str, Any]) -> ToolResult:
        skill = str(args["skill"])
        if skill not in self.allowed_skills:
            return ToolResult.fail(
                f"unknown or disallowed skill {skill!r}; "
                f"available: {', '.join(sorted(self.allowed_skills))}"
            )
        arguments = args.get("arguments") or {}
        if not isinstance(arguments, dict):
            return ToolResult.fail("arguments must be a JSON object")
        return await self.operators.call(skill, str(args["tool"]), arguments)

    async def produce_insight(self, args: dict[str, Any]) -> ToolResult:
        ids = [str(i) for i in args.get("notification_ids", [])]
        known = {n.id for n in await self.store.list()}
        unknown = [i for i in ids if i not in known]
        if unknown:
            return ToolResult.fail(
                f"unknown notification ids: {', '.join(unknown)}; "
                "cite ids returned by get_notifications or invoke_operators"
            )
        fields = {k: v for k, v in args.items() if k in Insight.model_fields}
        fields["notification_ids"] = ids
        insight = Insight.model_validate(redact(fields))
        duplicate = self._duplicate_of(insight)
        if duplicate is not None:
            return ToolResult.ok({"insight_id": duplicate.id, "note": "already recorded"})
        resolved = Transition(
            NotificationState.RESOLVED, f"cited by insight {insight.id}", insight.id
        )
        await self.store.transition(ids, resolved)
        self.result.insights.append(insight)
        await self.emit("insight", insight=insight)
        return ToolResult.ok({"insight_id": insight.id, "resolved": ids})

    def _duplicate_of(self, insight: Insight) -> Insight | None:
        """An insight over the same notifications, or the same words, is one insight."""
        for existing in self.result.insights:
            if insight.notification_ids and (
                set(existing.notification_ids) == set(insight.notification_ids)
            ):
                return existing
            if existing.summary.strip().lower() == insight.summary.strip().lower():
                return existing
        return None

    async def think(self, args: dict[str, Any]) -> ToolResult:
        return ToolResult.ok({"noted": True})

    async def finish(self, args: dict[str, Any]) -> ToolResult:
        running = [task for task in self.pending if not task.done()]
        if running:
            # Give them a moment before refusing, so a model that just calls done again
            # sees their results next turn instead of spinning through its iterations.
            await asyncio.wait(running, timeout=OPERATOR_WAIT_SECONDS)
            still = sum(1 for task in running if not task.done())
            return ToolResult.fail(
                f"done refused: {len(running)} operator(s) were still running "
                f"({still} still are); their results arrive next turn: review them, "
                "then call done"
            )
        self.done = True
        return ToolResult.ok({"finished": True})

    # --- compaction ----------------------------------------------------------------

    async def _compact_if_needed(self) -> None:
        limit = self.loop.compaction_max_tokens
        if _surely_within(self.messages, limit) or self.model.count_tokens(self.messages) <= limit:
            return
        keep = self.loop.compaction_keep_last
        head, older, recent = self.messages[:2], self.messages[2:-keep], self.messages[-keep:]
        # A tool message must follow the assistant message that called it: widen the
        # kept tail back to that assistant turn.
        while recent and recent[0].get("role") == "tool" and older:
            recent.insert(0, older.pop())
        if not older:
            return
        summary = await self._summarise(older)
        notifications = await self.store.list()
        ids = {
            "notifications": {n.id: n.state.value for n in notifications},
            "insights": [i.id for i in self.result.insights],
        }
        self.messages = [
            *head,
            {
                "role": "user",
                "content": (
                    "Summary of the earlier investigation (compacted):\n"
                    + summary
                    + "\nIds so far (authoritative): "
                    + json.dumps(ids)
                ),
            },
            *recent,
        ]
        await self.emit("compacted", dropped=len(older))

    async def _summarise(self, older: list[Message]) -> str:
        transcript = json.dumps(older, default=str)[-60_000:]
        request: list[Message] = [
            {
                "role": "system",
                "content": "Summarise this investigation transcript in under "
                "300 words: findings, notification ids, insight ids, open questions.",
            },
            {"role": "user", "content": transcript},
        ]
        try:
            completion = await self.model.complete(request, [])
        except ModelError as exc:
            log.warning("compaction summary failed: %s", exc)
            return "(summary unavailable: " + str(exc) + ")"
        self.result.usage.add(completion.usage)
        return completion.content or ""


_Handler = Callable[[_Run, dict[str, Any]], Awaitable[ToolResult]]
_HANDLERS: dict[str, _Handler] = {
    "get_notifications": _Run.get_notifications,
    "update_notification_statuses": _Run.update_notification_statuses,
    "invoke_operators": _Run.invoke_operators,
    "call_skill": _Run.call_skill,
    "produce_insight": _Run.produce_insight,
    "think": _Run.think,
    "done": _Run.finish,
}


def _surely_within(messages: list[Message], limit: int) -> bool:
    """Whether a conversation is under ``limit`` tokens without tokenizing it: a token is
    at least one byte, and the JSON text of the messages (ASCII, so one byte a character)
    is longer than their UTF-8 text plus the few tokens a chat format adds a message."""
    return len(json.dumps(messages, default=str)) <= limit


def _assistant_message(completion: Completion) -> Message:
    message: Message = {"role": "assistant", "content": completion.content or ""}
    if completion.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in completion.tool_calls
        ]
    return message


def _notification_view(notification: Notification) -> dict[str, Any]:
    """A notification as the model reads it, redacted: its observation and evidence may
    quote logs or command lines, and it may come from any writer of Notification objects."""
    view = notification.wire()
    view.pop("snapshots", None)
    if notification.snapshots:
        view["evidence"] = notification.snapshots[-1].data
    redacted: dict[str, Any] = redact(view)
    return redacted


def _short(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, KeyError):
        return f"missing required argument {exc}"
    return str(exc)


@dataclass
class ToolLoop:
    """One model over one notification store and one set of operators: runs an
    investigation when asked, at once (queueing runs is the caller's business)."""

    model: ModelClient
    store: NotificationStore
    operators: Operators
    compaction_max_tokens: int = 50_000
    compaction_keep_last: int = 5

    async def run(self, context: Mapping[str, Any], options: RunOptions) -> RunResult:
        """Investigate. Never raises on model failure, timeout or cancellation: the
        result's ``outcome`` and ``message`` say."""
        if options.notifications:
            await self.store.add(options.notifications)
        run = _Run(self, context, options)
        started = time.monotonic()
        try:
            run.result.outcome, run.result.message = await _outcome(run, options)
        finally:
            for pending in list(run.pending):
                await _stop(pending)
        run.result.iterations = run.iteration
        log.info(
            "run finished: %s after %d iterations in %.2fs",
            run.result.outcome.value,
            run.iteration,
            time.monotonic() - started,
        )
        await run.emit("finished", outcome=run.result.outcome.value)
        return run.result


async def _outcome(run: _Run, options: RunOptions) -> tuple[RunOutcome, str]:
    """Execute the run until it finishes, the deadline passes or it is cancelled."""
    task = asyncio.ensure_future(run.execute())
    waiters: set[asyncio.Future[Any]] = {task}
    cancelled = asyncio.ensure_future(options.cancel.wait()) if options.cancel else None
    if cancelled:
        waiters.add(cancelled)
    try:
        done, _ = await asyncio.wait(
            waiters, timeout=options.timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        if cancelled is not None:
            cancelled.cancel()
        if not task.done():
            await _stop(task)
    if task in done:
        exc = task.exception()
        if isinstance(exc, _Finished):
            return exc.outcome, exc.message
        if exc is not None:
            # A bug must end this run with a status, never leave it hanging.
            log.error("investigation run crashed", exc_info=exc)
            return RunOutcome.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        return RunOutcome.DONE, "finished"
    if cancelled is not None and cancelled in done:
        return RunOutcome.CANCELLED, "cancelled"
    return RunOutcome.TIMEOUT, f"deadline of {options.timeout:g}s reached"


async def _stop(task: asyncio.Future[Any]) -> None:
    if task.done():
        return
    task.cancel()
    # The task's own error is moot once it has been stopped.
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
