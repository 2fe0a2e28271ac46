"""Wrong delivery-code tries and the locks they lead to, in Redis (the rule:
:mod:`dispatch.delivery_codes`).

Keys, in the order's region (see :mod:`dispatch.storage.order_keys`), so a try is one script in
one slot: ``code-tries:{H}`` (order id -> wrong tries so far) and ``code-locks:{H}`` (order id ->
JSON of the lock: when, by which courier's tries).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import redis

from dispatch.delivery_codes import MAX_WRONG_TRIES, CodeTry
from dispatch.order_store import region_of_order
from dispatch.storage.order_keys import order_regions
from dispatch.storage.replies import decoded, text_hash

# Judge one code and count it if wrong, all at once: tries sent together cannot all slip in
# before the count reaches the limit. The expected code comes from the web edge (it is an HMAC).
_TRY_CODE = """
local limit = tonumber(ARGV[4])
local wrong = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if wrong >= limit then return {'locked', wrong} end
if ARGV[2] == ARGV[3] then return {'right', wrong} end
wrong = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if wrong >= limit then redis.call('HSET', KEYS[2], ARGV[1], ARGV[5]) end
return {'wrong', wrong}
"""


def tries_key(region: str) -> str:
    return f"code-tries:{{{region}}}"


def locks_key(region: str) -> str:
    return f"code-locks:{{{region}}}"


def try_code(
    client: redis.Redis, order_id: str, *, given: str, expected: str, courier_id: str,
    at: datetime,
) -> CodeTry:  # fmt: skip
    """Judge ``given`` against ``expected`` unless the order is locked; lock it at the limit."""
    region = region_of_order(order_id)
    lock = json.dumps({"order_id": order_id, "courier_id": courier_id, "at": at.isoformat(),
                       "wrong_tries": MAX_WRONG_TRIES})  # fmt: skip
    reply = client.eval(  # type: ignore[no-untyped-call]
        _TRY_CODE, 2, tries_key(region), locks_key(region),
        order_id, given, expected, MAX_WRONG_TRIES, lock,
    )  # fmt: skip
    return CodeTry(decoded(reply[0]), int(reply[1]))


def is_locked(client: redis.Redis, order_id: str) -> bool:
    raw: Any = client.hget(tries_key(region_of_order(order_id)), order_id)
    return int(raw or 0) >= MAX_WRONG_TRIES


def unlock(client: redis.Redis, order_id: str) -> dict[str, Any] | None:
    """Lift the lock and forget the wrong tries; the lock that was lifted, if there was one."""
    region = region_of_order(order_id)
    with client.pipeline(transaction=True) as pipe:
        pipe.hget(locks_key(region), order_id)
        pipe.hdel(locks_key(region), order_id)
        pipe.hdel(tries_key(region), order_id)
        raw = pipe.execute()[0]
    return None if raw is None else dict(json.loads(raw))


def code_locks(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """Every locked order's lock, by order id."""
    pipe = client.pipeline(transaction=False)
    for region in order_regions(client):
        pipe.hgetall(locks_key(region))
    return {k: json.loads(v) for raw in pipe.execute() for k, v in text_hash(raw).items()}
