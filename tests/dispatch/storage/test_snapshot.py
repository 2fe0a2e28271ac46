"""What the planner's snapshot takes from the stored couriers."""

from __future__ import annotations

from datetime import timedelta

import redis

from dispatch.couriers import Shift
from dispatch.storage.couriers import load_couriers, save_courier
from dispatch.storage.snapshot import snapshot
from tests.conftest import FIXED_NOW
from tests.dispatch.test_couriers import courier

HOUR = timedelta(hours=1)


def test_the_snapshot_leaves_out_deactivated_couriers_and_plans_other_days(
    redis_client: redis.Redis,
) -> None:
    tomorrow = Shift(FIXED_NOW + 20 * HOUR, FIXED_NOW + 28 * HOUR)
    save_courier(redis_client, courier("c1", extra_shifts=(tomorrow,)))
    save_courier(redis_client, courier("c2", active=False, deactivated_at=FIXED_NOW))

    def planned(at: object) -> dict[str, object]:
        _, couriers, _ = snapshot(redis_client, store_of=lambda _: None, now=at)  # type: ignore[arg-type]
        return {c.id: c.shift_end for c in couriers}

    assert planned(FIXED_NOW) == {"c1": FIXED_NOW + 4 * HOUR}
    assert planned(FIXED_NOW + 10 * HOUR) == {}
    assert planned(FIXED_NOW + 21 * HOUR) == {"c1": tomorrow.end}
    assert [c.id for c in load_couriers(redis_client)] == ["c1", "c2"]  # kept
