"""Which module reads which sources file: the registry by extension.

A new format is one module with ``check(path)`` and ``iter_entries(path)``
(see :mod:`crawler.sources.entries`) and its extensions here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Protocol

from crawler.sources import csv_list, json_list, jsonl_list, text_list, yaml_list
from crawler.sources.entries import SourceEntry


class SourceFormat(Protocol):
    """What a format module offers."""

    def check(self, path: str) -> None:
        """Read the file whole; raise ``SourcesError`` when it cannot be read as a list."""
        ...

    def iter_entries(self, path: str) -> Iterator[SourceEntry]:
        """Yield the file's entries one at a time."""
        ...


FORMATS = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".txt": "text",
    ".list": "text",
}
#: the module of each format name
READERS: dict[str, SourceFormat] = {
    "yaml": yaml_list,
    "json": json_list,
    "jsonl": jsonl_list,
    "csv": csv_list,
    "text": text_list,
}


def format_of(path: str) -> str | None:
    """Return the format name for a file name, looking through ``.gz``."""
    name = path.lower().removesuffix(".gz")
    return FORMATS.get(os.path.splitext(name)[1])


def reader_for(path: str) -> SourceFormat:
    """The format module that reads ``path`` (plain text when the extension is unknown)."""
    return READERS[format_of(path) or "text"]
