"""Skills: node skills (this machine or the agent's host) and cluster skills (the API)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubelens.skills.base import HostPaths, Skill
from kubelens.skills.containers import ContainersSkill
from kubelens.skills.hostfs import DiskUsageReader
from kubelens.skills.node_os import OsSkill
from kubelens.skills.processes import ProcessesSkill

if TYPE_CHECKING:
    from kubelens.config import Settings

NODE_SKILLS: tuple[type[Skill], ...] = (OsSkill, ProcessesSkill, ContainersSkill)


def node_skills(
    paths: HostPaths | None = None, disk_reader: DiskUsageReader | None = None
) -> list[Skill]:
    """The node skills, reading the host through ``paths`` (default: this machine).

    ``disk_reader`` replaces statvfs for disk usage (replay reads a recorded df.json).
    """
    paths = paths or HostPaths()
    return [OsSkill(paths, disk_reader=disk_reader), ProcessesSkill(paths), ContainersSkill(paths)]


def host_paths(settings: Settings) -> HostPaths:
    """Where the settings say the host's /proc, cgroup tree and root are mounted."""
    return HostPaths(
        proc=settings.host_proc, cgroup=settings.host_cgroup, rootfs=settings.host_root
    )


__all__ = [
    "NODE_SKILLS",
    "ContainersSkill",
    "HostPaths",
    "OsSkill",
    "ProcessesSkill",
    "Skill",
    "host_paths",
    "node_skills",
]
