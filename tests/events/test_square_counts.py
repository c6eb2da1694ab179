"""The square map's counters (events/square.py) follow every change the engine makes: after
any mix of actions they equal a recount of the events."""

from __future__ import annotations

import pytest

from gridgov.events import square
from gridgov.events.models import Event, SquareCount
from gridgov.events.services import Input, act

from ..eventbuilder import PATHS, in_state, leader, op, verifier, worker

pytestmark = pytest.mark.django_db


def counters() -> dict[tuple[int, int, int, int, str], int]:
    return square.held()


def test_counters_equal_a_recount_after_every_kind_of_change() -> None:
    events = [in_state(state) for state in PATHS] + [in_state("merged")]
    sensitive = in_state("closed", category="0801")
    # more movement: a reopen, a category change to a sensitive one, a regrid-free redispatch
    closed = next(e for e in events if e.state == "closed")
    act(closed.pk, "reopen", op(), Input(reason="群众不满意"))
    registered = next(e for e in events if e.state == "registered")
    act(registered.pk, "dispatch", op(), Input())
    reported = next(e for e in events if e.state == "reported")
    act(reported.pk, "accept", op(), Input(category="0801"))  # sensitive: never counted
    returned = next(e for e in events if e.state == "returned")
    act(returned.pk, "redispatch", leader(), Input(target_grid=returned.grid_code))
    in_progress = next(e for e in events if e.state == "in_progress")
    act(in_progress.pk, "report_result", worker(), Input(note="已处置"))
    act(in_progress.pk, "verify_pass", verifier(), Input())
    kept = counters()
    assert kept == square.recount()
    assert square.rebuild() == sum(
        1 for e in Event.objects.all() if square.key_of(e.__dict__) is not None
    )
    assert counters() == kept
    # what the counters hold, per stage, at the finest level
    finest = {k: n for k, n in kept.items() if k[0] == 0}
    public = [e for e in Event.objects.all() if square.key_of(e.__dict__)]
    assert sum(finest.values()) == len(public) > 0
    assert Event.objects.get(pk=sensitive.pk).is_public is False


def test_a_fix_on_the_spot_is_counted_at_intake() -> None:
    import uuid

    from gridgov.events.intake import Report, do_intake

    from ..eventbuilder import GRID8, worker
    from ..helpers import point_in

    before = sum(counters().values())
    lon, lat = point_in(GRID8)
    photos = _photos(worker())
    do_intake(
        Report(
            channel="app",
            title="井盖复位",
            description="已复位",
            lon=lon,
            lat=lat,
            category="0202",
            resolved_on_spot=True,
            attachments=photos,
        ),
        str(uuid.uuid4()),
        worker(),
    )
    assert sum(counters().values()) == before + len(square.LEVELS)


def _photos(user: object) -> list[str]:
    import io
    import uuid

    from PIL import Image

    from gridgov.events.attachments import do_upload

    ids = []
    for colour in ("red", "blue"):
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), colour).save(buf, "JPEG")
        answer, _ = do_upload(buf.getvalue(), "p.jpg", str(uuid.uuid4()), user)
        ids.append(str(answer["id"]))
    return ids


def test_the_recount_command_restores_lost_counters() -> None:
    import io

    from django.core.management import call_command

    in_state("closed")
    kept = counters()
    SquareCount.objects.all().delete()
    out = io.StringIO()
    call_command("square", stdout=out)
    assert counters() == kept and "1 public events counted" in out.getvalue()
