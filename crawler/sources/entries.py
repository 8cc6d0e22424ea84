"""What every sources-list format shares: the entry, the error, opening files, values to entries.

A format module (``yaml_list``, ``json_list``, ``jsonl_list``, ``csv_list``,
``text_list``) exposes ``check(path)`` and ``iter_entries(path)`` and builds
its entries with :func:`entry_from_value`; :mod:`crawler.sources.registry`
picks the module by file extension.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from typing import IO, Any, cast

_ID_KEYS = ("id", "stable_id")


class SourcesError(Exception):
    """A sources file or argument that cannot be read; the run must stop."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


@dataclass(slots=True)
class SourceEntry:
    """One entry of a source list, as given.

    ``url`` is the URL exactly as written (surrounding white space removed),
    or None when the entry has none. ``fields`` holds every other key of the
    entry, passed through to the record untouched. ``origin`` says where the
    entry was read (``path:line``), for error messages.
    """

    url: str | None
    origin: str
    id: str | None = None
    stable_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def _open_binary(path: str) -> IO[bytes]:
    if path.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


def _open_text(path: str) -> IO[str]:
    # utf-8-sig: spreadsheets and Windows editors often start files with a BOM
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="")


def read_through(path: str) -> None:
    """Read a text file to its end (its lines are checked as they are read)."""
    with _open_text(path) as f:
        for _ in f:
            pass


def entry_from_value(value: Any, origin: str) -> SourceEntry:
    """Turn one parsed value (a mapping or a bare URL string) into an entry."""
    if isinstance(value, str):
        url = value.strip()
        return SourceEntry(url=url or None, origin=origin, problem=None if url else "empty URL")
    if not isinstance(value, dict):
        return SourceEntry(
            url=None,
            origin=origin,
            fields={"value": value} if _is_json_scalar(value) else {},
            problem=f"entry is a {type(value).__name__}, not a mapping with a url",
        )
    fields = dict(value)
    raw_url = fields.pop("url", None)
    ids = {k: _id_text(fields.pop(k, None)) for k in _ID_KEYS}
    entry = SourceEntry(
        url=None, origin=origin, id=ids["id"], stable_id=ids["stable_id"], fields=fields
    )
    if isinstance(raw_url, str) and raw_url.strip():
        entry.url = raw_url.strip()
    elif raw_url is None or raw_url == "":
        entry.problem = "entry has no url"
    else:
        entry.problem = f"url is a {type(raw_url).__name__}, not a string"
    return entry


def _is_json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _id_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
