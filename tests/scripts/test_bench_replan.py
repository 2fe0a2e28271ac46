"""scripts/bench_replan.py on its smallest region, two ticks: one row per re-plan kind."""

from __future__ import annotations

import os
import subprocess
import sys

from dispatch.settings import PROJECT_ROOT

COLUMNS = ("| orders / couriers | re-plan | median s | max s | promises kept % | "
           "drop-off move p50 min | p90 min | reassigned % | next stop changed % |")  # fmt: skip


def test_bench_replan_prints_both_kinds_with_every_column() -> None:
    script = PROJECT_ROOT / "scripts" / "bench_replan.py"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), "--sizes", "250/50", "--ticks", "2"],
        capture_output=True, text=True, check=True, env=env, timeout=60,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert COLUMNS in lines
    rows = [line.split("|")[1:-1] for line in lines if line.startswith("| 250/50 |")]
    assert [row[1].strip() for row in rows] == ["plan in force", "from scratch"]
    for row in rows:
        assert len(row) == 9
        median, worst, kept, p50, p90, moved, turned = (float(cell) for cell in row[2:])
        assert 0 < median <= worst and 0 <= kept <= 100 and 0 <= p50 <= p90
        assert 0 <= moved <= 100 and 0 <= turned <= 100
    assert done.stderr.count("tick ") == 2  # a progress line per tick
