"""GET services and service definitions, formats, and errors in the spec's shape everywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from gridgov.channels.open311 import catalogue, queries

from .helpers import BASE, spec_error, xml

pytestmark = pytest.mark.django_db


def test_services_are_the_public_sub_classes_with_their_group() -> None:
    r = Client().get(f"{BASE}/services.json")
    assert r.status_code == 200 and r["Content-Type"] == "application/json; charset=utf-8"
    services = {s["service_code"]: s for s in r.json()}
    assert services["0201"] == {
        "service_code": "0201",
        "service_name": "占道经营",
        "description": "街面秩序：占道经营",
        "metadata": True,
        "type": "realtime",
        "keywords": "",
        "group": "街面秩序",
    }
    assert services["0402"]["keywords"] == "路灯,照明"
    # no top classes, nothing sensitive (disputes, key persons), nothing kept off the square
    assert not [c for c in services if len(c) != 4]
    assert not {"0701", "0801", "0901", "1002", "1101", "1102", "1201"} & set(services)


def test_a_category_made_sensitive_is_no_longer_a_service() -> None:
    from gridgov.events.models import Category

    Category.objects.filter(code="0201").update(sensitive=True)
    codes = [s["service_code"] for s in Client().get(f"{BASE}/services.json").json()]
    assert "0201" not in codes and "0202" in codes
    assert spec_error(Client().get(f"{BASE}/services/0201.json"), 404)


def test_services_in_xml_use_the_spec_element_names() -> None:
    r = Client().get(f"{BASE}/services.xml")
    assert r.status_code == 200 and r["Content-Type"] == "text/xml; charset=utf-8"
    root = xml(r.content)
    assert root.tag == "services" and {c.tag for c in root} == {"service"}
    first = root[0]
    assert [c.tag for c in first] == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    assert first.findtext("metadata") == "true" and first.findtext("type") == "realtime"


def test_no_suffix_answers_xml() -> None:
    r = Client().get(f"{BASE}/services")
    assert r.status_code == 200 and xml(r.content).tag == "services"


def test_a_definition_lists_the_attributes_with_their_values() -> None:
    r = Client().get(f"{BASE}/services/0404.json")
    d = r.json()
    assert d["service_code"] == "0404"
    urgency, flow = d["attributes"]
    assert urgency == {
        "variable": True,
        "code": "urgency",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "urgent: a danger to people or property now",
        "order": 1,
        "description": "紧急程度",
        "values": [{"key": "normal", "name": "一般"}, {"key": "urgent", "name": "紧急"}],
    }
    assert flow["code"] == "flow" and flow["required"] is True
    assert [v["key"] for v in flow["values"]] == ["seep", "flow", "burst"]


def test_urgent_is_offered_only_where_the_category_has_an_urgent_variant() -> None:
    d = Client().get(f"{BASE}/services/0103.json").json()  # 乱贴乱画: no urgent limit
    assert [v["key"] for v in d["attributes"][0]["values"]] == ["normal"]


def test_a_definition_in_xml() -> None:
    root = xml(Client().get(f"{BASE}/services/0404.xml").content)
    assert root.tag == "service_definition"
    assert [c.tag for c in root] == ["service_code", "attributes"]
    attribute = root.find("attributes/attribute")
    assert attribute is not None
    assert [c.tag for c in attribute] == [
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    ]
    assert [v.findtext("key") for v in attribute.findall("values/value")] == ["normal", "urgent"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_unknown_path_and_wrong_method_answer_in_the_spec_format(fmt: str) -> None:
    c = Client()
    assert "0801" in spec_error(c.get(f"{BASE}/services/0801.{fmt}"), 404)  # sensitive
    assert spec_error(c.get(f"{BASE}/services/9999.{fmt}"), 404)
    assert spec_error(c.get(f"{BASE}/nothing/here.{fmt}"), 404)
    assert spec_error(c.get(f"{BASE}/services/%00.{fmt}"), 404)
    r = c.post(f"{BASE}/services.{fmt}")
    assert spec_error(r, 405) and r["Allow"] == "GET"
    r = c.put(f"{BASE}/requests.{fmt}")
    assert spec_error(r, 405) and r["Allow"] == "GET, POST"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_jurisdiction_is_404_and_ours_is_accepted(fmt: str, settings: Any) -> None:
    settings.OPEN311_JURISDICTION = "sjz.gov.cn"
    c = Client()
    r = c.get(f"{BASE}/services.{fmt}", {"jurisdiction_id": "sfgov.org"})
    assert "sjz.gov.cn" in spec_error(r, 404)
    assert c.get(f"{BASE}/services.{fmt}", {"jurisdiction_id": "sjz.gov.cn"}).status_code == 200


def test_a_server_error_still_answers_in_the_spec_format(monkeypatch: Any) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(queries, "services", boom)
    c = Client(raise_request_exception=False)
    assert spec_error(c.get(f"{BASE}/services.json"), 500)
    assert spec_error(c.get(f"{BASE}/services.xml"), 500)


def test_a_bad_data_file_is_refused(monkeypatch: Any, tmp_path: Path) -> None:
    bad = tmp_path / "services.json"
    row = {"code": "x", "datatype": "colour", "order": 1, "description": "?"}
    bad.write_text(json.dumps({"all": [row], "categories": {}}))
    monkeypatch.setattr(catalogue, "DATA", bad)
    catalogue._data.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured):
            catalogue.attributes("0201", True)
    finally:
        monkeypatch.undo()
        catalogue._data.cache_clear()
