"""The source record, schema version 1: one JSON object per line of the output.

The field order here is the key order of every written record. Fields may be
added in a minor change; none is removed or retyped without a new
``SCHEMA_VERSION``. ``record.schema.json`` beside this file is generated from
this model (``python -m schemas``) and a test keeps the two in step.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SCHEMA_VERSION = "1"

Status = Literal["ok", "dead", "paywall", "error"]
ContentType = Literal["html", "pdf", "text", "other"]
IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
IsoTimestamp = Annotated[
    str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Publication(BaseModel):
    """The venue a source was published in, matched by its domain."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Venue id in the publications list.")
    name: str = Field(description="Venue name.")
    credibility: int | None = Field(description="Credibility tier, 1 (low) to 5 (gold standard).")


class Drift(BaseModel):
    """Whether the page is still the cited document."""

    model_config = ConfigDict(extra="forbid")

    title_similarity: float | None = Field(
        ge=0,
        le=1,
        description="0-1 similarity of the page's title to the entry's own title (character "
        "trigrams, best over the title and its parts); null when either is missing.",
    )
    content_similarity: float | None = Field(
        ge=0,
        le=1,
        description="0-1 estimated Jaccard similarity of the main text's 5-word shingles to "
        "those of the first version seen (baseline_at); null without text.",
    )
    baseline_at: IsoTimestamp | None = Field(
        description="When the version content_similarity compares with was first seen, "
        "ISO 8601 UTC; null without text."
    )
    drifted: bool | None = Field(
        description="True when the page is now another document (content_similarity below "
        "0.2); null when there is nothing to compare."
    )


class Archive(BaseModel):
    """The closest archived capture of a source with HTTP status 200."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description="The capture's archive page: ARCHIVE_REPLAY_URL + timestamp "
        "+ '/' + the source URL."
    )
    captured_at: IsoTimestamp = Field(description="When the capture was made, ISO 8601 UTC.")
    source: Literal["wayback"] = Field(description="The archive the capture is in.")


MetadataOrigin = Literal["page", "pdf", "crossref", "arxiv", "youtube"]


class RecordIdentifiers(BaseModel):
    """Scholarly identifiers of the source, each normalised, null when absent."""

    # "ignore": the extraction stage's working key (which kinds the page's own
    # metadata states) is dropped here should the scholarly stage not remove it.
    model_config = ConfigDict(extra="ignore")

    doi: str | None = Field(
        default=None, description="DOI, lowercase, without resolver prefix (10.1038/nature12373)."
    )
    arxiv: str | None = Field(
        default=None,
        description="arXiv id (2401.01234, hep-th/9901001), with its version (v2) when stated.",
    )
    pmid: str | None = Field(default=None, description="PubMed id, decimal digits.")
    isbn: str | None = Field(
        default=None, description="ISBN-13, 13 digits (an ISBN-10 converted), checksum verified."
    )


class MetadataSource(BaseModel):
    """Where each descriptive field's value came from; null when the field is null."""

    model_config = ConfigDict(extra="forbid")

    title: MetadataOrigin | None = Field(default=None, description="Origin of title.")
    authors: MetadataOrigin | None = Field(default=None, description="Origin of authors.")
    published_date: MetadataOrigin | None = Field(
        default=None, description="Origin of published_date."
    )
    publication: MetadataOrigin | None = Field(
        default=None,
        description="Origin of publication: page (matched by the page's domain), crossref "
        "(the DOI's container title) or arxiv.",
    )


