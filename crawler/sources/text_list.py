"""Sources lists in plain text: one URL per line; blank lines and ``#`` comments skipped."""

from __future__ import annotations

from collections.abc import Iterator

from crawler.sources.entries import SourceEntry, _open_text, entry_from_value, read_through


def _iter_text(path: str) -> Iterator[SourceEntry]:
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            text = line.strip()
            if text and not text.startswith("#"):
                yield entry_from_value(text, f"{path}:{lineno}")


def check(path: str) -> None:
    """Read the file through (it must be UTF-8 text)."""
    read_through(path)


def iter_entries(path: str) -> Iterator[SourceEntry]:
    """Yield one entry per URL line."""
    return _iter_text(path)
