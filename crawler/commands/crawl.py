"""``scrapy crawl``, cron-safe: a lock, the spool, S3 sources, an exit code and a summary line.

What a user can get wrong is checked before anything starts (no worker
pool, state, lock or output touched): Scrapy's feed flags (``-O``, ``-o``,
``-t``), the output path and the whole sources list. Each mistake is one
log line and its documented exit code, never a traceback (tracebacks only
at ``LOG_LEVEL=DEBUG``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.settings import BaseSettings
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.misc import load_object
from w3lib.url import file_uri_to_path

from crawler.commands.preflight import preflight
from crawler.fetch.redact import install_log_redaction, secret_values
from crawler.options import SettingsError
from crawler.publish import spool
from crawler.publish.exitcodes import (
    LOCKED,
    MEANING,
    OK,
    OUTPUT_FAILED,
    SOURCES_FAILED,
    STARTUP_FAILED,
    UPLOAD_SPOOLED,
    USAGE,
    exit_code_for,
)
from crawler.publish.feeds import OutputFlagError, cli_output, is_stdout
from crawler.publish.feedstorage import KEPT_STAT
from crawler.publish.lock import LockedError, RunLock, lock_path_for
from crawler.publish.manifest import STATUS_PREFIX
from crawler.s3 import client_from_settings, is_s3
from crawler.sources import SourcesError, check_sources, fetch_s3_sources, resolve_sources
from crawler.sources.provider import EXAMPLE_SOURCES, ListProvider
from crawler.timeutil import iso_z, utc_now

logger = logging.getLogger(__name__)

#: Scrapy's feed exporter logs a failed store with a traceback under this logger
FEED_EXPORT_LOGGER = "scrapy.extensions.feedexport"


def output_template(settings: BaseSettings, spider_name: str) -> str:
    """The run's output URI with ``%(name)s`` filled in (other parameters left as they are)."""
    feeds = settings.getdict("FEEDS")
    template = str(next(iter(feeds)) if feeds else settings.get("OUTPUT_URI") or "")
    return template.replace("%(name)s", spider_name)


class _UriParams(dict[str, Any]):
    """``%(…)s`` values for checking an output template: any other parameter reads as 1."""

    def __missing__(self, key: str) -> Any:
        return 1


def output_problem(template: str, spider_name: str) -> str | None:
    """Why a local output path cannot be published, or None (S3 and stdout are not checked here).

    Catches before the crawl what would otherwise fail at its very end: a
    path that is a directory, a parent that is a file, a folder the run
    cannot write in.
    """
    if not template or is_s3(template) or is_stdout(template):
        return None
    params = _UriParams(name=spider_name, time=iso_z(utc_now()).replace(":", "-"))
    try:
        uri = template % params
    except (ValueError, TypeError):
        uri = template
    path = Path(file_uri_to_path(uri) if uri.startswith("file:") else uri)
    if path.is_dir():
        return f"{path} is a directory; OUTPUT_URI names the file to write, e.g. {path}/night.jsonl"
    if path.exists() and not path.is_file():
        return f"{path} exists and is not a regular file"
    folder = path.parent
    existing = folder
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        if existing == folder:
            return f"{path}: its folder {folder} is a file"
        return f"{path}: cannot create the folder {folder}, {existing} is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{path}: cannot write in {existing} (permission denied)"
    return None


def summary_line(stats: Mapping[str, Any], code: int, duration: float) -> str:
    """One line that says what the night did."""
    by_status = ", ".join(
        f"{k.removeprefix(STATUS_PREFIX)} {v}"
        for k, v in sorted(stats.items())
        if k.startswith(STATUS_PREFIX)
    )
    output = stats.get("ingest/output") or "not published"
    if stats.get(KEPT_STAT):
        output += f" (the finished file is kept at {stats[KEPT_STAT]})"
    return (
        f"Night summary: exit {code} ({MEANING.get(code, '?')}); "
        f"{stats.get('ingest/records', 0)} records ({by_status or 'none'}); "
        f"changed {stats.get('ingest/records/changed', 0)}, "
        f"unchanged {stats.get('ingest/records/unchanged', 0)}; "
        f"{stats.get('downloader/response_bytes', 0)} bytes downloaded; "
        f"{duration:.1f} s; output {output}"
    )


def fail(message: str) -> NoReturn:
    """End with one line and exit code 2 (a user mistake), before logging is even set up."""
    print(f"Not started: {message}. Exit code {USAGE}: {MEANING[USAGE]}.", file=sys.stderr)
    raise SystemExit(USAGE)


class OneLineStoreErrors(logging.Filter):
    """Turn the feed exporter's "Error storing …" traceback into one line with the reason.

    The reasons our storages raise (an incomplete run, a failed upload, a
    rename that failed) are sentences for the user; the traceback says
    nothing more to them. It stays at ``LOG_LEVEL=DEBUG``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Fold the exception into the message and drop the traceback."""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            reason = str(exc) or type(exc).__name__
            if not isinstance(exc, RuntimeError):  # ours are RuntimeErrors with a sentence
                reason = f"{type(exc).__name__}: {reason}"
            record.msg = f"{record.getMessage()}: {reason}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


