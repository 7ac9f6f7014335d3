"""How long a full node snapshot takes: os + processes + containers, snapshot() + metrics().

Run ``python bench/node_snapshot.py [iterations]``. Prints ``figure value unit`` lines:
the median and p95 of all three skills together on this machine (target: median
<= 20 ms), each skill alone, the redacted JSON size, and the containers skill on a
synthetic cgroup v2 tree of a busy node (100 pods, 200 containers) to show how the walk
scales.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kubelens.skills.base import HostPaths, Skill
from kubelens.skills.containers import ContainersSkill
from kubelens.skills.node_os import OsSkill
from kubelens.skills.processes import ProcessesSkill


def timed(run: Callable[[], object], iterations: int) -> list[float]:
    run()  # the first call fills caches (limits, passwd, pod names); steady state matters
    out = []
    for _ in range(iterations):
        started = time.perf_counter()
        run()
        out.append((time.perf_counter() - started) * 1000)
    return out


def full(skills: list[Skill]) -> Callable[[], object]:
    def run() -> object:
        return [skill.metrics(skill.snapshot()) for skill in skills]

    return run


def busy_node_cgroups(root: Path, pods: int = 100, containers: int = 2) -> HostPaths:
    """A cgroup v2 tree shaped like a kubelet's (systemd driver) with limits everywhere."""

    def cgroup(relative: str, **files: str) -> None:
        directory = root / relative
        directory.mkdir(parents=True, exist_ok=True)
        for name, value in files.items():
            (directory / name).write_text(value + "\n")

    common = {
        "memory.current": str(200 << 20),
        "memory.max": str(256 << 20),
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0",
        "cpu.stat": "usage_usec 10\nuser_usec 5\nsystem_usec 5\nnr_periods 100\n"
        "nr_throttled 10\nthrottled_usec 1000",
        "cpu.max": "50000 100000",
        "pids.current": "10",
        "pids.max": "100",
    }
    cgroup("", **{"cgroup.controllers": "cpu memory pids"})
    cgroup("kubepods.slice", **common)
    cgroup("kubepods.slice/kubepods-burstable.slice", **common)
    for i in range(pods):
        uid = f"{i:08x}_0000_4000_8000_000000000000"
        pod = f"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid}.slice"
        cgroup(pod, **common)
        for c in range(containers):
            cgroup(f"{pod}/cri-containerd-{i:060x}{c:04x}.scope", **common)
    for service in ("kubelet", "containerd", "sshd", "systemd-journald"):
        cgroup(f"system.slice/{service}.service", **common)
    return HostPaths(cgroup=root)


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    skills: list[Skill] = [OsSkill(), ProcessesSkill(), ContainersSkill()]
    together = timed(full(skills), iterations)
    print(f"node_snapshot_median {statistics.median(together):.2f} ms")
    print(f"node_snapshot_p95 {statistics.quantiles(together, n=20)[18]:.2f} ms")
    for skill in skills:
        alone = timed(full([skill]), iterations)
        print(f"{skill.name}_snapshot_median {statistics.median(alone):.2f} ms")
    size = sum(len(json.dumps(skill.safe_snapshot().data)) for skill in skills)
    print(f"node_snapshot_json {size} bytes")
    print(f"node_processes {len([p for p in os.listdir('/proc') if p.isdigit()])} count")

    with tempfile.TemporaryDirectory() as tmp:
        busy = ContainersSkill(busy_node_cgroups(Path(tmp)))
        walked = busy.snapshot()["cgroups"]
        synthetic = timed(full([busy]), max(20, iterations // 4))
        print(f"containers_snapshot_{walked}_cgroups_median {statistics.median(synthetic):.2f} ms")


if __name__ == "__main__":
    main()
