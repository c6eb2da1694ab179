"""The parent's door: who may send, what a batch must look like, each item stored once."""

from __future__ import annotations

import json
import time

import pytest

from gridgov.channels.exchange import queries, services
from gridgov.channels.exchange.models import Node, ReceivedItem

from .helpers import NODE, batch, item, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret() -> str:
    return services.do_add_node(NODE, "石家庄市")[1]


def test_a_signed_batch_is_stored_and_answered_item_by_item(secret: str) -> None:
    r = send(batch(1, 2, 3), secret)
    assert r.status_code == 200, r.content
    answer = r.json()
    assert answer["stored"] == 3 and answer["duplicates"] == 0
    assert [x["status"] for x in answer["results"]] == ["stored"] * 3
    rows = list(ReceivedItem.objects.filter(node__code=NODE).order_by("seq"))
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].kind == "event.created" and rows[0].payload["event"]["code"] == "SJZ000001"
    assert Node.objects.get(code=NODE).last_contact_at is not None


def test_a_replayed_batch_answers_200_and_stores_nothing_twice(secret: str) -> None:
    assert send(batch(1, 2), secret).status_code == 200
    r = send(batch(1, 2, 3), secret)  # a retry that overlaps the first
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["duplicate", "duplicate", "stored"]
    assert send(batch(1, 2, 3), secret).json()["duplicates"] == 3
    assert ReceivedItem.objects.count() == 3


def test_a_wrong_signature_is_refused_and_nothing_stored(secret: str) -> None:
    r = send(batch(1), "not-the-key")
    assert r.status_code == 403
    assert "not accepted" in r.json()["errors"]["request"]
    assert not ReceivedItem.objects.exists()
    assert Node.objects.get(code=NODE).last_contact_at is None


def test_a_body_changed_after_signing_is_refused(secret: str) -> None:
    from django.test import Client

    from gridgov.channels.exchange import wire

    ts = int(time.time())
    headers = wire.headers(NODE, secret, ts, json.dumps(batch(1)).encode())
    headers.pop("Content-Type")
    tampered = json.dumps(batch(1, 2)).encode()
    r = Client().post(
        "/exchange/v1/items", data=tampered, content_type="application/json", headers=headers
    )
    assert r.status_code == 403
    assert not ReceivedItem.objects.exists()


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_stale_or_future_timestamp_is_refused(secret: str, offset: int) -> None:
    r = send(batch(1), secret, timestamp=int(time.time()) + offset)
    assert r.status_code == 403
    assert "not accepted" in r.json()["errors"]["request"]
    assert not ReceivedItem.objects.exists()


def test_within_the_skew_is_taken(secret: str) -> None:
    assert send(batch(1), secret, timestamp=int(time.time()) - 250).status_code == 200


def test_an_unknown_or_revoked_node_is_refused(secret: str) -> None:
    unknown = send(batch(1), secret, node="130200")
    wrong = send(batch(1), "not-the-key")
    assert unknown.status_code == wrong.status_code == 403
    assert unknown.json() == wrong.json()  # an outsider cannot tell which nodes exist
    services.do_revoke_node(NODE)
    assert send(batch(1), secret).status_code == 403
    assert not ReceivedItem.objects.exists()


def test_a_readded_node_has_a_new_key(secret: str) -> None:
    services.do_revoke_node(NODE)
    fresh = services.do_add_node(NODE)[1]
    assert fresh != secret
    assert send(batch(1), secret).status_code == 403
    assert send(batch(1), fresh).status_code == 200


def test_the_key_is_stored_encrypted(secret: str) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT secret FROM exchange_node WHERE code = %s", [NODE])
        stored = cur.fetchone()[0]
    assert secret not in stored
    assert Node.objects.get(code=NODE).secret == secret


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([1, 2], "body"),
        ({"items": []}, "items"),
        ({"node": "130200", "items": [item(1)]}, "node"),
        ({"items": [item(1), {**item(2), "seq": 0}]}, "items[1].seq"),
        ({"items": [item(1), {**item(2), "seq": "2"}]}, "items[1].seq"),
        ({"items": [{**item(1), "id": "x"}]}, "items[0].id"),
        ({"items": [{**item(1), "kind": "event.deleted"}]}, "items[0].kind"),
        ({"items": [{**item(1), "at": "2026-09-03T10:00:00"}]}, "items[0].at"),
        ({"items": [{**item(1), "data": "text"}]}, "items[0].data"),
        ({"items": [item(1), "x"]}, "items[1]"),
        ({"items": [item(1), item(1)]}, "items"),
    ],
)
def test_a_malformed_batch_is_400_with_the_field_and_nothing_stored(
    secret: str, doc: object, field: str
) -> None:
    r = send(doc, secret)
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"]
    assert not ReceivedItem.objects.exists()


