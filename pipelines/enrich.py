"""Enrich: the venue and its credibility, from the ``PUBLICATIONS`` list."""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler

from crawler.items import SourceItem
from crawler.stage import Stage
from pipelines.venues import VenueIndex

logger = logging.getLogger(__name__)


class EnrichPipeline(Stage):
    """Attach ``publication``: the entry's own ``publication_id`` when listed, else by domain.

    Setting: ``PUBLICATIONS``, the path of a publications YAML. Unset, every
    record gets ``publication: null``.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        path = self.settings.get("PUBLICATIONS")
        self.venues = VenueIndex.load(path) if path else None
        if self.venues is not None:
            logger.info("Loaded %d publications from %s", len(self.venues), path)

    def process(self, item: SourceItem) -> None:
        """Fill ``publication``."""
        record = item.record
        record["publication"] = None
        if self.venues is None:
            return
        given = item.entry.fields.get("publication_id")
        venue = self.venues.by_id(str(given)) if given else None
        if venue is None:
            venue = self.venues.match(record.get("final_url")) or self.venues.match(
                record.get("url")
            )
        if venue is not None:
            record["publication"] = venue.as_record()
            self.inc_stat("ingest/publication_matched")
