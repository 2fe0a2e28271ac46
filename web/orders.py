"""The order platform's API: intake from every channel, tracking, lifecycle, stock, products."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.routing import BaseConverter

from dispatch import order_store
from dispatch.intake import (
    DeliverAtError,
    IdempotencyConflictError,
    IdempotencyInProgressError,
    Intake,
    IntakeError,
    IntakeResult,
    IntakeRules,
    NoStoreCanFulfilError,
    Submission,
    UnknownSkuError,
    UnknownStoreError,
    body_hash,
)
from dispatch.orders import (
    CHANNELS,
    FULFILMENTS,
    MAX_CAMPAIGN,
    MAX_LINES,
    MAX_QTY,
    STATUSES,
    TRANSITIONS,
    AlreadyPastError,
    IllegalTransitionError,
    OrderLine,
    OrderRequest,
)
from dispatch.stats import REPEAT_WITHIN, RETURNING_LOOKBACK, store_figures
from dispatch.storage import code_tries
from dispatch.storage import orders as stored_orders
from web.auth import STAFF, Principal, allow, current_principal, require_own
from web.courier import needs_id_check
from web.errors import ApiError, error_body, invalid_parameters
from web.limits import rate_limited
from web.metrics import refusal_reason
from web.params import (
    MOMENT_RULE,
    SAFE_ID,
    QueryReader,
    is_safe_id,
    json_number,
    json_object,
    parse_moment,
    refuse_unknown,
    takes_query,
)
from web.services import catalogue_index, now, redis_client, store_slot, web_metrics
from web.tracking import delivery_code, order_of_token, tracking_links, tracking_view

bp = Blueprint("orders", __name__, url_prefix="/api/v1")

MAX_ORDER_BYTES = 32_000
MAX_BATCH_BYTES = 640_000  # 200 orders of the largest reasonable size
MAX_TEXT = 500
MAX_ID = 128


class OrderIdConverter(BaseConverter):
    """An order id in a path: any segment but the names of the collection's own routes, so
    that ``GET /orders/batch`` is a 405 (POST only), not a search for an order "batch"."""

    regex = r"(?!(?:batch|rebalance)$)[^/]+"


def _text(body: dict[str, Any], name: str, problems: dict[str, str], *, limit: int) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        problems[name] = f"must be a string of at most {limit} characters"
        return ""
    return value.strip()


ORDER_FIELDS = ("channel", "external_id", "lat", "lng", "address", "items", "note", "store_id",
                "fulfilment", "campaign", "contact", "deliver_at")  # fmt: skip
CONTACT = re.compile(r"\+?[0-9][0-9 ().-]{4,30}")  # a phone number as people write one


def _contact(body: dict[str, Any], problems: dict[str, str]) -> str:
    """The shopper's phone for the courier: 6 to 15 digits, with spaces, dashes, dots or
    brackets as written, and a leading + (optional; "" when not given)."""
    value = _text(body, "contact", problems, limit=40)
    digits = sum(ch.isdigit() for ch in value)
    if value and (not CONTACT.fullmatch(value) or not 6 <= digits <= 15):
        problems["contact"] = "a phone number: 6 to 15 digits, optionally +, spaces and dashes"
    return value


LINE_FIELDS = ("sku", "qty")


def parse_order_request(body: dict[str, Any]) -> OrderRequest:
    """Validate an order body field by field; a 400 names every bad field."""
    problems: dict[str, str] = {}
    refuse_unknown(body, ORDER_FIELDS, problems)
    channel = body.get("channel")
    if channel not in CHANNELS:
        problems["channel"] = f"must be one of {', '.join(CHANNELS)}"
    external_id = _text(body, "external_id", problems, limit=MAX_ID)
    if not external_id and "external_id" not in problems:
        problems["external_id"] = "required: the channel's own id of this order"
    lat = json_number(body.get("lat"), low=-90, high=90)
    lng = json_number(body.get("lng"), low=-180, high=180)
    if lat is None:
        problems["lat"] = "required: a number in [-90, 90]"
    if lng is None:
        problems["lng"] = "required: a number in [-180, 180]"
    address = _text(body, "address", problems, limit=MAX_TEXT)
    note = _text(body, "note", problems, limit=MAX_TEXT)
    contact = _contact(body, problems)
    store_id = _text(body, "store_id", problems, limit=MAX_ID) or None
    if store_id is not None and not is_safe_id(store_id):
        problems["store_id"] = f"a store id matching {SAFE_ID}"
    fulfilment = body.get("fulfilment", "delivery")
    if fulfilment not in FULFILMENTS:
        problems["fulfilment"] = f"must be one of {', '.join(FULFILMENTS)}"
    campaign = body.get("campaign")
    if campaign is not None and not is_safe_id(campaign, max_length=MAX_CAMPAIGN):
        problems["campaign"] = f"a code of 1 to {MAX_CAMPAIGN} characters matching {SAFE_ID}"
    deliver_at = _deliver_at(body, problems)
    lines: list[OrderLine] = []
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_LINES:
        problems["items"] = f"required: a list of 1 to {MAX_LINES} {{sku, qty}} lines"
    else:
        for i, item in enumerate(items):
            sku = item.get("sku") if isinstance(item, dict) else None
            qty = item.get("qty") if isinstance(item, dict) else None
            if not isinstance(item, dict):
                problems[f"items[{i}]"] = "must be an object {sku, qty}"
                continue
            refuse_unknown(item, LINE_FIELDS, problems, path=f"items[{i}]")
            if not isinstance(sku, str) or not 0 < len(sku) <= 64:
                problems[f"items[{i}].sku"] = "required: a string"
            elif isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_QTY:
                problems[f"items[{i}].qty"] = f"must be a whole number from 1 to {MAX_QTY}"
            else:
                lines.append(OrderLine(sku, qty))
        if not problems and len({line.sku for line in lines}) != len(lines):
            problems["items"] = "each sku may appear on one line only"
    if problems:
        raise invalid_parameters(problems)
    assert lat is not None and lng is not None  # problems would have been raised
    return OrderRequest(
        str(channel), external_id, lat, lng, address, tuple(lines), note, store_id=store_id,
        fulfilment=str(fulfilment), campaign=campaign, contact=contact,
        deliver_at=deliver_at,
    )  # fmt: skip


def _deliver_at(body: dict[str, Any], problems: dict[str, str]) -> datetime | None:
    """A scheduled order's ``deliver_at`` (null or absent: as soon as possible). Whether it can
    be booked now is the intake's to say, after the retry check (see DeliverAtError); the
    store's calendar and hours are matching's."""
    raw = body.get("deliver_at")
    if raw is None:
        return None
    moment = parse_moment(raw)
    if moment is None:
        problems["deliver_at"] = f"must be {MOMENT_RULE}"
        return None
    return moment.astimezone(UTC)


STORE_CHANNELS = ("store", "phone")  # what a store's staff take: walk-ins and calls to the store


def _taken_where(order_request: OrderRequest, principal: Principal) -> OrderRequest:
    """An order taken at a store belongs to it: store staff's own orders go to their store,
    a store-channel order from staff names its ``store_id``, and a shopper cannot send one."""
    channel = order_request.channel
    if principal.role == "store":
        if channel not in STORE_CHANNELS:
            details = {"field": "channel", "allowed_channels": list(STORE_CHANNELS)}
            raise ApiError(
                403, "forbidden", "store staff enter store or phone orders only", details
            )
        if order_request.store_id is not None:
            require_own("store", order_request.store_id)
        return replace(order_request, store_id=principal.subject)
    if channel == "store" and principal.role == "shopper":
        raise ApiError(403, "forbidden", "a shopper token may not enter store-channel orders",
                       {"field": "channel"})  # fmt: skip
    if channel == "store" and order_request.store_id is None:
        raise invalid_parameters(
            {"store_id": "required with channel store: the store that took it"}
        )
    return order_request


@bp.post("/orders")
@allow("shopper", "store", *STAFF)
def create_order() -> ResponseReturnValue:
    """Take an order from any channel and match it to the nearest store that can fulfil it.

    A shopper's order is theirs: it answers to their token, and its channel id and
    Idempotency-Key are scoped to them: another shopper sending the same gets an order of their
    own, never a word of this one. Staff (the channels' integrations) share one scope. Store
    staff enter the store's walk-in and phone orders, which that store fulfils or none does.
    """
    body = json_object(max_bytes=MAX_ORDER_BYTES)
    principal = current_principal()
    order_request = _taken_where(parse_order_request(body), principal)
    header_key = _idempotency_key()
    fingerprint = body_hash(body)
    if principal.role == "shopper":
        order_request = replace(order_request, shopper=principal.subject)
        fingerprint = body_hash({"body": body, "shopper": principal.subject})
    elif principal.role == "store":
        fingerprint = body_hash({"body": body, "store": principal.subject})
    submission = Submission(order_request, fingerprint, header_key, _idempotency_scope())
    return _placed(submission)


def _placed(submission: Submission) -> ResponseReturnValue:
    """Take one order and answer as POST /orders does: a 201 with the order and its links."""
    try:
        result = _intake().take(submission)
    except IntakeError as exc:
        refused = _intake_error(exc)
        _count_refusal(submission.request, refused)
        raise refused from exc
    if not result.replayed:
        web_metrics().order_accepted(result.order)
    headers = {"Location": f"/api/v1/orders/{result.order['id']}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return jsonify(order=result.order, tracking=tracking_links(result.order["id"])), 201, headers


def _idempotency_key() -> str | None:
    """The request's Idempotency-Key header, if any (a 400 when it is not a usable key)."""
    header_key = request.headers.get("Idempotency-Key")
    if header_key is not None and (
        not 0 < len(header_key) <= MAX_ID or not header_key.isprintable()
    ):
        raise invalid_parameters({"Idempotency-Key": f"must be 1 to {MAX_ID} printable characters"})
    return header_key


MAX_PAGE = 100


@bp.get("/orders")
@takes_query("cursor", "limit")
@allow("shopper")
def list_my_orders() -> ResponseReturnValue:
    """A shopper's own orders, newest first, a page at a time (``next_cursor`` reads on)."""
    args = QueryReader(request.args)
    limit = args.integer("limit", default=20, low=1, high=MAX_PAGE)
    cursor = args.text("cursor")
    args.finish()
    subject = current_principal().subject
    assert subject is not None  # a shopper token is bound to its shopper
    page = _page(lambda: stored_orders.shopper_orders(redis_client(), subject, cursor=cursor,
                                                    limit=limit))  # fmt: skip
    return jsonify(orders=page.orders, count=len(page.orders), next_cursor=page.next_cursor)


def _page(read: Callable[[], order_store.OrderPage]) -> order_store.OrderPage:
    try:
        return read()
    except order_store.BadCursorError as exc:
        raise invalid_parameters(
            {"cursor": "not a cursor this list handed out (next_cursor of an earlier page)"}
        ) from exc


REORDER_FIELDS = ("deliver_at",)


@bp.post("/orders/<order_id>/reorder")
@allow("shopper")
def reorder(order_id: str) -> ResponseReturnValue:
    """Order again: a new order with the same items and address as one of the shopper's own,
    the same fulfilment and the store the shopper chose (if they chose one), matched afresh (for
    now, or for ``deliver_at``); a campaign code is not carried over. With an Idempotency-Key,
    a retry gets the same new order; without, each call orders again."""
    body = _optional_body()
    problems: dict[str, str] = {}
    refuse_unknown(body, REORDER_FIELDS, problems)
    deliver_at = _deliver_at(body, problems)
    header_key = _idempotency_key()
    if problems:
        raise invalid_parameters(problems)
    earlier = _own_order(order_id)
    subject = current_principal().subject
    customer = earlier["customer"]
    # the channel's id of the new order: fixed by the key, so that a retry is the same order
    tag = secrets.token_hex(8) if header_key is None else body_hash({"key": header_key})[:16]
    order_request = OrderRequest(
        earlier["channel"], f"reorder-{tag}", customer["lat"], customer["lng"],
        customer["address"], tuple(OrderLine(i["sku"], i["qty"]) for i in earlier["items"]),
        earlier.get("note", ""), shopper=subject, store_id=earlier.get("taken_at_store"),
        fulfilment=earlier.get("fulfilment", "delivery"), deliver_at=deliver_at,
    )  # fmt: skip
    fingerprint = body_hash({"reorder_of": order_id, "body": body, "shopper": subject})
    return _placed(Submission(order_request, fingerprint, header_key, _idempotency_scope()))


def _optional_body() -> dict[str, Any]:
    """The JSON object a request may send (none at all: an empty one)."""
    if not request.get_data(cache=True):
        return {}
    return json_object(max_bytes=MAX_ORDER_BYTES)


MAX_BATCH = 200


@bp.post("/orders/batch")
@allow(*STAFF)
def create_orders_in_bulk() -> ResponseReturnValue:
    """Bulk intake: up to 200 orders matched together by the batch matcher (OR-Tools CP-SAT).

    Each order succeeds or fails on its own: the answer lists, in order, a 201 with the order or
    the 4xx error that a single POST would have given.
    """
    body = json_object(max_bytes=MAX_BATCH_BYTES)
    items = body.get("orders")
    if set(body) != {"orders"} or not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise invalid_parameters({"orders": f"required, and only it: a list of 1 to {MAX_BATCH}"})
    outcomes: list[dict[str, Any] | ApiError] = []
    submissions: list[Submission] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise ApiError(400, "malformed_json", "each order must be a JSON object")
            order_request = _taken_where(parse_order_request(item), current_principal())
            submissions.append(
                Submission(order_request, body_hash(item), scope=_idempotency_scope())
            )
            outcomes.append({})
        except ApiError as refused:
            outcomes.append(refused)
    taken = zip(submissions, _intake().take_batch(submissions), strict=True)
    positions = [
        index for index, outcome in enumerate(outcomes) if not isinstance(outcome, ApiError)
    ]
    results = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ApiError):
            results.append({"index": index, "status": outcome.status, **_error_json(outcome)})
            continue
        submission, result = next(taken)
        if isinstance(result, IdempotencyConflictError) and result.same_as is not None:
            # the intake counts the orders it was given; the answer counts the batch sent
            result = IdempotencyConflictError(result.order_id, same_as=positions[result.same_as])
        if isinstance(result, IntakeResult):
            if not result.replayed:
                web_metrics().order_accepted(result.order)
            results.append({"index": index, "status": 201, "order": result.order})
        else:
            api_error = _intake_error(result)
            _count_refusal(submission.request, api_error)
            results.append({"index": index, "status": api_error.status, **_error_json(api_error)})
    accepted = sum(r["status"] == 201 for r in results)
    return jsonify(results=results, accepted=accepted, refused=len(results) - accepted)