class SourceRecord(BaseModel):
    """What the crawl learned about one cited source."""

    model_config = ConfigDict(extra="forbid", title="SourceRecord")

    schema_version: Literal["1"] = Field(description="Bumped on an incompatible change.")
    resource_id: str = Field(
        min_length=1,
        description="The entry's own id verbatim; else sha256 of the URL as given, first 16 hex.",
    )
    stable_id: str = Field(
        min_length=1,
        description="The entry's stable_id verbatim; else 'sid_' + 10 base62 characters "
        "derived from canonical_url without its scheme.",
    )
    url: str = Field(description="The URL exactly as given in the source entry ('' when none).")
    canonical_url: str | None = Field(
        description="Normalised URL (lowercase host without www., no fragment, tracking "
        "parameters or trailing slash, sorted query); null when the URL cannot be parsed.",
    )
    final_url: str | None = Field(description="The URL after redirects; null when never fetched.")
    domain: str | None = Field(
        description="Host of final_url (or url), lowercase, without 'www.'; null without a host."
    )
    status: Status = Field(
        description="ok; dead (gone: 404, 410, other 4xx but 401/403/407/429, non-existent host); "
        "paywall (behind a login or subscription wall, or 401/402); error (anything else)."
    )
    error: str | None = Field(
        description="Machine-readable failure kind, e.g. invalid_url, dns, timeout, http_404."
    )
    error_detail: str | None = Field(description="A human sentence about the failure.")
    http_status: int | None = Field(description="Last HTTP status received.")
    fetched_at: IsoTimestamp = Field(description="When the outcome was recorded, ISO 8601 UTC, Z.")
    content_type: ContentType | None = Field(description="What the body was.")
    mime: str | None = Field(description="Media type from the response, without parameters.")
    title: str | None = Field(description="Page headline, not the site name.")
    published_date: IsoDate | None = Field(description="Original publication date, YYYY-MM-DD.")
    modified_date: IsoDate | None = Field(description="Last update when stated, YYYY-MM-DD.")
    authors: list[str] = Field(description="Author names; may be empty.")
    site_name: str | None = Field(description="Name of the site or publisher.")
    language: str | None = Field(description="BCP-47 primary language tag when known.")
    description: str | None = Field(description="Meta or OpenGraph description.")
    preview: str | None = Field(
        description="The first PREVIEW_CHARS characters of the main text, cut at a word boundary."
    )
    preview_truncated: bool = Field(description="Whether preview is shorter than the main text.")
    content_length: int | None = Field(ge=0, description="Characters of extracted main text.")
    body_bytes: int | None = Field(ge=0, description="Bytes of the HTTP body as received.")
    content_sha256: Sha256Hex | None = Field(description="sha256 of the main text (UTF-8).")
    text: str | None = Field(
        default=None, description="The full main text; written only when FULL_TEXT is on."
    )
    source: dict[str, Any] = Field(
        description="The entry's other fields (title, type, tags, …), passed through untouched "
        "except for the user:password@ of any URL in them."
    )
    publication: Publication | None = Field(
        description="The venue matched by domain when a publications file is configured."
    )
    changed: bool | None = Field(
        default=None,
        description="Whether the source changed (status or content_sha256) since the previous "
        "run; false for a record carried forward after a 304 or an unchanged page; null when "
        "no state is kept (INCREMENTAL off, or an entry without a URL).",
    )
    drift: Drift | None = Field(
        default=None,
        description="Whether the page is still the cited document; null for pages without "
        "content (not ok) or with nothing to compare.",
    )
    first_failed_at: IsoTimestamp | None = Field(
        default=None,
        description="The first night of the current run of failed nights (dead or error), "
        "ISO 8601 UTC; null when the source did not fail last time it was judged.",
    )
    failures_in_a_row: int = Field(
        default=0, ge=0, description="Failed nights in a row, tonight included."
    )
    dead_confirmed: bool = Field(
        default=False,
        description="True only for a dead source after DEAD_AFTER_FAILURES failed nights in a "
        "row spread over at least DEAD_AFTER_DAYS calendar days (UTC).",
    )
    archive: Archive | None = Field(
        default=None,
        description="The archived capture closest to the citation's date (ARCHIVE_LOOKUP: dead "
        "or drifted sources by default); null when none was found or looked for.",
    )
    preview_from_archive: bool = Field(
        default=False,
        description="The preview and metadata come from archive.url, the live page being dead "
        "(ARCHIVE_PREVIEW).",
    )
    rendered: bool = Field(
        default=False,
        description="Whether the page was rendered in a browser before extraction (its plain "
        "HTML was a JavaScript shell); false when it was not, or could not be.",
    )
    # --- papers and videos (issue 16) ---
    identifiers: RecordIdentifiers = Field(
        default_factory=RecordIdentifiers,
        description="DOI, arXiv id, PMID and ISBN found in the URL, the page's metadata or "
        "JSON-LD, or a PDF's metadata and first page.",
    )
    metadata_source: MetadataSource = Field(
        default_factory=MetadataSource,
        description="For title, authors, published_date and publication: page (the HTML page), "
        "pdf (the PDF's metadata or first page), crossref or arxiv (looked up by identifier), "
        "youtube (the video's player data).",
    )


FIELD_ORDER: tuple[str, ...] = tuple(SourceRecord.model_fields)


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of a record, as shipped in ``record.schema.json``."""
    schema = SourceRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"sources-crawler/record/v{SCHEMA_VERSION}"
    return schema
