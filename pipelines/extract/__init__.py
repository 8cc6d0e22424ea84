"""Pure extraction of record fields from a response body (no Scrapy, no network).

``extract(body, headers, url)`` returns an :class:`Extracted`; both its
arguments and its result are picklable, so it can run in a worker process.
"""

from pipelines.extract.core import extract
from pipelines.extract.preview import make_preview
from pipelines.extract.result import Extracted

__all__ = ["Extracted", "extract", "make_preview"]
