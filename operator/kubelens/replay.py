"""``kubelens replay``: a full investigation over a recorded scenario.

The cluster skills read the scenario's objects and logs through a
:class:`~kubelens.skills.cluster.source.StaticSource`; the node skills read the host
samples as their /proc, cgroup and root trees, one sample after the other, with disk
usage from each sample's df.json. The anomaly detector sees every sample in order, then
the same :class:`~kubelens.coordinator.Coordinator` as ``investigate`` runs, with the
rule-based analyst or a model. Nothing here sleeps: the skills and the detector run on
the scenario's own timeline (``sampleInterval`` seconds between samples).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubelens.config import Settings
from kubelens.coordinator import ModelClient
from kubelens.coordinator.core import Listener
from kubelens.detection import AnomalyDetector
from kubelens.local import run_in_process, select_skills
from kubelens.models import RunResult, recorded_clock
from kubelens.ports.notifications import InMemoryNotificationStore
from kubelens.scenario import CGROUP_ROOT, HostSample, Scenario
from kubelens.skills import hostfs, node_skills
from kubelens.skills.base import HostPaths, Skill
from kubelens.skills.cluster import cluster_skills
from kubelens.skills.hostfs import DiskUsage
from kubelens.skills.run import sweep

#: Where the source of node-level findings is named when a scenario has no node.
CLUSTER_SOURCE = "cluster"


class ReplayHost:
    """The host samples seen by node skills as one host whose files change over time.

    The skills keep state between snapshots (counters, cached limits, file paths), so
    they read one stable path, a symlink that :meth:`show` points at each sample in turn,
    and a clock that :meth:`show` moves along the scenario's timeline.
    """

    def __init__(self, samples: Sequence[HostSample], interval: float, workdir: Path) -> None:
        self.samples = list(samples)
        self.interval = interval
        self.link = workdir / "host"
        self.now = 0.0
        self.current: HostSample | None = None

    @property
    def paths(self) -> HostPaths:
        return HostPaths(proc=self.link / "proc", cgroup=self.link / CGROUP_ROOT, rootfs=self.link)

    def clock(self) -> float:
        return self.now

    def show(self, index: int) -> None:
        sample = self.samples[index]
        staged = self.link.with_name(f".{self.link.name}-{index}")
        staged.symlink_to(sample.root.resolve(), target_is_directory=True)
        os.replace(staged, self.link)  # atomic: a reader sees one sample or the next
        self.current = sample
        self.now = index * self.interval

    def disk_usage(self, mountpoint: str) -> DiskUsage | None:
        return self.current.disks.get(mountpoint) if self.current else None

    def skills(self) -> list[Skill]:
        """The node skills, reading the samples on the scenario's clock."""
        skills = node_skills(self.paths, disk_reader=self.disk_usage)
        for skill in skills:
            # Rates compare readings by clock time; replayed samples arrive faster than
            # they were taken, so the skills' samplers run on the recorded timeline.
            for value in vars(skill).values():
                if isinstance(value, hostfs.Sampler):
                    value.clock = self.clock
        return skills


@contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kubelens-replay-") as path:
        yield Path(path)


async def replay(
    scenario: Scenario,
    settings: Settings | None = None,
    *,
    model: ModelClient | None = None,
    listener: Listener | None = None,
) -> RunResult:
    """Investigate ``scenario`` as ``investigate`` would have when it was recorded: on its
    clock, so two replays of one scenario give the same report, ids and times included."""
    with recorded_clock(scenario.recorded_time()):
        return await _replay(scenario, settings, model=model, listener=listener)


async def _replay(
    scenario: Scenario,
    settings: Settings | None = None,
    *,
    model: ModelClient | None = None,
    listener: Listener | None = None,
) -> RunResult:

    settings = settings or Settings()
    spec = scenario.spec
    node = spec.node or CLUSTER_SOURCE
    with _workdir() as workdir:
        host = ReplayHost(scenario.samples, spec.sample_interval, workdir)
        clustered = cluster_skills(scenario.source(), spec.namespace) if scenario.objects else []
        noded = host.skills() if scenario.samples else []
        skills = select_skills([*noded, *clustered], settings.skills)
        chosen = {skill.name for skill in skills}
        store = InMemoryNotificationStore()
        # Without host samples there is no node of our own to stamp on findings.
        detector = AnomalyDetector(node=spec.node, clock=host.clock)
        # As investigate's warm-up: the cluster once, then the host one sample at a time.
        await _observe(detector, store, [s for s in clustered if s.name in chosen])
        for index in range(len(scenario.samples)):
            host.show(index)
            await _observe(detector, store, [s for s in noded if s.name in chosen])
        context: dict[str, Any] = {"reason": spec.reason, "namespace": spec.namespace}
        if spec.node:
            context["node"] = spec.node
        return await run_in_process(
            settings, skills, store, detector, node, context, listener, model
        )


async def _observe(
    detector: AnomalyDetector, store: InMemoryNotificationStore, skills: Sequence[Skill]
) -> None:
    # As investigate: a skill that cannot read reports it when invoked.
    for run in await sweep(skills, detector):
        await store.add(run.raised)
