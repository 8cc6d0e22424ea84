"""Extension: write the HTML report beside the output once the feed has been published."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector

from crawler.ids import domain_of
from crawler.publish.manifest import write_json_atomically
from crawler.s3 import client_from_settings, is_s3, with_retries
from crawler.watch.alarms import Thresholds
from crawler.watch.report import Report, timings_of, write_report
from crawler.watch.report.s3mirror import mirror_nights, upload_beside

logger = logging.getLogger(__name__)

REPORT_STAT = "ingest/report"


class NightlyReport:
    """Write ``<output>.report.html`` (and ``<output>.timings.json``) after the output is published.

    It runs on ``feed_exporter_closed``, which Scrapy sends once every feed
    has been stored, and reads the published file back, so the page shows
    exactly what consumers get. The records carry no fetch duration, so the
    download latency of each response (Scrapy's ``download_latency`` meta)
    is summed per domain here and kept beside the output for rebuilds.
    A report that fails is logged and never fails the run.
    """

    def __init__(self, stats: StatsCollector, thresholds: Thresholds, history: int) -> None:
        self.stats = stats
        self.thresholds = thresholds
        self.history = history
        self.timings: dict[str, dict[str, float]] = {}
        #: the crawler's settings, for the S3 client of s3:// outputs
        self.settings: BaseSettings | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Connect to the crawler's signals unless ``REPORT_ENABLED`` is off."""
        if not crawler.settings.getbool("REPORT_ENABLED"):
            raise NotConfigured
        assert crawler.stats is not None
        ext = cls(
            crawler.stats,
            Thresholds.from_settings(crawler.settings),
            crawler.settings.getint("REPORT_HISTORY_NIGHTS"),
        )
        ext.settings = crawler.settings
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.feed_exporter_closed, signal=signals.feed_exporter_closed)
        return ext

    def response_received(self, response: Response, request: Request, **kwargs: Any) -> None:
        """Add the response's download latency to its domain's totals."""
        latency = request.meta.get("download_latency")
        if not isinstance(latency, int | float):
            return
        domain = domain_of(response.url) or "(no domain)"
        t = self.timings.setdefault(
            domain, {"responses": 0, "latency_total": 0.0, "latency_max": 0.0}
        )
        t["responses"] += 1
        t["latency_total"] += latency
        t["latency_max"] = max(t["latency_max"], latency)

    def feed_exporter_closed(self) -> None:
        """Write the timings and the report of the published output, if there is one."""
        output = self.stats.get_value("ingest/output")
        try:
            if is_s3(output):
                self._report_on_s3(str(output))
                return
            if not output or not Path(output).is_file():
                logger.info("No report: the output was not published")
                return
            path = Path(output)
            page, report = self._write(path)
        except Exception:  # the night's data is published; a broken page must not undo that
            logger.exception("Could not write the report of %s", output)
            self.stats.set_value("ingest/report_failed", True)
            return
        self.stats.set_value(REPORT_STAT, str(page))
        self._log(page, report)

    def _write(self, output: Path) -> tuple[Path, Report]:
        write_json_atomically(
            timings_of(output),
            {"domains": {d: self.timings[d] for d in sorted(self.timings)}},
        )
        return write_report(output, history=self.history, thresholds=self.thresholds)

    def _report_on_s3(self, output_uri: str) -> None:
        """Build the page from the nights on S3 and upload it (with the timings) beside them."""
        assert self.settings is not None
        client = client_from_settings(self.settings)
        with tempfile.TemporaryDirectory(prefix="sources-report-") as folder:
            local = mirror_nights(client, output_uri, Path(folder), self.history)
            page, report = self._write(local)
            uris = with_retries(
                lambda: upload_beside(client, output_uri, [page, timings_of(local)]),
                what=f"upload of the report of {output_uri}",
                attempts=self.settings.getint("S3_UPLOAD_ATTEMPTS"),
                backoff=self.settings.getfloat("S3_UPLOAD_BACKOFF"),
            )
        self.stats.set_value(REPORT_STAT, uris[0])
        self._log(uris[0], report)

    def _log(self, page: Path | str, report: Report) -> None:
        logger.info(
            "Report written to %s (%d failing sources, %d alarm(s))",
            page,
            len(report.failing),
            len(report.alarms),
        )
