"""Decide what a response body is: HTML, PDF, plain text or something else."""

from __future__ import annotations

import re
from collections.abc import Mapping

from w3lib.encoding import read_bom

HTML_MIMES = frozenset({"text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml"})
PDF_MIMES = frozenset({"application/pdf", "application/x-pdf"})
# Labels servers use when they do not know: sniff the body instead.
UNKNOWN_MIMES = frozenset(
    {"application/octet-stream", "binary/octet-stream", "application/unknown", "unknown/unknown"}
)

# Signatures containing non-text bytes; ASCII-only ones ("GIF8", "RIFF") could
# start a genuine text, and those files contain NUL bytes anyway.
_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x01\x00",
    b"7z\xbc\xaf",
    b"Rar!\x1a",
    b"\x7fELF",
    b"\xd0\xcf\x11\xe0",
)
_HTML_START = re.compile(
    rb"^\s*(?:<!doctype\s+html|<html|<head|<body|<title|<meta|<script|<!--|<div|<p[\s>]|<h1)",
    re.IGNORECASE,
)
_HTML_ANYWHERE = re.compile(rb"<html[\s>]|<body[\s>]|<head[\s>]", re.IGNORECASE)
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_SNIFF_BYTES = 1024


def mime_type(headers: Mapping[str, str]) -> str | None:
    """The Content-Type media type, lowercased and without parameters."""
    raw = headers.get("content-type") or ""
    mime = raw.split(";", 1)[0].strip().lower()
    return mime or None


def looks_binary(body: bytes) -> bool:
    """Whether the start of ``body`` is a known binary format or mostly control bytes."""
    head = body[:_SNIFF_BYTES]
    if read_bom(head)[0]:
        return False  # UTF-16/32 text legitimately contains NUL bytes
    if head.startswith(_MAGIC) and not _HTML_START.match(head):
        return True
    if b"\x00" in head:
        return True
    return len(_CONTROL.findall(head)) > len(head) // 20


def looks_html(body: bytes) -> bool:
    """WHATWG-style sniffing: the body starts with (or soon contains) HTML markup."""
    head = body[:_SNIFF_BYTES]
    encoding, bom = read_bom(head)
    if encoding and bom:
        head = head[len(bom) :].decode(encoding, "ignore").encode("utf-8", "ignore")
    return bool(_HTML_START.match(head) or _HTML_ANYWHERE.search(head))


def classify(body: bytes, mime: str | None) -> str | None:
    """Return ``"html"``, ``"pdf"``, ``"text"``, ``"other"``, or ``None`` for an empty body."""
    if not body or not body.strip():
        return None
    if mime in PDF_MIMES or body[:_SNIFF_BYTES].lstrip().startswith(b"%PDF-"):
        return "pdf"
    if looks_binary(body):
        return "other"  # whatever the label says, there is no text to extract
    if mime in HTML_MIMES:
        return "html"
    if mime is None or mime in UNKNOWN_MIMES:
        if looks_html(body):
            return "html"
        return "text" if mime is None else "other"
    if mime.startswith("text/"):
        return "text"
    if mime.endswith(("/xml", "+xml")) and looks_html(body):
        return "html"
    return "other"
