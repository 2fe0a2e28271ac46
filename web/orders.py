"""The order platform's API: intake from every channel, tracking, lifecycle, stock, products."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.routing import BaseConverter

from dispatch import order_store
from dispatch.intake import Intake, IntakeResult, IntakeRules, Submission, body_hash
from dispatch.intake_batch import take_batch
from dispatch.intake_errors import (
    DeliverAtError,
    IdempotencyConflictError,
    IdempotencyInProgressError,
    IntakeError,
    NoStoreCanFulfilError,
    UnknownSkuError,
    UnknownStoreError,
)
from dispatch.order_store import OrderPage
from dispatch.orders import (
    FINAL_STATUSES,
    FULFILMENTS,
    STATUSES,
    AlreadyPastError,
    Cancellation,
    IllegalTransitionError,
    Order,
    OrderRequest,
)
from dispatch.rebalance import rebalance
from dispatch.stats import REPEAT_WITHIN, RETURNING_LOOKBACK, store_figures
from dispatch.storage import code_tries
from dispatch.storage import orders as stored_orders
from dispatch.storage.tokens import STAFF, Principal
from web.auth import allow, current_principal, require_own
from web.bodies import (
    MAX_ID_LEN,
    BatchOrdersBody,
    CancelBody,
    CollectBody,
    OrderBody,
    ReorderBody,
    StatusChangeBody,
    StockBody,
)
from web.courier import needs_id_check
from web.errors import ApiError, error_body, invalid_parameters
from web.limits import rate_limited
from web.metrics import refusal_reason
from web.params import QueryReader, takes_query
from web.services import catalogue_index, now, redis_client, store_keyspace, web_metrics
from web.tracking import delivery_code, order_of_token, tracking_links, tracking_view

bp = Blueprint("orders", __name__, url_prefix="/api/v1")


class OrderIdConverter(BaseConverter):
    """An order id in a path: any segment but the names of the collection's own routes, so
    that ``GET /orders/batch`` is a 405 (POST only), not a search for an order "batch"."""

    regex = r"(?!(?:batch|rebalance)$)[^/]+"


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
    order, body = OrderBody.read_with_json()
    principal = current_principal()
    order_request = _taken_where(order.order_request(), principal)
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
    record = result.order.to_record()
    if not result.replayed:
        web_metrics().order_accepted(result.order)
    headers = {"Location": f"/api/v1/orders/{result.order.id}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return jsonify(order=record, tracking=tracking_links(result.order.id)), 201, headers


def _idempotency_key() -> str | None:
    """The request's Idempotency-Key header, if any (a 400 when it is not a usable key)."""
    header_key = request.headers.get("Idempotency-Key")
    if header_key is not None and (
        not 0 < len(header_key) <= MAX_ID_LEN or not header_key.isprintable()
    ):
        raise invalid_parameters(
            {"Idempotency-Key": f"must be 1 to {MAX_ID_LEN} printable characters"}
        )
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
    return _page_json(page)


def _page_json(page: OrderPage) -> ResponseReturnValue:
    orders = [order.to_record() for order in page.orders]
    return jsonify(orders=orders, count=len(orders), next_cursor=page.next_cursor)


def _page(read: Callable[[], OrderPage]) -> OrderPage:
    try:
        return read()
    except order_store.BadCursorError as exc:
        raise invalid_parameters(
            {"cursor": "not a cursor this list handed out (next_cursor of an earlier page)"}
        ) from exc


@bp.post("/orders/<order_id>/reorder")
@allow("shopper")
def reorder(order_id: str) -> ResponseReturnValue:
    """Order again: a new order with the same items and address as one of the shopper's own,
    the same fulfilment and the store the shopper chose (if they chose one), matched afresh (for
    now, or for ``deliver_at``); a campaign code is not carried over. With an Idempotency-Key,
    a retry gets the same new order; without, each call orders again."""
    asked, body = ReorderBody.read_with_json(optional=True)
    deliver_at = None if asked.deliver_at is None else asked.deliver_at.astimezone(UTC)
    header_key = _idempotency_key()
    earlier = _own_order(order_id).request
    subject = current_principal().subject
    # the channel's id of the new order: fixed by the key, so that a retry is the same order
    tag = secrets.token_hex(8) if header_key is None else body_hash({"key": header_key})[:16]
    order_request = replace(
        earlier, external_id=f"reorder-{tag}", shopper=subject, campaign=None, contact="",
        deliver_at=deliver_at,
    )  # fmt: skip
    fingerprint = body_hash({"reorder_of": order_id, "body": body, "shopper": subject})
    return _placed(Submission(order_request, fingerprint, header_key, _idempotency_scope()))


