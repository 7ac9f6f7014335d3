"""What a skill is: a named body of knowledge with a snapshot and read-only tools.

A skill never raises into the coordinator's loop: every tool call returns a
:class:`~kubelens.models.ToolResult` (ok / error / no_data), arguments are checked
against the tool's JSON schema first, and output is fitted to a size budget (lists cut
before values, log lines keeping the newest) with notes saying what was left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from kubelens.models import Severity, Subject, ToolResult, ToolStatus
from kubelens.redact import redact
from kubelens.skills.fit import fit_result

log = logging.getLogger(__name__)

#: Largest tool result, in characters of JSON, handed back to the model.
DEFAULT_RESULT_CAP = 8_000

ToolFunction = Callable[..., Any]


@dataclass(frozen=True)
class HostPaths:
    """Where a node skill reads the host from.

    On a plain machine these are ``/proc``, ``/sys/fs/cgroup`` and ``/``; in the agent's
    pod they are the host's trees mounted read-only; in tests, fixed fake trees.
    """

    proc: Path = Path("/proc")
    cgroup: Path = Path("/sys/fs/cgroup")
    rootfs: Path = Path("/")


@dataclass(frozen=True)
class Tool:
    """A read-only callback the coordinator may call, with a JSON schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: ToolFunction


@dataclass(frozen=True)
class Metric:
    """One numeric reading from a snapshot, for the anomaly detector.

    ``key`` names the quantity (``memory.used_percent``); ``subject`` the object it is
    about, so the same key on two pods is two series.
    """

    key: str
    value: float
    subject: Subject | None = None
    unit: str = ""
    #: Counters are turned into per-sample deltas before detection.
    counter: bool = False


@dataclass(frozen=True)
class Finding:
    """A categorical anomaly read straight off a snapshot, before it becomes a Notification."""

    anomaly_type: str
    severity: Severity
    observation: str
    subject: Subject | None = None
    hypothesis: str = ""
    context: str = ""
    evidence: dict[str, Any] | None = None
    #: The node it happened on, when the skill knows better than its runner (cluster skills).
    node: str | None = None


@dataclass(frozen=True)
class Threshold:
    """A hard limit on a metric: crossing it raises a notification straight away."""

    key: str
    anomaly_type: str
    warning: float | None
    critical: float | None
    observation: str
    hypothesis: str = ""
    #: ``above`` fires when value >= limit, ``below`` when value <= limit.
    direction: str = "above"

    def severity_for(self, value: float) -> Severity | None:
        def crossed(limit: float | None) -> bool:
            if limit is None:
                return False
            return value >= limit if self.direction == "above" else value <= limit

        if crossed(self.critical):
            return Severity.CRITICAL
        if crossed(self.warning):
            return Severity.WARNING
        return None


