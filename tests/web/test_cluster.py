"""Pointed at a real three-node Redis Cluster, the whole order-to-doorstep path works, and a
region's orders, stock and courier records sit in one slot while the regions spread over nodes.

Redis Cluster refuses a script or transaction whose keys are in different slots (CROSSSLOT), so
every step below passing is the proof that each atomic step stays in one slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from dispatch import order_store
from dispatch.regions import region_of
from dispatch.settings import Settings
from dispatch.storage import code_tries, order_keys
from dispatch.storage import orders as stored_orders
from dispatch.storage.catalogue import save_catalogue
from dispatch.storage.client import redis_client as connect
from dispatch.storage.courier_events import courier_events_key
from dispatch.storage.couriers import carried_key, carriers
from dispatch.storage.leases import hold, holder
from dispatch.storage.server import start_local_cluster, stop_local_cluster
from dispatch.worker import replan_once
from geo.stores import Store
from tests.conftest import DEMO_PRODUCTS, DEMO_STOCK, FIXED_NOW, bearer, make_app, token_for
from tests.web.conftest import SPOTS, courier_body
from tests.web.test_orders_api import order_body, place
from web.tracking import delivery_code

RESOLUTION = 7  # the demo's 47 stores fall in six regions, spread over all three nodes


@pytest.fixture(scope="module")
def cluster_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Three redis-servers joined into one cluster (no replicas): "host:port,..."."""
    nodes = start_local_cluster(tmp_path_factory.mktemp("cluster"))
    yield nodes
    stop_local_cluster(nodes)


@pytest.fixture
def cluster_settings(cluster_nodes: str, tmp_path: Path) -> Settings:
    environ = {"REDIS_CLUSTER": cluster_nodes, "DISPATCH_REGION_RESOLUTION": str(RESOLUTION)}
    return replace(
        Settings.from_env(environ),
        var_dir=tmp_path / "var", catalogue_poll_s=0.0, plan_time_limit_s=0.5,
    )  # fmt: skip


@pytest.fixture
def cluster(cluster_settings: Settings) -> Iterator[redis.Redis]:
    client = connect(cluster_settings)
    assert isinstance(client, redis.RedisCluster)
    client.flushall()  # every primary
    yield client
    client.close()


@pytest.fixture
def cluster_shop(
    cluster_settings: Settings, cluster: redis.Redis, demo_stores: list[Store]
) -> tuple[Flask, FlaskClient]:
    save_catalogue(cluster, demo_stores, source="demo")
    app = make_app(cluster_settings, cluster)
    runner = app.test_cli_runner()
    for args in (["products", "import", str(DEMO_PRODUCTS)], ["stock", "import", str(DEMO_STOCK)]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    return app, app.test_client()


def _node_of(client: Any, key: str) -> str:
    return str(client.get_node_from_key(key).name)


def test_orders_stock_and_courier_records_of_a_region_share_one_slot(
    cluster_shop: tuple[Flask, FlaskClient], cluster: Any, demo_stores: list[Store]
) -> None:
    _, shop = cluster_shop
    spots = [*SPOTS, (24.8278, 121.0167), (24.8214, 121.0132), (24.8199, 121.0220)]  # Zhubei
    ids = []
    for i, (lat, lng) in enumerate(spots):
        response = place(shop, order_body(f"K-{i}", lat=lat, lng=lng))
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["order"]["id"])
    # a retry of the same channel order is answered with the first, whichever slot it is in
    again = place(shop, order_body("K-0", lat=spots[0][0], lng=spots[0][1]))
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["order"]["id"] == ids[0]

    by_id = {s.id: s for s in demo_stores}
    nodes = set()
    for order_id in ids:
        record = stored_orders.get_order(cluster, order_id)
        assert record is not None
        store = by_id[record.store_id]
        region = region_of(store.lat, store.lng, RESOLUTION)
        assert order_store.region_of_order(order_id) == region  # the id names the store's region
        keyspace = order_store.StoreKeyspace(store.id, region)
        keys = [order_keys.order_key(order_id), order_keys.stock_key(keyspace),
                order_keys.capacity_key(keyspace), order_keys.open_key(region),
                carried_key(region), courier_events_key("c0", order_id),
                code_tries.tries_key(region), code_tries.locks_key(region)]  # fmt: skip
        assert len({cluster.keyslot(key) for key in keys}) == 1
        nodes.add(_node_of(cluster, order_keys.order_key(order_id)))
    assert len(nodes) >= 2, "the regions' orders should spread over the cluster's nodes"

    # stock read across slots answers the nearby-with-goods search; a store's stats read its own
    stocked = shop.get(
        "/api/v1/stores/nearby?lat=24.8214&lng=121.0132&radius_m=3000&sku=water-600ml"
    )
    assert stocked.status_code == 200 and stocked.get_json()["stores"]
    store_id = stocked.get_json()["stores"][0]["id"]
    assert shop.get(f"/api/v1/stores/{store_id}/stats").status_code == 200

    # a cancel gives the stock back in the same transaction
    cancelled = stored_orders.get_order(cluster, ids[-1])
    assert cancelled is not None
    shelf = order_store.StoreKeyspace(cancelled.store_id, order_store.region_of_order(ids[-1]))
    level = stored_orders.stock_levels(cluster, shelf)["water-600ml"]
    assert shop.post(f"/api/v1/orders/{ids[-1]}/cancel").status_code == 200
    assert stored_orders.stock_levels(cluster, shelf)["water-600ml"] == level + 1
    assert shop.post("/api/v1/orders/rebalance").status_code == 200