@bp.post("/orders/rebalance")
@allow(*STAFF)
def rebalance_orders() -> ResponseReturnValue:
    """Re-match the orders not yet being prepared with the batch matcher; move what improves."""
    report = _intake().rebalance()
    return jsonify(
        considered=report.considered,
        moves=[{"order_id": o, "from_store": a, "to_store": b} for o, a, b in report.moves],
        ride_before_s=round(report.ride_before_s, 1),
        ride_after_s=round(report.ride_after_s, 1),
        solver_status=report.solver_status,
    )


def _idempotency_scope() -> str | None:
    """Whose idempotency keys a request uses: a bound caller's own (a shopper, a store), or the
    one space staff share (the channels' integrations retry under any staff token)."""
    principal = current_principal()
    return None if principal.is_staff else f"{principal.role}:{principal.subject}"


def _intake() -> Intake:
    client = redis_client()
    return Intake(
        stored_orders.RedisOrderStore(client),
        index=catalogue_index(),
        products=stored_orders.load_products(client),
        travel=current_app.extensions["travel"],
        rules=current_app.extensions["intake_rules"],
        now=now(),
    )


def _intake_error(exc: IntakeError) -> ApiError:
    """The 4xx a refused intake answers with."""
    if isinstance(exc, UnknownSkuError):
        return ApiError(422, "unknown_sku", str(exc), {"skus": exc.skus})
    if isinstance(exc, DeliverAtError):
        return invalid_parameters({"deliver_at": str(exc)})
    if isinstance(exc, UnknownStoreError):
        return ApiError(422, "unknown_store", str(exc), {"field": "store_id", "id": exc.store_id})
    if isinstance(exc, IdempotencyConflictError):
        details: dict[str, Any] = {"order_id": exc.order_id}
        if exc.same_as is not None:
            details |= {"field": "external_id", "same_as_index": exc.same_as}
        return ApiError(409, "idempotency_conflict", str(exc), details)
    if isinstance(exc, IdempotencyInProgressError):
        return ApiError(409, "request_in_progress", str(exc), {"retry_after_s": 2},
                        headers={"Retry-After": "2"})  # fmt: skip
    if isinstance(exc, NoStoreCanFulfilError):
        details = {"candidates": [r.to_dict() for r in exc.rejections]}
        if exc.taken_at is not None:  # the store the order named: who could serve it instead
            details["field"] = "store_id"
            instead = exc.instead
            details["nearest_that_could"] = None if instead is None else {
                "store_id": instead.store.id, "name": instead.store.name,
                "address": instead.store.address, "distance_m": round(instead.distance_m),
                "ride_s": round(instead.ride_s),
            }  # fmt: skip
        return ApiError(422, "no_store_can_fulfil", str(exc), details)
    raise exc


