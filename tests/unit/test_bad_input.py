"""Bad input, property-based: whatever arrives, each edge answers with its own result or
its own error, never with another exception.

- Investigation specs: a parsed spec, or InvalidSpecError with a message.
- Skill tools (every tool of every node and cluster skill): a ToolResult.
- The coordinator's tool calls (any name, any argument text): error results, and the
  loop carries on to ``done``.
- Notification resources: a Notification, or ValueError (pydantic's ValidationError is one).
- Settings (flags and environment): Settings, or SettingsError.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelens import config
from kubelens.coordinator import Coordinator, RunOptions, prompts
from kubelens.coordinator.llm import Completion, Message, ToolCall, ToolSchema
from kubelens.models import (
    Notification,
    RunOutcome,
    Severity,
    Subject,
    ToolResult,
    ToolStatus,
)
from kubelens.notifications import from_resource
from kubelens.operator.spec import InvalidSpecError, parse_spec
from kubelens.ports.notifications import InMemoryNotificationStore
from kubelens.ports.operators import InProcessOperators
from kubelens.skills import node_skills
from kubelens.skills.base import DEFAULT_RESULT_CAP, Skill
from kubelens.skills.cluster import StaticSource, cluster_skills
from tests.unit.test_node_skills import CID_APP, POD_UID, process_host, v2_systemd_host

FIXTURES = Path(__file__).parent.parent / "fixtures" / "cluster"

PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ------------------------------------------------------------------------- strategies

#: Strings a model (or an attacker) likes to send: paths out of a tree, NUL bytes,
#: selectors, huge and empty values, plus names that exist in the fixtures.
NASTY_TEXT = st.sampled_from([
    "", " ", "..", "../../etc/shadow", "/", "/etc/passwd", "a/../../..", "\x00", "x\x00y",
    "kubepods.slice", "system.slice/../..", "/sys/fs/cgroup/../../etc", "*", "a|b|", "|",
    "metadata.name=x,spec.nodeName!=", "ünïcødé", "🔥" * 10, "x" * 2000, "-1", "1e309",
    "api-7c9d8f6b5-x2x9q", "shop/api-7c9d8f6b5-x2x9q", POD_UID, CID_APP, "node-1", "api",
    "Deployment", "Pod", "FailedMount", "eth0", "/var/lib/kubelet", "100", "self",
])
TEXT = st.one_of(st.text(max_size=40), NASTY_TEXT)
NUMBERS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0, 1, -1, 50, 100, 200, 500, 2**31, 2**63, 10**6]))
JSON_SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=10,
)


def typed_value(spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of the parameter's type: in bounds mostly, at and past the bounds too."""
    expected = spec.get("type")
    if "enum" in spec:
        return st.sampled_from(spec["enum"])
    if expected == "string":
        return TEXT
    if expected == "integer":
        low, high = spec.get("minimum", -(2**31)), spec.get("maximum", 2**31)
        return st.one_of(st.integers(min_value=low, max_value=high),
                         st.integers(min_value=low, max_value=high),
                         st.sampled_from([low - 1, high + 1, 0, -1, 2**63]))
    if expected == "number":
        return NUMBERS
    if expected == "boolean":
        return st.booleans()
    return JSON_VALUES


def typed_arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Well-typed argument dicts (nasty values, bounds, optional keys left out), so the
    tool's own code runs on them."""
    properties: dict[str, Any] = schema.get("properties", {})
    required = [name for name in schema.get("required", []) if name in properties]
    return st.fixed_dictionaries(
        {name: typed_value(properties[name]) for name in required},
        optional={name: typed_value(spec) for name, spec in properties.items()
                  if name not in required})