def test_plans_leases_and_courier_events_work_on_the_cluster(
    cluster_shop: tuple[Flask, FlaskClient], cluster: Any
) -> None:
    app, shop = cluster_shop
    # a courier plans with the orders of the region it is in: one in each Taichung region
    for k, (lat, lng) in enumerate([(24.1851, 120.6037), (24.1787, 120.6121), (24.1818, 120.5929)]):
        body = courier_body(f"c{k}", home={"lat": lat, "lng": lng})
        assert shop.post("/api/v1/couriers", json=body).status_code == 201
    ids = [
        place(shop, order_body(f"P-{i}", lat=lat, lng=lng)).get_json()["order"]["id"]
        for i, (lat, lng) in enumerate(SPOTS[:4])
    ]
    # a dispatcher worker plans only the regions whose lease it holds
    regions: set[str] = set()
    with app.app_context():
        plan = replan_once(
            cluster, store_of=app.extensions["catalogue"].index().get,
            travel=app.extensions["travel"], now=FIXED_NOW, time_limit_s=0.5,
            resolution=RESOLUTION, planned_by="w1",
            may_plan=lambda region: regions.add(region) or hold(cluster, region, "w1", 30),
        )  # fmt: skip
    assert plan is not None and regions and all(holder(cluster, r) == "w1" for r in regions)
    planned = {s.order_id: r.courier_id for r in plan.routes for s in r.stops}
    assert set(planned) == set(ids)
    order_id = ids[0]
    courier = planned[order_id]
    phone = bearer(app.test_client().post(
        "/api/v1/admin/tokens", json={"role": "courier", "subject": courier}
    ).get_json()["token"])  # fmt: skip
    legs = shop.get("/api/v1/courier/legs", headers=phone).get_json()
    assert order_id in {leg["order_id"] for leg in legs["legs"]}
    with app.app_context():
        code = delivery_code(order_id)
    picked = {"event_id": "k1", "order_id": order_id, "type": "picked_up"}
    assert shop.post("/api/v1/courier/events", json=picked, headers=phone).status_code == 200
    wrong = {"order_id": order_id, "type": "delivered",
             "proof": {"code": f"{(int(code) + 1) % 10_000:04d}"}}  # fmt: skip
    for k in range(5):  # five wrong codes lock the order, in its own slot
        answer = shop.post("/api/v1/courier/events", json=wrong | {"event_id": f"w{k}"},
                           headers=phone)  # fmt: skip
        assert answer.status_code == 422, answer.get_json()
    [alarm] = shop.get("/api/v1/dispatch/overview").get_json()["alarms"]
    assert alarm["order_id"] == order_id
    assert shop.post(f"/api/v1/orders/{order_id}/unlock-code").get_json()["was_locked"] is True
    for event in (
        {"event_id": "k2", "order_id": order_id, "type": "delivered", "proof": {"code": code}},
    ):
        answer = shop.post("/api/v1/courier/events", json=event, headers=phone)
        assert answer.status_code == 200, answer.get_json()
    first = {"event_id": "k1", "order_id": order_id, "type": "picked_up"}
    resent = shop.post("/api/v1/courier/events", json=first, headers=phone)
    assert resent.get_json()["replayed"] is True
    assert carriers(cluster)[order_id] == courier
    assert order_id not in stored_orders.open_order_ids(cluster)
    overview = shop.get("/api/v1/dispatch/overview")
    assert overview.status_code == 200 and overview.get_json()["kpis"]


def test_a_shoppers_own_orders_on_redis_cluster(
    cluster_shop: tuple[Flask, FlaskClient], cluster: Any
) -> None:
    """A shopper's index lives in a slot of its own; listing, paging, cancelling with a reason
    and ordering again work across the regions' slots."""
    _, shop = cluster_shop
    alice = bearer(token_for(cluster, "shopper", "alice"))
    placed = [shop.post("/api/v1/orders", json=order_body(f"CS-{i}"), headers=alice)
              for i in range(3)]  # fmt: skip
    assert [answer.status_code for answer in placed] == [201, 201, 201]
    ids = {answer.get_json()["order"]["id"] for answer in placed}
    first = shop.get("/api/v1/orders?limit=2", headers=alice).get_json()
    rest = shop.get(f"/api/v1/orders?limit=2&cursor={first['next_cursor']}", headers=alice)
    listed = [o["id"] for o in first["orders"] + rest.get_json()["orders"]]
    assert sorted(listed) == sorted(ids) and rest.get_json()["next_cursor"] is None
    one = listed[0]
    cancelled = shop.post(f"/api/v1/orders/{one}/cancel", json={"reason": "x"}, headers=alice)
    assert cancelled.get_json()["order"]["cancellation"]["reason"] == "x"
    again = shop.post(f"/api/v1/orders/{one}/reorder", headers=alice)
    assert again.status_code == 201, again.get_json()
