"""Pages of lists in an indexed order (core.scope.indexed): the same rows whichever way the
database finds them, and on SQLite a broad scope walks the order's index instead of reading and
sorting every row of its range (which SQLite's statistics cannot tell from a grid's)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection

from gridgov.events import queries
from gridgov.events.queries import INBOX_TABS, QUEUE_TABS, Filters, WorkList

from .. import personas
from ..eventbuilder import GRID8, in_state, new_event, user

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL's planner has range statistics"
)


def _sql(qs: Any) -> str:
    return str(qs.query)


def _plan(qs: Any) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " | ".join(str(row[-1]) for row in cursor.fetchall())


def _some_events() -> None:
    for _ in range(6):
        new_event()
    in_state("closed")
    in_state("dispatched")


@pytest.mark.parametrize(
    "who", [personas.county_operator, personas.township_operator, personas.grid_worker]
)
def test_an_ordered_read_finds_the_same_rows(who: Any) -> None:
    _some_events()
    user = who()
    for kw in ({}, {"state": "reported"}, {"under": "130104008"}):
        plain = list(queries.events(user, "list", **kw).values_list("pk", flat=True))
        ordered = list(
            queries.events(user, "list", ordered=True, **kw).values_list("pk", flat=True)
        )
        assert ordered == plain and (plain or who is personas.grid_worker), kw
    for tabs in (QUEUE_TABS, INBOX_TABS):
        for tab in tabs:
            work = queries.work_list(user, tabs, tab, Filters())
            by_scope = WorkList(work.qs, work.states, work.order, work.cap)  # counts' queryset
            assert [e.pk for e in work[0:50]] == [e.pk for e in by_scope[0:50]], tab


WALKED = '+"events_event"."grid_code" >='  # a range written so that no index finds it


@sqlite_only
def test_a_broad_scope_walks_the_index_of_the_order() -> None:
    """Without statistics of ranges (a test's few rows tell the planner nothing), what is
    checked is the SQL: a county's ranges cannot drive an index, so the order's index is
    walked; counting keeps them indexed."""
    _some_events()
    county = personas.county_operator()
    page = queries.events(county, "list", ordered=True, under="130104008")
    assert WALKED in _sql(page) and '+"events_event"."assignee_grid" >=' in _sql(page)
    assert "event_reported_idx" in _plan(page) and "TEMP B-TREE" not in _plan(page)
    assert "+" not in _sql(queries.events(county, "list", under="130104008")).split("WHERE")[1]
    history = queries.work_list(county, QUEUE_TABS, "closed", Filters())
    assert WALKED in _sql(history.in_order) and WALKED not in _sql(history.qs)


@sqlite_only
def test_a_narrow_scope_is_still_read_by_its_own_index() -> None:
    _some_events()
    worker = personas.grid_worker()
    assert WALKED not in _sql(queries.events(worker, "list", ordered=True))
    # a county's page narrowed to one grid: the scope walked, the grid's range indexed
    sql = _sql(queries.events(personas.county_operator(), "list", ordered=True, under=GRID8))
    assert sql.count(WALKED) == 1 and re.search(
        rf'(?<!\+)"events_event"."grid_code" >= {GRID8}', sql
    )


def test_postgresql_is_left_to_its_planner() -> None:
    county = personas.county_operator()
    same = str(queries.events(county, "list").query) == str(
        queries.events(county, "list", ordered=True).query
    )
    assert same == (connection.vendor != "sqlite")


def test_a_page_of_a_work_list_reads_only_the_page() -> None:
    """The console pages a WorkList with Django's Paginator, which asks any list for
    ``.ordered``: nothing there may be a queryset that loads every row."""
    from django.core.paginator import Paginator
    from django.test.utils import CaptureQueriesContext

    _some_events()
    work = queries.work_list(personas.county_operator(), QUEUE_TABS, "intake", Filters())
    with CaptureQueriesContext(connection) as seen:
        page = Paginator(work, 3).get_page(1)
        assert len(page.object_list) == 3
    # the count, one narrow sorted read per state, the page's events
    assert len(seen.captured_queries) == 1 + len(work.states) + 1, seen.captured_queries


def test_kept_statements_answer_as_the_orm_and_see_new_rows() -> None:
    """A tab's count and sorted reads run SQL compiled once per scope and filters
    (core.sql.fetch_kept): the same pages and counts as the ORM's, new rows seen at once, and
    another scope never answered from a kept statement of the first."""
    _some_events()
    mine, other = personas.township_operator(), personas.township_operator("130131102")
    for tabs in (QUEUE_TABS, INBOX_TABS):
        for tab in tabs:
            for f in (Filters(), Filters(urgency="normal"), Filters(q="测试")):
                work = queries.work_list(mine, tabs, tab, f)
                assert work.key is not None
                orm = WorkList(work.qs, work.states, work.order, work.cap, work.in_order)
                assert work.count() == orm.count(), (tab, f)
                assert [e.pk for e in work[0:50]] == [e.pk for e in orm[0:50]], (tab, f)
    before = queries.tab_counts(mine, QUEUE_TABS, Filters())
    new_event()
    after = queries.tab_counts(mine, QUEUE_TABS, Filters())
    assert after["intake"] == before["intake"] + 1 and before["intake"] == 6
    assert queries.tab_counts(other, QUEUE_TABS, Filters())["intake"] == 0
    assert queries.work_list(other, QUEUE_TABS, "intake", Filters())[0:20] == []
    # no reach at all: nothing, and no statement to keep
    assert set(queries.tab_counts(user("auditadmin"), QUEUE_TABS, Filters()).values()) == {0}
    assert queries.work_list(user("auditadmin"), QUEUE_TABS, "closed", Filters())[0:20] == []
    # a filter on "now" is never kept
    assert queries.work_list(mine, QUEUE_TABS, "handling", Filters(overdue=True)).key is None


def test_a_lists_tabs_are_counted_in_one_statement() -> None:
    """The kept counts of every tab go in one statement (one round trip, not one per tab),
    each answering what its own list counts; a filter on "now" counts tab by tab."""
    from django.test.utils import CaptureQueriesContext

    _some_events()
    mine = personas.township_operator()
    for tabs in (QUEUE_TABS, INBOX_TABS):
        for f in (Filters(), Filters(urgency="normal")):
            expected = {t: queries.work_list(mine, tabs, t, f).count() for t in tabs}
            queries.tab_counts(mine, tabs, f)  # the person's posts are read once per request
            with CaptureQueriesContext(connection) as seen:
                assert queries.tab_counts(mine, tabs, f) == expected
            assert len(seen.captured_queries) == 1, [q["sql"][:80] for q in seen.captured_queries]
    overdue = Filters(overdue=True)
    expected = {t: queries.work_list(mine, QUEUE_TABS, t, overdue).count() for t in QUEUE_TABS}
    assert queries.tab_counts(mine, QUEUE_TABS, overdue) == expected
    assert set(queries.tab_counts(user("auditadmin"), QUEUE_TABS, Filters()).values()) == {0}