@bp.post("/orders/batch")
@allow(*STAFF)
def create_orders_in_bulk() -> ResponseReturnValue:
    """Bulk intake: up to 200 orders matched together by the batch matcher (OR-Tools CP-SAT).

    Each order succeeds or fails on its own: the answer lists, in order, a 201 with the order or
    the 4xx error that a single POST would have given.
    """
    items: list[Any] = BatchOrdersBody.read().orders
    outcomes: list[dict[str, Any] | ApiError] = []
    submissions: list[Submission] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise ApiError(400, "malformed_json", "each order must be a JSON object")
            order_request = _taken_where(OrderBody.from_json(item).order_request(),
                                         current_principal())  # fmt: skip
            submissions.append(
                Submission(order_request, body_hash(item), scope=_idempotency_scope())
            )
            outcomes.append({})
        except ApiError as refused:
            outcomes.append(refused)
    taken = zip(submissions, take_batch(_intake(), submissions), strict=True)
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
            record = result.order.to_record()
            if not result.replayed:
                web_metrics().order_accepted(result.order)
            results.append({"index": index, "status": 201, "order": record})
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
    report = rebalance(_intake())
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


def _order_or_404(order_id: str) -> Order:
    order = stored_orders.get_order(redis_client(), order_id)
    if order is None:
        raise ApiError(404, "order_not_found", f"no order with id {order_id!r}", {"id": order_id})
    return order


@bp.get("/orders/<order_id:order_id>")
@allow("shopper", "store", *STAFF)
def track_order(order_id: str) -> ResponseReturnValue:
    return jsonify(order=_own_order(order_id).to_record())


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
    change = StatusChangeBody.read()
    if current_principal().role == "store" and change.status not in STORE_STATUSES:
        raise invalid_parameters({"status": f"must be one of {', '.join(STORE_STATUSES)}"})
    _own_order(order_id)
    try:
        return jsonify(order=transition(order_id, change.status, change.note).to_record(),
                       changed=True)  # fmt: skip
    except AlreadyPastError as late:  # already there (a quicker courier, a double tap)
        return jsonify(order=late.order.to_record(), changed=False)


@bp.post("/orders/<order_id>/cancel")
@allow("shopper", *STAFF)
def cancel_order(order_id: str) -> ResponseReturnValue:
    """Cancel, with an optional ``reason`` kept on the order; the reserved stock goes back on
    the shelf. A shopper may cancel their own order until the store starts preparing it (then a
    409 too_late_to_cancel: the goods are being picked); staff, until pick-up."""
    reason = CancelBody.read(optional=True).reason
    _own_order(order_id)
    if current_principal().role == "shopper":
        order = cancel_early(order_id, by="shopper", reason=reason)
    else:
        order = transition(order_id, "cancelled", reason or "cancelled by request",
                           cancellation=Cancellation("staff", reason, now()))  # fmt: skip
    return jsonify(order=order.to_record())


SHOPPER_CANCELS = {"shopper": "the shopper", "tracking_link": "the shopper (tracking link)"}


def cancel_early(order_id: str, *, by: str, reason: str = "") -> Order:
    """A shopper's cancellation (``by``: one of SHOPPER_CANCELS): only while the order is
    accepted (the store has not started on it), else a 409 too_late_to_cancel naming its
    status."""
    note = f"cancelled by {SHOPPER_CANCELS[by]}" + (f": {reason}" if reason else "")
    try:
        return transition(order_id, "cancelled", note, only_from=("accepted",),
                           cancellation=Cancellation(by, reason, now()))  # fmt: skip
    except ApiError as refused:
        if refused.code != "illegal_transition":
            raise
        current = _order_or_404(order_id).status
        raise ApiError(409, "too_late_to_cancel",
                       f"the order is {current.replace('_', ' ')}: it can no longer be cancelled "
                       "here", {"status": current}) from refused  # fmt: skip


