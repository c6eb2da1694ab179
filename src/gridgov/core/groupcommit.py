"""Group commit: the write transactions of one process's requests share one COMMIT (ADR 0017).

A report's transaction holds the one writer of SQLite, and on PostgreSQL the day's case
counter and the audit chain's head, from its first write until its COMMIT. The COMMIT is the
costly part (the WAL of some thirty pages written and fsync'ed: 2–3 ms on these machines), so
under a burst reports queue behind each other's COMMITs. Here each process has one writer
thread. A request hands it the function that does its writes and waits. The writer takes
every function queued meanwhile, runs each under a savepoint of one transaction and COMMITs
once; only then is each caller answered, with its own result or its own error. Nothing is
acknowledged before it is durable, and one report's failure rolls back only its savepoint.

Writes of one kind can also be written together (``run_grouped``): the writer hands every such
request of the batch to one function that writes them all with a few multi-row statements
(intake: one INSERT per table for all its reports). If that fails, it is undone and each
request is written on its own, so only the one at fault fails.

Code already inside a transaction (a test, a command that groups its writes) runs inline.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from .errors import Unavailable

T = TypeVar("T")
MAX_BATCH = 32
PG_LOCK = 0x67726964  # the group-commit writers' advisory lock on PostgreSQL ("grid")


Group = Callable[[list[Any]], list[Any]]  # several requests' arguments -> their results


@dataclass
class _Item:
    fn: Callable[[], Any]  # this request's writes on their own
    context: contextvars.Context  # the request's (the audit row's source address)
    future: Future[Any]
    group: Group | None = None  # writes this request with others of its kind at once
    arg: Any = None  # what ``group`` takes for this request


class _Writer:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self.stops: list[_Item] = []  # requests to end, answered once the batch is written
        self.thread = threading.Thread(target=self._loop, name="gridgov-writer", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            items = self._take([self.queue.get()], MAX_BATCH)
            try:
                # more: what queued while the transaction waited for the database's writer
                # lock (SQLite's one writer, held by another process) joins this batch
                write(items, more=lambda room: self._take([], room))
            except Exception:  # never let the thread die: every later report would wait
                log.exception("group commit: a batch failed outside its transaction")
            if self.stops:
                connection.close()
                for stop in self.stops:
                    stop.future.set_result(None)
                return

    def _take(self, items: list[_Item], room: int) -> list[_Item]:
        """``items`` and what is queued, ``room`` at most; a request to stop is set aside."""
        taken: list[_Item] = []
        pending = list(items)
        while True:
            for item in pending:
                (self.stops if item.fn is _stop else taken).append(item)
            if len(taken) >= room or self.stops:
                return taken
            try:
                pending = [self.queue.get_nowait()]
            except queue.Empty:
                return taken


log = logging.getLogger(__name__)
_guard = threading.Lock()
_writer: _Writer | None = None


def _stop() -> None:
    return None


def _current() -> _Writer:
    global _writer
    with _guard:
        alive = _writer is not None and _writer.pid == os.getpid() and _writer.thread.is_alive()
        if not alive:  # first use, a forked worker, or a writer that ended
            _writer = _Writer()
        assert _writer is not None
        return _writer


def shutdown() -> None:
    """Let the writer finish what is queued, close its connection and end (a test run's end,
    before its database is dropped)."""
    global _writer
    with _guard:
        writer, _writer = _writer, None
    if writer is not None and writer.pid == os.getpid() and writer.thread.is_alive():
        stop = _Item(_stop, contextvars.Context(), Future())
        writer.queue.put(stop)
        stop.future.result(timeout=30)


def run(fn: Callable[[], T]) -> T:
    """Run ``fn``'s writes in a transaction; answer its result once that is durable. ``fn``
    may be run twice (the first time rolled back): it must build what it writes inside."""
    if connection.in_atomic_block or not settings.GROUP_COMMIT:
        with transaction.atomic():
            return fn()
    return _wait(_Item(fn, contextvars.copy_context(), Future()))


def run_grouped(group: Group, arg: Any) -> Any:
    """Write ``arg`` with ``group``, together with the other requests of the batch that use the
    same ``group`` (one call for them all, in the first one's context: what differs per
    request must be in its ``arg``); answer this request's result once durable. ``group`` may
    be called again with this ``arg`` alone, after a failed call was rolled back."""
    if connection.in_atomic_block or not settings.GROUP_COMMIT:
        with transaction.atomic():
            return group([arg])[0]
    item = _Item(lambda: group([arg])[0], contextvars.copy_context(), Future(), group, arg)
    return _wait(item)


def _wait(item: _Item) -> Any:
    _current().queue.put(item)
    try:
        return item.future.result(timeout=settings.GROUP_COMMIT_WAIT)
    except FutureTimeout:
        # not acknowledged: a retry with the same key answers what was written, if anything
        raise Unavailable("the report could not be written in time; send it again", 5) from None


class _Alone(Exception):
    """The batch's one item failed: its transaction was rolled back, as its alone."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Regroup(Exception):
    """The batch's one group failed without a savepoint: its transaction was rolled back, and
    each of its items is written again on its own."""


