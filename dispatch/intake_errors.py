"""Why order intake refuses an order: one error per reason, each turned into its 4xx by the
web layer."""

from __future__ import annotations

from dispatch.matching import Candidate, Rejection


class IntakeError(ValueError):
    """Why an order was refused; the web layer turns each kind into its 4xx."""


class UnknownSkuError(IntakeError):
    def __init__(self, skus: list[str]) -> None:
        super().__init__(f"unknown sku(s): {', '.join(skus)}")
        self.skus = skus


class IdempotencyConflictError(IntakeError):
    """The same idempotency key or channel order id came with a different body (``same_as``:
    the index of the order in the same batch that used it first)."""

    def __init__(self, order_id: str | None, *, same_as: int | None = None) -> None:
        if same_as is not None:
            used = f"order {same_as} of this batch"
        else:
            used = f"order {order_id}" if order_id else "a request still being placed"
        super().__init__(f"this key was already used for {used} with another body")
        self.order_id = order_id
        self.same_as = same_as


class IdempotencyInProgressError(IntakeError):
    """An identical request is still being placed: retry in a moment."""

    def __init__(self) -> None:
        super().__init__("an identical request is still being placed; retry in a few seconds")


class UnknownStoreError(IntakeError):
    def __init__(self, store_id: str) -> None:
        super().__init__(f"no store with id {store_id!r} in the catalogue")
        self.store_id = store_id


class DeliverAtError(IntakeError):
    """A ``deliver_at`` that cannot be booked now (too soon, past, too far): checked after
    the retry check, so that a retry of an order booked earlier still gets its order."""


class NoStoreCanFulfilError(IntakeError):
    """No store can; for an order naming its store (``taken_at``: the store that took it or the
    one the shopper chose), ``instead`` is the nearest other store that could."""

    def __init__(
        self, rejections: list[Rejection], *, taken_at: str | None = None,
        instead: Candidate | None = None,
    ) -> None:  # fmt: skip
        if taken_at is None:
            super().__init__("no partner store can fulfil this order within the hour")
        else:
            super().__init__(f"store {taken_at}, which the order names (it took the order or "
                             "was chosen), cannot fulfil it in time")  # fmt: skip
        self.rejections = rejections
        self.taken_at = taken_at
        self.instead = instead
