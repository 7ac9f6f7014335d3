"""Settings: the one place every kubelens setting is declared.

Each field is a command-line flag (``--max-iterations``) and an environment variable
(``KUBELENS_MAX_ITERATIONS``); a flag beats the environment, the environment beats the
default. ``commands`` says which subcommands take it. ``docs/configuration.md`` is
generated from this class (``kubelens config-doc``) and a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "KUBELENS_"

INVESTIGATE = "investigate"
OPERATOR = "operator"
AGENT = "agent"
WEBHOOK = "webhook"
REPLAY = "replay"
RECORD = "record"
EVAL = "eval"
RUNNERS = (INVESTIGATE, OPERATOR, REPLAY, EVAL)  # commands that run the coordinator
LOCAL_RUNS = (INVESTIGATE, REPLAY, EVAL)  # runs whose options come from flags, not a spec


def _opt(
    default: Any,
    help: str,
    *commands: str,
    env: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
    **bounds: Any,
) -> Any:
    """A setting: its default, its help text, the subcommands that take it; ``env`` and
    ``flags`` are older names still accepted besides ``KUBELENS_<NAME>`` and ``--<name>``."""
    return Field(
        default,
        description=help,
        **bounds,
        json_schema_extra={
            "commands": list(commands),
            "env_aliases": list(env),
            "flag_aliases": list(flags),
        },
    )


class Settings(BaseModel):
    """Every setting of every subcommand."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- investigation -----------------------------------------------------------
    reason: str = _opt(
        "",
        "Why you are investigating: the question the coordinator answers (record: written "
        "into scenario.yaml).",
        INVESTIGATE,
        RECORD,
    )
    skills: list[str] = _opt(
        [],
        "Skills the coordinator may use, comma-separated (default: all available).",
        *LOCAL_RUNS,
    )
    model: str = _opt(
        "",
        "litellm model string (e.g. openai/gpt-4o-mini, anthropic/claude-3-5-sonnet, "
        "ollama/llama3). Empty: the built-in rule-based analyst.",
        *RUNNERS,
    )
    llm_api_base: str = _opt(
        "",
        "Base URL of an OpenAI-compatible server or a proxy (e.g. http://ollama:11434).",
        *RUNNERS,
    )
    max_iterations: int = _opt(25, "Most LLM turns in one run.", *LOCAL_RUNS, ge=1, le=200)
    timeout: float = _opt(300.0, "Deadline of one run, in seconds.", *LOCAL_RUNS, ge=1, le=3600)
    compaction_max_tokens: int = _opt(
        50_000, "Conversation size (tokens) that triggers compaction.", *RUNNERS, ge=1_000
    )
    compaction_keep_last: int = _opt(
        5, "Messages kept verbatim when the conversation is compacted.", *RUNNERS, ge=1, le=50
    )
    llm_retries: int = _opt(2, "Retries of a failed LLM call.", *RUNNERS, ge=0, le=10)
    llm_timeout: float = _opt(60.0, "Timeout of one LLM call, seconds.", *RUNNERS, gt=0, le=600)
    output: Literal["text", "json"] = _opt(
        "text",
        "Output format: a readable report (text) or one JSON object (json).",
        INVESTIGATE,
        REPLAY,
        EVAL,
    )
    samples: int = _opt(
        3,
        "Snapshots taken before investigating (record: host samples written).",
        INVESTIGATE,
        RECORD,
        ge=1,
        le=120,
    )
    sample_interval: float = _opt(
        1.0, "Seconds between those snapshots.", INVESTIGATE, RECORD, ge=0, le=60
    )
    namespace: str = _opt(
        "",
        "The cluster namespace to investigate with the cluster skills (needs a kubeconfig), "
        "or to record (record's default: the kubeconfig context's).",
        INVESTIGATE,
        RECORD,
    )
    node_skills: bool = _opt(
        False, "With --namespace, also run the node skills on this machine.", INVESTIGATE
    )
    kubeconfig: str = _opt(
        "",
        "Path of a kubeconfig (default: in-cluster, then ~/.kube/config).",
        INVESTIGATE,
        RECORD,
        OPERATOR,
        AGENT,
        WEBHOOK,
        env=("KUBECONFIG",),
    )

    # --- host paths (node skills) -----------------------------------------------
    host_proc: Path = _opt(
        Path("/proc"), "Where the host's /proc is mounted.", INVESTIGATE, AGENT, RECORD
    )
    host_cgroup: Path = _opt(
        Path("/sys/fs/cgroup"),
        "Where the host's cgroup tree is mounted.",
        INVESTIGATE,
        AGENT,
        RECORD,
    )
    host_root: Path = _opt(
        Path("/"), "Where the host's root filesystem is mounted.", INVESTIGATE, AGENT, RECORD
    )

    # --- record ------------------------------------------------------------------
    record_host: bool = _opt(
        True,
        "Also copy this machine's /proc and cgroup files (and disk usage) as host samples.",
        RECORD,
    )

    # --- in the cluster -----------------------------------------------------------
    install_namespace: str = _opt(
        "",
        "The namespace kubelens is installed in: node-level Notifications live there and the "
        "operator finds its agents there (the chart sets KUBELENS_NAMESPACE to the release "
        "namespace). Empty: the pod's own namespace, or default outside a pod.",
        OPERATOR,
        AGENT,
        env=("KUBELENS_NAMESPACE",),
        flags=("--namespace",),
    )

    # --- operator ----------------------------------------------------------------
    model_allowlist: list[str] = _opt(
        [], "Models an Investigation's spec.model may choose, comma-separated.", OPERATOR
    )
    watch_namespaces: list[str] = _opt(
        [], "Namespaces the operator serves, comma-separated (default: all).", OPERATOR
    )
    standalone: bool = _opt(
        False, "Run without kopf peering (only safe with exactly one replica).", OPERATOR
    )
    metrics_port: int = _opt(
        9090, "Port of the Prometheus /metrics endpoint (0: off).", OPERATOR, AGENT, ge=0, le=65535
    )
    health_port: int = _opt(8081, "Port of the /healthz probe.", OPERATOR, ge=1, le=65535)

    # --- agent -------------------------------------------------------------------
    node_name: str = _opt(
        "",
        "The node this agent runs on (record: the node the host samples are from; default "
        "this machine's hostname).",
        AGENT,
        RECORD,
        env=("NODE_NAME",),
    )
    agent_port: int = _opt(8181, "Port of the agent's skill API.", OPERATOR, AGENT, ge=1, le=65535)
    agent_interval: float = _opt(
        15.0, "Seconds between the agent's snapshots.", AGENT, ge=0.1, le=3600
    )
    agent_token_file: str = _opt(
        "/var/run/secrets/kubelens/token",
        "Projected ServiceAccount token (audience kubelens-agent) the operator shows agents.",
        OPERATOR,
    )
    agent_token: str = _opt(
        "",
        "Static bearer token shared by operator and agents (fallback to TokenReview).",
        OPERATOR,
        AGENT,
    )
    operator_service_account: str = _opt(
        "", "Identity allowed to call the agent (system:serviceaccount:NS:NAME).", AGENT
    )
    auto_investigate: bool = _opt(
        False, "Create an Investigation for critical notifications.", AGENT
    )
    notification_retention: float = _opt(
        86_400.0, "Seconds a Resolved Notification is kept.", AGENT, ge=60
    )

    # --- webhook -----------------------------------------------------------------
    webhook_port: int = _opt(
        8080, "Port of the Alertmanager webhook receiver.", WEBHOOK, ge=1, le=65535
    )
    webhook_token: str = _opt("", "Bearer token Alertmanager must send.", WEBHOOK)
    webhook_basic_auth: str = _opt(
        "", "USER:PASSWORD for basic auth, an alternative to the token.", WEBHOOK
    )
    webhook_default_namespace: str = _opt(
        "default", "Namespace for alerts without a namespace label.", WEBHOOK
    )
    webhook_write_rate: float = _opt(
        50.0,
        "Investigation writes per second the webhook allows itself (protects the API "
        "server; past it Alertmanager is told to retry).",
        WEBHOOK,
        gt=0,
    )
    webhook_write_burst: int = _opt(
        200, "Writes allowed in a burst above that rate.", WEBHOOK, ge=1
    )

    log_level: Literal["debug", "info", "warning", "error"] = _opt(
        "warning", "Log level.", INVESTIGATE, OPERATOR, AGENT, WEBHOOK, REPLAY, RECORD, EVAL
    )

    @field_validator("host_proc", "host_cgroup", "host_root", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # A NUL byte cannot be in a path: open() would fail with ValueError, not OSError.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("a path cannot contain a NUL byte")
        return value

    @field_validator("skills", "model_allowlist", "watch_namespaces", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


#: Where Kubernetes mounts a pod's ServiceAccount: its token, the cluster CA, its namespace.
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def install_namespace(settings: Settings) -> str:
    """The namespace kubelens is installed in, the same answer in every process (the
    agents write node-level Notifications there; the operator reads them and finds its
    agents there): the setting, else the pod's own namespace, else ``default``."""
    if settings.install_namespace:
        return settings.install_namespace
    try:
        return (SERVICE_ACCOUNT_DIR / "namespace").read_text().strip() or "default"
    except OSError:
        return "default"


def _extra(field: str, key: str) -> list[str]:
    extra = Settings.model_fields[field].json_schema_extra
    values = extra.get(key, []) if isinstance(extra, dict) else []
    return [str(v) for v in values] if isinstance(values, list) else []


def env_names(field: str) -> list[str]:
    return [ENV_PREFIX + field.upper(), *_extra(field, "env_aliases")]


def flags_of(field: str) -> list[str]:
    """``--<name>`` and the older flags the setting still answers to."""
    return ["--" + field.replace("_", "-"), *_extra(field, "flag_aliases")]


def commands_of(field: str) -> list[str]:
    return _extra(field, "commands")


def fields_for(command: str) -> list[str]:
    return [name for name in Settings.model_fields if command in commands_of(name)]


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for name in Settings.model_fields:
        for env in env_names(name):
            if environ.get(env):
                values[name] = environ[env]
                break
    return values


class SettingsError(ValueError):
    """A setting has a bad value; the message names the flag and what is wrong."""


def load(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Merge defaults, environment and flags; raise SettingsError with one line."""
    merged: dict[str, Any] = {**from_environment(environ), **flags}
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            flag = "--" + field.replace("_", "-")
            if field not in Settings.model_fields:
                problems.append(f"{flag}: unknown setting")
                continue
            problems.append(f"{flag} (or {env_names(field)[0]}): {error['msg']}")
        raise SettingsError("; ".join(problems)) from None


def configuration_markdown() -> str:
    """The reference table for docs/configuration.md."""
    lines = [
        "# Configuration",
        "",
        "Every setting is a command-line flag and an environment variable. A flag beats the",
        "environment; the environment beats the default. Generated from",
        "`operator/kubelens/config.py` by `kubelens config-doc`; a test keeps it in step.",
        "",
        "| Flag | Environment | Default | Commands | Meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, info in Settings.model_fields.items():
        default = info.default
        if isinstance(default, list):
            default = ",".join(default)
        shown = f"`{default}`" if default not in ("", None) else "(empty)"
        envs = ", ".join(f"`{e}`" for e in env_names(name))
        flags = ", ".join(f"`{f}`" for f in flags_of(name))
        lines.append(
            f"| {flags} | {envs} | {shown} | {', '.join(commands_of(name))} | {info.description} |"
        )
    lines.append("")
    lines.append(
        "LLM provider keys come from each provider's usual environment variable "
        "(`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `AZURE_API_KEY`, ...), never from a resource."
    )
    return "\n".join(lines) + "\n"
