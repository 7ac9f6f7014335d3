"""Operator throughput on a real kube-apiserver: many Investigations, one at a time per namespace.

    python bench/operator_throughput.py [--namespaces 10] [--per-namespace 10] [--call-delay 0.05]

Starts scripts/envtest.sh (a real kube-apiserver and etcd, built once and cached), installs
crds/, runs `kubelens operator --standalone` as its own process with a scripted model
(an OpenAI-compatible server on 127.0.0.1: 50 ms per call, 5 calls per investigation),
creates every Investigation at once (a thread a namespace) and waits until all have
finished. A watch on all Investigations records each phase change in the server's order,
so "never two Running in one namespace" is checked on every transition, not sampled.

Prints: how many Succeeded, the most Running at once in any namespace, the wall time and
its ratio to the ideal for that schedule (namespaces in parallel, each one's investigations
back to back: per-namespace * calls * delay), the operator's peak RSS and its CPU time.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _extras import require_test_extra  # noqa: E402

require_test_extra("bench/operator_throughput.py")

from kubernetes import client, config, watch  # noqa: E402
from tests.llm_server import ScriptedLLM, Turn  # noqa: E402
from tests.support.apiserver import ApiServer, start_envtest, stop_envtest  # noqa: E402

from kubelens.operator.handlers import RESUME_SETTLE_SECONDS  # noqa: E402

#: Seconds the scripted model takes to answer (--call-delay).
CALL_DELAY = 0.05
CALLS = 5
TERMINAL = {"Succeeded", "Failed", "Cancelled"}


#: When each conversation's requests reached the model (its first user message names it).
ARRIVALS: dict[str, list[float]] = defaultdict(list)


def scripted_model(delay: float) -> Callable[[dict[str, Any]], Turn]:
    """A model that answers in ``delay`` seconds: think until the fifth call of a
    conversation, then finish."""

    def turn(body: dict[str, Any]) -> Turn:
        ARRIVALS[str(body["messages"][1]["content"])].append(time.monotonic())
        answered = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        if answered + 1 < CALLS:
            return Turn(delay=delay, tool_calls=[("think", {"thought": f"step {answered}"})])
        return Turn(delay=delay, tool_calls=[("done", {})])

    return turn


class PhaseLog:
    """Every phase change of every Investigation, as the watch delivers them."""

    def __init__(self, kubeconfig: Path) -> None:
        self.api = client.CustomObjectsApi(config.new_client_from_config(str(kubeconfig)))
        self.phases: dict[tuple[str, str], str] = {}
        #: When each Investigation was first seen in each phase (monotonic seconds).
        self.seen: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        self.most_running: dict[str, int] = defaultdict(int)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)

    def _follow(self) -> None:
        stream = watch.Watch()
        try:
            for event in stream.stream(self.api.list_cluster_custom_object, "kubelens.io",
                                       "v1alpha1", "investigations", timeout_seconds=600):
                self._record(event["object"])
                if self.stop.is_set():
                    break
        except Exception:  # the server going away at the end of the run
            if not self.stop.is_set():
                raise
        finally:
            stream.stop()

    def _record(self, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        self.phases[key] = (obj.get("status") or {}).get("phase", "")
        self.seen[key].setdefault(self.phases[key], time.monotonic())
        running = sum(1 for (ns, _), phase in self.phases.items()
                      if ns == key[0] and phase == "Running")
        self.most_running[key[0]] = max(self.most_running[key[0]], running)


    def finished(self) -> int:
        return sum(1 for phase in self.phases.values() if phase in TERMINAL)

    def breakdown(self) -> tuple[float, float]:
        """Median run (Running to Succeeded) and hand-over (a namespace's previous
        Investigation finished to the next one Running) in seconds."""
        runs, handovers = [], []
        by_namespace: dict[str, list[dict[str, float]]] = defaultdict(list)
        for (namespace, _), seen in self.seen.items():
            if "Running" in seen and "Succeeded" in seen:
                runs.append(seen["Succeeded"] - seen["Running"])
                by_namespace[namespace].append(seen)
        for sequence in by_namespace.values():
            sequence.sort(key=lambda seen: seen["Running"])
            handovers += [after["Running"] - before["Succeeded"]
                          for before, after in itertools.pairwise(sequence)]
        return statistics.median(runs or [0.0]), statistics.median(handovers or [0.0])

    def first_running(self) -> float:
        """When the first Investigation was seen Running (monotonic seconds)."""
        return min((seen["Running"] for seen in self.seen.values() if "Running" in seen),
                   default=0.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_operator(server: ApiServer, model: ScriptedLLM, log: Path) -> subprocess.Popen[str]:
    """Start ``kubelens operator`` and return once it serves (its health probe answers)."""
    health = free_port()
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig),
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "KUBELENS_MODEL": "openai/scripted",
           "KUBELENS_LLM_API_BASE": model.api_base, "OPENAI_API_KEY": "sk-bench-scripted",
           "KUBELENS_METRICS_PORT": "0", "KUBELENS_HEALTH_PORT": str(health)}
    operator = subprocess.Popen([sys.executable, "-m", "kubelens", "operator", "--standalone"],
                                env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=log.open("w"), text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and operator.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health}/healthz", timeout=2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit(f"the operator did not start: {log.read_text()[-3000:]}")
    time.sleep(RESUME_SETTLE_SECONDS)  # its restart settling is not part of the schedule
    return operator


def create_all(api: client.CustomObjectsApi, namespaces: list[str], per_namespace: int) -> None:
    """Create every Investigation at once: one thread a namespace, each creating its
    namespace's in order (so the queue order is the creation order)."""

    def create(namespace: str) -> None:
        for i in range(per_namespace):
            body = {"apiVersion": "kubelens.io/v1alpha1", "kind": "Investigation",
                    "metadata": {"name": f"inv-{i:03d}"},
                    "spec": {"reason": f"bench investigation {i}"}}
            api.create_namespaced_custom_object("kubelens.io", "v1alpha1", namespace,
                                                "investigations", body)

    with ThreadPoolExecutor(len(namespaces)) as pool:
        list(pool.map(create, namespaces))


