"""Incremental re-crawls: the run's state store and the conditional-request middleware.

Settings:

* ``INCREMENTAL`` (default True): keep per-source state between runs and
  send conditional requests;
* ``STATE_URI`` (default: ``state.sqlite`` beside a local output,
  ``state.sqlite.gz`` beside an ``s3://`` one): where the state lives;
* ``REFETCH_AFTER_DAYS`` (default 0, every source is revalidated every
  night): sources whose content a server confirmed fewer than this many days
  ago are not requested at all; their previous record is carried forward.

The state is replaced only by :meth:`IncrementalState.commit`, which the
feed storage calls once the run's output is known to be complete.
"""

from __future__ import annotations

import logging
import os
import posixpath
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.fetch.urls import redact_url
from crawler.incremental.store import (
    SourceState,
    StateCorruptError,
    StateStore,
    gunzip_file,
    gzip_file,
)
from crawler.publish.spool import STATE_NAME, spool_path
from crawler.s3 import client_from_settings, download_file, exists, is_s3
from crawler.timeutil import utc_now

logger = logging.getLogger(__name__)

CONTENT_STATUSES = frozenset({"ok", "paywall"})
LOCAL_STATE_NAME = "state.sqlite"


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


class _PendingRows(dict[str, SourceState]):
    """State rows by source URL, found again by the URL the exported record shows.

    The record's ``url`` has no credentials (:func:`redact_url`), the entry's
    may: both name the same row.
    """

    def __setitem__(self, url: str, row: SourceState) -> None:
        super().__setitem__(redact_url(url), row)

    def pop(self, url: str, *default: Any) -> Any:
        """Remove and return the row of ``url`` (either spelling)."""
        return super().pop(redact_url(url), *default)


class IncrementalState:
    """Extension: opens the previous state at start, collects the new one, swaps it on commit."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("INCREMENTAL", True):
            raise NotConfigured("INCREMENTAL is off")
        self.crawler = crawler
        self.settings = settings
        self.refetch_after = timedelta(days=settings.getfloat("REFETCH_AFTER_DAYS", 0))
        self.now = utc_now()
        self.store: StateStore | None = None
        self.uri: str | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        #: URLs answered from the state without any request (REFETCH_AFTER_DAYS)
        self.skipped: set[str] = set()
        #: new state rows waiting for their exported record (see item_scraped)
        self.pending: dict[str, SourceState] = _PendingRows()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Register on the crawler so that the middleware, pipeline and storage find it."""
        ext = cls(crawler)
        crawler.incremental_state = ext  # type: ignore[attr-defined]
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        # Not spider_closed: the feed storage commits during the feed exporter's
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
        spooled = spool_path(self.settings.get("SPOOL_DIR", "output/spool/"), uri)
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

    def previous(self, url: str) -> SourceState | None:
        """The state the previous runs left for a URL."""
        return self.store.get(url) if self.store is not None else None

    def fresh_enough(self, state: SourceState) -> bool:
        """Whether a source may be carried forward without a request (``REFETCH_AFTER_DAYS``)."""
        if not self.refetch_after or state.record is None or state.status not in CONTENT_STATUSES:
            return False
        checked = parse_time(state.checked_at)
        return checked is not None and self.now - checked < self.refetch_after

    def item_scraped(self, item: Any) -> None:
        """Complete the pending state row with the exported record and store it."""
        if self.store is None or not isinstance(item, dict):
            return
        row = self.pending.pop(item.get("url") or "", None)
        if row is None:
            return
        if item.get("status") in CONTENT_STATUSES:
            row.record = dict(item)
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
        target = spool_path(self.settings.get("SPOOL_DIR", "output/spool/"), self.uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.{os.getpid()}.part")
        gzip_file(working, part)
        os.replace(part, target)
        return str(target)

    def finished(self) -> None:
        """Drop the working state of a run that did not commit it."""
        if self.store is not None:
            self.store.discard()
            self.store = None
            logger.info("State %s left unchanged (the run did not complete)", self.uri)
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
