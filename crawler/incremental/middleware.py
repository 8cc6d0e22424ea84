"""Conditional requests from the state: validators out, fresh sources answered locally."""

from __future__ import annotations

from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler.incremental.extension import get_state, state_key
from crawler.items import ENTRY_META_KEY
from crawler.sources import SourceEntry


class ConditionalRequestMiddleware:
    """Downloader middleware: ask only for what changed.

    Adds ``If-None-Match``/``If-Modified-Since`` from the state to a request
    for the URL whose response gave them, and answers sources that are fresh
    enough (``REFETCH_AFTER_DAYS``) with a local 304 without any request.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the middleware; it does nothing unless the state is open."""
        return cls(crawler)

    def process_request(self, request: Request) -> Response | None:
        """Add the validators, or answer from the state."""
        state = get_state(self.crawler)
        entry = request.meta.get(ENTRY_META_KEY)
        key = state_key(entry) if isinstance(entry, SourceEntry) else None
        if state is None or key is None:
            return None
        previous = state.previous(key)
        # A record made with other extraction settings must be extracted again:
        # no local answer, and no validators that would get a 304 instead of the body.
        if previous is None or previous.record is None or not state.reusable(previous):
            return None
        stats = self.crawler.stats
        assert stats is not None
        if not request.meta.get("redirect_times") and state.fresh_enough(previous):
            state.skipped.add(key)
            stats.inc_value("ingest/incremental/carried_without_request")
            return Response(request.url, status=304, request=request)
        # Validators belong to the URL that answered with them (after redirects).
        if request.url != previous.record.get("final_url"):
            return None
        if previous.etag:
            request.headers.setdefault(b"If-None-Match", previous.etag.encode("latin-1"))
        if previous.last_modified:
            request.headers.setdefault(
                b"If-Modified-Since", previous.last_modified.encode("latin-1")
            )
        if previous.etag or previous.last_modified:
            stats.inc_value("ingest/incremental/conditional_requests")
        return None
