"""Alert groups to Investigations: one open Investigation per group, repeats merged.

Rules (docs/webhook.md says the same for users):

- A group is identified by Alertmanager's ``groupKey``; its Investigations are named
  ``alert-<hash>`` (then ``alert-<hash>-2``, ``-3``, ...) and labelled
  ``kubelens.io/alert-group=<hash>``, where ``<hash>`` is the first hex digits of
  sha256(groupKey). The group's *latest* Investigation is the highest number found
  with that label, in any namespace.
- firing: while the latest is open (no phase yet, Pending or Running) its alerts are
  merged into it; when there is none, or it has finished, the next number is created.
- resolved: the latest gets ``kubelens.io/resolved-at``; if it had not started yet (no
  phase or Pending) also ``kubelens.io/cancel-if-pending``, and the operator (the only
  writer of status) cancels it; it counts as finished from then on. A resolved group
  without an Investigation is ignored.

Concurrency and load. Every group has a *line*: notifications for one group are
applied one batch at a time, and whatever arrives while a write is in flight joins the
next batch, so a storm of notifications for one group costs a few API writes, not one
each. The group's last-seen object is cached, so a repeat that brings nothing new
costs no API call at all. Writes are optimistic: creates use the fixed name (409
AlreadyExists means another writer won: merge instead), patches carry the cached
``resourceVersion`` (409 Conflict means the object moved: re-read and redo). Every API
write takes a token from one bucket; a write that would wait too long is refused and
the caller answers 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import urllib3

from kubelens.kube import INVESTIGATIONS, LABEL_ALERT_GROUP, CustomObjects, KubeError
from kubelens.models import timestamp
from kubelens.resources import ANNOTATION_CANCEL_IF_PENDING, NOT_STARTED, TERMINAL
from kubelens.webhook import investigations as inv
from kubelens.webhook.payload import AlertmanagerNotification, AlertStatus

log = logging.getLogger(__name__)

Action = Literal["created", "updated", "resolved", "ignored"]
Obj = dict[str, Any]
_T = TypeVar("_T")

#: Why a resolved alert group's Investigation that had not started is cancelled.
CANCEL_MESSAGE = "the alert group was resolved before the investigation started"


@dataclass(frozen=True)
class WebhookLimits:
    """Load bounds of the receiver (defaults sized for one replica, see docs/webhook.md)."""

    #: Sustained Investigation writes (create/patch) per second, over all groups.
    writes_per_second: float = 50.0
    #: Writes allowed at once before the sustained rate applies.
    write_burst: int = 200
    #: Longest a write waits for the bucket; beyond it the request is answered 503.
    max_write_wait: float = 2.0
    #: A cached object is trusted this long for repeats that change nothing.
    cache_seconds: float = 5.0
    #: Attempts at one batch when the object keeps moving (409) under us.
    conflict_attempts: int = 5
    #: Idle groups remembered (their cached object); least recently used are dropped.
    max_groups: int = 10_000
    context: inv.ContextLimits = field(default_factory=inv.ContextLimits)


@dataclass(frozen=True)
class Outcome:
    action: Action
    namespace: str
    investigation: str | None


class RateLimitedError(RuntimeError):
    """The write bucket is empty; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Investigation writes are rate limited; retry in {retry_after:.1f}s")
        self.retry_after = retry_after


