"""The demo's events: filed and moved along by the real intake and engine, in every state
from reported to closed and rated, on the square map, and added once."""

from __future__ import annotations

import pytest

from gridgov.demo.events import seed_events
from gridgov.events import square
from gridgov.events.models import Event

pytestmark = pytest.mark.django_db


def test_demo_events_reach_every_step_and_the_square_map_once() -> None:
    assert seed_events(40) == 40
    demo = Event.objects.filter(client_id__startswith="demo-")
    states = set(demo.values_list("state", flat=True))
    assert {"reported", "registered", "dispatched", "in_progress", "closed"} <= states
    assert demo.exclude(rating="").exists() and demo.exclude(public_reply="").exists()
    assert square.held() == square.recount() != {}
    for e in demo.filter(state="closed"):
        assert e.timeline.filter(action="verify_pass").exists()
    assert seed_events(40) == 0 and demo.count() == 40
