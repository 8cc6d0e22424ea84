"""The pool's benchmark tools run end to end: --before (contender f) and --pool-stats."""

from __future__ import annotations

import re
import sys

from bench.throughput import LABELS
from tests.conftest import PROJECT_ROOT, run_command


def test_throughput_compares_two_checkouts_and_prints_what_the_pool_saw() -> None:
    n = 10
    proc = run_command(
        [sys.executable, str(PROJECT_ROOT / "bench" / "throughput.py"),
         str(PROJECT_ROOT / "tests" / "site"), "--n", str(n), "--rounds", "1",
         "--latency", "0", "--concurrency", "4", "--only", "bf",
         "--before", str(PROJECT_ROOT), "--pool-stats"],
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  ! " not in proc.stderr, proc.stderr  # a run failed or lost records
    for key in "bf":
        row = next(line for line in proc.stdout.splitlines() if line.startswith(f"{key} "))
        assert row.startswith(f"{key} {LABELS[key]}") and row.split()[-1] == str(n), row
    # one line of pool figures under each run of ours, with every share a percentage
    pool_lines = [line for line in proc.stdout.splitlines() if "reactor lag mean" in line]
    assert len(pool_lines) == 2, proc.stdout
    for line in pool_lines:
        assert len(re.findall(r"\d+%", line)) == 6, line
    assert re.search(r"^b / f \(this checkout against --before\): \d+\.\d\d$", proc.stdout, re.M)
