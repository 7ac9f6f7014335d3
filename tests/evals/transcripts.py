"""Recorded model transcripts: the tool calls a good model makes, replayed through litellm.

A scenario's ``model_transcript.yaml`` lists turns; each turn is the tool calls one model
answer makes::

    turns:
      - - tool: invoke_operators
          arguments: {skills: [], context: first look}
      - - tool: get_notifications
          arguments: {status: all}
      - - tool: produce_insight
          arguments:
            notification_ids: ["${notifications:pod_oom_killed}"]
            summary: ...

Ids only exist once the run has made them, so arguments bind them from earlier tool
results with placeholders, resolved against the conversation the coordinator sends:

- ``${notification:TYPE}``: the id of the first notification of anomaly type TYPE that
  ``get_notifications`` returned;
- ``"${notifications:TYPE}"`` as a whole list item: every such id.

Each turn is served by :class:`tests.llm_server.ScriptedLLM`, so the coordinator talks to
it through litellm's real HTTP path, exactly as it would to a provider.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.llm_server import Turn

TRANSCRIPT_FILE = "model_transcript.yaml"
_ONE = re.compile(r"\$\{notification:([a-z_]+)\}")
_ALL = re.compile(r"^\$\{notifications:([a-z_]+)\}$")


class TranscriptError(AssertionError):
    """The transcript no longer fits the run (a placeholder that binds nothing)."""


def load(scenario: Path) -> list[list[dict[str, Any]]]:
    data = yaml.safe_load((scenario / TRANSCRIPT_FILE).read_text())
    turns = data.get("turns") if isinstance(data, dict) else None
    if not isinstance(turns, list) or not all(isinstance(t, list) for t in turns):
        raise TranscriptError(f"{scenario / TRANSCRIPT_FILE}: needs turns: a list of lists")
    return turns


def seen_notifications(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Notifications returned by get_notifications so far in this conversation."""
    found: dict[str, dict[str, Any]] = {}
    for message in request.get("messages", []):
        if message.get("role") != "tool" or message.get("name") != "get_notifications":
            continue
        result = json.loads(message.get("content") or "{}")
        for view in (result.get("data") or {}).get("notifications", []):
            found.setdefault(view["id"], view)
    return list(found.values())


def bind(value: Any, notifications: list[dict[str, Any]]) -> Any:
    """``value`` with every placeholder replaced by ids from ``notifications``."""
    def ids(kind: str) -> list[str]:
        matched = [n["id"] for n in notifications if n.get("anomalyType") == kind]
        if not matched:
            seen = sorted({str(n.get("anomalyType")) for n in notifications})
            raise TranscriptError(f"no {kind} notification to bind; the run raised: {seen}")
        return matched

    if isinstance(value, str):
        return _ONE.sub(lambda m: ids(m.group(1))[0], value)
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            whole = _ALL.match(item) if isinstance(item, str) else None
            out.extend(ids(whole.group(1)) if whole else [bind(item, notifications)])
        return out
    if isinstance(value, dict):
        return {key: bind(item, notifications) for key, item in value.items()}
    return value


def script(turns: list[list[dict[str, Any]]], errors: list[str]) -> list[
        Callable[[dict[str, Any]], Turn]]:
    """ScriptedLLM steps for ``turns``; binding failures are kept in ``errors``, and the
    step answers ``done`` so the run ends instead of hanging on a broken transcript."""
    def step(calls: list[dict[str, Any]]) -> Callable[[dict[str, Any]], Turn]:
        def answer(request: dict[str, Any]) -> Turn:
            notifications = seen_notifications(request)
            try:
                bound = [(c["tool"], bind(c.get("arguments") or {}, notifications))
                         for c in calls]
            except TranscriptError as exc:
                errors.append(str(exc))
                return Turn(tool_calls=[("done", {})])
            return Turn(tool_calls=bound, prompt_tokens=1_200, completion_tokens=90)
        return answer

    return [step(calls) for calls in turns]


def tool_errors(requests: list[dict[str, Any]]) -> list[str]:
    """Every error a tool answered during the run: a transcript should cause none."""
    errors: list[str] = []
    if not requests:
        return errors
    for message in requests[-1].get("messages", []):
        if message.get("role") == "tool":
            result = json.loads(message.get("content") or "{}")
            if result.get("status") == "error":
                errors.append(f"{message.get('name')}: {result.get('error')}")
    return errors
