"""Entry point: bytes, headers and URL in, :class:`Extracted` out."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime

from pipelines.extract.encoding import decode_body
from pipelines.extract.html import extract_html
from pipelines.extract.pdf import extract_pdf
from pipelines.extract.result import Extracted, empty
from pipelines.extract.sniff import classify, mime_type
from pipelines.extract.text import normalise_text

logger = logging.getLogger(__name__)


def _not_after(day: date | None, fetched: date) -> str | None:
    return day.isoformat() if day is not None and day <= fetched else None


def _extract_pdf(body: bytes, mime: str | None, fetched_at: datetime) -> Extracted:
    fields = extract_pdf(body)
    fetched = fetched_at.astimezone(UTC).date()
    return Extracted(
        content_type="pdf",
        mime=mime,
        title=fields.title,
        published_date=_not_after(fields.published, fetched),
        modified_date=_not_after(fields.modified, fetched),
        authors=fields.authors,
        site_name=None,
        language=fields.language,
        description=None,
        text=fields.text,
        paywall=False,
        paywall_reason=None,
        identifiers=fields.identifiers,
    )


def _extract_text(body: bytes, headers: Mapping[str, str], mime: str | None) -> Extracted:
    text = normalise_text(decode_body(body, headers.get("content-type"), markup=False))
    return replace(empty("text", mime), text=text)


def extract(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    *,
    fetched_at: datetime | None = None,
    thorough: bool = False,
) -> Extracted:
    """Extract the record fields from a response body.

    ``headers`` has lowercase keys (only ``content-type`` and
    ``content-language`` are read); ``url`` is the response's final URL;
    ``fetched_at`` (default: now, UTC) bounds every date; ``thorough`` adds
    trafilatura's comparison with other extractors (slower; see
    :func:`pipelines.extract.text.html_main_text`). Never raises: on
    unusable input it returns what it could determine.
    """
    mime: str | None = None
    try:
        mime = mime_type(headers)
        kind = classify(body, mime)
    except Exception:  # last line of defence: one bad page must not stop a crawl
        logger.debug("classification failed for %s", url, exc_info=True)
        return empty("other" if body else None, mime)
    return extract_classified(
        body, headers, url, mime=mime, kind=kind, fetched_at=fetched_at, thorough=thorough
    )


def extract_classified(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    *,
    mime: str | None,
    kind: str | None,
    fetched_at: datetime | None = None,
    thorough: bool = False,
) -> Extracted:
    """:func:`extract` for a caller that already has the media type and the body's kind.

    ``mime`` is :func:`~pipelines.extract.sniff.mime_type` of ``headers`` and
    ``kind`` :func:`~pipelines.extract.sniff.classify` of the body, as the
    caller computed them once (the extraction job does, to decide whether to
    cap the markup). Never raises.
    """
    when = fetched_at or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        if kind == "html":
            return extract_html(body, headers, url, mime, when, thorough=thorough)
        if kind == "pdf":
            return _extract_pdf(body, mime, when)
        if kind == "text":
            return _extract_text(body, headers, mime)
        return empty(kind, mime)
    except Exception:  # last line of defence: one bad page must not stop a crawl
        logger.debug("extraction failed for %s", url, exc_info=True)
        return empty(kind or ("other" if body else None), mime)
