"""Patrols as data for the API and the console's pages (the same dictionaries for both)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from . import track
from .models import CheckIn, Checkpoint, Patrol


def worker_name(user: Any) -> str:
    return str(getattr(user, "display_name", "") or user.get_username())


def checkin(c: CheckIn) -> dict[str, Any]:
    return {
        "id": c.id,
        "checkpoint": c.checkpoint_id,
        "checkpoint_name": c.checkpoint.name,
        "at": c.at,
        "distance_m": round(c.distance_m, 1),
        "within": c.within,
    }


def grids(p: Patrol) -> list[str]:
    return sorted({g.grid_code for g in p.grids.all()})


def patrol(p: Patrol) -> dict[str, Any]:
    return {
        "id": p.id,
        "worker": worker_name(p.worker),
        "grid_code": p.grid_code,
        "started_at": p.started_at,
        "ended_at": p.ended_at,
        "state": p.state,
        "point_count": p.point_count,
        "distance_m": round(p.distance_m, 1),
        "grids": grids(p),
        "checkins": [checkin(c) for c in p.checkins.all()],
    }


def track_rows(points: list[tuple[float, float, datetime]]) -> list[list[Any]]:
    """[[lon, lat, at in ISO 8601, local time], …] in time order."""
    return [[lon, lat, timezone.localtime(at).isoformat()] for lon, lat, at in points]


def detail(p: Patrol, points: list[tuple[float, float, datetime]]) -> dict[str, Any]:
    return {**patrol(p), "track": track_rows(points)}


def checkpoint(c: Checkpoint) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "kind": c.kind,
        "grid_code": c.grid_code,
        "lon": c.lon,
        "lat": c.lat,
        "radius_m": c.radius_m,
    }


# ----------------------------------------------------------------------------- for the pages


def _local(moment: datetime | None) -> datetime | None:
    return timezone.localtime(moment) if moment is not None else None


def row(p: Patrol) -> dict[str, Any]:
    """A row of the console's list: the API's patrol with local times, labels and counts."""
    data = patrol(p)
    within = sum(1 for c in data["checkins"] if c["within"])
    return {
        **data,
        "state_label": p.get_state_display(),
        "started_local": _local(p.started_at),
        "ended_local": _local(p.ended_at),
        "distance_km": round(p.distance_m / 1000, 2),
        "checkin_count": len(data["checkins"]),
        "within_count": within,
        "outside_count": len(data["checkins"]) - within,
    }


def map_patrol(p: Patrol, points: list[tuple[float, float, datetime]], most: int) -> dict[str, Any]:
    """A patrol for a map: who, its track (thinned to ``most`` points) and its check-ins."""
    return {
        "id": str(p.id),
        "worker": worker_name(p.worker),
        "grid_code": p.grid_code,
        "state": p.state,
        "track": track.thin([[lat, lon] for lon, lat, _at in points], most),
        "checkins": [
            {
                "lat": c.lat,
                "lon": c.lon,
                "name": c.checkpoint.name,
                "within": c.within,
                "distance_m": round(c.distance_m),
                "at": timezone.localtime(c.at).strftime("%H:%M"),
            }
            for c in p.checkins.all()
        ],
    }


def map_checkpoint(c: Checkpoint) -> dict[str, Any]:
    return {**checkpoint(c), "kind_label": c.get_kind_display()}
