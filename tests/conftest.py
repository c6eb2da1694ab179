"""Shared fixtures. The test database is loaded once per run with three counties of the demo
city: Qiaoxi (130104, the Huiwen story), its sibling Xinhua (130105), Zhengding (130123, the
wheat-field fire) and Pingshan (130131, the patrol report)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from gridgov.geo import locator

DEMO_COUNTIES = ["130104", "130105", "130123", "130131"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> None:
    from django.conf import settings

    from gridgov import demo

    settings.DATA_DIR = tmp_path_factory.mktemp("data-setup")
    with django_db_blocker.unblock():
        demo.load(DEMO_COUNTIES)


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.DATA_DIR = tmp_path
    settings.LOCATOR_STAMP_TTL = 0
    locator.invalidate()
    yield
    locator.invalidate()


def login(username: str) -> Client:
    from gridgov.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


@pytest.fixture
def as_user() -> Any:
    return login
