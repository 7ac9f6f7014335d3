"""`kubelens investigate --namespace NS` from a laptop: the cluster skills over a kubeconfig."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.integration.test_operator import oom_killed_pod
from tests.support.fixtures import KubeEnv


def test_investigate_a_namespace_with_a_kubeconfig(kube_env: KubeEnv) -> None:
    kube_env.emulator.create(oom_killed_pod(kube_env.namespace))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KUBELENS_")}
    done = subprocess.run(
        [sys.executable, "-m", "kubelens", "investigate", "--reason", "api keeps restarting",
         "--namespace", kube_env.namespace, "--kubeconfig", str(kube_env.kubeconfig),
         "--output", "json"],
        capture_output=True, text=True, env=environ, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    skills = {r["skill"] for r in result["operator_results"]}
    # no node skills
    assert skills == {"pods", "events", "logs", "nodes", "workloads", "services", "graph"}
    summaries = {r["skill"]: r["summary"] for r in result["operator_results"]}
    assert summaries["pods"] == "1 pods (1 Running), 1 with problems"
    assert all(summaries.values()), summaries
    text = " ".join(i["summary"] + " " + i["rootCauseHypothesis"] for i in result["insights"])
    assert "api-7d9f" in text and "OOM" in text
