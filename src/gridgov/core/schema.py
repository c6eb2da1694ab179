"""Shared pieces of the API's schemas: the error body, the documented error codes, paging."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from ninja import Field, Schema
from ninja.responses import NinjaJSONEncoder

# Offsets beyond this are refused with 422 rather than reaching the database (a 64-bit
# overflow there was a 500).
MAX_OFFSET = 10_000_000

# Every operation documents these answers; each carries an ErrorOut body.
ERROR_CODES = frozenset({400, 401, 403, 404, 409, 413, 422, 429})


class ErrorOut(Schema):
    detail: list[dict[str, Any]] | str


def errors(*codes: int) -> dict[int, type[Schema]]:
    return {code: ErrorOut for code in (codes or ERROR_CODES)}


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


def rendered(data: dict[str, Any], status: int = 200) -> HttpResponse:
    """``data`` as the API renders an answer (its JSON encoder: UUIDs, datetimes to the
    millisecond), without validating it against its response schema again. For a hot door
    whose answer our own code builds, intake's receipt: validating it took a tenth of a
    report's CPU. The schema still documents the answer; a test holds the two the same."""
    body = _ENCODER.encode(data)
    # the charset given, so Django does not parse it out of the content type again
    return HttpResponse(body, status=status, content_type=JSON_TYPE, charset="utf-8")


_ENCODER = NinjaJSONEncoder()  # one, as it keeps no state between calls
JSON_TYPE = "application/json; charset=utf-8"