def wild_arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Anything at all: wrong types, unknown keys, missing required ones."""
    properties: dict[str, Any] = schema.get("properties", {})
    anything = st.fixed_dictionaries({}, optional={name: JSON_VALUES for name in properties})
    extra = st.dictionaries(TEXT, JSON_VALUES, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, anything, extra)


# ------------------------------------------------------------------------- specs

SPEC_KEYS = ["reason", "context", "skills", "notifications", "nodes", "nodeSelector",
             "maxIterations", "timeoutSeconds", "model", "budget"]
SPEC_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "reason": st.one_of(TEXT, st.text(min_size=1, max_size=20)),
    "context": st.one_of(st.dictionaries(TEXT, JSON_VALUES, max_size=3), JSON_VALUES),
    "skills": st.one_of(st.lists(st.sampled_from(["pods", "events", "os", "telepathy"]),
                                 max_size=3), JSON_VALUES),
    "notifications": st.one_of(st.lists(TEXT, max_size=3), JSON_VALUES),
    "nodes": st.one_of(st.lists(TEXT, max_size=3), JSON_VALUES),
    "nodeSelector": st.one_of(st.dictionaries(TEXT, TEXT, max_size=2), JSON_VALUES),
    "maxIterations": st.one_of(st.integers(min_value=-5, max_value=300), JSON_VALUES),
    "timeoutSeconds": st.one_of(st.integers(min_value=-5, max_value=4000), JSON_VALUES),
    "model": st.one_of(st.sampled_from(["", "openai/gpt-4o-mini", "openai/other"]), JSON_VALUES),
    "budget": st.one_of(st.fixed_dictionaries({}, optional={"maxTokens": NUMBERS,
                                                            "maxCost": NUMBERS}), JSON_VALUES),
}
SPECS = st.one_of(
    st.fixed_dictionaries({}, optional=SPEC_VALUES),
    st.dictionaries(st.one_of(st.sampled_from(SPEC_KEYS), TEXT), JSON_VALUES, max_size=5),
)


@PROPERTY
@given(spec=SPECS)
def test_any_spec_parses_or_is_refused_with_a_message(spec: dict[str, Any]) -> None:
    try:
        parsed, model = parse_spec(spec, {"pods", "events", "os"}, "openai/gpt-4o-mini",
                                   ["openai/other"])
    except InvalidSpecError as exc:
        assert str(exc).startswith("spec."), str(exc)
        return
    assert parsed.reason and model in ("openai/gpt-4o-mini", "openai/other")
    assert 1 <= parsed.max_iterations <= 200 and 10 <= parsed.timeout_seconds <= 3600


# ------------------------------------------------------------------------- skill tools


def _cluster_source() -> StaticSource:
    logs: dict[tuple[str, str, str | None, bool], str] = {}
    for path in (FIXTURES / "logs").glob("*.log"):
        parts = path.stem.split("_")
        logs[(parts[0], parts[1], parts[2], parts[-1] == "previous")] = path.read_text()
    return StaticSource.from_files(sorted(FIXTURES.glob("*.yaml")), logs=logs)


@pytest.fixture(scope="module")
def every_skill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Skill]]:
    root = tmp_path_factory.mktemp("host")
    process_host(root)
    host = v2_systemd_host(root)
    skills = [*node_skills(host.paths), *cluster_skills(_cluster_source(), "shop"),
              *cluster_skills(_cluster_source(), None)]
    by_name: dict[str, Skill] = {}
    for skill in skills:
        skill.snapshot()  # a CPU baseline, so top() compares with it instead of sleeping
        by_name.setdefault(skill.name, skill)
        by_name[f"{skill.name}@{getattr(skill, 'namespace', 'node') or 'all'}"] = skill
    yield by_name


def _tools() -> list[tuple[str, str]]:
    from kubelens.skills.base import HostPaths

    pairs = []
    for skill in node_skills(HostPaths()):
        pairs += [(skill.name, tool) for tool in skill.tools]
    for skill in cluster_skills(StaticSource(), "shop"):
        pairs += [(f"{skill.name}@shop", tool) for tool in skill.tools]
        pairs += [(f"{skill.name}@all", tool) for tool in skill.tools]
    return pairs


#: What a tool's own code raising looks like once Skill.call has caught it: a bug.
CRASH_TYPES = ("TypeError", "AttributeError", "KeyError", "IndexError", "ValueError",
               "ZeroDivisionError", "RecursionError", "OverflowError", "UnicodeError")


@pytest.mark.parametrize(("skill_name", "tool"), _tools())
def test_every_tool_answers_any_arguments_with_a_tool_result(
        every_skill: dict[str, Skill], skill_name: str, tool: str) -> None:
    skill = every_skill[skill_name]

    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(typed=typed_arguments(skill.tools[tool].parameters),
           wild=wild_arguments(skill.tools[tool].parameters))
    def check(typed: dict[str, Any], wild: dict[str, Any]) -> None:
        for arguments in (typed, wild):
            result = skill.call(tool, arguments)
            assert isinstance(result, ToolResult)
            text = json.dumps(result.wire())
            if result.status is ToolStatus.ERROR:
                assert result.error
                assert not any(f"failed: {kind}" in result.error for kind in CRASH_TYPES), (
                    f"{skill.name}.{tool}({arguments!r}) crashed inside: {result.error}")
            else:
                assert len(text) <= skill.result_cap + 200

    check()


@PROPERTY
@given(tool=TEXT, arguments=st.one_of(st.none(), st.dictionaries(TEXT, JSON_VALUES, max_size=3)))
def test_unknown_tools_of_a_skill_are_errors_naming_the_real_ones(
        every_skill: dict[str, Skill], tool: str, arguments: dict[str, Any] | None) -> None:
    skill = every_skill["processes"]
    result = skill.call(tool, arguments)
    if tool in skill.tools:
        return
    assert result.status is ToolStatus.ERROR
    assert result.error and "its tools are: open_files, process, top, zombies" in result.error


# ------------------------------------------------------------------------- the coordinator


class ReplayModel:
    """A model that sends the given tool calls, one turn each, then ``done``."""

    name = "replay"

    def __init__(self, calls: list[tuple[str, str]]) -> None:
        self.turns = [[ToolCall(id=f"c{i}", name=name, arguments=arguments)]
                      for i, (name, arguments) in enumerate(calls)]
        self.turns.append([ToolCall(id="final", name="done", arguments="{}")])
        self.seen: list[list[Message]] = []

    async def complete(self, messages: list[Message], tools: list[ToolSchema],
                       evidence: Any = None) -> Completion:
        self.seen.append(list(messages))
        calls = self.turns.pop(0) if self.turns else [ToolCall("again", "done", "{}")]
        return Completion(content=None, tool_calls=calls)

    def count_tokens(self, messages: list[Message], tools: list[ToolSchema] | None = None) -> int:
        return 0


class OneReading(Skill):
    name = "reading"
    description = "One reading."

    def __init__(self) -> None:
        super().__init__()
        self.add_tool("read", "Read it.", {"properties": {"n": {"type": "integer"}}},
                      lambda n=1: {"n": n})

    def snapshot(self) -> dict[str, Any]:
        return {"summary": "fine"}


def _tool_argument_texts() -> st.SearchStrategy[str]:
    """Argument text: garbage, JSON of any shape, or objects with the tools' own keys."""
    keys = sorted({key for schema in prompts.TOOLS.values()
                   for key in schema["function"]["parameters"]["properties"]})
    plausible = st.dictionaries(st.one_of(st.sampled_from(keys), TEXT),
                                st.one_of(JSON_VALUES, st.sampled_from(["ntf-1", "reading"]),
                                          st.lists(st.sampled_from(["ntf-1", "ntf-x"]))),
                                max_size=5)
    return st.one_of(TEXT, JSON_VALUES.map(json.dumps), plausible.map(json.dumps),
                     st.sampled_from(["[" * 5000, '{"a": ' * 3000, "{", "null", "1e999"]))


