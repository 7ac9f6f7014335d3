"""Node skills (os, processes, containers) on fake /proc and cgroup trees, and on this host."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from kubelens import anomalies
from kubelens.detection import AnomalyDetector
from kubelens.models import Severity, ToolStatus
from kubelens.skills import hostfs
from kubelens.skills.base import HostPaths, Skill
from kubelens.skills.containers import ContainersSkill, identify
from kubelens.skills.node_os import OsSkill
from kubelens.skills.processes import ProcessesSkill

POD_UID = "3f1c2a9e-7b4d-4e21-9c55-0a1b2c3d4e5f"
OTHER_UID = "8d2e4f60-1a2b-4c3d-8e9f-0123456789ab"
CID_APP = "a" * 63 + "1"
CID_SIDECAR = "b" * 63 + "2"
MIB = 1024 * 1024


class Clock:
    """A monotonic clock the test moves by hand, for rates between snapshots."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


class FakeHost:
    """A host's /proc, cgroup tree and root filesystem, written into a temporary dir."""

    def __init__(self, root: Path) -> None:
        self.proc = root / "proc"
        self.cgroup = root / "cgroup"
        self.rootfs = root / "rootfs"
        for path in (self.proc, self.cgroup, self.rootfs):
            path.mkdir(parents=True, exist_ok=True)

    @property
    def paths(self) -> HostPaths:
        return HostPaths(proc=self.proc, cgroup=self.cgroup, rootfs=self.rootfs)

    def write(self, path: Path, text: str | bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)

    def proc_file(self, name: str, text: str) -> None:
        self.write(self.proc / name, text)

    def cg(self, relative: str, **files: Any) -> Path:
        """A cgroup directory with control files (``memory_oom_control=`` → memory.oom_control)."""
        directory = self.cgroup / relative
        directory.mkdir(parents=True, exist_ok=True)
        for name, value in files.items():
            self.write(directory / name.replace("_", ".", 1), f"{value}\n")
        return directory

    def process(
        self,
        pid: int,
        name: str,
        *,
        state: str = "S",
        ppid: int = 1,
        utime: int = 0,
        stime: int = 0,
        threads: int = 1,
        start: int = 100,
        rss_pages: int = 1000,
        uid: int = 0,
        cmdline: Iterable[str] = (),
        fds: int = 0,
        fd_limit: int = 1024,
        cgroup: str = "0::/",
        environ: dict[str, str] | None = None,
        kernel: bool = False,
    ) -> None:
        base = self.proc / str(pid)
        flags = 0x00200000 if kernel else 0x00400000
        # Fields 3-24 of proc(5) as a 5.x kernel writes them, then 30 more it appends.
        fields = (
            f"{state} {ppid} {pid} {pid} 0 -1 {flags} 0 0 0 0 {utime} {stime} 0 0 20 0 "
            f"{threads} 0 {start} 1000000 {rss_pages}" + " 0" * 30
        )
        self.write(base / "stat", f"{pid} ({name}) {fields}\n")
        self.write(
            base / "status",
            f"Name:\t{name}\nState:\t{state}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
            f"VmHWM:\t{rss_pages * 4} kB\nVmSwap:\t0 kB\nThreads:\t{threads}\n"
            "voluntary_ctxt_switches:\t10\nnonvoluntary_ctxt_switches:\t2\n",
        )
        self.write(base / "cmdline", b"\0".join(a.encode() for a in cmdline) + b"\0")
        self.write(base / "cgroup", cgroup + "\n")
        self.write(
            base / "limits",
            "Limit                     Soft Limit           Hard Limit           Units\n"
            f"Max open files            {fd_limit}                 {fd_limit}"
            "                 files\n",
        )
        self.write(base / "oom_score", "42\n")
        self.write(base / "oom_score_adj", "0\n")
        fd_dir = base / "fd"
        fd_dir.mkdir(exist_ok=True)
        for fd in range(fds):
            target = ["/dev/null", "socket:[1234]", "pipe:[99]", f"/var/log/app-{fd}.log"][fd % 4]
            os.symlink(target, fd_dir / str(fd))
        if environ is not None:
            self.write(
                base / "environ", b"\0".join(f"{k}={v}".encode() for k, v in environ.items())
            )


def os_host(root: Path, *, psi: bool = True) -> FakeHost:
    host = FakeHost(root)
    host.proc_file(
        "stat",
        "cpu  1000 0 500 8000 300 0 0 200 0 0\n"
        "cpu0 500 0 250 4000 150 0 0 100 0 0\n"
        "cpu1 500 0 250 4000 150 0 0 100 0 0\n"
        "intr 0\nctxt 12345\nbtime 1700000000\nprocesses 5000\n"
        "procs_running 3\nprocs_blocked 1\n",
    )
    host.proc_file("loadavg", "5.00 3.00 1.00 3/250 4242\n")
    host.proc_file("uptime", "1000.00 1800.00\n")
    host.proc_file(
        "meminfo",
        "MemTotal:        1000000 kB\nMemFree:           20000 kB\n"
        "MemAvailable:      50000 kB\nBuffers:            1000 kB\nCached:            30000 kB\n"
        "SwapTotal:        200000 kB\nSwapFree:          50000 kB\n",
    )
    host.proc_file("vmstat", "pgmajfault 77\npswpin 5\npswpout 9\noom_kill 2\n")
    if psi:
        host.proc_file(
            "pressure/memory",
            "some avg10=35.50 avg60=20.00 avg300=5.00 total=123456\n"
            "full avg10=12.00 avg60=8.00 avg300=2.00 total=65432\n",
        )
        host.proc_file(
            "pressure/cpu",
            "some avg10=1.00 avg60=2.00 avg300=3.00 total=1\n"
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        )
        host.proc_file(
            "pressure/io",
            "some avg10=0.50 avg60=0.25 avg300=0.10 total=2\n"
            "full avg10=0.10 avg60=0.05 avg300=0.01 total=1\n",
        )
    host.proc_file(
        "mounts",
        "/dev/sda1 / ext4 rw,relatime 0 0\n"
        "proc /proc proc rw 0 0\n"
        "tmpfs /dev/shm tmpfs rw 0 0\n"
        "/dev/sdb1 /var/lib/my\\040data xfs rw 0 0\n"
        "/dev/sda1 /var/lib/kubelet ext4 rw 0 0\n"
        "/dev/loop0 /snap/core/1 squashfs ro 0 0\n"
        "/dev/dm-0 /usr ext4 ro 0 0\n"
        "nfs.example:/export /mnt/nfs nfs4 rw 0 0\n",
    )
    host.proc_file(
        "net/dev",
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets"
        " errs drop fifo colls carrier compressed\n"
        "    lo: 100 10 0 0 0 0 0 0 100 10 0 0 0 0 0 0\n"
        "  eth0: 5000 50 7 3 0 0 0 0 4000 40 1 2 0 0 0 0\n"
        "  veth1: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n",
    )
    for mount in ("", "var/lib/my data", "var/lib/kubelet", "dev/shm"):
        (host.rootfs / mount).mkdir(parents=True, exist_ok=True)
    return host


