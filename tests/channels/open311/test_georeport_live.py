"""The reads as a real Open311 client does them: the ``georeport`` package (requests) against
the platform's web server on the test database, in JSON and in XML."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from georeport import GeoReport

from gridgov.channels.open311 import services
from gridgov.channels.open311.forms import submission
from gridgov.channels.open311.models import ApiKey, ServiceRequest
from gridgov.channels.open311.queries import service
from gridgov.core.models import RateCounter
from gridgov.events.models import Event

from ...live import live_server
from .helpers import form

# No database access in the tests themselves: a test's open transaction would hold SQLite's
# write lock, and the server (another process) writes its rate counters.


@dataclass(frozen=True)
class Site:
    base: str
    key: str
    public: Event  # accepted: on the square map
    private: Event  # not yet accepted


def _file(key: ApiKey, description: str) -> Event:
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    for name, value in form("unused", description=description).items():
        data[name] = value
    category = service("0201")
    assert category is not None
    sub = submission(data, category)
    return services.do_submit(key, sub, str(uuid.uuid4())).intake.event


@pytest.fixture(scope="module")
def site(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Site]:
    """Committed rows (the server is another process), removed afterwards."""
    with django_db_blocker.unblock():
        key, raw = services.do_issue_key("live-app")
        public, private = _file(key, "公开的一件"), _file(key, "还没受理的一件")
        # accepted by a centre (the console's action, reduced to what the square map reads)
        Event.objects.filter(pk=public.pk).update(state="registered", is_public=True)
        try:
            with live_server(workers=1, threads=2) as (_proc, port):
                yield Site(f"http://127.0.0.1:{port}/open311/v2", raw, public, private)
        finally:
            ServiceRequest.objects.filter(client="live-app").delete()
            Event.objects.filter(pk__in=[public.pk, private.pk]).delete()
            ApiKey.objects.filter(client="live-app").delete()
            RateCounter.objects.filter(name__startswith="o311").delete()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_and_a_definition(site: Site, fmt: str) -> None:
    client = GeoReport(site.base, jurisdiction="sjz.gov.cn", output_format=fmt)
    found = {s["service_code"]: s for s in client.get_service_list()}
    assert found["0201"]["service_name"] == "占道经营" and found["0201"]["group"] == "街面秩序"
    assert "0801" not in found
    definition = client.get_service_definition("0404")
    attributes = definition["attributes"]
    if fmt == "xml":
        attributes = attributes["attribute"]
    assert [a["code"] for a in attributes] == ["urgency", "flow"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_requests_as_a_stranger_sees_them(site: Site, fmt: str) -> None:
    client = GeoReport(site.base, output_format=fmt)
    found = client.get_service_requests()
    rows = [found] if isinstance(found, dict) else found
    # other page tests' committed public events may be listed too; the private one never is
    ids = [r["service_request_id"] for r in rows]
    assert str(site.public.pk) in ids and str(site.private.pk) not in ids
    assert site.private.code not in str(rows) and site.public.code not in str(rows)
    assert all(r["description"] is None and r["address"] is None for r in rows)
    [row] = [r for r in rows if r["service_request_id"] == str(site.public.pk)]
    assert str(row["status"]) == "open" and row["service_code"] == "0201"
    one = client.get_service_request(str(site.public.pk))
    assert one["service_request_id"] == str(site.public.pk)
    with pytest.raises(requests.HTTPError):
        client.get_service_request(site.private.code)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_own_client_reads_its_requests_over_http(site: Site, fmt: str) -> None:
    r = requests.get(f"{site.base}/requests.{fmt}", {"api_key": site.key}, timeout=30)
    assert r.status_code == 200
    text = r.text
    assert site.private.code in text and "还没受理的一件" in text
    assert "13912345678" not in text and "王小明" not in text
