"""Identify: IDs, canonical URL and domain of each source."""

from __future__ import annotations

from crawler.fetch.urls import redact_url, strip_credentials_in
from crawler.ids import canonical_url, domain_of, resource_id, stable_id
from crawler.items import SourceItem
from crawler.stage import Stage
from crawler.timeutil import iso_z
from schemas.record import SCHEMA_VERSION


class IdentifyPipeline(Stage):
    """Attach ``resource_id``, ``stable_id``, ``canonical_url``, ``domain`` and the pass-through."""

    def process(self, item: SourceItem) -> None:
        """Fill the identity fields of the record."""
        entry = item.entry
        url = entry.url or ""
        try:
            canonical: str | None = canonical_url(url) if url else None
        except ValueError:
            canonical = None
        rid = resource_id(url, entry.id)
        # Without a canonical form (no URL, no host) the ID still has to be
        # stable for the entry: derive it from what identifies the entry.
        sid = entry.stable_id or stable_id(canonical or url or rid)
        item.record.update(
            schema_version=SCHEMA_VERSION,
            resource_id=rid,
            stable_id=sid,
            # credentials in a URL are secrets: the ID uses the URL as given,
            # the record never shows them
            url=redact_url(url),
            canonical_url=canonical,
            final_url=redact_url(item.final_url) if item.final_url else None,
            domain=domain_of(item.final_url or (url if canonical else None)),
            fetched_at=iso_z(item.fetched_at),
            # passed through untouched, except for credentials in URLs (never shown)
            source=strip_credentials_in(entry.fields),
        )