TOOL_CALLS = st.lists(
    st.tuples(st.one_of(st.sampled_from([n for n in prompts.TOOLS if n != "done"]), TEXT),
              _tool_argument_texts()),
    min_size=1, max_size=6,
)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(calls=TOOL_CALLS)
def test_any_tool_call_is_answered_and_the_loop_carries_on(calls: list[tuple[str, str]]) -> None:
    seeded = Notification(id="ntf-1", skill="reading", anomaly_type="x",
                          severity=Severity.WARNING, observation="something happened")
    store = InMemoryNotificationStore([seeded])
    model = ReplayModel(calls)
    coordinator = Coordinator(model=model, store=store,
                              operators=InProcessOperators([OneReading()], store, source="n"))
    options = RunOptions(max_iterations=len(calls) + 2, timeout=20)
    result = asyncio.run(coordinator.run({"reason": "fuzz"}, options))
    assert result.outcome is RunOutcome.DONE, result.message
    answers = [m for m in model.seen[-1] if m["role"] == "tool"]
    for answer in answers:
        assert json.loads(answer["content"])["status"] in ("ok", "error", "no_data")
    for (name, _), answer in zip(calls, answers, strict=False):
        if name not in prompts.TOOLS:
            assert json.loads(answer["content"])["error"].startswith(f"unknown tool {name!r}")


# ------------------------------------------------------------------------- notifications

