"""The courier phone API: own legs only, events applied once and in order, pings checked."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from dispatch.storage.courier_events import courier_events_key
from dispatch.storage.couriers import carriers
from dispatch.storage.overview import overview_fingerprint
from dispatch.storage.positions import positions
from tests.conftest import FIXED_NOW, bearer, token_for


@pytest.fixture
def planned(day: tuple[FlaskClient, list[str]], redis_client: redis.Redis) -> dict[str, Any]:
    """The day planned; the busiest courier, its token, and another courier's token."""
    shop, _ = day
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    routes = sorted(plan["routes"], key=lambda r: -len(r["stops"]))
    busy, other = routes[0]["courier_id"], routes[-1]["courier_id"]
    assert busy != other and routes[0]["stops"]
    orders = [s["order_id"] for s in routes[0]["stops"] if s["kind"] == "pickup"]
    return {
        "shop": shop, "plan": plan, "courier": busy, "orders": orders,
        "me": bearer(token_for(redis_client, "courier", busy)),
        "them": bearer(token_for(redis_client, "courier", other)),
    }  # fmt: skip


def event(shop: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    return shop.post("/api/v1/courier/events", headers=headers, json=body)


def test_legs_follow_the_plan_and_show_the_way(planned: dict[str, Any]) -> None:
    shop = planned["shop"]
    answer = shop.get("/api/v1/courier/legs", headers=planned["me"]).get_json()
    route = next(r for r in planned["plan"]["routes"] if r["courier_id"] == planned["courier"])
    assert [(leg["order_id"], leg["kind"]) for leg in answer["legs"]] == [
        (s["order_id"], s["kind"]) for s in route["stops"]
    ]
    for leg, stop in zip(answer["legs"], route["stops"], strict=True):
        assert leg["route"][-1] == [stop["lat"], stop["lng"]]
        assert leg["planned_arrival"] == stop["arrive_at"]
        order = shop.get(f"/api/v1/orders/{leg['order_id']}").get_json()["order"]
        assert [(i["sku"], i["qty"]) for i in leg["items"]] == [
            (i["sku"], i["qty"]) for i in order["items"]
        ]  # at the door too: the courier hands over what the order lists
        assert leg["note"] == order["note"] and leg["id_check_required"] is False
    theirs = shop.get("/api/v1/courier/legs", headers=planned["them"]).get_json()["legs"]
    assert not {leg["order_id"] for leg in theirs} & set(planned["orders"])
    peek = shop.get("/api/v1/courier/legs", headers=planned["them"],
                    query_string={"courier_id": planned["courier"]})  # fmt: skip
    assert peek.status_code == 404 and "legs" not in peek.get_json()
    # a dispatcher may look at anyone's
    seen = shop.get("/api/v1/courier/legs", query_string={"courier_id": planned["courier"]})
    assert seen.get_json()["legs"] == answer["legs"]


def test_events_drive_the_order_and_apply_once(
    planned: dict[str, Any], redis_client: redis.Redis
) -> None:
    shop, me, order_id = planned["shop"], planned["me"], planned["orders"][0]
    early = event(shop, me, event_id="e0", order_id=order_id, type="delivered",
                  proof={"photo_ref": "p.jpg"})  # fmt: skip
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "illegal_event"
    assert event(shop, me, event_id="e1", order_id=order_id, type="arrived").status_code == 200
    store = shop.get(f"/api/v1/orders/{order_id}").get_json()["order"]["store_id"]
    where = positions(redis_client)[planned["courier"]].to_record()
    assert where["lat"] == shop.get(f"/api/v1/stores/{store}").get_json()["store"]["lat"]
    picked = event(shop, me, event_id="e2", order_id=order_id, type="picked_up")
    assert picked.status_code == 200 and picked.get_json()["status"] == "picked_up"
    again = event(shop, me, event_id="e2", order_id=order_id, type="picked_up")
    assert again.status_code == 200 and again.get_json()["replayed"] is True
    order = shop.get(f"/api/v1/orders/{order_id}").get_json()["order"]
    assert [e["status"] for e in order["events"]].count("picked_up") == 1
    assert carriers(redis_client)[order_id] == planned["courier"]
    # the planner keeps it with this courier from now on
    plan = shop.post("/api/v1/dispatch/replan").get_json()["plan"]
    holders = {r["courier_id"] for r in plan["routes"] for s in r["stops"]
               if s["order_id"] == order_id}  # fmt: skip
    assert holders == {planned["courier"]}
    wrong = event(shop, me, event_id="e3", order_id=order_id, type="delivered",
                  proof={"code": "not-it"})  # fmt: skip
    assert wrong.status_code == 422
    tracking = _tracking_of(redis_client, shop, order_id)
    delivered = event(shop, me, event_id="e4", order_id=order_id, type="delivered",
                      proof={"code": tracking["delivery_code"]})  # fmt: skip
    assert delivered.status_code == 200 and delivered.get_json()["status"] == "delivered"


def _tracking_of(redis_client: redis.Redis, shop: FlaskClient, order_id: str) -> dict[str, Any]:
    from web.tracking import tracking_token

    with shop.application.test_request_context():
        token = tracking_token(order_id)
    return dict(shop.get(f"/api/v1/track/{token}", headers={"Authorization": ""}).get_json())


def test_a_courier_cannot_touch_another_couriers_order(planned: dict[str, Any]) -> None:
    shop, order_id = planned["shop"], planned["orders"][0]
    response = event(shop, planned["them"], event_id="x1", order_id=order_id, type="picked_up")
    assert response.status_code == 404
    assert shop.get(f"/api/v1/orders/{order_id}").get_json()["order"]["status"] == "accepted"
    # dispatchers use the dispatch API, not a courier's phone
    assert event(shop, {}, event_id="x2", order_id=order_id, type="arrived").status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order_id": "o", "type": "arrived"}, "event_id"),
        ({"event_id": "e", "order_id": "o", "type": "teleported"}, "type"),
        ({"event_id": "e" * 200, "order_id": "o", "type": "arrived"}, "event_id"),
    ],
)
def test_bad_events(planned: dict[str, Any], body: dict[str, Any], field: str) -> None:
    response = event(planned["shop"], planned["me"], **body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]["fields"]


