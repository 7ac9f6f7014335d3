"""The ``processes`` skill: the node's busiest processes, zombies, pid and fd exhaustion.

A snapshot reads one file per process (``/proc/<pid>/stat``) and only the few top
processes' status, command line and cgroup, so it stays cheap on a node with a
thousand processes. CPU percentages compare tick counts with the previous snapshot
(like ``top``), so the first snapshot reports averages since each process started.
Open-file counts need a directory listing per process: the snapshot refreshes a
bounded slice of them each time, round robin, and the ``top`` tool scans them all.

Command lines and environments carry secrets: they are redacted here, at the source,
and again by :meth:`Skill.call` / :meth:`Skill.safe_snapshot` on the way out.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelens import anomalies
from kubelens.models import Subject, ToolResult
from kubelens.redact import redact, redact_text
from kubelens.skills import hostfs
from kubelens.skills.base import HostPaths, Metric, Skill, Threshold
from kubelens.skills.containers import PodNames, identify_process
from kubelens.skills.fit import clip
from kubelens.skills.params import boolean, enum, integer, params

TOP = 5
CMDLINE_CHARS = 600
#: Processes whose open files are counted per snapshot (round robin over all of them).
FD_SCAN_PER_SNAPSHOT = 200
#: How long ``top(by="cpu")`` samples when no earlier reading is at hand.
TOOL_SAMPLE_SECONDS = 0.5

_STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "disk_sleep",
    "Z": "zombie",
    "T": "stopped",
    "t": "tracing_stop",
    "X": "dead",
    "I": "idle",
    "P": "parked",
    "W": "paging",
}
_KTHREAD_FLAG = 0x00200000

Key = tuple[int, int]  # (pid, start time in ticks): a pid reused later is another process


@dataclass
class ProcStat:
    pid: int
    name: str
    state: str
    ppid: int
    ticks: int
    threads: int
    start: int
    rss: int
    kernel: bool

    @property
    def key(self) -> Key:
        return (self.pid, self.start)


def parse_stat(pid: int, data: bytes) -> ProcStat | None:
    """One /proc/<pid>/stat line; the name may hold spaces and parentheses."""
    open_paren, close_paren = data.find(b"("), data.rfind(b")")
    if open_paren < 0 or close_paren < 0:
        return None
    fields = data[close_paren + 2 :].split()
    if len(fields) < 22:
        return None
    try:
        return ProcStat(
            pid=pid,
            name=data[open_paren + 1 : close_paren].decode("utf-8", "replace"),
            state=fields[0].decode(),
            ppid=int(fields[1]),
            ticks=int(fields[11]) + int(fields[12]),
            threads=int(fields[17]),
            start=int(fields[19]),
            rss=int(fields[21]) * hostfs.PAGE_SIZE,
            kernel=bool(int(fields[6]) & _KTHREAD_FLAG),
        )
    except (ValueError, UnicodeDecodeError):
        return None


class ProcessesSkill(Skill):
    """Processes on the node as the kernel lists them."""

    name = "processes"
    description = (
        "Node processes: top by CPU and memory (with pod), zombies, process/thread count vs "
        "pid_max, open files vs limits, one process's details."
    )
    prompt = (
        "The processes skill lists what runs on the node, including outside containers "
        "(kubelet, container runtime, agents). Zombies accumulate when a parent does not "
        "reap its children: name the parent. Threads use pids too, so pid exhaustion counts "
        "threads. Command lines are redacted."
    )
    thresholds = (
        Threshold(
            "processes.zombies",
            anomalies.ZOMBIE_PROCESSES,
            20,
            100,
            "Node {subject} has {value} zombie processes",
            "A parent process on {subject} does not reap its exited children",
        ),
        Threshold(
            "processes.pid_usage_ratio",
            anomalies.PID_EXHAUSTION,
            0.8,
            0.95,
            "Threads and processes on node {subject} use {value} of pid_max",
            "A fork or thread leak on {subject} is exhausting process ids",
        ),
        Threshold(
            "processes.file_handles_ratio",
            anomalies.FD_EXHAUSTION,
            0.8,
            0.95,
            "Open file handles on node {subject} are at {value} of fs.file-max",
            "A process on {subject} leaks file descriptors",
        ),
        Threshold(
            "process.open_files_ratio",
            anomalies.FD_EXHAUSTION,
            0.8,
            0.95,
            "Process {subject} has {value} of its open-files limit in use",
            "{subject} leaks file descriptors or sockets, or its ulimit is too low",
        ),
        Threshold(
            "process.memory_percent",
            anomalies.PROCESS_MEMORY_HOG,
            60,
            85,
            "Process {subject} holds {value}{unit} of the node's memory",
            "{subject} leaks memory or is sized for a bigger node",
        ),
        Threshold(
            "process.cpu_node_percent",
            anomalies.PROCESS_CPU_HOG,
            80,
            95,
            "Process {subject} uses {value}{unit} of the node's total CPU capacity",
            "{subject} is in a busy loop or handles more load than the node can carry",
        ),
    )

    def __init__(
        self, paths: HostPaths | None = None, fd_scan_per_snapshot: int = FD_SCAN_PER_SNAPSHOT
    ) -> None:
        super().__init__()
        self.paths = paths or HostPaths()
        self.fd_scan_per_snapshot = fd_scan_per_snapshot
        self.names = PodNames(self.paths.rootfs)
        self._cpu = hostfs.Sampler[dict[Key, int]]()
        self._fds: dict[Key, tuple[int, int | None]] = {}
        self._fd_limits: dict[Key, int | None] = {}
        self._fd_cursor = 0
        # The agent snapshots on one thread while tools run on others; the fd caches are
        # the state both touch.
        self._fd_lock = threading.RLock()
        self.add_tool(
            "top",
            "Top processes by cpu, memory, threads or open_files (open_files scans all).",
            params(
                by=enum(["cpu", "memory", "threads", "open_files"], "Sort key (default cpu)."),
                limit=integer(1, 50, "How many (default 10)."),
            ),
            self.top,
        )
        self.add_tool(
            "process",
            "Details of one process: state, memory, CPU, threads, open files vs limit, "
            "OOM score, cgroup and pod, redacted command line.",
            params(
                ["pid"],
                pid=integer(1),
                include_environment=boolean(
                    "Also return its environment, redacted (default false)."
                ),
            ),
            self.process,
        )
        self.add_tool(
            "zombies",
            "Zombie processes grouped by the parent that fails to reap them.",
            params(limit=integer(1, 200, "How many zombies to list (default 20).")),
            self.zombies,
        )
        self.add_tool(
            "open_files",
            "Open file descriptors of one process: counts by kind and the first targets.",
            params(
                ["pid"],
                pid=integer(1),
                limit=integer(1, 500, "How many descriptors to list (default 50)."),
            ),
            self.open_files,
        )

    # -- snapshot ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        proc = self.paths.proc
        stats = self._scan()
        if not stats:
            return {"available": False, "note": f"no processes readable under {proc}"}
        total_memory = _mem_total(proc)
        cores, forks = _proc_stat(proc)
        base, elapsed = self._cpu.observe({s.key: s.ticks for s in stats})
        cpu = self._cpu_percent(stats, base, elapsed, cores)

        states: dict[str, int] = {}
        for s in stats:
            label = _STATES.get(s.state, s.state)
            states[label] = states.get(label, 0) + 1
        threads = sum(s.threads for s in stats)
        pid_max = hostfs.read_int(proc / "sys/kernel/pid_max")
        out: dict[str, Any] = {
            "processes": len(stats),
            "threads": threads,
            "pid_max": pid_max,
            # Every thread takes a pid, so threads (not processes) exhaust pid_max.
            "pid_usage_ratio": hostfs.ratio(threads, pid_max, 4),
            "states": states,
            "zombies": states.get("zombie", 0),
            "cpu_basis": "interval" if base is not None else "since_start",
        }
        if base is not None:
            out["interval_s"] = round(elapsed, 2)
        if forks is not None:
            out["forks"] = forks
        file_nr = (hostfs.read_text(proc / "sys/fs/file-nr") or "").split()
        if len(file_nr) == 3 and all(v.isdigit() for v in file_nr):
            allocated, _, maximum = (int(v) for v in file_nr)
            out["file_handles"] = allocated
            out["file_handles_max"] = maximum
            out["file_handles_ratio"] = hostfs.ratio(allocated, maximum, 4)

        self.names.refresh()
        by_cpu = sorted(stats, key=lambda s: cpu.get(s.key) or 0.0, reverse=True)[:TOP]
        by_mem = sorted(stats, key=lambda s: s.rss, reverse=True)[:TOP]
        details: dict[Key, dict[str, Any]] = {}
        out["cores"] = cores
        out["top_cpu"] = [self._summary(s, cpu, total_memory, cores, details) for s in by_cpu]
        out["top_memory"] = [self._summary(s, cpu, total_memory, cores, details) for s in by_mem]
        out["top_open_files"] = self._fd_snapshot(stats)
        if not out["top_open_files"]:
            out["open_files_note"] = f"open files {UNREADABLE_FDS}"
        return out

    def summarize(self, snapshot: Mapping[str, Any]) -> str:
        text = (
            f"{snapshot.get('processes', '?')} processes, "
            f"{snapshot.get('threads', '?')} threads, {snapshot.get('zombies', 0)} zombies"
        )
        top = snapshot.get("top_memory") or snapshot.get("top_cpu") or []
        if top:
            biggest = top[0]
            text += (
                f"; largest {biggest.get('name')} (pid {biggest.get('pid')}) "
                f"at {biggest.get('memory_percent')}% of memory"
            )
        return text

    def metrics(self, snapshot: Mapping[str, Any]) -> list[Metric]:
        out: list[Metric] = []
        for key, field_ in (
            ("processes.total", "processes"),
            ("processes.threads", "threads"),
            ("processes.zombies", "zombies"),
            ("processes.pid_usage_ratio", "pid_usage_ratio"),
            ("processes.file_handles_ratio", "file_handles_ratio"),
        ):
            value = snapshot.get(field_)
            if isinstance(value, int | float):
                out.append(Metric(key, float(value)))
        states = snapshot.get("states", {})
        out.append(Metric("processes.uninterruptible", float(states.get("disk_sleep", 0))))
        if isinstance(snapshot.get("forks"), int):
            out.append(Metric("processes.forks", float(snapshot["forks"]), counter=True))
        seen: set[str] = set()
        for entry in [*snapshot.get("top_memory", []), *snapshot.get("top_cpu", [])]:
            subject = process_subject(entry)
            if subject.name in seen:
                continue
            seen.add(subject.name)
            if entry.get("memory_percent") is not None:
                out.append(
                    Metric("process.memory_percent", float(entry["memory_percent"]), subject, "%")
                )
            # Since-start averages are history, not current load.
            if (
                snapshot.get("cpu_basis") == "interval"
                and entry.get("cpu_node_percent") is not None
            ):
                out.append(
                    Metric(
                        "process.cpu_node_percent", float(entry["cpu_node_percent"]), subject, "%"
                    )
                )
        for entry in snapshot.get("top_open_files", []):
            if entry.get("open_files_ratio") is not None:
                out.append(
                    Metric(
                        "process.open_files_ratio",
                        float(entry["open_files_ratio"]),
                        process_subject(entry),
                    )
                )
        return out

    # -- tools ------------------------------------------------------------------------

    def top(self, by: str = "cpu", limit: int = 10) -> Any:
        stats = self._scan()
        if not stats:
            return ToolResult.empty(f"no processes readable under {self.paths.proc}")
        total_memory = _mem_total(self.paths.proc)
        cores, _ = _proc_stat(self.paths.proc)
        self.names.refresh()
        cpu: dict[Key, float | None] = {}
        basis = "since_start"
        if by == "cpu":
            base, elapsed = self._cpu.baseline()
            if base is None:
                # No recent snapshot to compare with: sample now rather than report
                # lifetime averages, which hide a process that just started spinning.
                base = {s.key: s.ticks for s in stats}
                time.sleep(TOOL_SAMPLE_SECONDS)
                elapsed = TOOL_SAMPLE_SECONDS
                stats = self._scan() or stats
            cpu = self._cpu_percent(stats, base, elapsed, cores)
            basis = f"last {elapsed:.1f}s"
        else:
            cpu = self._cpu_percent(stats, None, 0.0, cores)
        details: dict[Key, dict[str, Any]] = {}
        if by == "open_files":
            return self._top_open_files(stats, limit)
        key_of = {
            "cpu": lambda s: cpu.get(s.key) or 0.0,
            "memory": lambda s: float(s.rss),
            "threads": lambda s: float(s.threads),
        }[by]
        ranked = sorted(stats, key=key_of, reverse=True)[:limit]
        out = {
            "by": by,
            "cpu_basis": basis,
            "processes": [self._summary(s, cpu, total_memory, cores, details) for s in ranked],
        }
        return {**out, **_shown_note(len(ranked), limit, len(stats))}

    def _top_open_files(self, stats: list[ProcStat], limit: int) -> Any:
        rows = []
        for s in stats:
            count, fd_limit = self._count_fds(s)
            if count is not None:
                rows.append((s, count, fd_limit))
        if not rows:
            return ToolResult.empty(
                f"open files of all {len(stats)} processes are {UNREADABLE_FDS}"
            )
        rows.sort(key=lambda r: (r[1] / r[2] if r[2] else 0.0, r[1]), reverse=True)
        out: dict[str, Any] = {
            "by": "open_files",
            "processes": [self._fd_entry(s, c, lim) for s, c, lim in rows[:limit]],
        }
        if len(rows) < len(stats):
            unreadable = len(stats) - len(rows)
            out["unreadable"] = f"open files of {unreadable} of {len(stats)} processes are "
            out["unreadable"] += UNREADABLE_FDS
        return {**out, **_shown_note(min(len(rows), limit), limit, len(stats))}

    def process(self, pid: int, include_environment: bool = False) -> Any:
        proc = self.paths.proc
        data = hostfs.read_bytes(proc / str(pid) / "stat")
        stat = parse_stat(pid, data) if data else None
        if stat is None:
            return ToolResult.empty(
                f"no process with pid {pid} on this node (it may have exited); "
                "call top() or zombies() to list current processes"
            )
        self.names.refresh()
        status = hostfs.read_colon_keyed(proc / str(pid) / "status")
        uptime = _uptime(proc)
        out: dict[str, Any] = {
            "pid": pid,
            "name": stat.name,
            "state": _STATES.get(stat.state, stat.state),
            "ppid": stat.ppid,
            "parent": self._name_of(stat.ppid),
            "user": hostfs.user_name(self.paths.rootfs, _uid(status)),
            "threads": stat.threads,
            "kernel_thread": stat.kernel,
            "rss_bytes": stat.rss,
            "cpu_seconds": round(stat.ticks / hostfs.CLOCK_TICKS, 2),
        }
        if uptime is not None:
            out["age_seconds"] = round(max(0.0, uptime - stat.start / hostfs.CLOCK_TICKS))
        for key in ("VmHWM", "VmSwap", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            if key in status:
                out[key] = _kb_to_bytes(status[key])
        out["cmdline"] = _cmdline(proc, pid, limit=2000)
        out["oom_score"] = hostfs.read_int(proc / str(pid) / "oom_score")
        out["oom_score_adj"] = hostfs.read_int(proc / str(pid) / "oom_score_adj")
        count, fd_limit = self._count_fds(stat)
        out["open_files"] = count
        out["open_files_limit"] = fd_limit
        cgroup, identity = identify_process(proc, pid)
        out["cgroup"] = cgroup
        if identity.pod_uid:
            out["pod_uid"] = identity.pod_uid
            out["container_id"] = identity.container_id
            out.update(self._pod_names(identity.pod_uid, identity.container_id))
        out.update(hostfs.psutil_details(proc, pid))
        if include_environment:
            out["environment"] = _environment(proc, pid)
        return {k: v for k, v in out.items() if v is not None}

    def zombies(self, limit: int = 20) -> Any:
        stats = self._scan()
        zombies = [s for s in stats if s.state == "Z"]
        if not zombies:
            return ToolResult.empty(f"no zombie processes among {len(stats)} processes")
        by_pid = {s.pid: s for s in stats}
        parents: dict[int, int] = {}
        for z in zombies:
            parents[z.ppid] = parents.get(z.ppid, 0) + 1
        return {
            "zombies": len(zombies),
            "by_parent": [
                {
                    "ppid": ppid,
                    "parent": by_pid[ppid].name if ppid in by_pid else None,
                    "zombies": n,
                }
                for ppid, n in sorted(parents.items(), key=lambda kv: kv[1], reverse=True)[:20]
            ],
            "processes": [{"pid": z.pid, "name": z.name, "ppid": z.ppid} for z in zombies[:limit]],
        }

    def open_files(self, pid: int, limit: int = 50) -> Any:
        fd_dir = self.paths.proc / str(pid) / "fd"
        if not (self.paths.proc / str(pid)).is_dir():
            return ToolResult.empty(
                f"no process with pid {pid} on this node (it may have exited); "
                "call top(by='open_files') to find processes with many open files"
            )
        try:
            fds = sorted(os.listdir(fd_dir), key=lambda v: int(v) if v.isdigit() else -1)
        except PermissionError:
            return ToolResult.fail(f"open files of pid {pid} are {UNREADABLE_FDS}")
        except FileNotFoundError:
            # stat is there but not fd/: a recorded sample without the fd table, or a
            # process that exited between the two reads
            return ToolResult.empty(
                f"the open files of pid {pid} are not readable here (not recorded in this "
                "sample, or the process just exited); process(pid) still counts them if it can"
            )
        except OSError as exc:
            return ToolResult.empty(f"cannot list open files of pid {pid}: {exc.strerror}")
        kinds: dict[str, int] = {}
        listed: list[dict[str, Any]] = []
        for fd in fds:
            try:
                target = os.readlink(fd_dir / fd)
            except OSError:
                continue
            kind = _fd_kind(target)
            kinds[kind] = kinds.get(kind, 0) + 1
            if len(listed) < limit:
                listed.append(
                    {
                        "fd": int(fd) if fd.isdigit() else fd,
                        "kind": kind,
                        "target": redact_text(target),
                    }
                )
        return {
            "pid": pid,
            "open_files": len(fds),
            "open_files_limit": _fd_limit(self.paths.proc, pid),
            "by_kind": kinds,
            "files": listed,
            "listed": len(listed),
        }

    # -- internals --------------------------------------------------------------------

    def _scan(self) -> list[ProcStat]:
        # The one loop over every process: plain strings and open(), not pathlib,
        # whose object overhead is most of the cost on a node with many processes.
        proc = str(self.paths.proc)
        try:
            names = os.listdir(proc)
        except OSError:
            return []
        stats: list[ProcStat] = []
        for name in names:
            if not name.isdigit():
                continue
            try:
                with open(f"{proc}/{name}/stat", "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            parsed = parse_stat(int(name), data)
            if parsed is not None:
                stats.append(parsed)
        return stats

    def _cpu_percent(
        self, stats: list[ProcStat], base: Mapping[Key, int] | None, elapsed: float, cores: int
    ) -> dict[Key, float | None]:
        """Per-process CPU %, 100 per core like top; since start when there is no base.

        A rate above ``cores`` x 100 % is impossible: it means the clock it was divided
        by is wrong (no uptime readable, a recorded sample's uptime from another moment),
        so it is not shown rather than shown absurd."""
        uptime = _uptime(self.paths.proc)
        out: dict[Key, float | None] = {}
        for s in stats:
            if uptime is None and base is None:
                out[s.key] = None
                continue
            age = max((uptime or 0.0) - s.start / hostfs.CLOCK_TICKS, 0.01)
            before = base.get(s.key) if base is not None else None
            if before is not None and elapsed > 0:
                seconds, window = (s.ticks - before) / hostfs.CLOCK_TICKS, elapsed
            elif base is not None and elapsed > 0:
                # Started after the base reading: all its ticks fall in the window.
                seconds, window = s.ticks / hostfs.CLOCK_TICKS, min(age, elapsed)
            else:
                seconds, window = s.ticks / hostfs.CLOCK_TICKS, age
            percent = round(max(0.0, 100.0 * seconds / window), 1)
            out[s.key] = percent if percent <= 100.0 * max(cores, 1) else None
        return out

    def _summary(
        self,
        s: ProcStat,
        cpu: Mapping[Key, float | None],
        total_memory: int | None,
        cores: int,
        cache: dict[Key, dict[str, Any]],
    ) -> dict[str, Any]:
        if s.key in cache:
            return cache[s.key]
        proc = self.paths.proc
        status = hostfs.read_colon_keyed(proc / str(s.pid) / "status")
        percent = cpu.get(s.key)
        entry: dict[str, Any] = {
            "pid": s.pid,
            "name": s.name,
            "user": hostfs.user_name(self.paths.rootfs, _uid(status)),
            "state": _STATES.get(s.state, s.state),
            "cpu_percent": percent,
            "cpu_node_percent": None if percent is None else round(percent / max(cores, 1), 1),
            "rss_bytes": s.rss,
            "memory_percent": hostfs.percent(s.rss, total_memory) if total_memory else None,
            "threads": s.threads,
            "cmdline": _cmdline(proc, s.pid, limit=CMDLINE_CHARS) or f"[{s.name}]",
        }
        _, identity = identify_process(proc, s.pid)
        if identity.pod_uid:
            entry["pod_uid"] = identity.pod_uid
            entry.update(self._pod_names(identity.pod_uid, identity.container_id))
        cache[s.key] = entry
        return entry

    def _pod_names(self, pod_uid: str, container_id: str | None) -> dict[str, str]:
        if container_id and container_id in self.names.containers:
            namespace, pod, container = self.names.containers[container_id]
            return {"namespace": namespace, "pod": pod, "container": container}
        if pod_uid in self.names.pods:
            namespace, pod = self.names.pods[pod_uid]
            return {"namespace": namespace, "pod": pod}
        return {}

    def _name_of(self, pid: int) -> str | None:
        data = hostfs.read_bytes(self.paths.proc / str(pid) / "stat")
        stat = parse_stat(pid, data) if data else None
        return stat.name if stat else None

    def _count_fds(self, s: ProcStat) -> tuple[int | None, int | None]:
        try:
            count = len(os.listdir(f"{self.paths.proc}/{s.pid}/fd"))
        except OSError:
            return None, None
        with self._fd_lock:
            if s.key not in self._fd_limits:
                if len(self._fd_limits) > 20_000:
                    self._fd_limits.clear()
                self._fd_limits[s.key] = _fd_limit(self.paths.proc, s.pid)
            return count, self._fd_limits[s.key]

    def _fd_snapshot(self, stats: list[ProcStat]) -> list[dict[str, Any]]:
        """Refresh a slice of fd counts (round robin) and report the fullest tables."""
        with self._fd_lock:
            return self._fd_snapshot_locked(stats)

    def _fd_snapshot_locked(self, stats: list[ProcStat]) -> list[dict[str, Any]]:
        live = {s.key: s for s in stats}
        self._fds = {k: v for k, v in self._fds.items() if k in live}
        self._fd_limits = {k: v for k, v in self._fd_limits.items() if k in live}
        ordered = sorted(stats, key=lambda s: s.pid)
        budget = min(self.fd_scan_per_snapshot, len(ordered))
        start = self._fd_cursor % max(len(ordered), 1)
        for i in range(budget):
            s = ordered[(start + i) % len(ordered)]
            if s.kernel or s.state == "Z":
                continue
            count, fd_limit = self._count_fds(s)
            if count is not None:
                self._fds[s.key] = (count, fd_limit)
        self._fd_cursor = start + budget
        ranked = sorted(
            self._fds.items(),
            key=lambda kv: (kv[1][0] / kv[1][1] if kv[1][1] else 0.0, kv[1][0]),
            reverse=True,
        )
        return [self._fd_entry(live[k], count, fd_limit) for k, (count, fd_limit) in ranked[:TOP]]

    def _fd_entry(self, s: ProcStat, count: int, fd_limit: int | None) -> dict[str, Any]:
        return {
            "pid": s.pid,
            "name": s.name,
            "open_files": count,
            "open_files_limit": fd_limit,
            "open_files_ratio": hostfs.ratio(count, fd_limit, 4),
        }


#: Why a process's open files cannot be listed, as the results and the chart say it.
UNREADABLE_FDS = (
    "not readable: listing another user's /proc/<pid>/fd needs CAP_SYS_PTRACE or root, "
    "which the kubelens chart's agent does not have (it drops every capability)"
)


def _shown_note(shown: int, limit: int, total: int) -> dict[str, Any]:
    """Say why a listing holds fewer entries than asked for."""
    if shown >= limit:
        return {}
    return {"note": f"{shown} shown: only {total} processes are readable on this node"}


def process_subject(entry: Mapping[str, Any]) -> Subject:
    """A process as an anomaly subject: ``name[pid]``, so a restarted process is a new one."""
    return Subject(kind="Process", name=f"{entry.get('name')}[{entry.get('pid')}]")


def _cmdline(proc: Path, pid: int, limit: int) -> str:
    raw = hostfs.read_bytes(proc / str(pid) / "cmdline") or b""
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    # Redact before cutting: a cut can split a secret so its pattern no longer matches.
    text = redact_text(text)
    return clip(text, limit)


def _environment(proc: Path, pid: int) -> dict[str, Any] | str:
    raw = hostfs.read_bytes(proc / str(pid) / "environ")
    if raw is None:
        return "not readable (the agent needs the same user, CAP_SYS_PTRACE or root)"
    env: dict[str, str] = {}
    for item in raw.split(b"\0")[:200]:
        key, sep, value = item.decode("utf-8", "replace").partition("=")
        if sep:
            env[key] = value[:500]
    redacted: dict[str, Any] = redact(env)
    return redacted


def _fd_limit(proc: Path, pid: int) -> int | None:
    for line in (hostfs.read_text(proc / str(pid) / "limits") or "").splitlines():
        if line.startswith("Max open files"):
            soft = line[len("Max open files") :].split()[0]
            return int(soft) if soft.isdigit() else None
    return None


def _fd_kind(target: str) -> str:
    if target.startswith("socket:"):
        return "socket"
    if target.startswith("pipe:"):
        return "pipe"
    if target.startswith("anon_inode:"):
        return "anon_inode"
    if target.startswith("/dev/"):
        return "device"
    return "file"


def _uid(status: Mapping[str, str]) -> int | None:
    fields = status.get("Uid", "").split()
    return int(fields[0]) if fields and fields[0].isdigit() else None


def _kb_to_bytes(value: str) -> int | str:
    parts = value.split()
    if not parts or not parts[0].isdigit():
        return value
    return int(parts[0]) * 1024 if len(parts) > 1 and parts[1] == "kB" else int(parts[0])


def _uptime(proc: Path) -> float | None:
    text = hostfs.read_text(proc / "uptime")
    try:
        return float(text.split()[0]) if text else None
    except (ValueError, IndexError):
        return None


def _mem_total(proc: Path) -> int | None:
    text = hostfs.read_text(proc / "meminfo") or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            return int(parts[1]) * 1024 if len(parts) > 1 and parts[1].isdigit() else None
    return None


def _proc_stat(proc: Path) -> tuple[int, int | None]:
    """CPU count and forks since boot, from one read of /proc/stat."""
    cores, forks = 0, None
    for line in (hostfs.read_text(proc / "stat") or "").splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            cores += 1
        elif line.startswith("processes "):
            value = line.split()[1]
            forks = int(value) if value.isdigit() else None
    return cores or os.cpu_count() or 1, forks
