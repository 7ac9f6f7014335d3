"""The anomaly detector: thresholds, counters, the learned baseline, cooldown, memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelens import anomalies
from kubelens.detection import AnomalyDetector, DetectorSettings
from kubelens.models import Severity, Subject
from kubelens.skills.base import Metric, Skill, Threshold


class Readings(Skill):
    """A skill whose snapshot is whatever the test feeds it."""

    name = "readings"
    thresholds = (
        Threshold(key="disk.used_percent", anomaly_type=anomalies.DISK_FULL, warning=85,
                  critical=95, observation="{subject} is {value}{unit} full"),
        Threshold(key="oom.kills", anomaly_type=anomalies.CONTAINER_OOM_KILLED, warning=1,
                  critical=None, observation="{value} OOM kills on {subject}"),
    )

    def snapshot(self) -> dict[str, Any]:
        return {}

    def metrics(self, snapshot: Mapping[str, Any]) -> list[Metric]:
        out = []
        for key, value in snapshot.items():
            subject, _, metric = key.partition("|")
            out.append(Metric(metric, float(value), Subject(kind="Thing", name=subject),
                              unit="%" if "percent" in metric else "",
                              counter=metric.endswith("kills")))
        return out


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def detector(**settings: Any) -> tuple[AnomalyDetector, Clock]:
    clock = Clock()
    return AnomalyDetector(node="n1", settings=DetectorSettings(**settings), clock=clock), clock


def test_thresholds_raise_with_severity_and_a_readable_observation() -> None:
    det, _ = detector()
    [raised] = det.observe(Readings(), {"/var|disk.used_percent": 96.4})
    assert raised.severity is Severity.CRITICAL
    assert raised.anomaly_type == anomalies.DISK_FULL
    assert raised.observation == "/var is 96.4% full"
    assert raised.node == "n1" and raised.subject is not None


def test_counters_are_judged_by_their_increase_not_their_total() -> None:
    det, clock = detector()
    assert det.observe(Readings(), {"api|oom.kills": 7}) == []  # first sight: no delta yet
    clock.now += 15
    assert det.observe(Readings(), {"api|oom.kills": 7}) == []  # old kills are not news
    clock.now += 15
    [raised] = det.observe(Readings(), {"api|oom.kills": 9})
    assert raised.observation == "2 OOM kills on api"


def test_baseline_needs_three_consecutive_outliers_after_learning() -> None:
    det, clock = detector(learn_samples=10, consecutive=3)
    for value in [50, 51, 49, 50, 52, 48, 50, 51, 49, 50]:
        clock.now += 15
        assert det.observe(Readings(), {"api|latency": value}) == []
    raised = []
    for value in [90, 91, 92]:
        clock.now += 15
        raised += det.observe(Readings(), {"api|latency": value})
    assert [n.anomaly_type for n in raised] == [anomalies.BASELINE_DEVIATION]
    assert "standard deviations above its learned baseline" in raised[0].observation


def test_cooldown_and_rate_limit_hold() -> None:
    det, clock = detector(cooldown=300, max_per_window=2, rate_window=3600)
    assert len(det.observe(Readings(), {"/a|disk.used_percent": 99})) == 1
    clock.now += 60
    assert det.observe(Readings(), {"/a|disk.used_percent": 99}) == []  # cooling down
    clock.now += 300
    assert len(det.observe(Readings(), {"/a|disk.used_percent": 99})) == 1
    clock.now += 1
    assert det.observe(Readings(), {"/b|disk.used_percent": 99}) == []  # rate limit


def test_series_of_vanished_subjects_are_forgotten() -> None:
    det, clock = detector(forget_after=600)
    for pid in range(50):
        det.observe(Readings(), {f"proc-{pid}|latency": 1.0})
    clock.now += 700
    det.observe(Readings(), {"proc-alive|latency": 1.0})
    assert det.forget_stale() == 50
    assert det.forget_stale() == 0