REFUSALS = ("unknown_sku", "unknown_store", "no_store_can_fulfil")  # the order itself refused


def _count_refusal(order_request: OrderRequest, error: ApiError) -> None:
    """Count an order refused for what it asks (not a retry's conflict)."""
    if error.code in REFUSALS:
        reason = refusal_reason(error.code, error.details.get("candidates", ()))
        web_metrics().order_refused(order_request.channel, order_request.fulfilment, reason)


def _error_json(error: ApiError) -> dict[str, Any]:
    return error_body(error.code, error.message, error.details)


def _order_or_404(order_id: str) -> dict[str, Any]:
    order = stored_orders.get_order(redis_client(), order_id)
    if order is None:
        raise ApiError(404, "order_not_found", f"no order with id {order_id!r}", {"id": order_id})
    return order


@bp.get("/orders/<order_id:order_id>")
@allow("shopper", "store", *STAFF)
def track_order(order_id: str) -> ResponseReturnValue:
    return jsonify(order=_own_order(order_id))


STORE_STATUSES = ("preparing", "ready", "cancelled", "failed")  # what the counter decides


@bp.post("/orders/<order_id>/status")
@allow("store", *STAFF)
def change_order_status(order_id: str) -> ResponseReturnValue:
    """Move an order along its lifecycle; an illegal move is a 409.

    Store staff move their own store's orders through preparation; pick-up and delivery are
    the courier's events (the courier API), or a dispatcher's correction here. A pick-up implies
    the order was ready, and ready that it was prepared; a preparing or ready sent once the
    order is past it is a 200 with ``changed`` false.
    """
    body = json_object(max_bytes=MAX_ORDER_BYTES)
    target = body.get("status")
    allowed = STORE_STATUSES if current_principal().role == "store" else STATUSES[1:]
    problems: dict[str, str] = {}
    refuse_unknown(body, ("status", "note"), problems)
    if target not in allowed:
        problems["status"] = f"must be one of {', '.join(allowed)}"
    note = _text(body, "note", problems, limit=MAX_TEXT)
    if problems:
        raise invalid_parameters(problems)
    _own_order(order_id)
    try:
        return jsonify(order=transition(order_id, str(target), note), changed=True)
    except AlreadyPastError as late:  # already there (a quicker courier, a double tap)
        return jsonify(order=late.record, changed=False)


