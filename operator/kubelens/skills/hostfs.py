"""Reading the host safely for the node skills: files under :class:`HostPaths` roots.

Node skills read ``/proc``, the cgroup tree and the root filesystem through the roots in
:class:`~kubelens.skills.base.HostPaths`, so the agent can read the host's trees mounted
into its pod and tests can point at fake trees. Everything here treats a missing or
unreadable file as "not available" (``None`` or an empty value), never as an error: a
kernel without PSI, a host without a pod cgroup or a process that exited between two
reads are ordinary on a node.

psutil reads from the module-global ``psutil.PROCFS_PATH``. It is set in exactly one
place, :func:`psutil_procfs`, around each psutil call and under a lock, so two skills
with different roots in one process (an agent and a test, or two test trees) never see
each other's ``/proc``. The hot paths read ``/proc`` directly instead, which is cheaper.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import psutil

#: Limits at or above this are "no limit" (cgroup v1 writes 2^63 rounded down to a page).
UNLIMITED = 1 << 62

CLOCK_TICKS: int = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE: int = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

#: Readers take strings too: the per-cgroup and per-process loops avoid pathlib's cost.
FilePath = str | os.PathLike[str]

_psutil_lock = threading.RLock()
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def read_text(path: FilePath) -> str | None:
    """The whole file, or None when it is missing or unreadable."""
    # Binary read and decode: a text-mode file object costs more than the read itself.
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return None


def read_bytes(path: FilePath) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def read_int(path: FilePath) -> int | None:
    """A file holding one integer; None when missing or not a number."""
    text = read_text(path)
    if text is None:
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return None


def read_limit(path: FilePath) -> tuple[bool, int | None]:
    """A cgroup limit file: ``(present, limit)``; ``limit`` is None for "max" / unlimited.

    ``present`` tells "there is no such controller here" apart from "there is no limit".
    """
    text = read_text(path)
    if text is None:
        return False, None
    token = text.split()[0] if text.split() else ""
    if token in ("max", "-1", ""):
        return True, None
    try:
        value = int(token)
    except ValueError:
        return True, None
    return True, (None if value >= UNLIMITED or value < 0 else value)


def read_keyed(path: FilePath) -> dict[str, int]:
    """A ``key value`` per line file (cpu.stat, memory.events, memory.stat, oom_control)."""
    text = read_text(path)
    out: dict[str, int] = {}
    if not text:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def read_colon_keyed(path: FilePath) -> dict[str, str]:
    """A ``Key:   value`` per line file (/proc/meminfo, /proc/<pid>/status)."""
    text = read_text(path)
    out: dict[str, str] = {}
    if not text:
        return out
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def under(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it stays inside ``root``; None for absolute escapes and ``..``.

    Tool arguments name paths (a cgroup, a mount) chosen by a model: they must never
    lead outside the tree the skill was given.
    """
    parts = [p for p in relative.strip().split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or any("\x00" in p for p in parts):
        return None
    return root.joinpath(*parts) if parts else root


def host_path(rootfs: Path, absolute: str) -> Path:
    """Where a host path (``/var/log``) is under the root filesystem the skill reads."""
    return rootfs.joinpath(absolute.lstrip("/")) if absolute.strip("/") else rootfs


def unescape_mount(field_: str) -> str:
    r"""Decode the octal escapes /proc/mounts uses for spaces and tabs (``\040``)."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field_)


def host_proc_file(proc: Path, name: str) -> Path:
    """The host's view of a per-namespace /proc file (mounts, net/dev).

    ``<proc>/mounts`` and ``<proc>/net`` follow ``self``: read through a host /proc
    mounted into the agent's pod they show the agent's own namespaces. PID 1's view is
    the host's, so it is preferred when readable.
    """
    pid1 = proc / "1" / name
    return pid1 if os.access(pid1, os.R_OK) else proc / name


@dataclass(frozen=True)
class DiskUsage:
    """Space and inodes of one filesystem, in bytes and counts, as ``df`` reports them."""

    size: int
    used: int
    #: What an unprivileged writer can still use: blocks reserved for root are excluded.
    available: int
    inodes: int = 0
    inodes_used: int = 0


#: Usage of the filesystem mounted at a host mount point (``/var/lib/kubelet``), or None
#: when it cannot be measured. Replay swaps in recorded figures for ``statvfs``.
DiskUsageReader = Callable[[str], DiskUsage | None]


def statvfs_reader(rootfs: Path) -> DiskUsageReader:
    """Measure mounts with ``statvfs`` under the host's root filesystem ``rootfs``."""

    def read(mountpoint: str) -> DiskUsage | None:
        try:
            st = os.statvfs(host_path(rootfs, mountpoint))
        except OSError:
            return None
        return DiskUsage(
            size=st.f_blocks * st.f_frsize,
            used=(st.f_blocks - st.f_bfree) * st.f_frsize,
            available=st.f_bavail * st.f_frsize,
            inodes=st.f_files,
            inodes_used=st.f_files - st.f_ffree,
        )

    return read


@dataclass
class _Passwd:
    mtime: float = -1.0
    names: dict[int, str] = field(default_factory=dict)


_passwd_cache: dict[Path, _Passwd] = {}


def user_name(rootfs: Path, uid: int | None) -> str | None:
    """A uid's name from the host's /etc/passwd (not the agent image's), else the number."""
    if uid is None:
        return None
    path = host_path(rootfs, "/etc/passwd")
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return str(uid)
    cached = _passwd_cache.get(path)
    if cached is None or cached.mtime != mtime:
        names: dict[int, str] = {}
        for line in (read_text(path) or "").splitlines():
            parts = line.split(":")
            if len(parts) > 2 and parts[2].isdigit():
                names.setdefault(int(parts[2]), parts[0])
        cached = _passwd_cache[path] = _Passwd(mtime, names)
    return cached.names.get(uid, str(uid))


@contextmanager
def psutil_procfs(proc: Path) -> Iterator[None]:
    """Run psutil calls against ``proc`` instead of the process's own /proc.

    ``psutil.PROCFS_PATH`` is global to the Python process, so it is swapped here, and
    only here, under a lock, and restored afterwards. Keep the block short: every other
    psutil user in the process waits on it.
    """
    with _psutil_lock:
        previous = psutil.PROCFS_PATH
        psutil.PROCFS_PATH = str(proc)
        try:
            yield
        finally:
            psutil.PROCFS_PATH = previous


def psutil_details(proc: Path, pid: int) -> dict[str, Any]:
    """What psutil adds for one process (context switches, I/O, USS/swap), when allowed.

    Each field is best effort: unprivileged agents may not read another user's I/O or
    smaps, and the process may exit meanwhile; such fields are left out.
    """
    out: dict[str, Any] = {}
    with psutil_procfs(proc):
        try:
            process = psutil.Process(pid)
        except Exception:  # psutil parses files it did not write: any surprise means "no extras"
            return out
        probes: list[tuple[str, Any]] = [
            ("ctx_switches", lambda: process.num_ctx_switches()._asdict()),
            ("io", lambda: process.io_counters()._asdict()),
            (
                "memory_full",
                lambda: {
                    k: v
                    for k, v in process.memory_full_info()._asdict().items()
                    if k in ("rss", "uss", "pss", "swap")
                },
            ),
            (
                "cpu_times",
                lambda: {
                    k: round(v, 2)
                    for k, v in process.cpu_times()._asdict().items()
                    if k in ("user", "system", "iowait")
                },
            ),
        ]
        for name, probe in probes:
            try:
                out[name] = probe()
            except Exception:  # each extra is optional; a failure leaves it out
                continue
    return out


V = TypeVar("V")


@dataclass
class _Reading(Generic[V]):
    at: float
    values: V


class Sampler(Generic[V]):
    """Remembers recent readings of cumulative counters so rates need no sleep.

    A snapshot compares its reading with the newest earlier one that is at least
    ``min_interval`` seconds old: with the agent's interval that is the previous
    snapshot; when snapshots come faster (a benchmark, a tool call right after a
    snapshot) an older reading is used rather than a few-millisecond one whose tick
    counts would be noise. With no such reading yet, :meth:`observe` returns None and the
    caller falls back to a since-boot or since-start figure.
    """

    def __init__(self, min_interval: float = 0.25, clock: Any = time.monotonic) -> None:
        self.min_interval = min_interval
        self.clock = clock
        self._history: list[_Reading[V]] = []

    def observe(self, values: V) -> tuple[V | None, float]:
        """Record ``values``; return a suitable earlier reading and the seconds since it."""
        now = self.clock()
        base: _Reading[V] | None = None
        for reading in reversed(self._history):
            if now - reading.at >= self.min_interval:
                base = reading
                break
        if not self._history or now - self._history[-1].at >= self.min_interval:
            self._history = [*self._history[-1:], _Reading(now, values)]
        if base is None:
            return None, 0.0
        return base.values, now - base.at

    def baseline(self) -> tuple[V | None, float]:
        """What :meth:`observe` would compare with now, without recording (for tools)."""
        now = self.clock()
        for reading in reversed(self._history):
            if now - reading.at >= self.min_interval:
                return reading.values, now - reading.at
        return None, 0.0


def percent(part: float, whole: float, digits: int = 1) -> float | None:
    if whole <= 0:
        return None
    return round(100.0 * part / whole, digits)


def ratio(part: float, whole: float | None, digits: int = 3) -> float | None:
    if not whole or whole <= 0:
        return None
    return round(part / whole, digits)
