"""Extraction of every field from an HTML page."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from pipelines.extract.dates import extract_dates
from pipelines.extract.encoding import decode_body
from pipelines.extract.identifiers import from_page
from pipelines.extract.markup import build_page
from pipelines.extract.metadata import (
    extract_authors,
    extract_description,
    extract_language,
    extract_site_name,
    extract_title,
)
from pipelines.extract.paywall import detect_paywall
from pipelines.extract.result import Extracted
from pipelines.extract.text import (
    drop_leading_title,
    fast_main_text,
    html_main_text,
    page_measures,
)

logger = logging.getLogger(__name__)


def extract_html(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    mime: str | None,
    fetched_at: datetime,
    *,
    thorough: bool = False,
) -> Extracted:
    """Decode, parse and extract an HTML body (``thorough``: see :func:`html_main_text`)."""
    html = decode_body(body, headers.get("content-type"))
    page = build_page(html, url, dict(headers))
    site_name = extract_site_name(page)
    title = extract_title(page, site_name)
    large, page_words = page_measures(page.tree)
    main = (
        fast_main_text(page.tree)
        if large
        # the parsed tree saves trafilatura a second parse; the markup when
        # lxml found no document (trafilatura's own parser may still)
        else html_main_text(
            page.tree if page.tree is not None else html,
            url,
            page_words=page_words,
            thorough=thorough,
        )
    )
    text = drop_leading_title(main, title)
    published, modified = extract_dates(page, html, fetched_at, reuse_tree=large)
    paywall, reason = detect_paywall(page, text)
    return Extracted(
        content_type="html",
        mime=mime,
        title=title,
        published_date=published.isoformat() if published else None,
        modified_date=modified.isoformat() if modified else None,
        authors=extract_authors(page, site_name),
        site_name=site_name,
        language=extract_language(page),
        description=extract_description(page),
        text=text,
        paywall=paywall,
        paywall_reason=reason,
        identifiers=from_page(page, text),
    )
