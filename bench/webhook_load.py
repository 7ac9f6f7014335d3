"""Load on the Alertmanager webhook receiver, against the in-process API emulator.

Run from a checkout (``pip install -e .[test]`` done): ``python bench/webhook_load.py``.
The emulator (tests/support) runs in its own process, the receiver and the load
generator share this one, everything on 127.0.0.1. Bounded in time and count; prints
``figure_name value unit`` lines:

- capacity: closed loop, ``--concurrency`` clients posting as fast as answers come;
- sustained: open loop at ``--rate`` alerts/s for ``--seconds``; p50/p99 latency;
- burst, grouped: 5000 alerts in 50 new groups as Alertmanager sends them (one
  notification of 100 alerts per group), all at once;
- burst, single: the same 5000 alerts as 5000 single-alert notifications for 50 more
  groups, ``--in-flight`` at a time (the adversarial case batching is for);
  for both, the Investigations that exist afterwards (exactly 50 each) and API writes.

Notifications look like Alertmanager's: each carries its group's whole current alert
set (1 to 8 alerts), and now and then a group gains an alert, so some notifications
change their Investigation (a write) and most are repeats (no write).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support (the emulator) lives in the checkout

from _extras import require_test_extra  # noqa: E402

require_test_extra("bench/webhook_load.py")


import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from kubernetes import client as kube_client  # noqa: E402

from kubelens.kube import CustomObjects  # noqa: E402
from kubelens.webhook.server import Credentials, build_app  # noqa: E402
from kubelens.webhook.service import AlertGroups, KubeInvestigations, WebhookLimits  # noqa: E402

TOKEN = "bench-token"
NAMESPACES = [f"team-{i}" for i in range(10)]


def _run_emulator(conn: Connection) -> None:
    from tests.support.emulator import Emulator
    from tests.support.fixtures import install_repo_crds

    with Emulator() as emulator:
        install_repo_crds(emulator)
        for name in NAMESPACES:
            emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        conn.send(emulator.url)
        conn.recv()  # until the bench says stop
        conn.send(len(emulator.list("investigations")))


@dataclass
class Group:
    key: str
    namespace: str
    alertname: str
    fingerprints: list[str] = field(default_factory=list)

    def add_alert(self) -> None:
        self.fingerprints.append(f"{random.getrandbits(64):016x}")

    def notification(self, only_last: bool = False) -> bytes:
        prints = self.fingerprints[-1:] if only_last else self.fingerprints
        alerts = [
            {
                "status": "firing",
                "labels": {
                    "alertname": self.alertname,
                    "namespace": self.namespace,
                    "pod": f"pod-{fp[:6]}",
                    "severity": "warning",
                },
                "annotations": {
                    "summary": f"{self.alertname} on pod-{fp[:6]}",
                    "description": "Container restarted 3 times in the last 10 minutes.",
                },
                "startsAt": "2025-01-14T09:12:41.501Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
                "fingerprint": fp,
            }
            for fp in prints
        ]
        labels = {"alertname": self.alertname, "namespace": self.namespace}
        body = {
            "receiver": "kubelens",
            "status": "firing",
            "alerts": alerts,
            "groupLabels": labels,
            "commonLabels": {**labels, "severity": "warning"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "version": "4",
            "groupKey": self.key,
            "truncatedAlerts": 0,
        }
        return json.dumps(body).encode()


def make_groups(prefix: str, count: int) -> list[Group]:
    groups = []
    for i in range(count):
        name = f"{prefix}Alert{i}"
        namespace = NAMESPACES[i % len(NAMESPACES)]
        key = f'{{}}:{{alertname="{name}", namespace="{namespace}"}}'
        groups.append(Group(key, namespace, name))
    return groups


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    alerts: int = 0
    codes: dict[int, int] = field(default_factory=dict)

    def record(self, status: int, seconds: float, alerts: int) -> None:
        self.latencies.append(seconds)
        self.codes[status] = self.codes.get(status, 0) + 1
        if status == 202:
            self.alerts += alerts

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def post(session: aiohttp.ClientSession, url: str, body: bytes, tally: Tally,
               alerts: int) -> int:
    started = time.perf_counter()
    async with session.post(url, data=body) as response:
        await response.read()
    tally.record(response.status, time.perf_counter() - started, alerts)
    return response.status


def next_body(groups: list[Group], grow: float) -> tuple[bytes, int]:
    group = random.choice(groups)
    if not group.fingerprints or (len(group.fingerprints) < 8 and random.random() < grow):
        group.add_alert()
    return group.notification(), len(group.fingerprints)


async def capacity(session: aiohttp.ClientSession, url: str, groups: list[Group],
                   concurrency: int, seconds: float, grow: float) -> tuple[Tally, float]:
    tally = Tally()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            body, alerts = next_body(groups, grow)
            await post(session, url, body, tally, alerts)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return tally, time.perf_counter() - started


async def sustained(session: aiohttp.ClientSession, url: str, groups: list[Group],
                    alert_rate: float, seconds: float, grow: float) -> tuple[Tally, float]:
    """Open loop: a notification every 1/rate seconds whatever the answers do."""
    tally = Tally()
    tasks: list[asyncio.Task[int]] = []
    started = time.perf_counter()
    sent_alerts = 0
    while (now := time.perf_counter()) - started < seconds:
        due = started + sent_alerts / alert_rate
        if due > now:
            await asyncio.sleep(due - now)
        body, alerts = next_body(groups, grow)
        sent_alerts += alerts
        tasks.append(asyncio.create_task(post(session, url, body, tally, alerts)))
    await asyncio.gather(*tasks)
    return tally, time.perf_counter() - started


async def burst(session: aiohttp.ClientSession, url: str, groups: list[Group],
                alerts_per_group: int, in_flight: int) -> tuple[Tally, float, int]:
    """Every alert its own notification, all at once; 503s are retried like Alertmanager."""
    tally = Tally()
    gate = asyncio.Semaphore(in_flight)
    retries = 0
    bodies = []
    for group in groups:
        for _ in range(alerts_per_group):
            group.add_alert()
            bodies.append(group.notification(only_last=True))
    random.shuffle(bodies)

    async def send(body: bytes) -> None:
        nonlocal retries
        async with gate:
            for _attempt in range(20):
                if await post(session, url, body, tally, 1) != 503:
                    return
                retries += 1
                await asyncio.sleep(0.2)

    started = time.perf_counter()
    await asyncio.gather(*(send(body) for body in bodies))
    return tally, time.perf_counter() - started, retries


async def count_investigations(api: Any, prefix: str) -> int:
    """Investigations whose alert groups are the bench's ``prefix`` groups."""
    found = await CustomObjects(api).list("investigations",
                                          label_selector="kubelens.io/alert-group")
    return sum(1 for obj in found if obj["spec"]["reason"].startswith(prefix))


