"""Schemathesis against the live API (the real web server on the test database), signed in with
a token: thousands of generated requests, 0 server errors, 0 answers that break the OpenAPI
description (issue 6). The patrol operations are fuzzed as a grid worker (test_fuzz_patrol)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gridgov.accounts.models import ApiToken, Lockout
from gridgov.core.models import RateCounter
from gridgov.events.intake import Report, do_intake

from ..eventbuilder import PATHS, in_state
from ..factories import user_with_post
from ..fuzz import run_schemathesis
from ..helpers import point_in
from ..live import live_server

EXAMPLES = os.environ.get("GRIDGOV_FUZZ_EXAMPLES", "120")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]


@pytest.fixture
def api(django_db_setup: Any, django_db_blocker: Any) -> Iterator[tuple[int, str, list[str]]]:
    with django_db_blocker.unblock():
        user = user_with_post("operator", "130104")
        _, token = ApiToken.issue(user, "fuzz")
        codes = _events()
        with live_server(workers=1, threads=4) as (_proc, port):
            yield port, token, codes
        # The fuzzer's bad tokens and failed sign-ins are counted per address (127.0.0.1);
        # later live-server tests come from the same address and must not inherit the block.
        RateCounter.objects.all().delete()
        Lockout.objects.all().delete()


def _events() -> list[str]:
    """Real events for the fuzzer to act on: in every state, in the caller's district and
    outside it (foreign ids must answer 404 whatever the body)."""
    events = [in_state(state) for state in PATHS] + [in_state("merged")]
    lon, lat = point_in("130123201204001")  # Zhengding: another county
    foreign = do_intake(
        Report(channel="web", title="外县", description="外县事件", lon=lon, lat=lat),
        str(uuid.uuid4()),
    ).event
    return [e.code for e in [*events, foreign]] + [str(events[0].pk), str(foreign.pk)]


def _config(codes: list[str]) -> str:
    grids = ["130104008019008", "130104008019007", "130105001001001", "130123201204001"]
    regions = ["130104", "130104008", "130105", "1301"]
    lines = [
        f"[dictionaries.events]\nvalues = {json.dumps(codes)}\n",
        f"[dictionaries.grids]\nvalues = {json.dumps(grids)}\n",
        f"[dictionaries.regions]\nvalues = {json.dumps(regions)}\n",
    ]
    for op, param, dictionary in [
        ("/api/v1/events/{event_id}", "path.event_id", "events"),
        ("/api/v1/events/{event_id}/{action}", "path.event_id", "events"),
        ("/api/v1/events/{event_id}/reporter", "path.event_id", "events"),
        ("/api/v1/public/events/{code}/cancel", "path.code", "events"),
        ("/api/v1/grids/{code}", "path.code", "grids"),
        ("/api/v1/regions/{code}", "path.code", "regions"),
    ]:
        lines.append(
            f'[[operations]]\ninclude-path = "{op}"\n'
            f'parameters = {{ "{param}" = {{ dictionary = "{dictionary}", probability = 0.8 }} }}\n'
        )
    return "\n".join(lines)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    api: tuple[int, str, list[str]], tmp_path: Path
) -> None:
    port, token, codes = api
    cases = run_schemathesis(
        port,
        token,
        tmp_path,
        config=_config(codes),
        checks=CHECKS,
        examples=EXAMPLES,
        seed="20261127",
        # The patrol operations are a grid worker's, fuzzed as one in test_fuzz_patrol.py; an
        # operator only gets their 403s.
        select=("--exclude-tag", "patrols"),
        log=Path(os.environ.get("GRIDGOV_FUZZ_LOG", tmp_path / "out.txt")),
    )
    assert cases >= 1000
