from typing import Any

from django.db import transaction
from django.urls import path
from ninja import NinjaAPI, Schema

from .models import Entry, Report

api = NinjaAPI(urls_namespace="plain")


class ReportIn(Schema):
    client_id: str
    channel: str
    title: str
    description: str
    lon: float
    lat: float
    category: str


class ReportOut(Schema):
    id: str


@api.post("/api/v1/events", response={201: ReportOut})
def report(request: Any, body: ReportIn) -> tuple[int, dict[str, str]]:
    with transaction.atomic():
        row = Report._default_manager.create(
            client_id=body.client_id,
            title=body.title,
            description=body.description,
            lon=body.lon,
            lat=body.lat,
            category=body.category,
        )
        Entry._default_manager.create(report=row, action="report", data={"channel": body.channel})
    return 201, {"id": str(row.id)}


@api.get("/api/v1/health")
def health(request: Any) -> dict[str, str]:
    return {"status": "ok"}


urlpatterns = [path("", api.urls)]
