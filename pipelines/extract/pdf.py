"""PDF documents: text, title, authors, dates and identifiers with pypdf.

The Info dictionary is often useless ("Microsoft Word - draft3.docx",
"untitled", a file name) or absent, so the first page's layout is read too:
pypdf's text visitor reports every text run with its transformation matrix,
from which the run's rendered size and position follow. The title is the
largest upright text near the top of the first page (consecutive lines of that
size joined), the authors the short name-like lines just under it, the date
the first date written on the page. Placeholder titles never win.

Broken or encrypted files give whatever could be read (often nothing); pypdf's
own complaints about malformed files are silenced because they are expected.
"""

from __future__ import annotations

import io
import logging
import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pipelines.extract.identifiers import Identifiers, from_text, normalise_doi
from pipelines.extract.markup import squash
from pipelines.extract.metadata import normalise_language
from pipelines.extract.text import normalise_text

logger = logging.getLogger(__name__)

MAX_PAGES = 500  # bound the CPU spent on book-length PDFs
MAX_RUNS = 5000  # text runs of the first page looked at for its layout
MAX_TITLE = 400
# A paper states its date in its header; further down, dates are what the text is about.
FIRST_PAGE_DATE_CHARS = 3000
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")
# Info titles that name the file or the tool, not the document.
_JUNK_TITLE = re.compile(
    r"^(?:untitled\b|no title|microsoft (?:word|powerpoint|excel)\b|powerpoint presentation"
    r"|slide \d+$|document\d*$|title$|draft\d*$|preprint$|manuscript$|paper$|report$|doc\d*$"
    r"|article$|main$|layout \d+$|full page (?:photo|fax)|print$|scan\w*$|page \d+$"
    r"|.*\b(?:template|use style|paper title|insert title|your title|title goes here)\b"
    r"|\(?anonymous\)?$|arxiv:|pii:|doi:|10\.\d{4,9}/|\d+(?:[._-]\d+)*(?:v\d+)?$"
    r"|[a-z]:\\|/|~|.*\.(?:docx?|pdf|indd|tex|dvi|ps|pptx?|rtf|odt|pages|key|qxd|xlsx?)$)",
    re.IGNORECASE,
)
_JUNK_AUTHOR = re.compile(
    r"^(?:user|admin(?:istrator)?|owner|author|unknown|default|microsoft office user"
    r"|\w+'s? (?:pc|mac)"
    r"|.*\b(?:latex|pdftex|acrobat|distiller|ghostscript|libreoffice|openoffice)\b.*)$",
    re.IGNORECASE,
)
# The stamp arXiv prints up the left margin of every PDF, and similar running heads.
_STAMP = re.compile(r"^arXiv:\S+\s*\[[^\]]*\]", re.IGNORECASE)
_NOT_AUTHOR_LINE = re.compile(
    r"@|https?://|www\.|\b(?:abstract|university|universit\w+|institute|department|dept\.|school"
    r"|college|laborator\w*|lab|inc\.?|ltd|gmbh|corporation|centre|center|faculty|hospital"
    r"|introduction|keywords?|received|accepted|published|journal|vol\.|volume|proceedings"
    r"|conference|copyright|preprint|arxiv|doi|email|e-mail)\b",
    re.IGNORECASE,
)
# footnote marks after a title ("A Title*", "A Title†")
_TITLE_MARKS = re.compile(r"\s*[*\u2020\u2021\u00a7\u00b6\u2217]+$")
_NAME_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\u00b7|\u2022)\s*", re.IGNORECASE)
_NAME_MARKS = re.compile(r"[\d*\u2020\u2021\u00a7\u00b6\u2016#\u2217\u22c6\u2663\u2660\u2665]+")
_NAME_WORD = re.compile(r"^(?:[A-Z\u00c0-\u017f][\w'\u2019.\-]*|[a-z]{1,3}|[A-Z]\.)$")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_TEXT_DATES = (
    # 3 March 2021, 3 Mar. 2021
    (re.compile(rf"\b(\d{{1,2}})\s+({_MONTH})\.?,?\s+((?:19|20)\d\d)\b", re.I), (3, 2, 1)),
    # March 3, 2021
    (re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}}),?\s+((?:19|20)\d\d)\b", re.I), (3, 1, 2)),
    # 2021-03-03
    (re.compile(r"\b((?:19|20)\d\d)-(\d{2})-(\d{2})\b"), (1, 2, 3)),
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
    identifiers: Identifiers = field(default_factory=Identifiers)


