"""Replay and eval: samples on the scenario's clock, df.json for statvfs, the grader, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubelens import config, evals, scenario
from kubelens.cli import main
from kubelens.models import Confidence, CorrelationType, Insight, RunOutcome, RunResult, Subject
from kubelens.replay import ReplayHost, replay
from kubelens.scenario import Expectation
from kubelens.skills.containers import ContainersSkill
from kubelens.skills.node_os import OsSkill

SCENARIOS = Path(__file__).resolve().parents[1] / "evals" / "scenarios"


def kubelens(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KUBELENS_")}
    return subprocess.run([sys.executable, "-m", "kubelens", *args], capture_output=True,
                          text=True, env=environ, timeout=120, check=False)


def test_node_skills_read_each_sample_on_the_scenario_clock(tmp_path: Path) -> None:
    loaded = scenario.load(SCENARIOS / "cpu-throttling")
    host = ReplayHost(loaded.samples, loaded.spec.sample_interval, tmp_path)
    os_skill, _, containers = host.skills()
    assert isinstance(os_skill, OsSkill) and isinstance(containers, ContainersSkill)
    host.show(0)
    first = os_skill.snapshot()
    assert first["cpu"]["basis"] == "since_boot"
    containers.snapshot()
    host.show(1)
    assert host.clock() == 30.0
    second = os_skill.snapshot()
    # Rates between two samples 30 recorded seconds apart, read a few ms apart.
    assert second["cpu"]["basis"] == "interval" and second["cpu"]["interval_s"] == 30.0
    assert second["cpu"]["utilisation_percent"] == pytest.approx(22.0, abs=0.5)
    throttled = containers.snapshot()["top_throttled"][0]
    assert throttled["pod"] == "indexer-6b7c8d9f4-m2kxp"
    assert throttled["throttled_ratio"] == pytest.approx(214 / 300, abs=0.01)
    # Disk usage comes from the sample's df.json, not from statvfs on this machine.
    root = next(m for m in second["disks"]["top"] if m["mount"] == "/")
    assert root["size_bytes"] == loaded.samples[1].disks["/"].size


def test_replay_of_a_scenario_without_host_samples_runs_cluster_skills_only() -> None:
    result = asyncio.run(replay(scenario.load(SCENARIOS / "pvc-pending")))
    assert result.outcome is RunOutcome.DONE
    assert {r.skill for r in result.operator_results} == {
        "pods", "events", "logs", "nodes", "workloads", "services", "graph"}
    assert {r.source for r in result.operator_results} == {"cluster"}


def test_replay_honours_the_skills_setting() -> None:
    settings = config.load({"skills": "os,containers"})
    result = asyncio.run(replay(scenario.load(SCENARIOS / "memory-leak"), settings))
    assert {r.skill for r in result.operator_results} == {"os", "containers"}
    assert result.insights and "grow" in result.insights[0].root_cause_hypothesis


def insight(summary: str, root: str = "", confidence: Confidence = Confidence.HIGH,
            subjects: tuple[str, ...] = ()) -> Insight:
    return Insight(correlation_type=CorrelationType.CAUSAL, summary=summary,
                   root_cause_hypothesis=root, confidence=confidence,
                   subjects=[Subject(kind="Pod", name=n, namespace="shop") for n in subjects])


def test_grade_needs_one_insight_with_every_group_subject_and_confidence() -> None:
    expect = Expectation(root_cause=[["oom", "memory"], ["limit"]], subjects=["api-1"],
                         min_confidence=Confidence.MEDIUM)
    good = insight("api-1 was OOMKilled", "memory above its LIMIT", Confidence.MEDIUM)
    assert evals.grade(RunResult(insights=[good]), expect).passed
    by_subject = insight("a pod was OOMKilled", "over its limit", subjects=("api-1",))
    assert evals.grade(RunResult(insights=[by_subject]), expect).passed
    # The groups must be met by one insight, not spread over two.
    split = [insight("api-1 OOMKilled"), insight("api-1 at its limit")]
    verdict = evals.grade(RunResult(insights=split), expect)
    assert not verdict.passed and verdict.why in ("no limit", "no oom/memory")
    low = insight("api-1 was OOMKilled", "memory limit", Confidence.LOW)
    assert evals.grade(RunResult(insights=[low]), expect).why == "confidence low < medium"
    other = insight("api-2 was OOMKilled", "memory limit")
    assert evals.grade(RunResult(insights=[other]), expect).why == "does not mention api-1"
    failed = RunResult(outcome=RunOutcome.FAILED, message="model unreachable")
    assert evals.grade(failed, expect).why == "no insight (run ended failed: model unreachable)"


def test_grade_of_a_healthy_scenario_refuses_any_confident_insight() -> None:
    expect = Expectation(no_insight=True)
    assert evals.grade(RunResult(), expect).passed
    # A low-confidence remark is not a diagnosis; medium or high is.
    assert evals.grade(RunResult(insights=[insight("a hunch", confidence=Confidence.LOW)]),
                       expect).passed
    verdict = evals.grade(RunResult(insights=[insight("a hunch", confidence=Confidence.MEDIUM)]),
                          expect)
    assert not verdict.passed and verdict.why == "expected no confident insight, got 1: a hunch"


def test_grade_with_max_insights_refuses_one_insight_per_symptom() -> None:
    expect = Expectation(root_cause=[["storageclass"]], max_insights=1)
    chain = insight("api down: its database's StorageClass fast-ssd does not exist")
    assert evals.grade(RunResult(insights=[chain]), expect).passed
    verdict = evals.grade(RunResult(insights=[chain, insight("api crash-looping")]), expect)
    assert not verdict.passed
    assert verdict.why.startswith("2 insights, at most 1 expected: api down")
    quiet = Expectation(no_insight=True, max_insights=0)
    assert not evals.grade(RunResult(insights=[insight("x", confidence=Confidence.LOW)]),
                           quiet).passed


def test_replay_command_prints_the_investigate_report() -> None:
    done = kubelens("replay", str(SCENARIOS / "oom-killed"))
    assert done.returncode == 0, done.stderr
    assert "reason:   api pods in shop keep restarting" in done.stdout
    assert "analyst:  built-in rule-based analyst" in done.stdout
    assert "256Mi" in done.stdout
    as_json = kubelens("replay", str(SCENARIOS / "oom-killed"), "--output", "json")
    assert set(json.loads(as_json.stdout)) == {"insights", "operator_results", "usage"}


def test_replay_command_refuses_a_bad_scenario_in_one_line(tmp_path: Path) -> None:
    shutil.copytree(SCENARIOS / "pvc-pending", tmp_path / "s")
    (tmp_path / "s" / "scenario.yaml").write_text("reason: x\n")
    done = kubelens("replay", str(tmp_path / "s"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        f"kubelens: {tmp_path / 's' / 'scenario.yaml'}: namespace: Field required")
    assert main(["replay", str(SCENARIOS / "pvc-pending"), "--skills", "nope"]) == 2


def test_eval_command_prints_a_table_and_the_pass_rate(tmp_path: Path) -> None:
    shutil.copytree(SCENARIOS / "pvc-pending", tmp_path / "pvc-pending")
    shutil.copytree(SCENARIOS / "healthy", tmp_path / "wrong")
    spec = yaml.safe_load((tmp_path / "wrong" / "scenario.yaml").read_text())
    spec["expect"] = {"rootCause": [["meteor"]]}
    (tmp_path / "wrong" / "scenario.yaml").write_text(yaml.safe_dump(spec))
    done = kubelens("eval", str(tmp_path))
    # A failing scenario is a result: the command ran, so it exits 0.
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["scenario", "result", "insights", "tokens", "cost", "latency",
                                "why"]
    assert lines[1].split()[:2] == ["pvc-pending", "pass"]
    assert lines[2].split()[:3] == ["wrong", "FAIL", "0"] and lines[2].endswith("no insight")
    assert lines[-1] == "eval_pass_rate 1/2"
    # Per class (the copy of healthy keeps its class) and per tag.
    assert "class  healthy    0/1" in lines and "class  storage    1/1" in lines
    assert "tag    multi-hop  1/1" in lines
    as_json = json.loads(kubelens("eval", str(tmp_path / "pvc-pending"), "--output",
                                  "json").stdout)
    assert as_json["eval_pass_rate"] == "1/1"
    assert as_json["by_class"] == {"storage": "1/1"} and as_json["by_tag"] == {"multi-hop": "1/1"}
    assert as_json["scenarios"][0]["scenario"] == "pvc-pending"


def test_eval_command_refuses_what_it_cannot_grade(tmp_path: Path) -> None:
    shutil.copytree(SCENARIOS / "pvc-pending", tmp_path / "s")
    spec = yaml.safe_load((tmp_path / "s" / "scenario.yaml").read_text())
    del spec["expect"]
    (tmp_path / "s" / "scenario.yaml").write_text(yaml.safe_dump(spec))
    done = kubelens("eval", str(tmp_path / "s"))
    assert done.returncode == 2 and "has no expect block" in done.stderr
    (tmp_path / "nothing").mkdir()
    assert main(["eval", str(tmp_path / "nothing")]) == 2


@pytest.mark.parametrize("command", ["replay", "record", "eval"])
def test_every_setting_of_a_command_is_in_its_help(command: str) -> None:
    done = kubelens(command, "--help")
    assert done.returncode == 0 and "DIR" in done.stdout
    for name in config.fields_for(command):
        flag = "--" + name.replace("_", "-")
        assert flag in done.stdout


def test_the_rule_based_analyst_reads_evidence_not_the_prompts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rewording the prompts (or a context too long for the opening message) cannot change
    what the analyst concludes: it reasons from the run's ledger, not the conversation."""
    from kubelens.coordinator import prompts

    loaded = scenario.load(SCENARIOS / "pvc-pending")
    plain = asyncio.run(replay(loaded))
    monkeypatch.setattr(prompts, "SYSTEM_PROMPT", "Be brief.")
    monkeypatch.setattr(prompts, "first_message", lambda *args: "Investigate.")
    reworded = asyncio.run(replay(loaded))
    assert plain.insights, "the pvc-pending scenario yields an insight"
    assert [i.summary for i in reworded.insights] == [i.summary for i in plain.insights]


@pytest.mark.parametrize("name", ["memory-leak", "api-crashloop-db-claim-unprovisioned"])
def test_two_replays_of_one_scenario_print_identical_json(name: str) -> None:
    first = kubelens("replay", str(SCENARIOS / name), "--output", "json")
    second = kubelens("replay", str(SCENARIOS / name), "--output", "json")
    assert first.returncode == second.returncode
    assert first.stdout == second.stdout, "ids, times and durations follow the recorded clock"
    report = json.loads(first.stdout)
    recorded = scenario.load(SCENARIOS / name).recorded_time()
    assert {i["createdAt"] for i in report["insights"]} <= {
        recorded.isoformat().replace("+00:00", "Z")}