@bp.post("/track/<token>/cancel")
@rate_limited("public")
def cancel_by_tracking_link(token: str) -> ResponseReturnValue:
    """The shopper's own link may cancel until the store starts preparing (after that the goods
    are being picked: the shopper calls the store); answers the link's fresh view."""
    cancel_early(order_of_token(token).id, by="tracking_link")
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
    collect = CollectBody.read()
    order = _own_order(order_id)
    fulfilment = order.request.fulfilment
    if fulfilment != "pickup":
        raise ApiError(409, "not_a_pickup", "this order is delivered by a courier, not collected",
                       {"field": "fulfilment", "fulfilment": fulfilment})  # fmt: skip
    if order.status in FINAL_STATUSES:
        raise ApiError(409, "illegal_transition", f"the order is already {order.status}",
                       {"target": "collected", "status": order.status})  # fmt: skip
    if collect.id_checked is not True and needs_id_check(redis_client(), order.to_record()):
        raise ApiError(422, "id_check_required", "the order holds age-restricted items: check "
                       "the buyer's ID and send id_checked true, or cancel the order",
                       {"field": "id_checked"})  # fmt: skip
    judged = code_tries.try_code(redis_client(), order_id, given=collect.code,
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
    done = transition(order_id, "collected", "collected at the counter, code given")
    return jsonify(order=done.to_record())


@bp.post("/orders/<order_id>/unlock-code")
@allow(*STAFF)
def unlock_delivery_code(order_id: str) -> ResponseReturnValue:
    """Dispatchers: lift the lock that wrong delivery codes put on an order (after checking
    with the shopper), and forget those tries."""
    _order_or_404(order_id)
    lock = code_tries.unlock(redis_client(), order_id)
    return jsonify(order_id=order_id, was_locked=lock is not None, lock=lock)


def _own_order(order_id: str) -> Order:
    """The order, if the caller may see it: its shopper, its store's staff, or staff."""
    order = _order_or_404(order_id)
    principal = current_principal()
    if principal.role == "shopper":
        require_own("order", order.request.shopper)
    elif principal.role == "store":
        require_own("order", order.store_id)
    return order


def transition(
    order_id: str, target: str, note: str, *, only_from: Collection[str] | None = None,
    cancellation: Cancellation | None = None,
) -> Order:  # fmt: skip
    """The one way the API moves an order (a 404 or a 409 for what cannot move)."""
    try:
        order = stored_orders.change_status(
            redis_client(), order_id, target, at=now(), note=note, only_from=only_from,
            cancellation=cancellation,
        )  # fmt: skip
    except order_store.OrderNotFoundError as exc:
        raise ApiError(404, "order_not_found", f"no order with id {order_id!r}") from exc
    except IllegalTransitionError as exc:
        raise ApiError(409, "illegal_transition", str(exc), {"target": target}) from exc
    web_metrics().order_moved(order)
    return order


def _known_store(store_id: str) -> order_store.StoreKeyspace:
    """The store's keyspace, if the caller may see the store."""
    if current_principal().role == "store":
        require_own("store", store_id)
    store = catalogue_index().get(store_id)
    if store is None:
        raise ApiError(404, "store_not_found", f"no store with id {store_id!r}", {"id": store_id})
    return store_keyspace(store)


@bp.get("/stores/<store_id>/orders")
@takes_query("status", "fulfilment", "limit", "cursor")
@allow("store", *STAFF)
def list_store_orders(store_id: str) -> ResponseReturnValue:
    """Store staff: this store's orders, newest first, optionally of one status and one
    fulfilment, a page at a time (``next_cursor`` reads on)."""
    keyspace = _known_store(store_id)
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
    page = _page(lambda: stored_orders.store_orders_page(redis_client(), keyspace, status=chosen,
                                                       fulfilment=kind, cursor=cursor,
                                                       limit=limit))  # fmt: skip
    return _page_json(page)


@bp.get("/stores/<store_id>/stats")
@takes_query("from", "to")
@allow("store", *STAFF)
def store_stats(store_id: str) -> ResponseReturnValue:
    """A merchant's closed loop: orders, revenue, new and returning shoppers, repeat rate,
    cancellations and on-time share, overall and per channel, fulfilment and campaign."""
    keyspace = _known_store(store_id)
    args = QueryReader(request.args)
    end = args.moment("to") or now()
    start = args.moment("from") or end - timedelta(days=1)
    args.finish()
    if start >= end:
        raise invalid_parameters({"from": "must be before to"})
    client = redis_client()
    orders = stored_orders.store_orders_between(client, keyspace, start, end)
    # around the period: earlier orders tell returning shoppers, later ones count repeats
    history = stored_orders.store_orders_between(
        client, keyspace, start - RETURNING_LOOKBACK, start
    )
    history += stored_orders.store_orders_between(client, keyspace, end, end + REPEAT_WITHIN)
    figures = store_figures(orders, history=history)
    return jsonify(
        store_id=store_id, **{"from": start.isoformat(), "to": end.isoformat()}, **figures
    )


@bp.get("/stores/<store_id>/stock")
@allow("store", *STAFF)
def read_stock(store_id: str) -> ResponseReturnValue:
    keyspace = _known_store(store_id)
    return jsonify(store_id=store_id, stock=stored_orders.stock_levels(redis_client(), keyspace))


@bp.post("/stores/<store_id>/stock")
@allow("store", *STAFF)
def push_stock(store_id: str) -> ResponseReturnValue:
    """A store's system pushes stock: ``mode`` "set" (levels) or "adjust" (deltas), in bulk."""
    keyspace = _known_store(store_id)
    push = StockBody.read()
    known = stored_orders.load_products(redis_client())
    unknown = {f"items[{i}].sku": "unknown sku"
               for i, line in enumerate(push.items) if line.sku not in known}  # fmt: skip
    if unknown:
        raise invalid_parameters(unknown)
    changes = push.changes()
    client = redis_client()
    if push.mode == "set":
        stored_orders.set_stock(client, keyspace, changes)
    else:
        try:
            stored_orders.adjust_stock(client, keyspace, changes)
        except order_store.NegativeStockError as exc:
            raise ApiError(409, "negative_stock", str(exc)) from exc
    return jsonify(store_id=store_id, stock=stored_orders.stock_levels(client, keyspace))


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
