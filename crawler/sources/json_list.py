"""Sources lists in JSON: one array of entries, streamed with ijson."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

import ijson

from crawler.sources.entries import (
    SourceEntry,
    SourcesError,
    _open_binary,
    _open_text,
    entry_from_value,
)


def _check_json(path: str) -> None:
    with _open_binary(path) as f:
        first = _first_significant_byte(f)
        if first is None:
            return
        if first != b"[":
            raise SourcesError(path, "expected a JSON array of entries", 1)
        try:
            for _ in ijson.items(f, "item"):
                pass
        except ijson.JSONError as exc:
            raise _json_error(path) from exc


def _first_significant_byte(f: IO[bytes]) -> bytes | None:
    head = f.read(4096)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    f.seek(0)
    return stripped[:1] or None


def _json_error(path: str) -> SourcesError:
    # Only on the error path: let the standard parser find the line.
    with _open_text(path) as f:
        try:
            json.load(f)
        except json.JSONDecodeError as exc:
            return SourcesError(path, f"JSON syntax error: {exc.msg}", exc.lineno)
    return SourcesError(path, "JSON syntax error")


def _iter_json(path: str) -> Iterator[SourceEntry]:
    with _open_binary(path) as f:
        if _first_significant_byte(f) is None:
            return
        for index, value in enumerate(ijson.items(f, "item", use_float=True)):
            yield entry_from_value(value, f"{path}#{index}")


def check(path: str) -> None:
    """Parse a JSON list whole; raise :class:`SourcesError` when it is not an array of entries."""
    _check_json(path)


def iter_entries(path: str) -> Iterator[SourceEntry]:
    """Yield the entries of a JSON array, one at a time."""
    return _iter_json(path)
