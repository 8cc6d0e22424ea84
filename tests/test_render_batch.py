"""Shells rendered in batches (RENDER_BATCH): the pool's pause, and batches through the real crawl.

The crawl tests reuse the guarded test site of tests/test_render_crawl.py (its
servers fixture): shells and ordinary pages on 127.0.0.3, the browser behind
the crawl's guarded proxy.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.pool import PoolClosed, ProcessPool
from tests.conftest import CrawlResult, run_crawl
from tests.test_render_crawl import (
    GUARD,
    HAVE_BROWSER,
    PARAGRAPHS,
    STATIC_PARAGRAPHS,
    _Site,
    serve_site,
)


@pytest.fixture(scope="module")
def site_servers() -> Iterator[tuple[str, _Site, Counter[str]]]:
    yield from serve_site()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child that exited but was not reaped yet is a zombie: not alive
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"


def _wait_gone(pids: list[int], pool: ProcessPool | None = None, limit: float = 60.0) -> bool:
    """Wait until the processes have exited (and the pool has let go of them)."""
    deadline = time.monotonic() + limit
    while any(_alive(pid) for pid in pids) or (pool is not None and pool.worker_pids()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- the pool's pause ------------------------------------------------------------


def test_a_paused_pool_stops_its_workers_and_resume_starts_new_ones() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 2)
    pool.start()
    try:

        async def main() -> None:
            first = await asyncio.gather(*(pool.run(("pid", None)) for _ in range(6)))
            before = set(pool.worker_pids())
            assert set(first) <= before and len(before) == 2
            pool.pause()
            assert pool.paused
            # the workers exit once they hold no task; their memory goes with them
            assert await asyncio.to_thread(_wait_gone, sorted(before), pool)
            assert pool.worker_pids() == []
            # a task sent while paused waits: no worker is there to run it
            waiting = asyncio.ensure_future(pool.run(("pid", None)))
            await asyncio.sleep(0.5)
            assert not waiting.done()
            assert pool.worker_pids() == []
            pool.resume()
            assert not pool.paused
            pid = await waiting
            after = set(pool.worker_pids())
            assert pid in after and not after & before
            # and the pool goes on as before
            assert await asyncio.gather(*(pool.run(("echo", n)) for n in range(5))) == list(
                range(5)
            )

        asyncio.run(main())
        assert pool.pauses == 2  # each of the two slots stopped its worker once
        assert pool.started_workers == 4
    finally:
        pool.close()


def test_tasks_queued_before_a_pause_are_run_first() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 1, max_pending=8)
    pool.start()
    try:

        async def main() -> list[Any]:
            queued = [asyncio.ensure_future(pool.run(("nap_pid", 0.2))) for _ in range(3)]
            await asyncio.sleep(0)  # the three are queued
            await asyncio.sleep(0.05)
            pool.pause()
            return await asyncio.wait_for(asyncio.gather(*queued), 120)

        pids = asyncio.run(main())
        assert len(set(pids)) == 1  # one worker ran them all before it stopped
        assert _wait_gone(pids[:1])
    finally:
        pool.close()


def test_closing_a_paused_pool_fails_what_waits_and_leaves_no_process() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 2)
    pool.start()
    pids = pool.worker_pids()

    async def main() -> Any:
        pool.pause()
        assert await asyncio.to_thread(_wait_gone, pids, pool)
        waiting = asyncio.ensure_future(pool.run(("echo", 1)))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(pool.close)
        return await asyncio.gather(waiting, return_exceptions=True)

    (outcome,) = asyncio.run(main())
    assert isinstance(outcome, PoolClosed)
    assert pool.worker_pids() == []
    assert not any(thread.is_alive() for thread in pool._threads)


def test_a_pause_lifted_before_its_markers_are_taken_stops_nothing() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 1, max_pending=8)
    pool.start()
    try:

        async def main() -> list[Any]:
            busy = asyncio.ensure_future(pool.run(("nap_pid", 0.5)))
            await asyncio.sleep(0.1)
            pool.pause()
            pool.resume()  # the marker is still queued behind nothing the worker took
            return await asyncio.gather(busy, *(pool.run(("pid", None)) for _ in range(3)))

        pids = asyncio.run(main())
        assert len(set(pids)) == 1  # the same worker: the stale marker was dropped
        assert pool.pauses == 0 and pool.started_workers == 1
    finally:
        pool.close()


# --- batches through the real crawl ------------------------------------------------

browser_only = pytest.mark.skipif(
    not HAVE_BROWSER and os.environ.get("CI") != "true",
    reason="scrapy-playwright or the system Chromium is not installed",
)


def _stats(log: str) -> dict[str, int]:
    return {
        key: int(value)
        for key, value in re.findall(r"'((?:render|extract|playwright)/[^']+)': (\d+)", log)
    }


def _crawl(base: str, tmp: Path, paths: list[str], **settings: str) -> CrawlResult:
    sources = tmp / "sources.txt"
    sources.write_text("".join(f"{base}{p}\n" for p in paths), encoding="utf-8")
    result = run_crawl(
        sources, tmp / "out.jsonl", timeout=240, **{**GUARD, "RENDER_BATCH": "true", **settings}
    )
    assert result.exit_code == 0, result.log[-3000:]
    return result


MIXED = [
    "/fw/react",
    "/static/article",
    "/spa/article",
    "/spa/api-page",
    "/fw/vue",
    "/spa/broken",
]


@browser_only
def test_shells_wait_for_the_drained_crawl_and_render_in_one_batch(
    site_servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    base = site_servers[0]
    result = _crawl(base, tmp_path, MIXED, EXTRACT_WORKERS="2", EXTRACT_SPARE_WORKERS="0")
    # every source has its one record, none lost while its shell waited
    assert sorted(r["url"] for r in result.records) == sorted(f"{base}{p}" for p in MIXED)
    records = result.by_url()
    for path in ("/fw/react", "/spa/article", "/fw/vue"):
        record = records[f"{base}{path}"]
        assert record["rendered"] is True, path
        assert record["status"] == "ok"
        for paragraph in PARAGRAPHS:
            assert paragraph in record["text"]
    assert records[f"{base}/spa/api-page"]["rendered"] is True
    static = records[f"{base}/static/article"]
    assert static["rendered"] is False and STATIC_PARAGRAPHS[0] in static["text"]
    stats = _stats(result.log)
    assert stats["render/batch/batches"] == 1
    assert stats["render/batch/drained"] == 1
    # the browser ran once, with the extraction workers stopped, and closed at the end
    # of the batch; the workers were started again for the shells' extraction
    assert stats["playwright/browser_count"] == 1
    assert stats["render/batch/pool_pauses"] == 1
    assert stats["render/browser_batch_closes"] == 1
    assert stats["extract/workers_started"] == 4
    assert "Rendering 5 shell(s) in a batch (the crawl has drained)" in result.log


SLOW = ["/spa/article", "/static/slow", "/static/article"]


@browser_only
def test_a_shell_waits_for_a_slow_page_by_default(
    site_servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    """Pages still scheduled keep the crawl from draining (one request at a time: the last
    page waits in the scheduler while the slow one downloads): the shell waits for them,
    and its batch opens only afterwards, with the workers stopped."""
    base = site_servers[0]
    result = _crawl(base, tmp_path, SLOW, EXTRACT_WORKERS="1", CONCURRENT_REQUESTS="1")
    records = result.by_url()
    assert [records[f"{base}{p}"]["rendered"] for p in SLOW] == [True, False, False]
    stats = _stats(result.log)
    assert stats["render/batch/batches"] == 1
    assert stats["render/batch/drained"] == 1
    assert stats["render/batch/pool_pauses"] == 1


@browser_only
def test_a_full_batch_renders_while_the_crawl_goes_on(
    site_servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    """RENDER_BATCH_SIZE=1: the shell's batch is full at once and opens while the slow page
    downloads and the last waits in the scheduler; the workers are left running (pages
    still come for them)."""
    base = site_servers[0]
    result = _crawl(
        base,
        tmp_path,
        SLOW,
        RENDER_BATCH_SIZE="1",
        EXTRACT_WORKERS="1",
        CONCURRENT_REQUESTS="1",
    )
    records = result.by_url()
    assert records[f"{base}/spa/article"]["rendered"] is True
    assert PARAGRAPHS[0] in records[f"{base}/spa/article"]["text"]
    assert records[f"{base}/static/slow"]["rendered"] is False
    stats = _stats(result.log)
    assert stats["render/batch/batches"] == 1
    assert stats["render/batch/drained"] == 0
    assert "render/batch/pool_pauses" not in stats
    assert stats["render/browser_batch_closes"] == 1
    assert stats["extract/workers_started"] == 1


@browser_only
def test_render_batch_off_renders_each_shell_on_arrival(
    site_servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    base = site_servers[0]
    result = _crawl(base, tmp_path, ["/spa/article", "/static/article"], RENDER_BATCH="false")
    assert result.by_url()[f"{base}/spa/article"]["rendered"] is True
    stats = _stats(result.log)
    assert "render/batch/batches" not in stats
    assert "render/batch/pool_pauses" not in stats
    assert stats.get("render/browser_batch_closes", 0) == 0


@browser_only
def test_a_crawl_closed_while_shells_wait_keeps_their_records(
    site_servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    """CLOSESPIDER_ITEMCOUNT closes the crawl after the first record, while the shells wait
    for the slow page: they are released unrendered (plain HTML, rendered false), each
    still with its record, and the run ends."""
    base = site_servers[0]
    shells = ["/spa/article", "/fw/react"]
    paths = [*shells, "/static/article", "/static/slow", "/no-such-page"]
    sources = tmp_path / "sources.txt"
    sources.write_text("".join(f"{base}{p}\n" for p in paths), encoding="utf-8")
    result = run_crawl(
        sources,
        tmp_path / "out.jsonl",
        timeout=240,
        # one request at a time: pages wait in the scheduler until the crawl closes
        **{
            **GUARD,
            "RENDER_BATCH": "true",
            "CLOSESPIDER_ITEMCOUNT": "1",
            "CONCURRENT_REQUESTS": "1",
        },
    )
    records = result.by_url()
    for path in shells:
        assert records[f"{base}{path}"]["rendered"] is False, result.log[-3000:]
    stats = _stats(result.log)
    assert stats["render/failed/closing"] == 2
    assert "render/rendered" not in stats
    assert "playwright/browser_count" not in stats