@dataclass(slots=True)
class _Line:
    """One line of the first page: its text, rendered size and baseline height.

    ``segments`` are the runs of the line that a wide gap separates (authors
    set in columns); ``end`` estimates where the last run ends horizontally.
    """

    text: str
    size: float
    y: float
    end: float = 0.0
    segments: list[str] = field(default_factory=list)


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


def is_placeholder_title(title: str | None) -> bool:
    """Whether a title names a file, a tool or a template rather than the document."""
    if not title:
        return True
    cleaned = title.strip().strip("\"'")
    return (
        bool(_JUNK_TITLE.match(cleaned))
        or not any(ch.isalpha() for ch in cleaned)
        or len(cleaned) < 3
    )


def _metadata_title(info: Any) -> str | None:
    title = squash(str(info.get("/Title") or "")) if info else None
    if title and not is_placeholder_title(title):
        return title[:MAX_TITLE]
    return None


def _first_line(text: str | None) -> str | None:
    """The first line with words: the title of last resort when the layout shows none."""
    for line in (text or "").split("\n")[:50]:
        line = line.strip()
        if len(line) >= 4 and any(ch.isalpha() for ch in line) and not _STAMP.match(line):
            return None if is_placeholder_title(line) else line[:300]
    return None


def _metadata_authors(info: Any) -> tuple[str, ...]:
    raw = squash(str(info.get("/Author") or "")) if info else None
    if not raw or _JUNK_AUTHOR.match(raw):
        return ()
    names = (squash(part) for part in re.split(r"[;,]|\band\b|&", raw))
    return tuple(name for name in names if name and not _JUNK_AUTHOR.match(name))[:50]


# --- the first page's layout ---------------------------------------------------------


