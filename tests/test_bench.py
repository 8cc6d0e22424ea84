"""The throughput benchmark runs end to end (figures are its job, not the tests')."""

from __future__ import annotations

import sys

from bench.throughput import CONTENDERS
from tests.conftest import PROJECT_ROOT, run_command


def test_throughput_benchmark_runs_every_contender() -> None:
    n = 10
    proc = run_command(
        [sys.executable, str(PROJECT_ROOT / "bench" / "throughput.py"),
         str(PROJECT_ROOT / "tests" / "site"), "--n", str(n), "--rounds", "1",
         "--latency", "0", "--concurrency", "4"],
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  ! " not in proc.stderr, proc.stderr  # a contender failed or lost records
    rows = {}
    for line in proc.stdout.splitlines():
        for key, label in CONTENDERS.items():
            if line.startswith(f"{key} {label}"):
                rows[key] = line[len(key) + 1 + len(label) :].split()
    assert set(rows) == set(CONTENDERS), proc.stdout
    for key, cells in rows.items():
        pages_s, cpu, busy, rss, pss, _vs_a, _vs_c, records = cells
        assert float(pages_s) > 0 and float(cpu) > 0 and busy.endswith("%"), (key, cells)
        assert int(rss) >= int(pss) > 0, (key, cells)
        # every contender fetched (and ours extracted) every page of the run
        assert int(records) == n, (key, cells)
    assert rows["a"][5] == "1.00" and rows["c"][6] == "1.00"
    assert "b / d (the pool, same work per page):" in proc.stdout
    assert "b / e (the pool and the per-page savings):" in proc.stdout
