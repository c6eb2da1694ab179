"""The analytics app's one change of record: an export is written to the audit log (who took
which list, with which filters), in its own transaction, before the first row leaves."""

from __future__ import annotations

from typing import Any

from gridgov.core import audit


def do_record_export(user: Any, list_name: str, filters: dict[str, Any]) -> None:
    audit.record_now(
        "event.export",
        actor=user,
        object_type="events.event",
        detail={"list": list_name, "filters": filters},
    )