def test_failed_needs_a_reason(planned: dict[str, Any]) -> None:
    shop, me, order_id = planned["shop"], planned["me"], planned["orders"][0]
    assert event(shop, me, event_id="f1", order_id=order_id, type="failed").status_code == 400
    failed = event(shop, me, event_id="f2", order_id=order_id, type="failed", reason="closed")
    assert failed.status_code == 200 and failed.get_json()["status"] == "failed"


def test_pings_in_a_batch_refuse_teleports(
    planned: dict[str, Any], redis_client: redis.Redis
) -> None:
    shop, me = planned["shop"], planned["me"]

    def at(minutes: float) -> str:
        return (FIXED_NOW - timedelta(minutes=minutes)).isoformat()

    pings = [
        {"lat": 24.1800, "lng": 120.6000, "at": at(5)},
        {"lat": 24.1810, "lng": 120.6010, "at": at(4)},   # 150 m in a minute: fine
        {"lat": 25.0330, "lng": 121.5654, "at": at(3.9)},  # Taipei six seconds later
        {"lat": 24.1820, "lng": 120.6020, "at": at(3)},
        {"lat": 24.1830, "lng": 120.6030, "at": at(-10)},  # from the future
        {"lat": "x", "lng": 120.6, "at": at(2)},
    ]  # fmt: skip
    answer = shop.post("/api/v1/courier/pings", headers=me, json={"pings": pings}).get_json()
    assert answer["accepted"] == 3
    assert [r["index"] for r in answer["rejected"]] == [2, 4, 5]
    position = positions(redis_client)[planned["courier"]].to_record()
    assert (position["lat"], position["lng"]) == (24.1820, 120.6020)
    assert shop.post("/api/v1/courier/pings", headers=me, json={"pings": []}).status_code == 400


def test_junk_from_a_phone_is_refused_cleanly(
    planned: dict[str, Any], redis_client: redis.Redis
) -> None:
    shop, me = planned["shop"], planned["me"]
    junk: list[Any] = [None, [], "x", 7, {"event_id": ["a"]}, {"event_id": "j", "order_id": 5},
                       {"event_id": "j", "order_id": planned["orders"][0], "type": "delivered",
                        "proof": "1234"},
                       {"event_id": "j", "order_id": planned["orders"][0], "type": "failed",
                        "reason": {"why": 1}}]  # fmt: skip
    for body in junk:
        response = shop.post("/api/v1/courier/events", headers=me, json=body)
        assert 400 <= response.status_code < 500, (body, response.status_code)
        assert "error" in response.get_json()
    for body in [None, {"pings": "x"}, {"pings": [None, 1, {"lat": 1e400}]}, {"pings": [{}] * 501}]:
        response = shop.post("/api/v1/courier/pings", headers=me, json=body)
        assert response.status_code in (200, 400), body
        assert response.status_code == 400 or response.get_json()["accepted"] == 0
    assert planned["courier"] not in positions(redis_client)
    order = shop.get(f"/api/v1/orders/{planned['orders'][0]}").get_json()["order"]
    assert order["status"] == "accepted"


