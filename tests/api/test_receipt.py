"""Intake's receipt is rendered without ninja validating it again (core.schema.rendered): it
must still be byte for byte what its documented schema renders, first time and on replay."""

from __future__ import annotations

import json

import pytest
from django.test import Client, RequestFactory

from gridgov.accounts.models import ApiToken
from gridgov.api import api
from gridgov.api.events import ReceiptOut

from .. import personas
from ..eventbuilder import GRID8
from ..helpers import report_body

pytestmark = pytest.mark.django_db


def test_the_receipt_is_what_its_schema_renders() -> None:
    _, raw = ApiToken.issue(personas.township_operator(), "receipt")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = report_body(GRID8, category="0201")
    first = client.post("/api/v1/events", body, content_type="application/json")
    assert first.status_code == 201, first.content
    assert first["Content-Type"] == "application/json; charset=utf-8"
    data = json.loads(first.content)
    assert data["due_at"] and data["code"]  # a datetime and the case number are in it
    schema = ReceiptOut.model_validate(data).model_dump()
    expected = api.create_response(RequestFactory().get("/"), schema, status=201)
    assert first.content == expected.content
    replay = client.post("/api/v1/events", body, content_type="application/json")
    assert replay.status_code == 201 and replay.content == first.content
