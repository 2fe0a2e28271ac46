"""scripts/simulate.py on a small MDRP instance: its CSV, its tables, consistent solution files."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from dispatch.mdrp import read_instance
from dispatch.settings import PROJECT_ROOT

MDRP = PROJECT_ROOT.parent / "shared" / "benchmarks" / "grubhub_mdrp" / "public_instances"
NAME = "0r50t75s1p100"


def check_moves(folder: Path) -> None:
    """What the official evaluator checks of the moves: each leaves from where the last one
    arrived, never before it arrived; every drop-off and pickup happens where the courier is."""
    instance = read_instance(MDRP / NAME)
    place = {o.id: o.point for o in instance.orders} | dict(instance.restaurants)
    place |= {c.id: c.point for c in instance.couriers}
    on = {c.id: c.on for c in instance.couriers}
    stays: dict[str, list[tuple[str, int, int]]] = {}  # courier -> (place, arrived, left)
    lines = (folder / "solution_info_couriers.txt").read_text().split("\n")[1:]
    for courier, depart, origin, destination in (line.split() for line in lines if line):
        origin = courier if origin == "0" else origin
        visits = stays.setdefault(courier, [(courier, on[courier], on[courier])])
        here, arrived, _ = visits[-1]
        assert origin == here and int(depart) >= arrived
        visits[-1] = (here, arrived, int(depart))
        ride = instance.travel(place[origin], place[destination])
        visits.append((destination, int(depart) + ride, 10**9))
    orders = (folder / "solution_info_orders.txt").read_text().split("\n")[1:]
    restaurant = {o.id: o.restaurant for o in instance.orders}
    for order, _, ready, pickup, drop, courier in (line.split() for line in orders if line):
        assert int(pickup) >= int(ready)
        for spot, moment in ((order, int(drop)), (restaurant[order], int(pickup))):
            assert any(p == spot and a < moment <= left for p, a, left in stays[courier])


def test_simulate_writes_csv_tables_and_evaluator_files(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    table = tmp_path / "days.csv"
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "simulate.py"), "--only", NAME,
         "--csv", str(table), "--write-solutions", str(tmp_path / "solutions")],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    for heading in ("### by all", "### by sampling", "### by travel", "### by preparation"):
        assert heading in done.stdout
    with table.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["policy"] for r in rows] == [
        "lower bound",
        "greedy",
        "greedy-lead",
        "rolling-horizon",
    ]
    assert {r["sampling"] for r in rows} == {"r50"} and rows[0]["travel"] == "t75"
    for policy in ("greedy", "greedy-lead", "rolling-horizon"):
        check_moves(tmp_path / "solutions" / NAME / policy)
