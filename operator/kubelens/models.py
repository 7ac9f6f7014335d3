"""The shapes kubelens passes around: notifications, insights, operator results.

They follow beamlens's shapes and the CRDs in ``crds/``. Field names are snake_case
in Python and camelCase on the wire (``model_dump(by_alias=True)``), so the same
objects serialise straight into a custom resource's spec or status.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

#: A recorded clock, while one is set (a replay runs on the scenario's time, not ours).
_RECORDED_NOW: ContextVar[datetime | None] = ContextVar("kubelens_recorded_now", default=None)
_RECORDED_IDS: ContextVar[Iterator[int] | None] = ContextVar("kubelens_recorded_ids", default=None)


def utcnow() -> datetime:
    recorded = _RECORDED_NOW.get()
    return recorded if recorded is not None else datetime.now(UTC).replace(microsecond=0)


def on_recorded_clock() -> bool:
    return _RECORDED_NOW.get() is not None


@contextmanager
def recorded_clock(moment: datetime) -> Iterator[None]:
    """Within it, "now" is ``moment`` and ids are numbered in order, so two runs over the
    same recording produce the same timestamps and ids (transcripts and diffs stay stable)."""
    clock = _RECORDED_NOW.set(moment.astimezone(UTC).replace(microsecond=0))
    ids = _RECORDED_IDS.set(itertools.count(1))
    try:
        yield
    finally:
        _RECORDED_NOW.reset(clock)
        _RECORDED_IDS.reset(ids)


def timestamp(moment: datetime | None = None) -> str:
    """A moment (default: now) as Kubernetes writes it: RFC 3339 in UTC with a "Z"."""
    moment = moment or utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    sequence = _RECORDED_IDS.get()
    if sequence is not None:
        return f"{prefix}-{next(sequence):012d}"
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class WireModel(BaseModel):
    """Base for every shape that crosses a boundary: camelCase aliases, strict keys."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=False
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready camelCase form, as it appears in a resource or on stdout."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


class NotificationState(StrEnum):
    UNREAD = "Unread"
    ACKNOWLEDGED = "Acknowledged"
    RESOLVED = "Resolved"


class CorrelationType(StrEnum):
    TEMPORAL = "temporal"
    CAUSAL = "causal"
    SYMPTOMATIC = "symptomatic"


class Confidence(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 0, "medium": 1, "high": 2}[self.value]


class Subject(WireModel):
    """The object an anomaly is about: a node, a pod, a container, a mount, a process."""

    kind: str
    name: str
    namespace: str | None = None

    def ref(self) -> str:
        return (
            f"{self.kind}/{self.namespace}/{self.name}"
            if self.namespace
            else (f"{self.kind}/{self.name}")
        )


class Snapshot(WireModel):
    id: str = Field(default_factory=lambda: new_id("snap"))
    captured_at: datetime = Field(default_factory=utcnow)
    data: dict[str, Any]


class Notification(WireModel):
    """An anomaly raised by a skill, waiting for the coordinator to analyse it."""

    id: str = Field(default_factory=lambda: new_id("ntf"))
    skill: str
    anomaly_type: str
    severity: Severity
    context: str = ""
    observation: str
    hypothesis: str = ""
    node: str | None = None
    subject: Subject | None = None
    detected_at: datetime = Field(default_factory=utcnow)
    fingerprint: str = ""
    snapshots: list[Snapshot] = Field(default_factory=list, max_length=5)
    state: NotificationState = NotificationState.UNREAD
    count: int = 1
    last_seen: datetime | None = None
    investigation: str | None = None
    insight_id: str | None = None
    reason: str | None = None

    def model_post_init(self, __context: Any) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(self.skill, self.anomaly_type, self.node, self.subject)


def fingerprint(skill: str, anomaly_type: str, node: str | None, subject: Subject | None) -> str:
    """Stable identity of an anomaly: the same problem on the same object twice is one."""
    key = "|".join([skill, anomaly_type, node or "", subject.ref() if subject else ""])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class Insight(WireModel):
    """A correlation of notifications into an explanation (beamlens's Insight)."""

    id: str = Field(default_factory=lambda: new_id("ins"))
    notification_ids: list[str] = Field(default_factory=list)
    correlation_type: CorrelationType
    summary: str
    matched_observations: list[str] = Field(default_factory=list)
    hypothesis_grounded: bool = False
    root_cause_hypothesis: str = ""
    confidence: Confidence
    created_at: datetime = Field(default_factory=utcnow)
    evidence: list[str] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    subjects: list[Subject] = Field(default_factory=list)


class ToolStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    NO_DATA = "no_data"


class ToolResult(WireModel):
    """What every tool returns: never an exception, always one of ok / error / no_data."""

    status: ToolStatus
    data: Any = None
    error: str | None = None
    truncated: bool = False

    @classmethod
    def ok(cls, data: Any) -> ToolResult:
        return cls(status=ToolStatus.OK, data=data)

    @classmethod
    def fail(cls, message: str) -> ToolResult:
        return cls(status=ToolStatus.ERROR, error=message)

    @classmethod
    def empty(cls, message: str) -> ToolResult:
        return cls(status=ToolStatus.NO_DATA, error=message)


class OperatorResult(WireModel):
    """What running one skill on one source (a node, the cluster) reported."""

    skill: str
    source: str
    status: ToolStatus
    summary: str = ""
    snapshot: dict[str, Any] | None = None
    notification_ids: list[str] = Field(default_factory=list)
    error: str | None = None
    duration_ms: float = 0.0

    @classmethod
    def fail(
        cls, skill: str, source: str, message: str, duration_ms: float = 0.0
    ) -> OperatorResult:
        return cls(
            skill=skill,
            source=source,
            status=ToolStatus.ERROR,
            error=message,
            duration_ms=duration_ms,
        )


class Usage(WireModel):
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    tool_calls: int = 0

    def add(self, other: Usage) -> None:
        self.llm_calls += other.llm_calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost += other.cost
        self.tool_calls += other.tool_calls


class RunOutcome(StrEnum):
    DONE = "done"
    MAX_ITERATIONS = "max_iterations"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    FAILED = "failed"


class RunResult(WireModel):
    insights: list[Insight] = Field(default_factory=list)
    operator_results: list[OperatorResult] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    outcome: RunOutcome = RunOutcome.DONE
    iterations: int = 0
    message: str = ""
    analyst: str = ""