class _Broken(Exception):
    """The batch's transaction cannot be committed whole (its connection broke, or a savepoint
    could not be rolled back): nobody in it may be told it succeeded."""


def write(items: list[_Item], more: Callable[[int], list[_Item]] | None = None) -> None:
    """One transaction for ``items``, a savepoint each when there are several; then each
    caller is told its result (after COMMIT) or its error. A COMMIT refused for a deferred
    constraint (a foreign key checked at COMMIT) is retried item by item, so only the item
    at fault fails. ``more(room)``, called once the transaction has begun, adds up to
    ``room`` items to it."""
    if not items:
        return
    try:
        outcomes = _batch(items, more)
    except _Alone as alone:
        items[0].future.set_exception(alone.error)
        return
    except _Regroup:
        if not connection.in_atomic_block:  # a connection that broke is opened afresh
            connection.close_if_unusable_or_obsolete()
        for item in items:
            write([item])
        return
    except IntegrityError as exc:
        connection.close_if_unusable_or_obsolete()
        if len(items) > 1:
            for item in items:
                write([item])
        else:
            items[0].future.set_exception(exc)
        return
    except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the batch is durable
        connection.close()  # a broken connection is opened afresh for the next batch
        for item in items:
            item.future.set_exception(exc)
        return
    for item, value, error in outcomes:
        if error is not None:
            item.future.set_exception(error)
        else:
            item.future.set_result(value)


def _batch(
    items: list[_Item], more: Callable[[int], list[_Item]] | None
) -> list[tuple[_Item, Any, BaseException | None]]:
    outcomes = []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Foreign keys are checked at each statement, inside the item's savepoint. The
            # writers of all processes queue here, as SQLite's do at BEGIN: every batch takes
            # the day's case counter and the audit head anyway, so this serialises nothing
            # more, and what queues in this process meanwhile joins the batch.
            with connection.cursor() as cur:
                cur.execute(
                    f"SET CONSTRAINTS ALL IMMEDIATE; SELECT pg_advisory_xact_lock({PG_LOCK})"
                )
        if more is not None and len(items) < MAX_BATCH:
            items.extend(more(MAX_BATCH - len(items)))  # in place: ``write`` answers them all
        units = _units(items)
        # A batch of one unit (a burst of reports) needs no savepoint: its failure is the
        # transaction's, and ``write`` then writes each item again on its own. Two statements
        # fewer while the writer lock is held.
        savepoint = len(units) > 1
        for unit in units:
            if len(unit) > 1:
                outcomes.extend(_together(unit, savepoint))
            else:
                outcomes.append(_one(unit[0], savepoint))
            if connection.needs_rollback or connection.closed_in_transaction:
                raise _Broken("the batch's transaction was lost")
    return outcomes


def _units(items: list[_Item]) -> list[list[_Item]]:
    """The items written together: those of one group, in order; every other item alone."""
    groups: dict[Group, list[_Item]] = {}
    units: list[list[_Item]] = []
    for item in items:
        if item.group is None:
            units.append([item])
        elif item.group in groups:
            groups[item.group].append(item)
        else:
            groups[item.group] = [item]
            units.append(groups[item.group])
    return units


def _together(unit: list[_Item], savepoint: bool) -> list[tuple[_Item, Any, BaseException | None]]:
    """One call of the group for all of ``unit`` under a savepoint; if it fails, each item
    on its own, so the failure reaches only the item at fault. Without a savepoint (the
    batch's only unit) a failure undoes the transaction and ``write`` writes each again."""
    group = unit[0].group
    assert group is not None
    try:
        with transaction.atomic() if savepoint else contextlib.nullcontext():
            results = unit[0].context.run(group, [i.arg for i in unit])
            _refuse_silent_rollback()
    except Exception as exc:
        if not savepoint:
            raise _Regroup from exc
        if connection.closed_in_transaction:
            raise _Broken("the batch's transaction was lost") from None
        return [_one(item, savepoint=True) for item in unit]
    if len(results) != len(unit):
        raise _Broken("a group answered a result count other than its requests'")
    return [(item, value, None) for item, value in zip(unit, results, strict=True)]


def _one(item: _Item, savepoint: bool) -> tuple[_Item, Any, BaseException | None]:
    if not savepoint:
        try:
            return item, item.context.run(item.fn), None
        except BaseException as exc:  # its transaction is rolled back
            raise _Alone(exc) from exc
    try:
        with transaction.atomic():
            value = item.context.run(item.fn)
            _refuse_silent_rollback()
            return item, value, None
    except BaseException as exc:  # only this item's writes are undone
        return item, None, exc


class RolledBack(Exception):
    """Writes that caught a database error and went on: their savepoint is rolled back, so
    they must not be answered as written."""


def _refuse_silent_rollback() -> None:
    # A database error caught inside the block marks it for rollback; leaving the block then
    # rolls it back without raising, and the caller would be told its writes were made.
    if transaction.get_rollback():
        raise RolledBack("the writes hit a database error that was caught; nothing was written")
