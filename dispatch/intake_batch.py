"""Bulk intake: a batch of orders matched together by the CP-SAT batch matcher, then each placed
as a single order is (see :mod:`dispatch.intake`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dispatch.batch_matching import BatchOrder, BatchStore, batch_match
from dispatch.intake import Intake, IntakeResult, StoreSnapshot, Submission
from dispatch.intake_errors import (
    DeliverAtError,
    IdempotencyConflictError,
    IdempotencyInProgressError,
    IntakeError,
    NoStoreCanFulfilError,
    UnknownSkuError,
    UnknownStoreError,
)


def take_batch(
    intake: Intake, submissions: Sequence[Submission]
) -> list[IntakeResult | IntakeError]:
    """Match a batch at once with the CP-SAT batch matcher, then place each order.

    Orders the matcher assigned are placed first, at their assigned store; the others then
    try their candidates nearest first. Each placement is still atomic on its own, so a
    store that changed since the snapshot only sends that order on to its next candidate.
    """
    results: list[IntakeResult | IntakeError | None] = [None] * len(submissions)
    pending: dict[int, StoreSnapshot] = {}
    twins, conflicts = _repeats_within(submissions)
    for i, submission in enumerate(submissions):
        if i in twins or i in conflicts:  # answered from the first of its keys below
            continue
        try:
            results[i] = intake.check(submission)
        except (UnknownSkuError, UnknownStoreError, IdempotencyConflictError,
                IdempotencyInProgressError, DeliverAtError) as exc:  # fmt: skip
            results[i] = exc
            continue
        if results[i] is None:
            pending[i] = intake.snapshot(submission.request)
    plan = batch_match(
        [
            BatchOrder(
                str(i),
                submissions[i].request.quantities,
                tuple((c.store.id, c.ride_s) for c in snap.ranking.feasible),
            )
            for i, snap in pending.items()
        ],
        batch_stores(pending.values()),
        time_limit_s=intake.rules.batch_time_limit_s,
    )
    assigned = {int(i): store for i, store in plan.assignment.items()}
    for i in sorted(pending, key=lambda i: (i not in assigned, i)):
        ranking = pending[i].ranking
        chosen = assigned.get(i)
        ordered = sorted(ranking.feasible, key=lambda c: (c.store.id != chosen, c.ride_s))
        try:  # a claim refused here (a twin request racing us) refuses before any write
            results[i] = intake.place_first(submissions[i], ordered, ranking)
        except NoStoreCanFulfilError as refused:
            results[i] = intake.with_instead(submissions[i].request, refused)
        except (IdempotencyConflictError, IdempotencyInProgressError) as exc:
            results[i] = exc
    for i, first in twins.items():  # the same order sent twice: one order, as for a retry
        done = results[first]
        results[i] = IntakeResult(done.order, replayed=True) if isinstance(
            done, IntakeResult) else done  # fmt: skip
    for i, first in conflicts.items():
        done = results[first]
        placed = done.order.id if isinstance(done, IntakeResult) else None
        results[i] = IdempotencyConflictError(placed, same_as=first)
    return [r for r in results if r is not None]


def _repeats_within(submissions: Sequence[Submission]) -> tuple[dict[int, int], dict[int, int]]:
    """Orders of one batch that use the idempotency keys of an earlier one: with the same body
    (twins, answered as its retry) and with another (conflicts, refused before anything is
    written), each mapped to the index of that earlier order."""
    first_with: dict[str, int] = {}
    twins: dict[int, int] = {}
    conflicts: dict[int, int] = {}
    for i, submission in enumerate(submissions):
        first = next((first_with[k] for k in submission.keys if k in first_with), None)
        if first is None:
            first_with.update(dict.fromkeys(submission.keys, i))
        elif submissions[first].fingerprint == submission.fingerprint:
            twins[i] = first
        else:
            conflicts[i] = first
    return twins, conflicts


def batch_stores(snapshots: Iterable[StoreSnapshot]) -> list[BatchStore]:
    """Each candidate store once, with its slots left this hour and the stock seen for it."""
    capacity: dict[str, int] = {}
    stock: dict[str, dict[str, int]] = {}
    for snapshot in snapshots:
        for store_id, situation in snapshot.situations.items():
            left = situation.store.capacity_per_hour - situation.orders_last_hour
            capacity[store_id] = max(0, left)
            stock.setdefault(store_id, {}).update(situation.stock)
    return [BatchStore(store_id, capacity[store_id], stock[store_id]) for store_id in capacity]
