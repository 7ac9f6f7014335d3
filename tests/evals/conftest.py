"""Figures the evals print after pytest's own summary, where a reader sees them without -s."""

from __future__ import annotations

import pytest

_REPORTS: list[str] = []


def report_at_end(text: str) -> None:
    """Show ``text`` in the terminal summary of this run (captured output is hidden)."""
    _REPORTS.append(text)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for text in _REPORTS:
        terminalreporter.section("eval pass rate, rule-based analyst")
        terminalreporter.write(text)
