"""Per-source state between runs, in SQLite: validators, hashes, dates and the last good record.

A run reads the previous state read-only and writes a new database beside
it; the new one replaces the old only at the end of a complete run (see
:mod:`crawler.incremental.extension`), so a killed run leaves the old state intact.
SQLite keeps look-ups by URL at a few microseconds with 100,000 sources and
needs no server; on S3 the database travels gzip-compressed.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import secrets
import shutil
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.fetch.urls import has_userinfo

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
    record BLOB,
    extraction TEXT
)
"""
# The state's own facts; `url_key_secret` keys the hashes that stand for
# credential URLs (see StateStore.key), and travels from night to night.
_META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
_SECRET_NAME = "url_key_secret"
#: the prefix of a state key that is a keyed hash, not a URL
HASHED_KEY_PREFIX = "hmac-sha256:"
# Answers of the scholarly registries (arXiv, Crossref), by "<registry>:<id>";
# payload is the parsed metadata as JSON, NULL for "no such work".
_LOOKUP_SCHEMA = """
CREATE TABLE IF NOT EXISTS lookups (
    key TEXT PRIMARY KEY,
    fetched_at TEXT NOT NULL,
    payload TEXT
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
    "extraction",
)
_RECORD = _COLUMNS.index("record")
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

# Reference rot (pipelines/rot_stage.py), added in the state's second version.
# Separate tables, so that state files written before them still open: a
# previous database without them simply knows nothing of rot yet.
_ROT_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS rot_sources (
    url TEXT PRIMARY KEY,
    first_failed_at TEXT,
    failures_in_a_row INTEGER NOT NULL DEFAULT 0,
    baseline_sketch BLOB,
    baseline_at TEXT,
    archive TEXT,
    archive_checked_at TEXT
)
""",
    """
CREATE TABLE IF NOT EXISTS rot_origins (
    origin TEXT PRIMARY KEY,
    probed_at TEXT NOT NULL,
    probe TEXT NOT NULL
)
""",
)
_ROT_COLUMNS = (
    "url",
    "first_failed_at",
    "failures_in_a_row",
    "baseline_sketch",
    "baseline_at",
    "archive",
    "archive_checked_at",
)