@bp.post("/orders/<order_id>/cancel")
@allow("shopper", *STAFF)
def cancel_order(order_id: str) -> ResponseReturnValue:
    """Cancel, with an optional ``reason`` kept on the order; the reserved stock goes back on
    the shelf. A shopper may cancel their own order until the store starts preparing it (then a
    409 too_late_to_cancel: the goods are being picked); staff, until pick-up."""
    body = _optional_body()
    problems: dict[str, str] = {}
    refuse_unknown(body, ("reason",), problems)
    reason = _text(body, "reason", problems, limit=MAX_TEXT)
    if problems:
        raise invalid_parameters(problems)
    _own_order(order_id)
    if current_principal().role == "shopper":
        order = cancel_early(order_id, by="shopper", reason=reason)
    else:
        order = transition(order_id, "cancelled", reason or "cancelled by request",
                           set_fields=_cancellation("staff", reason))  # fmt: skip
    return jsonify(order=order)


def _cancellation(by: str, reason: str) -> dict[str, Any]:
    """What an order keeps of its cancellation: who, why (possibly nothing said) and when."""
    return {"cancellation": {"by": by, "reason": reason, "at": now().isoformat()}}


SHOPPER_CANCELS = {"shopper": "the shopper", "tracking_link": "the shopper (tracking link)"}


