"""Sources lists in JSON Lines: one entry per line; a line that does not parse is a bad entry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

import jsonlines

from crawler.sources.entries import SourceEntry, _open_text, entry_from_value, read_through


class _NumberedLines:
    """The lines of a text file, counted: jsonlines names only the lines it cannot parse."""

    def __init__(self, f: IO[str]) -> None:
        self.f = f
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        for line in self.f:
            self.number += 1
            yield line


def _iter_jsonl(path: str) -> Iterator[SourceEntry]:
    with _open_text(path) as f:
        lines = _NumberedLines(f)
        reader = jsonlines.Reader(lines)
        while True:
            try:
                value = reader.read(skip_empty=True)
            except EOFError:
                return
            except jsonlines.InvalidLineError as exc:
                cause = exc.__cause__
                why = cause.msg if isinstance(cause, json.JSONDecodeError) else str(exc)
                origin = f"{path}:{exc.lineno}"
                yield SourceEntry(url=None, origin=origin, problem=f"line is not valid JSON: {why}")
                continue
            yield entry_from_value(value, f"{path}:{lines.number}")


def check(path: str) -> None:
    """Read the file through (each line is judged on its own, as an entry)."""
    read_through(path)


def iter_entries(path: str) -> Iterator[SourceEntry]:
    """Yield one entry per non-empty line."""
    return _iter_jsonl(path)
