"""Node agent footprint: peak memory, CPU and cycle time of a real ``kubelens agent``.

    python bench/agent_footprint.py [--interval 1] [--duration 60]

Starts the API emulator (tests/support) in this process and runs the real command,
``python -m kubelens agent``, as a child against it: the node skills read this machine's
/proc and cgroup tree, Notifications are written to the emulator, the skill API and the
/metrics endpoint are served. The schedule is accelerated (``--interval``, default 1 s
instead of 15 s) so a minute holds sixty cycles. Prints ``figure value unit`` lines:

- ``agent_peak_rss_mib``: the kernel's high-water mark of the child's resident memory
  (``VmHWM``), start-up included. Target ≤ 60 MiB.
- ``agent_cpu_percent_of_core_at_15s``: the child's CPU time over the steady part of the
  run (after the first cycles), divided by the cycles run in it, per 15 seconds. Idle
  costs (timers, the servers) are charged to the cycles, so this errs high. Target ≤ 1 %.
- ``agent_cycle_median_ms``: the agent's own median cycle duration (all node skills,
  snapshot plus detection, plus writing anything raised), from ``/healthz``. Target ≤ 20.
- ``agent_cpu_percent_of_core_measured`` and ``agent_cycles``: the raw figures behind
  the scaled one, at the accelerated interval.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _extras import require_test_extra  # noqa: E402

require_test_extra("bench/agent_footprint.py")


from tests.support.emulator import Emulator  # noqa: E402
from tests.support.fixtures import install_repo_crds  # noqa: E402

STATIC_TOKEN = "bench-token"
WARMUP_CYCLES = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthz(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return dict(json.loads(response.read()))


def wait_for_cycles(port: int, cycles: int, child: subprocess.Popen[bytes],
                    timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the agent exited with {child.returncode}")
        try:
            state = healthz(port)
            if state.get("cycles", 0) >= cycles:
                return state
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"the agent did not reach {cycles} cycles in {timeout:.0f}s")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float(psutil.Process(pid).memory_info().rss) / 1048576


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between cycles")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to measure")
    args = parser.parse_args()

    with Emulator() as emulator, tempfile.TemporaryDirectory() as scratch:
        install_repo_crds(emulator)
        emulator.create({"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": "kubelens"}})
        kubeconfig = emulator.kubeconfig(Path(scratch) / "kubeconfig", namespace="kubelens")
        api_port, metrics_port = free_port(), free_port()
        env = {
            **os.environ,
            "NODE_NAME": "bench-node",
            "KUBELENS_NAMESPACE": "kubelens",
            "KUBELENS_KUBECONFIG": str(kubeconfig),
            "KUBELENS_AGENT_PORT": str(api_port),
            "KUBELENS_METRICS_PORT": str(metrics_port),
            "KUBELENS_AGENT_INTERVAL": str(args.interval),
            "KUBELENS_AGENT_TOKEN": STATIC_TOKEN,
            "KUBELENS_LOG_LEVEL": "warning",
        }
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-m", "kubelens", "agent"], env=env, cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            process = psutil.Process(child.pid)
            first = wait_for_cycles(api_port, WARMUP_CYCLES, child)
            startup = time.monotonic() - started
            cpu_before = sum(process.cpu_times()[:2])
            wall_before, cycles_before = time.monotonic(), int(first["cycles"])
            time.sleep(args.duration)
            cpu_after = sum(process.cpu_times()[:2])
            wall_after = time.monotonic()
            state = healthz(api_port)
            peak = peak_rss_mib(child.pid)
            steady_rss = process.memory_info().rss / 1048576
        finally:
            child.terminate()
            try:
                _, stderr = child.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                _, stderr = child.communicate()
        if child.returncode not in (0, -15):
            sys.stderr.write(stderr.decode(errors="replace"))
            raise SystemExit(f"the agent exited with {child.returncode}")

    cycles = int(state["cycles"]) - cycles_before
    cpu = cpu_after - cpu_before
    measured = 100 * cpu / (wall_after - wall_before)
    at_15s = 100 * (cpu / max(cycles, 1)) / 15.0
    print(f"# kubelens agent, accelerated: one cycle every {args.interval:g}s for "
          f"{args.duration:g}s ({cycles} cycles); CPU scaled to one cycle per 15s",
          file=sys.stderr)
    print(f"agent_peak_rss_mib {peak:.1f} MiB")
    print(f"agent_cpu_percent_of_core_at_15s {at_15s:.3f} %")
    print(f"agent_cycle_median_ms {state.get('medianCycleMs', float('nan')):.2f} ms")
    print(f"agent_cpu_percent_of_core_measured {measured:.2f} %")
    print(f"agent_cycles {cycles} cycles")
    print(f"agent_steady_rss_mib {steady_rss:.1f} MiB")
    print(f"agent_startup_seconds {startup:.2f} s")


if __name__ == "__main__":
    main()
