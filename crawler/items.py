"""The raw item the spider hands to the pipelines: facts about one source, no judgement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crawler.sources import SourceEntry

#: the request meta key under which every request carries its source entry
ENTRY_META_KEY = "source_entry"


@dataclass(slots=True)
class SourceItem:
    """What happened when one source entry was fetched (or refused).

    The spider fills the fetch facts; each pipeline adds its fields to
    ``record``, which the validate pipeline turns into the exported record.
    """

    entry: SourceEntry
    #: when the fetch ended (or the entry was refused): aware UTC, to the second;
    #: the record's ``fetched_at`` is its ISO 8601 form, formatted by identify
    fetched_at: datetime
    request_url: str | None = None
    final_url: str | None = None
    http_status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    failure: BaseException | None = None
    #: (error kind, sentence) when the entry was refused before any fetch
    refusal: tuple[str, str] | None = None
    #: why the text is behind a wall, when extraction saw one
    paywall: str | None = None
    #: set when a pipeline stage failed on this item; the record becomes an error
    internal_error: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