class FakeStatvfs:
    def __init__(self, blocks: int, free: int, avail: int, files: int, ffree: int) -> None:
        self.f_frsize = 4096
        self.f_blocks, self.f_bfree, self.f_bavail = blocks, free, avail
        self.f_files, self.f_ffree = files, ffree


def fake_statvfs(rootfs: Path, usage: dict[str, FakeStatvfs]) -> Callable[[Any], FakeStatvfs]:
    def statvfs(path: Any) -> FakeStatvfs:
        relative = "/" + str(Path(path).relative_to(rootfs)).strip(".")
        return usage.get(relative.rstrip("/") or "/", FakeStatvfs(1000, 900, 900, 100, 90))

    return statvfs


def by_type(notifications: Iterable[Any], anomaly_type: str) -> list[Any]:
    return [n for n in notifications if n.anomaly_type == anomaly_type]


# ------------------------------------------------------------------------------- os


@pytest.fixture
def os_skill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[OsSkill, FakeHost, Clock]:
    host = os_host(tmp_path)
    usage = {
        "/": FakeStatvfs(1000, 40, 20, 1000, 30),  # 96% full, 97% inodes
        "/var/lib/my data": FakeStatvfs(1000, 500, 500, 1000, 900),
    }
    monkeypatch.setattr(os, "statvfs", fake_statvfs(host.rootfs, usage))
    clock = Clock()
    skill = OsSkill(host.paths)
    skill._cpu.clock = clock
    return skill, host, clock


def test_os_snapshot_reads_cpu_memory_pressure_disks_and_network(
    os_skill: tuple[OsSkill, FakeHost, Clock],
) -> None:
    skill, _, _ = os_skill
    snap = skill.snapshot()
    json.dumps(snap)
    cpu = snap["cpu"]
    assert cpu["cores"] == 2 and cpu["load1"] == 5.0 and cpu["load_per_core"] == 2.5
    assert cpu["basis"] == "since_boot"
    # since boot: 10000 jiffies, 1500 busy (user+system+steal), 300 iowait, 200 steal
    assert cpu["utilisation_percent"] == 17.0
    assert cpu["iowait_percent"] == 3.0 and cpu["steal_percent"] == 2.0
    assert cpu["procs_blocked"] == 1
    memory = snap["memory"]
    assert memory["used_percent"] == 95.0
    assert memory["swap_used_percent"] == 75.0
    assert memory["oom_kills"] == 2 and memory["total_bytes"] == 1_024_000_000
    assert snap["pressure"]["memory"]["some_avg10"] == 35.5
    assert snap["pressure"]["io"]["full_avg60"] == 0.05
    disks = snap["disks"]
    # ext4 on sda1 once (the kubelet bind mount is the same device), xfs with an escaped
    # space; no proc, tmpfs, squashfs, read-only /usr or NFS.
    assert [m["mount"] for m in disks["top"]] == ["/", "/var/lib/my data"]
    assert disks["top"][0]["used_percent"] == 98.0  # (1000-40) / (960 + 20), as df
    assert disks["top"][0]["inodes_used_percent"] == 97.0
    network = snap["network"]
    assert network["interfaces"] == 2  # loopback left out
    assert network["rx_errors"] == 7 and network["tx_dropped"] == 2
    assert network["top"][0]["interface"] == "eth0"


def test_os_cpu_rates_come_from_two_readings(os_skill: tuple[OsSkill, FakeHost, Clock]) -> None:
    skill, host, clock = os_skill
    skill.snapshot()
    clock.tick(10)
    # +1000 jiffies: 300 user, 100 system, 300 idle, 200 iowait, 100 steal
    host.proc_file("stat", "cpu  1300 0 600 8300 500 0 0 300 0 0\ncpu0 1\ncpu1 1\n")
    snap = skill.snapshot()
    cpu = snap["cpu"]
    assert cpu["basis"] == "interval" and cpu["interval_s"] == 10.0
    assert cpu["utilisation_percent"] == 50.0
    assert cpu["iowait_percent"] == 20.0 and cpu["steal_percent"] == 10.0
    keys = {m.key for m in skill.metrics(snap)}
    assert {"cpu.iowait_percent", "cpu.steal_percent", "cpu.utilisation_percent"} <= keys


