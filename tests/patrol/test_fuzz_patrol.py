"""Schemathesis against the live patrol API as a grid worker's phone (the API-wide fuzz test
signs in as an operator, who may not patrol): thousands of generated requests on the patrol
operations, 0 server errors, 0 answers that break the OpenAPI description."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from gridgov.accounts.models import ApiToken, Post, User
from gridgov.core.models import RateCounter
from gridgov.patrol import services
from gridgov.patrol.models import Patrol

from .. import personas
from ..factories import user_with_post
from ..fuzz import run_schemathesis
from ..live import live_server
from ..personas import GRID8
from .kit import checkpoint, points_in

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]


@pytest.fixture
def phone(django_db_setup: Any, django_db_blocker: Any) -> Iterator[tuple[int, str, list[str]]]:
    with django_db_blocker.unblock():
        worker = personas.grid_worker()
        _, token = ApiToken.issue(worker, "fuzz")
        since = timezone.now() - timedelta(minutes=30)
        lon, lat = points_in(GRID8, 1)[0]
        active = services.do_start_patrol(worker, uuid.uuid4(), since, lon, lat)
        ended = services.do_start_patrol(worker, uuid.uuid4(), since)
        services.do_end_patrol(worker, ended.pk, since + timedelta(minutes=5))
        colleague = user_with_post("grid_worker", GRID8)
        foreign = services.do_start_patrol(colleague, uuid.uuid4(), since)
        place = checkpoint()
        ids = [str(p.pk) for p in (active, ended, foreign)]
    try:
        with live_server(workers=1, threads=4) as (_proc, port):
            yield port, token, ids
    finally:  # the server committed what it did: leave nothing for the other tests to see
        with django_db_blocker.unblock():
            people = [worker.pk, colleague.pk]
            Patrol.objects.filter(worker_id__in=people).delete()
            place.delete()
            Post.objects.filter(user_id__in=people).update(active=False)
            User.objects.filter(pk__in=people).update(is_active=False)
            RateCounter.objects.all().delete()  # the fuzzer's bad tokens, counted per address


def test_schemathesis_finds_no_server_error_in_the_patrol_api(
    phone: tuple[int, str, list[str]], tmp_path: Path
) -> None:
    port, token, ids = phone
    config = (
        f"[dictionaries.patrols]\nvalues = {json.dumps(ids)}\n\n"
        '[[operations]]\ninclude-path-regex = "patrols/"\n'
        'parameters = { "path.patrol_id" = { dictionary = "patrols", probability = 0.9 } }\n'
    )
    cases = run_schemathesis(
        port,
        token,
        tmp_path,
        config=config,
        checks=CHECKS,
        examples=os.environ.get("GRIDGOV_FUZZ_EXAMPLES", "100"),
        seed="20261128",
        select=("--include-tag", "patrols"),
    )
    assert cases >= 500
