"""Dispatch regions, so that several dispatcher workers share the planning (pure).

A region is an H3 cell at a configured resolution (orders by their store, couriers by where they
are), or the single region ``all``. A worker plans a region only while it holds the region's
lease (see :mod:`dispatch.storage.leases`), so two workers never plan one region at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import h3

from dispatch.planner import CourierState, OpenOrder

ALL = "all"

Group = tuple[list[OpenOrder], list[CourierState]]


def region_of(lat: float, lng: float, resolution: int | None) -> str:
    """The region of a position: its H3 cell at ``resolution``, or ``all`` without one."""
    return ALL if resolution is None else str(h3.latlng_to_cell(lat, lng, resolution))


def by_region(
    orders: Sequence[OpenOrder], couriers: Sequence[CourierState], resolution: int | None
) -> dict[str, Group]:
    """Orders and couriers per dispatch region: couriers where they are, orders where their
    store is, except an order on board or pinned, which goes to its courier's region."""
    where = {c.id: c.position for c in couriers}
    groups: dict[str, Group] = {}
    for courier in couriers:
        groups.setdefault(region_of(*courier.position, resolution), ([], []))[1].append(courier)
    for order in orders:
        owner = order.picked_up_by or order.pinned_to
        anchor = where.get(owner) if owner else None
        lat, lng = anchor or order.store
        groups.setdefault(region_of(lat, lng, resolution), ([], []))[0].append(order)
    return groups
