"""Extraction cases as golden folders: a saved page, how it was fetched, what it must give.

Each folder ``tests/extract_cases/<name>/`` holds:

- ``page.<ext>``: the response body, byte for byte, unless ``meta.json`` names
  a page the suite already has (``"page": "site/blog-post.html"``, relative to
  ``tests/``), so that no test page is kept twice;
- ``meta.json``: ``{"url": ..., "headers": {...}, "fetched_at": "...Z"}``, the
  final URL, the response headers (lowercase names) and the frozen fetch time
  that bounds every date;
- ``expected.json``: every field of :class:`pipelines.extract.Extracted`, with
  ``text`` as a list of paragraphs so that a person can read and edit it.

``tests/test_extract_cases.py`` runs every folder through
:func:`pipelines.extract.extract` and compares. After a reviewed change of
the extractor, rewrite the expectations with
``python -m tests.extract_cases --update`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.extract import extract

CASES = Path(__file__).resolve().parent


def case_names() -> list[str]:
    """Every case folder, sorted."""
    return sorted(p.name for p in CASES.iterdir() if (p / "meta.json").is_file())


def page_of(folder: Path) -> Path:
    """The case's page: ``meta.json``'s ``page`` (a test page the suite already has, named
    relative to ``tests/``), else the folder's one ``page.*`` file."""
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    if "page" in meta:
        tests = Path(__file__).resolve().parent.parent
        page = (tests / str(meta["page"])).resolve()
        if not page.is_relative_to(tests) or not page.is_file():
            raise ValueError(f"{folder}: page {meta['page']!r} is not a file under tests/")
        return page
    pages = sorted(folder.glob("page.*"))
    if len(pages) != 1:
        raise ValueError(f"{folder} must hold exactly one page.* file, not {len(pages)}")
    return pages[0]


def actual(name: str) -> dict[str, Any]:
    """What extraction gives for a case today, in the form of ``expected.json``."""
    folder = CASES / name
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    fetched_at = datetime.fromisoformat(str(meta["fetched_at"]).replace("Z", "+00:00"))
    result = extract(
        page_of(folder).read_bytes(),
        {str(k).lower(): str(v) for k, v in meta.get("headers", {}).items()},
        str(meta["url"]),
        fetched_at=fetched_at,
    )
    fields = dataclasses.asdict(result)
    fields["authors"] = list(result.authors)
    fields["text"] = result.text.split("\n\n") if result.text is not None else None
    # through JSON, as expected.json is read back: tuples become lists
    data: dict[str, Any] = json.loads(json.dumps(fields, ensure_ascii=False))
    return data


def expected(name: str) -> dict[str, Any]:
    """The reviewed expectation of a case."""
    data: dict[str, Any] = json.loads((CASES / name / "expected.json").read_text(encoding="utf-8"))
    return data


def write_expected(name: str, fields: dict[str, Any]) -> None:
    """Store ``fields`` as the expectation of a case."""
    text = json.dumps(fields, indent=2, ensure_ascii=False) + "\n"
    (CASES / name / "expected.json").write_text(text, encoding="utf-8")
