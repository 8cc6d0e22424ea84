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
import importlib.util
import sys
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


def prepare_worker() -> None:
    """Set an extraction worker process up before it imports the extractor (the pool's initializer).

    Two process-level savings, neither of which changes what is extracted:

    - extruct's package ``__init__`` imports every syntax it supports (RDFa
      through rdflib and pyRdfa, microformats through mf2py, BeautifulSoup,
      html5lib and requests): about 230 modules and 9 MB that an extraction
      worker never uses, since only :mod:`extruct.jsonld` is read. The
      package is registered without running its ``__init__``, so that
      ``extruct.jsonld`` and what it imports load as they are.
    - trafilatura's jusText fallback, on a page of no known language, builds
      a tuple of every stoplist's words (about 150,000 strings) and jusText's
      ``define_stoplist`` caches a lowercased copy of it: two copies, 27 MB of
      Python objects per worker. Here the lowercased set is built once and
      used as both.

    Only for worker processes: ``import extruct`` then gives a package
    without its top-level names.
    """
    _register_extruct_package()
    _share_justext_stoplist()


def _register_extruct_package() -> None:
    if "extruct" in sys.modules:
        return
    spec = importlib.util.find_spec("extruct")
    if spec is None or spec.submodule_search_locations is None:
        return  # not installed, or not a package: the normal import will say so
    # A module made from the spec, not executed: its __path__ is set, so its
    # submodules import normally.
    sys.modules["extruct"] = importlib.util.module_from_spec(spec)


def _share_justext_stoplist() -> None:
    import justext.core
    import trafilatura.external
    from justext.utils import get_stoplist, get_stoplists

    define_stoplist = justext.core.define_stoplist

    def stoplist_init() -> frozenset[str]:
        # The set define_stoplist would make of trafilatura's tuple: the same words, lowercased.
        words = frozenset(w.lower() for lang in get_stoplists() for w in get_stoplist(lang))
        trafilatura.external.JT_STOPLIST = words  # type: ignore[assignment]
        return words

    def shared_stoplist(stoplist: Any) -> Any:
        if stoplist is trafilatura.external.JT_STOPLIST:
            return stoplist  # already lowercased and frozen: define_stoplist's result
        return define_stoplist(stoplist)

    # Both are looked up by name at each call (try_justext, classify_paragraphs).
    trafilatura.external.jt_stoplist_init = stoplist_init  # type: ignore[assignment]
    justext.core.define_stoplist = shared_stoplist


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
