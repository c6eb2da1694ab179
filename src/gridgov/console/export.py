"""Any work list as an Excel file: every row the page's filters select (not just the page),
in the page's order, streamed while it is read; the export is audited and rate-limited."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.analytics import exports, services
from gridgov.core import throttle
from gridgov.core.xlsx import stream_xlsx
from gridgov.events.queries import WorkList

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def wants_export(request: HttpRequest) -> bool:
    return request.GET.get("export") == "xlsx"


def export_response(
    request: HttpRequest, work: WorkList, name: str, title: str, filters: dict[str, Any]
) -> HttpResponseBase:
    hit = throttle.hit("export", str(request.user.pk), settings.EXPORTS_PER_HOUR, 3600)
    if not hit.allowed:
        return throttle.too_many(request, hit.retry_after, _("Too many exports; try later."))
    services.do_record_export(request.user, name, _plain(filters))
    cols = exports.columns()
    body = stream_xlsx(
        [h for h, _k, _w in cols],
        exports.rows(work.iterate(exports.MAX_ROWS)),
        sheet=title,
        widths=[w for _h, _k, w in cols],
    )
    response = StreamingHttpResponse(body, content_type=XLSX)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"{title}-{stamp}.xlsx"
    response["Content-Disposition"] = (
        f"attachment; filename=\"{name}-{stamp}.xlsx\"; filename*=UTF-8''{quote(filename)}"
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _plain(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters as the audit row keeps them (no page, dates as text)."""
    out = {}
    for k, v in filters.items():
        if k in ("page", "size", "export") or v in (None, "", False):
            continue
        out[k] = v.isoformat() if isinstance(v, date) else v
    return out
