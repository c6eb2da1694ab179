"""Errors services raise; the API turns them into 4xx answers with field-level messages."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def detail(self) -> list[dict[str, object]]:
        loc: list[str] = ["body", self.field] if self.field else ["body"]
        return [{"loc": loc, "msg": self.message, "type": type(self).__name__}]


class Invalid(ServiceError):
    status = 422

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    def detail(self) -> list[dict[str, object]]:
        return [{"loc": ["body", k], "msg": v, "type": "invalid"} for k, v in self.errors.items()]


class Conflict(ServiceError):
    status = 409


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404

    def __init__(self, message: str = "Not Found") -> None:
        super().__init__(message)


class TooManyRequests(ServiceError):
    """A rate limit or lockout: answered 429 with Retry-After (seconds)."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    def detail(self) -> list[dict[str, object]]:
        # The request as a whole is refused, not a field of its body.
        return [{"loc": ["request"], "msg": self.message, "type": type(self).__name__}]


class Unavailable(TooManyRequests):
    """The platform could not finish in time (the writer's queue): answered 503 with
    Retry-After; the same request with the same key is safe to send again."""

    status = 503