class TokenBucket:
    """A token bucket with reservations: a caller either gets a token now, waits a
    bounded time for one, or is refused with the time after which one will be there."""

    def __init__(self, rate: float, burst: int, clock: Any = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("the write rate must be positive and the burst at least 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def wait_for_token(self) -> float:
        """Seconds until a token is free (0: one is free now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def reserve(self, max_wait: float) -> float:
        """Take a token; return how long to sleep before using it, or raise."""
        wait = self.wait_for_token()
        if wait > max_wait:
            raise RateLimitedError(wait)
        self._tokens -= 1
        return wait


class InvestigationStore(Protocol):
    """The API calls the receiver makes (tests and the bench may fake them)."""

    async def find_group(self, group: str) -> list[Obj]: ...
    async def get(self, namespace: str, name: str) -> Obj: ...
    async def create(self, namespace: str, body: Obj) -> Obj: ...
    async def patch(self, namespace: str, name: str, body: Obj) -> Obj: ...


class KubeInvestigations:
    """:class:`InvestigationStore` over the Kubernetes API."""

    def __init__(self, objects: CustomObjects) -> None:
        self.objects = objects

    async def find_group(self, group: str) -> list[Obj]:
        selector = f"{LABEL_ALERT_GROUP}={group}"
        return await _reachable(self.objects.list(INVESTIGATIONS, label_selector=selector))

    async def get(self, namespace: str, name: str) -> Obj:
        return await _reachable(self.objects.get(INVESTIGATIONS, namespace, name))

    async def create(self, namespace: str, body: Obj) -> Obj:
        return await _reachable(self.objects.create(INVESTIGATIONS, namespace, body))

    async def patch(self, namespace: str, name: str, body: Obj) -> Obj:
        return await _reachable(self.objects.patch(INVESTIGATIONS, namespace, name, body))


async def _reachable(request: Awaitable[_T]) -> _T:
    """Await an API call; an unreachable API server is a (temporary) KubeError too."""
    try:
        return await request
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise KubeError(f"Kubernetes API unreachable: {exc}", 0) from None


@dataclass
class _Pending:
    notification: AlertmanagerNotification
    answer: asyncio.Future[Outcome]


@dataclass
class _GroupLine:
    group: str
    waiting: list[_Pending] = field(default_factory=list)
    busy: bool = False
    #: The group's latest Investigation as last read or written, and when.
    latest: Obj | None = None
    seen_at: float = float("-inf")
    #: Whether the run being applied may take in notifications that queue up meanwhile.
    takes_late: bool = False


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _phase(obj: Mapping[str, Any]) -> str:
    status = obj.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return phase if isinstance(phase, str) else ""


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    annotations = _meta(obj).get("annotations")
    return annotations if isinstance(annotations, Mapping) else {}


def _finished(obj: Mapping[str, Any]) -> bool:
    """Finished, or about to be: a new firing opens the group's next Investigation."""
    return _phase(obj) in TERMINAL or ANNOTATION_CANCEL_IF_PENDING in _annotations(obj)


def _context(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    context = spec.get("context") if isinstance(spec, Mapping) else None
    return context if isinstance(context, Mapping) else {}


class AlertGroups:
    """The receiver's service: ``receive`` applies one notification and says what it did."""

    def __init__(
        self,
        store: InvestigationStore,
        default_namespace: str,
        limits: WebhookLimits | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.store = store
        self.default_namespace = default_namespace
        self.limits = limits or WebhookLimits()
        self.bucket = TokenBucket(self.limits.writes_per_second, self.limits.write_burst, clock)
        self._clock = clock
        self._lines: OrderedDict[str, _GroupLine] = OrderedDict()
        self._flushes: set[asyncio.Task[None]] = set()
        #: API writes made (creates and patches), for the bench and tests.
        self.writes = 0

    async def receive(self, notification: AlertmanagerNotification) -> Outcome:
        group = inv.group_hash(notification.group_key)
        line = self._line(group)
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        line.waiting.append(_Pending(notification, answer))
        if not line.busy:
            line.busy = True
            task = asyncio.create_task(self._drain(line), name=f"alert-group-{group}")
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        return await answer

    async def close(self) -> None:
        """Finish the batches under way (on shutdown)."""
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)

    # --- group lines ---------------------------------------------------------------

    def _line(self, group: str) -> _GroupLine:
        line = self._lines.get(group)
        if line is None:
            line = self._lines[group] = _GroupLine(group)
            self._forget_idle_lines()
        else:
            self._lines.move_to_end(group)
        return line

    def _forget_idle_lines(self) -> None:
        excess = len(self._lines) - self.limits.max_groups
        for group in list(self._lines):
            if excess <= 0:
                break
            line = self._lines[group]
            if not line.busy and not line.waiting:
                del self._lines[group]
                excess -= 1

    async def _drain(self, line: _GroupLine) -> None:
        try:
            while line.waiting:
                batch, line.waiting = line.waiting, []
                await self._apply_batch(line, batch)
        finally:
            line.busy = False

    async def _apply_batch(self, line: _GroupLine, batch: list[_Pending]) -> None:
        # Consecutive firing notifications become one write; a resolved one stands alone,
        # so the order Alertmanager sent them in is kept.
        runs: list[list[_Pending]] = []
        for pending in batch:
            firing = pending.notification.status is AlertStatus.FIRING
            if runs and firing and runs[-1][0].notification.status is AlertStatus.FIRING:
                runs[-1].append(pending)
            else:
                runs.append([pending])
        for index, run in enumerate(runs):
            # Only the batch's last run may take in notifications that arrive meanwhile:
            # an earlier one would jump them ahead of the resolved one that follows it.
            line.takes_late = index == len(runs) - 1
            try:
                if run[0].notification.status is AlertStatus.FIRING:
                    outcome = await self._fire(line, run)
                else:
                    outcome = await self._resolve(line, run[0].notification)
            except Exception as exc:  # every waiter gets the failure, none hangs
                line.seen_at = float("-inf")
                for pending in run:
                    if not pending.answer.done():
                        pending.answer.set_exception(exc)
                continue
            # One write served the whole run: the first notification created the
            # Investigation (if one was created), the others were merged into it.
            merged = Outcome("updated", outcome.namespace, outcome.investigation)
            for position, pending in enumerate(run):
                if not pending.answer.done():
                    rider = position > 0 and outcome.action == "created"
                    pending.answer.set_result(merged if rider else outcome)

    def _late_firing(self, line: _GroupLine) -> list[_Pending]:
        """Firing notifications that queued up while this batch waited for a write token:
        they ride along in the same write (the order with resolved ones is kept)."""
        if not line.takes_late:
            return []
        taken = 0
        while taken < len(line.waiting) and line.waiting[taken].notification.status is (
            AlertStatus.FIRING
        ):
            taken += 1
        late, line.waiting = line.waiting[:taken], line.waiting[taken:]
        return late

    # --- reading -------------------------------------------------------------------

    async def _latest(self, line: _GroupLine, fresh: bool) -> Obj | None:
        """The group's latest Investigation (cached unless ``fresh`` or stale)."""
        if not fresh and self._clock() - line.seen_at < self.limits.cache_seconds:
            return line.latest
        self._check_bucket()
        found = await self.store.find_group(line.group)
        numbered = [
            (inv.sequence_of(str(_meta(obj).get("name", "")), line.group), obj) for obj in found
        ]
        numbered = [(n, obj) for n, obj in numbered if n > 0]
        latest = max(numbered, key=lambda item: item[0])[1] if numbered else None
        self._remember(line, latest)
        return latest

    def _remember(self, line: _GroupLine, obj: Obj | None) -> None:
        line.latest = obj
        line.seen_at = self._clock()

    def _check_bucket(self) -> None:
        """Refuse early (before any read) when a write could not get a token in time."""
        wait = self.bucket.wait_for_token()
        if wait > self.limits.max_write_wait:
            raise RateLimitedError(wait)

    async def _write_token(self) -> None:
        delay = self.bucket.reserve(self.limits.max_write_wait)
        if delay > 0:
            await asyncio.sleep(delay)
        self.writes += 1

    # --- firing --------------------------------------------------------------------

    async def _fire(self, line: _GroupLine, run: list[_Pending]) -> Outcome:
        fresh = False
        for _ in range(self.limits.conflict_attempts):
            latest = await self._latest(line, fresh)
            fresh = True
            if latest is None or _finished(latest):
                outcome = await self._create(line, run, latest)
            else:
                outcome = await self._merge(line, run, latest)
            if outcome is not None:
                return outcome
        raise KubeError(
            f"alert group {line.group}: its Investigation kept changing; gave up after "
            f"{self.limits.conflict_attempts} attempts",
            409,
        )

    async def _create(
        self, line: _GroupLine, run: list[_Pending], previous: Obj | None
    ) -> Outcome | None:
        await self._write_token()
        run.extend(self._late_firing(line))
        first, *rest = [pending.notification for pending in run]
        sequence = 1
        if previous is not None:
            sequence = inv.sequence_of(str(_meta(previous).get("name", "")), line.group) + 1
        namespace = inv.namespace_for(first, self.default_namespace)
        body = inv.new_investigation(first, line.group, sequence, namespace, self.limits.context)
        for notification in rest:
            body["spec"]["context"] = inv.merge_context(
                body["spec"]["context"], notification, self.limits.context
            )
        try:
            created = await self._create_in(namespace, body)
        except KubeError as exc:
            if exc.conflict:  # AlreadyExists: another request (or replica) won the race
                return None
            raise
        self._remember(line, created)
        return Outcome("created", _meta(created).get("namespace", namespace), _name(created))

    async def _create_in(self, namespace: str, body: Obj) -> Obj:
        try:
            return await self.store.create(namespace, body)
        except KubeError as exc:
            if not exc.not_found or namespace == self.default_namespace:
                raise
        # The alert's namespace does not exist (here): investigate from the default one.
        log.info(
            "namespace %s not found; alert group goes to %s", namespace, self.default_namespace
        )
        body["metadata"]["namespace"] = self.default_namespace
        await self._write_token()
        return await self.store.create(self.default_namespace, body)

    async def _merge(self, line: _GroupLine, run: list[_Pending], latest: Obj) -> Outcome | None:
        refired = inv.ANNOTATION_RESOLVED_AT in _annotations(latest)
        context = self._folded(_context(latest), run)
        if context == _context(latest) and not refired:
            return Outcome("updated", _namespace(latest), _name(latest))
        await self._write_token()
        late = self._late_firing(line)
        if late:
            run.extend(late)
            context = self._folded(context, late)
        patch: Obj = {
            "metadata": {"resourceVersion": _meta(latest).get("resourceVersion")},
            "spec": {"context": inv.merge_patch(_context(latest), context)},
        }
        if refired:  # the group fires again: it is no longer resolved
            patch["metadata"]["annotations"] = {inv.ANNOTATION_RESOLVED_AT: None}
        patched = await self._patch(line, latest, patch)
        if patched is None:
            return None
        return Outcome("updated", _namespace(patched), _name(patched))

    def _folded(self, context: Mapping[str, Any], run: Sequence[_Pending]) -> Mapping[str, Any]:
        for pending in run:
            context = inv.merge_context(context, pending.notification, self.limits.context)
        return context

    async def _patch(self, line: _GroupLine, latest: Obj, patch: Obj) -> Obj | None:
        """Patch ``latest`` if it has not moved; None (and the cache dropped) if it has.
        The caller has taken the write token."""
        try:
            patched = await self.store.patch(_namespace(latest), _name(latest), patch)
        except KubeError as exc:
            if exc.conflict or exc.not_found:
                line.seen_at = float("-inf")
                return None
            raise
        self._remember(line, patched)
        return patched

    # --- resolved ------------------------------------------------------------------

    async def _resolve(self, line: _GroupLine, notification: AlertmanagerNotification) -> Outcome:
        # A cached object is safe here too: the annotations carry its resourceVersion, so
        # a phase that moved on makes the patch fail (409) and re-read.
        fresh = line.latest is None
        for _ in range(self.limits.conflict_attempts):
            latest = await self._latest(line, fresh)
            fresh = True
            if latest is None:
                namespace = inv.namespace_for(notification, self.default_namespace)
                return Outcome("ignored", namespace, None)
            annotated = await self._mark_resolved(line, latest, notification)
            if annotated is not None:
                return Outcome("resolved", _namespace(annotated), _name(annotated))
        raise KubeError(
            f"alert group {line.group}: its Investigation kept changing; gave up after "
            f"{self.limits.conflict_attempts} attempts",
            409,
        )

    async def _mark_resolved(
        self, line: _GroupLine, latest: Obj, notification: AlertmanagerNotification
    ) -> Obj | None:
        context = inv.merge_context(_context(latest), notification, self.limits.context)
        annotations = _resolved_annotations(latest)
        patch: Obj = {"metadata": {"resourceVersion": _meta(latest).get("resourceVersion")}}
        if annotations:
            patch["metadata"]["annotations"] = annotations
        if context != _context(latest):
            patch["spec"] = {"context": inv.merge_patch(_context(latest), context)}
        if len(patch) == 1 and not annotations:
            return latest  # already marked, nothing new: no write
        await self._write_token()
        return await self._patch(line, latest, patch)


def _resolved_annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    """The annotations a resolved group adds: when, and (not started yet) the cancel."""
    present = _annotations(obj)
    added: dict[str, str] = {}
    if inv.ANNOTATION_RESOLVED_AT not in present:
        added[inv.ANNOTATION_RESOLVED_AT] = timestamp()
    if _phase(obj) in NOT_STARTED and ANNOTATION_CANCEL_IF_PENDING not in present:
        added[ANNOTATION_CANCEL_IF_PENDING] = CANCEL_MESSAGE
    return added


def _name(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name", ""))


def _namespace(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("namespace", ""))
