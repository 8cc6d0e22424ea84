"""Turn the project's ``OUTPUT_URI`` setting into Scrapy's ``FEEDS`` before the crawl starts.

Scrapy's own ``-O``/``-o``/``-t`` flags are read here too (:func:`cli_output`):
``-O FILE.jsonl[.gz]`` is the same as ``-s OUTPUT_URI=FILE.jsonl[.gz]``,
``-O -`` streams the records to standard output, and everything the
project cannot publish (another format, an appended file) is refused with
one line before anything starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scrapy.settings import BaseSettings

GZIP_PLUGIN = "scrapy.extensions.postprocessing.GzipPlugin"
#: the output URI of a run that streams its records to standard output
STDOUT_URI = "stdout:"
#: names Scrapy (and users) give the JSON Lines format
JSONL_FORMATS = frozenset({"jsonlines", "jsonl", "jl", "ndjson"})
#: every format name Scrapy's ``-o FILE:FORMAT`` syntax knows, so that the
#: ``:FORMAT`` suffix is told apart from the colon of ``s3://`` or ``C:``
KNOWN_FORMATS = JSONL_FORMATS | {"json", "csv", "xml", "marshal", "pickle"}
_JSONL_SUFFIXES = (".jsonl", ".jl", ".ndjson")


class OutputFlagError(ValueError):
    """An output flag asks for something the project does not publish; nothing was done."""


def is_stdout(uri: str | None) -> bool:
    """Whether an output URI means standard output (``-`` or ``stdout:``)."""
    return uri in ("-", STDOUT_URI)


def feeds_for(uri: str) -> dict[str, dict[str, Any]]:
    """Return the ``FEEDS`` entry for an output URI (``.jsonl``, ``.jsonl.gz`` or stdout)."""
    if is_stdout(uri):
        # Scrapy's stdout storage warns about `overwrite`, and nothing is kept to overwrite.
        return {STDOUT_URI: {"format": "jsonlines", "encoding": "utf-8", "store_empty": True}}
    options: dict[str, Any] = {
        "format": "jsonlines",
        "encoding": "utf-8",
        "store_empty": True,
        "overwrite": True,
        "uri_params": "crawler.publish.feedstorage.uri_params",
    }
    if uri.endswith(".gz"):
        options["postprocessing"] = [GZIP_PLUGIN]
        options["gzip_mtime"] = 0  # same records, same bytes
    return {uri: options}


def _split_format(element: str) -> tuple[str, str | None]:
    """``FILE:FORMAT`` → (FILE, FORMAT); (element, None) when there is no format suffix."""
    uri, colon, suffix = element.rpartition(":")
    if colon and uri and suffix.lower() in KNOWN_FORMATS:
        return uri, suffix.lower()
    return element, None


def _format_from_name(uri: str) -> str:
    name = uri.lower().removesuffix(".gz")
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonlines"
    dot = name.rfind(".")
    slash = max(name.rfind("/"), name.rfind("\\"))
    return name[dot + 1 :] if dot > slash else ""


def cli_output(
    append: Sequence[str] | None,
    overwrite: Sequence[str] | None,
    output_format: str | None,
) -> str | None:
    """The ``OUTPUT_URI`` that Scrapy's ``-o``/``-O``/``-t`` flags ask for (None: no flag given).

    Raises :class:`OutputFlagError` with the one line to show when the flags
    ask for something the project does not publish.
    """
    contract = "the manifest, the latest pointer and the reader are JSON Lines contracts"
    if output_format is not None and output_format.lower() not in JSONL_FORMATS:
        raise OutputFlagError(
            f"-t {output_format}: only JSON Lines output is written "
            f"(.jsonl or .jsonl.gz); {contract}"
        )
    elements = [*(append or []), *(overwrite or [])]
    if not elements:
        return None
    if len(elements) > 1:
        raise OutputFlagError(
            f"one output per run, got {len(elements)} ({', '.join(elements)}): "
            "use -O FILE.jsonl once (or -s OUTPUT_URI=…)"
        )
    (element,) = elements
    uri, given_format = _split_format(element)
    if uri == "-":
        fmt = given_format or "jsonlines"
    else:
        fmt = given_format or _format_from_name(uri) or "(none)"
    if fmt not in JSONL_FORMATS:
        raise OutputFlagError(
            f"{element}: the {fmt} format is not written; only JSON Lines is (FILE.jsonl or "
            f"FILE.jsonl.gz, or - for standard output): {contract}"
        )
    if append and not is_stdout(uri):
        raise OutputFlagError(
            f"-o {element}: appending is refused: a published night is complete or absent and "
            "its manifest describes exactly one run; use -O FILE.jsonl to write a new file"
        )
    return STDOUT_URI if is_stdout(uri) else uri


class OutputAddon:
    """Scrapy add-on: configure the JSONL feed from ``OUTPUT_URI`` unless ``FEEDS`` is set."""

    def update_settings(self, settings: BaseSettings) -> None:
        """Set ``FEEDS`` from ``OUTPUT_URI``; an explicit ``FEEDS`` wins."""
        uri = settings.get("OUTPUT_URI")
        if uri and not settings.getdict("FEEDS"):
            settings.set("FEEDS", feeds_for(str(uri)), priority="addon")
