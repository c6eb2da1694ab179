"""Shared fixtures. The test database is loaded once per run with three counties of the demo
city: Qiaoxi (130104, the Huiwen story), its sibling Xinhua (130105), Zhengding (130123, the
wheat-field fire) and Pingshan (130131, the patrol report)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from gridgov.core import groupcommit, refcache
from gridgov.regions import locator

from . import personas


def pytest_configure(config: Any) -> None:
    from django.conf import settings

    # Password hashing is deliberately slow; tests log in by force_login or need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


DEMO_COUNTIES = ["130104", "130105", "130123", "130131"]


@pytest.fixture(scope="session")
def django_db_setup(
    django_test_environment: Any, django_db_blocker: Any, tmp_path_factory: Any
) -> Iterator[None]:
    """Always create the test database (pytest-django would skip it when no collected test is
    marked django_db, and the committed-data tests would then touch the real database)."""
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    from gridgov.demo import city as demo

    settings.DATA_DIR = tmp_path_factory.mktemp("data-setup")
    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set()
        )
        demo.load(DEMO_COUNTIES)
    yield
    groupcommit.shutdown()  # its connection to the test database, before that is dropped
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=0)


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.DATA_DIR = tmp_path
    settings.LOCATOR_STAMP_TTL = 0
    settings.REFERENCE_CACHE_SECONDS = 0
    settings.PUBLIC_CHALLENGE_BITS = 8  # the browser's proof of work, cheap for test clients
    cache.clear()  # square-map tiles of an earlier test
    locator.invalidate()
    refcache.clear()
    personas.reset()
    yield
    locator.invalidate()
    refcache.clear()
    personas.reset()


@pytest.fixture
def midday() -> Iterator[None]:
    """For tests of "today's" records made minutes ago: the clock at noon of the local day
    (ticking), so a run just after midnight in Asia/Shanghai does not put them on yesterday."""
    import time_machine
    from django.utils import timezone

    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    with time_machine.travel(noon, tick=True):
        yield


def login(username: str) -> Client:
    from gridgov.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


@pytest.fixture
def as_user() -> Any:
    return login


# Browser fixtures (Debian's chromium through Playwright), for every page test.
from .pages import chromium, page, site  # noqa: E402, F401
