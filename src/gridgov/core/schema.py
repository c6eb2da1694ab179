"""Shared pieces of the API's schemas: the error body, the documented error codes, paging."""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema

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
