"""How the eval scenarios' host samples were written: a Kubernetes node's /proc and cgroups.

The eval scenarios are synthetic incidents (no real node was harmed): their ``cluster/``
files are written by hand in ``kubectl get -o yaml`` shape, and their ``host/NNN/``
samples by this script, in the exact formats a 6.x kernel with cgroup v2 and a kubelet
with the systemd cgroup driver produce. Each scenario's numbers (a container's memory
climbing, throttled periods, a full disk) are chosen here, sample by sample.

Regenerate after an edit (it rewrites only ``host/`` of the scenarios it knows)::

    python -m tests.evals.synth_host
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
HZ = 100  # USER_HZ: /proc tick counts
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
BOOT_UPTIME = 1_209_600.0  # two weeks up when the first sample was taken


@dataclass
class Proc:
    pid: int
    name: str
    cmdline: list[str]
    ppid: int = 1
    utime: int = 0  # ticks
    stime: int = 0
    threads: int = 1
    start: int = 1_000  # ticks after boot
    rss_kb: int = 10_000
    state: str = "S"
    uid: int = 0
    cgroup: str = "/system.slice"
    fd_size: int = 64  # the fd table's size in status (grows in powers of two with open fds)
    nofile: tuple[int, int] | None = None  # RLIMIT_NOFILE soft, hard: writes proc/<pid>/limits
    flags: int | None = None  # the kernel's PF_* flags; None: a user process or kernel thread


@dataclass
class Cgroup:
    path: str  # relative to /sys/fs/cgroup
    memory: int = 50 * MIB
    memory_max: int | None = None
    inactive_file: int = 4 * MIB
    active_file: int = 6 * MIB
    oom_kills: int = 0
    max_hits: int = 0
    cpu_quota_us: int | None = None  # per 100 ms period
    usage_usec: int = 10_000_000
    nr_periods: int = 0
    nr_throttled: int = 0
    throttled_usec: int = 0
    pids: int = 8
    pids_max: int | None = None
    # How many OOMs hit this cgroup's own limit (memory.events ``oom``); None: every kill did.
    # A victim of the global OOM killer counts an ``oom_kill`` without an ``oom``.
    limit_ooms: int | None = None
    # io.stat per device ("259:0"): rbytes, wbytes, rios, wios; None writes no io.stat.
    io: dict[str, tuple[int, int, int, int]] | None = None
    # <resource>.pressure "some" averages per resource (cpu, memory, io); None writes none.
    pressure: dict[str, tuple[float, float, float]] | None = None


@dataclass
class Pod:
    """A pod on the node: its cgroups and the kubelet's log folder names."""

    namespace: str
    name: str
    uid: str
    qos: str = "burstable"
    containers: dict[str, str] = field(default_factory=dict)  # name -> container id

    @property
    def slice(self) -> str:
        under = self.uid.replace("-", "_")
        if self.qos == "guaranteed":
            return f"kubepods.slice/kubepods-pod{under}.slice"
        return (f"kubepods.slice/kubepods-{self.qos}.slice/"
                f"kubepods-{self.qos}-pod{under}.slice")

    def scope(self, container: str) -> str:
        return f"{self.slice}/cri-containerd-{self.containers[container]}.scope"


@dataclass
class Sample:
    cores: int = 4
    mem_total_kb: int = 16_318_584
    mem_available_kb: int = 11_204_332
    # cumulative CPU ticks over all cores: user nice system idle iowait irq softirq steal
    cpu: tuple[int, ...] = (41_230_113, 12_021, 9_866_410, 412_331_087, 301_337, 0, 721_113, 0)
    load: tuple[float, float, float] = (0.62, 0.71, 0.66)
    running: int = 2
    forks: int = 4_113_270
    psi_cpu: tuple[float, float, float] = (0.0, 0.12, 0.21)
    psi_memory: tuple[float, float, float] = (0.0, 0.0, 0.0)
    psi_io: tuple[float, float, float] = (0.0, 0.04, 0.02)
    oom_kills: int = 0
    uptime: float = BOOT_UPTIME
    processes: list[Proc] = field(default_factory=list)
    cgroups: list[Cgroup] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    disks: dict[str, dict[str, int]] = field(default_factory=dict)
    pid_max: int = 4_194_304
    file_nr: tuple[int, int, int] = (19_232, 0, 9_223_372_036_854_775_807)
    threads_total: int | None = None  # loadavg's scheduling entities; None: ~the processes
    procs_blocked: int = 0
    page_cache_kb: int | None = None  # Cached in meminfo; None: the usual 5 GiB
    extra_files: dict[str, str] = field(default_factory=dict)  # e.g. var/log/kern.log
    extra_mounts: list[str] = field(default_factory=list)  # more /proc/mounts lines


def default_disks() -> dict[str, dict[str, int]]:
    return {
        "/": {"size": 104_091_082_752, "used": 38_112_419_840, "available": 61_526_994_944,
              "inodes": 6_553_600, "inodes_used": 412_227},
        "/var/lib/containerd": {"size": 211_243_687_936, "used": 58_920_312_832,
                                "available": 141_531_590_656, "inodes": 13_107_200,
                                "inodes_used": 1_003_412},
        "/boot/efi": {"size": 109_422_592, "used": 6_348_800, "available": 103_073_792,
                      "inodes": 0, "inodes_used": 0},
        "/run": {"size": 3_342_049_280, "used": 3_031_040, "available": 3_339_018_240,
                 "inodes": 819_200, "inodes_used": 1_037},
    }


def system_processes() -> list[Proc]:
    """What runs on every node outside pods, with plausible cumulative CPU ticks."""
    return [
        Proc(1, "systemd", ["/sbin/init"], ppid=0, utime=31_220, stime=40_118, start=2,
             rss_kb=13_312, cgroup="/init.scope"),
        Proc(412, "systemd-journal", ["/lib/systemd/systemd-journald"], utime=8_812,
             stime=12_330, start=310, rss_kb=61_440,
             cgroup="/system.slice/systemd-journald.service"),
        Proc(688, "containerd", ["/usr/bin/containerd"], utime=512_331, stime=214_890,
             threads=41, start=1_102, rss_kb=98_312,
             cgroup="/system.slice/containerd.service"),
        Proc(745, "kubelet", ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml",
                              "--kubeconfig=/etc/kubernetes/kubelet.conf",
                              "--container-runtime-endpoint=unix:///run/containerd/"
                              "containerd.sock"],
             utime=1_904_112, stime=611_020, threads=58, start=1_240, rss_kb=142_880,
             cgroup="/system.slice/kubelet.service"),
    ]


def system_cgroups() -> list[Cgroup]:
    return [
        Cgroup("system.slice", memory=1_212 * MIB, pids=182),
        Cgroup("system.slice/kubelet.service", memory=188 * MIB, pids=58,
               usage_usec=25_151_320_000),
        Cgroup("system.slice/containerd.service", memory=402 * MIB, pids=96,
               usage_usec=7_272_210_000),
        Cgroup("kubepods.slice", memory=4_210 * MIB, memory_max=15_602_335_744, pids=310),
        Cgroup("kubepods.slice/kubepods-burstable.slice", memory=3_180 * MIB, pids=240),
        Cgroup("kubepods.slice/kubepods-besteffort.slice", memory=310 * MIB, pids=40),
    ]


# --------------------------------------------------------------------------- writers


def write(root: Path, sample: Sample, node_mounts: str | None = None) -> None:
    proc = root / "proc"
    files: dict[str, str | bytes] = {
        "proc/loadavg": (f"{sample.load[0]:.2f} {sample.load[1]:.2f} {sample.load[2]:.2f} "
                         f"{sample.running}/{_tasks(sample)} 48211\n"),
        "proc/stat": _stat(sample),
        "proc/meminfo": _meminfo(sample),
        "proc/vmstat": _vmstat(sample),
        "proc/uptime": f"{sample.uptime:.2f} {sample.uptime * sample.cores * 0.86:.2f}\n",
        "proc/pressure/cpu": _psi(sample.psi_cpu, full=(0.0, 0.0, 0.0)),
        "proc/pressure/memory": _psi(sample.psi_memory,
                                     full=tuple(v / 3 for v in sample.psi_memory)),
        "proc/pressure/io": _psi(sample.psi_io, full=tuple(v / 2 for v in sample.psi_io)),
        "proc/sys/kernel/pid_max": f"{sample.pid_max}\n",
        "proc/sys/fs/file-nr": "\t".join(str(n) for n in sample.file_nr) + "\n",
        "proc/mounts": node_mounts or mounts(sample.pods, sample.extra_mounts),
        "proc/net/dev": _net_dev(sample.uptime),
        "sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
    }
    for process in sample.processes:
        base = f"proc/{process.pid}"
        files[f"{base}/stat"] = _pid_stat(process)
        files[f"{base}/status"] = _pid_status(process)
        files[f"{base}/cmdline"] = b"\0".join(a.encode() for a in process.cmdline) + (
            b"\0" if process.cmdline else b"")
        files[f"{base}/cgroup"] = f"0::{process.cgroup}\n"
        if process.nofile:
            files[f"{base}/limits"] = _pid_limits(process)
    for group in sample.cgroups:
        base = f"sys/fs/cgroup/{group.path}"
        for name, text in _cgroup_files(group).items():
            files[f"{base}/{name}"] = text
    for pod in sample.pods:
        (root / "var/log/pods" / f"{pod.namespace}_{pod.name}_{pod.uid}").mkdir(
            parents=True, exist_ok=True)
        for container, cid in pod.containers.items():
            path = root / "var/log/containers" / f"{pod.name}_{pod.namespace}_{container}-{cid}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    files.update(sample.extra_files)
    files["df.json"] = json.dumps(sample.disks or default_disks(), indent=2, sort_keys=True) + "\n"
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    assert proc.is_dir()


def _tasks(sample: Sample) -> int:
    """Scheduling entities (threads) that exist, loadavg's denominator."""
    return sample.threads_total or 412 + len(sample.processes)


