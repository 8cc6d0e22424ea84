"""Count what is actually written, by status and error kind, for the manifest and exit code."""

from __future__ import annotations

from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from crawler.publish.counts import as_record, stat_keys
from crawler.timeutil import iso_z, utc_now


class RecordLedger:
    """Extension: keeps ``ingest/records*`` stats from the records handed to the exporters.

    Counting exported records (not pipeline decisions) makes the manifest
    agree with the file even when a late stage rewrote a record.
    """

    def __init__(self, stats: StatsCollector, sources_origin: str | None = None) -> None:
        self.stats = stats
        #: the s3:// list the crawl command downloaded, when it did
        self.sources_origin = sources_origin

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Connect to the crawler's signals."""
        assert crawler.stats is not None
        ledger = cls(crawler.stats, crawler.settings.get("SOURCES_ORIGIN"))
        crawler.signals.connect(ledger.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ledger.item_scraped, signal=signals.item_scraped)
        return ledger

    def spider_opened(self, spider: Any) -> None:
        """Note the start time and the sources argument."""
        self.stats.set_value("ingest/started_at", iso_z(utc_now()))
        self.stats.set_value(
            "ingest/sources_spec", self.sources_origin or getattr(spider, "sources_spec", None)
        )

    def item_scraped(self, item: Any) -> None:
        """Count one exported record."""
        record = as_record(item)
        if record is None:
            return
        for key in stat_keys(record):
            self.stats.inc_value(key)
