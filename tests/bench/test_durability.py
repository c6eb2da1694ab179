"""`gridgov bench durability` in small: reports over HTTP while gunicorn is killed with kill -9
and restarted; no acknowledged report may be lost, no key may make two events. Runs on its own
scratch database (a temporary SQLite file, or `<test database>_durability` on PostgreSQL,
dropped afterwards), never the one this test run uses. The checks themselves are shown failing
on made-up database contents first."""

from __future__ import annotations

import os

from gridgov.bench.durability import check, run

EVENT_A, EVENT_B = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


def test_check_holds_when_each_answered_key_has_its_one_event() -> None:
    found = check(
        {"key-a": EVENT_A},
        {"key-a"},
        [("key-a", EVENT_A)],
        {"key-a": EVENT_A},
        {EVENT_A},
    )
    assert (found.missing, found.duplicates, found.not_converged, found.torn) == ([], [], [], [])


def test_check_finds_a_lost_report() -> None:
    found = check({"key-a": EVENT_A}, {"key-a"}, [], {}, set())
    assert found.missing == ["key-a"]
    assert found.not_converged == ["key-a"]


def test_check_finds_an_answer_naming_another_event() -> None:
    found = check({"key-a": EVENT_A}, set(), [("key-a", EVENT_B)], {"key-a": EVENT_B}, {EVENT_B})
    assert found.missing == ["key-a"]


def test_check_finds_a_key_with_two_events() -> None:
    events = [("key-a", EVENT_A), ("key-a", EVENT_B)]
    found = check({"key-a": EVENT_A}, {"key-a"}, events, {"key-a": EVENT_A}, {EVENT_A, EVENT_B})
    assert found.duplicates == ["key-a"]
    assert found.not_converged == ["key-a"]
    assert found.missing == []


def test_check_finds_torn_writes() -> None:
    # an event without its replay record or first timeline row; a record without its event
    found = check({}, set(), [("key-a", EVENT_A)], {"key-b": EVENT_B}, set())
    assert len(found.torn) == 3


def _scratch_pg_name() -> str:
    # beside this run's test database (settings: GRIDGOV_PG_TEST_NAME), never that one
    return f"{os.environ.get('GRIDGOV_PG_TEST_NAME') or 'test_gridgov'}_durability"


def test_no_acknowledged_report_is_lost_or_doubled_when_the_server_is_killed() -> None:
    lines: list[str] = []
    result = run(
        lines.append,
        kills=2,
        clients=3,
        interval=1.5,
        pg_name=_scratch_pg_name(),
        quick=True,
        tail=1.0,
    )
    said = "\n".join(lines)
    f = result.findings
    # not vacuous: the server was killed while reports were being answered, before and after
    assert result.kills == 2, said
    assert result.acked_before_first_kill > 0, said
    assert result.acked_after_last_restart > 0, said
    assert result.retried > 0, said  # some keys failed at least once and were answered later
    assert f.events >= result.acked, said
    assert f.missing == [], said
    assert f.duplicates == [], said
    assert f.not_converged == [], said
    assert f.torn == [], said
    assert f.chain_problems == [], said
    assert result.replays > 0 and result.replay_mismatches == [], said
    assert result.unexpected == [], said
    assert result.ok
