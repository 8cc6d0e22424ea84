"""The extraction process pool: unit tests of pipelines.pool and crawls through the pool."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pipelines.extract.job import ContentResult, ExtractJob, cap_markup, content_fields
from pipelines.pool import (
    PoolClosed,
    ProcessPool,
    TaskFailed,
    TaskTimeout,
    TaskTooLarge,
    WorkerDied,
)
from tests.conftest import run_crawl
from tests.pageserver import PageServer

# --- functions the workers run (importable by dotted path) ---------------------------


def square(x: int) -> int:
    return x * x


def misbehave(arg: tuple[str, Any]) -> Any:
    """Behave as ``arg`` asks: ``("exit", code)``, ``("raise", msg)``, ``("sleep", s)``, …"""
    action, value = arg
    if action == "exit":
        os._exit(value)
    if action == "raise":
        raise ValueError(value)
    if action == "sleep":
        time.sleep(value)
    if action == "unpicklable":
        return lambda: None
    if action == "pid":
        return os.getpid()
    if action == "nap_pid":
        time.sleep(value)
        return os.getpid()
    if action == "hog":
        hog = bytearray(value * 1024**2)
        hog[-1] = 1
    return value


CRASH_MARKER = "/article/blog-post"


def crash_on_marker(job: ExtractJob) -> ContentResult:
    """The real extraction, except that one page kills the worker outright."""
    if CRASH_MARKER in job.url:
        os._exit(13)
    return content_fields(job)


# --- unit tests ----------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _run(pool: ProcessPool, *args: Any) -> list[Any]:
    async def main() -> list[Any]:
        return await asyncio.gather(*(pool.run(a) for a in args), return_exceptions=True)

    return asyncio.run(main())


def test_pool_runs_tasks_in_workers_and_stops_them() -> None:
    pool = ProcessPool("tests.test_pool.square", 2, max_pending=3)
    pool.start()
    pids = pool.worker_pids()
    try:
        assert _run(pool, *range(20)) == [x * x for x in range(20)]
        assert len(pids) == 2 and os.getpid() not in pids
    finally:
        pool.close()
    assert not any(_alive(pid) for pid in pids)
    pool.close()  # twice is harmless


def test_a_task_that_kills_its_worker_fails_alone() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 2)
    pool.start()
    try:
        results = _run(pool, ("echo", 1), ("exit", 7), ("echo", 2), ("echo", 3))
        assert results[0] == 1 and results[2:] == [2, 3]
        assert isinstance(results[1], WorkerDied)
        assert pool.deaths == 2  # the first attempt and the retry
        assert _run(pool, ("echo", 4)) == [4]  # the pool lives on
    finally:
        pool.close()


def test_a_worker_killed_from_outside_is_replaced_and_the_task_retried() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 1)
    pool.start()
    try:
        (first,) = _run(pool, ("pid", None))
        os.kill(first, signal.SIGKILL)
        (second,) = _run(pool, ("pid", None))
        assert second != first
        assert pool.deaths == 1
    finally:
        pool.close()


def test_exceptions_and_unpicklable_values_are_task_failures() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 1)
    pool.start()
    try:
        raised, unpicklable, not_sent = _run(
            pool, ("raise", "boom"), ("unpicklable", None), ("echo", lambda: None)
        )
        assert isinstance(raised, TaskFailed) and "ValueError: boom" in str(raised)
        assert isinstance(unpicklable, TaskFailed)
        assert isinstance(not_sent, TaskFailed)
        assert pool.deaths == 0
    finally:
        pool.close()


def test_a_runaway_task_times_out_and_its_worker_is_replaced() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 1, task_timeout=0.5)
    pool.start()
    try:
        slow, after = _run(pool, ("sleep", 30), ("echo", "next"))
        assert isinstance(slow, TaskTimeout)
        assert after == "next"
    finally:
        pool.close()


def test_workers_are_recycled_after_max_tasks() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 1, max_tasks_per_worker=2)
    pool.start()
    try:
        pids = [_run(pool, ("pid", None))[0] for _ in range(5)]
        assert len(set(pids)) == 3
    finally:
        pool.close()


def test_tasks_sent_behind_a_crashing_one_are_not_lost_nor_blamed() -> None:
    # One worker holds two tasks at once (the one it runs, the next in its
    # socket): when it dies, only the first is its fault.
    pool = ProcessPool("tests.test_pool.misbehave", 1, prefetch=2, max_pending=6)
    pool.start()
    try:
        results = _run(pool, ("echo", 0), ("exit", 9), ("echo", 1), ("echo", 2), ("echo", 3))
        assert results[0] == 0 and results[2:] == [1, 2, 3]
        assert isinstance(results[1], WorkerDied)
        assert pool.deaths == 2
        assert pool.occupancy() == (0, 0, 0)  # nothing left waiting or held
    finally:
        pool.close()


def test_tasks_sent_behind_a_runaway_one_go_to_its_replacement() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 1, task_timeout=0.5, prefetch=3)
    pool.start()
    try:
        slow, *after = _run(pool, ("sleep", 30), ("echo", "a"), ("echo", "b"), ("echo", "c"))
        assert isinstance(slow, TaskTimeout)
        assert after == ["a", "b", "c"]
        assert pool.timeouts == 1
    finally:
        pool.close()


def test_a_task_past_the_memory_cap_fails_alone_and_its_worker_is_replaced() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 1, max_memory_mb=1024, prefetch=2)
    pool.start()
    try:
        (before,) = _run(pool, ("pid", None))
        hog, after, pid = _run(pool, ("hog", 3072), ("echo", "after"), ("pid", None))
        assert isinstance(hog, TaskTooLarge)
        assert after == "after" and pid != before
        assert pool.too_large == 1 and pool.deaths == 0
    finally:
        pool.close()


def test_large_tasks_and_large_results_do_not_block_each_other() -> None:
    # Each task and each answer is larger than a socket's buffer, and the next
    # task is sent while the worker answers the one before: the worker reads
    # its tasks in a thread of their own, so neither side waits for the other.
    pool = ProcessPool("tests.test_pool.misbehave", 1, task_timeout=120, prefetch=2)
    pool.start()
    payloads = [bytes([i]) * (4 * 1024 * 1024) for i in range(4)]
    try:
        assert _run(pool, *(("echo", p) for p in payloads)) == payloads
    finally:
        pool.close()


def test_every_task_is_answered_whatever_the_order_they_finish_in() -> None:
    # Tasks of different lengths over several workers: each caller gets its own
    # answer, none is lost, whichever worker and order they ran in.
    pool = ProcessPool("tests.test_pool.misbehave", 3, prefetch=2, max_pending=5)
    pool.start()
    tasks = [("sleep" if i % 4 == 0 else "echo", 0.05 if i % 4 == 0 else i) for i in range(40)]
    try:
        results = _run(pool, *tasks)
        assert results == [v for _, v in tasks]
        assert pool.deaths == pool.timeouts == 0
    finally:
        pool.close()


def test_tasks_queued_at_close_fail_with_pool_closed_and_no_worker_is_left() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 1, prefetch=2, max_pending=10)
    pool.start()
    pids = pool.worker_pids()
    held_at_close: list[int] = []

    def close() -> None:
        held_at_close.append(pool.occupancy()[2])
        pool.close()

    async def main() -> list[Any]:
        # The first task holds the worker until the pool is closed; the rest queue.
        runs = [asyncio.ensure_future(pool.run(("sleep", 1.0))) for _ in range(6)]
        while pool.occupancy()[2] < 2:  # the worker runs one and holds the next
            await asyncio.sleep(0.05)
        await asyncio.get_running_loop().run_in_executor(None, close)
        return await asyncio.gather(*runs, return_exceptions=True)

    results = asyncio.run(main())
    assert len(results) == 6
    done = [r for r in results if r == 1.0]
    closed = [r for r in results if isinstance(r, PoolClosed)]
    # What the worker held is answered (within the grace); the queued four never run.
    assert len(done) == held_at_close[0] == 2, results
    assert len(closed) == 4, results
    assert not any(_alive(pid) for pid in pids)


def test_a_run_after_close_fails_with_pool_closed() -> None:
    pool = ProcessPool("tests.test_pool.square", 1)
    pool.start()
    assert _run(pool, 3) == [9]
    pool.close()
    [result] = _run(pool, 4)
    assert isinstance(result, PoolClosed)


def _outside_burner() -> int:
    """Start a process that never sleeps and is not ours: a shell starts it and exits.

    (The pool counts its own descendants, a rendering browser say, as no competition.)
    """
    script = f"{shlex.quote(sys.executable)} -c 'while True: pass' >/dev/null 2>&1 & echo $!"
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_spare_workers_run_while_other_processes_compete_and_stop_with_the_pool() -> None:
    # Two processes that never sleep compete for the cores for the whole test;
    # pages keep waiting for the one regular worker, so the spare is started.
    burners = [_outside_burner() for _ in range(2)]
    pool = ProcessPool("tests.test_pool.misbehave", 1, spare_workers=1, max_pending=8)
    try:
        pool.start()
        pids = _run(pool, *[("nap_pid", 0.2)] * 60)
        seen = pool.spares_peak, len(set(pids)), pool.worker_pids()
    finally:
        pool.close()
        for burner in burners:
            with contextlib.suppress(ProcessLookupError):
                os.kill(burner, signal.SIGKILL)
    peak, distinct, live = seen
    assert peak == 1 and distinct == 2  # the pages were shared with the spare
    assert all(pid in set(pids) for pid in live)
    assert not any(_alive(pid) for pid in set(pids))


def test_no_spare_worker_when_none_is_allowed() -> None:
    pool = ProcessPool("tests.test_pool.misbehave", 1, spare_workers=0)
    pool.start()
    try:
        pids = _run(pool, *[("nap_pid", 0.05)] * 20)
        assert len(set(pids)) == 1 and pool.spares_peak == 0
    finally:
        pool.close()


def test_a_wrong_function_path_fails_at_start_up() -> None:
    with pytest.raises((ImportError, AttributeError)):
        ProcessPool("tests.test_pool.no_such_function", 1)


def test_cap_markup_cuts_before_a_tag() -> None:
    body = b"<p>" + b"x" * 100 + b"</p><p>" + b"y" * 100 + b"</p>"
    assert cap_markup(body, 0) == body
    assert cap_markup(body, len(body)) == body
    cut = cap_markup(body, 150)
    assert cut == b"<p>" + b"x" * 100 + b"</p>"


# --- crawls through the pool ---------------------------------------------------------

ARTICLES = ["ai-safety", "blog-post", "de-stadtbaeume", "gov-report", "reef-paper"]
# Fields that differ between any two runs, whatever extraction does. (Each
# run writes into its own directory, so that no state is shared between them.)
VOLATILE = {"fetched_at", "first_failed_at", "drift"}  # the last two carry run times


@pytest.fixture(scope="module")
def pool_sources(tmp_path_factory: pytest.TempPathFactory, page_server: PageServer) -> Path:
    u = page_server.url
    urls = [u(f"/article/{name}") for name in ARTICLES]
    urls += [u("/pdf/findings"), u("/text"), u("/latin1"), u("/login-wall"), u("/empty")]
    urls += [u("/status/404"), u("/big/300"), u("/image.png")]
    path = tmp_path_factory.mktemp("pool") / "sources.txt"
    path.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return path


def _stable(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["url"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in records}


def test_pool_and_in_process_crawls_give_the_same_records(
    tmp_path: Path, pool_sources: Path
) -> None:
    pooled = run_crawl(
        pool_sources, tmp_path / "pool" / "out.jsonl", EXTRACT_WORKERS="2", FULL_TEXT="true"
    )
    inline = run_crawl(
        pool_sources, tmp_path / "inline" / "out.jsonl", EXTRACT_WORKERS="0", FULL_TEXT="true"
    )
    assert pooled.exit_code == 0, pooled.log[-3000:]
    assert inline.exit_code == 0, inline.log[-3000:]
    assert len(pooled.records) == len(pool_sources.read_text().split())
    assert _stable(pooled.records) == _stable(inline.records)
    assert "Extraction in 2 worker process(es)" in pooled.log
    ok = [r for r in pooled.records if r["status"] == "ok" and r["content_type"] == "html"]
    assert len(ok) >= len(ARTICLES) and all(r["text"] for r in ok)


def test_html_cap_applies_in_both_modes(tmp_path: Path, pool_sources: Path) -> None:
    results = [
        run_crawl(
            pool_sources,
            tmp_path / workers / "out.jsonl",
            EXTRACT_WORKERS=workers,
            EXTRACT_MAX_HTML_BYTES="65536",
        )
        for workers in ("1", "0")
    ]
    for result in results:
        assert result.exit_code == 0, result.log[-3000:]
        big = next(r for r in result.records if r["url"].endswith("/big/300"))
        assert big["body_bytes"] == 300 * 1024  # the body as received, not the cut
        # cut once, as it arrives (crawler/fetch/handler.py BodyCapMiddleware), so that the
        # scraper never holds the whole body; extraction then has nothing more to cut
        assert "'fetch/body_cut': 1" in result.log
        assert "extract/html_truncated" not in result.log
    assert _stable(results[0].records) == _stable(results[1].records)


def test_a_page_that_kills_its_worker_still_gets_its_record(
    tmp_path: Path, pool_sources: Path
) -> None:
    result = run_crawl(
        pool_sources,
        tmp_path / "out.jsonl",
        EXTRACT_WORKERS="2",
        EXTRACT_FUNCTION="tests.test_pool.crash_on_marker",
        MAX_ERROR_SHARE="1.0",
    )
    records = result.by_url()
    assert len(result.records) == len(pool_sources.read_text().split()), result.log[-3000:]
    crashed = next(r for url, r in records.items() if url.endswith(CRASH_MARKER))
    assert crashed["status"] == "error" and crashed["error"] == "internal"
    assert "died" in crashed["error_detail"]
    others = [r for url, r in records.items() if not url.endswith(CRASH_MARKER)]
    assert all(r["error"] != "internal" for r in others)
    assert sum(r["status"] == "ok" for r in others) >= len(ARTICLES) - 1
    assert "'extract/worker_deaths': 2" in result.log


def test_the_crawl_process_leaves_the_extractor_to_the_workers() -> None:
    # The item pipelines import small modules of pipelines.extract; the
    # extractor's libraries (megabytes of them) belong to the worker processes.
    # A fresh interpreter, as sys.modules of this one holds them already.
    stages = [
        "crawler.settings",
        "pipelines.identify",
        "pipelines.rot_stage",
        "pipelines.scholarly_stage",
        "pipelines.render_stage",
        "pipelines.extract_stage",
        "pipelines.classify",
        "pipelines.enrich",
        "crawler.incremental.stage",
        "pipelines.validate",
        "crawler.spiders.sources",
        "crawler.commands.crawl",
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {stages!r}: importlib.import_module(name)\n"
        "heavy = {'trafilatura', 'htmldate', 'justext', 'pipelines.extract.core'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "from pipelines.extract import extract, make_preview, Extracted\n"
        "print(extract.__module__, make_preview.__module__, Extracted.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "[]"
    # the package's names still load, on first use
    assert lines[1] == "pipelines.extract.core pipelines.extract.preview Extracted"
