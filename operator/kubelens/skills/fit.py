"""The one place that fits a value or a tool result to a size budget.

A model reads what survives a cut, so the cut decides what it can know:

* **Values stay whole** up to :data:`VALUE_CAP` (a container's waiting message, an
  image reference, a command line): the informative part of such a text is often its
  end, so a bound well above their usual size beats a tight one.
* **Lists are cut before values**: a result too big for its budget loses list items
  first (the longest list first), and only then the longest strings.
* **Logs are read newest-last**: a list under a key in :data:`NEWEST_LAST` (log lines)
  loses its oldest entries; every other list loses its tail (they are sorted most
  relevant first). Each cut says how many entries were left out, under ``cut``.

Two shapes the coordinator hands the model keep their items whole instead:

* **Operator results** (:func:`fit_operator_results`): the largest snapshots give way
  first, replaced by a note; skill, status and summary always stay.
* **Notifications** (:func:`fit_notifications`): their evidence goes first, then the least
  severe notifications; the answer says how many were left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kubelens.models import OperatorResult, ToolResult

#: Longest single text value kept whole (messages, command lines, annotation values).
VALUE_CAP = 2_000
#: A string cut to fit a budget keeps at least this many characters.
VALUE_FLOOR = 200
#: Keys whose lists are ordered oldest to newest (log lines, a Deployment's revisions):
#: a cut keeps their end.
NEWEST_LAST = frozenset({"log_excerpt", "revisions"})
#: Room kept for the ``cut`` notes themselves.
NOTE_ROOM = 400


def clip(text: str, cap: int = VALUE_CAP) -> str:
    """A text bounded to ``cap`` characters, saying how much was cut."""
    if len(text) <= cap:
        return text
    marker = f"… [{len(text) - cap} more characters]"
    return text[: max(0, cap - len(marker))] + marker


@dataclass
class _ListCut:
    path: str
    total: int
    removed: int
    newest_last: bool

    def note(self) -> str:
        kept = self.total - self.removed
        if self.newest_last:
            return f"{self.path}: {self.removed} older entries left out; the newest {kept} are kept"
        return f"{self.path}: {self.removed} of {self.total} items left out; the first {kept} kept"


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str))


def _lists(value: Any, path: str = "") -> Iterator[tuple[Any, str, list[Any], str]]:
    """Every list inside ``value`` with its parent, its key and its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(item, list):
                yield value, str(key), item, where
            yield from _lists(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _lists(item, f"{path}[{index}]")


def _strings(value: Any) -> Iterator[tuple[Any, Any, str]]:
    """Every string inside ``value`` with its container and key (or index)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                yield value, key, item
            else:
                yield from _strings(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield value, index, item
            else:
                yield from _strings(item)


def _cut_lists(data: Any, budget: int) -> list[_ListCut]:
    cuts: dict[str, _ListCut] = {}
    while (excess := _size(data) - budget) > 0:
        candidates = [(p, k, lst, w) for p, k, lst, w in _lists(data) if len(lst) > 1]
        if not candidates:
            break
        parent, key, chosen, where = max(candidates, key=lambda c: _size(c[2]))
        newest_last = key in NEWEST_LAST
        cut = cuts.setdefault(where, _ListCut(where, len(chosen), 0, newest_last))
        removed = 0
        while len(chosen) > 1 and removed < excess:
            item = chosen.pop(0) if newest_last else chosen.pop()
            removed += _size(item) + 2
            cut.removed += 1
        if isinstance(parent, dict) and key == "items" and "shown" in parent:
            parent["shown"] = len(chosen)  # a :func:`limited` list says what it shows
    return list(cuts.values())


def _cut_strings(data: Any, budget: int) -> int:
    cut = 0
    while (excess := _size(data) - budget) > 0:
        candidates = [(c, k, s) for c, k, s in _strings(data) if len(s) > VALUE_FLOOR]
        if not candidates:
            break
        container, key, text = max(candidates, key=lambda c: len(c[2]))
        container[key] = clip(text, max(VALUE_FLOOR, len(text) - excess - 40))
        cut += 1
    return cut


def fit_result(result: ToolResult, budget: int, hint: str = "") -> ToolResult:
    """``result`` whose data fits in ``budget`` characters of JSON: lists cut first
    (oldest log lines, last items), then the longest values, each cut noted."""
    if _size(result.data) <= budget:
        return result
    data = json.loads(json.dumps(result.data, default=str))
    target = max(budget - NOTE_ROOM, budget // 2)
    notes = [cut.note() for cut in _cut_lists(data, target)]
    values_cut = _cut_strings(data, target)
    if values_cut:
        notes.append(f"{values_cut} long values shortened")
    if hint:
        notes.append(hint)
    fitted = data if isinstance(data, dict) else {"value": data}
    fitted["cut"] = notes
    if _size(fitted) > budget:
        # nothing structural left to cut (one huge key set): the plain head, said so
        text = json.dumps(data, default=str)
        fitted = {"partial": text[:target], "cut": [f"output cut from {len(text)} characters"]}
    return ToolResult(status=result.status, data=fitted, truncated=True)


def fit_operator_results(results: Sequence[OperatorResult], budget: int) -> list[dict[str, Any]]:
    """Whole operator results within ``budget`` characters: the largest snapshots give way
    first (with a note saying how to get them), so what remains is always valid JSON."""
    views = [r.wire() for r in results]
    sizes = [_size(v.get("snapshot")) for v in views]
    total = sum(_size(v) for v in views)
    for index in sorted(range(len(views)), key=lambda i: sizes[i], reverse=True):
        if total <= budget or "snapshot" not in views[index]:
            break
        views[index]["snapshot"] = {
            "omitted": f"{sizes[index]} characters; invoke this skill alone or use "
            "call_skill for detail"
        }
        total -= sizes[index] - len(json.dumps(views[index]["snapshot"]))
    return views


def fit_notifications(items: list[dict[str, Any]], total: int, budget: int) -> dict[str, Any]:
    """As many whole notifications as fit ``budget``, most severe first (``items`` is ranked).

    Evidence goes first, then the least severe notifications, and the answer says what was
    left out: a list stays a list (the rule-based analyst reads it too).
    """
    payload: dict[str, Any] = {"notifications": items, "total": total}
    if _size(payload) <= budget:
        return payload
    payload["notifications"] = items = [
        {k: v for k, v in item.items() if k != "evidence"} for item in items
    ]
    while True:
        payload["note"] = (
            f"evidence left out and {total - len(items)} of {total} notification(s) omitted "
            "to fit; filter by status, and read the evidence with call_skill"
        )
        # A little room: one more omitted notification may lengthen the note by a digit.
        if len(items) <= 1 or _size(payload) <= budget - 8:
            return payload
        items.pop()
