"""The extraction stage's unit of work: one fetched body in, record content fields out.

:func:`content_fields` is what runs in an extraction worker process (or
in-process with ``EXTRACT_WORKERS=0``): the same function either way, so both
modes give the same record. It computes the preview and the text digest too,
so that only the record's fields travel back, not the full text (unless
``FULL_TEXT`` asks for it).

This module imports neither Scrapy nor, until the first call, the extractor:
the crawl process that only feeds workers never loads trafilatura and its
companions, which keeps its memory small.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ExtractJob:
    """Everything extraction needs about one response; picklable."""

    body: bytes
    headers: dict[str, str]  # lowercase keys
    url: str  # the final URL
    #: the Content-Type's media type, as the stage computed it for the record
    mime: str | None
    fetched_at: datetime
    preview_chars: int
    full_text: bool
    #: HTML or plain-text bodies longer than this are cut before extraction (0: no cap)
    max_html_bytes: int = 0
    #: add trafilatura's comparison with readability and jusText (slower)
    thorough: bool = False


@dataclass(frozen=True, slots=True)
class ContentResult:
    """The record fields extraction fills, and what the pipeline needs besides."""

    fields: dict[str, Any]
    #: why the text is behind a wall, or None
    paywall: str | None
    #: whether the body was cut at ``max_html_bytes`` before extraction
    truncated: bool


def cap_markup(body: bytes, limit: int) -> bytes:
    """Cut ``body`` to at most ``limit`` bytes, before the last tag that would be split.

    The main text and the metadata of a page sit well within its first few
    megabytes; the rest (inlined data, endless comment threads) costs parse
    time and memory for nothing. Cutting before a ``<`` avoids handing the
    parser half a tag; lxml closes whatever elements are still open.
    """
    if limit <= 0 or len(body) <= limit:
        return body
    cut = body.rfind(b"<", max(0, limit - 65536), limit)
    return body[: cut if cut > 0 else limit]


def content_fields(job: ExtractJob) -> ContentResult:
    """Extract one body and return the record's content fields (the extraction stage's work)."""
    # Imported here, not at the top: see the module docstring.
    from pipelines.extract import make_preview
    from pipelines.extract.core import extract_classified
    from pipelines.extract.sniff import classify

    body = job.body
    truncated = False
    # The body is sniffed once, whole: the kind decides the cut and the extractor.
    kind = classify(body, job.mime)
    # Only markup and text survive a cut; a PDF or other binary needs all its bytes.
    if job.max_html_bytes and len(body) > job.max_html_bytes and kind in ("html", "text"):
        body = cap_markup(body, job.max_html_bytes)
        truncated = True
    extracted = extract_classified(
        body,
        job.headers,
        job.url,
        mime=job.mime,
        kind=kind,
        fetched_at=job.fetched_at,
        thorough=job.thorough,
    )
    text = extracted.text
    preview, preview_truncated = make_preview(text, job.preview_chars)
    fields: dict[str, Any] = {
        "content_type": extracted.content_type,
        "title": extracted.title,
        "published_date": extracted.published_date,
        "modified_date": extracted.modified_date,
        "authors": list(extracted.authors),
        "site_name": extracted.site_name,
        "language": extracted.language,
        "description": extracted.description,
        "preview": preview,
        "preview_truncated": preview_truncated,
        "content_length": len(text) if text is not None else None,
        "content_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None,
        "identifiers": extracted.identifiers.with_stated(),
    }
    if job.full_text:
        fields["text"] = text
    paywall = None
    if extracted.paywall:
        paywall = extracted.paywall_reason or "the text is behind a login or subscription wall"
    return ContentResult(fields=fields, paywall=paywall, truncated=truncated)
