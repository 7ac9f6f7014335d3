"""Anomaly detection: hard thresholds, a learned baseline, and findings → Notifications.

beamlens's rules, per metric series (a metric key on one subject):

- a hard :class:`~kubelens.skills.base.Threshold` raises at once;
- the baseline learns for ``learn_samples`` readings, then a reading with |z| > ``z_limit``
  on ``consecutive`` readings in a row raises ``baseline_deviation``;
- a fingerprint that fired stays quiet for ``cooldown`` seconds;
- at most ``max_per_window`` notifications per ``rate_window`` seconds in all.

Counters (OOM kills, throttled periods) are turned into per-sample deltas first, so a
counter that went up since the last sample is what is judged, not its lifetime total.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubelens import anomalies
from kubelens.models import Notification, Severity, Snapshot, Subject, fingerprint
from kubelens.skills.base import Finding, Metric, Skill, Threshold


@dataclass
class DetectorSettings:
    learn_samples: int = 20
    z_limit: float = 3.0
    consecutive: int = 3
    cooldown: float = 300.0
    rate_window: float = 3600.0
    max_per_window: int = 60
    #: Readings kept per series for the baseline (a rolling window).
    window: int = 120
    #: Seconds after which a series with no reading (a process or pod that is gone) is
    #: forgotten, with its baseline.
    forget_after: float = 3600.0


#: Readings per series kept for the trend a threshold notification carries.
RECENT_READINGS = 10


@dataclass
class _Series:
    values: deque[float]
    last_counter: float | None = None
    over: int = 0
    #: When the series last had a reading: series of processes and containers that are
    #: gone are forgotten, so a long-running agent's memory does not grow with churn.
    updated: float = 0.0
    #: (time, reading) of the last few samples, threshold crossings included: a limit
    #: approached by a steady climb (a leak) reads differently from a sudden spike.
    recent: deque[tuple[float, float]] = field(
        default_factory=lambda: deque(maxlen=RECENT_READINGS)
    )


@dataclass
class AnomalyDetector:
    """Stateful detector for one node (or one local run): feed it snapshots in order."""

    node: str | None = None
    settings: DetectorSettings = field(default_factory=DetectorSettings)
    clock: Callable[[], float] = time.monotonic
    _series: dict[tuple[str, str], _Series] = field(default_factory=dict)
    _fired_at: dict[str, float] = field(default_factory=dict)
    _recent: deque[float] = field(default_factory=deque)
    _observations: int = 0
    #: One detector serves every skill of a node from several threads; its rate limit and
    #: cooldowns are node-wide, so one snapshot is judged at a time.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def observe(self, skill: Skill, snapshot: dict[str, Any]) -> list[Notification]:
        """Judge one snapshot of one skill; return the notifications it raises."""
        with self._lock:
            return self._observe(skill, snapshot)

    def _observe(self, skill: Skill, snapshot: dict[str, Any]) -> list[Notification]:
        notifications: list[Notification] = []
        for finding in skill.findings(snapshot):
            notifications.append(self._from_finding(skill.name, finding))
        thresholds = {t.key: t for t in skill.thresholds}
        now = self.clock()
        for metric in skill.metrics(snapshot):
            series = self._series_for(metric)
            series.updated = now
            value = self._reading(metric)
            if value is None:
                continue
            series.recent.append((now, value))
            threshold = thresholds.get(metric.key)
            crossed = self._threshold(skill.name, threshold, metric, value) if threshold else None
            if crossed is not None:
                notifications.append(crossed)
                continue
            deviation = self._baseline(skill.name, metric, value)
            if deviation is not None:
                notifications.append(deviation)
        self._observations += 1
        if self._observations % 256 == 0:
            self.forget_stale()
        return [n for n in notifications if self._admit(n)]

    def _reading(self, metric: Metric) -> float | None:
        series = self._series_for(metric)
        if not metric.counter:
            return metric.value
        previous, series.last_counter = series.last_counter, metric.value
        if previous is None:
            return None
        # A counter that went down was reset (a restarted container): count from zero.
        return metric.value - previous if metric.value >= previous else metric.value

    def _series_for(self, metric: Metric) -> _Series:
        key = (metric.key, metric.subject.ref() if metric.subject else "")
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(values=deque(maxlen=self.settings.window))
        return series

    def forget_stale(self) -> int:
        """Drop series and cooldowns not touched for ``forget_after``; returns how many."""
        now = self.clock()
        stale = [
            key
            for key, series in self._series.items()
            if series.updated < now - self.settings.forget_after
        ]
        for key in stale:
            del self._series[key]
        expired = [fp for fp, at in self._fired_at.items() if at < now - self.settings.cooldown]
        for fp in expired:
            del self._fired_at[fp]
        return len(stale)

    def _threshold(
        self, skill: str, threshold: Threshold, metric: Metric, value: float
    ) -> Notification | None:
        severity = threshold.severity_for(value)
        if severity is None:
            return None
        subject = metric.subject or Subject(kind="Node", name=self.node or "local")
        observation = threshold.observation.format(
            value=_fmt(value), subject=subject.name, unit=metric.unit
        )
        return Notification(
            skill=skill,
            anomaly_type=threshold.anomaly_type,
            severity=severity,
            observation=observation,
            hypothesis=threshold.hypothesis.format(subject=subject.name, value=_fmt(value)),
            context=f"{metric.key}={_fmt(value)}{metric.unit}",
            node=self.node,
            subject=subject,
            snapshots=[
                Snapshot(
                    data={
                        "metric": metric.key,
                        "value": value,
                        "warning": threshold.warning,
                        "critical": threshold.critical,
                        **self._trend(metric),
                    }
                )
            ],
        )

    def _trend(self, metric: Metric) -> dict[str, Any]:
        """The readings that led up to a crossing, oldest first, and the seconds they span."""
        recent = self._series_for(metric).recent
        if len(recent) < 2:
            return {}
        return {
            "recent": [round(value, 4) for _, value in recent],
            "recent_seconds": round(recent[-1][0] - recent[0][0], 1),
        }

    def _baseline(self, skill: str, metric: Metric, value: float) -> Notification | None:
        series = self._series_for(metric)
        history = series.values
        notification = None
        if len(history) >= self.settings.learn_samples:
            mean = sum(history) / len(history)
            std = math.sqrt(sum((v - mean) ** 2 for v in history) / len(history))
            # A flat series has no spread: any change would be an infinite z-score,
            # so a small floor keeps noise from a constant metric from firing.
            z = (value - mean) / max(std, abs(mean) * 0.01, 1e-9)
            if abs(z) > self.settings.z_limit:
                series.over += 1
            else:
                series.over = 0
            if series.over >= self.settings.consecutive:
                series.over = 0
                subject = metric.subject or Subject(kind="Node", name=self.node or "local")
                direction = "above" if z > 0 else "below"
                notification = Notification(
                    skill=skill,
                    anomaly_type=anomalies.BASELINE_DEVIATION,
                    severity=Severity.WARNING,
                    observation=(
                        f"{metric.key} on {subject.name} is {_fmt(value)}{metric.unit}, "
                        f"{abs(z):.1f} standard deviations {direction} its learned baseline "
                        f"of {_fmt(mean)}{metric.unit} for {self.settings.consecutive} "
                        "samples in a row"
                    ),
                    context=f"{metric.key} z={z:.1f}",
                    node=self.node,
                    subject=subject,
                    fingerprint=_baseline_fingerprint(skill, metric, self.node),
                    snapshots=[
                        Snapshot(
                            data={
                                "metric": metric.key,
                                "value": value,
                                "mean": round(mean, 4),
                                "std": round(std, 4),
                                "z": round(z, 2),
                            }
                        )
                    ],
                )
        # An outlier building up to a notification is not learned as normal, or three
        # slow steps would drag the baseline along and never fire; once it has fired,
        # the new level is learned, so a lasting shift becomes the baseline.
        if series.over == 0 or notification is not None:
            history.append(value)
        return notification

    def _from_finding(self, skill: str, finding: Finding) -> Notification:
        return Notification(
            skill=skill,
            anomaly_type=finding.anomaly_type,
            severity=finding.severity,
            observation=finding.observation,
            hypothesis=finding.hypothesis,
            context=finding.context,
            node=finding.node or self.node,
            subject=finding.subject,
            snapshots=[Snapshot(data=finding.evidence or {})],
        )

    def _admit(self, notification: Notification) -> bool:
        """Cooldown per fingerprint and the global rate limit."""
        now = self.clock()
        last = self._fired_at.get(notification.fingerprint)
        if last is not None and now - last < self.settings.cooldown:
            return False
        while self._recent and now - self._recent[0] > self.settings.rate_window:
            self._recent.popleft()
        if len(self._recent) >= self.settings.max_per_window:
            return False
        self._fired_at[notification.fingerprint] = now
        self._recent.append(now)
        return True


def _baseline_fingerprint(skill: str, metric: Metric, node: str | None) -> str:
    subject = metric.subject or Subject(kind="Node", name=node or "local")
    return fingerprint(skill, f"{anomalies.BASELINE_DEVIATION}:{metric.key}", node, subject)


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return f"{value:.0f}"
    # Ratios (0.977 of a limit) need their digits; percentages read best with one decimal.
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
