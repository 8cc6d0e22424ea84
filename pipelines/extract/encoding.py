"""Decode response bodies to text the way a browser would, with one correction.

Order: byte-order mark, HTTP ``charset``, ``<meta charset>`` (or XML declaration),
then a UTF-8 validity check, then windows-1252 (the browsers' fallback for
undeclared pages). Pages that were re-saved as UTF-8 without fixing their
``<meta charset>`` are common, so a meta declaration loses to bytes that are
valid, non-ASCII UTF-8.
"""

from __future__ import annotations

import codecs
import logging

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
    to_unicode,
)

logger = logging.getLogger(__name__)

UTF8 = "utf-8"
FALLBACK = "cp1252"  # WHATWG's default for undeclared Western pages


def _cp1252_for_invalid_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read bytes that are not valid UTF-8 as windows-1252.

    Stray bytes in UTF-8 pages are nearly always legacy punctuation (NBSP,
    curly quotes, accented letters) pasted from another source.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode(FALLBACK, "replace"), exc.end


codecs.register_error("extract_cp1252_fallback", _cp1252_for_invalid_bytes)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode(UTF8)
    except UnicodeDecodeError:
        return False
    return True


def _looks_like_single_byte(body: bytes) -> bool:
    """True when the non-ASCII bytes contain no valid UTF-8 sequence at all.

    A page declared as UTF-8 with a few stray bytes keeps UTF-8; one whose every
    non-ASCII byte is invalid was almost certainly written in a legacy charset.
    """
    decoded = body.decode(UTF8, "replace")
    bad = decoded.count("\ufffd")
    good = len(decoded) - len(decoded.encode("ascii", "ignore")) - bad
    return bad > 0 and good == 0


def _safe_decode(body: bytes, encoding: str) -> str:
    try:
        if encoding == UTF8:
            return body.decode(UTF8, "extract_cp1252_fallback")
        return to_unicode(body, encoding)
    except (LookupError, ValueError) as exc:  # unknown or unusable codec
        logger.debug("decoding with %s failed: %s", encoding, exc)
        return body.decode(FALLBACK, "replace")


def detect_encoding(body: bytes, content_type: str | None, *, markup: bool = True) -> str:
    """Return the Python codec name to decode ``body`` with.

    ``content_type`` is the raw Content-Type header value; ``markup`` enables
    the ``<meta charset>`` look-up (off for plain text).
    """
    bom_encoding, _ = read_bom(body)
    if bom_encoding:
        return bom_encoding
    header_encoding = http_content_type_encoding(content_type) if content_type else None
    if header_encoding:
        return header_encoding
    declared: str | None = None
    if markup:
        try:
            declared = html_body_declared_encoding(body)
        except Exception as exc:  # w3lib's regexes on odd bytes; never fatal
            logger.debug("meta charset look-up failed: %s", exc)
    if declared:
        declared = resolve_encoding(declared) or None
    # A meta tag cannot really declare UTF-16/32: it was read as ASCII bytes.
    if declared and declared.startswith(("utf-16", "utf-32")):
        declared = UTF8
    if declared and declared != UTF8:
        if not body.isascii() and _is_utf8(body):
            return UTF8
        return declared
    if _is_utf8(body):
        return UTF8
    if declared == UTF8:
        return FALLBACK if _looks_like_single_byte(body) else UTF8
    return FALLBACK


def decode_body(body: bytes, content_type: str | None, *, markup: bool = True) -> str:
    """Decode ``body`` to ``str``; never raises (undecodable bytes become U+FFFD)."""
    encoding = detect_encoding(body, content_type, markup=markup)
    text = _safe_decode(body, encoding)
    # A BOM decoded by its codec may survive as U+FEFF at the start.
    return text.removeprefix("\ufeff")


__all__ = ["FALLBACK", "UTF8", "decode_body", "detect_encoding"]
