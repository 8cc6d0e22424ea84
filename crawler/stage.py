"""What every item pipeline stage shares: settings from the crawler, no lost items."""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy.crawler import Crawler

from crawler.items import SourceItem

logger = logging.getLogger(__name__)


class Stage:
    """Base of the pipeline stages.

    A stage works on :class:`SourceItem` objects and passes anything else
    through. An exception inside a stage never drops the item (Scrapy would):
    it is logged, counted, and the item goes on marked as an internal error,
    so it still becomes exactly one record.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.settings = crawler.settings

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the stage from the crawler's settings."""
        return cls(crawler)

    def inc_stat(self, key: str, count: int = 1) -> None:
        """Increase a namespaced stat."""
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, count)

    def process_item(self, item: Any) -> Any:
        """Run :meth:`process` and keep the item whatever happens."""
        if not isinstance(item, SourceItem):
            return item
        try:
            self.process(item)
        except Exception as exc:
            self.mark_failed(item, exc)
        return item

    def mark_failed(self, item: SourceItem, exc: Exception) -> None:
        """Log and count a failure of this stage; the item goes on as an internal error."""
        name = type(self).__name__
        logger.exception("%s failed on %s", name, item.entry.url or item.entry.origin)
        self.inc_stat(f"ingest/internal_errors/{name}")
        if item.internal_error is None:
            item.internal_error = f"{name}: {type(exc).__name__}: {exc}"

    def process(self, item: SourceItem) -> None:
        """Add this stage's fields to ``item.record``."""
        raise NotImplementedError
