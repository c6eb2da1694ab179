"""Review probe: kept objects used from many threads at once, each its own connection."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from gridgov.accounts.models import User
from gridgov.accounts.scope import restrict
from gridgov.core import sql
from gridgov.events import queries
from gridgov.events.models import Event

from .eventbuilder import new_event
from .test_zz_review_probe import snap


@pytest.fixture
def committed(django_db_setup: Any, django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock():
        started = timezone.now()
        yield
        Event.objects.filter(reported_at__gte=started).delete()


def test_threads_same_as_orm(committed: None) -> None:
    names = ["city_operator", "qiaoxi_operator", "qiaoxi_dept_cg", "hongqi_operator",
             "huiwen_gw8", "zhengding_operator", "wentang_operator", "chenzhuang_gw"]
    made = [new_event() for _ in range(6)]
    Event.objects.filter(pk=made[1].pk).update(parent=made[0])
    codes = [e.code for e in made] + list(Event.objects.values_list("code", flat=True)[:20])
    sql._objects.found.clear()
    print("events", len(codes))
    bad: list[Any] = []
    seen = [0]
    start = threading.Barrier(16)

    def work(i: int) -> None:
        try:
            u = User.objects.get(username=names[i % len(names)])
            start.wait()
            for _ in range(5):
                for c in codes:
                    ours = queries.event(u, c)
                    qs = restrict(Event.objects.all(), u, "view").select_related(*queries.EVENT_RELATED)
                    theirs = qs.filter(code=c).first()
                    seen[0] += theirs is not None
                    if snap(ours) != snap(theirs):
                        bad.append((names[i % len(names)], c))
        except Exception as exc:  # noqa: BLE001
            bad.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("found", seen[0], "bad", bad[:5], len(bad))
    assert not bad
