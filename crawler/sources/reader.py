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
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import ijson
import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import Resolver

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
_ID_KEYS = ("id", "stable_id")
_CSV_FIELD_LIMIT = 10 * 1024 * 1024


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


def format_of(path: str) -> str | None:
    """Return the format name for a file name, looking through ``.gz``."""
    name = path.lower().removesuffix(".gz")
    return FORMATS.get(os.path.splitext(name)[1])


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


def _open_binary(path: str) -> IO[bytes]:
    if path.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


def _open_text(path: str) -> IO[str]:
    # utf-8-sig: spreadsheets and Windows editors often start files with a BOM
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="")


def check_sources(paths: Iterable[str]) -> None:
    """Read every file once without keeping entries; raise SourcesError on the first bad one."""
    for path in paths:
        try:
            fmt = format_of(path) or "text"
            if fmt == "yaml":
                _check_yaml(path)
            elif fmt == "json":
                _check_json(path)
            elif fmt == "csv":
                _csv_url_column(path)
            else:
                with _open_text(path) as f:
                    for _ in f:
                        pass
        except SourcesError:
            raise
        except UnicodeDecodeError as exc:
            raise SourcesError(path, f"not UTF-8 text ({exc.reason})") from exc
        except (OSError, EOFError) as exc:
            raise SourcesError(path, f"cannot be read: {exc}") from exc


def iter_entries(paths: Iterable[str]) -> Iterator[SourceEntry]:
    """Yield the entries of every file in order, one at a time."""
    readers = {"yaml": _iter_yaml, "json": _iter_json, "jsonl": _iter_jsonl, "csv": _iter_csv}
    for path in paths:
        reader = readers.get(format_of(path) or "text", _iter_text)
        yield from reader(path)


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


# --- YAML -------------------------------------------------------------------


def _make_streaming_loader() -> type[Any]:
    """A safe loader whose ``compose_node`` can take one sequence item at a time.

    libyaml's C parser makes this about six times faster than pure Python;
    PyYAML's own SafeLoader already has every piece when libyaml is absent.
    """
    # Dates stay the text that was written (``published_date: 2025-10-13``
    # passes through as that string, not as a date object).
    resolvers = {
        first: [r for r in found if r[0] != "tag:yaml.org,2002:timestamp"]
        for first, found in Resolver.yaml_implicit_resolvers.items()
    }
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - PyYAML built without libyaml

        class PyStreamingLoader(yaml.SafeLoader):
            yaml_implicit_resolvers = resolvers

        return PyStreamingLoader

    class CStreamingLoader(CParser, Composer, SafeConstructor, Resolver):
        yaml_implicit_resolvers = resolvers

        def __init__(self, stream: IO[bytes]) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    return CStreamingLoader


_StreamingYamlLoader = _make_streaming_loader()


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _yaml_error(path: str, exc: yaml.YAMLError) -> SourcesError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return SourcesError(path, message, line)


def _check_yaml(path: str) -> None:
    with _open_binary(path) as f:
        loader = _StreamingYamlLoader(f)
        try:
            depth = 0
            top_kind: str | None = None
            while loader.check_event():
                event = loader.get_event()
                if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                    if depth == 0 and top_kind is None:
                        top_kind = type(event).__name__
                        if isinstance(event, yaml.MappingStartEvent):
                            raise SourcesError(
                                path,
                                "expected a list of entries at the top level, found a mapping",
                                _line(event.start_mark),
                            )
                    depth += 1
                elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                    depth -= 1
                elif isinstance(event, yaml.DocumentStartEvent) and top_kind is not None:
                    raise SourcesError(
                        path, "expected one YAML document, found several", _line(event.start_mark)
                    )
        except yaml.YAMLError as exc:
            raise _yaml_error(path, exc) from exc
        finally:
            loader.dispose()


