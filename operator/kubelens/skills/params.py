"""Tool parameter schemas, compactly: the one home of the JSON-schema pieces tools take.

A tool's parameters read as one line, ``params(["pod"], pod=NAME, lines=integer(1, 500))``,
instead of a nested literal; the shared pieces (an object name, a namespace, a limit)
are defined once so every tool spells them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Schema = dict[str, Any]


def string(max_length: int = 253, description: str | None = None) -> Schema:
    out: Schema = {"type": "string", "maxLength": max_length}
    if description:
        out["description"] = description
    return out


def integer(minimum: int, maximum: int | None = None, description: str | None = None) -> Schema:
    out: Schema = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        out["maximum"] = maximum
    if description:
        out["description"] = description
    return out


def boolean(description: str | None = None) -> Schema:
    out: Schema = {"type": "boolean"}
    if description:
        out["description"] = description
    return out


def enum(values: Sequence[str], description: str | None = None) -> Schema:
    out: Schema = {"type": "string", "enum": list(values)}
    if description:
        out["description"] = description
    return out


def params(required: Sequence[str] = (), **properties: Schema) -> Schema:
    """A tool's parameters: named properties, some of them required."""
    out: Schema = {"properties": properties}
    if required:
        out["required"] = list(required)
    return out


#: A Kubernetes object name (DNS subdomain: at most 253 characters).
NAME = string()
#: The ``namespace`` argument every namespaced cluster tool takes (default: the
#: investigation's; any namespace is readable). The prompt says so once, not every tool.
NAMESPACE = string(63)