async def main(args: argparse.Namespace) -> None:
    random.seed(7)
    parent, child = multiprocessing.Pipe()
    emulator = multiprocessing.get_context("spawn").Process(target=_run_emulator, args=(child,))
    emulator.start()
    try:
        if not parent.poll(30):
            raise SystemExit("the API emulator did not start")
        api_url = parent.recv()
        configuration = kube_client.Configuration()
        configuration.host = api_url
        configuration.api_key = {"authorization": "emulator-admin-token"}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        configuration.connection_pool_maxsize = 64
        api: Any = kube_client.ApiClient(configuration)
        groups_service = AlertGroups(KubeInvestigations(CustomObjects(api)), "default",
                                     WebhookLimits())
        runner = web.AppRunner(build_app(Credentials(TOKEN.encode()), groups_service),
                               access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/alertmanager"
        connector = aiohttp.TCPConnector(limit=max(args.in_flight, args.concurrency))
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            steady = make_groups("Steady", args.groups)
            # Warm-up: every steady group gets its Investigation before measuring.
            warm_up = Tally()
            for group in steady:
                body, alerts = next_body([group], 1.0)
                await post(session, url, body, warm_up, alerts)

            writes = groups_service.writes
            tally, took = await capacity(session, url, steady, args.concurrency,
                                         args.seconds, args.grow)
            print(f"webhook_capacity_alerts_per_second {tally.alerts / took:.0f} alerts/s")
            print(f"webhook_capacity_requests_per_second {len(tally.latencies) / took:.0f} "
                  "requests/s")
            print(f"webhook_capacity_p99_latency {tally.percentile(0.99):.1f} ms")
            print(f"webhook_capacity_api_writes_per_second "
                  f"{(groups_service.writes - writes) / took:.1f} writes/s")
            print(f"webhook_capacity_non_202 {len(tally.latencies) - tally.codes.get(202, 0)} "
                  "requests")

            writes = groups_service.writes
            tally, took = await sustained(session, url, steady, args.rate, args.seconds,
                                          args.grow)
            print(f"webhook_sustained_alerts_per_second {tally.alerts / took:.0f} alerts/s")
            print(f"webhook_sustained_p50_latency {tally.percentile(0.50):.1f} ms")
            print(f"webhook_sustained_p99_latency {tally.percentile(0.99):.1f} ms")
            print(f"webhook_sustained_api_writes_per_second "
                  f"{(groups_service.writes - writes) / took:.1f} writes/s")
            print(f"webhook_sustained_non_202 {len(tally.latencies) - tally.codes.get(202, 0)} "
                  "requests")

            # Let the write bucket refill between phases.
            await asyncio.sleep(WebhookLimits().write_burst / WebhookLimits().writes_per_second)
            writes = groups_service.writes
            grouped = make_groups("Grouped", 50)
            tally = Tally()
            started = time.perf_counter()
            for group in grouped:
                for _ in range(100):
                    group.add_alert()
            await asyncio.gather(*(post(session, url, g.notification(), tally, 100)
                                   for g in grouped))
            took = time.perf_counter() - started
            print(f"webhook_burst_grouped_alerts {tally.alerts} alerts")
            print(f"webhook_burst_grouped_seconds {took:.2f} s")
            print(f"webhook_burst_grouped_investigations "
                  f"{await count_investigations(api, 'Grouped')} investigations")
            print(f"webhook_burst_grouped_api_writes {groups_service.writes - writes} writes")

            await asyncio.sleep(WebhookLimits().write_burst / WebhookLimits().writes_per_second)
            writes = groups_service.writes
            single = make_groups("Single", 50)
            tally, took, retries = await burst(session, url, single, 100, args.in_flight)
            print(f"webhook_burst_single_alerts {tally.codes.get(202, 0)} alerts")
            print(f"webhook_burst_single_seconds {took:.2f} s")
            print(f"webhook_burst_single_investigations "
                  f"{await count_investigations(api, 'Single')} investigations")
            print(f"webhook_burst_single_api_writes {groups_service.writes - writes} writes")
            print(f"webhook_burst_single_retried_503 {retries} requests")
            print(f"webhook_burst_single_p99_latency {tally.percentile(0.99):.1f} ms")
        await runner.cleanup()
        api.close()
        parent.send("stop")
        total = parent.recv() if parent.poll(10) else -1
        print(f"webhook_total_investigations {total} investigations")
    finally:
        emulator.join(10)
        if emulator.is_alive():
            emulator.terminate()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each timed phase")
    parser.add_argument("--rate", type=float, default=500.0, help="sustained alerts per second")
    parser.add_argument("--groups", type=int, default=200, help="alert groups under load")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop clients")
    parser.add_argument("--grow", type=float, default=0.02,
                        help="chance a notification brings a new alert to its group")
    parser.add_argument("--in-flight", type=int, default=1000, help="burst requests at once")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
