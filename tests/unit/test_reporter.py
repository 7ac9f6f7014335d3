"""An Investigation's status reaches the server in order, and progress never slows a run."""

from __future__ import annotations

import asyncio

from kubelens.kube import KubeError
from kubelens.operator import status as st
from kubelens.operator.reporter import Reporter
from kubelens.operator.status import StatusUpdate


class Server:
    """Records every status patch and Event, each taking ``latency`` seconds."""

    def __init__(self, latency: float = 0.0, fail_progress: bool = False) -> None:
        self.latency = latency
        self.fail_progress = fail_progress
        self.patches: list[StatusUpdate] = []
        self.events: list[str] = []

    async def write(self, update: StatusUpdate) -> None:
        await asyncio.sleep(self.latency)
        if self.fail_progress and update.phase is None:
            raise KubeError("Kubernetes API 500: etcd leader changed", 500)
        self.patches.append(update)

    async def post(self, reason: str, message: str, warning: bool) -> None:
        await asyncio.sleep(self.latency)
        self.events.append(reason)


def test_progress_is_coalesced_and_never_written_over_a_later_write() -> None:
    async def scenario() -> Server:
        server = Server()
        reporter = Reporter(server.write, server.post, interval=0.2)
        await reporter.write(st.pending(3, "rule-based"))
        reporter.progress(st.queued_behind(2))
        reporter.progress(st.queued_behind(1))
        await reporter.write(st.running("rule-based"))  # before the interval passed
        await asyncio.sleep(0.3)
        await reporter.close()
        return server

    server = asyncio.run(scenario())
    assert [p.phase for p in server.patches] == [st.Phase.PENDING, st.Phase.RUNNING]
    # The running write carried no stale queue position: its own 0 won.
    assert server.patches[-1].queue_position == 0


def test_progress_is_written_once_per_interval_with_the_latest_value() -> None:
    async def scenario() -> Server:
        server = Server()
        reporter = Reporter(server.write, server.post, interval=0.1)
        await reporter.write(st.running("rule-based"))
        for iteration in range(1, 6):
            reporter.progress(StatusUpdate(iteration=iteration))
            await asyncio.sleep(0.03)
        await asyncio.sleep(0.15)
        await reporter.close()
        return server

    server = asyncio.run(scenario())
    iterations = [p.iteration for p in server.patches[1:]]
    assert iterations[-1] == 5
    assert len(iterations) < 5  # not one patch per iteration


def test_a_run_does_not_wait_for_progress_or_events() -> None:
    async def scenario() -> tuple[float, Server]:
        server = Server(latency=0.2)
        reporter = Reporter(server.write, server.post, interval=0.0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for iteration in range(5):
            reporter.progress(StatusUpdate(iteration=iteration))
            reporter.event("Insight", f"insight {iteration}")
        elapsed = loop.time() - started
        await reporter.close()
        return elapsed, server

    elapsed, server = asyncio.run(scenario())
    assert elapsed < 0.05
    assert server.events == ["Insight"] * 5  # close() waited for every one


def test_events_are_posted_in_order() -> None:
    async def scenario() -> Server:
        server = Server(latency=0.01)
        reporter = Reporter(server.write, server.post)
        for reason in ("Queued", "Started", "Insight", "Succeeded"):
            reporter.event(reason, "")
        await reporter.close()
        return server

    assert asyncio.run(scenario()).events == ["Queued", "Started", "Insight", "Succeeded"]


def test_a_failed_progress_write_does_not_fail_the_run() -> None:
    async def scenario() -> Server:
        server = Server(fail_progress=True)
        reporter = Reporter(server.write, server.post, interval=0.0)
        reporter.progress(StatusUpdate(iteration=1))
        await asyncio.sleep(0.05)
        await reporter.write(st.running("rule-based"))
        await reporter.close()
        return server

    server = asyncio.run(scenario())
    assert [p.phase for p in server.patches] == [st.Phase.RUNNING]


def test_a_queue_position_waits_its_own_longer_interval_and_still_arrives() -> None:
    async def scenario() -> tuple[list[int | None], list[int | None]]:
        server = Server()
        reporter = Reporter(server.write, server.post, interval=0.05)
        await reporter.write(st.pending(5, "rule-based"))
        for position in (4, 3, 2):  # the line moves three times in 0.15 s
            reporter.progress(st.queued_behind(position), interval=0.4)
            await asyncio.sleep(0.05)
        early = [p.queue_position for p in server.patches[1:]]
        await asyncio.sleep(0.4)
        await reporter.close()
        return early, [p.queue_position for p in server.patches[1:]]

    early, late = asyncio.run(scenario())
    assert early == []  # nothing written inside the queue-position interval
    assert late == [2]  # then one patch, with the latest place in line
