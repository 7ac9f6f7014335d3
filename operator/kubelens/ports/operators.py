"""Where the coordinator's skills run: the Operators port, skills in this process, and
several ports as one.

:class:`InProcessOperators` runs skills in this process: every skill for ``kubelens
investigate`` and replay, the cluster skills in the operator. The operator joins those
with the node skills on the agents (:class:`kubelens.ports.agents.AgentOperators`) in
:class:`CompositeOperators`: catalogs merged by skill name (the first member wins a
clash), ``invoke`` fans out to every member that has the skill, ``call`` goes to the
first member that has it.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Sequence
from typing import Any, Protocol

from kubelens.detection import AnomalyDetector
from kubelens.models import OperatorResult, ToolResult
from kubelens.skills.base import DEFAULT_RESULT_CAP, Skill
from kubelens.skills.run import observe


class Operators(Protocol):
    """Runs skills wherever they live and reports back.

    An implementation whose skills read the Kubernetes API may also expose
    ``cluster_source`` (the ClusterSource they read): the loop then reads the objects an
    alert names through it, and hands it to the rule-based analyst, which builds its
    causal graph from the same objects. Optional: node-only operators have none.
    """

    def catalog(self) -> builtins.list[dict[str, Any]]:
        """Each skill's name, description and tools (with parameter schemas)."""
        ...

    async def invoke(self, skill: str, context: str) -> builtins.list[OperatorResult]:
        """Snapshot one skill on every source in scope; results carry raised notification ids."""
        ...

    async def call(self, skill: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        """Run one read-only tool of one skill."""
        ...


class InProcessOperators:
    """Runs skills in this process (in a worker thread, so /proc reads never block the loop)."""

    def __init__(
        self,
        skills: Sequence[Skill],
        store: Any,
        source: str,
        detector: AnomalyDetector | None = None,
        result_cap: int = DEFAULT_RESULT_CAP,
    ) -> None:
        self.skills = {skill.name: skill for skill in skills}
        self.store = store
        self.source = source
        self.detector = detector or AnomalyDetector(node=source)
        self.result_cap = result_cap

    def catalog(self) -> builtins.list[dict[str, Any]]:
        return [skill.describe() for skill in self.skills.values()]

    @property
    def cluster_source(self) -> Any:
        """The ClusterSource the cluster skills read (None without cluster skills): the
        analyst and the first message read the same objects through it."""
        # Imported here: a node-only run stays off the cluster code.
        from kubelens.skills.cluster.common import ClusterSkill

        for skill in self.skills.values():
            if isinstance(skill, ClusterSkill):
                return skill.source
        return None

    async def invoke(self, skill: str, context: str) -> builtins.list[OperatorResult]:
        target = self.skills.get(skill)
        if target is None:
            return []
        run = observe(
            target, self.detector, self.store.add, source=self.source, result_cap=self.result_cap
        )
        return [await run]

    async def call(self, skill: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        target = self.skills.get(skill)
        if target is None:
            known = ", ".join(sorted(self.skills)) or "none"
            return ToolResult.fail(f"unknown skill {skill!r}; available skills: {known}")
        return await asyncio.to_thread(target.call, tool, arguments)


class CompositeOperators:
    """Several Operators as one (see the module's doc)."""

    def __init__(self, members: Sequence[Operators]) -> None:
        self.members = list(members)

    @property
    def cluster_source(self) -> Any:
        """The first member's ClusterSource (see :class:`Operators`)."""
        for member in self.members:
            source = getattr(member, "cluster_source", None)
            if source is not None:
                return source
        return None

    def _has(self, member: Operators, skill: str) -> bool:
        return any(entry["name"] == skill for entry in member.catalog())

    def catalog(self) -> builtins.list[dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for member in self.members:
            for entry in member.catalog():
                merged.setdefault(entry["name"], entry)
        return list(merged.values())

    async def invoke(self, skill: str, context: str) -> builtins.list[OperatorResult]:
        owners = [m for m in self.members if self._has(m, skill)]
        outcomes = await asyncio.gather(
            *(m.invoke(skill, context) for m in owners), return_exceptions=True
        )
        results: list[OperatorResult] = []
        for member, outcome in zip(owners, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                results.append(
                    OperatorResult.fail(
                        skill, type(member).__name__, f"{type(outcome).__name__}: {outcome}"
                    )
                )
            else:
                results.extend(outcome)
        return results

    async def call(self, skill: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        for member in self.members:
            if self._has(member, skill):
                return await member.call(skill, tool, arguments)
        known = ", ".join(sorted(entry["name"] for entry in self.catalog())) or "none"
        return ToolResult.fail(f"unknown skill {skill!r}; available skills: {known}")
