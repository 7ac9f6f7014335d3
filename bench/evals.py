"""The rule-based analyst's pass rate on the project's eval scenarios, overall and per class.

Run ``python bench/evals.py [scenarios-folder]`` (default ``tests/evals/scenarios``).
Prints ``figure value unit`` lines: the overall pass rate, then one line per class and
per tag (``eval_pass_rate_class_storage 1/2 scenarios``), and the median replay time.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from pathlib import Path

from kubelens import evals

DEFAULT = Path(__file__).resolve().parents[1] / "tests" / "evals" / "scenarios"


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    rows = asyncio.run(evals.evaluate_all(evals.load_for_eval([folder])))
    passed = sum(row.passed for row in rows)
    print(f"eval_pass_rate {evals.pass_rate(rows)} scenarios")
    print(f"eval_pass_percent {100 * passed / len(rows):.0f} %")
    for name, group in evals.by_class(rows).items():
        print(f"eval_pass_rate_class_{name} {evals.pass_rate(group)} scenarios")
    for name, group in evals.by_tag(rows).items():
        print(f"eval_pass_rate_tag_{name} {evals.pass_rate(group)} scenarios")
    print(f"eval_replay_median {1000 * statistics.median(r.latency_s for r in rows):.1f} ms")


if __name__ == "__main__":
    main()
