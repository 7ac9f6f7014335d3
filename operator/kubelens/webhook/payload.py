"""Alertmanager's webhook payload, version 4, validated at the edge.

The shape is Alertmanager's ``notify/webhook`` ``Message``: the template data of one
alert group (receiver, status, alerts, group/common labels and annotations, the
external URL) plus ``version``, ``groupKey`` and ``truncatedAlerts``. Every field we do
not know is ignored, so senders that add fields (Grafana adds ``orgId``, ``silenceURL``
and more) still validate; the fields we use are checked strictly (no number-to-string
coercion), so garbage is refused with a message naming the field.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: Alertmanager's zero time (``0001-01-01T00:00:00Z``) means "not set" in ``endsAt``.
_GO_ZERO_YEAR = 1


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class InvalidNotificationError(ValueError):
    """The body is not an Alertmanager notification; the message says what is wrong."""


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class Alert(_Wire):
    """One alert of the group, as Alertmanager renders it."""

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(None, alias="startsAt")
    ends_at: datetime | None = Field(None, alias="endsAt")
    generator_url: str = Field("", alias="generatorURL")
    fingerprint: str = Field("", max_length=256)

    @field_validator("ends_at", "starts_at")
    @classmethod
    def _zero_time_is_unset(cls, value: datetime | None) -> datetime | None:
        return None if value is not None and value.year == _GO_ZERO_YEAR else value

    @property
    def identity(self) -> str:
        """Alertmanager's fingerprint, or one derived from the labels when it is absent."""
        if self.fingerprint:
            return self.fingerprint
        canonical = "\x00".join(f"{k}\x01{v}" for k, v in sorted(self.labels.items()))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class AlertmanagerNotification(_Wire):
    """One Alertmanager webhook POST: an alert group's current alerts (not kubelens's
    Notification resource)."""

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", min_length=1)
    status: AlertStatus
    receiver: str = ""
    alerts: list[Alert] = Field(min_length=1)
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field("", alias="externalURL")
    truncated_alerts: int = Field(0, ge=0, alias="truncatedAlerts")


#: At most this many validation problems are reported back in one 400 answer.
_MAX_PROBLEMS = 5


def parse_notification(body: bytes) -> AlertmanagerNotification:
    """Validate a request body; raise :class:`InvalidNotificationError` naming the problem."""
    try:
        return AlertmanagerNotification.model_validate_json(body)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False)[:_MAX_PROBLEMS]:
            where = ".".join(str(part) for part in error["loc"])
            problems.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
        more = exc.error_count() - len(problems)
        if more > 0:
            problems.append(f"and {more} more problem(s)")
        raise InvalidNotificationError("; ".join(problems)) from None