def test_staff_asking_for_legs_must_say_whose(planned: dict[str, Any]) -> None:
    """A dispatcher without courier_id gets a 400 naming it, not a 404 for a courier ''."""
    for query in ({}, {"courier_id": ""}):
        response = planned["shop"].get("/api/v1/courier/legs", query_string=query)
        assert response.status_code == 400
        assert list(response.get_json()["error"]["details"]["fields"]) == ["courier_id"]


def test_legs_refuse_a_courier_id_given_twice(planned: dict[str, Any]) -> None:
    """Two courier ids are a 400 naming it, for staff and for the courier itself (the first
    was silently taken), like any query parameter given twice."""
    twice = f"courier_id={planned['courier']}&courier_id={planned['courier']}"
    for headers in ({}, planned["me"]):
        response = planned["shop"].get(f"/api/v1/courier/legs?{twice}", headers=headers)
        assert response.status_code == 400
        fields = response.get_json()["error"]["details"]["fields"]
        assert fields == {"courier_id": "given more than once"}


def _picked_up(planned: dict[str, Any], event_id: str = "p1") -> tuple[FlaskClient, str]:
    shop, order_id = planned["shop"], planned["orders"][0]
    answer = event(shop, planned["me"], event_id=event_id, order_id=order_id, type="picked_up")
    assert answer.status_code == 200, answer.get_json()
    return shop, order_id


def _wrong_code(redis_client: redis.Redis, shop: FlaskClient, order_id: str) -> str:
    right = _tracking_of(redis_client, shop, order_id)["delivery_code"]
    return f"{(int(right) + 1) % 10_000:04d}"


def test_wrong_delivery_codes_lock_the_order_until_a_dispatcher_unlocks(
    planned: dict[str, Any], redis_client: redis.Redis
) -> None:
    """Five wrong codes lock delivery (even with the right code or a photo); the dispatcher sees
    the alarm and unlocks, and then the right code delivers."""
    shop, order_id = _picked_up(planned)
    me, wrong = planned["me"], _wrong_code(redis_client, shop, order_id)
    right = _tracking_of(redis_client, shop, order_id)["delivery_code"]
    with shop.application.app_context():
        feed_before = overview_fingerprint(redis_client)
    lefts = []
    for k in range(5):
        answer = event(shop, me, event_id=f"w{k}", order_id=order_id, type="delivered",
                       proof={"code": wrong})  # fmt: skip
        assert answer.status_code == 422
        assert answer.get_json()["error"]["code"] == "wrong_delivery_code"
        lefts.append(answer.get_json()["error"]["details"]["tries_left"])
    assert lefts == [4, 3, 2, 1, 0]
    for k, proof in enumerate(({"code": right}, {"photo_ref": "door.jpg"}, {"code": wrong})):
        locked = event(shop, me, event_id=f"l{k}", order_id=order_id, type="delivered",
                       proof=proof)  # fmt: skip
        assert locked.status_code == 423, locked.get_json()
        assert locked.get_json()["error"]["code"] == "delivery_code_locked"
    assert shop.get(f"/api/v1/orders/{order_id}").get_json()["order"]["status"] == "picked_up"
    # the dispatcher's screen flags the order and raises an alarm naming the courier, at once
    with shop.application.app_context():
        assert overview_fingerprint(redis_client) != feed_before
    overview = shop.get("/api/v1/dispatch/overview").get_json()
    flags = {o["id"]: o["delivery_code_locked"] for o in overview["orders"]}
    assert flags[order_id] is True and sum(flags.values()) == 1
    [alarm] = overview["alarms"]
    assert alarm["kind"] == "delivery_code_locked" and alarm["order_id"] == order_id
    assert alarm["courier_id"] == planned["courier"] and alarm["wrong_tries"] == 5
    # a courier cannot lift it; a dispatcher can, once
    unlock = f"/api/v1/orders/{order_id}/unlock-code"
    assert shop.post(unlock, headers=me).status_code == 403
    lifted = shop.post(unlock)
    assert lifted.status_code == 200 and lifted.get_json()["was_locked"] is True
    assert shop.post(unlock).get_json()["was_locked"] is False
    assert shop.get("/api/v1/dispatch/overview").get_json()["alarms"] == []
    assert shop.post("/api/v1/orders/ord_all_0000/unlock-code").status_code == 404
    done = event(shop, me, event_id="d1", order_id=order_id, type="delivered",
                 proof={"code": right})  # fmt: skip
    assert done.status_code == 200 and done.get_json()["status"] == "delivered"


