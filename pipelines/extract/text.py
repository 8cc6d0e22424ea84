"""Main text of a document, normalised to paragraphs separated by a blank line."""

from __future__ import annotations

import logging
import re

import trafilatura

logger = logging.getLogger(__name__)

# Control characters (except tab and newline), BOMs and zero-width spaces carry
# no text and break downstream JSON/XML consumers.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\ufeff]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n")
# trafilatura renders tables as Markdown-like rows: "| a | b |" and "|---|---|".
_TABLE_ROW = re.compile(r"^\|.*\|$")
_TABLE_RULE = re.compile(r"^\|?[\s:|-]*-[\s:|-]*\|?$")


def _clean_line(line: str) -> str:
    return _SPACES.sub(" ", line).strip()


def normalise_text(raw: str | None) -> str | None:
    """Normalise plain text: paragraphs (blank-line separated) keep their inner line breaks."""
    if not raw:
        return None
    raw = _INVISIBLE.sub("", raw.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = []
    for block in _BLANK_LINES.split(raw):
        lines = [line for line in (_clean_line(x) for x in block.split("\n")) if line]
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs) or None


def lines_to_paragraphs(raw: str | None) -> str | None:
    """Turn one-block-per-line text (trafilatura's ``txt``) into blank-line separated paragraphs.

    Consecutive table rows stay together as one paragraph, one row per line,
    cells separated by `` | ``; Markdown rule lines are dropped.
    """
    if not raw:
        return None
    raw = _INVISIBLE.sub("", raw.replace("\r", "\n"))
    paragraphs: list[str] = []
    table: list[str] = []
    for line in (_clean_line(x) for x in raw.split("\n")):
        if line and _TABLE_ROW.match(line):
            if not _TABLE_RULE.match(line):
                cells = (cell.strip() for cell in line.strip("|").split("|"))
                row = " | ".join(cell for cell in cells if cell)
                if row:
                    table.append(row)
            continue
        if table:
            paragraphs.append("\n".join(table))
            table = []
        if line:
            paragraphs.append(line)
    if table:
        paragraphs.append("\n".join(table))
    return "\n\n".join(paragraphs) or None


def drop_leading_title(text: str | None, title: str | None) -> str | None:
    """Remove a first paragraph that only repeats the headline (kept apart in ``title``)."""
    if not text or not title:
        return text
    first, _, rest = text.partition("\n\n")
    if rest and _comparable(first) == _comparable(title):
        return rest
    return text


def _comparable(value: str) -> str:
    return re.sub(r"\W+", " ", value).strip().casefold()


def html_main_text(html: str, url: str) -> str | None:
    """Main text of an HTML page with trafilatura, without comments; ``None`` if nothing.

    Tables are kept (as rows of cells): on the evaluation corpus they are part of
    the article text more often than page furniture.
    """
    try:
        raw = trafilatura.extract(
            html,
            url=url or None,
            include_comments=False,
            include_tables=True,
            output_format="txt",
            with_metadata=False,
        )
    except Exception as exc:  # trafilatura on pathological markup
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return None
    return lines_to_paragraphs(raw)
