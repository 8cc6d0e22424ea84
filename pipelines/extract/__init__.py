"""Pure extraction of record fields from a response body (no Scrapy, no network).

``extract(body, headers, url)`` returns an :class:`Extracted`; both its
arguments and its result are picklable, so it can run in a worker process.

The names below are loaded on first use: the crawl process imports small
modules of this package (``job``, ``sniff``, ``shell``, ``identifiers``)
while only the extraction workers need the extractor and its libraries
(trafilatura, htmldate, justext: about 12 MB and half a second of start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.extract.core import extract
    from pipelines.extract.preview import make_preview
    from pipelines.extract.result import Extracted

__all__ = ["Extracted", "extract", "make_preview"]

_HOMES = {
    "extract": "pipelines.extract.core",
    "make_preview": "pipelines.extract.preview",
    "Extracted": "pipelines.extract.result",
}


def __getattr__(name: str) -> Any:
    """Import an exported name's module when the name is first asked for (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