def test_os_metrics_are_gauges_and_counters_and_thresholds_fire(
    os_skill: tuple[OsSkill, FakeHost, Clock],
) -> None:
    skill, _, _ = os_skill
    snap = skill.snapshot()
    metrics = {(m.key, m.subject.name if m.subject else None): m for m in skill.metrics(snap)}
    assert metrics[("memory.used_percent", None)].counter is False
    assert metrics[("memory.oom_kills", None)].counter is True
    assert metrics[("network.errors", None)].counter is True
    assert metrics[("network.errors", None)].value == 8
    disk = metrics[("disk.used_percent", "/")]
    assert disk.subject is not None and disk.subject.kind == "Mount"
    # Since-boot CPU rates are not current, so they are not judged.
    assert ("cpu.iowait_percent", None) not in metrics

    raised = AnomalyDetector(node="node-a").observe(skill, snap)
    memory = by_type(raised, anomalies.MEMORY_PRESSURE)
    assert memory and memory[0].severity is Severity.WARNING
    assert "95" in memory[0].observation and "node-a" in memory[0].observation
    full = by_type(raised, anomalies.DISK_FULL)
    assert len(full) == 1 and full[0].severity is Severity.CRITICAL
    assert full[0].observation == "Filesystem / is 98% full"
    assert by_type(raised, anomalies.INODE_EXHAUSTION)[0].severity is Severity.CRITICAL
    assert by_type(raised, anomalies.SWAP_PRESSURE)[0].severity is Severity.WARNING
    assert by_type(raised, anomalies.CPU_SATURATION)[0].severity is Severity.WARNING
    # Counters need a previous sample before they can fire.
    assert not by_type(raised, anomalies.NETWORK_ERRORS)


def test_os_counters_fire_on_their_increase(os_skill: tuple[OsSkill, FakeHost, Clock]) -> None:
    skill, host, clock = os_skill
    detector = AnomalyDetector(node="node-a")
    detector.observe(skill, skill.snapshot())
    clock.tick(15)
    host.proc_file(
        "net/dev",
        "h1\nh2\n  eth0: 5000 50 27 3 0 0 0 0 4000 40 1 2 0 0 0 0\n",
    )
    raised = detector.observe(skill, skill.snapshot())
    errors = by_type(raised, anomalies.NETWORK_ERRORS)
    assert len(errors) == 1 and errors[0].severity is Severity.WARNING
    assert errors[0].observation.startswith(
        "Network interfaces on node node-a reported 20 receive/transmit errors"
    )


def test_every_threshold_template_formats_with_value_subject_and_unit() -> None:
    for skill_class in (OsSkill, ProcessesSkill, ContainersSkill):
        for threshold in skill_class.thresholds:
            text = threshold.observation.format(value="42", subject="thing", unit="%")
            assert "42" in text and "{" not in text
            threshold.hypothesis.format(value="42", subject="thing")
            assert threshold.warning is not None


def test_os_without_psi_or_files_is_not_available_not_an_error(tmp_path: Path) -> None:
    host = os_host(tmp_path, psi=False)
    skill = OsSkill(host.paths)
    snap = skill.snapshot()
    assert snap["pressure"]["available"] is False and "PSI" in snap["pressure"]["note"]
    result = skill.call("pressure", {})
    assert result.status is ToolStatus.NO_DATA and "PSI" in (result.error or "")

    empty = OsSkill(HostPaths(proc=tmp_path / "nothing", cgroup=tmp_path, rootfs=tmp_path))
    bare = empty.snapshot()
    json.dumps(bare)
    assert "note" in bare["memory"] and bare["disks"]["mounts"] == 0
    assert empty.call("memory_details", {}).status is ToolStatus.NO_DATA
    assert empty.call("network_interfaces", {}).status is ToolStatus.NO_DATA


def test_os_tools(os_skill: tuple[OsSkill, FakeHost, Clock]) -> None:
    skill, _, _ = os_skill
    disks = skill.call("disk_usage", {})
    assert disks.status is ToolStatus.OK and disks.data[0]["mount"] == "/"
    one = skill.call("disk_usage", {"mount": "/var/lib/kubelet/"})
    assert one.status is ToolStatus.OK and one.data["mount"] == "/var/lib/kubelet"
    shm = skill.call("disk_usage", {"mount": "/dev/shm"})
    assert shm.status is ToolStatus.OK and shm.data["fstype"] == "tmpfs"
    missing = skill.call("disk_usage", {"mount": "/nope"})
    assert missing.status is ToolStatus.NO_DATA and "local mounts are: /" in (missing.error or "")
    memory = skill.call("memory_details", {})
    assert memory.data["meminfo_bytes"]["SwapTotal"] == 200_000 * 1024
    assert memory.data["vmstat"]["oom_kill"] == 2
    pressure = skill.call("pressure", {})
    assert pressure.data["memory"]["some_total"] == 123456
    eth0 = skill.call("network_interfaces", {"name": "eth0"})
    assert eth0.data["rx_errors"] == 7
    nope = skill.call("network_interfaces", {"name": "wlan9"})
    assert nope.status is ToolStatus.NO_DATA and "eth0" in (nope.error or "")
    bad = skill.call("network_interfaces", {"limit": 0})
    assert bad.status is ToolStatus.ERROR and ">= 1" in (bad.error or "")
    unknown = skill.call("disk_usage", {"device": "/dev/sda"})
    assert unknown.status is ToolStatus.ERROR and "unknown argument" in (unknown.error or "")


# ------------------------------------------------------------------------- processes


