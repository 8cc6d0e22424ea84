"""Previews of the main text, cut at a word boundary."""

from __future__ import annotations

import re

_LAST_WORD = re.compile(r"\s\S*\Z")


def make_preview(text: str | None, limit: int) -> tuple[str | None, bool]:
    """Return the first ``limit`` characters of ``text``, cut at a word boundary, and if it was cut.

    The cut never falls inside a word and leaves no trailing whitespace; a single
    word longer than ``limit`` is hard-cut. ``None`` (or empty) text gives
    ``(None, False)``.
    """
    if not text:
        return None, False
    stripped = text.rstrip()
    if len(stripped) <= limit:
        return stripped, False
    if limit <= 0:
        return "", True
    head = stripped[:limit]
    if not stripped[limit].isspace():
        # Back off to the whitespace before the partial last word.
        match = _LAST_WORD.search(head)
        if match and head[: match.start()].strip():
            head = head[: match.start()]
    return head.rstrip(), True
