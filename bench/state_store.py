"""Time the incremental state store at scale: ``python bench/state_store.py [N] [PREVIEW_CHARS]``.

Writes N rows with records of realistic size (a preview of PREVIEW_CHARS
characters), swaps them in as the previous state, looks every URL up as a
run does, writes the next state, and gzips/gunzips it as the S3 copy is.
"""

from __future__ import annotations

import hashlib
import random
import string
import sys
import tempfile
import time
from pathlib import Path

from crawler.incremental.store import SourceState, StateStore, gunzip_file, gzip_file

VOCABULARY = [
    "".join(random.Random(k).choices(string.ascii_lowercase, k=2 + k % 8)) for k in range(3000)
]


def _record(i: int, preview_chars: int, rng: random.Random) -> dict[str, object]:
    # words drawn from a fixed vocabulary compress like prose, unlike random letters
    words = " ".join(rng.choices(VOCABULARY, k=preview_chars // 5))[:preview_chars]
    url = f"https://site{i % 5000}.example.org/articles/{i}"
    return {
        "schema_version": "1",
        "resource_id": hashlib.sha256(url.encode()).hexdigest()[:16],
        "url": url,
        "final_url": url,
        "status": "ok",
        "http_status": 200,
        "title": f"Article number {i}",
        "authors": ["A. Writer"],
        "preview": words,
        "content_sha256": hashlib.sha256(words.encode()).hexdigest(),
        "source": {"type": "web", "tags": ["ai"]},
    }


def main(n: int, preview_chars: int) -> None:
    """Run the benchmark and print one line per phase."""
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        first = root / "state.sqlite"
        records = [_record(i, preview_chars, rng) for i in range(n)]
        t = time.perf_counter()
        store = StateStore(None, first)
        for r in records:
            store.put(
                SourceState(
                    url=str(r["url"]),
                    etag='"abc"',
                    last_modified=None,
                    content_sha256=str(r["content_sha256"]),
                    first_seen="2026-11-28T02:00:00Z",
                    last_changed="2026-11-28T02:00:00Z",
                    checked_at="2026-11-28T02:00:00Z",
                    status="ok",
                    record=r,
                )
            )
        store.finish()
        print(f"write {n} rows:            {time.perf_counter() - t:6.2f} s")
        print(f"database size:             {first.stat().st_size / 1e6:6.1f} MB")
        t = time.perf_counter()
        store = StateStore(first, root / "next.sqlite")
        urls = [str(r["url"]) for r in records]
        rng.shuffle(urls)
        for url in urls:
            previous = store.get(url)
            assert previous is not None
            store.put(previous)
        store.finish()
        print(f"look up + rewrite {n} rows: {time.perf_counter() - t:6.2f} s")
        t = time.perf_counter()
        gzip_file(root / "next.sqlite", root / "state.sqlite.gz")
        print(
            f"gzip for S3:               {time.perf_counter() - t:6.2f} s "
            f"({(root / 'state.sqlite.gz').stat().st_size / 1e6:.1f} MB)"
        )
        t = time.perf_counter()
        gunzip_file(root / "state.sqlite.gz", root / "back.sqlite")
        print(f"gunzip:                    {time.perf_counter() - t:6.2f} s")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 3000,
    )
