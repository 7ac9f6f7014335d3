"""Label and field selectors, parsed the way kube-apiserver parses them.

Label selectors support ``=``/``==``, ``!=``, ``in``, ``notin``, existence (``key``)
and non-existence (``!key``). Field selectors support ``=``/``==`` and ``!=`` over a
per-resource set of field labels; anything else is refused, as the real server does,
so a typo in an operator's field selector fails in tests rather than silently
matching everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class SelectorError(ValueError):
    """A selector the real API server would refuse (it answers 400 Bad Request)."""


@dataclass(frozen=True)
class _LabelRequirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op in ("=", "in"):
            return labels.get(self.key) in self.values
        # "!=" and "notin" match objects that lack the label, like the real server.
        return labels.get(self.key) not in self.values


_SET_RE = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([^=!\s]+)\s*(==|=|!=)\s*(\S*)\s*$")
_KEY_RE = re.compile(r"^\s*(!?)\s*([^=!\s(),]+)\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside ``in (...)`` parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def parse_label_selector(text: str | None) -> Callable[[Mapping[str, str]], bool]:
    """A predicate over an object's labels; an empty selector matches everything."""
    requirements: list[_LabelRequirement] = []
    for part in _split_top_level(text or ""):
        if match := _SET_RE.match(part):
            key, op, raw = match.groups()
            values = frozenset(v.strip() for v in raw.split(",") if v.strip())
            requirements.append(_LabelRequirement(key, op, values))
        elif match := _EQ_RE.match(part):
            key, op, value = match.groups()
            requirements.append(_LabelRequirement(key, "!=" if op == "!=" else "=",
                                                  frozenset([value])))
        elif match := _KEY_RE.match(part):
            negated, key = match.groups()
            requirements.append(_LabelRequirement(key, "!exists" if negated else "exists",
                                                  frozenset()))
        else:
            raise SelectorError(f"unable to parse requirement: {part.strip()!r}")
    return lambda labels: all(req.matches(labels) for req in requirements)


def field_value(obj: Mapping[str, Any], label: str) -> str:
    """The string form of a field label's value, "" when absent (as the server sees it)."""
    node: Any = obj
    for part in label.split("."):
        if not isinstance(node, Mapping):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def parse_field_selector(
    text: str | None, allowed: frozenset[str]
) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over a whole object; refuses field labels the resource does not index."""
    checks: list[tuple[str, bool, str]] = []
    for part in _split_top_level(text or ""):
        match = re.match(r"^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not match:
            raise SelectorError(f"invalid selector: {part.strip()!r}; can't understand it")
        label, op, value = match.groups()
        if label not in allowed:
            raise SelectorError(f'field label not supported: {label}')
        checks.append((label, op != "!=", value))
    return lambda obj: all((field_value(obj, label) == value) == equal
                           for label, equal, value in checks)