def process_host(root: Path) -> FakeHost:
    host = os_host(root)
    host.proc_file("sys/kernel/pid_max", "1000\n")
    host.proc_file("sys/fs/file-nr", "900\t0\t1000\n")
    host.write(host.rootfs / "etc/passwd", "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/:/bin/sh\n")
    host.write(host.rootfs / f"var/log/pods/shop_api-7c9d8f6b5-x2x9q_{POD_UID}/app/0.log", "")
    host.write(host.rootfs / f"var/log/containers/api-7c9d8f6b5-x2x9q_shop_app-{CID_APP}.log", "")
    host.process(1, "systemd", utime=50, stime=50, cmdline=["/sbin/init"], fds=3)
    host.process(2, "kthreadd", ppid=0, kernel=True, rss_pages=0)
    host.process(
        100,
        "java",
        utime=40_000,
        stime=10_000,
        threads=300,
        start=1000,
        rss_pages=150_000,
        uid=33,
        cmdline=["java", "-jar", "app.jar", "--db.password", "hunter2", "--port=8080"],
        fds=950,
        fd_limit=1024,
        cgroup=f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
        f"{POD_UID.replace('-', '_')}.slice/cri-containerd-{CID_APP}.scope",
        environ={
            "DB_PASSWORD": "s3cr3t",
            "HOME": "/app",
            "DATABASE_URL": "postgres://app:pw123@db:5432/x",
        },
    )
    host.process(200, "worker", utime=100, stime=0, rss_pages=500, state="R")
    host.process(300, "reaper-bug", rss_pages=100, cmdline=["reaper-bug"])
    for pid in range(301, 326):
        host.process(pid, "defunct", state="Z", ppid=300, rss_pages=0)
    host.process(400, "dd", state="D", rss_pages=10)
    return host


@pytest.fixture
def proc_skill(tmp_path: Path) -> tuple[ProcessesSkill, FakeHost, Clock]:
    host = process_host(tmp_path)
    clock = Clock()
    skill = ProcessesSkill(host.paths)
    skill._cpu.clock = clock
    return skill, host, clock


def test_processes_snapshot_counts_tops_and_redacts(
    proc_skill: tuple[ProcessesSkill, FakeHost, Clock],
) -> None:
    skill, _, _ = proc_skill
    snap = skill.snapshot()
    json.dumps(snap)
    assert snap["processes"] == 31 and snap["zombies"] == 25
    assert snap["threads"] == 330 and snap["pid_max"] == 1000
    assert snap["pid_usage_ratio"] == 0.33
    assert snap["states"]["disk_sleep"] == 1 and snap["states"]["running"] == 1
    assert snap["file_handles_ratio"] == 0.9 and snap["forks"] == 5000
    assert snap["cpu_basis"] == "since_start"
    top = snap["top_memory"][0]
    assert top["pid"] == 100 and top["user"] == "www"
    assert top["rss_bytes"] == 150_000 * hostfs.PAGE_SIZE
    assert top["namespace"] == "shop" and top["pod"] == "api-7c9d8f6b5-x2x9q"
    assert top["container"] == "app" and top["pod_uid"] == POD_UID
    assert "hunter2" not in top["cmdline"] and "--port=8080" in top["cmdline"]
    # java: 50 000 ticks over 990 s of life on 2 cores.
    assert snap["top_cpu"][0]["pid"] == 100
    assert snap["top_cpu"][0]["cpu_percent"] == round(100 * 500 / 990, 1)
    assert len(snap["top_cpu"]) <= 5 and len(snap["top_memory"]) <= 5
    fds = snap["top_open_files"][0]
    assert fds["pid"] == 100 and fds["open_files"] == 950 and fds["open_files_ratio"] == 0.9277
    assert "hunter2" not in json.dumps(skill.safe_snapshot().wire())


def test_processes_cpu_between_snapshots_and_thresholds(
    proc_skill: tuple[ProcessesSkill, FakeHost, Clock],
) -> None:
    skill, host, clock = proc_skill
    skill.snapshot()
    clock.tick(10)
    host.process(200, "worker", utime=1900, stime=200, rss_pages=500, state="R")  # +2000
    snap = skill.snapshot()
    assert snap["cpu_basis"] == "interval"
    worker = snap["top_cpu"][0]
    assert worker["pid"] == 200 and worker["cpu_percent"] == 200.0
    assert worker["cpu_node_percent"] == 100.0

    metrics = skill.metrics(snap)
    keys = {m.key for m in metrics}
    assert {
        "processes.zombies",
        "processes.pid_usage_ratio",
        "process.open_files_ratio",
        "process.cpu_node_percent",
        "processes.forks",
    } <= keys
    assert next(m for m in metrics if m.key == "processes.forks").counter is True

    raised = AnomalyDetector(node="node-a").observe(skill, snap)
    zombies = by_type(raised, anomalies.ZOMBIE_PROCESSES)
    assert zombies[0].severity is Severity.WARNING
    assert zombies[0].observation == "Node node-a has 25 zombie processes"
    fd = by_type(raised, anomalies.FD_EXHAUSTION)
    assert {n.subject.name for n in fd} == {"java[100]", "node-a"}
    assert by_type(raised, anomalies.PROCESS_CPU_HOG)[0].severity is Severity.CRITICAL
    assert by_type(raised, anomalies.PROCESS_MEMORY_HOG)[0].subject.name == "java[100]"


def test_process_tool_details_and_environment_are_redacted(
    proc_skill: tuple[ProcessesSkill, FakeHost, Clock],
) -> None:
    skill, _, _ = proc_skill
    result = skill.call("process", {"pid": 100, "include_environment": True})
    assert result.status is ToolStatus.OK
    data = result.data
    assert data["name"] == "java" and data["user"] == "www" and data["threads"] == 300
    assert data["open_files"] == 950 and data["open_files_limit"] == 1024
    assert data["pod"] == "api-7c9d8f6b5-x2x9q" and data["container_id"] == CID_APP
    assert data["oom_score"] == 42 and data["parent"] == "systemd"
    text = json.dumps(result.wire())
    assert "hunter2" not in text and "s3cr3t" not in text and "pw123" not in text
    assert data["environment"]["HOME"] == "/app"

    plain = skill.call("process", {"pid": 100})
    assert "environment" not in plain.data


