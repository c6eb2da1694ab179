"""A photo's stamp: when and where the device says it was taken, the device clock at sending and
the server's time of upload. Checked here; kept on the Attachment and drawn on the photo
(watermark.py), so a centre can weigh a phone's word against the server's clock."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gridgov.core.errors import Invalid

# Clocks jitter and a fix may land just after the shutter; a photo taken later than this after
# it was sent is a wrong clock or a forgery.
MAX_AHEAD = timedelta(minutes=10)
# An offline phone may send days later, but evidence is fresh: older photos are refused.
MAX_AGE = timedelta(days=30)
# A device clock further off than this is not a clock (reset to 1970, typed by hand).
MAX_SKEW = timedelta(days=366)
MAX_ACCURACY_M = 100_000.0
TIMES = ("taken_at", "device_time", "fix_at")


@dataclass(frozen=True)
class StampIn:
    """What the client sent; every field optional (a photo may be unlocated)."""

    taken_at: datetime | None = None
    device_time: datetime | None = None
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    fix_at: datetime | None = None

    def given(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def facts(self) -> dict[str, Any]:
        """The photo's own facts, for the idempotency fingerprint: device_time is left out, as a
        resend of the same photo reads the device clock again."""
        data = asdict(self)
        del data["device_time"]
        return {k: v for k, v in data.items() if v is not None}


def check(s: StampIn, received_at: datetime) -> StampIn:
    """The stamp with its times in UTC, or Invalid naming every bad field."""
    errors = {**_place_errors(s), **_time_errors(s, received_at)}
    if errors:
        raise Invalid(errors)
    utc = {f: getattr(s, f).astimezone(UTC) for f in TIMES if getattr(s, f) is not None}
    return StampIn(**{**asdict(s), **utc})


def skew_s(s: StampIn, received_at: datetime) -> int | None:
    """Server time − device time in whole seconds (includes the transfer)."""
    if s.device_time is None:
        return None
    return round((received_at - s.device_time).total_seconds())


def _place_errors(s: StampIn) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, value, low, high in (
        ("lon", s.lon, -180.0, 180.0),
        ("lat", s.lat, -90.0, 90.0),
        ("accuracy_m", s.accuracy_m, 0.0, MAX_ACCURACY_M),
    ):
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            errors[name] = f"a number from {low:g} to {high:g}"
    if (s.lon is None) != (s.lat is None):
        errors.setdefault("lat" if s.lat is None else "lon", "lon and lat come together")
    for name in ("accuracy_m", "fix_at"):
        if getattr(s, name) is not None and s.lon is None and s.lat is None:
            errors.setdefault(name, "only with a position (lon and lat)")
    return errors


def _time_errors(s: StampIn, received_at: datetime) -> dict[str, str]:
    errors = {
        f: "give the time zone offset (e.g. +08:00 or Z)"
        for f in TIMES
        if getattr(s, f) is not None and getattr(s, f).utcoffset() is None
    }
    device = s.device_time if "device_time" not in errors else None
    if device is not None and abs(device - received_at) > MAX_SKEW:
        errors["device_time"] = "the device clock is more than a year off"
        device = None
    # The photo's times are the device's: judged against its clock when it sent it.
    now = device or received_at
    for f in ("taken_at", "fix_at"):
        at = getattr(s, f)
        if at is None or f in errors:
            continue
        if at > now + MAX_AHEAD:
            errors[f] = "later than the device clock at sending"
        elif at < now - MAX_AGE:
            errors[f] = f"more than {MAX_AGE.days} days before sending"
    return errors