def test_guesses_sent_at_once_get_no_more_than_five_tries(
    planned: dict[str, Any], redis_client: redis.Redis
) -> None:
    """Twenty wrong codes sent together: exactly five are judged, the rest find the lock."""
    shop, order_id = _picked_up(planned)
    wrong = _wrong_code(redis_client, shop, order_id)
    app = shop.application

    def guess(k: int) -> int:
        answer = app.test_client().post("/api/v1/courier/events", headers=planned["me"], json={
            "event_id": f"g{k}", "order_id": order_id, "type": "delivered",
            "proof": {"code": wrong}})  # fmt: skip
        return int(answer.status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(guess, range(20)))
    assert codes == [422] * 5 + [423] * 15


def test_a_resent_event_id_with_another_body_is_a_conflict(planned: dict[str, Any]) -> None:
    """The same event id and body replays the first answer; the same id with another type or
    proof is a 409 idempotency_conflict, as for orders, and changes nothing. Ids are the
    order's own: another order's event with the same id is that order's event."""
    shop, order_id = _picked_up(planned, "r1")
    me = planned["me"]
    same = event(shop, me, event_id="r1", order_id=order_id, type="picked_up")
    assert same.status_code == 200 and same.get_json()["replayed"] is True
    for body in ({"type": "failed", "reason": "rain"}, {"type": "arrived"},
                 {"type": "delivered", "proof": {"photo_ref": "door.jpg"}}):  # fmt: skip
        clash = event(shop, me, event_id="r1", order_id=order_id, **body)
        assert clash.status_code == 409, body
        assert clash.get_json()["error"]["code"] == "idempotency_conflict"
    assert shop.get(f"/api/v1/orders/{order_id}").get_json()["order"]["status"] == "picked_up"
    other = planned["orders"][1]  # eight orders, three couriers of three: the busiest has 3
    theirs = event(shop, me, event_id="r1", order_id=other, type="arrived")
    assert theirs.status_code == 200 and theirs.get_json()["replayed"] is False
    again = event(shop, me, event_id="r1", order_id=other, type="arrived")
    assert again.get_json()["replayed"] is True


def test_a_pick_up_before_the_counter_said_ready_keeps_every_view_in_step(
    planned: dict[str, Any], redis_client: redis.Redis
) -> None:
    """A hand-over implies ready: the skipped steps are recorded, the store's late preparing and
    ready are acknowledged without change, and store list, tracking and legs agree."""
    order_id = planned["orders"][0]
    store_id = planned["shop"].get(f"/api/v1/orders/{order_id}").get_json()["order"]["store_id"]
    shop, _ = _picked_up(planned)
    order = shop.get(f"/api/v1/orders/{order_id}").get_json()["order"]
    assert [e["status"] for e in order["events"]] == [
        "accepted", "preparing", "ready", "picked_up"]  # fmt: skip
    staff = bearer(token_for(redis_client, "store", store_id))
    for late in ("preparing", "ready"):
        answer = shop.post(f"/api/v1/orders/{order_id}/status", headers=staff,
                           json={"status": late})  # fmt: skip
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["changed"] is False
        assert answer.get_json()["order"]["status"] == "picked_up"
    listed = shop.get(f"/api/v1/stores/{store_id}/orders", headers=staff).get_json()["orders"]
    assert {o["id"]: o["status"] for o in listed}[order_id] == "picked_up"
    assert _tracking_of(redis_client, shop, order_id)["order"]["status"] == "picked_up"
    legs = shop.get("/api/v1/courier/legs", headers=planned["me"]).get_json()["legs"]
    assert {leg["status"] for leg in legs if leg["order_id"] == order_id} == {"picked_up"}
    after = shop.get(f"/api/v1/orders/{order_id}").get_json()["order"]
    assert after["events"] == order["events"]  # nothing recorded twice


def test_an_answer_kept_before_events_were_named_per_order_still_replays(
    planned: dict[str, Any], redis_client: redis.Redis
) -> None:
    """A resend buffered across the upgrade finds the answer kept under its bare event id."""
    shop, order_id = _picked_up(planned, "old-1")
    key = courier_events_key(planned["courier"], order_id)
    kept = redis_client.hget(key, f"{order_id}/old-1")
    assert kept is not None
    redis_client.hdel(key, f"{order_id}/old-1")
    legacy = json.loads(kept)
    legacy.pop("body_hash")
    redis_client.hset(key, "old-1", json.dumps(legacy))
    again = event(shop, planned["me"], event_id="old-1", order_id=order_id, type="picked_up")
    assert again.status_code == 200 and again.get_json()["replayed"] is True