def test_process_tools_errors_and_no_data(
    proc_skill: tuple[ProcessesSkill, FakeHost, Clock],
) -> None:
    skill, _, _ = proc_skill
    gone = skill.call("process", {"pid": 99999})
    assert gone.status is ToolStatus.NO_DATA
    assert "no process with pid 99999" in (gone.error or "") and "top()" in (gone.error or "")
    assert skill.call("open_files", {"pid": 99999}).status is ToolStatus.NO_DATA
    bad = skill.call("process", {"pid": "100"})
    assert bad.status is ToolStatus.ERROR and "must be integer" in (bad.error or "")
    missing = skill.call("process", {})
    assert missing.status is ToolStatus.ERROR and "missing required" in (missing.error or "")
    wrong = skill.call("top", {"by": "io"})
    assert wrong.status is ToolStatus.ERROR and "must be one of" in (wrong.error or "")
    nope = skill.call("kill", {"pid": 1})
    assert nope.status is ToolStatus.ERROR and "its tools are" in (nope.error or "")


def test_process_tools_top_zombies_open_files(
    proc_skill: tuple[ProcessesSkill, FakeHost, Clock],
) -> None:
    skill, _, clock = proc_skill
    skill.snapshot()
    clock.tick(5)
    top = skill.call("top", {"by": "threads", "limit": 2})
    assert top.data["processes"][0]["pid"] == 100 and len(top.data["processes"]) == 2
    cpu = skill.call("top", {"by": "cpu", "limit": 1})
    assert cpu.status is ToolStatus.OK and cpu.data["cpu_basis"] == "last 5.0s"
    fds = skill.call("top", {"by": "open_files", "limit": 1})
    assert fds.data["processes"][0]["open_files"] == 950
    zombies = skill.call("zombies", {"limit": 3})
    assert zombies.data["zombies"] == 25 and len(zombies.data["processes"]) == 3
    assert zombies.data["by_parent"] == [{"ppid": 300, "parent": "reaper-bug", "zombies": 25}]
    files = skill.call("open_files", {"pid": 1})
    assert files.data["by_kind"] == {"device": 1, "socket": 1, "pipe": 1}


def test_a_huge_tool_result_is_truncated_with_a_note(
    proc_skill: tuple[ProcessesSkill, FakeHost, Clock],
) -> None:
    skill, _, _ = proc_skill
    result = skill.call("open_files", {"pid": 100, "limit": 500})
    assert result.status is ToolStatus.OK and result.truncated is True
    assert len(json.dumps(result.data)) <= skill.result_cap
    # the list was cut, not the JSON text: what is left is whole entries, counted
    (listed,) = [k for k, v in result.data.items() if isinstance(v, list) and k != "cut"]
    kept = len(result.data[listed])
    assert 1 < kept < 500
    assert result.data["cut"][0].startswith(f"{listed}: ")
    assert f"left out; the first {kept} kept" in result.data["cut"][0]
    assert "narrow the call" in result.data["cut"][-1]


def test_no_zombies_is_no_data(tmp_path: Path) -> None:
    host = os_host(tmp_path)
    host.process(1, "init")
    skill = ProcessesSkill(host.paths)
    result = skill.call("zombies", {})
    assert result.status is ToolStatus.NO_DATA and "no zombie" in (result.error or "")
    assert ProcessesSkill(HostPaths(proc=tmp_path / "none")).snapshot()["available"] is False


# ------------------------------------------------------------------------ containers


def systemd_pod(host: FakeHost, v1_controller: str = "") -> str:
    """A burstable pod, systemd driver: pod slice plus two containers, one OOM-killed."""
    slice_uid = POD_UID.replace("-", "_")
    prefix = f"{v1_controller}/" if v1_controller else ""
    pod = f"{prefix}kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{slice_uid}.slice"
    return pod


def v2_systemd_host(root: Path) -> FakeHost:
    host = FakeHost(root)
    host.cg("", cgroup_controllers="cpu memory pids")
    host.cg(
        "kubepods.slice",
        memory_current=900 * MIB,
        memory_max=4096 * MIB,
        memory_events="oom 1\noom_kill 1\nmax 3",
        cpu_stat="nr_periods 0\nnr_throttled 0",
    )
    host.cg(
        "kubepods.slice/kubepods-burstable.slice",
        memory_current=900 * MIB,
        memory_max="max",
        memory_events="oom_kill 1",
    )
    pod = systemd_pod(host)
    host.cg(
        pod,
        memory_current=600 * MIB,
        memory_max=640 * MIB,
        memory_events="oom 1\noom_kill 1\nmax 5",
        memory_stat="anon 500000000\ninactive_file 10485760\n",
        cpu_stat="usage_usec 100\nnr_periods 1000\nnr_throttled 600\nthrottled_usec 30000000",
        cpu_max="100000 100000",
        pids_current=40,
        pids_max=50,
    )
    host.cg(
        f"{pod}/cri-containerd-{CID_APP}.scope",
        memory_current=500 * MIB,
        memory_max=512 * MIB,
        memory_events="oom 1\noom_kill 1\nmax 5",
        memory_stat="anon 500000000\ninactive_file 0\n",
        cpu_stat="nr_periods 1000\nnr_throttled 600\nthrottled_usec 30000000",
        cpu_max="50000 100000",
        pids_current=39,
        pids_max=40,
    )
    host.cg(
        f"{pod}/cri-containerd-{CID_SIDECAR}.scope",
        memory_current=10 * MIB,
        memory_max=128 * MIB,
        memory_events="oom_kill 0",
        cpu_stat="nr_periods 100\nnr_throttled 0\nthrottled_usec 0",
        cpu_max="max 100000",
    )
    host.cg("system.slice", memory_current=300 * MIB, memory_max="max", memory_events="oom_kill 0")
    host.cg(
        "system.slice/containerd.service",
        memory_current=200 * MIB,
        memory_max="max",
        memory_events="oom_kill 0",
    )
    host.cg("system.slice/containerd.service/deep", memory_current=1)
    host.write(host.rootfs / f"var/log/pods/shop_api-7c9d8f6b5-x2x9q_{POD_UID}/app/0.log", "")
    host.write(host.rootfs / f"var/log/containers/api-7c9d8f6b5-x2x9q_shop_app-{CID_APP}.log", "")
    return host


