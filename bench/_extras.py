"""What a bench needs beyond the README's `pip install -e .`, said in one line."""

from __future__ import annotations

import importlib.util
import sys

TEST_EXTRA = ("pytest", "kmock", "aiohttp")


def require_test_extra(bench: str) -> None:
    """Exit with one line naming the extra when the test extra is not installed."""
    missing = [name for name in TEST_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(f"{bench} needs the test extra: pip install -e '.[test]' "
                 f"(missing {', '.join(missing)})")