def cancel_early(order_id: str, *, by: str, reason: str = "") -> dict[str, Any]:
    """A shopper's cancellation (``by``: one of SHOPPER_CANCELS): only while the order is
    accepted (the store has not started on it), else a 409 too_late_to_cancel naming its
    status."""
    note = f"cancelled by {SHOPPER_CANCELS[by]}" + (f": {reason}" if reason else "")
    try:
        return transition(order_id, "cancelled", note, only_from=("accepted",),
                           set_fields=_cancellation(by, reason))  # fmt: skip
    except ApiError as refused:
        if refused.code != "illegal_transition":
            raise
        current = _order_or_404(order_id)["status"]
        raise ApiError(409, "too_late_to_cancel",
                       f"the order is {current.replace('_', ' ')}: it can no longer be cancelled "
                       "here", {"status": current}) from refused  # fmt: skip


@bp.post("/track/<token>/cancel")
@rate_limited("public")
def cancel_by_tracking_link(token: str) -> ResponseReturnValue:
    """The shopper's own link may cancel until the store starts preparing (after that the goods
    are being picked: the shopper calls the store); answers the link's fresh view."""
    cancel_early(order_of_token(token)["id"], by="tracking_link")
    return jsonify(tracking_view(order_of_token(token)))


@bp.post("/orders/<order_id>/collect")
@allow("store", *STAFF)
def collect_order(order_id: str) -> ResponseReturnValue:
    """Store staff hand a pick-up order over against the shopper's pick-up code: ``collected``.

    A wrong code is a 422 and counts towards the lock that wrong delivery codes use (after five,
    a 423 until a dispatcher unlocks it); a delivery order, or one already ended, is a 409. An
    order with age-restricted items is handed over only with ``id_checked: true`` (else a 422
    naming it, before the code is tried); a buyer without a valid ID is a cancellation.
    """
    body = json_object(max_bytes=MAX_ORDER_BYTES)
    problems: dict[str, str] = {}
    refuse_unknown(body, ("code", "id_checked"), problems)
    code = body.get("code")
    if not isinstance(code, str) or not 0 < len(code) <= 16:
        problems["code"] = "required: the shopper's pick-up code, as a string"
    if "id_checked" in body and not isinstance(body["id_checked"], bool):
        problems["id_checked"] = "true or false: whether the buyer's ID was checked and valid"
    if problems:
        raise invalid_parameters(problems)
    order = _own_order(order_id)
    if order.get("fulfilment") != "pickup":
        raise ApiError(409, "not_a_pickup", "this order is delivered by a courier, not collected",
                       {"field": "fulfilment", "fulfilment": order.get("fulfilment")})  # fmt: skip
    if not TRANSITIONS[order["status"]]:
        raise ApiError(409, "illegal_transition", f"the order is already {order['status']}",
                       {"target": "collected", "status": order["status"]})  # fmt: skip
    if body.get("id_checked") is not True and needs_id_check(redis_client(), order):
        raise ApiError(422, "id_check_required", "the order holds age-restricted items: check "
                       "the buyer's ID and send id_checked true, or cancel the order",
                       {"field": "id_checked"})  # fmt: skip
    judged = code_tries.try_code(redis_client(), order_id, given=str(code),
                                     expected=delivery_code(order_id),
                                     courier_id=f"store staff ({current_principal().subject})",
                                     at=now())  # fmt: skip
    if judged.outcome == "locked":
        raise ApiError(423, "pickup_code_locked", f"too many wrong codes: the hand-over of "
                       f"{order_id} is locked; call the dispatcher to unlock it",
                       {"order_id": order_id})  # fmt: skip
    if judged.outcome == "wrong":
        left = judged.tries_left
        raise ApiError(422, "wrong_pickup_code", "the code does not match this order",
                       {"field": "code", "tries_left": left})  # fmt: skip
    return jsonify(order=transition(order_id, "collected", "collected at the counter, code given"))