@pytest.fixture
def cg_skill(tmp_path: Path) -> tuple[ContainersSkill, FakeHost, Clock]:
    host = v2_systemd_host(tmp_path)
    clock = Clock()
    skill = ContainersSkill(host.paths)
    skill._throttle.clock = clock
    return skill, host, clock


def test_identify_both_kubelet_layouts() -> None:
    systemd = identify(
        f"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
        f"{POD_UID.replace('-', '_')}.slice/crio-{CID_APP}.scope"
    )
    assert systemd.pod_uid == POD_UID and systemd.container_id == CID_APP
    assert systemd.qos == "besteffort" and systemd.kubepods
    cgroupfs = identify(f"/kubepods/burstable/pod{POD_UID}/{CID_APP}")
    assert cgroupfs.pod_uid == POD_UID and cgroupfs.container_id == CID_APP
    assert cgroupfs.qos == "burstable"
    guaranteed = identify(f"kubepods/pod{POD_UID}")
    assert guaranteed.qos == "guaranteed" and guaranteed.container_id is None
    static = identify("kubepods/burstable/pod0123456789abcdef0123456789abcdef")
    assert static.pod_uid == "0123456789abcdef0123456789abcdef"
    conmon = identify(
        f"kubepods.slice/kubepods-pod{POD_UID.replace('-', '_')}.slice/crio-conmon-{CID_APP}.scope"
    )
    assert conmon.pod_uid == POD_UID and conmon.container_id is None
    assert identify("system.slice/containerd.service") == identify("")


def test_v2_systemd_snapshot_maps_pods_and_containers(
    cg_skill: tuple[ContainersSkill, FakeHost, Clock],
) -> None:
    skill, _, _ = cg_skill
    snap = skill.snapshot()
    json.dumps(snap)
    assert snap["cgroup_version"] == "v2" and snap["kubernetes"] is True
    assert snap["pods"] == 1 and snap["containers"] == 2
    # Only kubepods and the top two levels elsewhere are read.
    assert snap["cgroups"] == 7
    top = snap["top_memory"][0]
    assert top["container"] == "app" and top["pod"] == "api-7c9d8f6b5-x2x9q"
    assert top["namespace"] == "shop" and top["container_id"] == CID_APP[:12]
    assert top["memory_limit_ratio"] == round(500 / 512, 3)
    pod_row = next(r for r in snap["top_memory"] if "container_id" not in r and "pod_uid" in r)
    # The pod's working set leaves inactive file cache out: (600 - 10) / 640.
    assert pod_row["working_set_bytes"] == 590 * MIB
    assert pod_row["memory_limit_ratio"] == round(590 / 640, 3)
    throttled = snap["top_throttled"][0]
    assert throttled["throttled_ratio"] == 0.6 and throttled["cpu_limit_cores"] == 0.5
    assert snap["top_pids"][0]["pids_ratio"] == round(39 / 40, 3)
    assert snap["oom_kills_total"] == 1


def test_oom_kills_are_reported_once_where_they_happened(
    cg_skill: tuple[ContainersSkill, FakeHost, Clock],
) -> None:
    skill, host, _ = cg_skill
    first = skill.snapshot()
    events = first["oom_events"]
    # v2 counts the kill in the container, the pod, the QoS slice and kubepods: one event.
    assert len(events) == 1 and events[0]["container"] == "app"
    assert events[0]["new_oom_kills"] == 1
    found = skill.findings(first)
    assert len(found) == 1
    finding = found[0]
    assert finding.anomaly_type == anomalies.CONTAINER_OOM_KILLED
    assert finding.severity is Severity.CRITICAL
    assert finding.subject is not None and finding.subject.kind == "Container"
    assert finding.subject.namespace == "shop"
    assert finding.subject.name == "api-7c9d8f6b5-x2x9q/app"
    assert finding.observation == (
        "The kernel OOM killer killed 1 process in container app of pod "
        "shop/api-7c9d8f6b5-x2x9q (memory limit 512 MiB)"
    )

    assert skill.findings(skill.snapshot()) == []  # nothing new

    # The container was killed again, restarted, and its cgroup is gone: only the pod
    # (and its ancestors) still count the kill.
    pod = systemd_pod(host)
    for name in (f"{pod}/cri-containerd-{CID_APP}.scope",):
        for child in (host.cgroup / name).iterdir():
            child.unlink()
        (host.cgroup / name).rmdir()
    for relative in (pod, "kubepods.slice", "kubepods.slice/kubepods-burstable.slice"):
        host.write(host.cgroup / relative / "memory.events", "oom_kill 3\n")
    again = skill.snapshot()
    assert len(again["oom_events"]) == 1
    event = again["oom_events"][0]
    assert event["new_oom_kills"] == 2 and event["exited_containers"] is True
    finding = skill.findings(again)[0]
    assert finding.subject is not None and finding.subject.kind == "Pod"
    assert finding.subject.name == "api-7c9d8f6b5-x2x9q"
    assert "2 processes" in finding.observation and "exited" in finding.observation