def mounts(pods: list[Pod], extra: list[str] | None = None) -> str:
    lines = [
        "/dev/nvme0n1p1 / ext4 rw,relatime,discard,errors=remount-ro 0 0",
        "devtmpfs /dev devtmpfs rw,relatime,size=8148016k,nr_inodes=2037004,mode=755 0 0",
        "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0",
        "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0",
        "tmpfs /run tmpfs rw,nosuid,nodev,size=3263720k,nr_inodes=819200,mode=755 0 0",
        "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate,"
        "memory_recursiveprot 0 0",
        "/dev/nvme0n1p15 /boot/efi vfat rw,relatime,fmask=0077,dmask=0077,codepage=437,"
        "iocharset=iso8859-1,shortname=mixed,errors=remount-ro 0 0",
        "/dev/nvme1n1 /var/lib/containerd ext4 rw,relatime 0 0",
        "/dev/loop0 /snap/core20/2318 squashfs ro,nodev,relatime,errors=continue 0 0",
        *(extra or []),
    ]
    for pod in pods:
        lines.append(
            f"tmpfs /var/lib/kubelet/pods/{pod.uid}/volumes/kubernetes.io~projected/"
            "kube-api-access-7vq2x tmpfs rw,relatime,size=174080k 0 0")
        for cid in pod.containers.values():
            lines.append(
                f"overlay /run/containerd/io.containerd.runtime.v2.task/k8s.io/{cid}/rootfs "
                "overlay rw,relatime,lowerdir=/var/lib/containerd/io.containerd.snapshotter."
                "v1.overlayfs/snapshots/1812/fs,upperdir=/var/lib/containerd/io.containerd."
                "snapshotter.v1.overlayfs/snapshots/1833/fs,workdir=/var/lib/containerd/io."
                "containerd.snapshotter.v1.overlayfs/snapshots/1833/work 0 0")
    return "\n".join(lines) + "\n"


