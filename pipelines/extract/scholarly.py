"""Scholarly metadata from the arXiv API (Atom) and Crossref's REST API (JSON); pure parsing.

Formats, as their public documentation gives them:

* arXiv API user manual: ``GET <api>?id_list=<id>`` answers an Atom feed whose
  ``<entry>`` has ``<id>`` (``http://arxiv.org/abs/<id>v<n>``), ``<title>``,
  ``<published>`` (first version), ``<updated>``, ``<author><name>``, and in the
  ``http://arxiv.org/schemas/atom`` namespace ``<arxiv:doi>`` and
  ``<arxiv:journal_ref>``. An unknown or malformed id gives an entry whose
  ``<id>`` is an ``…/api/errors#…`` URL and whose title is ``Error``, or no entry.
* Crossref REST API: ``GET <api>/works/<doi>`` answers
  ``{"status": "ok", "message-type": "work", "message": {...}}`` with
  ``title`` (a list), ``author`` (``given``/``family`` or ``name``),
  ``container-title`` (a list), ``ISSN``, and dates as
  ``{"date-parts": [[year, month, day]]}`` under ``published``,
  ``published-print``, ``published-online`` and ``issued``. A DOI it does not
  know is a 404.

Bodies are bounded before parsing (:data:`MAX_BODY`) and the XML parser
refuses DTDs and entities (defusedxml), so a hostile answer costs little.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from defusedxml import ElementTree

from pipelines.extract.identifiers import normalise_arxiv, normalise_doi

MAX_BODY = 2 * 1024 * 1024  # an answer about one work is a few kilobytes
MAX_AUTHORS = 100
MAX_TITLE = 400

_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV = "{http://arxiv.org/schemas/atom}"
_TAG = re.compile(r"<[^>]{0,200}>")
_WS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class WorkMetadata:
    """What a scholarly registry says about one work; ``origin`` is ``arxiv`` or ``crossref``."""

    origin: str
    title: str | None
    authors: tuple[str, ...]
    published_date: str | None  # YYYY-MM-DD, only when the registry states a full date
    venue: str | None  # journal, proceedings or book title
    venue_id: str | None  # "issn:XXXX-XXXX" when known
    doi: str | None = None
    arxiv: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (for the lookup cache)."""
        data = asdict(self)
        data["authors"] = list(self.authors)
        return data

    @classmethod
    def from_json(cls, data: Any) -> WorkMetadata | None:
        """Read :meth:`to_json`'s form back; None when it is not one."""
        if not isinstance(data, dict) or data.get("origin") not in ("arxiv", "crossref"):
            return None
        authors = data.get("authors")

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls(
            origin=str(data["origin"]),
            title=text("title"),
            authors=tuple(a for a in authors if isinstance(a, str))
            if isinstance(authors, list)
            else (),
            published_date=text("published_date"),
            venue=text("venue"),
            venue_id=text("venue_id"),
            doi=text("doi"),
            arxiv=text("arxiv"),
        )


def _clean(value: Any, limit: int = MAX_TITLE) -> str | None:
    """Markup-free, whitespace-squashed text (Crossref titles carry ``<i>``, ``<sub>``)."""
    if not isinstance(value, str):
        return None
    text = _WS.sub(" ", html.unescape(_TAG.sub("", value))).strip()
    return text[:limit] or None


def _iso(year: Any, month: Any, day: Any) -> str | None:
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except (TypeError, ValueError, OverflowError):
        return None


# --- arXiv ------------------------------------------------------------------------


def bare_arxiv(identifier: str) -> str:
    """An arXiv id without its version (``2401.01234v2`` -> ``2401.01234``)."""
    return re.sub(r"v\d+$", "", identifier)


