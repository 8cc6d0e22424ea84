"""Read source lists: YAML, JSON, JSON Lines, CSV and plain text, streamed.

A source list names the pages to crawl. Entries are produced one at a time
so that a list of any length is never held in memory. Two kinds of problem
are kept apart:

* a file that cannot be read as a whole (a YAML or JSON syntax error, a CSV
  without a ``url`` column, a missing file) raises :class:`SourcesError`
  from :func:`check_sources`, which the crawl calls before fetching anything;
* a single bad entry (no URL, not a mapping, a JSON Lines line that does not
  parse) is yielded as a :class:`SourceEntry` whose ``problem`` says what is
  wrong, so that it becomes an error record instead of vanishing.

Each format is read by its own module (``yaml_list``, ``json_list``,
``jsonl_list``, ``csv_list``, ``text_list``), chosen by extension in
:mod:`crawler.sources.registry`; ``s3://`` lists are downloaded first
(:mod:`crawler.sources.s3download`).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator

from crawler.sources.entries import SourceEntry, SourcesError, entry_from_value
from crawler.sources.registry import FORMATS, format_of, reader_for


def resolve_sources(spec: str, *, exclude: Iterable[str] = ()) -> list[str]:
    """Expand a file, directory or glob into the sorted list of files to read.

    Directories are read recursively; hidden files and files of unknown
    format inside them are skipped. A named file is read whatever its
    extension (unknown ones as plain text). ``exclude`` removes files such
    as the publications list that may sit in the same directory.
    """
    excluded = {os.path.realpath(p) for p in exclude}
    if any(ch in spec for ch in "*?["):
        candidates = sorted(p for p in glob.glob(spec, recursive=True) if os.path.isfile(p))
        files = [p for p in candidates if format_of(p)]
        if not files:
            raise SourcesError(spec, "the pattern matches no sources file")
    elif os.path.isdir(spec):
        files = []
        for root, dirs, names in os.walk(spec):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            files.extend(
                os.path.join(root, n) for n in names if not n.startswith(".") and format_of(n)
            )
        files.sort()
        if not files:
            raise SourcesError(spec, "the directory holds no sources file")
    elif os.path.isfile(spec):
        files = [spec]
    else:
        raise SourcesError(spec, "no such file or directory")
    return [p for p in files if os.path.realpath(p) not in excluded]


def check_sources(paths: Iterable[str]) -> None:
    """Read every file once without keeping entries; raise SourcesError on the first bad one."""
    for path in paths:
        try:
            reader_for(path).check(path)
        except SourcesError:
            raise
        except UnicodeDecodeError as exc:
            raise SourcesError(path, f"not UTF-8 text ({exc.reason})") from exc
        except (OSError, EOFError) as exc:
            raise SourcesError(path, f"cannot be read: {exc}") from exc


def iter_entries(paths: Iterable[str]) -> Iterator[SourceEntry]:
    """Yield the entries of every file in order, one at a time."""
    for path in paths:
        yield from reader_for(path).iter_entries(path)


__all__ = [
    "FORMATS",
    "SourceEntry",
    "SourcesError",
    "check_sources",
    "entry_from_value",
    "format_of",
    "iter_entries",
    "resolve_sources",
]
