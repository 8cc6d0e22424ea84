"""Per-source state between runs, in SQLite: validators, hashes, dates and the last good record.

A run reads the previous state read-only and writes a new database beside
it; the new one replaces the old only at the end of a complete run (see
:mod:`crawler.incremental.extension`), so a killed run leaves the old state intact.
SQLite keeps look-ups by URL at a few microseconds with 100,000 sources and
needs no server; on S3 the database travels gzip-compressed.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    content_sha256 TEXT,
    first_seen TEXT NOT NULL,
    last_changed TEXT NOT NULL,
    checked_at TEXT,
    status TEXT NOT NULL,
    record BLOB
)
"""
_COLUMNS = (
    "url",
    "etag",
    "last_modified",
    "content_sha256",
    "first_seen",
    "last_changed",
    "checked_at",
    "status",
    "record",
)
_BATCH = 1000
# Hosts whose pages needed a browser (crawler/render/memory.py): only hosts
# that had a shell are kept, so the table stays small.
_RENDER_HOSTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS render_hosts (
    host TEXT PRIMARY KEY,
    pages INTEGER NOT NULL,
    shells INTEGER NOT NULL,
    last_shell TEXT NOT NULL
)
"""


@dataclass(slots=True)
class SourceState:
    """What the previous runs knew about one source URL (the URL exactly as given).

    ``checked_at`` is when a server last confirmed the content (a 2xx or a
    304); ``record`` is the last record with content (status ok or paywall),
    kept through later failures so that a 304 can carry it forward.
    """

    url: str
    etag: str | None
    last_modified: str | None
    content_sha256: str | None
    first_seen: str
    last_changed: str
    checked_at: str | None
    status: str
    record: dict[str, Any] | None


@dataclass(slots=True)
class RenderHost:
    """A host some of whose HTML pages were JavaScript shells, as of its last night crawled.

    ``pages`` and ``shells`` count that night's HTML pages of the host and
    those the detector called shells; ``last_shell`` is when one last was.
    """

    host: str
    pages: int
    shells: int
    last_shell: str


class StateStore:
    """Read the previous state, write the next one; nothing is replaced until :meth:`finish`."""

    def __init__(self, previous: Path | None, working: Path) -> None:
        self._old: sqlite3.Connection | None = None
        if previous is not None and previous.exists():
            self._old = sqlite3.connect(
                f"file:{previous}?mode=ro", uri=True, check_same_thread=False
            )
        working.unlink(missing_ok=True)
        self.working = working
        # Not used concurrently, but finished from the S3 storage's upload thread.
        self._new = sqlite3.connect(working, check_same_thread=False)
        # The working copy is thrown away unless the run completes, so it
        # needs no journal: this keeps 100,000 writes well under a second.
        # Rows of 1-3 KB pack badly into 4 KB pages (one per page); 16 KB pages
        # halve the file.
        self._new.execute("PRAGMA page_size=16384")
        self._new.execute("PRAGMA journal_mode=OFF")
        self._new.execute("PRAGMA synchronous=OFF")
        self._new.execute(_SCHEMA)
        self._new.execute(_RENDER_HOSTS_SCHEMA)
        self._pending: list[tuple[Any, ...]] = []

    def get(self, url: str) -> SourceState | None:
        """Return the previous state of a URL, or None when it was never seen."""
        if self._old is None:
            return None
        row = self._old.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM sources WHERE url = ?", (url,)
        ).fetchone()
        if row is None:
            return None
        values = list(row)
        values[-1] = json.loads(zlib.decompress(values[-1])) if values[-1] else None
        return SourceState(*values)

    def put(self, state: SourceState) -> None:
        """Record the new state of a URL (written in batches)."""
        # Compressed per row: previews are most of the bytes, and a third of
        # the pages to read and write keeps a 100,000-source night fast.
        record = (
            zlib.compress(json.dumps(state.record, ensure_ascii=False).encode("utf-8"), 1)
            if state.record
            else None
        )
        self._pending.append(
            (
                state.url,
                state.etag,
                state.last_modified,
                state.content_sha256,
                state.first_seen,
                state.last_changed,
                state.checked_at,
                state.status,
                record,
            )
        )
        if len(self._pending) >= _BATCH:
            self._flush()

    def render_host(self, host: str) -> RenderHost | None:
        """The previous runs' memory of a host that had shells, or None."""
        if self._old is None:
            return None
        try:
            row = self._old.execute(
                "SELECT host, pages, shells, last_shell FROM render_hosts WHERE host = ?", (host,)
            ).fetchone()
        except sqlite3.OperationalError:  # a state written before the table existed
            return None
        return RenderHost(*row) if row is not None else None

    def previous_render_hosts(self) -> Iterator[RenderHost]:
        """Every host the previous runs remembered (streamed)."""
        if self._old is None:
            return
        try:
            rows = self._old.execute("SELECT host, pages, shells, last_shell FROM render_hosts")
        except sqlite3.OperationalError:
            return
        for row in rows:
            yield RenderHost(*row)

    def put_render_hosts(self, hosts: Iterable[RenderHost]) -> None:
        """Write this run's memory of hosts with shells into the new state."""
        self._new.executemany(
            "INSERT OR REPLACE INTO render_hosts (host, pages, shells, last_shell) "
            "VALUES (?, ?, ?, ?)",
            ((h.host, h.pages, h.shells, h.last_shell) for h in hosts),
        )

    def _flush(self) -> None:
        if self._pending:
            self._new.executemany(
                f"INSERT OR REPLACE INTO sources ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                self._pending,
            )
            self._pending.clear()

    def finish(self) -> Path:
        """Write what is pending, close both databases and return the new database's path."""
        self._flush()
        self._new.commit()
        self._new.close()
        self.close_previous()
        return self.working

    def close_previous(self) -> None:
        """Close the previous database (it may then be replaced)."""
        if self._old is not None:
            self._old.close()
            self._old = None

    def discard(self) -> None:
        """Drop the new state: the run did not complete."""
        try:
            self._new.close()
        finally:
            self.close_previous()
            self.working.unlink(missing_ok=True)


def read_all(path: Path) -> dict[str, SourceState]:
    """Load a whole state database (for tests and inspection)."""
    store = StateStore(path, path.with_name(f".{path.name}.read.tmp"))
    try:
        assert store._old is not None
        urls = [row[0] for row in store._old.execute("SELECT url FROM sources")]
        found = {url: store.get(url) for url in urls}
        return {url: state for url, state in found.items() if state is not None}
    finally:
        store.discard()


def gzip_file(source: Path, target: Path) -> None:
    """Compress a file (the state travels to S3 as ``state.sqlite.gz``)."""
    with (
        source.open("rb") as src,
        target.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as dst,
    ):
        shutil.copyfileobj(src, dst, 1 << 20)


def gunzip_file(source: Path, target: Path) -> None:
    """Decompress a downloaded state snapshot."""
    with gzip.open(source, "rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