def test_throttling_uses_deltas_after_the_first_snapshot(
    cg_skill: tuple[ContainersSkill, FakeHost, Clock],
) -> None:
    skill, host, clock = cg_skill
    skill.snapshot()
    clock.tick(15)
    app = host.cgroup / systemd_pod(host) / f"cri-containerd-{CID_APP}.scope"
    host.write(app / "cpu.stat", "nr_periods 1100\nnr_throttled 610\nthrottled_usec 30500000\n")
    snap = skill.snapshot()
    app_row = next(r for r in snap["top_throttled"] if r.get("container") == "app")
    assert app_row["throttled_ratio"] == 0.1  # 10 of the last 100 periods
    # A cgroup that ran fewer than MIN_PERIODS periods is idle, not throttled.
    assert all(r.get("container") != "" for r in snap["top_throttled"])


def test_container_metrics_and_thresholds(
    cg_skill: tuple[ContainersSkill, FakeHost, Clock],
) -> None:
    skill, _, _ = cg_skill
    snap = skill.snapshot()
    metrics = skill.metrics(snap)
    keys = {m.key for m in metrics}
    assert {
        "container.memory_limit_ratio",
        "container.cpu_throttled_ratio",
        "container.pids_ratio",
        "containers.oom_kills",
        "container.cpu_throttled_periods",
    } <= keys
    assert next(m for m in metrics if m.key == "containers.oom_kills").counter is True
    raised = AnomalyDetector(node="node-a").observe(skill, snap)
    near = by_type(raised, anomalies.CONTAINER_MEMORY_NEAR_LIMIT)
    app = next(n for n in near if n.subject.kind == "Container")
    assert app.subject.name == "api-7c9d8f6b5-x2x9q/app" and app.subject.namespace == "shop"
    assert app.severity is Severity.WARNING  # 0.977 of its limit
    throttling = by_type(raised, anomalies.CPU_THROTTLING)
    assert throttling and throttling[0].severity is Severity.CRITICAL
    assert by_type(raised, anomalies.PIDS_NEAR_LIMIT)[0].severity is Severity.CRITICAL
    assert len(by_type(raised, anomalies.CONTAINER_OOM_KILLED)) == 1


