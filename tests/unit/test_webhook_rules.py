"""The webhook's rules without HTTP: payload parsing, names, namespace, reason, context
merging, the write bucket, and the group cache's bound."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kubelens.kube import KubeError
from kubelens.resources import ANNOTATION_CANCEL_IF_PENDING as CANCEL_IF_PENDING
from kubelens.webhook import investigations as inv
from kubelens.webhook.payload import (
    AlertmanagerNotification,
    InvalidNotificationError,
    parse_notification,
)
from kubelens.webhook.service import (
    AlertGroups,
    RateLimitedError,
    TokenBucket,
    WebhookLimits,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager"
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LIMITS = inv.ContextLimits()


def raw(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return body


def notification(body: Mapping[str, Any]) -> AlertmanagerNotification:
    return parse_notification(json.dumps(body).encode())


def test_fixtures_are_valid_version_4_payloads() -> None:
    for path in FIXTURES.glob("*.json"):
        data = json.loads(path.read_text())
        for body in data if isinstance(data, list) else [data]:
            parsed = notification(body)
            assert parsed.version == "4" and parsed.alerts


def test_unknown_fields_are_ignored_and_zero_end_time_is_unset() -> None:
    body = raw("firing")
    body["orgId"] = 1
    body["alerts"][0]["silenceURL"] = "http://grafana/silence"
    parsed = notification(body)
    assert parsed.alerts[0].ends_at is None
    assert parsed.alerts[0].starts_at is not None


def test_parse_errors_name_the_field_and_are_capped() -> None:
    body = raw("firing")
    body["alerts"] = [{"status": "x", "labels": {"a": 1}} for _ in range(4)]
    with pytest.raises(InvalidNotificationError) as caught:
        notification(body)
    message = str(caught.value)
    assert message.startswith("alerts.0.status: Input should be 'firing' or 'resolved'")
    assert "alerts.0.labels.a: Input should be a valid string" in message
    assert message.endswith("and 3 more problem(s)")


def test_names_are_deterministic_dns_labels() -> None:
    group = inv.group_hash(raw("firing")["groupKey"])
    assert group == inv.group_hash(raw("repeat")["groupKey"])
    assert len(group) == inv.GROUP_HASH_LENGTH
    for sequence in (1, 2, 17, 10**9):
        name = inv.investigation_name(group, sequence)
        assert DNS_1123_LABEL.match(name) and len(name) <= 63
        assert inv.sequence_of(name, group) == sequence
    assert inv.investigation_name(group, 1) == f"alert-{group}"
    assert inv.sequence_of("alert-0000000000", group) == 0
    assert inv.sequence_of(f"alert-{group}-x", group) == 0


@pytest.mark.parametrize(("change", "expected"), [
    (lambda b: None, "shop"),
    (lambda b: b["commonLabels"].pop("namespace"), "shop"),  # every alert agrees
    (lambda b: b["commonLabels"].update(namespace="Not_A_Name"), "fallback"),
    (lambda b: [b["commonLabels"].pop("namespace"), b["alerts"][0]["labels"].pop("namespace")],
     "fallback"),
])
def test_namespace_rules(change: Any, expected: str) -> None:
    body = raw("firing")
    change(body)
    assert inv.namespace_for(notification(body), "fallback") == expected


def test_namespace_of_alerts_spanning_namespaces_is_the_default() -> None:
    assert inv.namespace_for(notification(raw("several-namespaces")), "fallback") == "fallback"
    spanning = raw("repeat")
    spanning["commonLabels"].pop("namespace")
    spanning["alerts"][1]["labels"]["namespace"] = "payments"
    assert inv.namespace_for(notification(spanning), "fallback") == "fallback"


def test_reason_prefers_summary_then_description_then_group_labels() -> None:
    body = raw("firing")
    assert inv.reason_for(notification(body)) == "KubePodCrashLooping: Pod is crash looping."
    for found in (body["commonAnnotations"], body["alerts"][0]["annotations"]):
        found.pop("summary")
    assert inv.reason_for(notification(body)).startswith(
        "KubePodCrashLooping: Pod shop/checkout-7d9f8c6b5-x2k4q (api) is in waiting state")
    for found in (body["commonAnnotations"], body["alerts"][0]["annotations"]):
        found.clear()
    assert inv.reason_for(notification(body)) == (
        "KubePodCrashLooping: Alertmanager alert group "
        "{alertname=KubePodCrashLooping, namespace=shop} is firing")


def test_reason_is_redacted_one_line_and_bounded() -> None:
    body = raw("firing")
    body["commonAnnotations"]["summary"] = "login   failed\nwith password=hunter2 " + "y" * 3000
    reason = inv.reason_for(notification(body))
    assert "hunter2" not in reason and "\n" not in reason and "   " not in reason
    assert len(reason) == inv.REASON_MAX
    body["commonAnnotations"]["summary"] = "   "
    body["alerts"][0]["annotations"] = {}
    body["commonAnnotations"].pop("description")
    body["commonLabels"].pop("alertname")
    body["groupLabels"] = {}
    body["alerts"][0]["labels"].pop("alertname")
    assert inv.reason_for(notification(body)) == "Alertmanager alert group {} is firing"


def test_merge_updates_known_alerts_in_place_and_appends_new_ones() -> None:
    first = inv.merge_context({"ticket": "OPS-1"}, notification(raw("firing")), LIMITS)
    merged = inv.merge_context(first, notification(raw("repeat")), LIMITS)
    resolved = inv.merge_context(merged, notification(raw("resolved")), LIMITS)

    assert resolved["ticket"] == "OPS-1"  # what someone else put in the context stays
    assert [a["fingerprint"] for a in resolved["alerts"]] == [
        "5c8e2a7f19b3d640", "a1f04d6e88c27b19"]
    assert [a["status"] for a in resolved["alerts"]] == ["resolved", "resolved"]
    assert resolved["status"] == "resolved"
    assert inv.merge_context(resolved, notification(raw("resolved")), LIMITS) == resolved


def test_alert_without_fingerprint_is_identified_by_its_labels() -> None:
    body = raw("firing")
    body["alerts"][0].pop("fingerprint")
    once = inv.merge_context({}, notification(body), LIMITS)
    twice = inv.merge_context(once, notification(body), LIMITS)
    assert len(twice["alerts"]) == 1
    assert re.fullmatch(r"[0-9a-f]{16}", twice["alerts"][0]["fingerprint"])


def test_context_is_bounded_in_alerts_text_and_bytes() -> None:
    body = raw("firing")
    template = body["alerts"][0]
    body["alerts"] = []
    for i in range(30):
        alert = copy.deepcopy(template)
        alert["fingerprint"] = f"{i:016x}"
        alert["annotations"] = {f"note{j}": "z" * 5000 for j in range(100)}
        body["alerts"].append(alert)
    limits = inv.ContextLimits(max_alerts=20, max_context_bytes=200_000)

    context = inv.merge_context({}, notification(body), limits)

    assert len(json.dumps(context)) < 200_000 + 10_000
    kept = context["alerts"]
    assert 0 < len(kept) < 20
    assert all(len(a["annotations"]) == limits.max_map_entries for a in kept)
    assert all(len(v) == limits.max_text for a in kept for v in a["annotations"].values())
    assert context["alertsOmitted"] == 30 - len(kept)


def test_omitted_count_is_clamped() -> None:
    body = raw("firing")
    body["truncatedAlerts"] = 2**64 - 1
    assert inv.merge_context({}, notification(body), LIMITS)["alertsOmitted"] == 1_000_000_000


def test_merge_patch_nulls_what_is_gone() -> None:
    old = {"a": 1, "b": {"c": 1, "d": 2}, "e": [1], "f": {"g": 1}}
    new = {"a": 1, "b": {"c": 1}, "e": [1, 2], "f": "flat", "h": {"i": 1}}
    assert inv.merge_patch(old, new) == {"b": {"d": None}, "e": [1, 2], "f": "flat",
                                         "h": {"i": 1}}
    assert inv.merge_patch(new, new) == {}


def test_new_investigation_fits_the_crd() -> None:
    body = inv.new_investigation(notification(raw("firing")), "abc", 2, "shop", LIMITS)
    assert body["metadata"]["name"] == "alert-abc-2"
    assert body["metadata"]["labels"]["kubelens.io/alert-group"] == "abc"
    assert 1 <= len(body["spec"]["reason"]) <= 2000
    assert set(body["spec"]) == {"reason", "context"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_burst_then_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.reserve(0) for _ in range(3)] == [0.0, 0.0, 0.0]
    with pytest.raises(RateLimitedError) as caught:
        bucket.reserve(0.1)
    assert caught.value.retry_after == pytest.approx(0.5)
    assert bucket.reserve(0.5) == pytest.approx(0.5)  # reserved: the next one waits longer
    assert bucket.wait_for_token() == pytest.approx(1.0)
    clock.now += 10
    assert bucket.wait_for_token() == 0.0
    assert [bucket.reserve(0) for _ in range(3)] == [0.0, 0.0, 0.0]  # refilled to the burst
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as the API server applies application/merge-patch+json."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


class MemoryStore:
    """An in-memory InvestigationStore with the API server's optimistic concurrency."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 0

    def _stamp(self, key: tuple[str, str], obj: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[key] = obj
        return copy.deepcopy(obj)

    def _current(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        if (namespace, name) not in self.objects:
            raise KubeError("not found", 404)
        current = self.objects[(namespace, name)]
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise KubeError("the object has been modified", 409)
        return current

    async def find_group(self, group: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for o in self.objects.values()
                if o["metadata"]["labels"]["kubelens.io/alert-group"] == group]

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        return copy.deepcopy(self._current(namespace, name, {}))

    async def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        key = (namespace, body["metadata"]["name"])
        if key in self.objects:
            raise KubeError("exists", 409)
        return self._stamp(key, copy.deepcopy(body))

    async def patch(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        current = self._current(namespace, name, body)
        patched = apply_merge_patch(current, {k: v for k, v in body.items() if k != "status"})
        return self._stamp((namespace, name), patched)



async def test_idle_groups_are_forgotten_beyond_the_bound() -> None:
    store = MemoryStore()
    groups = AlertGroups(store, "default", WebhookLimits(max_groups=3))
    for i in range(6):
        body = raw("firing")
        body["groupKey"] = f"group-{i}"
        outcome = await groups.receive(notification(body))
        assert outcome.action == "created"
    assert len(groups._lines) <= 3
    assert len(store.objects) == 6


def firing_group(parsed: AlertmanagerNotification) -> str:
    return inv.group_hash(parsed.group_key)


async def test_notifications_arriving_during_a_write_keep_their_order() -> None:
    """firing, resolved, firing: the second firing comes after the group resolved, so it
    must open the next Investigation, not ride along in the first firing's write."""
    store = MemoryStore()
    groups = AlertGroups(store, "default",
                         WebhookLimits(writes_per_second=20, write_burst=1, max_write_wait=5))
    firing, repeat, resolved = (notification(raw(n)) for n in ("firing", "repeat", "resolved"))
    first = await groups.receive(firing)  # the one token of the burst

    # repeat and resolved form one batch; repeat's write waits ~50 ms for a token, and
    # meanwhile firing arrives.
    pending = [asyncio.create_task(groups.receive(n)) for n in (repeat, resolved)]
    await asyncio.sleep(0.02)
    assert groups._lines[firing_group(firing)].waiting == []  # both taken as one batch
    pending.append(asyncio.create_task(groups.receive(firing)))
    answers = [await task for task in pending]

    name = first.investigation
    assert [a.action for a in answers] == ["updated", "resolved", "created"]
    assert answers[2].investigation == f"{name}-2"
    assert CANCEL_IF_PENDING in store.objects[("shop", str(name))]["metadata"]["annotations"]
    assert "status" not in store.objects[("shop", f"{name}-2")]


async def test_a_failed_write_fails_every_notification_of_its_batch() -> None:
    class Broken(MemoryStore):
        async def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(0.01)
            raise KubeError("Kubernetes API 500: boom", 500)

    groups = AlertGroups(Broken(), "default")
    results = await asyncio.gather(
        *(groups.receive(notification(raw("firing"))) for _ in range(5)),
        return_exceptions=True)
    assert all(isinstance(r, KubeError) and r.status == 500 for r in results)
