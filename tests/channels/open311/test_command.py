"""gridgov open311 key | revoke | list."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from gridgov.channels.open311 import queries
from gridgov.channels.open311.models import ApiKey
from gridgov.core.crypto import secret_digest
from gridgov.core.models import AuditLog

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("open311", *args, stdout=out)
    return out.getvalue()


def test_key_prints_the_key_last_and_keeps_only_its_digest() -> None:
    lines = _run("key", "city-app", "--rate", "1200/h").splitlines()
    raw = lines[-1]
    assert raw.startswith("o311_") and len(raw) > 30
    assert not [line for line in lines[:-1] if raw in line]
    key = queries.key(raw)
    assert key is not None and key.client == "city-app" and key.rate == "1200/h"
    assert key.digest == secret_digest(raw) and not ApiKey.objects.filter(digest=raw).exists()
    assert AuditLog.objects.filter(action="open311.key.issue", object_id=str(key.pk)).exists()


def test_revoke_and_list() -> None:
    raw = _run("key", "city-app").splitlines()[-1]
    second = _run("key", "city-app").splitlines()[-1]  # a rotation: both live
    assert queries.key(raw) and queries.key(second)
    assert "2 key(s) revoked" in _run("revoke", "city-app")
    assert queries.key(raw) is None and queries.key(second) is None
    assert AuditLog.objects.filter(action="open311.key.revoke").count() == 2
    listed = _run("list")
    assert listed.count("city-app") == 2 and "revoked" in listed and raw not in listed


def test_bad_input_is_a_command_error() -> None:
    with pytest.raises(CommandError):
        _run("key", "bad client!")
    with pytest.raises(CommandError):
        _run("key", "ok", "--rate", "lots")
    with pytest.raises(CommandError):
        _run("revoke", "nobody")
    assert not ApiKey.objects.exists()