def test_v2_cgroupfs_layout_and_unnamed_pods(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    host.cg("", cgroup_controllers="cpu memory")
    host.cg("kubepods", memory_current=100, memory_max="max")
    host.cg("kubepods/besteffort", memory_current=100, memory_max="max")
    host.cg(
        f"kubepods/besteffort/pod{OTHER_UID}",
        memory_current=95,
        memory_max=100,
        memory_stat="inactive_file 0",
    )
    host.cg(
        f"kubepods/besteffort/pod{OTHER_UID}/{CID_SIDECAR}",
        memory_current=95,
        memory_max=100,
        memory_events="oom_kill 0",
        memory_stat="inactive_file 0",
    )
    skill = ContainersSkill(host.paths)
    snap = skill.snapshot()
    assert snap["kubernetes"] is True and snap["pods"] == 1
    top = snap["top_memory"][0]
    assert top["pod_uid"] == OTHER_UID and "pod" not in top
    metric = next(m for m in skill.metrics(snap) if m.key == "container.memory_limit_ratio")
    assert metric.subject is not None and metric.subject.kind == "Container"
    assert metric.subject.name == f"{OTHER_UID}/{CID_SIDECAR[:12]}"
    pod = skill.call("pod", {"uid": OTHER_UID})
    assert pod.status is ToolStatus.OK and pod.data["qos"] == "besteffort"
    assert pod.data["containers"][0]["container_id"] == CID_SIDECAR


def test_v1_hybrid_host_reads_controller_files(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    host.cg("unified", cgroup_controllers="")
    host.cg("memory", memory_usage_in_bytes=10**9, memory_limit_in_bytes=9223372036854771712)
    pod = f"kubepods/burstable/pod{POD_UID}"
    container = f"{pod}/{CID_APP}"
    host.cg(
        f"memory/{pod}",
        memory_usage_in_bytes=300 * MIB,
        memory_limit_in_bytes=9223372036854771712,
        memory_oom_control="oom_kill 0",
    )
    host.cg(
        f"memory/{container}",
        memory_usage_in_bytes=250 * MIB,
        memory_limit_in_bytes=256 * MIB,
        memory_failcnt=12,
        memory_oom_control="oom_kill_disable 0\nunder_oom 0\noom_kill 4",
        memory_stat="cache 1000\ntotal_inactive_file 5242880\n",
    )
    host.cg(
        f"cpu/{container}",
        cpu_stat="nr_periods 200\nnr_throttled 150\nthrottled_time 9000000000",
        cpu_cfs_quota_us=20000,
        cpu_cfs_period_us=100000,
    )
    host.cg(f"pids/{container}", pids_current=10, pids_max="max")
    skill = ContainersSkill(host.paths)
    snap = skill.snapshot()
    assert snap["cgroup_version"] == "hybrid" and snap["kubernetes"] is True
    top = snap["top_memory"][0]
    assert top["memory_bytes"] == 250 * MIB and top["working_set_bytes"] == 245 * MIB
    assert top["memory_limit_ratio"] == round(245 / 256, 3)
    throttled = snap["top_throttled"][0]
    assert throttled["throttled_ratio"] == 0.75 and throttled["cpu_limit_cores"] == 0.2
    assert throttled["throttled_seconds"] == 9.0
    assert snap["top_pids"] == [] or snap["top_pids"][0]["pids_limit"] is None
    assert snap["oom_events"][0]["new_oom_kills"] == 4
    assert snap["oom_kills_total"] == 4
    found = skill.findings(snap)
    assert found[0].subject is not None and found[0].subject.name == f"{POD_UID}/{CID_APP[:12]}"
    detail = skill.call("cgroup", {"path": f"/sys/fs/cgroup/memory/{container}"})
    assert detail.status is ToolStatus.OK
    assert detail.data["memory_limit_hits"] == 12 and detail.data["oom_control"]["oom_kill"] == 4
    assert detail.data["memory_stat"]["total_inactive_file"] == 5242880


def test_plain_machine_reports_its_cgroups_and_says_so(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    host.cg("", cgroup_controllers="memory cpu")
    host.cg("system.slice", memory_current=10 * MIB, memory_max="max")
    host.cg(
        "user.slice/user-1000.slice/session-1.scope",
        memory_current=5 * MIB,
        memory_max=8 * MIB,
        memory_events="oom_kill 0",
    )
    snap = ContainersSkill(host.paths).snapshot()
    assert snap["kubernetes"] is False and "not a Kubernetes node" in snap["note"]
    assert snap["top_memory"][0]["cgroup"] == "user.slice/user-1000.slice/session-1.scope"
    assert snap["top_memory"][0]["memory_limit_ratio"] == 0.625
    assert snap["top_memory"][1]["memory_limit_ratio"] is None  # unlimited, listed by size

    none = ContainersSkill(HostPaths(cgroup=tmp_path / "missing")).snapshot()
    assert none["available"] is False and "no cgroup hierarchy" in none["note"]


def test_walk_is_bounded(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    host.cg("", cgroup_controllers="memory")
    for i in range(30):
        uid = f"{i:08x}-0000-4000-8000-000000000000"
        host.cg(f"kubepods/pod{uid}", memory_current=i, memory_max=100)
    snap = ContainersSkill(host.paths, max_cgroups=10).snapshot()
    assert snap["walk_truncated"] is True and snap["cgroups"] <= 10
    assert len(snap["top_memory"]) <= 5


def test_container_tools(cg_skill: tuple[ContainersSkill, FakeHost, Clock]) -> None:
    skill, _, _ = cg_skill
    skill.snapshot()
    by_uid = skill.call("pod", {"uid": POD_UID.replace("-", "_")})
    assert by_uid.status is ToolStatus.OK and len(by_uid.data["containers"]) == 2
    assert by_uid.data["pod"]["pids_limit"] == 50
    by_name = skill.call("pod", {"uid": "shop/api-7c9d8f6b5-x2x9q"})
    assert by_name.data["pod_uid"] == POD_UID
    missing = skill.call("pod", {"uid": OTHER_UID})
    assert missing.status is ToolStatus.NO_DATA and POD_UID in (missing.error or "")
    unnamed = skill.call("pod", {"uid": "shop/nope"})
    assert unnamed.status is ToolStatus.NO_DATA and "pod UID" in (unnamed.error or "")
    escape = skill.call("cgroup", {"path": "../../etc"})
    assert escape.status is ToolStatus.ERROR and "leaves the cgroup tree" in (escape.error or "")
    absent = skill.call("cgroup", {"path": "nope.slice"})
    assert absent.status is ToolStatus.NO_DATA and "memory_usage()" in (absent.error or "")
    system = skill.call("cgroup", {"path": "system.slice"})
    assert system.data["children"] == 1 and system.data["child_names"] == ["containerd.service"]
    throttled = skill.call("throttled", {"limit": 1})
    assert throttled.data[0]["container"] == "app"
    oom = skill.call("oom_events", {})
    assert oom.status is ToolStatus.OK and oom.data[0]["oom_kills"] == 1
    usage = skill.call("memory_usage", {"limit": 2})
    assert [r.get("container") for r in usage.data] == ["app", None]
    bad = skill.call("throttled", {"limit": 1000})
    assert bad.status is ToolStatus.ERROR and "<= 100" in (bad.error or "")


def test_snapshots_and_tools_on_two_threads(
    proc_skill: tuple[ProcessesSkill, FakeHost, Clock],
) -> None:
    # The agent snapshots on a schedule while the coordinator calls tools.
    import threading

    skill, _, _ = proc_skill
    errors: list[BaseException] = []

    def snapshots() -> None:
        try:
            for _ in range(40):
                skill.snapshot()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    worker = threading.Thread(target=snapshots)
    worker.start()
    for _ in range(40):
        assert skill.call("top", {"by": "open_files", "limit": 3}).status is ToolStatus.OK
    worker.join()
    assert errors == []


def test_psutil_root_is_restored(tmp_path: Path) -> None:
    import psutil

    before = psutil.PROCFS_PATH
    with hostfs.psutil_procfs(tmp_path):
        assert str(tmp_path) == psutil.PROCFS_PATH
    assert before == psutil.PROCFS_PATH
    assert hostfs.psutil_details(tmp_path, 12345) == {}


# ---------------------------------------------------------------------- this machine


def test_real_host_snapshots_are_json_bounded_and_fast() -> None:
    skills: list[Skill] = [OsSkill(), ProcessesSkill(), ContainersSkill()]
    for skill in skills:
        result = skill.safe_snapshot()
        assert result.status is ToolStatus.OK, result.error
        assert not result.truncated, skill.name
        assert len(json.dumps(result.data)) < 8_000
        skill.metrics(skill.snapshot())
        skill.findings(skill.snapshot())
        assert len(skill.tools) >= 3
        assert len(skill.description) < 160
    timings = []
    for _ in range(15):
        started = time.perf_counter()
        for skill in skills:
            skill.metrics(skill.snapshot())
        timings.append(time.perf_counter() - started)
    # The benchmark holds the 20 ms target; this only catches gross regressions on a
    # loaded CI machine.
    assert statistics.median(timings) < 0.1


def test_real_host_process_tool_on_this_process() -> None:
    skill = ProcessesSkill()
    result = skill.call("process", {"pid": os.getpid()})
    assert result.status is ToolStatus.OK
    assert result.data["pid"] == os.getpid() and result.data["threads"] >= 1