@bp.post("/orders/<order_id>/unlock-code")
@allow(*STAFF)
def unlock_delivery_code(order_id: str) -> ResponseReturnValue:
    """Dispatchers: lift the lock that wrong delivery codes put on an order (after checking
    with the shopper), and forget those tries."""
    _order_or_404(order_id)
    lock = code_tries.unlock(redis_client(), order_id)
    return jsonify(order_id=order_id, was_locked=lock is not None, lock=lock)


def _own_order(order_id: str) -> dict[str, Any]:
    """The order, if the caller may see it: its shopper, its store's staff, or staff."""
    order = _order_or_404(order_id)
    principal = current_principal()
    if principal.role == "shopper":
        require_own("order", order.get("shopper_id"))
    elif principal.role == "store":
        require_own("order", order["store_id"])
    return order


def transition(
    order_id: str, target: str, note: str, *, only_from: Collection[str] | None = None,
    set_fields: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The one way the API moves an order (a 404 or a 409 for what cannot move)."""
    try:
        order = stored_orders.change_status(
            redis_client(), order_id, target, at=now(), note=note, only_from=only_from,
            set_fields=set_fields,
        )  # fmt: skip
    except order_store.OrderNotFoundError as exc:
        raise ApiError(404, "order_not_found", f"no order with id {order_id!r}") from exc
    except IllegalTransitionError as exc:
        raise ApiError(409, "illegal_transition", str(exc), {"target": target}) from exc
    web_metrics().order_moved(order)
    return order


def _known_store(store_id: str) -> order_store.StoreSlot:
    """The store's slot, if the caller may see the store."""
    if current_principal().role == "store":
        require_own("store", store_id)
    store = catalogue_index().get(store_id)
    if store is None:
        raise ApiError(404, "store_not_found", f"no store with id {store_id!r}", {"id": store_id})
    return store_slot(store)


@bp.get("/stores/<store_id>/orders")
@takes_query("status", "fulfilment", "limit", "cursor")
@allow("store", *STAFF)
def list_store_orders(store_id: str) -> ResponseReturnValue:
    """Store staff: this store's orders, newest first, optionally of one status and one
    fulfilment, a page at a time (``next_cursor`` reads on)."""
    slot = _known_store(store_id)
    args = QueryReader(request.args)
    status = args.choices("status", allowed=STATUSES)
    fulfilment = args.choices("fulfilment", allowed=FULFILMENTS)
    limit = args.integer("limit", default=50, low=1, high=200)
    cursor = args.text("cursor")
    args.finish()
    chosen = next(iter(status)) if status and len(status) == 1 else None
    if status and len(status) > 1:
        raise invalid_parameters({"status": "give one status"})
    if fulfilment and len(fulfilment) > 1:
        raise invalid_parameters({"fulfilment": "give one fulfilment"})
    kind = next(iter(fulfilment)) if fulfilment else None
    page = _page(lambda: stored_orders.store_orders_page(redis_client(), slot, status=chosen,
                                                       fulfilment=kind, cursor=cursor,
                                                       limit=limit))  # fmt: skip
    return jsonify(orders=page.orders, count=len(page.orders), next_cursor=page.next_cursor)


@bp.get("/stores/<store_id>/stats")
@takes_query("from", "to")
@allow("store", *STAFF)
def store_stats(store_id: str) -> ResponseReturnValue:
    """A merchant's closed loop: orders, revenue, new and returning shoppers, repeat rate,
    cancellations and on-time share, overall and per channel, fulfilment and campaign."""
    slot = _known_store(store_id)
    args = QueryReader(request.args)
    end = args.moment("to") or now()
    start = args.moment("from") or end - timedelta(days=1)
    args.finish()
    if start >= end:
        raise invalid_parameters({"from": "must be before to"})
    client = redis_client()
    orders = stored_orders.store_orders_between(client, slot, start, end)
    # around the period: earlier orders tell returning shoppers, later ones count repeats
    history = stored_orders.store_orders_between(client, slot, start - RETURNING_LOOKBACK, start)
    history += stored_orders.store_orders_between(client, slot, end, end + REPEAT_WITHIN)
    figures = store_figures(orders, history=history)
    return jsonify(
        store_id=store_id, **{"from": start.isoformat(), "to": end.isoformat()}, **figures
    )


@bp.get("/stores/<store_id>/stock")
@allow("store", *STAFF)
def read_stock(store_id: str) -> ResponseReturnValue:
    slot = _known_store(store_id)
    return jsonify(store_id=store_id, stock=stored_orders.stock_levels(redis_client(), slot))


@bp.post("/stores/<store_id>/stock")
@allow("store", *STAFF)
def push_stock(store_id: str) -> ResponseReturnValue:
    """A store's system pushes stock: ``mode`` "set" (levels) or "adjust" (deltas), in bulk."""
    slot = _known_store(store_id)
    body = json_object(max_bytes=MAX_ORDER_BYTES)
    mode = body.get("mode", "set")
    items = body.get("items")
    problems: dict[str, str] = {}
    refuse_unknown(body, ("mode", "items"), problems)
    if mode not in ("set", "adjust"):
        problems["mode"] = "must be set or adjust"
    changes: dict[str, int] = {}
    if not isinstance(items, list) or not 1 <= len(items) <= 1000:
        problems["items"] = "required: a list of 1 to 1000 {sku, qty} entries"
    else:
        known = stored_orders.load_products(redis_client())
        seen: set[str] = set()
        for i, item in enumerate(items):
            sku = item.get("sku") if isinstance(item, dict) else None
            qty = item.get("qty") if isinstance(item, dict) else None
            if isinstance(item, dict):
                refuse_unknown(item, LINE_FIELDS, problems, path=f"items[{i}]")
            if not isinstance(sku, str) or sku not in known:
                problems[f"items[{i}].sku"] = "unknown sku"
            elif sku in seen:  # which of two levels or deltas was meant? neither is kept
                problems[f"items[{i}].sku"] = f"{sku} is on an earlier line too: one line per sku"
            elif isinstance(qty, bool) or not isinstance(qty, int) or abs(qty) > 1_000_000:
                problems[f"items[{i}].qty"] = "must be a whole number"
            elif mode == "set" and qty < 0:
                problems[f"items[{i}].qty"] = "a level cannot be negative"
            else:
                changes[sku] = qty
            if isinstance(sku, str):
                seen.add(sku)
    if problems:
        raise invalid_parameters(problems)
    client = redis_client()
    if mode == "set":
        stored_orders.set_stock(client, slot, changes)
    else:
        try:
            stored_orders.adjust_stock(client, slot, changes)
        except order_store.NegativeStockError as exc:
            raise ApiError(409, "negative_stock", str(exc)) from exc
    return jsonify(store_id=store_id, stock=stored_orders.stock_levels(client, slot))


@bp.get("/products")
@rate_limited("public")
def list_products() -> ResponseReturnValue:
    products = stored_orders.load_products(redis_client())
    return jsonify(products=[p.to_record() for p in sorted(products.values(), key=lambda p: p.sku)])


def register(app: Any) -> None:
    """Attach the blueprint and the matching configuration."""
    resolution = app.config["SETTINGS"].region_resolution
    app.extensions.setdefault("intake_rules", IntakeRules(region_resolution=resolution))
    app.url_map.converters["order_id"] = OrderIdConverter
    app.register_blueprint(bp)
