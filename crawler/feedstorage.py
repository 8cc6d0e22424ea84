"""Local feed storage that publishes a complete file or nothing.

Scrapy's own file storage writes straight to the final path, so a crawl that
dies midway leaves half a file where readers look. This storage writes to a
hidden ``.part`` file beside the target, and on close checks that the run
produced one record per unique source; only then does it fsync, rename the
file into place and write the manifest next to it. An incomplete run raises,
which Scrapy counts as a failed export and our ``crawl`` command turns into a
non-zero exit.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Self

from scrapy.crawler import Crawler
from scrapy.spiders import Spider
from w3lib.url import file_uri_to_path

from crawler.manifest import build_manifest, manifest_path, sha256_of, write_json_atomically
from crawler.timeutil import iso_z, utc_now

logger = logging.getLogger(__name__)

PART_SUFFIX = ".part"


class IncompleteRunError(RuntimeError):
    """The run did not produce one record per source; nothing was published."""


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
        os.chmod(part, 0o666 & ~_umask())  # mkstemp makes 0600; readers expect the usual mode
        return os.fdopen(fd, "w+b")

    def store(self, file: IO[bytes]) -> None:
        """Publish the file and its manifest, or discard it when the run is incomplete."""
        assert self._part is not None and self.crawler is not None
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        problem = completeness_problem(stats)
        try:
            if problem:
                raise IncompleteRunError(f"output not written to {self.path}: {problem}")
            file.flush()
            os.fsync(file.fileno())
            digest = sha256_of(file)
            size = os.fstat(file.fileno()).st_size
            file.close()
            os.replace(self._part, self.path)
            _fsync_dir(self.path.parent)
            manifest = build_manifest(
                stats, output=str(self.path), sha256=digest, size=size, finished_at=iso_z(utc_now())
            )
            write_json_atomically(manifest_path(self.path), manifest)
            if self.crawler.stats:
                self.crawler.stats.set_value("ingest/output", str(self.path))
            logger.info(
                "Published %s (%d records, sha256 %s)", self.path, manifest["records"], digest
            )
        finally:
            if not file.closed:
                file.close()
            self._part.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