def parse_arxiv_feed(body: bytes) -> dict[str, WorkMetadata] | None:
    """Every paper of an arXiv API answer, by id without version; None when it is no feed."""
    if not body or len(body) > MAX_BODY:
        return None
    try:
        root = ElementTree.fromstring(body)
    except Exception:  # malformed XML, or a DTD/entity defusedxml refuses
        return None
    if root.tag != f"{_ATOM}feed":
        return None
    found: dict[str, WorkMetadata] = {}
    for entry in root.iter(f"{_ATOM}entry"):
        entry_id = normalise_arxiv((entry.findtext(f"{_ATOM}id") or "").strip())
        if entry_id is None:
            continue  # an error entry (…/api/errors#…)
        title = _clean(entry.findtext(f"{_ATOM}title"))
        if not title or title.lower() == "error":
            continue
        authors = []
        for author in entry.findall(f"{_ATOM}author")[:MAX_AUTHORS]:
            name = _clean(author.findtext(f"{_ATOM}name"), 200)
            if name:
                authors.append(name)
        published = (entry.findtext(f"{_ATOM}published") or "").strip()
        match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", published)
        found.setdefault(
            bare_arxiv(entry_id),
            WorkMetadata(
                origin="arxiv",
                title=title,
                authors=tuple(authors),
                published_date=_iso(*match.groups()) if match else None,
                venue="arXiv",
                venue_id="arxiv",
                doi=normalise_doi(entry.findtext(f"{_ARXIV}doi") or ""),
                arxiv=entry_id,
            ),
        )
    return found


def parse_arxiv_atom(body: bytes, wanted: str | None = None) -> WorkMetadata | None:
    """The entry of an arXiv API answer (the one for ``wanted`` when given); None if none."""
    papers = parse_arxiv_feed(body) or {}
    if wanted is not None:
        return papers.get(bare_arxiv(wanted))
    return next(iter(papers.values()), None)


# --- Crossref ---------------------------------------------------------------------


def _date_parts(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    parts = value.get("date-parts")
    if not isinstance(parts, list) or not parts or not isinstance(parts[0], list):
        return None
    first = parts[0]
    if len(first) < 3:
        return None  # a year or a month is not a YYYY-MM-DD date
    return _iso(first[0], first[1], first[2])


def _first_string(value: Any) -> str | None:
    if isinstance(value, list):
        for entry in value[:10]:
            cleaned = _clean(entry)
            if cleaned:
                return cleaned
        return None
    return _clean(value)


def _crossref_author(author: Any) -> str | None:
    if not isinstance(author, dict):
        return None
    given = _clean(author.get("given"), 100)
    family = _clean(author.get("family"), 100)
    if family:
        return f"{given} {family}" if given else family
    return _clean(author.get("name"), 200)  # organisations and consortia


def parse_crossref_work(body: bytes) -> WorkMetadata | None:
    """The work of a Crossref ``/works/{doi}`` answer; None when the answer is not one."""
    if not body or len(body) > MAX_BODY:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    message = data.get("message")
    if data.get("message-type") not in (None, "work") or not isinstance(message, dict):
        return None
    title = _first_string(message.get("title"))
    authors = []
    raw_authors = message.get("author")
    if isinstance(raw_authors, list):
        for raw in raw_authors[:MAX_AUTHORS]:
            name = _crossref_author(raw)
            if name:
                authors.append(name)
    # The original publication: the earliest full date the work states.
    dates = [
        found
        for key in ("published", "published-online", "published-print", "issued")
        if (found := _date_parts(message.get(key)))
    ]
    issns = message.get("ISSN")
    issn = next((i for i in issns if isinstance(i, str)), None) if isinstance(issns, list) else None
    venue = _first_string(message.get("container-title"))
    if title is None and not authors:
        return None
    return WorkMetadata(
        origin="crossref",
        title=title,
        authors=tuple(authors),
        published_date=min(dates) if dates else None,
        venue=venue,
        venue_id=f"issn:{issn.strip()[:20]}" if issn and venue else None,
        doi=normalise_doi(message.get("DOI") or ""),
    )
