"""Where the spider's entries come from: the provider named by ``SOURCES_PROVIDER``.

The spider asks a provider for :class:`~crawler.sources.SourceEntry` objects
and knows nothing of where they come from. :class:`ListProvider`, the
default, streams the list given as ``-a sources=`` and drops repeated URLs;
the distributed add-on swaps in a provider that claims entries from Redis.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol, Self

from scrapy.crawler import Crawler

from crawler.sources.reader import SourceEntry, check_sources, iter_entries, resolve_sources

logger = logging.getLogger(__name__)

EXAMPLE_SOURCES = str(Path(__file__).resolve().parent.parent / "examples" / "sources.yaml")


class EntryProvider(Protocol):
    """What the spider needs of a provider."""

    def entries(self) -> AsyncIterator[SourceEntry]:
        """Yield entries, one per source to record; raise ``SourcesError`` when unreadable.

        The spider waits for room in the scheduler before asking for the
        next entry, so a provider never needs to hold entries back itself.
        """
        ...


class ListProvider:
    """Entries of a sources list (file, directory, glob), the first of each URL only.

    Stats: ``ingest/entries`` (read), ``ingest/duplicates`` (skipped),
    ``ingest/entries_unique`` and ``ingest/sources_complete`` once the
    whole list was read.
    """

    def __init__(self, crawler: Crawler, spec: str | None) -> None:
        self.crawler = crawler
        self.spec = spec or EXAMPLE_SOURCES

    @classmethod
    def from_crawler(cls, crawler: Crawler, spec: str | None) -> Self:
        """Build the provider for the ``-a sources=`` argument (None: the example list)."""
        return cls(crawler, spec)

    async def entries(self) -> AsyncIterator[SourceEntry]:
        """Check every file, then stream entries, skipping URLs seen before."""
        stats = self.crawler.stats
        assert stats is not None
        publications = self.crawler.settings.get("PUBLICATIONS")
        files = resolve_sources(self.spec, exclude=[publications] if publications else [])
        check_sources(files)
        logger.info(
            "Reading sources from %d file(s): %s",
            len(files),
            ", ".join(files[:5]) + (" …" if len(files) > 5 else ""),
        )
        seen: set[bytes] = set()
        for entry in iter_entries(files):
            stats.inc_value("ingest/entries")
            if entry.url is not None:
                # A short digest per URL keeps the memory per source small.
                key = hashlib.blake2b(entry.url.encode("utf-8"), digest_size=12).digest()
                if key in seen:
                    stats.inc_value("ingest/duplicates")
                    logger.debug("Duplicate URL skipped at %s: %s", entry.origin, entry.url)
                    continue
                seen.add(key)
            stats.inc_value("ingest/entries_unique")
            yield entry
        stats.set_value("ingest/sources_complete", True)