def _iter_yaml(path: str) -> Iterator[SourceEntry]:
    with _open_binary(path) as f:
        loader = _StreamingYamlLoader(f)
        try:
            loader.get_event()  # StreamStart
            if loader.check_event(yaml.StreamEndEvent):
                return
            loader.get_event()  # DocumentStart
            if not loader.check_event(yaml.SequenceStartEvent):
                node = loader.compose_node(None, None)
                value = loader.construct_document(node)
                if value is not None:  # an empty document is an empty list
                    yield entry_from_value(value, f"{path}:{node.start_mark.line + 1}")
                return
            loader.get_event()
            while not loader.check_event(yaml.SequenceEndEvent):
                node = loader.compose_node(None, None)
                origin = f"{path}:{node.start_mark.line + 1}"
                value = loader.construct_document(node)
                entry = entry_from_value(value, origin)
                _keep_verbatim_ids(node, entry)
                yield entry
        except yaml.YAMLError as exc:  # the file changed since check_sources()
            raise _yaml_error(path, exc) from exc
        finally:
            loader.dispose()


def _keep_verbatim_ids(node: Node, entry: SourceEntry) -> None:
    """Take ids from the source text, so ``id: 0123`` stays "0123" and not 83."""
    if not isinstance(node, MappingNode):
        return
    for key_node, value_node in node.value:
        if (
            isinstance(key_node, ScalarNode)
            and key_node.value in _ID_KEYS
            and isinstance(value_node, ScalarNode)
            and value_node.value.strip()
            and value_node.tag != "tag:yaml.org,2002:null"
        ):
            setattr(entry, key_node.value, value_node.value.strip())


# --- JSON and JSON Lines -----------------------------------------------------


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


def _iter_jsonl(path: str) -> Iterator[SourceEntry]:
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            origin = f"{path}:{lineno}"
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield SourceEntry(
                    url=None, origin=origin, problem=f"line is not valid JSON: {exc.msg}"
                )
                continue
            yield entry_from_value(value, origin)


# --- CSV and plain text --------------------------------------------------------


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


def _iter_text(path: str) -> Iterator[SourceEntry]:
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            text = line.strip()
            if text and not text.startswith("#"):
                yield entry_from_value(text, f"{path}:{lineno}")


__all__ = [
    "SourceEntry",
    "SourcesError",
    "check_sources",
    "entry_from_value",
    "iter_entries",
    "resolve_sources",
]


# --- S3 -----------------------------------------------------------------------


def _local_path(spec: str, root: str, key: str) -> str:
    """Where an S3 key is stored under ``root``: always inside it, or a :class:`SourcesError`.

    S3 keys are free text: one starting with ``/`` or holding ``..`` (or an
    empty segment) would, joined to a local folder, name a file outside it.
    Such a key is refused rather than cleaned up, since cleaning could make
    two keys one file.
    """
    parts = key.split("/")
    if any(part in ("", ".", "..") or "\0" in part for part in parts):
        raise SourcesError(spec, f"S3 key {key!r} cannot be stored as a local file safely")
    local = os.path.join(root, *parts)
    base = os.path.realpath(root)
    if os.path.commonpath([base, os.path.realpath(local)]) != base:
        raise SourcesError(spec, f"S3 key {key!r} would be stored outside {root}")
    return local


def fetch_s3_sources(spec: str, client: Any, dest: str) -> str:
    """Download an ``s3://bucket/key`` file or every sources file under a prefix into ``dest``.

    Returns the local path to read (a file, or a directory laid out as
    ``dest/<bucket>/<key>`` so that messages still name the S3 key). A key
    that is not an object is read as a prefix; hidden names and files of
    unknown format under a prefix are skipped, as in a local directory.
    """
    from crawler.s3 import download_file, exists, list_keys, split_s3

    try:
        bucket, key = split_s3(spec)
    except ValueError as exc:
        raise SourcesError(spec, str(exc)) from exc
    root = os.path.join(dest, bucket)
    try:
        if key and not key.endswith("/") and exists(client, spec):
            local = _local_path(spec, root, key)
            download_file(client, spec, Path(local))
            return local
        prefix = key if not key or key.endswith("/") else key + "/"
        found = 0
        for name in list_keys(client, f"s3://{bucket}/{prefix}"):
            relative = name[len(prefix) :]
            if not relative or any(p.startswith(".") for p in relative.split("/")):
                continue
            if not format_of(name):
                continue
            download_file(client, f"s3://{bucket}/{name}", Path(_local_path(spec, root, name)))
            found += 1
    except SourcesError:
        raise
    except Exception as exc:  # botocore's errors: no bucket, no access, no connection
        raise SourcesError(spec, f"cannot be read from S3: {exc}") from exc
    if not found:
        raise SourcesError(spec, "no sources file under this S3 prefix")
    return os.path.join(root, prefix)