def test_not_json_is_400(secret: str) -> None:
    r = send(None, secret, raw=b"{nope")
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["body"]


def test_only_post(secret: str) -> None:
    from django.test import Client

    assert Client().get("/exchange/v1/items").status_code == 405


def test_gaps_are_shown_per_node(secret: str) -> None:
    send(batch(1, 2, 5, 6, 9), secret)
    [row] = queries.nodes()
    assert (row["items"], row["last_seq"], row["missing"]) == (5, 9, 4)
    assert row["gaps"] == [(3, 4), (7, 8)]


def test_the_nodes_list_is_for_the_parents_staff_in_scope(secret: str) -> None:
    from django.test import Client

    from tests.helpers import client
    from tests.personas import city_analyst, grid_worker, township_operator

    send(batch(1, 3), secret)
    services.do_add_node("140100")  # another province's city: outside a Hebei scope
    assert Client().get("/exchange/v1/nodes").status_code == 401
    assert client(grid_worker()).get("/exchange/v1/nodes").status_code == 403
    township = client(township_operator()).get("/exchange/v1/nodes")
    assert township.status_code == 200
    assert township.json()["nodes"] == []  # a township's scope holds no city node
    [row] = client(city_analyst()).get("/exchange/v1/nodes").json()["nodes"]
    assert (row["node"], row["items"], row["last_seq"], row["missing"]) == (NODE, 2, 3, 1)
    assert row["gaps"] == [[2, 2]]


def test_the_nodes_list_takes_an_api_token(secret: str) -> None:
    from django.test import Client

    from gridgov.accounts.models import ApiToken
    from tests.personas import city_analyst

    _token, raw = ApiToken.issue(city_analyst(), "province dashboard")
    r = Client().get("/exchange/v1/nodes", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 200
    assert [n["node"] for n in r.json()["nodes"]] == [NODE]
    bad = Client().get("/exchange/v1/nodes", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


@pytest.mark.parametrize("timestamp", ["\u00b2", "1" * 5000, "", "-1", "12.5"])
def test_a_strange_timestamp_is_refused_not_a_crash(secret: str, timestamp: str) -> None:
    from django.test import Client

    body = json.dumps(batch(1)).encode()
    headers = {
        "X-Gridgov-Node": NODE,
        "X-Gridgov-Timestamp": timestamp,
        "X-Gridgov-Signature": "sha256=00",
    }
    r = Client().post(
        "/exchange/v1/items", data=body, content_type="application/json", headers=headers
    )
    assert r.status_code == 403
    assert not ReceivedItem.objects.exists()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (json.dumps({"items": [{**item(1), "at": "2026-02-30T00:00:00+08:00"}]}), "items[0].at"),
        (json.dumps({"items": [{**item(1), "at": "2026-09-03T10:00:00+99:00"}]}), "items[0].at"),
        (json.dumps({"items": [item(1)]}).replace('"code"', '"n": NaN, "code"'), "body"),
        ("[" * 100_000 + "]" * 100_000, "body"),
        (json.dumps({"items": [{**item(1), "data": {"t": "a\u0000b"}}]}), "items[0].data"),
        (
            json.dumps({"items": [{**item(1), "data": {"t": "\ud800"}}]}, ensure_ascii=True),
            "items[0].data",
        ),
        (json.dumps({"items": [item(1), {**item(2), "seq": 1}]}), "items"),
    ],
    ids=["30-february", "offset-99h", "nan", "deep", "nul", "surrogate", "seq-twice"],
)
def test_a_signed_but_impossible_batch_is_400_not_a_crash(
    secret: str, raw: str, field: str
) -> None:
    r = send(None, secret, raw=raw.encode())
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"]
    assert not ReceivedItem.objects.exists()


def test_a_seq_already_held_under_another_id_is_refused(secret: str) -> None:
    assert send(batch(1, 2), secret).status_code == 200
    other = {**item(3), "seq": 2}  # a new id numbered like one already held
    r = send({"items": [other, item(4)]}, secret)
    assert r.status_code == 400 and "seq 2" in r.json()["errors"]
    assert ReceivedItem.objects.count() == 2
