"""Turn the project's ``OUTPUT_URI`` setting into Scrapy's ``FEEDS`` before the crawl starts."""

from __future__ import annotations

from typing import Any

from scrapy.settings import BaseSettings

GZIP_PLUGIN = "scrapy.extensions.postprocessing.GzipPlugin"


def feeds_for(uri: str) -> dict[str, dict[str, Any]]:
    """Return the ``FEEDS`` entry for an output URI (``.jsonl`` or ``.jsonl.gz``)."""
    options: dict[str, Any] = {
        "format": "jsonlines",
        "encoding": "utf-8",
        "store_empty": True,
        "overwrite": True,
        "uri_params": "crawler.publish.feedstorage.uri_params",
    }
    if uri.endswith(".gz"):
        options["postprocessing"] = [GZIP_PLUGIN]
        options["gzip_mtime"] = 0  # same records, same bytes
    return {uri: options}


class OutputAddon:
    """Scrapy add-on: configure the JSONL feed from ``OUTPUT_URI`` unless ``FEEDS`` is set."""

    def update_settings(self, settings: BaseSettings) -> None:
        """Set ``FEEDS`` from ``OUTPUT_URI``; an explicit ``FEEDS`` wins."""
        uri = settings.get("OUTPUT_URI")
        if uri and not settings.getdict("FEEDS"):
            settings.set("FEEDS", feeds_for(str(uri)), priority="addon")
