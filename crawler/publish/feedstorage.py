"""Local feed storage that publishes a complete file or nothing.

Scrapy's own file storage writes straight to the final path, so a crawl that
dies midway leaves half a file where readers look. This storage writes to a
hidden ``.part`` file beside the target, and on close checks that the run
produced one record per unique source; only then does it fsync, rename the
file into place and write the manifest next to it. An incomplete run raises,
which Scrapy counts as a failed export and our ``crawl`` command turns into a
non-zero exit. A complete output whose rename into place fails is kept as
``<name>.<pid>.unpublished`` beside the target (stat ``ingest/kept_output``,
named in the run summary) instead of being thrown away.

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

from crawler.incremental.extension import get_state
from crawler.publish.manifest import (
    build_manifest,
    latest_pointer,
    make_shareable,
    manifest_path,
    sha256_of,
    write_json_atomically,
)
from crawler.publish.spool import LATEST_NAME, flush, spool_path
from crawler.s3 import client_from_settings, split_s3
from crawler.timeutil import iso_z, utc_now

logger = logging.getLogger(__name__)

PART_SUFFIX = ".part"
#: a finished output whose publication failed: ``<name>.<pid>.unpublished``
UNPUBLISHED_SUFFIX = ".unpublished"
#: the stat naming that file, for the run summary
KEPT_STAT = "ingest/kept_output"


class IncompleteRunError(RuntimeError):
    """The run did not produce one record per source; nothing was published."""


class PublishFailedError(RuntimeError):
    """The output is complete but could not be moved into place; the finished file is kept."""


class UploadFailedError(RuntimeError):
    """The output is complete but could not be uploaded; it waits in the spool."""


def uri_params(params: dict[str, Any], spider: Spider) -> dict[str, Any]:
    """Feed URI parameters: ``%(time)s`` as ``2026-11-29T02-00-00Z`` (no ``+``, no ``:``)."""
    params["time"] = iso_z(utc_now()).replace(":", "-")
    return params


def completeness_problem(stats: dict[str, Any]) -> str | None:
    """Return why the run's output is not complete, or None when it is."""
    if stats.get("ingest/failure"):
        return f"the run failed ({stats.get('ingest/failure_detail') or stats['ingest/failure']})"
    if not stats.get("ingest/sources_complete"):
        return "the sources list was not read to its end (the crawl was stopped early)"
    expected = stats.get("ingest/entries_unique", 0)
    written = stats.get("ingest/records", 0)
    if written != expected:
        return f"{written} records written for {expected} unique source entries"
    return None


def health_problem(stats: dict[str, Any], max_error_share: float) -> str | None:
    """Return why a complete run looks broken (no records, too many errors), or None."""
    records = int(stats.get("ingest/records", 0))
    if records == 0:
        return "the run produced no records"
    errors = int(stats.get("ingest/records/status/error", 0))
    if errors / records > max_error_share:
        return (
            f"{errors} of {records} records are errors "
            f"({errors / records:.0%} > MAX_ERROR_SHARE {max_error_share:.0%})"
        )
    return None


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
        """Rename the part file to ``target``, write its manifest; return whether it is healthy.

        When the run is healthy the state is committed and ``latest.json`` is
        written beside ``target``, in that order: the pointer comes last.
        """
        assert self._part is not None and self.crawler is not None
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        problem = completeness_problem(stats)
        keep_part = False  # set when a finished output could not be moved into place
        try:
            if problem:
                raise IncompleteRunError(f"output not written to {output}: {problem}")
            unhealthy = health_problem(
                stats, self.crawler.settings.getfloat("MAX_ERROR_SHARE", 0.5)
            )
            file.flush()
            os.fsync(file.fileno())
            digest = sha256_of(file)
            size = os.fstat(file.fileno()).st_size
            file.close()
            try:
                os.replace(self._part, target)
            except OSError as exc:
                keep_part = True
                kept = self._keep_finished(target)
                raise PublishFailedError(
                    f"output not published to {output}: {exc.strerror or exc}; "
                    f"the finished file is kept at {kept}"
                ) from exc
            _fsync_dir(target.parent)
            manifest = build_manifest(
                stats, output=output, sha256=digest, size=size, finished_at=iso_z(utc_now())
            )
            manifest["healthy"] = unhealthy is None
            manifest["health_problem"] = unhealthy
            write_json_atomically(manifest_path(target), manifest)
            if self.crawler.stats:
                self.crawler.stats.set_value("ingest/output", output)
            logger.info("Published %s (%d records, sha256 %s)", output, manifest["records"], digest)
            if unhealthy:
                if self.crawler.stats:
                    self.crawler.stats.set_value("ingest/unhealthy", unhealthy)
                logger.error(
                    "Unhealthy run: %s. The latest pointer and the state were not moved.",
                    unhealthy,
                )
                return False
            state = get_state(self.crawler)
            if state is not None:
                logger.info("State saved to %s", state.commit())
            write_json_atomically(target.parent / LATEST_NAME, latest_pointer(manifest, target))
            return True
        finally:
            if not file.closed:
                file.close()
            if not keep_part:
                self._part.unlink(missing_ok=True)

    def _keep_finished(self, target: Path) -> Path:
        """Give the finished part file of a failed publication a name no later run removes.

        Returns where it is now (the part file itself when even that rename
        fails), and records it in the stats for the run summary.
        """
        assert self._part is not None
        kept = self._part
        candidate = target.with_name(f"{target.name}.{os.getpid()}{UNPUBLISHED_SUFFIX}")
        try:
            os.replace(self._part, candidate)
            kept = candidate
        except OSError:
            pass  # stays a part file; the next run's clean-up may remove it
        if self.crawler is not None and self.crawler.stats:
            self.crawler.stats.set_value(KEPT_STAT, str(kept))
        return kept


class S3FeedStorage(AtomicFileFeedStorage):
    """Feed storage for ``s3://`` URIs: finish in the spool, then upload by name with retries.

    Settings: ``SPOOL_DIR``, ``S3_UPLOAD_ATTEMPTS`` (default 4),
    ``S3_UPLOAD_BACKOFF`` (seconds before the first retry, doubled after
    each; default 2), and the usual ``AWS_*`` settings.
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
        self.spool_dir = str(crawler.settings.get("SPOOL_DIR") or "output/spool/")
        super().__init__(
            str(spool_path(self.spool_dir, uri)), feed_options=feed_options, crawler=crawler
        )

    def store(self, file: IO[bytes]) -> Deferred[None]:
        """Finish and upload in a thread: retries sleep, and the reactor must not."""
        return deferToThread(self._store_in_thread, file)

    def _store_in_thread(self, file: IO[bytes]) -> None:
        assert self.crawler is not None
        settings = self.crawler.settings
        self._publish(file, self.path, output=self.uri)
        left = flush(
            self.spool_dir,
            client_from_settings(settings),
            attempts=settings.getint("S3_UPLOAD_ATTEMPTS", 4),
            backoff=settings.getfloat("S3_UPLOAD_BACKOFF", 2.0),
        )
        stats = self.crawler.stats
        if left:
            if stats:
                stats.set_value("ingest/spooled", [str(p) for p in left])
                stats.set_value("ingest/output", str(self.path))
            raise UploadFailedError(
                f"upload to {self.uri} failed; the finished file is kept at {self.path} "
                f"and the next run uploads it"
            )
        logger.info("Uploaded %s and its manifest", self.uri)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