NOTIFICATION_SPECS = st.fixed_dictionaries({}, optional={
    "skill": st.one_of(TEXT, JSON_VALUES), "anomalyType": TEXT,
    "severity": st.one_of(st.sampled_from(["info", "warning", "critical"]), JSON_VALUES),
    "observation": st.one_of(TEXT, JSON_VALUES), "node": JSON_VALUES,
    "subject": st.one_of(st.fixed_dictionaries({"kind": TEXT, "name": TEXT}), JSON_VALUES),
    "detectedAt": st.one_of(st.sampled_from(["2026-11-24T06:00:00Z", "yesterday"]), JSON_VALUES),
    "snapshots": st.one_of(st.lists(st.fixed_dictionaries({"data": JSON_VALUES}), max_size=7),
                           JSON_VALUES),
    "id": TEXT, "state": TEXT, "count": JSON_VALUES,
})
RESOURCES = st.one_of(
    st.fixed_dictionaries(
        {"metadata": st.one_of(st.fixed_dictionaries({"name": st.one_of(TEXT, JSON_VALUES)}),
                               JSON_VALUES)},
        optional={"spec": st.one_of(NOTIFICATION_SPECS, JSON_VALUES),
                  "status": st.one_of(st.fixed_dictionaries({}, optional={
                      "state": st.sampled_from(["Unread", "Resolved", "Bogus"]),
                      "count": JSON_VALUES, "lastSeen": JSON_VALUES}), JSON_VALUES)}),
    st.dictionaries(TEXT, JSON_VALUES, max_size=4),
)


@PROPERTY
@given(obj=RESOURCES)
def test_any_notification_resource_parses_or_is_a_value_error(obj: dict[str, Any]) -> None:
    try:
        notification = from_resource(obj)
    except ValueError as exc:
        assert str(exc)
        return
    assert isinstance(notification, Notification)
    assert notification.id == obj["metadata"]["name"]


# ------------------------------------------------------------------------- settings

FIELDS = sorted(config.Settings.model_fields)
FLAG_VALUES = st.one_of(TEXT, st.sampled_from(["0", "1", "true", "no", "3600.5", "a,b,,c"]))


@PROPERTY
@given(
    flags=st.dictionaries(st.one_of(st.sampled_from(FIELDS), TEXT), FLAG_VALUES, max_size=4),
    environ=st.dictionaries(
        st.one_of(st.sampled_from([config.env_names(f)[0] for f in FIELDS]), TEXT),
        FLAG_VALUES, max_size=4),
)
def test_any_settings_load_or_are_refused_naming_the_flag(
        flags: dict[str, str], environ: dict[str, str]) -> None:
    try:
        loaded = config.load(flags, environ)
    except config.SettingsError as exc:
        assert str(exc).startswith("--"), str(exc)
        return
    assert isinstance(loaded, config.Settings)
    for path in (loaded.host_proc, loaded.host_cgroup, loaded.host_root):
        assert "\x00" not in str(path)


def test_a_flood_of_notifications_is_answered_with_whole_ones_most_severe_first() -> None:
    flood = [Notification(id=f"ntf-{i:03d}", skill="reading", anomaly_type="x",
                          severity=Severity.CRITICAL if i % 50 == 7 else Severity.INFO,
                          observation=f"observation {i} " + "x" * 200,
                          subject=Subject(kind="Pod", name=f"pod-{i}", namespace="shop"))
             for i in range(300)]
    store = InMemoryNotificationStore(flood)
    model = ReplayModel([("get_notifications", '{"status": "all"}')])
    coordinator = Coordinator(model=model, store=store,
                              operators=InProcessOperators([OneReading()], store, source="n"))
    result = asyncio.run(coordinator.run({"reason": "flood"}, RunOptions(timeout=20)))
    assert result.outcome is RunOutcome.DONE
    (answer,) = [json.loads(m["content"]) for m in model.seen[-1] if m["role"] == "tool"]
    assert answer["status"] == "ok" and not answer["truncated"]
    listed = answer["data"]["notifications"]
    assert 1 < len(listed) < 50 and answer["data"]["total"] == 300
    assert [n["id"] for n in listed[:6]] == [f"ntf-{i:03d}" for i in (7, 57, 107, 157, 207, 257)]
    assert f"{300 - len(listed)} of 300 notification(s) omitted" in answer["data"]["note"]
    assert len(json.dumps(answer["data"])) <= DEFAULT_RESULT_CAP
