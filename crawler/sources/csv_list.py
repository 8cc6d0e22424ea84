"""Sources lists in CSV: a header with a ``url`` column; the other columns pass through."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from crawler.sources.entries import SourceEntry, SourcesError, _open_text, entry_from_value

_CSV_FIELD_LIMIT = 10 * 1024 * 1024


def _csv_reader(f: IO[str]) -> csv.DictReader[str]:
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    return csv.DictReader(f)


def _csv_url_column(path: str) -> str:
    with _open_text(path) as f:
        try:
            header = _csv_reader(f).fieldnames or []
        except csv.Error as exc:
            raise SourcesError(path, f"CSV error: {exc}", 1) from exc
    for name in header:
        if name and name.strip().lower() == "url":
            return name
    raise SourcesError(path, f"CSV header has no 'url' column (columns: {', '.join(header)})", 1)


def _iter_csv(path: str) -> Iterator[SourceEntry]:
    url_column = _csv_url_column(path)
    with _open_text(path) as f:
        reader = _csv_reader(f)
        for row in reader:
            origin = f"{path}:{reader.line_num}"
            # Empty cells are absent values, not empty strings, in the pass-through.
            value = {
                ("url" if k == url_column else k.strip()): v
                for k, v in row.items()
                if k is not None and v not in (None, "")
            }
            if not value:
                continue
            yield entry_from_value(value, origin)


def check(path: str) -> None:
    """Read the header; raise :class:`SourcesError` when it has no ``url`` column."""
    _csv_url_column(path)


def iter_entries(path: str) -> Iterator[SourceEntry]:
    """Yield one entry per non-empty row."""
    return _iter_csv(path)
