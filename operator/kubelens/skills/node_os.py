"""The ``os`` skill: the node's CPU, memory, pressure stalls, disks and network errors.

Everything comes from plain /proc files and ``statvfs`` (no psutil): a snapshot is a
handful of small reads. CPU percentages are rates between two /proc/stat readings; the
skill keeps the previous reading instead of sleeping, so the first snapshot reports
averages since boot and says so (``cpu.basis``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelens import anomalies
from kubelens.models import Subject, ToolResult
from kubelens.skills import hostfs
from kubelens.skills.base import HostPaths, Metric, Skill, Threshold
from kubelens.skills.params import integer, params, string

#: Mounts reported in a snapshot, fullest first; the ``disk_usage`` tool lists them all.
TOP_MOUNTS = 5
TOP_INTERFACES = 5

#: Filesystems on local block devices. Others are skipped: pseudo filesystems have no
#: meaningful usage, squashfs/iso9660 are always "full", and ``statvfs`` on a network
#: filesystem whose server is gone blocks forever, which would hang the agent.
LOCAL_FILESYSTEMS = frozenset(
    {
        "ext2",
        "ext3",
        "ext4",
        "xfs",
        "btrfs",
        "zfs",
        "f2fs",
        "vfat",
        "exfat",
        "ntfs",
        "ntfs3",
        "jfs",
        "reiserfs",
        "bcachefs",
        "nilfs2",
    }
)
#: Also accepted when a tool names the mount explicitly (a full /dev/shm or /run).
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})

_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
_MEMINFO_KEYS = (
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SwapCached",
    "Active",
    "Inactive",
    "Active(file)",
    "Inactive(file)",
    "Dirty",
    "Writeback",
    "AnonPages",
    "Shmem",
    "Slab",
    "SReclaimable",
    "SUnreclaim",
    "KernelStack",
    "PageTables",
    "CommitLimit",
    "Committed_AS",
    "SwapTotal",
    "SwapFree",
    "HugePages_Total",
    "HugePages_Free",
    "Hugepagesize",
)
_VMSTAT_KEYS = ("oom_kill", "pgmajfault", "pswpin", "pswpout", "pgscan_direct", "pgsteal_direct")


@dataclass(frozen=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str
    read_only: bool


class OsSkill(Skill):
    """Host-level resources of the node the agent runs on."""

    name = "os"
    description = (
        "Node OS: CPU load/iowait/steal, memory and swap, pressure stalls (PSI), "
        "disk and inode usage per mount, network errors and drops."
    )
    prompt = (
        "The os skill sees the whole node, not one container. High iowait or PSI io "
        "points at slow or saturated disks; steal at a noisy hypervisor neighbour; PSI "
        "memory stalls and a rising oom_kills counter at memory pressure even when used "
        "percent looks moderate. Compare disk and inode usage: inodes can run out first."
    )
    thresholds = (
        Threshold(
            "memory.used_percent",
            anomalies.MEMORY_PRESSURE,
            90,
            97,
            "Memory use on node {subject} is {value}{unit} of RAM",
            "Workloads on {subject} request less memory than they use, or one of them leaks",
        ),
        Threshold(
            "memory.swap_used_percent",
            anomalies.SWAP_PRESSURE,
            50,
            80,
            "Swap use on node {subject} is {value}{unit} of swap space",
            "Memory demand on {subject} exceeds RAM and pages are being swapped out",
        ),
        Threshold(
            "memory.oom_kills",
            anomalies.MEMORY_PRESSURE,
            1,
            None,
            "The kernel OOM killer killed {value} processes on node {subject} "
            "since the previous sample",
            "A process or container on {subject} exceeded its memory limit or the node ran "
            "out of memory",
        ),
        Threshold(
            "psi.memory.some_avg10",
            anomalies.MEMORY_PRESSURE,
            10,
            30,
            "Tasks on node {subject} stalled waiting for memory {value}{unit} of the last "
            "10 seconds",
            "The node is reclaiming memory hard; working sets do not fit in RAM",
        ),
        Threshold(
            "psi.cpu.some_avg10",
            anomalies.CPU_STALL,
            50,
            80,
            "Runnable tasks on node {subject} waited for a CPU {value}{unit} of the last "
            "10 seconds",
            "The node's CPUs are oversubscribed",
        ),
        Threshold(
            "psi.io.some_avg10",
            anomalies.IO_STALL,
            30,
            60,
            "Tasks on node {subject} stalled on I/O {value}{unit} of the last 10 seconds",
            "A disk on {subject} is saturated or slow",
        ),
        Threshold(
            "cpu.load_per_core",
            anomalies.CPU_SATURATION,
            2,
            4,
            "The 1-minute load average on node {subject} is {value} per CPU core",
            "More tasks are runnable or blocked on I/O than {subject} has cores",
        ),
        Threshold(
            "cpu.iowait_percent",
            anomalies.IOWAIT_HIGH,
            20,
            40,
            "CPUs on node {subject} spent {value}{unit} of their time waiting for I/O",
            "A disk or network filesystem on {subject} is slow or saturated",
        ),
        Threshold(
            "cpu.steal_percent",
            anomalies.CPU_STEAL,
            10,
            25,
            "The hypervisor stole {value}{unit} of CPU time from node {subject}",
            "The virtual machine's host is oversubscribed (a noisy neighbour)",
        ),
        Threshold(
            "disk.used_percent",
            anomalies.DISK_FULL,
            85,
            95,
            "Filesystem {subject} is {value}{unit} full",
            "Logs, images or volumes on {subject} are growing without cleanup",
        ),
        Threshold(
            "disk.inodes_used_percent",
            anomalies.INODE_EXHAUSTION,
            85,
            95,
            "Filesystem {subject} has used {value}{unit} of its inodes",
            "Many small files (container layers, caches, logs) fill {subject}'s inode table",
        ),
        Threshold(
            "network.errors",
            anomalies.NETWORK_ERRORS,
            10,
            1000,
            "Network interfaces on node {subject} reported {value} receive/transmit errors "
            "since the previous sample",
            "A faulty NIC, cable, driver or MTU mismatch on {subject}",
        ),
    )

    def __init__(
        self, paths: HostPaths | None = None, disk_reader: hostfs.DiskUsageReader | None = None
    ) -> None:
        super().__init__()
        self.paths = paths or HostPaths()
        # statvfs by default; replay passes the usage recorded in a scenario's df.json.
        self.disk_reader = disk_reader or hostfs.statvfs_reader(self.paths.rootfs)
        self._cpu = hostfs.Sampler[tuple[int, ...]]()
        self.add_tool(
            "disk_usage",
            "Usage and inode usage of every local filesystem, or of one mount point.",
            params(mount=string(512, "A mount point such as / or /var/lib/kubelet; omit for all.")),
            self.disk_usage,
        )
        self.add_tool(
            "memory_details",
            "Full /proc/meminfo breakdown (bytes) and reclaim/swap/OOM counters from vmstat.",
            params(),
            self.memory_details,
        )
        self.add_tool(
            "pressure",
            "Pressure stall information for cpu, memory and io: some/full avg10/60/300.",
            params(),
            self.pressure,
        )
        self.add_tool(
            "network_interfaces",
            "Per-interface bytes, packets, errors and drops since boot, worst first.",
            params(
                name=string(64, "One interface, e.g. eth0; omit for all."),
                limit=integer(1, 200, "How many interfaces (default 20)."),
            ),
            self.network_interfaces,
        )

    # -- snapshot ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        mounts = self._disk_rows(self._mounts(include_memory=False))
        mounts.sort(key=_fullness, reverse=True)
        interfaces = self._interfaces()
        return {
            "cpu": self._cpu_snapshot(),
            "memory": self._memory_snapshot(),
            "pressure": self._pressure_snapshot(full=False),
            "disks": {"mounts": len(mounts), "top": mounts[:TOP_MOUNTS]},
            "network": _network_summary(interfaces),
        }

    def summarize(self, snapshot: Mapping[str, Any]) -> str:
        cpu = snapshot.get("cpu") or {}
        memory = snapshot.get("memory") or {}
        parts = [f"load {cpu.get('load1', '?')} on {cpu.get('cores', '?')} cores"]
        if cpu.get("utilisation_percent") is not None:
            parts.append(
                f"CPU {cpu['utilisation_percent']}% busy (iowait {cpu.get('iowait_percent', 0)}%)"
            )
        if memory.get("used_percent") is not None:
            parts.append(f"memory {memory['used_percent']}% used")
        disks = (snapshot.get("disks") or {}).get("top") or []
        if disks:
            fullest = max(disks, key=lambda d: d.get("used_percent") or 0)
            parts.append(f"fullest disk {fullest.get('mount')} at {fullest.get('used_percent')}%")
        return "; ".join(parts)

    def metrics(self, snapshot: Mapping[str, Any]) -> list[Metric]:
        out: list[Metric] = []

        def gauge(key: str, value: Any, unit: str = "", subject: Subject | None = None) -> None:
            if isinstance(value, int | float):
                out.append(Metric(key, float(value), subject, unit))

        def counter(key: str, value: Any) -> None:
            if isinstance(value, int | float):
                out.append(Metric(key, float(value), None, "", counter=True))

        cpu = snapshot.get("cpu", {})
        gauge("cpu.load_per_core", cpu.get("load_per_core"))
        # Rates since boot are not current: they would teach the baseline a wrong normal.
        if cpu.get("basis") == "interval":
            gauge("cpu.utilisation_percent", cpu.get("utilisation_percent"), "%")
            gauge("cpu.iowait_percent", cpu.get("iowait_percent"), "%")
            gauge("cpu.steal_percent", cpu.get("steal_percent"), "%")
        memory = snapshot.get("memory", {})
        gauge("memory.used_percent", memory.get("used_percent"), "%")
        gauge("memory.swap_used_percent", memory.get("swap_used_percent"), "%")
        counter("memory.oom_kills", memory.get("oom_kills"))
        counter("memory.major_faults", memory.get("major_faults"))
        pressure = snapshot.get("pressure", {})
        for resource in ("cpu", "memory", "io"):
            stats = pressure.get(resource) or {}
            gauge(f"psi.{resource}.some_avg10", stats.get("some_avg10"), "%")
        for mount in snapshot.get("disks", {}).get("top", []):
            subject = Subject(kind="Mount", name=mount["mount"])
            gauge("disk.used_percent", mount.get("used_percent"), "%", subject)
            gauge("disk.inodes_used_percent", mount.get("inodes_used_percent"), "%", subject)
        network = snapshot.get("network", {})
        if "rx_errors" in network:
            counter("network.errors", network["rx_errors"] + network["tx_errors"])
            counter("network.drops", network["rx_dropped"] + network["tx_dropped"])
        return out

    # -- tools ------------------------------------------------------------------------

    def disk_usage(self, mount: str | None = None) -> Any:
        if mount is None:
            rows = self._disk_rows(self._mounts(include_memory=False))
            if not rows:
                return ToolResult.empty(
                    f"no local filesystems found in {self.paths.proc}/mounts "
                    "(network and pseudo filesystems are not measured)"
                )
            return sorted(rows, key=_fullness, reverse=True)
        wanted = "/" + mount.strip().strip("/") if mount.strip("/") else "/"
        candidates = [
            m for m in self._mounts(include_memory=True, dedupe=False) if m.mountpoint == wanted
        ]
        if not candidates:
            known = sorted({m.mountpoint for m in self._mounts(include_memory=False)})
            return ToolResult.empty(
                f"{wanted!r} is not a local mount point on this node; "
                f"local mounts are: {', '.join(known[:30]) or 'none'}"
            )
        rows = self._disk_rows(candidates[:1])
        if not rows:
            return ToolResult.empty(f"could not read usage of {wanted!r} (statvfs failed)")
        return rows[0]

    def memory_details(self) -> Any:
        info = _meminfo(self.paths.proc)
        if not info:
            return ToolResult.empty(f"{self.paths.proc}/meminfo is not readable")
        vmstat = hostfs.read_keyed(self.paths.proc / "vmstat")
        return {
            "meminfo_bytes": {k: info[k] for k in _MEMINFO_KEYS if k in info},
            "vmstat": {k: vmstat[k] for k in _VMSTAT_KEYS if k in vmstat},
            "used_percent": _used_percent(info),
        }

    def pressure(self) -> Any:
        data = self._pressure_snapshot(full=True)
        if not data.get("available"):
            return ToolResult.empty(str(data.get("note")))
        return data

    def network_interfaces(self, name: str | None = None, limit: int = 20) -> Any:
        interfaces = self._interfaces()
        if not interfaces:
            return ToolResult.empty("no network statistics readable (net/dev missing)")
        if name is not None:
            match = [i for i in interfaces if i["interface"] == name]
            if not match:
                known = ", ".join(i["interface"] for i in interfaces[:40])
                return ToolResult.empty(f"no interface {name!r}; interfaces are: {known}")
            return match[0]
        interfaces.sort(key=_trouble, reverse=True)
        return {"interfaces": len(interfaces), "top": interfaces[:limit]}

    # -- readers ----------------------------------------------------------------------

    def _cpu_snapshot(self) -> dict[str, Any]:
        proc = self.paths.proc
        text = hostfs.read_text(proc / "stat") or ""
        total: tuple[int, ...] = ()
        cores = 0
        extra: dict[str, int] = {}
        for line in text.splitlines():
            if line.startswith("cpu "):
                total = tuple(int(v) for v in line.split()[1:9])
            elif line.startswith("cpu"):
                cores += 1
            elif line.startswith(("procs_running", "procs_blocked")):
                key, _, value = line.partition(" ")
                extra[key] = int(value)
        out: dict[str, Any] = {"cores": cores or os.cpu_count() or 1}
        load = (hostfs.read_text(proc / "loadavg") or "").split()
        if len(load) >= 3:
            out["load1"], out["load5"], out["load15"] = (float(v) for v in load[:3])
            out["load_per_core"] = round(out["load1"] / out["cores"], 2)
        out.update(extra)
        if len(total) < len(_CPU_FIELDS):
            out["note"] = "CPU times not available (/proc/stat unreadable)"
            return out
        base, elapsed = self._cpu.observe(total)
        if base is None:
            delta, out["basis"] = total, "since_boot"
        else:
            delta = tuple(now - before for now, before in zip(total, base, strict=True))
            out["basis"], out["interval_s"] = "interval", round(elapsed, 2)
        times = dict(zip(_CPU_FIELDS, delta, strict=True))
        spent = sum(times.values())
        if spent > 0:
            busy = spent - times["idle"] - times["iowait"]
            out["utilisation_percent"] = hostfs.percent(busy, spent)
            out["iowait_percent"] = hostfs.percent(times["iowait"], spent)
            out["steal_percent"] = hostfs.percent(times["steal"], spent)
        return out

    def _memory_snapshot(self) -> dict[str, Any]:
        info = _meminfo(self.paths.proc)
        if not info:
            return {"note": "memory not available (meminfo unreadable)"}
        out: dict[str, Any] = {
            "total_bytes": info.get("MemTotal"),
            "available_bytes": info.get("MemAvailable"),
            "used_percent": _used_percent(info),
            "swap_total_bytes": info.get("SwapTotal", 0),
        }
        swap_total = info.get("SwapTotal", 0)
        if swap_total:
            out["swap_used_percent"] = hostfs.percent(
                swap_total - info.get("SwapFree", 0), swap_total
            )
        vmstat = hostfs.read_keyed(self.paths.proc / "vmstat")
        if "oom_kill" in vmstat:
            out["oom_kills"] = vmstat["oom_kill"]
        if "pgmajfault" in vmstat:
            out["major_faults"] = vmstat["pgmajfault"]
        return out

    def _pressure_snapshot(self, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"available": False}
        for resource in ("cpu", "memory", "io"):
            text = hostfs.read_text(self.paths.proc / "pressure" / resource)
            if text is None:
                continue
            out["available"] = True
            out[resource] = _parse_psi(text, full)
        if not out["available"]:
            out["note"] = (
                "pressure stall information is not available: the kernel lacks PSI "
                "(CONFIG_PSI, or psi=0 on the kernel command line)"
            )
        return out

    def _mounts(self, include_memory: bool, dedupe: bool = True) -> list[Mount]:
        text = hostfs.read_text(hostfs.host_proc_file(self.paths.proc, "mounts")) or ""
        seen: set[str] = set()
        mounts: list[Mount] = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 4:
                continue
            device, mountpoint, fstype = parts[0], hostfs.unescape_mount(parts[1]), parts[2]
            read_only = "ro" in parts[3].split(",")
            memory = include_memory and fstype in MEMORY_FILESYSTEMS
            if fstype not in LOCAL_FILESYSTEMS and not memory:
                continue
            # Read-only filesystems (dm-verity roots, images) are "full" by design, and a
            # device mounted many times (kubelet bind mounts) is one filesystem.
            if (read_only and not memory) or (dedupe and device in seen and not memory):
                continue
            seen.add(device)
            mounts.append(Mount(device, mountpoint, fstype, read_only))
        return mounts

    def _disk_rows(self, mounts: list[Mount]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for mount in mounts:
            usage = self.disk_reader(mount.mountpoint)
            if usage is None:
                continue
            row: dict[str, Any] = {
                "mount": mount.mountpoint,
                "device": mount.device,
                "fstype": mount.fstype,
                "size_bytes": usage.size,
                "available_bytes": usage.available,
                # As df computes it: blocks reserved for root count as unavailable.
                "used_percent": hostfs.percent(usage.used, usage.used + usage.available),
                "inodes_used_percent": (
                    hostfs.percent(usage.inodes_used, usage.inodes) if usage.inodes else None
                ),
            }
            rows.append(row)
        return rows

    def _interfaces(self) -> list[dict[str, Any]]:
        path = hostfs.host_proc_file(self.paths.proc, "net/dev")
        rows: list[dict[str, Any]] = []
        for line in (hostfs.read_text(path) or "").splitlines():
            name, sep, rest = line.partition(":")
            values = rest.split()
            if not sep or len(values) < 16:
                continue
            try:
                v = [int(x) for x in values[:16]]
            except ValueError:
                continue
            rows.append(
                {
                    "interface": name.strip(),
                    "rx_bytes": v[0],
                    "rx_packets": v[1],
                    "rx_errors": v[2],
                    "rx_dropped": v[3],
                    "tx_bytes": v[8],
                    "tx_packets": v[9],
                    "tx_errors": v[10],
                    "tx_dropped": v[11],
                }
            )
        return rows


def _meminfo(proc: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in hostfs.read_colon_keyed(proc / "meminfo").items():
        parts = value.split()
        if not parts or not parts[0].isdigit():
            continue
        number = int(parts[0])
        out[key] = number * 1024 if len(parts) > 1 and parts[1] == "kB" else number
    return out


def _used_percent(info: Mapping[str, int]) -> float | None:
    total = info.get("MemTotal", 0)
    # MemAvailable counts reclaimable cache as free; without it (kernels < 3.14) fall
    # back to free + buffers + cache, which is what it approximates.
    available = info.get("MemAvailable")
    if available is None:
        available = info.get("MemFree", 0) + info.get("Buffers", 0) + info.get("Cached", 0)
    return hostfs.percent(total - available, total)


def _parse_psi(text: str, full: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    wanted = ("avg10", "avg60", "avg300", "total") if full else ("avg10", "avg60")
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        for item in rest.split():
            key, _, value = item.partition("=")
            if key in wanted:
                try:
                    out[f"{kind}_{key}"] = float(value) if key != "total" else int(value)
                except ValueError:
                    continue
    return out


def _network_summary(interfaces: list[dict[str, Any]]) -> dict[str, Any]:
    # Loopback errors say nothing about the network, and its traffic dwarfs nothing.
    real = [i for i in interfaces if i["interface"] != "lo"]
    if not interfaces:
        return {"note": "network statistics not available (net/dev unreadable)"}
    summary: dict[str, Any] = {"interfaces": len(real)}
    for key in ("rx_errors", "tx_errors", "rx_dropped", "tx_dropped"):
        summary[key] = sum(i[key] for i in real)
    troubled = sorted((i for i in real if _trouble(i) > 0), key=_trouble, reverse=True)
    summary["top"] = [
        {k: i[k] for k in ("interface", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped")}
        for i in troubled[:TOP_INTERFACES]
    ]
    return summary


def _trouble(interface: Mapping[str, Any]) -> int:
    return int(
        interface["rx_errors"]
        + interface["tx_errors"]
        + interface["rx_dropped"]
        + interface["tx_dropped"]
    )


def _fullness(row: Mapping[str, Any]) -> float:
    return float(max(row.get("used_percent") or 0, row.get("inodes_used_percent") or 0))
