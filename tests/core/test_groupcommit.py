"""Group commit (core/groupcommit.py): several callers' writes in one transaction, each told
its own result or error only after COMMIT, one caller's failure undoing only its own writes.
These run on committed data (no test transaction), and clean up after themselves."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from django.db import connection, transaction

from gridgov.core import groupcommit
from gridgov.events.models import CaseCounter

DAYS = ["T0000001", "T0000002", "T0000003"]


@pytest.fixture
def committed(django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        CaseCounter.objects.filter(day__in=DAYS).delete()
        yield
        CaseCounter.objects.filter(day__in=DAYS).delete()


def _written() -> list[str]:
    return sorted(CaseCounter.objects.filter(day__in=DAYS).values_list("day", flat=True))


def _item(fn: Any) -> groupcommit._Item:
    import contextvars

    return groupcommit._Item(fn, contextvars.copy_context(), Future())


def _make(day: str) -> Any:
    def fn() -> str:
        CaseCounter.objects.create(day=day, last=1)
        return day

    return fn


def _fails() -> None:
    CaseCounter.objects.create(day=DAYS[1], last=1)  # written, then undone with its savepoint
    raise ValueError("this report is refused")


def _only_the_second_is_refused(items: list[groupcommit._Item]) -> None:
    """Written, the first and third are answered with their days and stored; the second is
    answered with its error and nothing of it stays."""
    groupcommit.write(items)
    assert items[0].future.result() == DAYS[0] and items[2].future.result() == DAYS[2]
    with pytest.raises(ValueError, match="refused"):
        items[1].future.result()
    assert _written() == [DAYS[0], DAYS[2]]
    assert not connection.in_atomic_block


def test_a_batch_commits_the_good_and_undoes_only_the_failed(committed: None) -> None:
    items = [_item(_make(DAYS[0])), _item(_fails), _item(_make(DAYS[2]))]
    _only_the_second_is_refused(items)


def test_a_lone_failure_rolls_back_and_reaches_its_caller(committed: None) -> None:
    item = _item(_fails)
    groupcommit.write([item])
    with pytest.raises(ValueError):
        item.future.result()
    assert not CaseCounter.objects.filter(day__in=DAYS).exists()


def test_run_writes_in_the_writer_thread_and_answers_after_commit(committed: None) -> None:
    seen: list[str] = []

    def fn() -> int:
        seen.append(threading.current_thread().name)
        CaseCounter.objects.create(day=DAYS[0], last=7)
        return 7

    assert groupcommit.run(fn) == 7
    assert seen == ["gridgov-writer"]
    # answered only once durable: this thread's own connection sees the row
    assert CaseCounter.objects.get(day=DAYS[0]).last == 7
    with pytest.raises(ValueError):
        groupcommit.run(_fails)
    assert not CaseCounter.objects.filter(day=DAYS[1]).exists()


@pytest.mark.django_db
def test_inside_a_transaction_run_writes_in_it() -> None:
    with transaction.atomic():
        seen: list[str] = []
        groupcommit.run(lambda: seen.append(threading.current_thread().name))
    assert seen == [threading.current_thread().name]


def test_a_writer_that_does_not_answer_in_time_is_a_503(committed: None, settings: Any) -> None:
    import time

    from gridgov.core.errors import Unavailable

    settings.GROUP_COMMIT_WAIT = 0.05
    with pytest.raises(Unavailable) as refused:
        groupcommit.run(lambda: time.sleep(0.5))
    assert refused.value.status == 503 and refused.value.retry_after >= 1


def test_a_bad_reference_checked_at_commit_fails_only_its_report(committed: None) -> None:
    """Foreign keys are checked at COMMIT (deferred): the batch is then written again item by
    item, so the others still commit."""
    import uuid

    from django.utils import timezone

    from gridgov.events.models import TimelineEntry

    def dangling() -> None:
        TimelineEntry.objects.create(
            event_id=uuid.uuid4(), seq=1, at=timezone.now(), action="report", to_state="x"
        )

    items = [_item(_make(DAYS[0])), _item(dangling), _item(_make(DAYS[2]))]
    groupcommit.write(items)
    assert items[0].future.result() == DAYS[0] and items[2].future.result() == DAYS[2]
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        items[1].future.result()
    assert CaseCounter.objects.filter(day__in=[DAYS[0], DAYS[2]]).count() == 2


def test_a_batch_whose_connection_broke_acknowledges_no_one(committed: None) -> None:
    def breaks() -> None:
        connection.close()  # a lost connection (a database restart) in the middle

    items = [_item(_make(DAYS[0])), _item(breaks), _item(_make(DAYS[2]))]
    groupcommit.write(items)
    for item in items:
        with pytest.raises(Exception):  # noqa: B017 - whatever the error, none is a success
            item.future.result()
    assert not CaseCounter.objects.filter(day__in=DAYS).exists()


def test_a_writer_that_ended_is_replaced(committed: None) -> None:
    old = groupcommit._current()
    stop = _item(groupcommit._stop)
    old.queue.put(stop)  # the thread ends as if it had died
    stop.future.result(timeout=10)
    old.thread.join(10)
    assert groupcommit.run(lambda: threading.current_thread().name) == "gridgov-writer"
    assert groupcommit._current() is not old


def _swallows(day: str) -> Any:
    """Writes, then catches a database error and goes on: its savepoint is rolled back."""

    def fn() -> str:
        from django.db import IntegrityError

        CaseCounter.objects.create(day=day, last=1)
        with contextlib.suppress(IntegrityError):
            CaseCounter.objects.create(day=day, last=2)  # the same day again
        return day

    return fn


def test_writes_that_caught_a_database_error_are_not_acknowledged(committed: None) -> None:
    items = [_item(_make(DAYS[0])), _item(_swallows(DAYS[1]))]
    groupcommit.write(items)
    assert items[0].future.result() == DAYS[0]
    with pytest.raises(groupcommit.RolledBack):
        items[1].future.result()
    assert not CaseCounter.objects.filter(day=DAYS[1]).exists()


def test_a_group_that_caught_a_database_error_is_written_again_alone(committed: None) -> None:
    import contextvars

    def group(days: list[str]) -> list[str]:
        for day in days:
            CaseCounter.objects.create(day=day, last=1)
        if len(days) > 1:  # together they hit an error, caught; alone they do not
            _swallows(DAYS[2])()
        return days

    items = [
        groupcommit._Item(lambda d=d: group([d])[0], contextvars.copy_context(), Future(), group, d)
        for d in DAYS[:2]
    ]
    groupcommit.write(items)
    assert [i.future.result() for i in items] == DAYS[:2]
    assert _written() == DAYS[:2]


def test_more_adds_items_to_the_begun_transaction_each_answered(committed: None) -> None:
    """``more`` is asked once the transaction has begun; what it adds is written in the same
    transaction, a failure among them undoing only itself."""
    asked: list[tuple[bool, int]] = []
    later = [_item(_fails), _item(_make(DAYS[2]))]

    def more(room: int) -> list[groupcommit._Item]:
        asked.append((connection.in_atomic_block, room))
        return later

    first = _item(_make(DAYS[0]))
    items = [first]
    groupcommit.write(items, more=more)
    assert asked == [(True, groupcommit.MAX_BATCH - 1)]
    assert len(items) == 3  # the caller's list holds every item written
    assert first.future.result() == DAYS[0] and later[1].future.result() == DAYS[2]
    with pytest.raises(ValueError, match="refused"):
        later[0].future.result()
    assert _written() == [DAYS[0], DAYS[2]]


def test_taking_from_the_queue_keeps_to_the_room_and_sets_stops_aside() -> None:
    writer = groupcommit._Writer.__new__(groupcommit._Writer)  # no thread: only its queue
    writer.queue = __import__("queue").SimpleQueue()
    writer.stops = []
    queued = [_item(_make(d)) for d in DAYS]
    for item in queued:
        writer.queue.put(item)
    assert writer._take([], 2) == queued[:2]
    assert writer._take([], 5) == queued[2:]  # nothing is dropped beyond the room
    stop = _item(groupcommit._stop)
    writer.queue.put(stop)
    writer.queue.put(_item(_make(DAYS[0])))
    assert writer._take([], 5) == [] and writer.stops == [stop]
    assert writer.queue.qsize() == 1  # what came after the stop stays queued


def test_reports_queued_while_another_process_writes_join_one_batch(
    committed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the writer waits for the writer lock of all processes before BEGIN; what
    queues meanwhile is written in that same transaction, not one transaction later."""
    import fcntl
    import os
    import time

    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        pytest.skip("the writer lock of all processes is SQLite's (core/sqlite/base.py)")
    sizes: list[int] = []
    real_write = groupcommit.write

    def counting(items: list[groupcommit._Item], more: Any = None) -> None:
        real_write(items, more)
        sizes.append(len(items))

    monkeypatch.setattr(groupcommit, "write", counting)
    groupcommit.run(lambda: None)  # the writer thread is up, its queue empty
    sizes.clear()
    other = os.open(f"{connection.settings_dict['NAME']}.writer", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process is writing
        threads = [threading.Thread(target=groupcommit.run, args=(_make(day),)) for day in DAYS]
        threads[0].start()
        time.sleep(0.2)  # the writer has taken the first and waits for the lock
        for t in threads[1:]:
            t.start()
        time.sleep(0.2)
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    for t in threads:
        t.join(10)
    assert sizes == [3]
    assert CaseCounter.objects.filter(day__in=DAYS).count() == 3


def _grouped(group: Any, days: list[str]) -> list[groupcommit._Item]:
    import contextvars

    return [
        groupcommit._Item(lambda d=d: group([d])[0], contextvars.copy_context(), Future(), group, d)
        for d in days
    ]


def _create_days(days: list[str]) -> list[str]:
    CaseCounter.objects.bulk_create([CaseCounter(day=d, last=1) for d in days])
    if DAYS[1] in days:
        raise ValueError("this report is refused")
    return days


def test_a_batch_of_one_group_is_written_without_a_savepoint(committed: None) -> None:
    """A burst of reports is one group: one call writes them, with no SAVEPOINT/RELEASE pair
    around it (two statements fewer while the writer lock is held)."""
    from django.test.utils import CaptureQueriesContext

    items = _grouped(_create_days, [DAYS[0], DAYS[2]])
    with CaptureQueriesContext(connection) as q:
        groupcommit.write(items)
    assert [i.future.result() for i in items] == [DAYS[0], DAYS[2]]
    sent = [s["sql"].upper() for s in q.captured_queries]
    assert not [s for s in sent if "SAVEPOINT" in s]
    assert len([s for s in sent if s.startswith("INSERT")]) == 1


def test_a_lone_group_that_fails_is_undone_and_each_written_again(committed: None) -> None:
    """Without a savepoint the failed group's transaction is rolled back whole; then each
    report is written on its own, so only the one at fault fails."""
    items = _grouped(_create_days, DAYS)
    _only_the_second_is_refused(items)