@dataclass(slots=True)
class SourceState:
    """What the previous runs knew about one source URL (the URL exactly as given).

    ``url`` is the URL as given; in the database a URL with credentials is
    filed under a keyed hash of it instead (:meth:`StateStore.key`).

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
    #: the extraction fingerprint of the night that made ``record`` (see
    #: :func:`crawler.incremental.extension.extraction_fingerprint`); None in
    #: states written before it was kept, which are never carried forward
    extraction: str | None = None


class StateCorruptError(Exception):
    """The previous state is not a readable state database."""


@dataclass(slots=True)
class RotState:
    """What reference-rot detection remembers of one source URL between runs.

    ``baseline_sketch`` is the bottom-k sketch of the first main text seen
    (not the text); ``archive`` the last archive lookup's answer (a capture
    as the record's ``archive`` object, or None when there was none) made at
    ``archive_checked_at``.
    """

    url: str
    first_failed_at: str | None
    failures_in_a_row: int
    baseline_sketch: bytes | None
    baseline_at: str | None
    archive: dict[str, Any] | None
    archive_checked_at: str | None


@dataclass(slots=True)
class OriginProbe:
    """A soft-404 probe of one origin (``scheme://host:port``): when, and what it answered."""

    origin: str
    probed_at: str
    probe: dict[str, Any]


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
    """Read the previous state, write the next one; nothing is replaced until :meth:`finish`.

    Raises :class:`StateCorruptError` when the previous database cannot be
    read (not SQLite, truncated, without the ``sources`` table).
    """

    def __init__(self, previous: Path | None, working: Path) -> None:
        self._old: sqlite3.Connection | None = None
        secret: str | None = None
        if previous is not None and previous.exists():
            self._old = sqlite3.connect(
                f"file:{previous}?mode=ro", uri=True, check_same_thread=False
            )
            try:
                secret = self._read_previous(self._old)
            except sqlite3.DatabaseError as exc:
                self._old.close()
                self._old = None
                raise StateCorruptError(f"{previous}: {exc}") from exc
        self._select = self._select_list()
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
        self._new.execute(_META_SCHEMA)
        # Kept from night to night so that a credential URL keeps its key;
        # a new state (first night, or a corrupt one set aside) draws a new one.
        self._secret = secret or secrets.token_hex(32)
        self._new.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (_SECRET_NAME, self._secret)
        )
        self._new.execute(_LOOKUP_SCHEMA)
        self._new.execute(_RENDER_HOSTS_SCHEMA)
        self._pending: list[tuple[Any, ...]] = []
        for statement in _ROT_SCHEMA:
            self._new.execute(statement)
        self._rot_pending: list[tuple[Any, ...]] = []
        self._old_tables: frozenset[str] = frozenset()
        if self._old is not None:
            self._old_tables = frozenset(
                row[0] for row in self._old.execute("SELECT name FROM sqlite_master")
            )

    def _select_list(self) -> str:
        """The columns to read from the previous state; NULL for those an older state lacks."""
        if self._old is None:
            return ", ".join(_COLUMNS)
        present = {row[1] for row in self._old.execute("PRAGMA table_info(sources)")}
        return ", ".join(c if c in present else f"NULL AS {c}" for c in _COLUMNS)

    @staticmethod
    def _read_previous(old: sqlite3.Connection) -> str | None:
        """Check that the previous database is readable; its URL-key secret, if it has one."""
        tables = {row[0] for row in old.execute("SELECT name FROM sqlite_master")}
        if "sources" not in tables:
            raise sqlite3.DatabaseError("no sources table")
        old.execute("SELECT url FROM sources LIMIT 1").fetchall()
        if "meta" not in tables:
            return None
        row = old.execute("SELECT value FROM meta WHERE name = ?", (_SECRET_NAME,)).fetchone()
        return str(row[0]) if row and row[0] else None

    def key(self, url: str) -> str:
        """The key a URL is filed under: the URL itself, or for one with credentials a keyed hash.

        The hash (HMAC-SHA256 with the state's own secret) lets a credential
        URL find last night's row without the password ever being stored.
        """
        if not has_userinfo(url):
            return url
        digest = hmac.new(self._secret.encode("ascii"), url.encode("utf-8"), hashlib.sha256)
        return HASHED_KEY_PREFIX + digest.hexdigest()

    def get(self, url: str) -> SourceState | None:
        """Return the previous state of a URL, or None when it was never seen."""
        if self._old is None:
            return None
        try:
            row = self._old.execute(
                f"SELECT {self._select} FROM sources WHERE url = ?", (self.key(url),)
            ).fetchone()
        except sqlite3.DatabaseError:
            # damage deeper in the file than the opening check reads: this
            # source is fetched as new rather than failing
            return None
        if row is None:
            return None
        values = list(row)
        blob = values[_RECORD]
        try:
            values[_RECORD] = json.loads(zlib.decompress(blob)) if blob else None
        except (zlib.error, ValueError):
            values[_RECORD] = None
        values[0] = url
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
                self.key(state.url),
                state.etag,
                state.last_modified,
                state.content_sha256,
                state.first_seen,
                state.last_changed,
                state.checked_at,
                state.status,
                record,
                state.extraction,
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

    def get_lookup(self, key: str) -> tuple[str, Any] | None:
        """A registry answer the previous runs kept: ``(fetched_at, payload)``, or None."""
        if self._old is None:
            return None
        try:
            row = self._old.execute(
                "SELECT fetched_at, payload FROM lookups WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.OperationalError:  # a state written before lookups were kept
            return None
        if row is None:
            return None
        try:
            return str(row[0]), json.loads(row[1]) if row[1] is not None else None
        except ValueError:
            return None

    def put_lookup(self, key: str, fetched_at: str, payload: Any) -> None:
        """Keep a registry answer (``payload`` JSON-able, None for "no such work")."""
        self._new.execute(
            "INSERT OR REPLACE INTO lookups (key, fetched_at, payload) VALUES (?, ?, ?)",
            (
                key,
                fetched_at,
                json.dumps(payload, ensure_ascii=False) if payload is not None else None,
            ),
        )

    def get_rot(self, url: str) -> RotState | None:
        """The rot state the previous run left for a URL (None in a state without it)."""
        if self._old is None or "rot_sources" not in self._old_tables:
            return None
        row = self._old.execute(
            f"SELECT {', '.join(_ROT_COLUMNS)} FROM rot_sources WHERE url = ?", (self.key(url),)
        ).fetchone()
        if row is None:
            return None
        archive = _json_object(row[5])
        return RotState(url, row[1], int(row[2] or 0), row[3], row[4], archive, row[6])

    def put_rot(self, state: RotState) -> None:
        """Record the rot state of a URL for the next run."""
        self._rot_pending.append(
            (
                self.key(state.url),
                state.first_failed_at,
                state.failures_in_a_row,
                state.baseline_sketch,
                state.baseline_at,
                json.dumps(state.archive) if state.archive is not None else None,
                state.archive_checked_at,
            )
        )
        if len(self._rot_pending) >= _BATCH:
            self._flush()

    def get_origin(self, origin: str) -> OriginProbe | None:
        """The soft-404 probe the previous run remembered for an origin."""
        if self._old is None or "rot_origins" not in self._old_tables:
            return None
        row = self._old.execute(
            "SELECT origin, probed_at, probe FROM rot_origins WHERE origin = ?", (origin,)
        ).fetchone()
        probe = _json_object(row[2]) if row is not None else None
        return OriginProbe(row[0], row[1], probe) if row is not None and probe is not None else None

    def put_origin(self, probe: OriginProbe) -> None:
        """Remember an origin's probe for the next run (written at once: one row per origin)."""
        self._new.execute(
            "INSERT OR REPLACE INTO rot_origins (origin, probed_at, probe) VALUES (?, ?, ?)",
            (probe.origin, probe.probed_at, json.dumps(probe.probe, ensure_ascii=False)),
        )

    def _flush(self) -> None:
        if self._rot_pending:
            self._new.executemany(
                f"INSERT OR REPLACE INTO rot_sources ({', '.join(_ROT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_ROT_COLUMNS))})",
                self._rot_pending,
            )
            self._rot_pending.clear()
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


def _json_object(text: Any) -> dict[str, Any] | None:
    """A JSON object stored as text; None when absent or not an object."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_rot(path: Path) -> tuple[dict[str, RotState], dict[str, OriginProbe]]:
    """Load the rot tables of a state database (for tests and inspection)."""
    store = StateStore(path, path.with_name(f".{path.name}.read.tmp"))
    try:
        assert store._old is not None
        if "rot_sources" not in store._old_tables:
            return {}, {}
        urls = [row[0] for row in store._old.execute("SELECT url FROM rot_sources")]
        origins = [row[0] for row in store._old.execute("SELECT origin FROM rot_origins")]
        sources = {url: store.get_rot(url) for url in urls}
        probes = {origin: store.get_origin(origin) for origin in origins}
        return (
            {k: v for k, v in sources.items() if v is not None},
            {k: v for k, v in probes.items() if v is not None},
        )
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
