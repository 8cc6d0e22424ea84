"""Validate: every record matches the schema before it is written, or becomes an error record."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from scrapy.crawler import Crawler

from crawler.fetch.urls import redact_url, strip_credentials
from crawler.ids import resource_id, stable_id
from crawler.items import SourceItem
from crawler.stage import Stage
from crawler.timeutil import iso_z
from schemas.record import SCHEMA_VERSION, SourceRecord

logger = logging.getLogger(__name__)

# Values a field takes when no stage had anything to say about it.
_EMPTY: dict[str, Any] = {
    "canonical_url": None,
    "final_url": None,
    "domain": None,
    "error": None,
    "error_detail": None,
    "http_status": None,
    "content_type": None,
    "mime": None,
    "title": None,
    "published_date": None,
    "modified_date": None,
    "authors": [],
    "site_name": None,
    "language": None,
    "description": None,
    "preview": None,
    "preview_truncated": False,
    "content_length": None,
    "body_bytes": None,
    "content_sha256": None,
    "source": {},
    "publication": None,
}
# Fields an invalid record keeps when it is rewritten as an error record.
_IDENTITY = (
    "schema_version",
    "resource_id",
    "stable_id",
    "url",
    "canonical_url",
    "final_url",
    "domain",
    "http_status",
    "fetched_at",
    "source",
    "body_bytes",
)


class ValidatePipeline(Stage):
    """Turn the item into the exported record: a dict in schema order.

    An item that fails validation is logged, counted under
    ``ingest/invalid_record/<field>`` and written as an ``error`` record
    with ``error: invalid_record``; it is never dropped.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.full_text = self.settings.getbool("FULL_TEXT")

    def process_item(self, item: Any) -> Any:
        """Return the validated record (a dict) for a :class:`SourceItem`."""
        if not isinstance(item, SourceItem):
            return item
        data = {**_EMPTY, **item.record}
        try:
            record = SourceRecord.model_validate(data)
        except ValidationError as exc:
            record = self._as_error_record(item, data, exc)
        return record.model_dump(mode="json", exclude=None if self.full_text else {"text"})

    def _as_error_record(
        self, item: SourceItem, data: dict[str, Any], exc: ValidationError
    ) -> SourceRecord:
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
        # The entry's URL is as written (credentials included), and pydantic's
        # message quotes the values it refused: both are read for URLs first.
        logger.error(
            "Invalid record for %s (%s): %s",
            redact_url(item.entry.url) if item.entry.url else item.entry.origin,
            ", ".join(fields),
            strip_credentials(str(exc)),
        )
        for name in fields:
            self.inc_stat(f"ingest/invalid_record/{name}")
        entry = item.entry
        fallback = {  # what the identity fields are when they themselves were invalid
            "schema_version": SCHEMA_VERSION,
            "resource_id": resource_id(entry.url or "", entry.id),
            "stable_id": entry.stable_id or stable_id(entry.url or entry.origin),
            # shown as the identity stage shows it: without userinfo
            "url": redact_url(entry.url or ""),
            "fetched_at": iso_z(item.fetched_at),
        }
        kept = {k: data.get(k) for k in _IDENTITY if k not in fields}
        return SourceRecord.model_validate(
            {
                **_EMPTY,
                **fallback,
                **kept,
                "status": "error",
                "error": "invalid_record",
                "error_detail": f"record failed validation on: {', '.join(fields)}",
            }
        )