def machine_cpu_seconds() -> tuple[float, float]:
    """Busy and total CPU seconds of every core since boot (/proc/stat)."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    hertz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hertz, sum(ticks) / hertz


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(server: ApiServer, workdir: Path, namespace_count: int, per_namespace: int,
        delay: float, timeline: bool = False) -> None:
    namespaces = [server.new_namespace(f"bench{i}") for i in range(namespace_count)]
    total = namespace_count * per_namespace
    phases = PhaseLog(server.kubeconfig)
    phases.thread.start()
    with ScriptedLLM([], default=scripted_model(delay)) as model:
        operator = start_operator(server, model, workdir / "operator.log")
        try:
            creator = client.CustomObjectsApi(config.new_client_from_config(str(server.kubeconfig)))
            cpu_before = cpu_seconds(operator.pid)
            busy_before, total_before = machine_cpu_seconds()
            started = time.monotonic()
            create_all(creator, namespaces, per_namespace)
            created = time.monotonic() - started
            deadline = started + 600
            while phases.finished() < total and time.monotonic() < deadline:
                if operator.poll() is not None:
                    raise SystemExit((workdir / "operator.log").read_text()[-3000:])
                time.sleep(0.05)
            wall = time.monotonic() - started
            rss = peak_rss_mib(operator.pid)
            cpu = cpu_seconds(operator.pid) - cpu_before
            busy_after, total_after = machine_cpu_seconds()
        finally:
            operator.terminate()
            operator.wait(30)
        phases.stop.set()
    succeeded = sum(1 for phase in phases.phases.values() if phase == "Succeeded")
    ideal = per_namespace * CALLS * delay
    print(f"investigations: {total} across {namespace_count} namespaces, "
          f"{CALLS} model calls of {delay * 1000:.0f} ms each")
    print(f"succeeded: {succeeded}/{total}")
    print(f"most Running at once in one namespace: {max(phases.most_running.values(), default=0)}")
    print(f"wall time: {wall:.2f} s; ideal {ideal:.2f} s; ratio {wall / ideal:.2f} (goal <= 1.3)")
    print(f"model requests: {len(model.requests)} (expected {total * CALLS})")
    run_median, handover_median = phases.breakdown()
    print(f"median run (Running to Succeeded): {run_median * 1000:.0f} ms "
          f"({CALLS * delay * 1000:.0f} ms of it the model); median hand-over to the "
          f"next in a namespace: {handover_median * 1000:.0f} ms")
    if timeline:
        for (namespace, name), seen in sorted(phases.seen.items(),
                                              key=lambda item: item[1].get("Running", 0)):
            when = ", ".join(f"{phase or 'created'} {(at - started) * 1000:.0f}"
                             for phase, at in seen.items())
            print(f"  {namespace}/{name}: {when} ms")
    print(f"first Running {(phases.first_running() - started) * 1000:.0f} ms after the "
          f"first create")
    gaps = [later - earlier - delay for times in ARRIVALS.values()
            for earlier, later in itertools.pairwise(times)]
    print(f"median operator time per turn (an answer sent to the next request): "
          f"{statistics.median(gaps or [0.0]) * 1000:.1f} ms")
    print(f"operator peak RSS: {rss:.0f} MiB; operator CPU {cpu:.2f} s "
          f"({cpu / total * 1000:.0f} ms per Investigation); all created in {created:.2f} s")
    busy = busy_after - busy_before
    print(f"machine: {os.cpu_count()} cores busy {busy / (total_after - total_before):.0%} "
          f"during the run: {busy:.2f} CPU-s, the operator {cpu:.2f}, everything else "
          f"(API server, etcd, this bench and its model) {busy - cpu:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--per-namespace", type=int, default=10)
    parser.add_argument("--call-delay", type=float, default=CALL_DELAY,
                        help="seconds the scripted model takes per call (a real model: 1-10)")
    parser.add_argument("--timeline", action="store_true",
                        help="print when each Investigation reached each phase")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kubelens-bench-"))
    server = start_envtest(workdir)
    try:
        server.install_crds()
        run(server, workdir, args.namespaces, args.per_namespace, args.call_delay,
            args.timeline)
    finally:
        stop_envtest(workdir)


if __name__ == "__main__":
    main()
