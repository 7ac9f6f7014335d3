"""Skills: node skills (this machine or the agent's host) and cluster skills (the API)."""

from __future__ import annotations

from kubelens.skills.base import HostPaths, Skill
from kubelens.skills.containers import ContainersSkill
from kubelens.skills.node_os import OsSkill
from kubelens.skills.processes import ProcessesSkill

NODE_SKILLS: tuple[type[Skill], ...] = (OsSkill, ProcessesSkill, ContainersSkill)


def node_skills(paths: HostPaths | None = None) -> list[Skill]:
    """The node skills, reading the host through ``paths`` (default: this machine)."""
    paths = paths or HostPaths()
    return [OsSkill(paths), ProcessesSkill(paths), ContainersSkill(paths)]


__all__ = [
    "NODE_SKILLS",
    "ContainersSkill",
    "HostPaths",
    "OsSkill",
    "ProcessesSkill",
    "Skill",
    "node_skills",
]
