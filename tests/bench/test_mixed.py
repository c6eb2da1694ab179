"""`gridgov bench mixed`'s own parts: the mix, percentiles, HTTP parsing, the tally, the pools
the loop's steps draw from, and the open loop itself against a slow stub server."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest

from gridgov.bench import mixed


def test_the_mix_is_exact_for_any_length_and_in_a_seeded_order() -> None:
    kinds = mixed.plan_kinds(mixed.MIX, 1000, seed=1)
    counts = Counter(kinds)
    assert len(kinds) == 1000
    assert {k: counts[k] for k in mixed.MIX} == {k: round(w * 1000) for k, w in mixed.MIX.items()}
    assert kinds == mixed.plan_kinds(mixed.MIX, 1000, seed=1)
    assert kinds != mixed.plan_kinds(mixed.MIX, 1000, seed=2)
    odd = Counter(mixed.plan_kinds({"a": 1, "b": 1, "c": 1}, 10, seed=1))
    assert sum(odd.values()) == 10 and max(odd.values()) - min(odd.values()) == 1


def test_percentiles_are_values_that_were_measured() -> None:
    values = [float(v) for v in range(1, 101)]
    assert mixed.percentile(values, 50) == 50
    assert mixed.percentile(values, 95) == 95
    assert mixed.percentile(values, 100) == 100
    assert mixed.percentile([3.0, 1.0, 2.0], 99) == 3
    assert mixed.percentile([7.0], 1) == 7
    assert mixed.percentile([], 50) != mixed.percentile([], 50)  # NaN


def test_a_response_head_is_parsed() -> None:
    status, headers = mixed.parse_head(
        b"HTTP/1.1 409 Conflict\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
    )
    assert status == 409 and headers == {"content-length": "12", "connection": "close"}
    with pytest.raises(ValueError):
        mixed.parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_a_chunked_answer_is_read_whole() -> None:
    async def read() -> tuple[int, bytes, bool]:
        reader = asyncio.StreamReader()
        reader.feed_data(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;x=1\r\n world\r\n0\r\n\r\n"
        )

        class Sink:
            def write(self, data: bytes) -> None:
                pass

            async def drain(self) -> None:
                pass

        return await mixed._exchange(reader, Sink(), b"GET / HTTP/1.1\r\n\r\n")  # type: ignore[arg-type]

    assert asyncio.run(read()) == (200, b"hello world", True)


def test_the_tally_counts_conflicts_of_writes_apart_and_skips_the_warm_up() -> None:
    records = [
        ["poll", 0.5, 0.0, 0.9, 200, ""],  # warm-up: not counted
        ["poll", 11.0, 0.0, 0.020, 200, ""],
        ["poll", 11.1, 0.0, 10.0, 0, "timeout"],
        ["api_detail", 12.0, 0.0, 0.010, 409, ""],  # a read answered 409 is an error
        ["action accept", 12.5, 0.0, 0.030, 409, ""],
        ["action accept", 12.6, 0.0, 0.040, 200, ""],
        ["report", 13.0, 0.0, 0.050, 500, ""],
    ]
    rows = mixed.summarize(records, warmup=10.0)
    assert (rows["poll"].n, rows["poll"].ok, rows["poll"].errors) == (2, 1, 1)
    assert rows["api_detail"].errors == 1 and rows["api_detail"].conflicts == 0
    accept = rows["action accept"]
    assert (accept.n, accept.ok, accept.conflicts, accept.errors) == (2, 1, 1, 0)
    assert rows["report"].errors == 1
    assert sorted(rows["poll"].latencies) == [0.020, 10.0]


def test_the_server_times_come_from_the_access_log() -> None:
    lines = [
        "- 200 1500",  # a health check before the run
        "poll@3.000 200 5000",  # warm-up
        "poll@12.500 200 7000",
        "action:accept@13.000 409 25000",
    ]
    assert mixed.server_times(lines, warmup=10.0) == {"poll": [0.007], "action accept": [0.025]}


def plan(**extra: Any) -> dict[str, Any]:
    return {
        "seed": 1,
        "consoles": [{"cookie": "c1", "scope": "county"}],
        "cursor": 10,
        "events": {"county": [["e1", "SJZ1"]], "township": [["e1", "SJZ1"]]},
        "points": [[114.45, 38.03]],
        "categories": ["0201"],
        "townships": ["130104008"],
        "pools": {
            "accept": ["a1"],
            "dispatch": [],
            "sign": [],
            "report_result": [],
            "verify_pass": [],
        },
        "tokens": {"operator": "t-op", "dept": "t-dept"},
        **extra,
    }


def test_a_step_taken_moves_its_event_to_the_next_steps_pool() -> None:
    traffic = mixed.Traffic(plan())
    req = traffic.build("action")
    assert req.label == "action accept" and req.path == "/api/v1/events/a1/accept"
    assert req.headers["Authorization"] == "Bearer t-op"
    assert req.after is not None
    req.after(200, b"{}")
    assert traffic.pools["dispatch"] == ["a1"] and traffic.pools["accept"] == []
    step = traffic.build("action")
    assert step.path == "/api/v1/events/a1/dispatch"
    assert json.loads(step.body)["target_unit"] == mixed.DEPT_UNIT
    assert step.after is not None
    step.after(409, b"{}")  # refused: the event goes nowhere
    assert all(not pool for pool in traffic.pools.values())
    report = traffic.build("report")
    assert report.after is not None
    report.after(201, json.dumps({"id": "new"}).encode())
    assert traffic.pools["accept"] == ["new"]


def test_a_poll_carries_the_cursor_its_console_was_last_given() -> None:
    traffic = mixed.Traffic(plan())
    first = traffic.build("poll")
    assert first.path == "/console/poll/?cursor=10" and first.headers["Cookie"] == "sessionid=c1"
    assert first.after is not None
    first.after(200, b'{"cursor": 42, "changed": 3, "urgent": []}')
    assert traffic.build("poll").path == "/console/poll/?cursor=42"


def test_the_open_loop_sends_on_schedule_while_the_server_is_slow() -> None:
    """Every answer takes 0.3 s and the server takes one request per connection at a time: the
    generator still sends each request at its time (new connections), and each latency runs
    from the scheduled time, so it includes the server's 0.3 s."""
    delay, rate, seconds = 0.3, 40.0, 0.5

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> mixed.Generator:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        gen = mixed.Generator(
            plan(
                port=port,
                rate=rate,
                warmup=0.0,
                seconds=seconds,
                mix={"locate": 1.0},
                start=time.monotonic() + 0.1,
            )
        )
        await gen.run()
        server.close()
        return gen

    gen = asyncio.run(main())
    assert len(gen.records) == int(rate * seconds)
    for label, _at, lag, latency, status, error, _connect in gen.records:
        assert (label, status, error) == ("locate", 200, "")
        assert lag < 0.1 and delay <= latency < delay + 0.5
    assert gen.opened >= rate * delay  # requests did not wait for a busy connection
