"""Extract: title, dates, authors, main text and preview of each fetched page."""

from __future__ import annotations

import hashlib
from datetime import datetime

from scrapy.crawler import Crawler

from crawler.items import SourceItem
from pipelines.base import Stage
from pipelines.extract import extract, make_preview


class ExtractPipeline(Stage):
    """Run the pure extractor on successful responses and fill the content fields.

    Settings: ``PREVIEW_CHARS`` (default 3000), ``FULL_TEXT`` (default False).
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.preview_chars = self.settings.getint("PREVIEW_CHARS", 3000)
        self.full_text = self.settings.getbool("FULL_TEXT", False)

    def process(self, item: SourceItem) -> None:
        """Fill the content fields; the body is released afterwards."""
        record = item.record
        body = item.body
        item.body = None  # the body is not needed after this stage; free it early
        record["body_bytes"] = len(body) if body is not None else None
        record["mime"] = _mime(item.headers.get("content-type"))
        status = item.http_status
        if body is None or status is None or not 200 <= status < 300:
            return
        fetched_at = datetime.fromisoformat(item.fetched_at.replace("Z", "+00:00"))
        fields = extract(
            body, item.headers, item.final_url or record.get("url", ""), fetched_at=fetched_at
        )
        preview, truncated = make_preview(fields.text, self.preview_chars)
        text = fields.text
        record.update(
            content_type=fields.content_type,
            mime=fields.mime or record["mime"],
            title=fields.title,
            published_date=fields.published_date,
            modified_date=fields.modified_date,
            authors=list(fields.authors),
            site_name=fields.site_name,
            language=fields.language,
            description=fields.description,
            preview=preview,
            preview_truncated=truncated,
            content_length=len(text) if text is not None else None,
            content_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None,
        )
        if self.full_text:
            record["text"] = text
        if fields.paywall:
            item.paywall = (
                fields.paywall_reason or "the text is behind a login or subscription wall"
            )


def _mime(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None
