"""The languages htmldate's free-text date parsing may try.

htmldate hands the date strings it cannot read itself to dateparser, through
a parser built for every locale dateparser knows (several hundred). The first
string that no locale accepts makes dateparser compile the patterns of all of
them: about 4 s of CPU and 40 MB per process, paid again by every extraction
worker, and most of it for languages a crawl of cited sources never meets.
Limited to the languages below (those with the largest shares of web content,
W3Techs' content-language survey), the same failure costs under 1 s and
15 MB; dates in any other language are still found by htmldate's own
patterns, the structured metadata and the URL.

The parser keeps htmldate 1.11's settings; only the language list differs.
:func:`install` swaps it in through ``htmldate.extractors.get_external_parser``,
the one place htmldate builds it (a test checks that this still holds).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import htmldate.extractors

LANGUAGES = (
    "en", "es", "de", "ja", "fr", "pt", "ru", "it", "nl", "pl",
    "tr", "fa", "zh", "vi", "id", "cs", "ko", "uk", "ar", "hu",
    "el", "sv", "ro", "da", "fi", "he", "th", "nb", "sk", "bg",
)  # fmt: skip

# htmldate.extractors.get_external_parser's settings (htmldate 1.11).
_SETTINGS = {
    "NORMALIZE": True,
    "PARSERS": ["custom-formats", "absolute-time"],
    "PREFER_DATES_FROM": "past",
    "PREFER_LOCALE_DATE_ORDER": True,
    "RETURN_AS_TIMEZONE_AWARE": False,
    "STRICT_PARSING": True,
}


@cache
def external_parser() -> Any:
    """dateparser's parser for htmldate, limited to :data:`LANGUAGES` (built on first use)."""
    from dateparser import DateDataParser  # imported late, as htmldate does

    return DateDataParser(languages=list(LANGUAGES), settings=dict(_SETTINGS))


def install() -> None:
    """Make htmldate use :func:`external_parser`."""
    htmldate.extractors.get_external_parser = external_parser
