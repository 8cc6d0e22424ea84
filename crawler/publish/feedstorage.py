"""Local feed storage that publishes a complete file or nothing.

Scrapy's own file storage writes straight to the final path, so a crawl that
dies midway leaves half a file where readers look. This storage writes to a
hidden ``.part`` file beside the target, and on close checks that the run
produced one record per unique source; only then does it fsync, rename the
file into place and write the manifest next to it. An incomplete run raises,
which Scrapy counts as a failed export and our ``crawl`` command turns into a
non-zero exit.

``S3FeedStorage`` does the same for ``s3://`` URIs with the spool as its
local side: the finished file, its manifest, the new state and the
``latest.json`` pointer are written under ``SPOOL_DIR/<bucket>/<key>`` and
uploaded by name, in that order, with retries. Scrapy's own S3 storage
uploads a temporary file that boto3 closes (and so deletes) on failure;
here a failed upload leaves the finished files in the spool for the next
run, and the run exits non-zero.

A complete run whose share of ``error`` records is above ``MAX_ERROR_SHARE``
(or which has no record at all) is published with ``"healthy": false`` in
its manifest, but neither the ``latest`` pointer nor the state moves.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Self

from scrapy.crawler import Crawler
from scrapy.spiders import Spider
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from w3lib.url import file_uri_to_path

from crawler.publish.manifest import make_shareable
from crawler.publish.sequence import (
    IncompleteRunError,
    Publication,
    Published,
    PublishFailedError,
    UploadFailedError,
    completeness_problem,
    publish,
    upload_spool,
)
from crawler.publish.spool import spool_path
from crawler.s3 import split_s3
from crawler.timeutil import iso_z, utc_now

logger = logging.getLogger(__name__)

PART_SUFFIX = ".part"
#: the stat naming a finished output kept after its publication failed, for the run summary
KEPT_STAT = "ingest/kept_output"

__all__ = [
    "AtomicFileFeedStorage",
    "IncompleteRunError",
    "S3FeedStorage",
    "UploadFailedError",
    "uri_params",
]


def uri_params(params: dict[str, Any], spider: Spider) -> dict[str, Any]:
    """Feed URI parameters: ``%(time)s`` as ``2026-11-29T02-00-00Z`` (no ``+``, no ``:``)."""
    params["time"] = iso_z(utc_now()).replace(":", "-")
    return params


class AtomicFileFeedStorage:
    """Feed storage for local paths: write aside, publish on a complete run."""

    def __init__(
        self,
        uri: str,
        *,
        feed_options: dict[str, Any] | None = None,
        crawler: Crawler | None = None,
    ) -> None:
        self.path = Path(file_uri_to_path(uri) if uri.startswith("file:") else uri)
        self.crawler = crawler
        self._part: Path | None = None

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> Self:
        """Build the storage with access to the run's stats."""
        return cls(uri, feed_options=feed_options, crawler=crawler)

    def open(self, spider: Spider) -> IO[bytes]:
        """Open a hidden part file beside the final path."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_parts(self.path.parent)
        fd, part = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.{os.getpid()}.", suffix=PART_SUFFIX
        )
        self._part = Path(part)
        make_shareable(part)
        return os.fdopen(fd, "w+b")

    def store(self, file: IO[bytes]) -> Deferred[None] | None:
        """Publish the file and its manifest, or discard it when the run is incomplete."""
        self._publish(file, self.path, output=str(self.path))
        return None

    def _publish(self, file: IO[bytes], target: Path, *, output: str) -> bool:
        """Run the publish sequence on the part file; return whether the night is healthy.

        A healthy night sends ``output_published`` (the incremental state
        commits on it) and then moves ``latest.json`` beside ``target``.
        """
        assert self._part is not None and self.crawler is not None
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        try:
            published = self._run_sequence(target, output, stats, file)
        except PublishFailedError as exc:
            if self.crawler.stats:
                self.crawler.stats.set_value(KEPT_STAT, str(exc.kept))
            raise
        if self.crawler.stats:
            self.crawler.stats.set_value("ingest/output", output)
            if published.health_problem:
                self.crawler.stats.set_value("ingest/unhealthy", published.health_problem)
        return published.health_problem is None

    def _run_sequence(
        self, target: Path, output: str, stats: dict[str, Any], file: IO[bytes]
    ) -> Published:
        assert self._part is not None and self.crawler is not None
        return publish(
            Publication(
                part=self._part,
                target=target,
                output=output,
                stats=stats,
                incomplete=completeness_problem(stats),
                max_error_share=self.crawler.settings.getfloat("MAX_ERROR_SHARE"),
                signals=self.crawler.signals,
            ),
            file,
        )


class S3FeedStorage(AtomicFileFeedStorage):
    """Feed storage for ``s3://`` URIs: finish in the spool, then upload by name with retries.

    Settings: ``SPOOL_DIR``, ``S3_UPLOAD_ATTEMPTS``, ``S3_UPLOAD_BACKOFF``
    (seconds before the first retry, doubled after each), and the usual
    ``AWS_*`` settings.
    """

    def __init__(
        self,
        uri: str,
        *,
        feed_options: dict[str, Any] | None = None,
        crawler: Crawler | None = None,
    ) -> None:
        assert crawler is not None
        split_s3(uri)  # fail early on a malformed URI
        self.uri = uri
        self.spool_dir = str(crawler.settings.get("SPOOL_DIR"))
        super().__init__(
            str(spool_path(self.spool_dir, uri)), feed_options=feed_options, crawler=crawler
        )

    def store(self, file: IO[bytes]) -> Deferred[None]:
        """Finish and upload in a thread: retries sleep, and the reactor must not."""
        return deferToThread(self._store_in_thread, file)

    def _store_in_thread(self, file: IO[bytes]) -> None:
        assert self.crawler is not None
        self._publish(file, self.path, output=self.uri)
        try:
            upload_spool(self.spool_dir, self.crawler.settings, uri=self.uri, kept=self.path)
        except UploadFailedError as exc:
            if self.crawler.stats:
                self.crawler.stats.set_value("ingest/spooled", [str(p) for p in exc.left])
                self.crawler.stats.set_value("ingest/output", str(self.path))
            raise


def _remove_stale_parts(directory: Path) -> None:
    """Delete part files left by crawls that were killed (their process is gone)."""
    for part in directory.glob(f".*{PART_SUFFIX}"):
        pieces = part.name.split(".")  # .<name>.<pid>.<random>.part
        pid_text = pieces[-3] if len(pieces) >= 4 else ""
        if pid_text.isdigit() and _alive(int(pid_text)):
            continue
        part.unlink(missing_ok=True)
        logger.info("Removed %s, left by an interrupted run", part)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
