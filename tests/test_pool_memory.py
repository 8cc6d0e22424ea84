"""The pool's worker set-up and heap trimming, and the extraction worker's lighter imports."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pipelines.pool
from pipelines.pool import ProcessPool, heap_trimmer, set_mmap_threshold

ROOT = Path(__file__).resolve().parent.parent
PAGES = Path(__file__).resolve().parent / "extract_pages"

# --- what the workers run (importable by dotted path) ----------------------------------

#: in a worker: whether the preload module was already imported when the initializer ran
SAW_PRELOAD: list[bool] = []
TRIMS = [0]  # in a worker: how many times the (counting) trimmer was called


def remember_preload() -> None:
    """An initializer: note whether the preload ran before it."""
    SAW_PRELOAD.append("wave" in sys.modules)


def count_trims() -> None:
    """An initializer: make the worker's trimmer a counter (the real one is measured apart)."""

    def counting() -> int:
        TRIMS[0] += 1
        return 0

    pipelines.pool.heap_trimmer = lambda: counting


def report(arg: Any) -> Any:
    """The task: what the initializers saw, whether the preload happened, trims so far."""
    return SAW_PRELOAD, "wave" in sys.modules, TRIMS[0]


def _run(pool: ProcessPool, *args: Any) -> list[Any]:
    async def main() -> list[Any]:
        results = []
        for a in args:  # one after the other: the trim counts are read in order
            results.append(await pool.run(a))
        return results

    return asyncio.run(main())


def test_the_initializer_runs_once_in_each_worker_before_its_preload_imports() -> None:
    pool = ProcessPool(
        "tests.test_pool_memory.report",
        1,
        initializer="tests.test_pool_memory.remember_preload",
        preload=("wave",),
        max_tasks_per_worker=2,
    )
    pool.start()
    try:
        results = _run(pool, *range(5))
    finally:
        pool.close()
    # Five tasks, two per worker: three workers, each initialised once, before the preload.
    assert pool.started_workers == 3
    assert [r[:2] for r in results] == [([False], True)] * 5


def test_a_worker_trims_its_heap_only_after_tasks_at_least_trim_after_bytes() -> None:
    pool = ProcessPool(
        "tests.test_pool_memory.report",
        1,
        initializer="tests.test_pool_memory.count_trims",
        trim_after_bytes=10_000,
    )
    pool.start()
    try:
        small, large = b"x" * 100, b"x" * 20_000
        counts = [r[2] for r in _run(pool, small, large, small, large, large)]
    finally:
        pool.close()
    # The count a task reports is read before that task's own trim.
    assert counts == [0, 0, 1, 1, 2]


def test_no_trim_when_trim_after_bytes_is_zero() -> None:
    pool = ProcessPool(
        "tests.test_pool_memory.report", 1, initializer="tests.test_pool_memory.count_trims"
    )
    pool.start()
    try:
        counts = [r[2] for r in _run(pool, b"x" * 50_000, b"x" * 50_000, b"")]
    finally:
        pool.close()
    assert counts == [0, 0, 0]


def test_the_heap_trimmer_is_glibc_malloc_trim_here() -> None:
    trim = heap_trimmer()
    assert trim is not None  # Linux with glibc, as the project's machines are
    assert trim() in (0, 1)  # malloc_trim: 1 when memory was released, else 0


# --- the extraction worker's set-up ----------------------------------------------------

_PROBE = """
import json, sys
from datetime import datetime, timezone
from pathlib import Path
if sys.argv[1] == "prepared":
    from pipelines.extract.job import prepare_worker
    prepare_worker()
import lxml.html
import pipelines.extract.core
from extruct.jsonld import JsonLdExtractor
from trafilatura.external import try_justext
from pipelines.extract.job import ExtractJob, content_fields
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))
out = {"heavy": heavy, "pages": {}, "justext": [], "jsonld": None}
for path in sorted(Path(sys.argv[3]).glob("*.html")):
    body = path.read_bytes()
    job = ExtractJob(body=body, headers={"content-type": "text/html"},
                     url="https://example.org/" + path.stem, mime="text/html",
                     fetched_at=datetime(2026, 12, 1, tzinfo=timezone.utc),
                     preview_chars=3000, full_text=True)
    out["pages"][path.name] = content_fields(job).fields
    # jusText with no language known: the all-languages stoplist, twice (the second
    # call takes the stoplist cached by the first)
    for _ in range(2):
        body_tree = try_justext(lxml.html.fromstring(body), None, None)
        out["justext"].append(lxml.html.tostring(body_tree, encoding="unicode"))
# extruct's lenient JSON-LD reading (a trailing comma, a comment)
lenient = '<script type="application/ld+json">{"@type": "Article", // x\\n "name": "A",}</script>'
out["jsonld"] = JsonLdExtractor().extract(lenient)
print(json.dumps(out, sort_keys=True, default=str))
"""

HEAVY = ["rdflib", "pyRdfa", "mf2py", "bs4", "html5lib", "requests"]


def _probe(mode: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, json.dumps(HEAVY), str(PAGES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_prepared_worker_extracts_the_same_without_extruct_s_other_syntaxes() -> None:
    plain, prepared = _probe("plain"), _probe("prepared")
    # The syntaxes extruct's package __init__ pulls in are loaded without the set-up...
    assert plain["heavy"] == sorted(HEAVY)
    # ...and not with it.
    assert prepared["heavy"] == []
    assert len(plain["pages"]) >= 5
    assert prepared["pages"] == plain["pages"]
    assert prepared["justext"] == plain["justext"] and any(plain["justext"])
    assert prepared["jsonld"] == plain["jsonld"] == [{"@type": "Article", "name": "A"}]


_MAPPED = """
import ctypes, sys
from pipelines.pool import set_mmap_threshold

class MallInfo2(ctypes.Structure):  # glibc >= 2.33
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "fixed":
    assert set_mmap_threshold(128 * 1024)
# A freed 4 MB block raises glibc's own threshold above 4 MB; the next block of
# that size is mapped apart only where the threshold is fixed.
first = bytearray(4 * 1024 * 1024)
del first
before = libc.mallinfo2().hblks
second = bytearray(4 * 1024 * 1024)
print(libc.mallinfo2().hblks - before)
"""


def _mapped_blocks(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _MAPPED, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout)


def test_a_fixed_mmap_threshold_keeps_large_blocks_out_of_the_heap() -> None:
    assert _mapped_blocks("default") == 0  # glibc's moving threshold: the block is in the heap
    assert _mapped_blocks("fixed") == 1  # mapped apart, so returned to the kernel when freed
    assert not set_mmap_threshold(0)  # 0: glibc's default, nothing set
