"""The night benchmark runs end to end on a small night (figures are its job, not the tests')."""

from __future__ import annotations

import json
import re
import sys

from bench.nightweb import make_plan
from tests.conftest import PROJECT_ROOT, run_command


def test_a_plan_is_the_same_night_for_the_same_seed() -> None:
    a, b = make_plan(300, 120, 7, 10), make_plan(300, 120, 7, 10)
    assert json.dumps(a) == json.dumps(b)
    assert json.dumps(a) != json.dumps(make_plan(300, 120, 8, 10))
    assert len(a["sources"]) == 300 and len(a["origins"]) == 120
    # every origin has a source, and every source is listed under its origin
    assert all(o["sources"] for o in a["origins"])
    assert sorted(i for o in a["origins"] for i in o["sources"]) == list(range(300))
    kinds = {o["kind"] for o in make_plan(6000, 2500, 19, 10)["origins"]}
    assert kinds == {"web", "hang", "hang_pages", "refuse"}


def test_night_benchmark_gives_one_record_per_source() -> None:
    n = 60
    proc = run_command(
        [sys.executable, str(PROJECT_ROOT / "bench" / "night.py"),
         str(PROJECT_ROOT / "tests" / "site"), "--sources", str(n), "--origins", "25",
         "--seed", "3", "--set", "DOWNLOAD_TIMEOUT=2", "--set", "ROBOTSTXT_TIMEOUT=1",
         "--set", "RETRY_TIMES=1", "--set", "EXTRACT_WORKERS=1"],
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "exit code 0" in out, out
    assert f"records: {n} for {n} sources; 0 sources without a record, 0 repeated" in out, out
    ratio = re.search(r"^wall / bound\s+([0-9.]+)$", out, re.M)
    assert ratio is not None and float(ratio.group(1)) > 0, out
    assert "where the time went" in out and "mean requests on the wire" in out, out
