"""Recorded incidents: a scenario folder, loaded and checked at the edge.

A scenario is a folder of files that exist outside kubelens (``docs/scenarios.md``)::

    scenario.yaml                       reason, namespace, node, sampleInterval, expect
    cluster/*.yaml                      objects as ``kubectl get -o yaml`` prints them
    logs/<namespace>/<pod>/<container>.log, <container>.previous.log
    host/000/, host/001/, ...           copies of /proc and cgroup files, in time order
    host/NNN/df.json                    disk usage per mount, as statvfs measured it

:func:`load` reads and checks all of it once, so replay and the evals work on typed,
valid data; every problem is a :class:`ScenarioError` naming the file and what is wrong.
Kinds the cluster skills do not read are skipped; Secrets are never loaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from kubelens.models import Confidence, WireModel
from kubelens.skills.cluster.source import KINDS, LogKey, StaticSource
from kubelens.skills.hostfs import DiskUsage

SCENARIO_FILE = "scenario.yaml"
CLUSTER_DIR = "cluster"
LOGS_DIR = "logs"
HOST_DIR = "host"
DF_FILE = "df.json"
MOUNTS_FILE = "proc/mounts"
CGROUP_ROOT = "sys/fs/cgroup"
OBJECT_SUFFIXES = (".yaml", ".yml", ".json")
PREVIOUS_SUFFIX = ".previous.log"
LOG_SUFFIX = ".log"

#: A namespace name, as the API server accepts it (an RFC 1123 label).
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SAMPLE = re.compile(r"^\d{3,}$")
_DF_KEYS = {"size", "used", "available", "inodes", "inodes_used"}


class ScenarioError(ValueError):
    """A scenario folder that cannot be replayed; the message names the file and the problem."""


class ScenarioClass(StrEnum):
    """The failure taxonomy the evals are counted by (``class`` in scenario.yaml)."""

    MEMORY = "memory"
    CPU = "cpu"
    NOISY_NEIGHBOUR = "noisy-neighbour"
    PIDS = "pids"
    INODES = "inodes"
    DISK = "disk"
    PROBE = "probe"
    DNS = "dns"
    NETWORK = "network"
    STORAGE = "storage"
    CONFIG = "config"
    IMAGE = "image"
    SCHEDULING = "scheduling"
    JOB = "job"
    ROLLOUT = "rollout"
    NODE = "node"
    HEALTHY = "healthy"


class ScenarioTag(StrEnum):
    """What makes an incident hard to explain (``tags`` in scenario.yaml)."""

    #: The cause is one or more dependency hops from the alerting object.
    MULTI_HOP = "multi-hop"
    #: The culprit is not the alerting pod.
    CULPRIT_ELSEWHERE = "culprit-elsewhere"
    #: Nothing would raise a kubelens Notification; only objects and logs show it.
    NO_NOTIFICATION = "no-notification"


def _one_of(value: object, allowed: type[StrEnum], what: str) -> object:
    """Reject an unknown value with the allowed ones listed (pydantic's enum text is long)."""
    names = [member.value for member in allowed]
    if isinstance(value, str) and value not in names:
        raise ValueError(f"{value!r} is not a {what}; allowed: {', '.join(names)}")
    return value


class Expectation(WireModel):
    """What a grader checks in a run's insights (``expect`` in scenario.yaml).

    One insight must carry a keyword of every ``rootCause`` group in its summary or root
    cause hypothesis, mention every name in ``subjects`` and have at least
    ``minConfidence``; or, with ``noInsight``, no insight may reach medium confidence
    (a low-confidence remark about a healthy namespace is not a diagnosis). With
    ``maxInsights`` the run may report at most that many insights: one per causal chain,
    not one per symptom.
    """

    root_cause: list[list[str]] = Field(default_factory=list)
    subjects: list[str] = Field(default_factory=list)
    min_confidence: Confidence | None = None
    no_insight: bool = False
    max_insights: int | None = Field(None, ge=0)

    @field_validator("root_cause")
    @classmethod
    def _groups_have_keywords(cls, groups: list[list[str]]) -> list[list[str]]:
        for index, group in enumerate(groups):
            if not group or not all(word.strip() for word in group):
                raise ValueError(f"group {index} must list one or more non-empty keywords")
        return groups

    @model_validator(mode="after")
    def _no_insight_stands_alone(self) -> Expectation:
        if self.no_insight and (self.root_cause or self.subjects or self.min_confidence):
            raise ValueError(
                "noInsight cannot be combined with rootCause, subjects or minConfidence"
            )
        if not self.no_insight and not (self.root_cause or self.subjects):
            raise ValueError("give rootCause and/or subjects to check, or noInsight: true")
        return self


class ScenarioSpec(WireModel):
    """The contents of scenario.yaml."""

    reason: str = Field(min_length=1, max_length=2000)
    namespace: str
    #: The node the host samples were taken on; pods name it in spec.nodeName.
    node: str | None = None
    #: For people reading the scenario; never shown to the analyst or model.
    description: str = ""
    #: Seconds between host samples: the timeline rates and trends are computed on.
    sample_interval: float = Field(15.0, gt=0, le=3600)
    recorded_at: datetime | None = None
    expect: Expectation | None = None
    #: Where the incident sits in the failure taxonomy; evals are counted by it.
    scenario_class: ScenarioClass | None = Field(None, alias="class")
    tags: list[ScenarioTag] = Field(default_factory=list)

    @field_validator("scenario_class", mode="before")
    @classmethod
    def _known_class(cls, value: object) -> object:
        return _one_of(value, ScenarioClass, "scenario class")

    @field_validator("tags", mode="before")
    @classmethod
    def _known_tags(cls, value: object) -> object:
        if isinstance(value, list):
            for tag in value:
                _one_of(tag, ScenarioTag, "scenario tag")
            if len(set(map(str, value))) != len(value):
                raise ValueError("lists a tag more than once")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace_name(cls, value: str) -> str:
        if not _NAMESPACE.match(value):
            raise ValueError(f"{value!r} is not a namespace name (lowercase letters, digits, '-')")
        return value


@dataclass(frozen=True)
class HostSample:
    """One point in time of the node: a folder laid out like the host's root."""

    index: int
    root: Path
    #: Usage per mount point from df.json (empty when the sample has none).
    disks: dict[str, DiskUsage] = field(default_factory=dict)

    @property
    def proc(self) -> Path:
        return self.root / "proc"

    @property
    def cgroup(self) -> Path:
        return self.root / CGROUP_ROOT


@dataclass(frozen=True)
class Scenario:
    root: Path
    spec: ScenarioSpec
    objects: list[dict[str, Any]]
    logs: dict[LogKey, str]
    samples: list[HostSample]
    #: Objects present in cluster/ but not read, by kind (Secrets always land here).
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.root.name

    def source(self) -> StaticSource:
        """The cluster as the cluster skills will see it: the recorded objects and logs."""
        return StaticSource(self.objects, logs=self.logs)

    def recorded_time(self) -> datetime:
        """When it was recorded: ``recordedAt``, else the newest time an object carries."""
        if self.spec.recorded_at is not None:
            return self.spec.recorded_at
        stamps = [_parse_time(value) for obj in self.objects for value in _times(obj)]
        return max((s for s in stamps if s is not None), default=UNRECORDED_TIME)


def is_scenario(path: Path) -> bool:
    return (path / SCENARIO_FILE).is_file()


def load(path: Path) -> Scenario:
    """Read and check a scenario folder; raise :class:`ScenarioError` on the first problem."""
    root = Path(path)
    if not root.is_dir():
        raise ScenarioError(f"{root}: not a folder (a scenario is a folder with {SCENARIO_FILE})")
    spec = _load_spec(root / SCENARIO_FILE)
    objects, skipped = _load_objects(root / CLUSTER_DIR, spec.namespace)
    logs = _load_logs(root / LOGS_DIR)
    samples = _load_samples(root / HOST_DIR)
    if samples and not spec.node:
        raise ScenarioError(
            f"{root / SCENARIO_FILE}: node is required when {HOST_DIR}/ has samples "
            "(the name of the node they were taken on, as pods name it in spec.nodeName)"
        )
    if not objects and not samples:
        raise ScenarioError(
            f"{root}: nothing to replay: no Kubernetes objects in {CLUSTER_DIR}/ and no "
            f"samples in {HOST_DIR}/"
        )
    return Scenario(root, spec, objects, logs, samples, skipped)


# --------------------------------------------------------------------------- scenario.yaml


def _load_spec(path: Path) -> ScenarioSpec:
    if not path.is_file():
        raise ScenarioError(f"{path}: missing (every scenario has one: reason, namespace, ...)")
    data = _parse_yaml_mapping(path)
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def _parse_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot be read as YAML: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: must be a YAML mapping (key: value lines)")
    return data


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --------------------------------------------------------------------------- cluster/


def _load_objects(folder: Path, namespace: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    if not folder.exists():
        return [], {}
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: must be a folder of kubectl -o yaml files")
    objects: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue  # editor and VCS droppings (.gitkeep, .DS_Store)
        if path.is_dir():
            raise ScenarioError(
                f"{path}: unexpected folder; {CLUSTER_DIR}/ holds only "
                f"{', '.join(OBJECT_SUFFIXES)} files"
            )
        if path.suffix not in OBJECT_SUFFIXES:
            raise ScenarioError(f"{path}: not a {', '.join(OBJECT_SUFFIXES)} file")
        for number, document in enumerate(_documents(path), 1):
            for obj in _unpack(document, path, number):
                kind = str(obj["kind"])
                if kind not in KINDS:
                    skipped[kind] = skipped.get(kind, 0) + 1
                    continue
                metadata = obj["metadata"]
                if KINDS[kind].namespaced and not metadata.get("namespace"):
                    # As ``kubectl apply -n``: an object without one lives in the scenario's.
                    metadata["namespace"] = namespace
                objects.append(obj)
    return objects, skipped


def _documents(path: Path) -> Iterator[Any]:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            yield json.loads(text)
            return
        yield from (doc for doc in yaml.safe_load_all(text) if doc is not None)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot be parsed: {_first_line(exc)}") from None


def _unpack(document: Any, path: Path, number: int) -> Iterator[dict[str, Any]]:
    """Objects of one document: itself, or the items of a List (``kind: List``, ``PodList``)."""
    where = f"{path} (document {number})"
    if not isinstance(document, dict):
        raise ScenarioError(f"{where}: a Kubernetes object must be a mapping")
    kind = document.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ScenarioError(f"{where}: has no kind")
    if kind == "List" or (kind.endswith("List") and "items" in document):
        items = document.get("items")
        if not isinstance(items, list):
            raise ScenarioError(f"{where}: a {kind} needs an items list")
        item_kind = kind.removesuffix("List") if kind != "List" else ""
        for index, item in enumerate(items):
            item_where = f"{where}, items[{index}]"
            if not isinstance(item, dict):
                raise ScenarioError(f"{item_where}: a Kubernetes object must be a mapping")
            if item_kind and not item.get("kind"):
                item = {**item, "kind": item_kind}
            yield _checked(item, item_where)
        return
    yield _checked(document, where)


def _checked(obj: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(obj.get("kind"), str) or not obj["kind"]:
        raise ScenarioError(f"{where}: has no kind")
    metadata = obj.get("metadata")
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("name"), str)
        or not metadata["name"]
    ):
        raise ScenarioError(f"{where}: {obj['kind']} has no metadata.name")
    return {**obj, "metadata": dict(metadata)}


# --------------------------------------------------------------------------- logs/


def _load_logs(folder: Path) -> dict[LogKey, str]:
    if not folder.exists():
        return {}
    logs: dict[LogKey, str] = {}
    expected = (
        f"expected {LOGS_DIR}/<namespace>/<pod>/<container>{LOG_SUFFIX} or "
        f"<container>{PREVIOUS_SUFFIX}"
    )
    for path in sorted(folder.rglob("*")):
        if path.is_dir() or path.name.startswith("."):
            continue
        parts = path.relative_to(folder).parts
        if len(parts) != 3 or not path.name.endswith(LOG_SUFFIX):
            raise ScenarioError(f"{path}: {expected}")
        namespace, pod, filename = parts
        previous = filename.endswith(PREVIOUS_SUFFIX)
        container = filename[: -len(PREVIOUS_SUFFIX if previous else LOG_SUFFIX)]
        if not container:
            raise ScenarioError(f"{path}: {expected}")
        try:
            logs[(namespace, pod, container, previous)] = path.read_text(
                encoding="utf-8", errors="replace"
            )
        except OSError as exc:
            raise ScenarioError(f"{path}: cannot be read: {exc.strerror}") from None
    return logs


# --------------------------------------------------------------------------- host/


def _load_samples(folder: Path) -> list[HostSample]:
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: must be a folder of numbered samples (000, 001, ...)")
    numbered: list[tuple[int, Path]] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if not path.is_dir() or not _SAMPLE.match(path.name):
            raise ScenarioError(
                f"{path}: {HOST_DIR}/ holds only sample folders numbered "
                "000, 001, ... in time order"
            )
        numbered.append((int(path.name), path))
    numbered.sort()
    samples = []
    for expected, (number, path) in enumerate(numbered):
        if number != expected:
            raise ScenarioError(
                f"{path}: sample {expected:03d} is missing before it "
                "(samples are numbered from 000 without gaps)"
            )
        samples.append(_load_sample(number, path))
    return samples


def _load_sample(index: int, root: Path) -> HostSample:
    if not any((root / part).exists() for part in ("proc", CGROUP_ROOT, DF_FILE)):
        raise ScenarioError(f"{root}: empty sample: expected proc/, {CGROUP_ROOT}/ or {DF_FILE}")
    disks = _load_df(root / DF_FILE) if (root / DF_FILE).exists() else {}
    if disks:
        mounts = root / MOUNTS_FILE
        if not mounts.is_file():
            raise ScenarioError(
                f"{root / DF_FILE}: {MOUNTS_FILE} is missing, so no mount "
                "would be measured (the os skill lists mounts from it)"
            )
        listed = {
            _unescape(line.split()[1])
            for line in mounts.read_text().splitlines()
            if len(line.split()) >= 2
        }
        unknown = sorted(set(disks) - listed)
        if unknown:
            raise ScenarioError(
                f"{root / DF_FILE}: {', '.join(unknown)} not listed in {MOUNTS_FILE}"
            )
    return HostSample(index, root, disks)


def _unescape(field_: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field_)


def _load_df(path: Path) -> dict[str, DiskUsage]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ScenarioError(f"{path}: cannot be parsed as JSON: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: must be an object of mount point → usage")
    disks: dict[str, DiskUsage] = {}
    for mount, usage in data.items():
        where = f"{path}: {mount!r}"
        if not mount.startswith("/"):
            raise ScenarioError(f'{where}: keys are absolute mount points such as "/"')
        if not isinstance(usage, Mapping):
            raise ScenarioError(f"{where}: must be an object with size and used")
        unknown = sorted(set(usage) - _DF_KEYS)
        if unknown:
            raise ScenarioError(
                f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(_DF_KEYS))}"
            )
        for key in ("size", "used"):
            if key not in usage:
                raise ScenarioError(f"{where}: {key} is required (bytes)")
        values: dict[str, int] = {}
        for key, value in usage.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ScenarioError(f"{where}: {key} must be a whole number >= 0")
            values[key] = value
        size, used = values["size"], values["used"]
        inodes, inodes_used = values.get("inodes", 0), values.get("inodes_used", 0)
        available = values.get("available", size - used)
        if used > size:
            raise ScenarioError(f"{where}: used ({used}) is larger than size ({size})")
        if inodes_used > inodes:
            raise ScenarioError(
                f"{where}: inodes_used ({inodes_used}) is larger than inodes ({inodes})"
            )
        disks[mount] = DiskUsage(size, used, available, inodes, inodes_used)
    return disks


#: The clock of a scenario that carries no time at all (still the same on every replay).
UNRECORDED_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_TIME_FIELDS = (
    "lastTimestamp",
    "eventTime",
    "firstTimestamp",
    "creationTimestamp",
    "lastTransitionTime",
    "startedAt",
    "finishedAt",
    # A node's kubelet reports every few seconds to minutes: the nearest a capture comes
    # to saying when it was taken.
    "lastHeartbeatTime",
)


def _times(obj: Any) -> Iterator[str]:
    """Every timestamp field's value anywhere in an object."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in _TIME_FIELDS and isinstance(value, str):
                yield value
            else:
                yield from _times(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _times(value)


def _parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
