"""Classify: ``status``, ``error``, ``error_detail`` and ``http_status`` of each source."""

from __future__ import annotations

from crawler.fetch.urls import strip_credentials
from crawler.items import SourceItem
from crawler.stage import Stage
from pipelines.outcome import Outcome, from_failure, from_http_status


class ClassifyPipeline(Stage):
    """Decide ok / dead / paywall / error from what the spider and extraction saw."""

    def process(self, item: SourceItem) -> None:
        """Fill the outcome fields of the record."""
        outcome = self.outcome(item)
        item.record.update(
            status=outcome.status,
            error=outcome.error,
            error_detail=strip_credentials(outcome.detail) if outcome.detail else None,
            http_status=item.http_status,
        )

    @staticmethod
    def outcome(item: SourceItem) -> Outcome:
        """Return the outcome of one item; the first fact that decides wins."""
        if item.internal_error:
            return Outcome("error", "internal", item.internal_error)
        if item.refusal:
            return Outcome("error", *item.refusal)
        if item.failure is not None:
            return from_failure(item.failure)
        if item.http_status is None:
            return Outcome("error", "fetch", "no response was recorded")
        outcome = from_http_status(item.http_status)
        location = item.headers.get("location", "")
        if (
            300 <= item.http_status < 400
            and location
            and not location.lower().startswith(("http:", "https:", "/"))
        ):
            # Scrapy does not follow redirects to other schemes; say where it led.
            scheme = location.split(":", 1)[0]
            return Outcome("error", "unsupported_scheme", f"redirects to a {scheme}: URL")
        if outcome.status == "ok" and item.paywall:
            return Outcome("paywall", None, item.paywall)
        return outcome