class Skill:
    """Base of every skill.

    A subclass sets ``name``, ``description`` (one line, shown to the coordinator),
    ``prompt`` (a system-prompt fragment) and ``thresholds``, implements
    :meth:`snapshot` and :meth:`metrics`, and registers its tools with
    :meth:`add_tool` in ``__init__``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    prompt: ClassVar[str] = ""
    thresholds: ClassVar[tuple[Threshold, ...]] = ()
    result_cap: int = DEFAULT_RESULT_CAP

    def __init__(self) -> None:
        self.tools: dict[str, Tool] = {}

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError

    def metrics(self, snapshot: Mapping[str, Any]) -> list[Metric]:
        """Numeric readings from a snapshot for anomaly detection. None by default."""
        return []

    def summarize(self, snapshot: Mapping[str, Any]) -> str:
        """One line for reports; a snapshot's own ``summary`` key when it has one."""
        summary = snapshot.get("summary")
        return str(summary) if summary else ""

    def findings(self, snapshot: Mapping[str, Any]) -> list[Finding]:
        """Anomalies a snapshot shows outright (an OOM kill, CrashLoopBackOff). None by default."""
        return []

    def add_tool(
        self, name: str, description: str, parameters: dict[str, Any], function: ToolFunction
    ) -> None:
        """Register a tool; ``parameters`` is ``skills.params.params(...)``, one line a tool."""
        schema = {"type": "object", "properties": {}, "additionalProperties": False}
        schema.update(parameters)
        self.tools[name] = Tool(name, description, schema, function)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tools": [
                {"name": t.name, "description": t.description, "parameters": t.parameters}
                for t in self.tools.values()
            ],
        }

    def safe_snapshot(self) -> ToolResult:
        """A redacted, capped snapshot; an error becomes an error result."""
        try:
            data = self.snapshot()
        except Exception as exc:  # a broken /proc file must not end the investigation
            log.warning("snapshot of skill %s failed: %s", self.name, exc)
            return ToolResult.fail(f"snapshot of {self.name} failed: {type(exc).__name__}: {exc}")
        return cap_result(ToolResult.ok(redact(data)), self.result_cap, hint="")

    def call(self, tool_name: str, arguments: Mapping[str, Any] | None) -> ToolResult:
        """Run one tool. Unknown tools and bad arguments are errors the model can fix."""
        tool = self.tools.get(tool_name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            return ToolResult.fail(
                f"skill {self.name!r} has no tool {tool_name!r}; its tools are: {known}"
            )
        args = dict(arguments or {})
        problem = validate_arguments(tool.parameters, args)
        if problem:
            return ToolResult.fail(f"invalid arguments for {self.name}.{tool_name}: {problem}")
        started = time.perf_counter()
        try:
            value = tool.function(**args)
        except Exception as exc:
            log.warning("tool %s.%s failed: %s", self.name, tool_name, exc)
            return ToolResult.fail(f"{self.name}.{tool_name} failed: {type(exc).__name__}: {exc}")
        result = value if isinstance(value, ToolResult) else ToolResult.ok(value)
        if result.status is ToolStatus.OK:
            result = ToolResult(status=result.status, data=redact(result.data))
        log.debug(
            "tool %s.%s took %.1f ms", self.name, tool_name, (time.perf_counter() - started) * 1000
        )
        return cap_result(
            result,
            self.result_cap,
            hint="to see what was left out, narrow the call (a filter, one pid or one pod)",
        )


def cap_result(result: ToolResult, cap: int, hint: str) -> ToolResult:
    """Fit a result to ``cap`` characters of JSON (see :mod:`kubelens.skills.fit`)."""
    return fit_result(result, cap, hint)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def validate_arguments(schema: Mapping[str, Any], args: Mapping[str, Any]) -> str | None:
    """Check tool arguments against the subset of JSON schema tools use.

    Returns a message naming the problem, or None. Kept small on purpose: tools take
    flat arguments (strings, numbers, booleans, enums, bounds), so this covers them
    with errors written for the model to act on.
    """
    properties: Mapping[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in args:
            return f"missing required argument {name!r}"
    for name, value in args.items():
        spec = properties.get(name)
        if spec is None:
            if schema.get("additionalProperties", True) is False:
                allowed = ", ".join(sorted(properties)) or "none"
                return f"unknown argument {name!r}; allowed: {allowed}"
            continue
        expected = spec.get("type")
        if expected:
            types = _JSON_TYPES.get(expected, (object,))
            if isinstance(value, bool) and expected in ("integer", "number"):
                return f"argument {name!r} must be {expected}, got boolean"
            if not isinstance(value, types):
                return f"argument {name!r} must be {expected}, got {type(value).__name__}"
        if "enum" in spec and value not in spec["enum"]:
            return f"argument {name!r} must be one of {spec['enum']}, got {value!r}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in spec and value < spec["minimum"]:
                return f"argument {name!r} must be >= {spec['minimum']}, got {value}"
            if "maximum" in spec and value > spec["maximum"]:
                return f"argument {name!r} must be <= {spec['maximum']}, got {value}"
        if isinstance(value, str) and "maxLength" in spec and len(value) > spec["maxLength"]:
            return f"argument {name!r} is longer than {spec['maxLength']} characters"
        if expected == "array" and isinstance(value, list) and "items" in spec:
            item_type = spec["items"].get("type")
            if item_type and not all(isinstance(v, _JSON_TYPES[item_type]) for v in value):
                return f"argument {name!r} must be a list of {item_type}"
    return None
