"""The ``kubelens`` command: one entry point, a subcommand per part.

Flags are generated from :class:`kubelens.config.Settings`, so every setting is a flag
and a ``KUBELENS_*`` variable and is shown in ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from kubelens import config
from kubelens.config import Settings, SettingsError
from kubelens.models import RunOutcome, RunResult

if TYPE_CHECKING:
    from kubelens.report import Progress

#: Exit codes, documented in the README.
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_MODEL = 3
EXIT_TIMEOUT = 4
EXIT_INCOMPLETE = 5
EXIT_CANCELLED = 130

_OUTCOME_EXIT = {
    RunOutcome.DONE: EXIT_OK,
    RunOutcome.FAILED: EXIT_MODEL,
    RunOutcome.TIMEOUT: EXIT_TIMEOUT,
    RunOutcome.MAX_ITERATIONS: EXIT_INCOMPLETE,
    RunOutcome.CANCELLED: EXIT_CANCELLED,
}

Command = Callable[[Settings, argparse.Namespace], int]


def _add_setting_flags(parser: argparse.ArgumentParser, command: str) -> None:
    for name in config.fields_for(command):
        info = Settings.model_fields[name]
        flags = config.flags_of(name)
        envs = " or ".join(config.env_names(name))
        default = info.default
        if isinstance(default, list):
            default = ",".join(default) or "(all)"
        help_text = f"{info.description} [env {envs}; default {default!s}]"
        choices = get_args(info.annotation) if "Literal" in str(info.annotation) else None
        if info.annotation is bool:
            parser.add_argument(
                *flags,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            parser.add_argument(
                *flags,
                dest=name,
                default=argparse.SUPPRESS,
                choices=choices or None,
                help=help_text,
                metavar=None if choices else name.split("_")[-1].upper(),
            )


def _investigate(settings: Settings, args: argparse.Namespace) -> int:
    from kubelens import local

    if not settings.reason.strip():
        return _fail("--reason is required: say what you are investigating")
    return _run_and_report(
        settings,
        "investigation",
        settings.reason,
        lambda progress: local.investigate(settings, listener=progress),
    )


def _run_and_report(
    settings: Settings,
    what: str,
    reason: str,
    run: Callable[[Progress | None], Coroutine[Any, Any, RunResult]],
) -> int:
    """Run an investigation (live progress on a terminal), print its result in the
    chosen output, and exit with the code its outcome maps to."""
    from kubelens import report
    from kubelens.local import UnknownSkillError

    progress = report.Progress() if settings.output == "text" else None
    try:
        result = asyncio.run(run(progress))
    except UnknownSkillError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_CANCELLED)
    if settings.output == "json":
        sys.stdout.write(report.as_json(result) + "\n")
    else:
        sys.stdout.write(report.as_text(result, reason))
    code = _OUTCOME_EXIT[result.outcome]
    if code != EXIT_OK:
        print(f"kubelens: {what} {result.outcome.value}: {result.message}", file=sys.stderr)
    return code


def _operator(settings: Settings, args: argparse.Namespace) -> int:
    import kopf
    from kubernetes.config.config_exception import ConfigException

    from kubelens.kube import api_client
    from kubelens.operator import handlers, peering

    namespaces = settings.watch_namespaces
    try:
        api = api_client(settings.kubeconfig)
    except ConfigException as exc:
        return _fail(
            f"no cluster to run against ({exc}): run in a pod, or give --kubeconfig or KUBECONFIG"
        )
    try:
        mode = peering.choose(api, namespaces, settings.standalone)
        not_serving = peering.check_serving(api, namespaces)
    finally:
        api.close()  # type: ignore[no-untyped-call]
    for line in (mode.note, not_serving):
        if line:
            print(f"kubelens operator: {line}", file=sys.stderr)
    handlers.configure(settings)
    asyncio.run(
        kopf.operator(
            clusterwide=not namespaces,
            namespaces=namespaces,
            standalone=mode.standalone,
            peering_name=mode.name,
            liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
        )
    )
    return EXIT_OK


def _agent(settings: Settings, args: argparse.Namespace) -> int:
    from kubelens.agent.runner import serve

    asyncio.run(serve(settings))
    return EXIT_OK


def _webhook(settings: Settings, args: argparse.Namespace) -> int:
    from kubelens.webhook.server import serve

    asyncio.run(serve(settings))
    return EXIT_OK


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from kubelens import scenario
    from kubelens.replay import replay

    try:
        loaded = scenario.load(Path(args.scenario))
    except scenario.ScenarioError as exc:
        return _fail(str(exc))
    return _run_and_report(
        settings,
        "replay",
        loaded.spec.reason,
        lambda progress: replay(loaded, settings, listener=progress),
    )


def _record(settings: Settings, args: argparse.Namespace) -> int:
    from kubelens import record

    try:
        written = record.record(settings, Path(args.directory))
    except record.RecordError as exc:
        return _fail(str(exc))
    for warning in written.warnings:
        print(f"kubelens: not recorded: {warning}", file=sys.stderr)
    print(f"kubelens: recorded {written.summary()} into {written.root}", file=sys.stderr)
    return EXIT_OK


def _eval(settings: Settings, args: argparse.Namespace) -> int:
    from kubelens import evals
    from kubelens.local import UnknownSkillError
    from kubelens.scenario import ScenarioError

    try:
        loaded = evals.load_for_eval(Path(p) for p in args.scenarios)
        rows = asyncio.run(evals.evaluate_all(loaded, settings))
    except (ScenarioError, UnknownSkillError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_CANCELLED)
    sys.stdout.write(
        evals.as_json(rows) + "\n" if settings.output == "json" else evals.as_table(rows)
    )
    # A failing scenario is a result, not an error: the command ran.
    return EXIT_OK


def _config_doc(settings: Settings, args: argparse.Namespace) -> int:
    sys.stdout.write(config.configuration_markdown())
    return EXIT_OK


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"kubelens: {message}", file=sys.stderr)
    return code


def _commands() -> dict[str, tuple[str, str, Command]]:
    """name → (settings group, help, function). Parts register here as they land."""
    commands: dict[str, tuple[str, str, Command]] = {
        "investigate": (
            config.INVESTIGATE,
            "Investigate this machine (and a namespace, with a kubeconfig).",
            _investigate,
        ),
        "operator": (
            config.OPERATOR,
            "Run the Kubernetes operator (Investigation handlers).",
            _operator,
        ),
        "agent": (
            config.AGENT,
            "Run the node agent: scheduled skills, Notifications, the skill API.",
            _agent,
        ),
        "webhook": (
            config.WEBHOOK,
            "Run the Alertmanager webhook receiver that creates Investigations.",
            _webhook,
        ),
        "replay": (
            config.REPLAY,
            "Investigate a recorded scenario folder (docs/scenarios.md) offline.",
            _replay,
        ),
        "record": (
            config.RECORD,
            "Record a namespace (kubeconfig) and this host into a scenario folder.",
            _record,
        ),
        "eval": (
            config.EVAL,
            "Replay scenario folders and grade the insights against their expect blocks.",
            _eval,
        ),
        "config-doc": (
            "",
            "Print the configuration reference (docs/configuration.md).",
            _config_doc,
        ),
    }
    return commands


def _positionals() -> dict[str, Callable[[argparse.ArgumentParser], None]]:
    """Arguments that are not settings: the folders replay, record and eval work on."""
    return {
        "replay": lambda p: p.add_argument(
            "scenario", metavar="DIR", help="A scenario folder (with scenario.yaml)."
        ),
        "record": lambda p: p.add_argument(
            "directory",
            metavar="DIR",
            help="Where to write the scenario (created; must be empty if it exists).",
        ),
        "eval": lambda p: p.add_argument(
            "scenarios",
            metavar="DIR",
            nargs="+",
            help="Scenario folders, or folders of scenario folders.",
        ),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubelens",
        description="LLM-driven runtime investigation for Kubernetes. Every flag is also a "
        "KUBELENS_* environment variable; see docs/configuration.md.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (group, help_text, _) in _commands().items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        if name in _positionals():
            _positionals()[name](child)
        if group:
            _add_setting_flags(child, group)
    return parser


def parse(
    argv: Sequence[str] | None, environ: Mapping[str, str] | None = None
) -> tuple[Settings, argparse.Namespace]:
    """The settings and arguments of a command line (flags beat ``environ``)."""
    args = build_parser().parse_args(argv)
    flags: dict[str, Any] = {
        key: value for key, value in vars(args).items() if key in Settings.model_fields
    }
    return config.load(flags, environ), args


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings, args = parse(argv)
    except SettingsError as exc:
        return _fail(str(exc))
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _, _, function = _commands()[args.command]
    return function(settings, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
