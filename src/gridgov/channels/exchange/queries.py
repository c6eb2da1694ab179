"""Reads: the child's backlog, the parent's view of each child (last sequence, gaps)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, F, Max, Min, Window
from django.db.models.functions import Lag
from django.utils import timezone

from gridgov.core.models import Outbox

from .models import Node, ReceivedItem, SendState


def backlog() -> dict[str, Any]:
    """The sender's state: what waits, since when, how the last attempts went."""
    pending = Outbox.objects.filter(channel=Outbox.Channel.EXCHANGE, delivered_at__isnull=True)
    found = pending.aggregate(n=Count("pk"), oldest=Min("created_at"))
    st = SendState.objects.filter(pk=1).first() or SendState()
    oldest = found["oldest"]
    return {
        "enabled": bool(settings.EXCHANGE_PARENT_URL),
        "parent": settings.EXCHANGE_PARENT_URL,
        "node": settings.EXCHANGE_NODE,
        "undelivered": found["n"],
        "oldest_at": oldest,
        "oldest_age_s": int((timezone.now() - oldest).total_seconds()) if oldest else None,
        "last_seq": st.last_seq,
        "acked_seq": st.acked_seq,
        "failures": st.failures,
        "retry_at": st.retry_at,
        "last_error": st.last_error,
        "last_error_at": st.last_error_at,
        "last_success_at": st.last_success_at,
    }


def gaps(node: Node, limit: int = 10) -> list[tuple[int, int]]:
    """The first missing ranges of sequence numbers (first, last), oldest first."""
    found = (
        ReceivedItem.objects.filter(node=node)
        .annotate(prev=Window(Lag("seq", default=0), order_by=F("seq").asc()))
        .filter(seq__gt=F("prev") + 1)
        .order_by("seq")
        .values_list("prev", "seq")[:limit]
    )
    return [(prev + 1, seq - 1) for prev, seq in found]


def nodes(only: list[Node] | None = None) -> list[dict[str, Any]]:
    """Each child: items held, last sequence, how many numbers are missing below it, the first
    gaps, last contact."""
    chosen = only if only is not None else list(Node.objects.all())
    counts = {
        r["node"]: r
        for r in ReceivedItem.objects.filter(node__in=chosen)
        .values("node")
        .annotate(items=Count("pk"), last_seq=Max("seq"))
        .order_by()
    }
    rows = []
    for node in chosen:
        c = counts.get(node.pk, {"items": 0, "last_seq": 0})
        missing = max(0, c["last_seq"] - c["items"])
        rows.append(
            {
                "node": node.code,
                "name": node.name,
                "active": node.active,
                "items": c["items"],
                "last_seq": c["last_seq"],
                "missing": missing,
                "gaps": gaps(node) if missing else [],
                "last_contact_at": node.last_contact_at,
            }
        )
    return rows
