"""Soak: a few thousand sources with a mix of faults; records out == sources in.

The peak memory of each crawl is printed, not asserted: it depends on the
machine (bench/ is where figures are measured).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, crawl_command
from tests.pageserver import PageServer

# (path template, expected status, expected error); {i} makes each URL unique.
MIX = [
    ("/article/ai-safety?i={i}", "ok", None),
    ("/text?i={i}", "ok", None),
    ("/empty?i={i}", "ok", None),
    ("/binary-html?i={i}", "ok", None),
    ("/image.png?i={i}", "ok", None),
    ("/status/404?i={i}", "dead", "http_404"),
    ("/status/410?i={i}", "dead", "http_410"),
    ("/status/403?i={i}", "error", "http_403"),
    ("/status/500?i={i}", "error", "http_500"),
    ("/redirect/1?to=/text%3Fi%3D{i}", "ok", None),
    ("/private/{i}", "error", "robots"),
    ("/flaky/soak-{i}", "ok", None),
    ("/gzip-corrupt?i={i}", "error", "decoding"),
    ("/drop?i={i}", "error", "connection"),
]


def _sources(
    server: PageServer, internal: PageServer, n: int
) -> tuple[list[str], list[tuple[str, str, str | None]]]:
    urls: list[str] = []
    expected: list[tuple[str, str, str | None]] = []
    for i in range(n):
        error: str | None
        kind = i % (len(MIX) + 2)
        if kind == len(MIX):  # an address the guard refuses
            url, status, error = (
                internal.url(f"/article/ai-safety?i={i}"),
                "error",
                "blocked_address",
            )
        elif kind == len(MIX) + 1:  # a bad entry
            url, status, error = f"ftp://files.example/{i}", "error", "unsupported_scheme"
        else:
            template, status, error = MIX[kind]
            url = server.url(template.format(i=i))
        urls.append(url)
        expected.append((url, status, error))
    return urls, expected


def _crawl(tmp_path: Path, server: PageServer, internal: PageServer, n: int) -> int:
    """Crawl n sources, check every record; return the crawl's peak RSS in KiB."""
    urls, expected = _sources(server, internal, n)
    listing = tmp_path / f"soak-{n}.txt"
    listing.write_text("\n".join(urls) + "\n", encoding="utf-8")
    out = tmp_path / f"soak-{n}.jsonl"
    command = crawl_command(
        listing,
        out,
        ALLOW_PRIVATE_ADDRESSES="false",
        ALLOWED_NETWORKS="127.0.0.1/32",
        CONCURRENT_REQUESTS="32",
        CONCURRENT_REQUESTS_PER_DOMAIN="32",
        # the mix is built from faults: its error share and field coverage are not alarms
        MAX_ERROR_SHARE="1",
        ALARM_MIN_RECORDS="1000000",
        LOG_LEVEL="WARNING",
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    log = tmp_path / f"soak-{n}.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
        # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would mix all earlier crawls)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, log.read_text()[-3000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == n
    got = {r["url"]: (r["status"], r["error"]) for r in records}
    wrong = [(url, got.get(url), (s, e)) for url, s, e in expected if got.get(url) != (s, e)]
    assert not wrong, wrong[:10]
    assert Counter(r["resource_id"] for r in records).most_common(1)[0][1] == 1
    return int(usage.ru_maxrss)


@pytest.fixture(scope="module")
def internal() -> Iterator[PageServer]:
    with PageServer(host="127.0.0.2") as server:
        yield server


def test_soak_invariant_and_flat_memory(tmp_path: Path, internal: PageServer) -> None:
    with PageServer() as server:
        small_rss = _crawl(tmp_path, server, internal, 400)
        large_rss = _crawl(tmp_path, server, internal, 2400)
        assert sum(internal.all_hits().values()) == 0
    # Memory is a figure, not a test (it depends on the machine): bench/ measures it.
    print(
        f"peak RSS: {small_rss / 1024:.0f} MiB at 400 sources, {large_rss / 1024:.0f} MiB at 2,400"
    )
