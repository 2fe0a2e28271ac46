"""PNG figures of simulated days: click-to-door histogram, on-time share by hour, a route map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from dispatch.simulator import Snapshot

COLOURS = {"lower bound": "#999999", "greedy": "#d95f02", "planner": "#1b9e77"}


def click_to_door_histogram(
    minutes: Mapping[str, Sequence[float]], target_min: float, path: Path, title: str
) -> None:
    """One outlined histogram per policy, the target as a vertical line."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    top = max((max(v) for v in minutes.values() if v), default=target_min)
    bins = [float(b) for b in range(0, int(min(top, 4 * target_min)) + 6, 5)]
    for label, values in minutes.items():
        axes.hist(values, bins=bins, histtype="step", linewidth=1.8, color=COLOURS.get(label),
                  label=f"{label} (n={len(values)})")  # fmt: skip
    axes.axvline(target_min, color="black", linestyle="--", linewidth=1, label="target")
    axes.set(xlabel="click-to-door (min)", ylabel="orders", title=title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def on_time_by_hour(shares: Mapping[str, Mapping[int, float]], path: Path, title: str) -> None:
    """Share of orders delivered within the target, by the hour they were placed."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for label, by_hour in shares.items():
        hours = sorted(by_hour)
        axes.plot(hours, [100 * by_hour[h] for h in hours], marker="o", label=label,
                  color=COLOURS.get(label))  # fmt: skip
    axes.set(xlabel="hour the order was placed", ylabel="on time (%)", ylim=(0, 105), title=title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def route_map(snapshot: Snapshot, path: Path, title: str, *, lat_lng: bool) -> None:
    """Each busy courier's planned path from where it is, and the orders still waiting."""
    figure, axes = plt.subplots(figsize=(9, 7))

    def xy(point: tuple[float, float]) -> tuple[float, float]:
        return (point[1], point[0]) if lat_lng else point  # x = longitude on a map

    for courier_id, points in sorted(snapshot.paths.items()):
        xs, ys = zip(*(xy(p) for p in points), strict=True)
        (line,) = axes.plot(xs, ys, marker=".", linewidth=1.4, label=courier_id)
        axes.plot(xs[0], ys[0], marker="s", color=line.get_color())  # where the courier is now
    for order in snapshot.waiting:
        (sx, sy), (cx, cy) = xy(order.store), xy(order.customer)
        axes.plot([sx, cx], [sy, cy], color="#bbbbbb", linewidth=0.6, linestyle=":")
    axes.set(title=title, xlabel="longitude" if lat_lng else "x (m)",
             ylabel="latitude" if lat_lng else "y (m)")  # fmt: skip
    if len(snapshot.paths) <= 20:
        axes.legend(fontsize="small", title="courier (square: now)", loc="upper left",
                    bbox_to_anchor=(1.01, 1.0))  # fmt: skip
    axes.set_aspect("equal" if not lat_lng else 1.1)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