def _first_page_lines(page: Any) -> tuple[str, list[_Line]]:
    """The page's text and its lines in drawing order, each with its rendered size."""
    lines: list[_Line] = []

    def visit(text: Any, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if len(lines) >= MAX_RUNS or not isinstance(text, str):
            return
        try:
            # The run's text space mapped to the page: size is the length of
            # the mapped unit vertical, position the mapped origin.
            a, b, c, d, e, f = (float(v) for v in tm)
            ca, cb, cc, cd, ce, cf = (float(v) for v in cm)
            m_b = a * cb + b * cd
            m_c = c * ca + d * cc
            m_d = c * cb + d * cd
            x = e * ca + f * cc + ce
            y = e * cb + f * cd + cf
            rendered = float(size) * math.hypot(m_c, m_d)
        except (TypeError, ValueError):
            return
        if m_d <= 0 or abs(m_b) > 0.05 * m_d or abs(m_c) > 0.05 * m_d:
            return  # rotated or mirrored: margin stamps, not the title block
        for index, part in enumerate(text.split("\n")):
            part = squash(part) or ""
            if not part:
                continue
            last = lines[-1] if lines else None
            same_line = (
                index == 0
                and last is not None
                and abs(last.size - rendered) < 0.6
                and abs(last.y - y) < max(1.0, rendered * 0.4)
            )
            # half an em a character: a rough width, enough to tell a word
            # space from the gap between columns
            width = len(part) * rendered * 0.5
            if same_line and last is not None:
                last.text = f"{last.text} {part}"
                if index == 0 and x > last.end + 2.0 * rendered:
                    last.segments.append(part)
                else:
                    last.segments[-1] = f"{last.segments[-1]} {part}"
                last.end = max(last.end, x + width) if index == 0 else last.end + width
            else:
                lines.append(_Line(part, round(rendered, 1), y, x + width, [part]))

    text = page.extract_text(visitor_text=visit) or ""
    return text, lines


def _block_at(lines: list[_Line], start: int) -> tuple[str | None, int]:
    """The text of the lines from ``start`` set in its size (a title over several lines)."""
    size = lines[start].size
    parts = [lines[start].text]
    end = start + 1
    while end < len(lines) and len(parts) < 4:
        line = lines[end]
        gap = lines[end - 1].y - line.y
        if abs(line.size - size) >= 0.6 or gap > size * 2.2 or gap < 0:
            break
        parts.append(line.text)
        end += 1
    title = parts[0]
    for part in parts[1:]:
        if re.search(r"\w-$", title):
            # a word broken at the line end ("Hydro-" "corals"), or a compound
            # that keeps its hyphen ("Large-" "Scale")
            title = title[:-1] + part if part[:1].islower() else title + part
        else:
            title = f"{title} {part}"
    title = squash(title) or ""
    return (_TITLE_MARKS.sub("", title) or None), end


def _title_block(lines: list[_Line]) -> tuple[str | None, int]:
    """The title (largest upright text near the top) and the index of the line after it.

    The largest text is taken unless it is a single word (a journal's or a
    publisher's name set big above the title): then the next size down that
    still stands out from the body text, when it has one.
    """
    candidates = [
        (i, line)
        for i, line in enumerate(lines[:200])
        if any(ch.isalpha() for ch in line.text)
        and len(line.text) >= 3
        and not _STAMP.match(line.text)
    ]
    if not candidates:
        return None, 0
    body = sorted(line.size for _, line in candidates)[len(candidates) // 2]
    sizes = sorted({line.size for _, line in candidates}, reverse=True)
    if sizes[0] < body * 1.15 and len(candidates) > 3:
        return None, 0  # no text stands out: no layout title
    fallback: tuple[str | None, int] = (None, 0)
    for size in sizes[:4]:
        if size < body * 1.15 and size != sizes[0]:
            break
        start = next(i for i, line in candidates if abs(line.size - size) < 0.01)
        title, end = _block_at(lines, start)
        if title is None or is_placeholder_title(title) or len(title) > MAX_TITLE:
            continue
        if len(title.split()) >= 2:
            return title, end
        if fallback[0] is None:
            fallback = (title, end)
    return fallback


def _author_names(line: str) -> list[str] | None:
    """The names on an author line; None when the line is not one."""
    if _NOT_AUTHOR_LINE.search(line) or len(line) > 300:
        return None
    names = []
    for part in _NAME_SPLIT.split(_NAME_MARKS.sub(" ", line)):
        name = squash(part.strip(" ,.;:()"))
        if not name:
            continue
        words = name.split()
        if not 2 <= len(words) <= 5 or not all(_NAME_WORD.match(w) for w in words):
            return None
        if not words[0][0].isupper() or not words[-1][0].isupper():
            return None
        names.append(name)
    return names or None


def _layout_authors(lines: list[_Line], after: int) -> tuple[str, ...]:
    """Names on the lines under the title, up to the first line that is not an author line."""
    names: list[str] = []
    for line in lines[after : after + 6]:
        parts = [_author_names(segment) for segment in line.segments or [line.text]]
        if any(found is None for found in parts):
            if names:
                break
            continue  # a subtitle or a blank-ish line between title and authors
        names.extend(name for found in parts for name in found or ())
    return tuple(dict.fromkeys(names))[:50]


def date_in_text(text: str | None) -> date | None:
    """The first full date in the head of ``text`` (``3 March 2021``, ``March 3, 2021``, ISO)."""
    if not text:
        return None
    best: tuple[int, date] | None = None
    head = text[:FIRST_PAGE_DATE_CHARS]
    for pattern, (yi, mi, di) in _TEXT_DATES:
        for match in pattern.finditer(head):
            month_text = match[mi]
            month = int(month_text) if month_text.isdigit() else _MONTHS[month_text.lower()]
            try:
                found = date(int(match[yi]), month, int(match[di]))
            except ValueError:
                continue
            if best is None or match.start() < best[0]:
                best = (match.start(), found)
            break
    return best[1] if best else None


def _info_identifiers(info: Any) -> Identifiers:
    """Identifiers publishers write into the Info dictionary (``/doi``, ``/Subject``)."""
    if not info:
        return Identifiers()
    found = Identifiers()
    for key in ("/doi", "/DOI", "/prism:doi"):
        doi = normalise_doi(str(info.get(key) or ""))
        if doi:
            found = found.merge(Identifiers(doi=doi))
    stated = " ".join(str(info.get(key) or "") for key in ("/Subject", "/Keywords", "/Title"))
    return found.merge(from_text(stated))


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
    lines: list[_Line] = []
    try:
        for index, page in enumerate(reader.pages):
            if index >= MAX_PAGES:
                break
            try:
                if index == 0:
                    first, lines = _first_page_lines(page)
                    pages.append(first)
                else:
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
    layout_title, after = _title_block(lines)
    first_page = pages[0] if pages else None
    published = parse_pdf_date(info.get("/CreationDate")) if info else None
    # A date the first page states beats the file's creation date (a re-save).
    stated = date_in_text(first_page)
    return PdfFields(
        title=_metadata_title(info) or layout_title or _first_line(text),
        authors=_metadata_authors(info) or (_layout_authors(lines, after) if layout_title else ()),
        published=stated or published,
        modified=parse_pdf_date(info.get("/ModDate")) if info else None,
        language=language,
        text=text,
        identifiers=_info_identifiers(info).as_stated().merge(from_text(first_page)),
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