def _stat(s: Sample) -> str:
    lines = ["cpu  " + " ".join(str(v) for v in s.cpu) + " 0 0"]
    for core in range(s.cores):
        lines.append(f"cpu{core} " + " ".join(str(v // s.cores + core) for v in s.cpu) + " 0 0")
    lines += [
        "intr 2301988410 0 9 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
        "ctxt 6220318812",
        f"btime {1_715_700_000 - int(s.uptime)}",
        f"processes {s.forks}",
        f"procs_running {s.running}",
        f"procs_blocked {s.procs_blocked}",
        "softirq 1190288374 12 320114990 30912 198840221 811235 0 2281347 402218870 0 "
        "265982787",
    ]
    return "\n".join(lines) + "\n"


def _meminfo(s: Sample) -> str:
    total, available = s.mem_total_kb, s.mem_available_kb
    free = max(available - 6_102_448, 180_224)
    cached, active_file, inactive_file = 5_301_224, 2_207_788, 3_009_904
    if s.page_cache_kb is not None:
        cached = s.page_cache_kb
        active_file, inactive_file = cached * 2 // 5, cached - cached * 2 // 5
        # MemAvailable is about the free pages plus the reclaimable page cache and buffers.
        free = max(available - cached * 9 // 10 - 402_112, 68_212)
    rows = [
        ("MemTotal", total), ("MemFree", free), ("MemAvailable", available),
        ("Buffers", 402_112), ("Cached", cached), ("SwapCached", 0),
        ("Active", 3_904_512 + active_file), ("Inactive", 10_240 + inactive_file),
        ("Active(anon)", 3_904_512),
        ("Inactive(anon)", 10_240), ("Active(file)", active_file),
        ("Inactive(file)", inactive_file),
        ("Unevictable", 30_720), ("Mlocked", 27_648), ("SwapTotal", 0), ("SwapFree", 0),
        ("Zswap", 0), ("Zswapped", 0), ("Dirty", 1_204), ("Writeback", 0),
        ("AnonPages", total - available - 1_600_000), ("Mapped", 912_332), ("Shmem", 41_004),
        ("KReclaimable", 402_880), ("Slab", 612_004), ("SReclaimable", 402_880),
        ("SUnreclaim", 209_124), ("KernelStack", 21_888), ("PageTables", 38_412),
        ("SecPageTables", 0), ("NFS_Unstable", 0), ("Bounce", 0), ("WritebackTmp", 0),
        ("CommitLimit", total // 2), ("Committed_AS", 14_902_332),
        ("VmallocTotal", 34_359_738_367), ("VmallocUsed", 61_440), ("VmallocChunk", 0),
        ("Percpu", 10_368), ("HardwareCorrupted", 0), ("AnonHugePages", 0),
        ("ShmemHugePages", 0), ("ShmemPmdMapped", 0), ("FileHugePages", 0),
        ("FilePmdMapped", 0),
    ]
    lines = [f"{key + ':':<16}{value:>8} kB" for key, value in rows]
    lines += ["HugePages_Total:       0", "HugePages_Free:        0", "HugePages_Rsvd:        0",
              "HugePages_Surp:        0", "Hugepagesize:       2048 kB",
              "Hugetlb:               0 kB", "DirectMap4k:      339932 kB",
              "DirectMap2M:    12242944 kB", "DirectMap1G:     4194304 kB"]
    return "\n".join(lines) + "\n"


def _vmstat(s: Sample) -> str:
    rows = [
        ("nr_free_pages", s.mem_available_kb // 8), ("nr_zone_inactive_anon", 2_560),
        ("nr_zone_active_anon", 976_128), ("nr_zone_inactive_file", 752_476),
        ("nr_zone_active_file", 551_947), ("nr_zone_unevictable", 7_680),
        ("nr_zone_write_pending", 301), ("nr_mlock", 6_912), ("nr_bounce", 0),
        ("nr_free_cma", 0), ("nr_inactive_anon", 2_560), ("nr_active_anon", 976_128),
        ("nr_inactive_file", 752_476), ("nr_active_file", 551_947), ("nr_unevictable", 7_680),
        ("nr_slab_reclaimable", 100_720), ("nr_slab_unreclaimable", 52_281),
        ("nr_isolated_anon", 0), ("nr_isolated_file", 0), ("nr_anon_pages", 970_112),
        ("nr_mapped", 228_083), ("nr_file_pages", 1_425_834), ("nr_dirty", 301),
        ("nr_writeback", 0), ("nr_shmem", 10_251), ("pgpgin", 90_331_208),
        ("pgpgout", 402_911_332), ("pswpin", 0), ("pswpout", 0), ("pgalloc_normal", 2_911_203_330),
        ("pgfree", 2_914_881_002), ("pgactivate", 88_210_331), ("pgfault", 3_402_118_093),
        ("pgmajfault", 22_318), ("pgscan_kswapd", 1_203_311), ("pgscan_direct", 0),
        ("pgsteal_kswapd", 1_190_220), ("pgsteal_direct", 0), ("oom_kill", s.oom_kills),
        ("thp_fault_alloc", 0),
    ]
    return "\n".join(f"{key} {value}" for key, value in rows) + "\n"


def _psi(some: tuple[float, ...], full: tuple[float, ...]) -> str:
    def line(kind: str, values: tuple[float, ...]) -> str:
        total = int(sum(values) * 8_100_000) + 90_331
        return (f"{kind} avg10={values[0]:.2f} avg60={values[1]:.2f} avg300={values[2]:.2f} "
                f"total={total}")
    return line("some", some) + "\n" + line("full", full) + "\n"


def _net_dev(uptime: float) -> str:
    base = int(uptime * 1000)
    return (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
        "errs drop fifo colls carrier compressed\n"
        f"    lo: {base * 40} {base // 3} 0 0 0 0 0 0 {base * 40} {base // 3} 0 0 0 0 0 0\n"
        f"  ens5: {base * 95} {base} 0 0 0 0 0 0 {base * 61} {base // 2} 0 0 0 0 0 0\n"
    )


def _pid_stat(p: Proc) -> str:
    flags = 0x00200040 if not p.cmdline and p.pid > 1 else 0x00400100
    if p.flags is not None:
        flags = p.flags
    vsize = p.rss_kb * KIB * 3
    rss_pages = p.rss_kb // 4
    fields = [
        p.state, p.ppid, p.pid, p.pid, 0, -1, flags, 120_331, 0, 12, 0, p.utime, p.stime, 0, 0,
        20, 0, p.threads, 0, p.start, vsize, rss_pages, 18446744073709551615, 1, 1, 0, 0, 0, 0,
        0, 4096, 17_926, 0, 0, 0, 17, p.pid % 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]
    return f"{p.pid} ({p.name[:15]}) " + " ".join(str(f) for f in fields) + "\n"


def _pid_status(p: Proc) -> str:
    state = {"R": "R (running)", "S": "S (sleeping)", "D": "D (disk sleep)",
             "Z": "Z (zombie)"}[p.state]
    rows = [
        ("Name", p.name[:15]), ("Umask", "0022"), ("State", state), ("Tgid", p.pid),
        ("Ngid", 0), ("Pid", p.pid), ("PPid", p.ppid), ("TracerPid", 0),
        ("Uid", f"{p.uid}\t{p.uid}\t{p.uid}\t{p.uid}"),
        ("Gid", f"{p.uid}\t{p.uid}\t{p.uid}\t{p.uid}"), ("FDSize", p.fd_size), ("Groups", ""),
        ("NStgid", p.pid), ("NSpid", p.pid), ("NSpgid", p.pid), ("NSsid", p.pid),
        ("VmPeak", f"{p.rss_kb * 3 + 2048} kB"), ("VmSize", f"{p.rss_kb * 3} kB"),
        ("VmLck", "0 kB"), ("VmPin", "0 kB"), ("VmHWM", f"{p.rss_kb + 512} kB"),
        ("VmRSS", f"{p.rss_kb} kB"), ("RssAnon", f"{p.rss_kb * 4 // 5} kB"),
        ("RssFile", f"{p.rss_kb // 5} kB"), ("RssShmem", "0 kB"),
        ("VmData", f"{p.rss_kb * 2} kB"), ("VmStk", "132 kB"), ("VmExe", "2048 kB"),
        ("VmLib", "4096 kB"), ("VmPTE", "212 kB"), ("VmSwap", "0 kB"),
        ("HugetlbPages", "0 kB"), ("CoreDumping", 0), ("THP_enabled", 1),
        ("Threads", p.threads), ("SigQ", "0/63457"), ("SigPnd", "0000000000000000"),
        ("ShdPnd", "0000000000000000"), ("SigBlk", "0000000000000000"),
        ("SigIgn", "0000000000001000"), ("SigCgt", "0000000180004a02"),
        ("CapInh", "0000000000000000"), ("CapPrm", "000001ffffffffff"),
        ("CapEff", "000001ffffffffff"), ("CapBnd", "000001ffffffffff"),
        ("CapAmb", "0000000000000000"), ("NoNewPrivs", 0), ("Seccomp", 0),
        ("Seccomp_filters", 0), ("Speculation_Store_Bypass", "thread vulnerable"),
        ("Cpus_allowed", "f"), ("Cpus_allowed_list", "0-3"), ("Mems_allowed", "1"),
        ("Mems_allowed_list", "0"), ("voluntary_ctxt_switches", 48_112),
        ("nonvoluntary_ctxt_switches", 1_203),
    ]
    return "\n".join(f"{key}:\t{value}" for key, value in rows) + "\n"


def _pid_limits(p: Proc) -> str:
    soft, hard = p.nofile or (1_048_576, 1_048_576)
    rows = [
        ("Max cpu time", "unlimited", "unlimited", "seconds"),
        ("Max file size", "unlimited", "unlimited", "bytes"),
        ("Max data size", "unlimited", "unlimited", "bytes"),
        ("Max stack size", "8388608", "unlimited", "bytes"),
        ("Max core file size", "unlimited", "unlimited", "bytes"),
        ("Max resident set", "unlimited", "unlimited", "bytes"),
        ("Max processes", "unlimited", "unlimited", "processes"),
        ("Max open files", str(soft), str(hard), "files"),
        ("Max locked memory", "8388608", "8388608", "bytes"),
        ("Max address space", "unlimited", "unlimited", "bytes"),
        ("Max file locks", "unlimited", "unlimited", "locks"),
        ("Max pending signals", "63457", "63457", "signals"),
        ("Max msgqueue size", "819200", "819200", "bytes"),
        ("Max nice priority", "0", "0", ""),
        ("Max realtime priority", "0", "0", ""),
        ("Max realtime timeout", "unlimited", "unlimited", "us"),
    ]
    head = f"{'Limit':<26}{'Soft Limit':<21}{'Hard Limit':<21}{'Units':<10}"
    return "\n".join([head.rstrip(), *(f"{n:<26}{s:<21}{h:<21}{u:<10}".rstrip()
                                       for n, s, h, u in rows)]) + "\n"


def _cgroup_files(g: Cgroup) -> dict[str, str]:
    anon = max(g.memory - g.inactive_file - g.active_file - 3 * MIB, 0)
    stat_rows = [
        ("anon", anon), ("file", g.inactive_file + g.active_file), ("kernel", 2 * MIB),
        ("kernel_stack", 294_912), ("pagetables", 819_200), ("sec_pagetables", 0),
        ("percpu", 5_760), ("sock", 0), ("vmalloc", 0), ("shmem", 0), ("zswap", 0),
        ("zswapped", 0), ("file_mapped", g.active_file // 2), ("file_dirty", 0),
        ("file_writeback", 0), ("swapcached", 0), ("anon_thp", 0), ("file_thp", 0),
        ("shmem_thp", 0), ("inactive_anon", anon // 50), ("active_anon", anon - anon // 50),
        ("inactive_file", g.inactive_file), ("active_file", g.active_file),
        ("unevictable", 0), ("slab_reclaimable", 512_000), ("slab_unreclaimable", 301_056),
        ("slab", 813_056), ("workingset_refault_anon", 0), ("workingset_refault_file", 211),
        ("workingset_activate_anon", 0), ("workingset_activate_file", 40),
        ("workingset_restore_anon", 0), ("workingset_restore_file", 12),
        ("workingset_nodereclaim", 0), ("pgscan", 0), ("pgsteal", 0), ("pgfault", 1_803_311),
        ("pgmajfault", 41), ("pgrefill", 0), ("pgactivate", 2_113), ("pgdeactivate", 0),
        ("pglazyfree", 0), ("pglazyfreed", 0), ("thp_fault_alloc", 0),
        ("thp_collapse_alloc", 0),
    ]
    quota = f"{g.cpu_quota_us} 100000" if g.cpu_quota_us else "max 100000"
    files = {
        "memory.current": f"{g.memory}\n",
        "memory.max": f"{g.memory_max}\n" if g.memory_max else "max\n",
        "memory.events": (f"low 0\nhigh 0\nmax {g.max_hits}\n"
                          f"oom {g.oom_kills if g.limit_ooms is None else g.limit_ooms}\n"
                          f"oom_kill {g.oom_kills}\noom_group_kill 0\n"),
        "memory.stat": "".join(f"{k} {v}\n" for k, v in stat_rows),
        "cpu.max": quota + "\n",
        "cpu.stat": (f"usage_usec {g.usage_usec}\nuser_usec {g.usage_usec * 7 // 10}\n"
                     f"system_usec {g.usage_usec * 3 // 10}\nnr_periods {g.nr_periods}\n"
                     f"nr_throttled {g.nr_throttled}\nthrottled_usec {g.throttled_usec}\n"
                     "nr_bursts 0\nburst_usec 0\n"),
        "pids.current": f"{g.pids}\n",
        "pids.max": f"{g.pids_max}\n" if g.pids_max else "max\n",
    }
    if g.io is not None:
        files["io.stat"] = "".join(
            f"{device} rbytes={r} wbytes={w} rios={ri} wios={wi} dbytes=0 dios=0\n"
            for device, (r, w, ri, wi) in g.io.items())
    for resource, some in (g.pressure or {}).items():
        full = (0.0, 0.0, 0.0) if resource == "cpu" else tuple(v / 2 for v in some)
        files[f"{resource}.pressure"] = _psi(some, full=full)
    if g.memory_max is None:
        # Kept small: the skill reads memory.stat only near a limit (for the working set).
        del files["memory.stat"]
    return files


# --------------------------------------------------------------------------- timelines


def advance(sample: Sample, seconds: float, busy: float, iowait: float = 0.003,
            steal: float = 0.0) -> Sample:
    """The next sample of the node's CPU counters: ``busy`` of all cores for ``seconds``."""
    ticks = int(seconds * HZ * sample.cores)
    user, nice, system, idle, io, irq, soft, st = sample.cpu
    used = int(ticks * busy)
    waited, stolen = int(ticks * iowait), int(ticks * steal)
    return replace(
        sample,
        cpu=(user + used * 7 // 10, nice, system + used * 25 // 100,
             idle + ticks - used - waited - stolen, io + waited, irq,
             soft + used * 5 // 100, st + stolen),
        uptime=sample.uptime + seconds,
        forks=sample.forks + int(seconds * 3),
    )


def app_process(pod: Pod, container: str, pid: int, name: str, cmdline: list[str],
                **values: Any) -> Proc:
    """A process in a pod's container, started a day before the first sample."""
    return Proc(pid, name, cmdline, ppid=pid - 20, cgroup="/" + pod.scope(container),
                start=int((BOOT_UPTIME - 86_400) * HZ), **values)


def pod_cgroups(pod: Pod, container: str, **values: Any) -> list[Cgroup]:
    """A pod's slice and its one app container's scope, with the same limits.

    The sandbox (pause) container's scope is left out: a few hundred KiB and one pid.
    """
    scope = Cgroup(pod.scope(container), **values)
    pod_level = replace(scope, path=pod.slice, memory=scope.memory + 1 * MIB,
                        pids=scope.pids + 1)
    return [pod_level, scope]


def neighbours() -> tuple[list[Pod], list[Cgroup], list[Proc]]:
    """The ordinary pod every scenario's node also runs (kube-proxy, a DaemonSet)."""
    proxy = Pod("kube-system", "kube-proxy-7xq2m", "5f0c1d2e-8a9b-4c3d-9e1f-2a3b4c5d6e7f",
                qos="besteffort", containers={"kube-proxy": "4b" * 32})
    cgroups = pod_cgroups(proxy, "kube-proxy", memory=38 * MIB, pids=9)
    processes = [
        app_process(proxy, "kube-proxy", 2211, "kube-proxy",
                    ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                     "--hostname-override=$(NODE_NAME)"], utime=90_112, stime=60_331,
                    threads=12, rss_kb=41_000),
    ]
    return [proxy], cgroups, processes


Builder = Callable[[], list[Sample]]
BUILDERS: dict[str, Builder] = {}


def scenario(name: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        BUILDERS[name] = builder
        return builder
    return register


def base_sample(extra_pods: list[Pod], cgroups: list[Cgroup], processes: list[Proc],
                **values: Any) -> Sample:
    pods, ncg, nproc = neighbours()
    return Sample(
        processes=[*system_processes(), *nproc, *processes],
        cgroups=[*system_cgroups(), *ncg, *cgroups],
        pods=[*pods, *extra_pods],
        **values,
    )


# --------------------------------------------------------------------------- the scenarios


def usable(size: int) -> int:
    """What ext4 leaves to non-root writers: 5% of blocks are reserved for root."""
    return size - size // 20


def disks_at(used_percent: float | None = None, inodes_percent: float | None = None) -> dict[
        str, dict[str, int]]:
    disks = default_disks()
    root = disks["/"]
    if used_percent is not None:
        room = usable(root["size"])
        root["used"] = int(room * used_percent / 100)
        root["available"] = room - root["used"]
    if inodes_percent is not None:
        root["inodes_used"] = int(root["inodes"] * inodes_percent / 100)
    return disks


def timeline(first: Sample, seconds: float, count: int, busy: list[float],
             step: Callable[[int, Sample], Sample], iowait: float = 0.003) -> list[Sample]:
    """``count`` samples ``seconds`` apart; ``step`` sets what changes in sample i."""
    samples = [step(0, first)]
    for index in range(1, count):
        samples.append(step(index, advance(samples[-1], seconds, busy[index], iowait)))
    return samples


@scenario("memory-leak")
def memory_leak() -> list[Sample]:
    pod = Pod("payments", "ledger-5d8f7b9c6-q4wzt", "7c1e9a2b-3d4f-4a5b-8c6d-9e0f1a2b3c4d",
              containers={"ledger": "9e3f" * 16})
    climb = [322, 371, 420, 455, 478]  # MiB, one sample a minute, limit 512Mi

    def step(i: int, s: Sample) -> Sample:
        used = climb[i] * MIB
        cgroups = pod_cgroups(pod, "ledger", memory=used, memory_max=512 * MIB,
                              inactive_file=2 * MIB, active_file=3 * MIB,
                              cpu_quota_us=50_000, usage_usec=9_000_000_000 + i * 9_000_000,
                              nr_periods=402_113 + i * 600, nr_throttled=1_204 + i * 3,
                              throttled_usec=90_331_002 + i * 12_000, pids=23)
        process = app_process(pod, "ledger", 41_233, "ledger", ["/app/ledger", "serve",
                              "--listen=:8080"], utime=900_112 + i * 900,
                              stime=40_118 + i * 40, threads=19, rss_kb=used // KIB - 4_000)
        return base_sample([pod], cgroups, [process], cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks, load=(0.81, 0.77, 0.70),
                           mem_available_kb=11_204_332 - (climb[i] - 322) * 1024)

    return timeline(Sample(), 60, len(climb), [0.18] * len(climb), step)


@scenario("cpu-throttling")
def cpu_throttling() -> list[Sample]:
    pod = Pod("search", "indexer-6b7c8d9f4-m2kxp", "2b4d6f80-1a3c-4e5f-9a7b-3c5d7e9f1a2b",
              containers={"indexer": "5a7c" * 16})

    def step(i: int, s: Sample) -> Sample:
        cgroups = pod_cgroups(pod, "indexer", memory=611 * MIB, memory_max=1 * GIB,
                              cpu_quota_us=25_000,
                              usage_usec=3_400_000_000 + i * 7_500_000,
                              nr_periods=1_180_442 + i * 300, nr_throttled=803_101 + i * 214,
                              throttled_usec=190_331_000_000 + i * 52_000_000, pids=31)
        process = app_process(pod, "indexer", 18_402, "indexer",
                              ["/usr/bin/indexer", "--workers=8", "--batch=500"],
                              utime=340_000 + i * 525, stime=12_000 + i * 225, threads=16,
                              rss_kb=620_000)
        return base_sample([pod], cgroups, [process], cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks, load=(1.21, 1.18, 1.12), running=3)

    return timeline(Sample(), 30, 3, [0.22] * 3, step)


@scenario("liveness-probe-under-load")
def liveness_under_load() -> list[Sample]:
    pod = Pod("shop", "api-5c6d7e8f9-h7k2p", "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70",
              containers={"api": "7d1e" * 16})

    def step(i: int, s: Sample) -> Sample:
        cgroups = pod_cgroups(pod, "api", memory=402 * MIB, memory_max=768 * MIB,
                              cpu_quota_us=50_000, usage_usec=88_000_000 + i * 7_500_000,
                              nr_periods=2_410 + i * 150, nr_throttled=1_320 + i * 87,
                              throttled_usec=61_000_000 + i * 9_800_000, pids=48)
        process = app_process(pod, "api", 30_551, "java",
                              ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/api.jar"],
                              utime=8_100 + i * 540, stime=700 + i * 210, threads=48,
                              rss_kb=401_000)
        return base_sample([pod], cgroups, [process], cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks, load=(2.41, 2.10, 1.62), running=5,
                           psi_cpu=(9.8, 7.2, 3.1))

    return timeline(Sample(), 15, 3, [0.45] * 3, step)


@scenario("noisy-neighbour")
def noisy_neighbour() -> list[Sample]:
    web = Pod("shop", "web-6d5c4b3a2-r8t7y", "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968",
              containers={"web": "3e5f" * 16})
    batch = Pod("batch", "transcode-28571340-x7k2p", "6f5e4d3c-2b1a-4098-8e7f-6d5c4b3a2910",
                qos="besteffort", containers={"transcode": "b7c9" * 16})

    def step(i: int, s: Sample) -> Sample:
        cgroups = [
            *pod_cgroups(web, "web", memory=188 * MIB, memory_max=512 * MIB,
                         usage_usec=51_000_000_000 + i * 1_200_000, pids=12),
            *pod_cgroups(batch, "transcode", memory=2_310 * MIB,
                         usage_usec=4_100_000_000 + i * 56_700_000, pids=37),
        ]
        processes = [
            app_process(web, "web", 20_114, "node", ["node", "/srv/web/server.js"],
                        utime=503_112 + i * 90, stime=99_000 + i * 30, threads=11,
                        rss_kb=180_000),
            app_process(batch, "transcode", 52_871, "ffmpeg",
                        ["ffmpeg", "-i", "/work/in/lecture-0412.mov", "-c:v", "libx264",
                         "-preset", "veryslow", "-threads", "0", "/work/out/lecture-0412.mp4"],
                        utime=410_000 + i * 5_130, stime=21_000 + i * 540, threads=37,
                        rss_kb=2_300_000, state="R"),
        ]
        return base_sample([web, batch], cgroups, processes, cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks, load=(11.42, 9.81, 7.10), running=13,
                           psi_cpu=(71.32, 64.10, 40.22))

    return timeline(Sample(), 15, 3, [0.97] * 3, step)


@scenario("disk-full")
def disk_full() -> list[Sample]:
    pod = Pod("shop", "web-7b8c9d0e1-k2m4p", "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b",
              containers={"web": "2c4e" * 16})
    used = [95.4, 96.5, 97.3]

    def step(i: int, s: Sample) -> Sample:
        cgroups = pod_cgroups(pod, "web", memory=140 * MIB, memory_max=512 * MIB, pids=9)
        process = app_process(pod, "web", 15_020, "nginx", ["nginx: master process nginx",
                              "-g", "daemon off;"], utime=10_331, stime=8_002, rss_kb=9_000)
        return base_sample([pod], cgroups, [process], cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks, disks=disks_at(used_percent=used[i]),
                           psi_io=(4.1, 3.2, 2.0))

    return timeline(Sample(), 60, 3, [0.2] * 3, step)


@scenario("inode-exhaustion")
def inode_exhaustion() -> list[Sample]:
    pod = Pod("media", "thumbnailer-84c7d9f5b-zq8vn", "3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c6d",
              containers={"thumbnailer": "6d8f" * 16})
    inodes = [98.9, 99.4, 99.8]

    def step(i: int, s: Sample) -> Sample:
        cgroups = pod_cgroups(pod, "thumbnailer", memory=96 * MIB, memory_max=256 * MIB,
                              pids=6)
        process = app_process(pod, "thumbnailer", 33_812, "thumbnailer",
                              ["/usr/local/bin/thumbnailer", "--cache-dir=/var/cache/thumbs"],
                              utime=42_000 + i * 300, stime=91_000 + i * 700, rss_kb=61_000)
        return base_sample([pod], cgroups, [process], cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks, disks=disks_at(used_percent=41.0,
                                                         inodes_percent=inodes[i]))

    return timeline(Sample(), 60, 3, [0.16] * 3, step)


@scenario("fork-storm")
def fork_storm() -> list[Sample]:
    pod = Pod("ci", "build-runner-5f6a7b8c9-t4r2w", "9c8b7a6f-5e4d-4c3b-8a29-1f0e9d8c7b6a",
              containers={"runner": "8a1c" * 16})
    pids = [212, 640, 1019]

    def step(i: int, s: Sample) -> Sample:
        pod_level, scope = pod_cgroups(pod, "runner", memory=(300 + i * 180) * MIB,
                                       memory_max=4 * GIB, pids=pids[i])
        # podPidsLimit is enforced on the pod's cgroup; the container's own has no limit.
        cgroups = [replace(pod_level, pids_max=1024), scope]
        parent = app_process(pod, "runner", 61_020, "bash",
                             ["/bin/bash", "/ci/scripts/integration-tests.sh"], utime=3_100,
                             stime=9_800 + i * 1_900, threads=1, rss_kb=4_100)
        children = [
            replace(app_process(pod, "runner", 61_100 + n, "bash",
                                ["/bin/bash", "/ci/scripts/integration-tests.sh"],
                                utime=2, stime=40, rss_kb=3_300), ppid=61_020,
                    start=parent.start + 100 + n)
            for n in range(8)
        ]
        return base_sample([pod], cgroups, [parent, *children], cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks + i * 8_000, load=(6.21, 4.40, 2.10), running=9)

    return timeline(Sample(), 10, 3, [0.55] * 3, step)


@scenario("healthy")
def healthy() -> list[Sample]:
    api = Pod("shop", "api-7c9d8f6b5-b6n2v", "0e1d2c3b-4a59-4687-9a0b-c1d2e3f4a5b6",
              containers={"api": "1b3d" * 16})
    web = Pod("shop", "web-7b8c9d0e1-x5v7n", "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
              containers={"web": "4c6e" * 16})

    def step(i: int, s: Sample) -> Sample:
        cgroups = [
            *pod_cgroups(api, "api", memory=141 * MIB, memory_max=256 * MIB,
                         cpu_quota_us=100_000, usage_usec=7_100_000_000 + i * 1_500_000,
                         nr_periods=900_112 + i * 150, nr_throttled=2_010, pids=22),
            *pod_cgroups(web, "web", memory=92 * MIB, memory_max=256 * MIB, pids=9),
        ]
        processes = [
            app_process(api, "api", 40_115, "api", ["/app/api", "--port=8080"],
                        utime=610_000 + i * 110, stime=40_000 + i * 40, threads=14,
                        rss_kb=139_000),
            app_process(web, "web", 40_990, "nginx", ["nginx: master process nginx", "-g",
                        "daemon off;"], utime=9_100, stime=7_002, rss_kb=9_000),
        ]
        return base_sample([api, web], cgroups, processes, cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks)

    return timeline(Sample(), 15, 3, [0.12] * 3, step)



# ------------------------------------------------------------ node-level, pods sharing a node


@scenario("evicted-by-node-disk")
def evicted_by_node_disk() -> list[Sample]:
    api = Pod("shop", "checkout-api-zvknffswz-w5hzc", "a3c1e7d2-58f4-4b0e-9c6a-2d7e8f901b34",
              containers={"checkout-api": "c4e1" * 16})
    cart = Pod("shop", "cart-z6fcdg5pqb-m4q7s", "e4b2a9c1-7d3f-4e58-8a16-0c9b2d4f6e71",
               containers={"cart": "7a2d" * 16})
    fluentd = Pod("logging", "fluentd-7kq9w", "0d6f3b2a-9e41-4c7d-b58a-3f2e1d0c9b87",
                  containers={"fluentd": "f1d0" * 16})
    exporter = Pod("monitoring", "node-exporter-5qg8z", "9b7e5c3a-1f2d-4e6b-8a0c-7d5e3f1a2b9c",
                   containers={"node-exporter": "9e11" * 16})
    used = [90.3, 91.4, 92.5]  # of what non-root writers may use; kubelet evicts below 10% free

    def step(i: int, s: Sample) -> Sample:
        cgroups = [
            *pod_cgroups(api, "checkout-api", memory=702 * MIB, memory_max=1 * GIB,
                         usage_usec=8_120_000_000 + i * 9_600_000, pids=61,
                         io={"259:0": (88_113_152, 2_402_113_536 + i * 3_100_000,
                                       9_102, 301_223 + i * 410)}),
            *pod_cgroups(cart, "cart", memory=231 * MIB, memory_max=512 * MIB,
                         usage_usec=1_020_000_000 + i * 2_100_000, pids=17),
            # The buffer's writes land in fluentd's cgroup; the files are on a hostPath.
            *pod_cgroups(fluentd, "fluentd", memory=388 * MIB, memory_max=512 * MIB,
                         usage_usec=30_410_000_000 + i * 14_200_000, pids=24,
                         io={"259:0": (9_801_331_712 + i * 41_000_000,
                                       71_288_102_912 + i * 1_120_000_000,
                                       1_220_331 + i * 5_100, 9_810_442 + i * 71_000)}),
            *pod_cgroups(exporter, "node-exporter", memory=21 * MIB, memory_max=128 * MIB,
                         usage_usec=402_000_000 + i * 300_000, pids=8),
        ]
        processes = [
            app_process(api, "checkout-api", 24_410, "java",
                        ["java", "-XX:MaxRAMPercentage=70", "-jar", "/app/checkout-api.jar"],
                        utime=801_220 + i * 640, stime=92_110 + i * 320, threads=61,
                        rss_kb=690_000),
            app_process(cart, "cart", 19_872, "cart", ["/app/cart", "--port=8080"],
                        utime=80_114 + i * 120, stime=20_410 + i * 90, threads=17,
                        rss_kb=226_000),
            app_process(fluentd, "fluentd", 8_811, "ruby",
                        ["ruby", "/usr/local/bundle/bin/fluentd", "-c", "/fluentd/etc/fluent.conf",
                         "-p", "/fluentd/plugins", "--gemfile", "/fluentd/Gemfile"],
                        utime=2_101_332 + i * 820, stime=940_118 + i * 600, threads=24,
                        rss_kb=380_000, state="D" if i == 1 else "S"),
            app_process(exporter, "node-exporter", 7_102, "node_exporter",
                        ["/bin/node_exporter", "--path.rootfs=/host"], utime=30_100 + i * 20,
                        stime=10_020 + i * 10, threads=8, rss_kb=20_000),
        ]
        return base_sample([api, cart, fluentd, exporter], cgroups, processes, cpu=s.cpu,
                           uptime=s.uptime, forks=s.forks, load=(1.32, 1.24, 1.10), running=2,
                           disks=disks_at(used_percent=used[i]), psi_io=(6.2, 5.8, 4.9),
                           mem_available_kb=9_842_112)

    return timeline(Sample(), 60, 3, [0.31] * 3, step)



@scenario("enospc-inodes-neighbour")
def enospc_inodes_neighbour() -> list[Sample]:
    receipts = Pod("billing", "receipts-lcm7r8dzj-k7w2n", "4c2e8a1f-6b3d-4f7e-9a05-1d8c3e6b2f90",
                   containers={"receipts": "5b0e" * 16})
    spooler = Pod("analytics", "clickstream-spooler-5sf6lw78fk-8hq4r",
                  "8d1f4b6a-2c9e-4a3d-b7f0-5e6a9c1d3b28", containers={"spooler": "a9c3" * 16})
    sessionizer = Pod("analytics", "sessionizer-pcl7zmcbd4-m2t7b",
                      "1e7c3a9b-5d2f-4b8e-a6c0-9f3d1b7e5a42",
                      containers={"sessionizer": "3d7b" * 16})
    inodes = [99.81, 99.93, 99.98]

    def step(i: int, s: Sample) -> Sample:
        cgroups = [
            *pod_cgroups(receipts, "receipts", memory=301 * MIB, memory_max=768 * MIB,
                         usage_usec=2_410_000_000 + i * 4_100_000, pids=7,
                         io={"259:0": (40_331_264, 1_808_113_664 + i * 210_000,
                                       3_310, 90_114 + i * 30)}),
            *pod_cgroups(spooler, "spooler", memory=188 * MIB, memory_max=512 * MIB,
                         cpu_quota_us=100_000, usage_usec=61_200_000_000 + i * 21_000_000,
                         nr_periods=1_520_331 + i * 600, nr_throttled=4_102 + i * 2,
                         throttled_usec=80_110_000 + i * 40_000, pids=14,
                         io={"259:0": (1_201_664_000, 33_890_112_512 + i * 30_720_000,
                                       88_102, 19_204_331 + i * 10_000)}),
            *pod_cgroups(sessionizer, "sessionizer", memory=3_412 * MIB, memory_max=4 * GIB,
                         inactive_file=210 * MIB, active_file=180 * MIB,
                         usage_usec=190_000_000_000 + i * 52_000_000, pids=41),
        ]
        processes = [
            app_process(receipts, "receipts", 31_002, "gunicorn",
                        ["/usr/local/bin/python3", "/usr/local/bin/gunicorn", "receipts.wsgi:app",
                         "--bind=0.0.0.0:8000", "--workers=3", "--access-logfile=-"],
                        utime=120_331 + i * 200, stime=30_110 + i * 70, rss_kb=88_000),
            app_process(spooler, "spooler", 28_410, "spooler",
                        ["/usr/local/bin/spooler", "--spool-dir=/var/lib/clickstream-spool",
                         "--kafka-brokers=kafka-0.kafka.analytics.svc:9092", "--topic=clickstream",
                         "--upload-bucket=acme-clickstream-raw", "--batch-files=5000"],
                        utime=1_710_203 + i * 900, stime=4_410_882 + i * 1_200, threads=14,
                        rss_kb=170_000),
            app_process(sessionizer, "sessionizer", 22_118, "java",
                        ["java", "-Xmx3g", "-jar", "/app/sessionizer.jar"],
                        utime=16_020_113 + i * 4_200, stime=1_402_331 + i * 500, threads=41,
                        rss_kb=3_390_000),
        ]
        return base_sample([receipts, spooler, sessionizer], cgroups, processes, cpu=s.cpu,
                           uptime=s.uptime, forks=s.forks, load=(1.71, 1.66, 1.58), running=2,
                           disks=disks_at(used_percent=51.0, inodes_percent=inodes[i]),
                           mem_available_kb=7_402_880, psi_io=(1.9, 1.7, 1.4))

    return timeline(Sample(), 60, 3, [0.38] * 3, step)



@scenario("fork-fails-node-pids")
def fork_fails_node_pids() -> list[Sample]:
    sync = Pod("catalog", "catalog-sync-pv2c48jqb-r6x2k", "7a3e9c1b-2f5d-4e8a-b6c0-4d1f7e3a9b25",
               containers={"catalog-sync": "c7328a5318881660cfe07aa6bf35e3d5"
                                           "22cddfc7d77d8cbf82090f0657bd19eb"})
    api = Pod("catalog", "catalog-api-sd6ms8vc22-z9m3w", "3b8d2f6e-9a1c-4d7b-8e50-2c6a4f9d1e37",
              containers={"catalog-api": "1f4c" * 16})
    renderer = Pod("reports", "pdf-renderer-7vczgkbrt-h4t8n",
                   "5c9a1e7d-3b6f-4a2c-9d84-6f0b2e8c4a13", containers={"pdf-renderer": "c8e0" * 16})
    tasks = [29_412, 30_118, 30_466]  # in pdf-renderer's cgroup, zombies included; no pids.max
    sysctl = ("# CIS 1.5.x: bounded process table\nkernel.pid_max = 32768\n"
              "kernel.randomize_va_space = 2\n")

    def step(i: int, s: Sample) -> Sample:
        cgroups = [
            # catalog-sync waits in CrashLoopBackOff: its pod has no running container.
            *pod_cgroups(api, "catalog-api", memory=1_588 * MIB, memory_max=2 * GIB,
                         inactive_file=40 * MIB, active_file=61 * MIB,
                         usage_usec=40_200_000_000 + i * 9_000_000, pids=212),
            *pod_cgroups(renderer, "pdf-renderer", memory=2_301 * MIB, memory_max=3 * GIB,
                         inactive_file=120 * MIB, active_file=96 * MIB,
                         usage_usec=88_100_000_000 + i * 24_000_000, pids=tasks[i]),
        ]
        server = app_process(renderer, "pdf-renderer", 14_220, "node", ["node", "/app/server.js"],
                             utime=2_120_331 + i * 1_400, stime=881_204 + i * 900, threads=11,
                             rss_kb=190_000)
        browser = replace(app_process(renderer, "pdf-renderer", 71_830, "chromium",
                                      ["/usr/lib/chromium/chromium", "--headless=new",
                                       "--no-sandbox", "--disable-gpu", "--user-data-dir=/tmp/"
                                       "puppeteer_dev_chrome_profile-Xk2m9q"],
                                      utime=40_110 + i * 600, stime=9_020 + i * 200,
                                      threads=23, rss_kb=310_000), ppid=14_220)
        # Abandoned browsers' children, reparented to the container's PID 1, never reaped.
        zombies = [replace(app_process(renderer, "pdf-renderer", 88_127 + 37 * n, "chromium", [],
                                       utime=310, stime=90, rss_kb=0, state="Z"),
                           ppid=14_220, flags=0x00400104) for n in range(12)]
        java = app_process(api, "catalog-api", 12_031, "java",
                           ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/catalog-api.jar"],
                           utime=3_902_113 + i * 800, stime=402_118 + i * 300, threads=212,
                           rss_kb=1_560_000)
        return base_sample([sync, api, renderer], cgroups, [server, browser, *zombies, java],
                           cpu=s.cpu, uptime=s.uptime, forks=s.forks + i * 640,
                           load=(3.12, 2.88, 2.41), running=3, pid_max=32_768,
                           threads_total=tasks[i] + 2_248,
                           extra_files={"etc/sysctl.d/60-cis-hardening.conf": sysctl})

    return timeline(Sample(), 30, 3, [0.42] * 3, step)



def with_cgroup(sample: Sample, path: str, **values: Any) -> Sample:
    """``sample`` with the cgroup at ``path`` (e.g. kubepods.slice) changed."""
    cgroups = [replace(g, **values) if g.path == path else g for g in sample.cgroups]
    return replace(sample, cgroups=cgroups)


def global_oom_report(host: str, when: str, invoker: tuple[str, int, str],
                      victim: tuple[str, int, str], rss_kb: int, score_adj: int) -> str:
    """The kernel's report of one global (CONSTRAINT_NONE) OOM kill, as kern.log keeps it.

    ``invoker`` and ``victim`` are (command, pid, cgroup path): the task whose allocation
    failed and the one killed.
    """
    comm, pid, invoker_memcg = invoker
    task, victim_pid, victim_memcg = victim
    scope = invoker_memcg.rsplit("/", 1)[1]
    lines = [
        f"{comm} invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), "
        "order=0, oom_score_adj=-997",
        f"CPU: 2 PID: {pid} Comm: {comm} Not tainted 6.1.91-99.172.amzn2023.x86_64 #1",
        "Hardware name: Amazon EC2 m6i.xlarge/, BIOS 1.0 10/16/2017",
        "Mem-Info:",
        "active_anon:3690112 inactive_anon:2210 isolated_anon:0",
        " active_file:412 inactive_file:318 isolated_file:0",
        " unevictable:7680 dirty:0 writeback:0",
        " slab_reclaimable:21002 slab_unreclaimable:52114",
        " mapped:901 shmem:10251 pagetables:14118",
        " sec_pagetables:0 bounce:0",
        " kernel_misc_reclaimable:0",
        " free:22881 free_pcp:118 free_cma:0",
        "Tasks state (memory values in pages):",
        f"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset={scope},mems_allowed=0,"
        f"global_oom,task_memcg=/{victim_memcg},task={task},pid={victim_pid},uid=1000",
        f"Out of memory: Killed process {victim_pid} ({task}) total-vm:{rss_kb * 5}kB, "
        f"anon-rss:{rss_kb}kB, file-rss:21440kB, shmem-rss:0kB, UID:1000 pgtables:2604kB "
        f"oom_score_adj:{score_adj}",
    ]
    return "".join(f"{when} {host} kernel: {line}\n" for line in lines)


@scenario("oom-killed-by-node-memory")
def oom_killed_by_node_memory() -> list[Sample]:
    api = Pod("orders", "orders-api-vqlfq249h-c8n2p", "6d2b8f4e-1a7c-4e9d-b3f5-8c0a2e6d4b19",
              containers={"orders-api": "0a7e" * 16})
    worker = Pod("orders", "orders-worker-x6rcvsnsv-w2r7j", "2f9c5a1e-8d3b-4f6a-a0e7-4b1d9c3f5e82",
                 containers={"orders-worker": "b3d5" * 16})
    agent = Pod("telemetry", "otel-agent-n7d4x", "9e4a2c6f-7b1d-4a3e-8f50-1c7d3b9e5a64",
                qos="besteffort", containers={"otel-agent": "d7f9" * 16})
    agent_gib = [9.91, 10.22, 10.49]
    available_kb = [312_004, 221_880, 148_212]
    host = "ip-10-0-5-12"
    kern = "".join(
        global_oom_report(host, when, ("otelcol-contrib", 9_921, agent.scope("otel-agent")),
                          ("java", pid, api.scope("orders-api")), rss, 936)
        for when, pid, rss in [("Jun 14 15:21:07", 30_551, 1_012_332),
                               ("Jun 14 15:24:52", 41_877, 968_004)])

    def step(i: int, s: Sample) -> Sample:
        agent_bytes = int(agent_gib[i] * GIB)
        cgroups = [
            # Killed twice by the global OOM killer, never at its own limit (oom 0).
            *pod_cgroups(api, "orders-api", memory=(641 + 31 * i) * MIB, memory_max=1_536 * MIB,
                         inactive_file=2 * MIB, active_file=5 * MIB, oom_kills=2, limit_ooms=0,
                         usage_usec=61_000_000 + i * 9_900_000, pids=58,
                         pressure={"memory": (21.4, 17.9, 6.2)}),
            *pod_cgroups(worker, "orders-worker", memory=676 * MIB, memory_max=768 * MIB,
                         inactive_file=3 * MIB, active_file=4 * MIB,
                         usage_usec=9_800_000_000 + i * 3_000_000, pids=33),
            *pod_cgroups(agent, "otel-agent", memory=agent_bytes,
                         usage_usec=301_000_000_000 + i * 31_000_000, pids=19),
        ]
        processes = [
            app_process(api, "orders-api", 52_310, "java",
                        ["java", "-XX:MaxRAMPercentage=65", "-XX:+ExitOnOutOfMemoryError", "-jar",
                         "/app/orders-api.jar"], utime=6_100 + i * 990, stime=1_204 + i * 120,
                        threads=58, rss_kb=(641 + 31 * i) * 1024 - 9_000, uid=1000),
            app_process(worker, "orders-worker", 20_114, "java",
                        ["java", "-Xmx512m", "-jar", "/app/orders-worker.jar"],
                        utime=980_112 + i * 300, stime=80_331 + i * 90, threads=33,
                        rss_kb=680_000, uid=1000),
            app_process(agent, "otel-agent", 9_921, "otelcol-contrib",
                        ["/otelcol-contrib", "--config=/conf/agent.yaml"],
                        utime=30_100_223 + i * 2_100, stime=1_902_118 + i * 1_000, threads=19,
                        rss_kb=agent_bytes // KIB - 40_000),
        ]
        sample = base_sample([api, worker, agent], cgroups, processes, cpu=s.cpu,
                             uptime=s.uptime, forks=s.forks, load=(3.41, 2.92, 2.20), running=4,
                             mem_available_kb=available_kb[i], page_cache_kb=391_204,
                             psi_memory=(38.2 + i * 4, 30.1 + i * 2, 14.7 + i), oom_kills=2,
                             extra_files={"var/log/kern.log": kern})
        pods_bytes = agent_bytes + (641 + 31 * i + 676 + 40) * MIB
        sample = with_cgroup(sample, "kubepods.slice", memory=pods_bytes)
        return with_cgroup(sample, "kubepods.slice/kubepods-besteffort.slice",
                           memory=agent_bytes + 40 * MIB)

    return timeline(Sample(), 30, 3, [0.55] * 3, step)



@scenario("db-latency-io-neighbour")
def db_latency_io_neighbour() -> list[Sample]:
    db = Pod("inventory", "inventory-db-0", "1c7e3a5f-9b2d-4e6a-8f14-3d9b5c7e1a26",
             containers={"postgres": "e2c4" * 16})
    backup = Pod("backup", "volume-backup-28640520-6xk2f", "4f8b2d6a-3e1c-4a9f-b7d5-6c2e8a0f4b31",
                 containers={"restic": "5f3a" * 16})
    media = Pod("media", "media-server-rh824h4vp-p7n4c", "8a0c4e2f-6d1b-4b7a-9e35-2f8d6b0c4a19",
                containers={"media-server": "8b6d" * 16})
    local = "259:2"  # nvme2n1, the instance store local-path volumes live on
    disks = default_disks()
    disks["/opt/local-path-provisioner"] = {
        "size": 3_750_000_000_000, "used": 2_210_331_000_000, "available": 1_539_669_000_000,
        "inodes": 228_882_432, "inodes_used": 3_120_441}
    store = ("/dev/nvme2n1 /opt/local-path-provisioner ext4 rw,noatime 0 0")

    def step(i: int, s: Sample) -> Sample:
        cgroups = [
            *pod_cgroups(db, "postgres", memory=7_310 * MIB, memory_max=8 * GIB,
                         inactive_file=3_900 * MIB, active_file=1_020 * MIB,
                         usage_usec=902_000_000_000 + i * 2_100_000, pids=41,
                         io={local: (1_204_331_000_000 + i * 61_000_000,
                                     880_112_000_000 + i * 39_000_000,
                                     90_331_204 + i * 7_020, 61_204_118 + i * 3_110)},
                         pressure={"io": (71.2, 60.4, 28.9), "cpu": (0.8, 0.6, 0.4)}),
            *pod_cgroups(backup, "restic", memory=1_402 * MIB, memory_max=2 * GIB,
                         inactive_file=610 * MIB, active_file=300 * MIB,
                         usage_usec=1_010_000_000 + i * 9_300_000, pids=14,
                         io={local: (857_102_000_000 + i * 5_412_000_000, 310_224_000,
                                     6_902_331 + i * 88_104, 10_331)},
                         pressure={"io": (12.1, 10.8, 5.0)}),
            *pod_cgroups(media, "media-server", memory=402 * MIB, memory_max=1 * GIB,
                         usage_usec=80_100_000_000 + i * 900_000, pids=22,
                         io={local: (90_112_000_000 + i * 2_100_000, 301_221_000_000 + i * 400_000,
                                     8_102_331 + i * 210, 12_301_004 + i * 40)}),
        ]
        processes = [
            app_process(db, "postgres", 3_102, "postgres",
                        ["postgres", "-c", "shared_buffers=2GB", "-c",
                         "log_min_duration_statement=500"], utime=1_902_331 + i * 40,
                        stime=880_112 + i * 30, rss_kb=2_210_000, uid=999),
            replace(app_process(db, "postgres", 3_161, "postgres",
                                ["postgres: checkpointer "], utime=40_112, stime=190_331 + i * 12,
                                rss_kb=2_100_000, uid=999, state="D"), ppid=3_102),
            replace(app_process(db, "postgres", 4_812, "postgres",
                                ["postgres: inventory inventory 10.0.6.140(51244) UPDATE"],
                                utime=8_112 + i * 10, stime=2_331 + i * 6, rss_kb=380_000,
                                uid=999, state="D"), ppid=3_102),
            app_process(backup, "restic", 77_020, "restic",
                        ["restic", "backup", "--host", "ip-10-0-6-31.eu-west-1.compute.internal",
                         "--tag", "nightly", "/volumes"], utime=61_002 + i * 620,
                        stime=40_331 + i * 310, threads=14, rss_kb=1_380_000,
                        state="D" if i % 2 else "R"),
            app_process(media, "media-server", 21_880, "media-server",
                        ["/app/media-server", "--root=/srv/uploads"], utime=402_113 + i * 60,
                        stime=120_331 + i * 30, threads=22, rss_kb=390_000),
        ]
        return base_sample([db, backup, media], cgroups, processes, cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks, load=(9.84, 8.71, 5.12), running=2, procs_blocked=8,
                           mem_total_kb=32_312_604, mem_available_kb=19_804_332,
                           psi_io=(64.3 + i * 2, 58.1 + i, 31.0 + i), disks=disks,
                           extra_mounts=[store])

    return timeline(Sample(), 15, 3, [0.22] * 3, step, iowait=0.41)



@scenario("liveness-restarts-cpu-neighbour")
def liveness_restarts_cpu_neighbour() -> list[Sample]:
    gateway = Pod("edge", "gateway-74vm54hvx-s5j8w", "3e9b5d1a-7c2f-4a8e-b604-9d1f3b7e5c28",
                  containers={"gateway": "2d8f" * 16})
    notifier = Pod("edge", "notifier-kwdttssmt8-r4k8v", "5b3d7f9a-1c4e-4b2a-8d60-2e9c4a6f8b17",
                   containers={"notifier": "6c0e" * 16})
    worker = Pod("ml", "embedding-worker-6pzxs2q589-q2m6t", "7c1e9b3d-5a2f-4d8c-a617-0b4e8d2f6c93",
                 containers={"embedding-worker": "9a4c" * 16})

    def step(i: int, s: Sample) -> Sample:
        cgroups = [
            # No CPU limit: never throttled, but it waits for a CPU most of the time.
            *pod_cgroups(gateway, "gateway", memory=71 * MIB, memory_max=256 * MIB,
                         usage_usec=190_000_000 + i * 2_900_000, pids=14,
                         pressure={"cpu": (62.3, 55.1, 30.2)}),
            *pod_cgroups(notifier, "notifier", memory=40 * MIB, memory_max=128 * MIB,
                         cpu_quota_us=20_000, usage_usec=3_100_000_000 + i * 300_000,
                         nr_periods=1_780_221 + i * 150, nr_throttled=1_203 + i,
                         throttled_usec=40_112_000 + i * 20_000, pids=6),
            *pod_cgroups(worker, "embedding-worker", memory=3_620 * MIB, memory_max=6 * GIB,
                         inactive_file=30 * MIB, active_file=1_310 * MIB,
                         usage_usec=5_020_000_000 + i * 55_200_000, pids=37,
                         pressure={"cpu": (9.1, 8.4, 5.2)}),
        ]
        processes = [
            app_process(gateway, "gateway", 40_331, "gateway",
                        ["/usr/local/bin/gateway", "--config=/etc/gateway/routes.yaml"],
                        utime=2_110 + i * 210, stime=820 + i * 80, threads=14, rss_kb=66_000),
            app_process(notifier, "notifier", 18_204, "notifier", ["/app/notifier"],
                        utime=210_331 + i * 20, stime=90_112 + i * 10, threads=6, rss_kb=36_000),
            app_process(worker, "embedding-worker", 39_770, "python",
                        ["python", "-m", "embedder.worker", "--model=/models/e5-large-v2",
                         "--workers=4", "--queue=embed-requests"],
                        utime=480_112 + i * 5_300, stime=22_004 + i * 220, threads=37,
                        rss_kb=3_580_000, state="R"),
        ]
        return base_sample([gateway, notifier, worker], cgroups, processes, cpu=s.cpu,
                           uptime=s.uptime, forks=s.forks, load=(17.8, 15.2, 9.6), running=17,
                           psi_cpu=(78.4, 71.2, 44.0), mem_available_kb=9_120_331)

    return timeline(Sample(), 15, 3, [0.99] * 3, step)



@scenario("oomkilled-leak-node-fine")
def oomkilled_leak_node_fine() -> list[Sample]:
    token = Pod("auth", "token-service-pkdrqbnq4-n2w7q", "0b6d2f8a-4c1e-4e7b-9a53-7d2b6f0c8e41",
                containers={"token-service": "4e6a" * 16, "envoy": "8c2e" * 16})
    search = Pod("search", "opensearch-data-0", "6a2e8c4f-0d3b-4f1a-b795-3e7a1c5d9f26",
                 containers={"opensearch": "7e1b" * 16})
    climb = [331, 338, 345, 352]  # MiB, a minute apart, ten minutes after the 4th OOM kill

    def step(i: int, s: Sample) -> Sample:
        used = climb[i] * MIB
        app_scope = Cgroup(token.scope("token-service"), memory=used, memory_max=512 * MIB,
                           inactive_file=1 * MIB, active_file=2 * MIB, oom_kills=4, max_hits=1_240,
                           usage_usec=240_000_000 + i * 11_000_000, pids=17)
        envoy_scope = Cgroup(token.scope("envoy"), memory=88 * MIB, memory_max=256 * MIB,
                             usage_usec=1_900_000_000 + i * 2_400_000, pids=21)
        pod_level = Cgroup(token.slice, memory=used + 89 * MIB, memory_max=768 * MIB,
                           oom_kills=4, max_hits=1_240,  # memory.events counts the subtree
                           usage_usec=2_140_000_000 + i * 13_400_000, pids=39)
        cgroups = [
            pod_level, app_scope, envoy_scope,
            *pod_cgroups(search, "opensearch", memory=9_830 * MIB, memory_max=10 * GIB,
                         inactive_file=4_700 * MIB, active_file=520 * MIB,
                         usage_usec=9_020_000_000_000 + i * 12_000_000, pids=118),
        ]
        processes = [
            app_process(token, "token-service", 60_210, "token-service",
                        ["/usr/local/bin/token-service", "--grpc=:9000"], utime=21_002 + i * 820,
                        stime=3_112 + i * 280, threads=17, rss_kb=used // KIB - 6_000),
            app_process(token, "envoy", 9_902, "envoy",
                        ["envoy", "-c", "/etc/envoy/envoy.yaml"], utime=150_331 + i * 190,
                        stime=40_220 + i * 50, threads=21, rss_kb=86_000),
            app_process(search, "opensearch", 8_120, "java",
                        ["/usr/share/opensearch/jdk/bin/java", "-Xms4g", "-Xmx4g",
                         "org.opensearch.bootstrap.OpenSearch"], utime=61_020_331 + i * 900,
                        stime=5_120_004 + i * 300, threads=118, rss_kb=4_810_000, uid=1000),
        ]
        return base_sample([token, search], cgroups, processes, cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks, load=(0.94, 0.88, 0.91), running=2,
                           mem_total_kb=32_312_604, mem_available_kb=20_910_332,
                           page_cache_kb=9_840_112)

    return timeline(Sample(), 60, len(climb), [0.21] * len(climb), step)



@scenario("latency-cpu-quota-idle-node")
def latency_cpu_quota_idle_node() -> list[Sample]:
    resizers = [
        Pod("media", "image-resizer-pbstc7qpm-x4k9p", "2a8c4e6f-0b1d-4d3a-9e72-5f1b3d7a9c40",
            containers={"image-resizer": "3b9d" * 16}),
        Pod("media", "image-resizer-pbstc7qpm-m7t2c", "9f1d3b5a-7e2c-4c8b-a046-1d5f9b3e7a62",
            containers={"image-resizer": "5d1f" * 16}),
    ]
    runner = Pod("ci", "build-runner-m5h6b6t4m6-z8d4k", "4d0f6b8a-2e3c-4a5d-b917-6c3e5a7f9b28",
                 qos="guaranteed", containers={"runner": "a1c3" * 16})

    def step(i: int, s: Sample) -> Sample:
        cgroups: list[Cgroup] = []
        processes: list[Proc] = []
        for n, pod in enumerate(resizers):
            # 200m: 20 ms per 100 ms period, throttled in ~86% of the periods
            cgroups += pod_cgroups(pod, "image-resizer", memory=(301 + 40 * n) * MIB,
                                   memory_max=1 * GIB, cpu_quota_us=20_000,
                                   usage_usec=4_100_000_000 + n * 90_000_000 + i * 5_910_000,
                                   nr_periods=2_460_331 + n * 4_002 + i * 300,
                                   nr_throttled=2_101_880 + n * 3_310 + i * 258,
                                   throttled_usec=310_224_000_000 + n * 1_000_000 + i * 15_480_000,
                                   pids=9)
            processes.append(app_process(pod, "image-resizer", 30_112 + 400 * n, "image-resizer",
                                         ["/app/image-resizer", "--listen=:8080"],
                                         utime=410_112 + i * 420, stime=20_331 + i * 170,
                                         threads=9, rss_kb=(296 + 40 * n) * 1024))
        cgroups += pod_cgroups(runner, "runner", memory=2_310 * MIB, memory_max=4 * GIB,
                               cpu_quota_us=200_000, usage_usec=30_100_000_000 + i * 48_000_000,
                               nr_periods=221_004 + i * 300, nr_throttled=26_520 + i * 36,
                               throttled_usec=1_902_331_000 + i * 2_880_000, pids=61)
        make = app_process(runner, "runner", 51_002, "make", ["make", "-j8", "all"],
                           utime=1_220 + i * 10, stime=3_300 + i * 20, rss_kb=9_000)
        compilers = [replace(app_process(runner, "runner", 52_100 + 13 * k + 200 * i, "cc1plus",
                                         ["/usr/libexec/gcc/x86_64-linux-gnu/12/cc1plus", "-quiet",
                                          f"src/codec/part{k + 8 * i}.cc", "-O2"],
                                         utime=310 + 40 * k, stime=22, rss_kb=180_000,
                                         state="R"), ppid=51_002) for k in range(8)]
        processes += [make, *compilers]
        return base_sample([*resizers, runner], cgroups, processes, cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks + i * 410, load=(5.81, 5.42, 4.93), running=9,
                           psi_cpu=(3.1, 2.8, 2.2), mem_total_kb=7_869_872,
                           mem_available_kb=4_902_113)

    return timeline(Sample(), 30, 3, [0.35] * 3, step)



@scenario("emfile-runtime-nofile-default")
def emfile_runtime_nofile_default() -> list[Sample]:
    gateway = Pod("realtime", "ws-gateway-fsvt77xrr-c3n8v", "8e2a4c6b-1d3f-4b5e-9c70-4a6e8c0b2d15",
                  containers={"ws-gateway": "e8a0" * 16})
    presence = Pod("realtime", "presence-64rdnmnw2-g2h5s", "3c5e7a9b-2d4f-4e6a-8b13-6f8a0c2e4d79",
                   containers={"redis": "2f6b" * 16})
    open_files = [30_112, 30_480, 30_208]  # node-wide allocated handles: far from file-max

    def step(i: int, s: Sample) -> Sample:
        cgroups = [
            *pod_cgroups(gateway, "ws-gateway", memory=402 * MIB, memory_max=1 * GIB,
                         usage_usec=3_010_000_000 + i * 4_400_000, pids=6),
            *pod_cgroups(presence, "redis", memory=310 * MIB, memory_max=1 * GIB,
                         usage_usec=1_220_000_000 + i * 2_100_000, pids=5),
        ]
        processes = [
            # The runtime's default soft limit; the old node group gave 1048576.
            app_process(gateway, "ws-gateway", 7_731, "uvicorn",
                        ["/usr/local/bin/python3.12", "/usr/local/bin/uvicorn", "wsgw.app:app",
                         "--host=0.0.0.0", "--port=8000", "--ws=websockets", "--no-access-log"],
                        utime=190_331 + i * 300, stime=61_020 + i * 140, threads=6,
                        rss_kb=396_000, uid=10001, fd_size=1024, nofile=(1024, 524288)),
            # redis raises its own soft limit to maxclients + 32 at start.
            app_process(presence, "redis", 7_402, "redis-server",
                        ["redis-server *:6379"], utime=80_112 + i * 150, stime=60_331 + i * 120,
                        threads=5, rss_kb=300_000, uid=999, fd_size=4096,
                        nofile=(20_032, 524288)),
        ]
        return base_sample([gateway, presence], cgroups, processes, cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks, load=(0.71, 0.69, 0.64), running=2,
                           mem_total_kb=16_146_992, mem_available_kb=12_804_113,
                           file_nr=(open_files[i], 0, 9_223_372_036_854_775_807))

    return timeline(Sample(), 30, 3, [0.14] * 3, step)



@scenario("healthy-node-page-cache")
def healthy_node_page_cache() -> list[Sample]:
    broker = Pod("streaming", "kafka-0", "5e7a9c1d-3f2b-4a6e-8d04-7b9d1f3a5c68",
                 containers={"kafka": "6f2d" * 16})
    processor = Pod("streaming", "stream-processor-jhhs2znpl-v8c3f",
                    "1a3c5e7b-9d2f-4c6a-b845-0e2a4c6f8b37",
                    containers={"stream-processor": "4b8f" * 16})
    exporter = Pod("streaming", "kafka-exporter-tvxw8pnn76-p4n7w",
                   "7d9f1b3a-5c2e-4e8a-a067-2c4e6a8d0f59",
                   containers={"kafka-exporter": "9c3e" * 16})
    broker_mib = [14_512, 14_560, 14_538]  # of 16Gi; ~10 GiB of it inactive page cache

    def step(i: int, s: Sample) -> Sample:
        cgroups = [
            *pod_cgroups(broker, "kafka", memory=broker_mib[i] * MIB, memory_max=16 * GIB,
                         inactive_file=10_140 * MIB, active_file=610 * MIB,
                         cpu_quota_us=None, usage_usec=61_200_000_000_000 + i * 41_000_000,
                         pids=212, io={"259:1": (88_102_331_392 + i * 41_000_000,
                                                 9_120_331_804_672 + i * 2_400_000_000,
                                                 9_331_204 + i * 1_020, 412_331_008 + i * 9_100)}),
            *pod_cgroups(processor, "stream-processor", memory=1_120 * MIB, memory_max=2 * GIB,
                         inactive_file=12 * MIB, active_file=20 * MIB,
                         usage_usec=402_000_000_000 + i * 18_000_000, pids=48),
            *pod_cgroups(exporter, "kafka-exporter", memory=31 * MIB, memory_max=128 * MIB,
                         usage_usec=9_100_000_000 + i * 400_000, pids=9),
        ]
        processes = [
            app_process(broker, "kafka", 5_120, "java",
                        ["/opt/bitnami/java/bin/java", "-Xms4g", "-Xmx4g", "-server",
                         "-XX:+UseG1GC", "kafka.Kafka",
                         "/opt/bitnami/kafka/config/server.properties"],
                        utime=51_020_331 + i * 3_000, stime=10_331_004 + i * 1_100, threads=212,
                        rss_kb=4_610_000, uid=1001),
            app_process(processor, "stream-processor", 12_881, "java",
                        ["java", "-Xmx1g", "-jar", "/app/stream-processor.jar"],
                        utime=3_110_204 + i * 1_300, stime=402_113 + i * 200, threads=48,
                        rss_kb=1_101_000),
            app_process(exporter, "kafka-exporter", 12_990, "kafka_exporter",
                        ["/bin/kafka_exporter", "--kafka.server=kafka-headless.streaming.svc:9092"],
                        utime=90_331 + i * 30, stime=40_112 + i * 10, threads=9, rss_kb=29_000),
        ]
        return base_sample([broker, processor, exporter], cgroups, processes, cpu=s.cpu,
                           uptime=s.uptime, forks=s.forks, load=(1.42, 1.38, 1.40), running=2,
                           mem_total_kb=32_312_604, mem_available_kb=19_710_112 - i * 20_000,
                           page_cache_kb=18_874_368 + i * 20_000, psi_io=(0.4, 0.3, 0.3))

    return timeline(Sample(), 60, 3, [0.34] * 3, step)



@scenario("healthy-batch-at-its-limit")
def healthy_batch_at_its_limit() -> list[Sample]:
    render = Pod("render", "trailer-s04-frames-q8w2t", "6b8d0f2a-4c3e-4a7b-9d15-8e0a2c4f6b39",
                 qos="guaranteed", containers={"blender": "b1e3" * 16})
    api = Pod("render", "render-api-c2r2d4cwb-j6c2v", "2c4e6a8b-0d1f-4b3a-8e57-9a1c3e5b7d20",
              containers={"render-api": "7c9a" * 16})

    def step(i: int, s: Sample) -> Sample:
        cgroups = [
            # 3 CPUs of quota for 3 render threads: it uses ~2.9 and is rarely throttled.
            *pod_cgroups(render, "blender", memory=2_260 * MIB, memory_max=4 * GIB,
                         inactive_file=300 * MIB, active_file=120 * MIB, cpu_quota_us=300_000,
                         usage_usec=7_400_000_000 + i * 87_600_000,
                         nr_periods=25_203 + i * 300, nr_throttled=611 + i * 7,
                         throttled_usec=9_020_000 + i * 98_000, pids=7),
            *pod_cgroups(api, "render-api", memory=88 * MIB, memory_max=512 * MIB,
                         usage_usec=310_000_000_000 + i * 600_000, pids=11,
                         pressure={"cpu": (1.9, 2.2, 1.8)}),
        ]
        processes = [
            app_process(render, "blender", 45_210, "blender",
                        ["blender", "-b", "/scenes/trailer-s04.blend", "-E", "CYCLES", "-s", "1",
                         "-e", "2400", "-a", "--", "--cycles-device", "CPU", "-t", "3", "-o",
                         "/out/frame_####"], utime=690_112 + i * 8_500, stime=4_020 + i * 260,
                        threads=7, rss_kb=2_120_000, state="R"),
            app_process(api, "render-api", 33_018, "render-api", ["/app/render-api"],
                        utime=2_880_112 + i * 45, stime=202_331 + i * 15, threads=11,
                        rss_kb=84_000),
        ]
        return base_sample([render, api], cgroups, processes, cpu=s.cpu, uptime=s.uptime,
                           forks=s.forks, load=(3.41, 3.38, 3.30), running=4,
                           psi_cpu=(4.1, 3.8, 3.6), mem_total_kb=7_869_872,
                           mem_available_kb=4_410_332)

    return timeline(Sample(), 30, 3, [0.82] * 3, step)


def main() -> None:
    for name, builder in sorted(BUILDERS.items()):
        folder = SCENARIOS / name / "host"
        if folder.exists():
            shutil.rmtree(folder)
        for index, sample in enumerate(builder()):
            write(folder / f"{index:03d}", sample)
        print(f"{name}: {len(builder())} samples")


if __name__ == "__main__":
    main()
