"""``scrapy crawl``, cron-safe: a lock, the spool, S3 sources, an exit code and a summary line."""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Mapping
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.settings import BaseSettings

from crawler.fetch.redact import install_log_redaction, secret_values
from crawler.publish import spool
from crawler.publish.exitcodes import (
    LOCKED,
    MEANING,
    OK,
    OUTPUT_FAILED,
    SOURCES_FAILED,
    STARTUP_FAILED,
    UPLOAD_SPOOLED,
    exit_code_for,
)
from crawler.publish.lock import LockedError, RunLock, lock_path_for
from crawler.publish.manifest import STATUS_PREFIX
from crawler.s3 import client_from_settings, is_s3
from crawler.sources import SourcesError, fetch_s3_sources

logger = logging.getLogger(__name__)


def output_template(settings: BaseSettings, spider_name: str) -> str:
    """The run's output URI with ``%(name)s`` filled in (other parameters left as they are)."""
    feeds = settings.getdict("FEEDS")
    template = str(next(iter(feeds)) if feeds else settings.get("OUTPUT_URI") or "")
    return template.replace("%(name)s", spider_name)


def summary_line(stats: Mapping[str, Any], code: int, duration: float) -> str:
    """One line that says what the night did."""
    by_status = ", ".join(
        f"{k.removeprefix(STATUS_PREFIX)} {v}"
        for k, v in sorted(stats.items())
        if k.startswith(STATUS_PREFIX)
    )
    return (
        f"Night summary: exit {code} ({MEANING.get(code, '?')}); "
        f"{stats.get('ingest/records', 0)} records ({by_status or 'none'}); "
        f"changed {stats.get('ingest/records/changed', 0)}, "
        f"unchanged {stats.get('ingest/records/unchanged', 0)}; "
        f"{stats.get('downloader/response_bytes', 0)} bytes downloaded; "
        f"{duration:.1f} s; output {stats.get('ingest/output') or 'not published'}"
    )


class Command(ScrapyCrawlCommand):
    """Run a spider; exit 0 only when its output was published (see crawler/exitcodes.py).

    Scrapy's own command exits 0 even when the export failed. Before
    crawling, this one takes the run lock (``LOCK_FILE``, default beside the
    output), uploads what earlier runs left in ``SPOOL_DIR``, and downloads
    an ``s3://`` sources list; after it, it logs one summary line.
    """

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        """Run the crawl under the lock and derive the exit code from its stats."""
        if len(args) != 1:
            raise UsageError("give exactly one spider name, e.g. `scrapy crawl sources`")
        assert self.crawler_process is not None
        settings = self.crawler_process.settings
        # before anything is logged: secrets in -s values and URLs never reach a log line
        install_log_redaction(secret_values(dict(settings.items())))
        started = time.monotonic()
        spool_dir = str(settings.get("SPOOL_DIR") or "output/spool/")
        lock = RunLock(
            lock_path_for(output_template(settings, args[0]), spool_dir, settings.get("LOCK_FILE"))
        )
        try:
            lock.acquire()
        except LockedError as exc:
            logger.error("Not starting: %s. Exit code %d.", exc, LOCKED)
            self.exitcode = LOCKED
            return
        except OSError as exc:
            logger.error("Cannot create the lock file %s: %s", lock.path, exc)
            self.exitcode = OUTPUT_FAILED
            return
        with tempfile.TemporaryDirectory(prefix="sources-s3-") as downloads:
            try:
                self._run_locked(args[0], opts, settings, spool_dir, downloads, started)
            finally:
                lock.release()

    def _run_locked(
        self,
        name: str,
        opts: argparse.Namespace,
        settings: BaseSettings,
        spool_dir: str,
        downloads: str,
        started: float,
    ) -> None:
        assert self.crawler_process is not None
        if spool.pending(spool_dir):
            logger.info("Uploading what earlier runs left in the spool %s", spool_dir)
            spool.flush(
                spool_dir,
                client_from_settings(settings),
                attempts=settings.getint("S3_UPLOAD_ATTEMPTS", 4),
                backoff=settings.getfloat("S3_UPLOAD_BACKOFF", 2.0),
            )
        sources = opts.spargs.get("sources")
        if is_s3(sources):
            try:
                opts.spargs["sources"] = fetch_s3_sources(
                    sources, client_from_settings(settings), downloads
                )
            except SourcesError as exc:
                logger.error("Cannot read the sources list: %s", exc)
                self.exitcode = SOURCES_FAILED
                return
            settings.set("SOURCES_ORIGIN", sources, priority="cmdline")
        crawler = self._create_crawler(name)
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed or crawler.stats is None:
            self.exitcode = STARTUP_FAILED
            return
        stats = crawler.stats.get_stats()
        self.exitcode = exit_code_for(stats)
        if self.exitcode == OK and spool.pending(spool_dir):
            # This night is up, but an earlier one still waits for S3.
            self.exitcode = UPLOAD_SPOOLED
        if self.exitcode != OK:
            logger.error("Exit code %d: %s", self.exitcode, MEANING[self.exitcode])
        logger.info(summary_line(stats, self.exitcode, time.monotonic() - started))
