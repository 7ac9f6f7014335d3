"""The command line as a user meets it: flags, environment, output, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubelens import config
from kubelens.cli import main, parse

REPO = Path(__file__).resolve().parents[2]


def kubelens(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KUBELENS_")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "kubelens", *args], capture_output=True,
                          text=True, env=environ, timeout=120, check=False)


def test_investigate_json_prints_one_object_with_the_three_keys() -> None:
    done = kubelens("investigate", "--reason", "smoke test", "--output", "json",
                    "--samples", "2", "--sample-interval", "0.2")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) == {"insights", "operator_results", "usage"}
    skills = sorted(r["skill"] for r in payload["operator_results"])
    assert skills == ["containers", "os", "processes"]
    assert all(r["status"] in ("ok", "error", "no_data") for r in payload["operator_results"])
    assert payload["usage"]["llmCalls"] == 0  # the rule-based analyst calls no LLM


def test_investigate_text_report_says_the_analyst_ran() -> None:
    done = kubelens("investigate", "--reason", "is this box ok", "--samples", "1",
                    "--skills", "os")
    assert done.returncode == 0, done.stderr
    assert "analyst:  built-in rule-based analyst (no model configured)" in done.stdout
    assert "os@" in done.stdout
    assert " cores; " in done.stdout and "memory " in done.stdout  # a line about the machine
    assert "reason:   is this box ok" in done.stdout


def test_bad_flag_values_exit_2_with_one_line_naming_the_flag() -> None:
    done = kubelens("investigate", "--reason", "x", "--max-iterations", "0")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "--max-iterations (or KUBELENS_MAX_ITERATIONS)" in done.stderr


def test_environment_sets_a_flag_and_a_flag_beats_it() -> None:
    done = kubelens("investigate", "--reason", "x", "--samples", "1", "--skills", "nope",
                    env={"KUBELENS_SKILLS": "os"})
    assert done.returncode == 2
    assert "unknown skill(s): nope" in done.stderr
    done = kubelens("investigate", "--reason", "x", "--samples", "1", "--output", "json",
                    env={"KUBELENS_SKILLS": "os"})
    assert [r["skill"] for r in json.loads(done.stdout)["operator_results"]] == ["os"]


def test_missing_reason_is_refused() -> None:
    assert main(["investigate", "--samples", "1"]) == 2


def test_unreachable_model_fails_with_exit_3_and_one_line() -> None:
    done = kubelens("investigate", "--reason", "x", "--samples", "1", "--skills", "os",
                    "--model", "openai/gpt-4o-mini", "--llm-api-base", "http://127.0.0.1:9",
                    "--llm-retries", "0", "--output", "json",
                    env={"OPENAI_API_KEY": "sk-test-not-real"})
    assert done.returncode == 3, done.stderr
    assert "model openai/gpt-4o-mini failed" in done.stderr
    assert "sk-test-not-real" not in done.stderr + done.stdout
    json.loads(done.stdout)  # still one JSON object


@pytest.mark.parametrize("command", ["operator", "agent"])
def test_the_install_namespace_is_its_own_setting_under_its_old_names(command: str) -> None:
    chart = {"KUBELENS_NAMESPACE": "kubelens"}  # what the chart sets, from the pod's own
    assert parse([command], chart)[0].install_namespace == "kubelens"
    newer = {**chart, "KUBELENS_INSTALL_NAMESPACE": "ops"}
    assert parse([command], newer)[0].install_namespace == "ops"
    assert parse([command, "--namespace", "ops"], chart)[0].install_namespace == "ops"
    assert parse([command, "--install-namespace", "ops"], chart)[0].install_namespace == "ops"


def test_namespace_is_the_namespace_to_investigate_or_record() -> None:
    for argv in (["investigate"], ["record", "dir"]):
        settings, _ = parse([*argv, "--namespace", "shop"], {})
        assert (settings.namespace, settings.install_namespace) == ("shop", "")
    assert "namespace" not in config.fields_for("operator")
    assert "install_namespace" not in config.fields_for("investigate")


def test_configuration_doc_is_generated_from_settings() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    assert text == config.configuration_markdown(), "regenerate: kubelens config-doc"


@pytest.mark.parametrize("command", ["investigate", "operator", "agent", "webhook"])
def test_every_setting_of_a_command_is_in_its_help(command: str) -> None:
    done = kubelens(command, "--help")
    assert done.returncode == 0
    for name in config.fields_for(command):
        assert "--" + name.replace("_", "-") in done.stdout


def test_operator_without_a_cluster_exits_with_one_clear_line(tmp_path: Path) -> None:
    done = kubelens("operator", "--standalone", "--metrics-port", "0",
                    env={"KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.startswith("kubelens: no cluster to run against")
    assert done.stderr.count("\n") == 1


def test_every_process_finds_the_install_namespace_the_same_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "SERVICE_ACCOUNT_DIR", tmp_path)
    assert config.install_namespace(config.Settings()) == "default"  # not in a pod
    (tmp_path / "namespace").write_text("kubelens\n")
    assert config.install_namespace(config.Settings()) == "kubelens"  # the pod's own
    assert config.install_namespace(config.Settings(install_namespace="ops")) == "ops"
