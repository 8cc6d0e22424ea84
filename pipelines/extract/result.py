"""The value extraction returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.extract.identifiers import Identifiers


@dataclass(frozen=True, slots=True)
class Extracted:
    """Fields extracted from one response body; picklable, immutable."""

    content_type: str | None  # "html" | "pdf" | "text" | "other" | None (empty body)
    mime: str | None  # from Content-Type, lowercased, without parameters
    title: str | None  # page headline, not the site name
    published_date: str | None  # "YYYY-MM-DD"
    modified_date: str | None  # "YYYY-MM-DD"
    authors: tuple[str, ...]
    site_name: str | None
    language: str | None  # BCP-47 primary tag, lowercase
    description: str | None
    text: str | None  # paragraphs separated by a blank line; None when nothing
    paywall: bool
    paywall_reason: str | None
    #: DOI, arXiv id, PMID and ISBN the body states (its URL's are the stage's)
    identifiers: Identifiers = field(default_factory=Identifiers)


def empty(content_type: str | None, mime: str | None) -> Extracted:
    """A result carrying only the body's type."""
    return Extracted(
        content_type=content_type,
        mime=mime,
        title=None,
        published_date=None,
        modified_date=None,
        authors=(),
        site_name=None,
        language=None,
        description=None,
        text=None,
        paywall=False,
        paywall_reason=None,
    )
