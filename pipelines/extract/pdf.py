"""PDF documents: text, title, authors and dates with pypdf.

Broken or encrypted files give whatever could be read (often nothing); pypdf's
own complaints about malformed files are silenced because they are expected.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipelines.extract.markup import squash
from pipelines.extract.metadata import normalise_language
from pipelines.extract.text import normalise_text

logger = logging.getLogger(__name__)

MAX_PAGES = 500  # bound the CPU spent on book-length PDFs
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")
_JUNK_TITLE = re.compile(
    r"^(?:untitled|microsoft (?:word|powerpoint)|document\d*|title"
    r"|\w+\.(?:docx?|pdf|indd|tex|dvi))",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class PdfFields:
    """What a PDF yields; any field may be missing."""

    title: str | None = None
    authors: tuple[str, ...] = ()
    published: date | None = None
    modified: date | None = None
    language: str | None = None
    text: str | None = None


def parse_pdf_date(value: Any) -> date | None:
    """Parse a PDF date string (``D:YYYYMMDDHHmmSS+HH'mm'``) to a calendar date."""
    if not isinstance(value, str):
        return None
    match = _PDF_DATE.match(value.strip())
    if not match or not match[2] or not match[3]:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _metadata_title(info: Any) -> str | None:
    title = squash(str(info.get("/Title") or "")) if info else None
    if title and not _JUNK_TITLE.match(title) and any(ch.isalpha() for ch in title):
        return title[:400]
    return None


def _first_line(text: str | None) -> str | None:
    for line in (text or "").split("\n"):
        line = line.strip()
        if len(line) >= 4 and any(ch.isalpha() for ch in line):
            return line[:300]
    return None


def _authors(info: Any) -> tuple[str, ...]:
    raw = squash(str(info.get("/Author") or "")) if info else None
    if not raw:
        return ()
    return tuple(name for name in (squash(part) for part in re.split(r"[;,]|\band\b", raw)) if name)


def _read(body: bytes) -> PdfFields:
    # Imported on the first PDF: 13 MB of every extraction worker otherwise,
    # whether or not the night has any PDF.
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(body), strict=False)
    if reader.is_encrypted:
        try:
            reader.decrypt("")  # many "protected" PDFs only restrict printing
        except Exception as exc:
            logger.debug("encrypted PDF: %s", exc)
            return PdfFields()
    info = None
    try:
        info = reader.metadata
    except Exception as exc:
        logger.debug("PDF metadata unreadable: %s", exc)
    pages: list[str] = []
    try:
        for index, page in enumerate(reader.pages):
            if index >= MAX_PAGES:
                break
            try:
                pages.append(page.extract_text() or "")
            except Exception as exc:  # one bad page must not lose the rest
                logger.debug("PDF page %d unreadable: %s", index, exc)
    except Exception as exc:
        logger.debug("PDF page tree unreadable: %s", exc)
    text = normalise_text("\n\n".join(pages))
    language = None
    try:
        language = normalise_language(str(reader.root_object.get("/Lang") or ""))
    except Exception:
        language = None
    return PdfFields(
        title=_metadata_title(info) or _first_line(text),
        authors=_authors(info),
        published=parse_pdf_date(info.get("/CreationDate")) if info else None,
        modified=parse_pdf_date(info.get("/ModDate")) if info else None,
        language=language,
        text=text,
    )


def extract_pdf(body: bytes) -> PdfFields:
    """Read a PDF body; never raises (a broken file gives empty fields)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _read(body)
    except Exception as exc:
        logger.debug("unreadable PDF: %s", exc)
        return PdfFields()
