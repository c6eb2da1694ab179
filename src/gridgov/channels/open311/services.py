"""The Open311 actions that change state: issue and revoke API keys, file a request.

A request goes through the one intake every channel uses (events.intake.do_intake), so it is
routed to a grid and enters the closed loop like a report from the citizens' page. Filing is
idempotent per client: on the ``Idempotency-Key`` header when sent, else on a hash of the
normalised body within OPEN311_REPLAY_WINDOW (see ``_derived_keys``).
"""

from __future__ import annotations

import getpass
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gridgov.core import audit, idempotency
from gridgov.core.crypto import secret_digest
from gridgov.core.errors import Invalid
from gridgov.events.intake import Intake, do_intake, replay

from .forms import Submission
from .models import ApiKey, ServiceRequest

CLIENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RATE = re.compile(r"([1-9][0-9]{0,6})/([1-9][0-9]{0,4})?([smhd])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(text: str) -> tuple[int, int]:
    """'1200/h' → (1200, 3600); '100/10m' → (100, 600)."""
    m = RATE.fullmatch(text)
    if m is None:
        raise Invalid({"rate": "COUNT/PERIOD, like 600/h or 100/10m"})
    return int(m.group(1)), int(m.group(2) or 1) * UNITS[m.group(3)]


def limit_of(key: ApiKey) -> tuple[int, int]:
    """The key's own rate, else OPEN311_KEY_RATE."""
    if key.rate:
        return parse_rate(key.rate)
    limit, period = settings.OPEN311_KEY_RATE
    return int(limit), int(period)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def do_issue_key(client: str, rate: str = "") -> tuple[ApiKey, str]:
    """A new key for ``client`` (its other live keys stay valid until revoked). The key is
    answered once; only its digest is kept."""
    if not CLIENT.fullmatch(client):
        raise Invalid({"client": "1 to 64 letters, digits, '.', '_' or '-'"})
    if rate:
        parse_rate(rate)
    raw = "o311_" + secrets.token_urlsafe(24)
    with transaction.atomic():
        key = ApiKey.objects.create(
            client=client, digest=secret_digest(raw), created_at=timezone.now(), rate=rate
        )
        detail = {"client": client, "rate": rate, "by": _os_user()}
        audit.record("open311.key.issue", obj=key, detail=detail)
    return key, raw


def do_revoke(client: str) -> int:
    """Revoke every live key of ``client``; answers how many."""
    now = timezone.now()
    with transaction.atomic():
        live = list(ApiKey.objects.select_for_update().filter(client=client, revoked_at=None))
        for key in live:
            key.revoked_at = now
            key.save(update_fields=["revoked_at"])
            audit.record("open311.key.revoke", obj=key, detail={"client": client, "by": _os_user()})
    return len(live)


@dataclass(frozen=True)
class Filed:
    intake: Intake
    request: ServiceRequest


def do_submit(key: ApiKey, sub: Submission, idempotency_key: str = "") -> Filed:
    """File ``sub`` for ``key``'s client, or answer the first filing of the same request. The
    event and its Open311 row commit together."""
    owner = f"open311:{key.client}"
    if idempotency_key:
        keys = [idempotency.check_key(idempotency_key, "Idempotency-Key")]
    else:
        keys = _derived_keys(sub.body_hash)
    with transaction.atomic():
        intake = _earlier(sub, keys[1:], owner) or do_intake(sub.report, keys[0], None, owner=owner)
        row, _created = ServiceRequest.objects.get_or_create(
            event=intake.event,
            defaults={
                "client": key.client,
                "token": secrets.token_urlsafe(16),
                "media_url": sub.media_url,
                "created_at": intake.event.reported_at,
            },
        )
    return Filed(intake, row)


def _derived_keys(body_hash: str) -> list[str]:
    """Keys for a request sent without Idempotency-Key: the body's hash in this window of
    OPEN311_REPLAY_WINDOW seconds, then in the previous one. So an identical POST less than
    one window after the first is a retry (one report); one two windows later or more is a
    new report (the same street light, broken again next month)."""
    window = int(settings.OPEN311_REPLAY_WINDOW)
    now = int(timezone.now().timestamp()) // window
    return [
        "o311-" + idempotency.fingerprint([body_hash, n])[:48]  # within check_key's 80
        for n in (now, now - 1)
    ]


def _earlier(sub: Submission, keys: list[str], owner: str) -> Intake | None:
    for k in keys:
        found = replay(sub.report, k, owner)
        if found is not None:
            return found
    return None
