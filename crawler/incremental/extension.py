"""Incremental re-crawls: the run's state store and the conditional-request middleware.

Settings:

* ``INCREMENTAL`` (default True): keep per-source state between runs and
  send conditional requests;
* ``STATE_URI`` (default: ``state.sqlite`` beside a local output,
  ``state.sqlite.gz`` beside an ``s3://`` one): where the state lives;
* ``REFETCH_AFTER_DAYS`` (default 0, every source is revalidated every
  night): sources whose content a server confirmed fewer than this many days
  ago are not requested at all; their previous record is carried forward.

The state is replaced only by :meth:`IncrementalState.commit`, which runs
on the publish sequence's ``output_published`` signal: once the run's output
is in place and healthy, before the ``latest`` pointer moves.

Every state row, look-up and pending record is keyed by :func:`state_key`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import posixpath
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings

from crawler.incremental.store import (
    SourceState,
    StateCorruptError,
    StateStore,
    gunzip_file,
    gzip_file,
)
from crawler.publish.signals import output_published
from crawler.publish.spool import STATE_NAME, spool_path
from crawler.s3 import client_from_settings, download_file, exists, is_s3
from crawler.sources import SourceEntry
from crawler.timeutil import utc_now

logger = logging.getLogger(__name__)

CONTENT_STATUSES = frozenset({"ok", "paywall"})
LOCAL_STATE_NAME = "state.sqlite"
#: settings that change what extraction writes into a record: a record made
#: under other values is not carried forward but extracted again
EXTRACTION_SETTINGS = ("FULL_TEXT", "PREVIEW_CHARS", "EXTRACT_THOROUGH", "EXTRACT_MAX_HTML_BYTES")
PROJECT_DISTRIBUTION = "sources-crawler"


def project_version() -> str:
    """The installed project's version (extraction rules change with it)."""
    try:
        return importlib.metadata.version(PROJECT_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def extraction_fingerprint(settings: BaseSettings) -> str:
    """A short hash of the extraction settings and the project's version.

    Kept with each state row: a night whose fingerprint differs from the
    one a record was made with extracts the page again instead of carrying
    that record forward.
    """
    values = {
        "FULL_TEXT": settings.getbool("FULL_TEXT"),
        "PREVIEW_CHARS": settings.getint("PREVIEW_CHARS"),
        "EXTRACT_THOROUGH": settings.getbool("EXTRACT_THOROUGH"),
        "EXTRACT_MAX_HTML_BYTES": settings.getint("EXTRACT_MAX_HTML_BYTES"),
        "version": project_version(),
    }
    assert set(values) - {"version"} == set(EXTRACTION_SETTINGS)
    text = json.dumps(values, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def state_key(entry: SourceEntry) -> str | None:
    """The one key of a source in the incremental room (store rows, look-ups, pending rows).

    None when the entry has no URL (it has no state). Today it is the URL as
    given, credentials included; the state file is the operator's own.
    """
    return entry.url or None


def export_key(record: Mapping[str, Any]) -> tuple[str, str]:
    """What joins a record in the pipelines to the same record once exported.

    Not a key of the source (see :func:`state_key`): the exported record
    no longer shows the URL as given (credentials are stripped), so the
    pending row waits under identity fields both forms of the record share.
    """
    return str(record.get("resource_id") or ""), str(record.get("url") or "")


def get_state(crawler: Crawler) -> IncrementalState | None:
    """The run's incremental state, when incremental crawling is on and the store opened."""
    state = getattr(crawler, "incremental_state", None)
    return state if isinstance(state, IncrementalState) and state.store is not None else None


def output_dir_uri(settings: Any, spider_name: str) -> str | None:
    """The directory (or ``s3://`` prefix) of the run's feed, from ``FEEDS``."""
    feeds = settings.getdict("FEEDS")
    if not feeds:
        return None
    template = str(next(iter(feeds)))
    try:
        uri = template % {"name": spider_name, "time": "t", "batch_id": 1, "batch_time": "t"}
    except (KeyError, ValueError, TypeError):
        uri = template
    if is_s3(uri):
        return posixpath.dirname(uri)
    return os.path.dirname(uri) or "."


def parse_time(text: str | None) -> datetime | None:
    """Read an ISO 8601 ``…Z`` timestamp; None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class IncrementalState:
    """Extension: opens the previous state at start, collects the new one, swaps it on commit."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("INCREMENTAL"):
            raise NotConfigured("INCREMENTAL is off")
        self.crawler = crawler
        self.settings = settings
        self.refetch_after = timedelta(days=settings.getfloat("REFETCH_AFTER_DAYS"))
        #: this night's extraction fingerprint, stored with the records it makes
        self.fingerprint = extraction_fingerprint(settings)
        self.now = utc_now()
        self.store: StateStore | None = None
        self.uri: str | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        #: state keys answered from the state without any request (REFETCH_AFTER_DAYS)
        self.skipped: set[str] = set()
        #: new state rows waiting for their exported record, by :func:`export_key`
        self.pending: dict[tuple[str, str], SourceState] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Register on the crawler so that the middleware, pipeline and storage find it."""
        ext = cls(crawler)
        crawler.incremental_state = ext  # type: ignore[attr-defined]
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.output_published, signal=output_published)
        # Not spider_closed: the feed storage publishes during the feed exporter's
        # own spider_closed handler, which may run after ours.
        crawler.signals.connect(ext.finished, signal=signals.feed_exporter_closed)
        crawler.signals.connect(ext.finished, signal=signals.engine_stopped)
        return ext

    # --- opening ----------------------------------------------------------

    def spider_opened(self, spider: Any) -> None:
        """Open the previous state and a fresh working database."""
        given = self.settings.get("STATE_URI")
        directory = output_dir_uri(self.settings, spider.name)
        if given:
            self.uri = str(given)
        elif directory is None:
            logger.warning("No output configured: incremental state is off")
            return
        elif is_s3(directory):
            self.uri = f"{directory}/{STATE_NAME}"
        else:
            self.uri = os.path.join(directory, LOCAL_STATE_NAME)
        try:
            self.store = self._open(self.uri)
        except Exception as exc:
            # Without its state a run is still correct, only not incremental.
            logger.error("Cannot open the state %s (%s): every source is fetched", self.uri, exc)
            self.store = None
            return
        logger.info("Incremental state: %s", self.uri)

    def _open(self, uri: str) -> StateStore:
        if not is_s3(uri):
            path = Path(uri)
            path.parent.mkdir(parents=True, exist_ok=True)
            working = path.with_name(f".{path.name}.{os.getpid()}.work")
            for stale in path.parent.glob(f".{path.name}.*.work"):
                stale.unlink(missing_ok=True)  # left by a killed run (we hold the lock)
            try:
                return StateStore(path, working)
            except StateCorruptError as exc:
                return self._start_afresh(exc, path, working)
        self._tmpdir = tempfile.TemporaryDirectory(prefix="sources-state-")
        tmp = Path(self._tmpdir.name)
        snapshot = tmp / "previous.sqlite.gz"
        spooled = spool_path(self.settings.get("SPOOL_DIR"), uri)
        if spooled.exists():  # newer than S3's copy: its upload failed
            snapshot = spooled
        else:
            client = client_from_settings(self.settings)
            if exists(client, uri):
                download_file(client, uri, snapshot)
            else:
                snapshot = tmp / "absent"
        previous = tmp / "previous.sqlite"
        try:
            if snapshot.exists():
                gunzip_file(snapshot, previous)
            return StateStore(previous, tmp / "next.sqlite")
        except (StateCorruptError, OSError, EOFError) as exc:  # gzip errors are OSError
            # S3's copy is replaced by this run's at its end; nothing to move aside.
            return self._start_afresh(exc, None, tmp / "next.sqlite")

    def _start_afresh(self, exc: Exception, path: Path | None, working: Path) -> StateStore:
        """A corrupt previous state: set it aside and go on as a first night (one warning)."""
        aside = None
        if path is not None:
            stamp = self.now.strftime("%Y-%m-%dT%H-%M-%SZ")
            aside = path.with_name(f"{path.name}.corrupt-{stamp}")
            os.replace(path, aside)
        logger.warning(
            "The state %s cannot be read (%s); %s this run starts it afresh (every source "
            "is fetched as on a first night)",
            self.uri,
            exc,
            f"it was moved to {aside};" if aside else "",
        )
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("ingest/state_corrupt", str(aside or self.uri))
        return StateStore(None, working)

    # --- during the run -------------------------------------------------------

    def previous(self, key: str) -> SourceState | None:
        """The state the previous runs left for a source (by :func:`state_key`)."""
        return self.store.get(key) if self.store is not None else None

    def reusable(self, state: SourceState) -> bool:
        """Whether the state's record was extracted as this night would (same fingerprint)."""
        return state.record is not None and state.extraction == self.fingerprint

    def fresh_enough(self, state: SourceState) -> bool:
        """Whether a source may be carried forward without a request (``REFETCH_AFTER_DAYS``)."""
        if not self.refetch_after or state.status not in CONTENT_STATUSES:
            return False
        if not self.reusable(state):
            return False
        checked = parse_time(state.checked_at)
        return checked is not None and self.now - checked < self.refetch_after

    def item_scraped(self, item: Any) -> None:
        """Complete the pending state row with the exported record and store it."""
        if self.store is None:
            return
        # The exported record is a plain dict of JSON values (the validate
        # stage's model_dump), which the store serialises at once: a shallow
        # copy is all it needs. ItemAdapter.asdict would walk every nested
        # value asking each adapter class whether it is an item.
        if isinstance(item, dict):
            record: Mapping[str, Any] = item
        elif ItemAdapter.is_item(item):
            record = ItemAdapter(item).asdict()
        else:
            return
        row = self.pending.pop(export_key(record), None)
        if row is None:
            return
        if record.get("status") in CONTENT_STATUSES:
            row.record = dict(record)
        self.store.put(row)

    # --- the end --------------------------------------------------------------

    def commit(self) -> str | None:
        """Make this run's state the current one; return where it went (a local path).

        For an ``s3://`` state the compressed snapshot is written to the spool,
        from which the feed storage uploads it after the output.
        """
        if self.store is None or self.uri is None:
            return None
        working = self.store.finish()
        self.store = None
        if not is_s3(self.uri):
            os.replace(working, self.uri)
            return self.uri
        target = spool_path(self.settings.get("SPOOL_DIR"), self.uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.{os.getpid()}.part")
        gzip_file(working, part)
        os.replace(part, target)
        return str(target)

    def output_published(self, target: Path, manifest: dict[str, Any]) -> None:
        """Commit the state: the night's output is in place (the ``output_published`` signal)."""
        saved = self.commit()
        if saved is not None:
            logger.info("State saved to %s", saved)

    def finished(self) -> None:
        """Drop the working state of a run that did not commit it."""
        if self.store is not None:
            self.store.discard()
            self.store = None
            logger.info("State %s left unchanged (the run did not complete)", self.uri)
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
