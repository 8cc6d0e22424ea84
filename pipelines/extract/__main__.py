"""Command line: extract one saved page and print its fields as JSON.

``python -m pipelines.extract PAGE.html[.gz] --url URL [--content-type TYPE] [--preview-chars N]``
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from pipelines.extract.core import extract
from pipelines.extract.preview import make_preview

DEFAULT_PREVIEW_CHARS = 3000


def read_page(path: Path) -> bytes:
    """Read a saved page, decompressing ``.gz`` files."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data


def record(
    body: bytes, url: str, content_type: str | None, preview_chars: int, thorough: bool = False
) -> dict[str, Any]:
    """The extracted fields plus the derived preview, length and hash, as a JSON-ready dict."""
    headers = {"content-type": content_type} if content_type else {}
    result = extract(body, headers, url, thorough=thorough)
    fields: dict[str, Any] = dataclasses.asdict(result)
    fields["authors"] = list(result.authors)
    preview, truncated = make_preview(result.text, preview_chars)
    fields["preview"] = preview
    fields["preview_truncated"] = truncated
    fields["content_length"] = len(result.text) if result.text is not None else None
    fields["content_sha256"] = (
        hashlib.sha256(result.text.encode("utf-8")).hexdigest() if result.text is not None else None
    )
    return fields


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.extract", description=__doc__)
    parser.add_argument("page", type=Path, help="saved response body (.gz is decompressed)")
    parser.add_argument("--url", required=True, help="final URL of the response")
    parser.add_argument("--content-type", default=None, help="Content-Type header value")
    parser.add_argument("--preview-chars", type=int, default=DEFAULT_PREVIEW_CHARS)
    parser.add_argument(
        "--thorough", action="store_true", help="add trafilatura's comparison with other extractors"
    )
    args = parser.parse_args(argv)
    try:
        body = read_page(args.page)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        print(f"cannot read {args.page}: {exc}", file=sys.stderr)
        return 2
    fields = record(body, args.url, args.content_type, args.preview_chars, args.thorough)
    output = json.dumps(fields, ensure_ascii=False, indent=2)
    sys.stdout.buffer.write(output.encode("utf-8") + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
