"""``kubelens eval``: replay scenarios and grade the insights against their ``expect``.

A grade is plain data: did one insight name the root cause (a keyword of every group),
mention the expected objects and carry enough confidence; or, for a healthy scenario,
was nothing invented. Each row also carries what the run cost: tokens, money, time, and
the scenario's class and tags, so pass rates can be read per part of the taxonomy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from kubelens import scenario as scenarios
from kubelens.config import Settings
from kubelens.coordinator import ModelClient
from kubelens.models import Confidence, Insight, RunOutcome, RunResult
from kubelens.replay import replay
from kubelens.scenario import Expectation, Scenario, ScenarioError


@dataclass(frozen=True)
class Grade:
    passed: bool
    why: str


@dataclass(frozen=True)
class EvalRow:
    scenario: str
    passed: bool
    why: str
    insights: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_s: float
    outcome: str
    scenario_class: str = ""
    tags: tuple[str, ...] = ()

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def grade(result: RunResult, expect: Expectation) -> Grade:
    """Check a run's insights against a scenario's expectation."""
    insights = result.insights
    ended = (
        ""
        if result.outcome is RunOutcome.DONE
        else (f" (run ended {result.outcome.value}: {result.message})")
    )
    if expect.max_insights is not None and len(insights) > expect.max_insights:
        return Grade(
            False,
            f"{len(insights)} insights, at most {expect.max_insights} expected: "
            + _clip(insights[0].summary),
        )
    if expect.no_insight:
        confident = [i for i in insights if i.confidence.rank >= Confidence.MEDIUM.rank]
        if not confident:
            return Grade(True, "no insight of medium or high confidence, as expected" + ended)
        return Grade(
            False,
            f"expected no confident insight, got {len(confident)}: {_clip(confident[0].summary)}",
        )
    if not insights:
        return Grade(False, "no insight" + ended)
    checked = [(_missing(insight, expect), insight) for insight in insights]
    for missing, insight in checked:
        if not missing:
            matched = insight.root_cause_hypothesis or insight.summary
            return Grade(True, f"matched by: {_clip(matched)}")
    fewest, _ = min(checked, key=lambda pair: len(pair[0]))
    return Grade(False, "; ".join(fewest) + ended)


def _missing(insight: Insight, expect: Expectation) -> list[str]:
    """What this insight lacks to satisfy ``expect``, as readable phrases."""
    words = f"{insight.summary}\n{insight.root_cause_hypothesis}".lower()
    named = " ".join([words, *(s.name.lower() for s in insight.subjects)])
    missing = [
        "no " + "/".join(group)
        for group in expect.root_cause
        if not any(keyword.lower() in words for keyword in group)
    ]
    missing += [f"does not mention {name}" for name in expect.subjects if name.lower() not in named]
    if expect.min_confidence and insight.confidence.rank < expect.min_confidence.rank:
        missing.append(f"confidence {insight.confidence.value} < {expect.min_confidence.value}")
    return missing


def _clip(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scenario_folders(paths: Iterable[Path]) -> list[Path]:
    """Scenario folders named directly, or found one level below a named folder."""
    found: list[Path] = []
    for path in paths:
        if scenarios.is_scenario(path):
            found.append(path)
            continue
        children = (
            sorted(p for p in path.iterdir() if scenarios.is_scenario(p)) if path.is_dir() else []
        )
        if not children:
            raise ScenarioError(
                f"{path}: neither a scenario ({scenarios.SCENARIO_FILE}) nor a folder of scenarios"
            )
        found.extend(children)
    return found


def load_for_eval(paths: Iterable[Path]) -> list[Scenario]:
    """Every scenario, checked before any runs: a bad one stops the eval with its error."""
    loaded = []
    for folder in scenario_folders(paths):
        scenario = scenarios.load(folder)
        if scenario.spec.expect is None:
            raise ScenarioError(
                f"{folder / scenarios.SCENARIO_FILE}: has no expect block, "
                "so there is nothing to grade"
            )
        loaded.append(scenario)
    return loaded


async def evaluate(
    scenario: Scenario, settings: Settings | None = None, model: ModelClient | None = None
) -> tuple[EvalRow, RunResult]:
    """Replay one scenario and grade it."""
    expect = scenario.spec.expect
    if expect is None:
        raise ScenarioError(
            f"{scenario.root / scenarios.SCENARIO_FILE}: has no expect "
            "block, so there is nothing to grade"
        )
    started = time.perf_counter()
    result = await replay(scenario, settings, model=model)
    latency = time.perf_counter() - started
    verdict = grade(result, expect)
    usage = result.usage
    row = EvalRow(
        scenario=scenario.name,
        passed=verdict.passed,
        why=verdict.why,
        insights=len(result.insights),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost=usage.cost,
        latency_s=round(latency, 3),
        outcome=result.outcome.value,
        scenario_class=str(scenario.spec.scenario_class or ""),
        tags=tuple(str(tag) for tag in scenario.spec.tags),
    )
    return row, result


async def evaluate_all(
    loaded: Sequence[Scenario],
    settings: Settings | None = None,
    model: ModelClient | None = None,
) -> list[EvalRow]:
    # One at a time: scenarios are small, and a model's rate limit is shared.
    return [(await evaluate(scenario, settings, model))[0] for scenario in loaded]


def pass_rate(rows: Sequence[EvalRow]) -> str:
    return f"{sum(row.passed for row in rows)}/{len(rows)}"


#: The group of scenarios without a class in the per-class table.
UNCLASSIFIED = "(none)"


def by_class(rows: Sequence[EvalRow]) -> dict[str, list[EvalRow]]:
    """Rows grouped by scenario class, classes in name order."""
    groups: dict[str, list[EvalRow]] = {}
    for row in sorted(rows, key=lambda r: r.scenario_class or UNCLASSIFIED):
        groups.setdefault(row.scenario_class or UNCLASSIFIED, []).append(row)
    return groups


def by_tag(rows: Sequence[EvalRow]) -> dict[str, list[EvalRow]]:
    """Rows grouped by tag (a row with two tags counts in both), tags in name order."""
    groups: dict[str, list[EvalRow]] = {}
    for tag in sorted({tag for row in rows for tag in row.tags}):
        groups[tag] = [row for row in rows if tag in row.tags]
    return groups


def breakdown_table(rows: Sequence[EvalRow]) -> str:
    """Pass rate per class, then per tag: ``class memory 2/3`` lines, aligned."""
    lines = [("class", name, pass_rate(group)) for name, group in by_class(rows).items()]
    lines += [("tag", name, pass_rate(group)) for name, group in by_tag(rows).items()]
    width = max((len(name) for _, name, _ in lines), default=0)
    return "".join(f"{kind:<5}  {name.ljust(width)}  {rate}\n" for kind, name, rate in lines)


def as_table(rows: Sequence[EvalRow]) -> str:
    """A fixed-width table, then ``eval_pass_rate N/M`` on its own line."""
    header = ("scenario", "result", "insights", "tokens", "cost", "latency", "why")
    lines = [
        [
            row.scenario,
            "pass" if row.passed else "FAIL",
            str(row.insights),
            str(row.tokens),
            f"${row.cost:.4f}",
            f"{row.latency_s:.2f}s",
            row.why,
        ]
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [list(header), *lines]) for i in range(6)]
    out = []
    for cells in [list(header), *lines]:
        out.append(
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells[:6])) + "  " + cells[6]
        )
    out.append("")
    out.append(breakdown_table(rows))
    out.append(f"eval_pass_rate {pass_rate(rows)}")
    return "\n".join(out) + "\n"


def as_json(rows: Sequence[EvalRow]) -> str:
    return json.dumps(
        {
            "scenarios": [asdict(row) for row in rows],
            "eval_pass_rate": pass_rate(rows),
            "by_class": {name: pass_rate(group) for name, group in by_class(rows).items()},
            "by_tag": {name: pass_rate(group) for name, group in by_tag(rows).items()},
        },
        indent=2,
    )