class Command(ScrapyCrawlCommand):
    """Run a spider; exit 0 only when its output was published (see crawler/exitcodes.py).

    Scrapy's own command exits 0 even when the export failed. Before
    crawling, this one checks the output path and the sources list, takes
    the run lock (``LOCK_FILE``, default beside the output), uploads what
    earlier runs left in ``SPOOL_DIR``, and downloads an ``s3://`` sources
    list; after it, it logs one summary line.
    """

    _warnings: list[str] = []  # noqa: RUF012 (replaced per instance by process_options)

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """Scrapy's options, and ``-t`` (removed from Scrapy) so that ``-t csv`` gets an answer."""
        super().add_options(parser)
        parser.add_argument(
            "-t",
            "--output-format",
            metavar="FORMAT",
            help="format of the -O output: only jsonlines (the default) is written",
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Read ``-O``/``-o``/``-t`` as ``OUTPUT_URI`` instead of Scrapy's ``FEEDS``."""
        append, overwrite = opts.output, opts.overwrite_output
        opts.output = opts.overwrite_output = None  # Scrapy would build FEEDS from them
        super().process_options(args, opts)
        assert self.settings is not None
        try:
            uri = cli_output(append, overwrite, opts.output_format)
        except OutputFlagError as exc:
            # Before the crawler exists logging is not set up: one line on stderr.
            fail(str(exc))
        if uri is not None:
            self.settings.set("OUTPUT_URI", uri, priority="cmdline")
        if is_stdout(self.settings.get("OUTPUT_URI")) and not self.settings.getdict("FEEDS"):
            # Records stream out and no file is left behind: no state, no report.
            self.settings.set("INCREMENTAL", False, priority="cmdline")
            self.settings.set("REPORT_ENABLED", False, priority="cmdline")
        if len(args) != 1:
            return
        try:
            spider_class = SpiderLoader.from_settings(self.settings).load(args[0])
        except KeyError:
            fail(f"no spider named {args[0]!r}; this project's spider is 'sources'")
        try:
            known = getattr(spider_class, "ARGUMENTS", {})
            # arguments, settings, extras and Redis: before the banner, lock or pool
            self._warnings = preflight(self.settings, opts.spargs, known)
        except SettingsError as exc:
            fail(str(exc))

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        """Check what can be checked, run the crawl under the lock, derive the exit code."""
        if len(args) != 1:
            raise UsageError("give exactly one spider name, e.g. `scrapy crawl sources`")
        assert self.crawler_process is not None
        settings = self.crawler_process.settings
        if str(settings.get("LOG_LEVEL")).upper() != "DEBUG":
            logging.getLogger(FEED_EXPORT_LOGGER).addFilter(OneLineStoreErrors())
        # before anything is logged: secrets in -s values and URLs never reach a log line
        install_log_redaction(secret_values(dict(settings.items())))
        started = time.monotonic()
        for warning in self._warnings:
            logger.warning("%s", warning)
        template = output_template(settings, args[0])
        problem = output_problem(template, args[0])
        if problem:
            self._refuse(OUTPUT_FAILED, f"OUTPUT_URI {problem}")
            return
        spool_dir = str(settings.get("SPOOL_DIR"))
        with tempfile.TemporaryDirectory(prefix="sources-s3-") as downloads:
            try:
                self._check_sources(opts, settings, downloads)
            except SourcesError as exc:
                self._refuse(SOURCES_FAILED, f"cannot read the sources list: {exc}")
                return
            given_lock = settings.get("LOCK_FILE")
            if is_stdout(template) and not given_lock:
                # Nothing is written beside a stream, so nothing needs guarding.
                self._run_locked(args[0], opts, settings, spool_dir, started)
                return
            lock = RunLock(lock_path_for(template, spool_dir, given_lock))
            try:
                lock.acquire()
            except LockedError as exc:
                self._refuse(LOCKED, str(exc))
                return
            except OSError as exc:
                self._refuse(OUTPUT_FAILED, f"cannot create the lock file {lock.path}: {exc}")
                return
            try:
                self._run_locked(args[0], opts, settings, spool_dir, started)
            finally:
                lock.release()

    def _refuse(self, code: int, reason: str) -> None:
        logger.error("Not started: %s. Exit code %d: %s.", reason, code, MEANING[code])
        self.exitcode = code

    def _check_sources(
        self, opts: argparse.Namespace, settings: BaseSettings, downloads: str
    ) -> None:
        """Download an ``s3://`` list, then read the whole list once; raise SourcesError.

        Only for the list provider: a distributed worker takes its entries
        from Redis (the loader checked the list there).
        """
        sources = opts.spargs.get("sources")
        if is_s3(sources):
            opts.spargs["sources"] = fetch_s3_sources(
                sources, client_from_settings(settings), downloads
            )
            settings.set("SOURCES_ORIGIN", sources, priority="cmdline")
        provider = load_object(settings["SOURCES_PROVIDER"])
        if settings.get("REDIS_URL") or provider is not ListProvider:
            return
        publications = settings.get("PUBLICATIONS")
        files = resolve_sources(
            opts.spargs.get("sources") or EXAMPLE_SOURCES,
            exclude=[publications] if publications else [],
        )
        check_sources(files)

    def _run_locked(
        self,
        name: str,
        opts: argparse.Namespace,
        settings: BaseSettings,
        spool_dir: str,
        started: float,
    ) -> None:
        assert self.crawler_process is not None
        if spool.pending(spool_dir):
            logger.info("Uploading what earlier runs left in the spool %s", spool_dir)
            spool.flush(
                spool_dir,
                client_from_settings(settings),
                attempts=settings.getint("S3_UPLOAD_ATTEMPTS"),
                backoff=settings.getfloat("S3_UPLOAD_BACKOFF"),
            )
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
