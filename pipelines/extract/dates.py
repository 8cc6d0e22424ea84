"""Publication and modification dates of HTML pages.

htmldate's search (which reads the common meta tags and JSON-LD, then the URL,
markup and text) decides the publication date: on the evaluation corpus it
matched the annotated date more often than any single structured signal where
the two disagreed (mostly UTC timestamps that fall on the next local day).
Structured statements (JSON-LD, ``article:*``/``citation_*`` meta tags,
``<time>`` elements) fill its gaps and give the modification date.
All dates are ``YYYY-MM-DD`` and never later than the fetch date.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import lxml.etree
import lxml.html
from htmldate import find_date
from htmldate.extractors import try_date_expr

from pipelines.extract import dateparser_locales, rules
from pipelines.extract.markup import Page, squash
from pipelines.extract.metadata import main_items

dateparser_locales.install()

logger = logging.getLogger(__name__)

MIN_YEAR = 1900

_ISO = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?![\d])")
_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})(?:$|[T\s])")
# 15-12-2016 or 12-15-2016 (day-first and US month-first writers both use it).
_NUMERIC_HYPHEN = re.compile(r"^\s*(\d{1,2})-(\d{1,2})-(\d{4})(?![\d])")
_EPOCH = re.compile(r"^\s*(\d{10})(?:\d{3})?\s*$")
_TEXT_FORMATS = (
    "%B %d, %Y",
    "%b %d, %Y",
    "%b. %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%A, %B %d, %Y",
    "%a, %b %d, %Y",
    "%d.%m.%Y",
    "%d/%m/%Y",
)
_TRAILING_TIME = re.compile(r"(?:\s+(?:at\s+)?\d{1,2}[:.]\d{2}.*|T\d.*)$", re.IGNORECASE)

PUBLISHED_META = (
    "article:published_time",
    "article:published",
    "og:published_time",
    "datepublished",
    "publishdate",
    "publish-date",
    "publish_date",
    "pubdate",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.issued",
    "dcterms.created",
    "dc.date",
    "date",
    "citation_publication_date",
    "citation_date",
    "citation_online_date",
    "prism.publicationdate",
)
MODIFIED_META = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "dc.date.modified",
    "dcterms.modified",
    "last-modified",
    "lastmod",
    "revised",
)


def parse_date(value: Any) -> date | None:
    """Parse a date as publishers write it in metadata; ``None`` if not a full date.

    The calendar day is taken as written (no time-zone conversion): that is the
    date the publisher states.
    """
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()[:100]
    if not text:
        return None
    for pattern in (_ISO, _COMPACT):
        match = pattern.match(text)
        if match:
            return _make_date(int(match[1]), int(match[2]), int(match[3]))
    match = _EPOCH.match(text)
    if match:
        try:
            return datetime.fromtimestamp(int(match[1]), tz=UTC).date()
        except (OverflowError, OSError, ValueError):
            return None
    match = _NUMERIC_HYPHEN.match(text)
    if match is not None and rules.on("date_numeric_unambiguous"):
        return _unambiguous_day(int(match[1]), int(match[2]), int(match[3]))
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    bare = _TRAILING_TIME.sub("", text).strip().rstrip(",")
    for fmt in _TEXT_FORMATS:
        try:
            return datetime.strptime(bare, fmt).date()
        except ValueError:
            continue
    return None


def _unambiguous_day(first: int, second: int, year: int) -> date | None:
    """``first-second-year`` read day first or month first, when only one of them is a date.

    ``15-12-2016`` and ``12-15-2016`` are the same day; ``05-04-2021`` is
    either 5 April or 4 May and gives nothing.
    """
    readings = {_make_date(year, second, first), _make_date(year, first, second)} - {None}
    return readings.pop() if len(readings) == 1 else None


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _plausible(day: date | None, fetched: date) -> date | None:
    if day is None or day.year < MIN_YEAR or day > fetched:
        return None
    return day


def _first_valid(values: list[Any], fetched: date) -> date | None:
    for value in values:
        day = _plausible(parse_date(value), fetched)
        if day is not None:
            return day
    return None


def _jsonld_dates(page: Page, key: str) -> list[Any]:
    values: list[Any] = []
    for item in main_items(page):
        value = item.get(key)
        values.extend(value if isinstance(value, list) else [value])
    return values


def _time_elements(page: Page, xpath: str) -> list[Any]:
    if page.tree is None:
        return []
    try:
        return list(page.tree.xpath(xpath))[:5]
    except Exception:  # defensive: xpath on odd trees
        return []


def structured_published(
    page: Page, fetched: date, rdf: Callable[[], Sequence[str]] | None = None
) -> tuple[date | None, str | None]:
    """Publication date stated in structured markup, with the name of its source.

    Sources are read lazily, most specific first: the XPath scans of the later
    ones cost a few tenths of a second on very large pages. ``rdf`` gives the
    page's Dublin Core RDF dates (:func:`rdf_dates`), asked for only when
    neither JSON-LD nor a meta tag states a date.
    """
    sources: list[tuple[str, Callable[[], list[Any]]]] = [
        ("json-ld", lambda: _jsonld_dates(page, "datePublished")),
        ("meta", lambda: [v for key in PUBLISHED_META for v in page.meta.get(key, ())]),
        ("rdf", lambda: list(rdf()) if rdf is not None else []),
        (
            "itemprop",
            lambda: _time_elements(
                page,
                "//time[@itemprop='datePublished' or @pubdate]/@datetime"
                "|//@itemprop[.='datePublished']/../@content",
            ),
        ),
        (
            "json-ld",
            lambda: _jsonld_dates(page, "dateCreated") + _jsonld_dates(page, "uploadDate"),
        ),
        ("time", lambda: _time_elements(page, "//time/@datetime")),
    ]
    for name, values in sources:
        day = _first_valid(values(), fetched)
        if day is not None:
            return day, name
    return None, None


def structured_modified(page: Page, fetched: date) -> date | None:
    """Last-modified date stated in structured markup."""
    values: list[Any] = _jsonld_dates(page, "dateModified")
    values += [v for key in MODIFIED_META for v in page.meta.get(key, ())]
    values += _time_elements(
        page, "//time[@itemprop='dateModified']/@datetime|//@itemprop[.='dateModified']/../@content"
    )
    return _first_valid(values, fetched)


def htmldate_published(
    document: str | lxml.html.HtmlElement | None,
    url: str,
    fetched: date,
    *,
    original: bool = True,
    earliest: date | None = None,
    latest: date | None = None,
) -> date | None:
    """htmldate's extensive search for the publication date.

    ``original`` asks for the oldest date found (else the newest);
    ``earliest``/``latest`` bound the search (the fetch day is always the limit).
    ``document`` is the decoded page or, to save parsing it twice, its parsed
    tree (htmldate works on a copy). The shared tree has no comments, where
    some blogs put RDF metadata: :func:`rdf_dates` reads those from the
    markup. A string that looks like a URL is refused: htmldate would download
    it, and extraction must never touch the network.
    """
    if document is None or (
        isinstance(document, str) and document.lstrip().startswith("http") and " " not in document
    ):
        return None
    last = min(latest, fetched) if latest is not None else fetched
    end_of_day = datetime(last.year, last.month, last.day, 23, 59, 59)
    start = datetime(earliest.year, earliest.month, earliest.day) if earliest else None
    try:
        found = find_date(
            document,
            extensive_search=True,
            original_date=original,
            url=url or None,
            min_date=start,
            max_date=end_of_day,
        )
    except Exception as exc:  # htmldate on pathological markup
        logger.debug("htmldate failed: %s", exc)
        return None
    day = _plausible(parse_date(found), fetched)
    if day is not None and earliest is not None and day < earliest:
        return None
    return day


# /2011/12/ in a path, not followed by a day: the month of a blog-style permalink.
_URL_MONTH = re.compile(r"/((?:19|20)\d\d)/(0[1-9]|1[0-2])/(?!(?:0?[1-9]|[12]\d|3[01])(?:/|$))")


def url_month(url: str) -> tuple[date, date] | None:
    """First and last day of the month a ``/YYYY/MM/`` permalink path names, if any."""
    match = _URL_MONTH.search(urlsplit(url).path)
    if match is None:
        return None
    year, month = int(match[1]), int(match[2])
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


# /2017/7/12/ (a whole path segment: "/2023/10/3-questions" is a slug) or
# 2017-07-12 in a path: a permalink's full date.
_URL_DAY = re.compile(
    r"/((?:19|20)\d\d)/(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])(?:/|$)"
    r"|(?<!\d)((?:19|20)\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)"
)


def url_day(url: str) -> date | None:
    """A full date written in the URL's path, if any."""
    match = _URL_DAY.search(urlsplit(url).path)
    if match is None:
        return None
    year, month, day = (
        (match[1], match[2], match[3]) if match[1] else (match[4], match[5], match[6])
    )
    return _make_date(int(year), int(month), int(day))


# Magazines put the issue's cover date in the URL (/magazine/2016/12/05/,
# /magazine/2017/01/) while the piece goes online days or weeks before it: a
# publication statement that far before the URL's date is the day readers saw.
# Two days at least (a UTC timestamp is a day off), two months at most.
_ISSUE_LEAD = (2, 62)


def url_issue_day(url: str) -> date | None:
    """The date a URL's path names: its full date, else the first day of its month."""
    day = url_day(url)
    if day is not None:
        return day
    month = url_month(url)
    return month[0] if month is not None else None


def _stated_days(page: Page, fetched: date, rdf: Sequence[str] = ()) -> set[date]:
    """Every publication-like date the page states, each widened by a day for timestamps.

    JSON-LD, publication ``<meta>`` tags, ``<time>`` elements and a date in the
    URL's path count. A timestamp with a time of day is often written in UTC
    while the page shows the publisher's local day, which may be the day before
    or after.
    """
    values: list[Any] = _jsonld_dates(page, "datePublished") + _jsonld_dates(page, "dateCreated")
    values += [v for key in PUBLISHED_META for v in page.meta.get(key, ())]
    values += _time_elements(page, "//time/@datetime")
    values += rdf
    days: set[date] = set()
    in_url = url_day(page.url)
    if in_url is not None:
        days.add(in_url)
    for value in values:
        day = _plausible(parse_date(value), fetched)
        if day is None:
            continue
        days.add(day)
        if isinstance(value, str) and _HAS_TIME.search(value):
            days.update((day - timedelta(days=1), day + timedelta(days=1)))
    return days


_HAS_TIME = re.compile(r"\d[T ]\d{1,2}:\d\d")

# Blog engines (Movable Type, Hatena, goo and others) describe each post in a
# Dublin Core RDF block for trackbacks, usually inside an HTML comment, which the
# shared tree drops: <rdf:Description dc:date="2020-07-12T22:00:00+09:00" …/>.
# The keys are found with str.find on the raw markup (no regular expression
# scans the page); the value is read as an attribute or as element text.
_RDF_KEYS = ("dc:date", "dcterms:issued", "dcterms:created")
_RDF_VALUE = re.compile(r"""\s*=\s*["']([^"'<>]{8,40})["']|>\s*([^<>]{8,40})<""")
_MAX_RDF_KEYS = 5


def rdf_dates(html: str) -> list[str]:
    """Dates written as Dublin Core RDF (``dc:date="…"``, ``<dcterms:issued>…``)."""
    values: list[str] = []
    for key in _RDF_KEYS:
        start, seen = html.find(key), 0
        while start != -1 and seen < _MAX_RDF_KEYS:
            seen += 1
            match = _RDF_VALUE.match(html, start + len(key))
            if match is not None:
                values.append(match[1] or match[2])
            start = html.find(key, start + len(key))
    return values


def _rdf_statements(html: str) -> list[str]:
    return rdf_dates(html) if rules.on("date_rdf_statement") else []


def _offset_days(page: Page) -> list[tuple[date, date]]:
    """``(local day, UTC day)`` of each publication timestamp written with a non-zero offset.

    JSON-LD and ``<meta>`` only: they are read from the page's indexes, so the
    check costs no scan of the tree or the markup on every page.
    """
    values: list[Any] = _jsonld_dates(page, "datePublished")
    values += [v for key in PUBLISHED_META for v in page.meta.get(key, ())]
    found: list[tuple[date, date]] = []
    for value in values:
        if not isinstance(value, str) or not _HAS_TIME.search(value):
            continue
        try:
            stamp = datetime.fromisoformat(value.strip()[:40])
        except ValueError:
            continue
        offset = stamp.utcoffset()
        if offset:  # None (no zone) or zero (UTC) says nothing about the local day
            found.append((stamp.date(), stamp.astimezone(UTC).date()))
    return found


def local_day_for(guessed: date, page: Page) -> date | None:
    """The local day a guess stands for when it is only the UTC day of a stated timestamp.

    A page that writes its publication time with its own offset
    (``2020-12-25T01:59+02:00``) and elsewhere in UTC (``2020-12-24T23:59Z``)
    shows readers the local day; htmldate may take the UTC one. ``None`` when
    the guess is itself a local day stated with an offset, or no such pair exists.
    """
    pairs = _offset_days(page)
    if any(local == guessed for local, _ in pairs):
        return None
    for local, utc_day in pairs:
        if utc_day == guessed and local != guessed:
            return local
    return None


def _timestamp_days(page: Page) -> set[date]:
    """Calendar days of the JSON-LD/meta publication statements that carry a time of day."""
    values: list[Any] = _jsonld_dates(page, "datePublished")
    values += [v for key in PUBLISHED_META for v in page.meta.get(key, ())]
    days: set[date] = set()
    for value in values:
        if isinstance(value, str) and _HAS_TIME.search(value):
            day = parse_date(value)
            if day is not None:
                days.add(day)
    return days


def offset_day_beside(guessed: date, page: Page) -> date | None:
    """The local day of the page's offset-stamped publication time, when the guess is its neighbour.

    A timestamp written with its own non-zero offset (``2026-05-17T19:30+02:00``)
    names the publisher's local day; a guess one day from it that neither a
    stated timestamp nor the URL's path names (a bare date at most) is a
    print-edition date or another time zone's day.
    """
    local_days = {local for local, _ in _offset_days(page)}
    if len(local_days) != 1 or guessed in local_days or guessed in _timestamp_days(page):
        return None
    if guessed == url_day(page.url):
        return None
    (local,) = local_days
    return local if abs((guessed - local).days) == 1 else None


def reconcile_published(
    page: Page,
    document: str | lxml.html.HtmlElement | None,
    fetched: date,
    *,
    html: str | None = None,
) -> tuple[date | None, str | None]:
    """The publication date, and which rule decided it.

    htmldate's extensive search (oldest date) leads: on the evaluation corpus it
    matched the annotated date more often than any single structured signal.
    Three general failure modes of that search are corrected:

    - ``url-month``: a ``/YYYY/MM/`` permalink path fixes the month of
      publication (WordPress, Blogger and many news CMSs write it when the post
      is published); a date outside that month is a copyright year, an
      archive's crawl date or a comment, so the search is repeated inside it.
    - ``newest``: a 1 January result with no structured statement of that day
      is what a bare year ("(c) 2004") becomes; the newest full date htmldate
      finds is then better evidence than a lone year. ``cjk``: before that, the
      first full date the visible text writes as 2024年3月5日 / 2024년 3월 5일
      (``date_cjk_full_date``).
    - ``stated``: when JSON-LD or a publication ``<meta>`` tag states a date and
      no structured statement anywhere in the page supports htmldate's guess
      (even allowing a day for UTC timestamps), the guess came from free text
      and the publisher's statement wins. ``itemprop``/``<time pubdate>``
      statements count too (``date_itemprop_over_guess``).
    - ``url-issue``: a JSON-LD/meta publication statement two days to two
      months before the date the URL's path names wins: the URL holds a
      magazine issue's cover date (``date_url_issue``).
    - ``local-offset``: a guess that is only the UTC day of a timestamp the
      page also writes with its own offset becomes that local day.
    - ``label``: a guess that no structured statement supports gives way to
      the date the page's own text introduces as the publication date
      ("Published: 3 March 2019", "Erschienen am 26.01.2022"), when there is
      no trusted structured statement (``date_published_label``).

    ``html`` is the raw markup (default: ``document`` when it is a string),
    read for Dublin Core RDF dates, which the comment-free shared tree lacks.
    """
    markup = html if html is not None else document if isinstance(document, str) else ""
    # the markup is searched only when JSON-LD and <meta> state nothing
    rdf = functools.cache(lambda: _rdf_statements(markup))
    guessed = htmldate_published(document, page.url, fetched)
    stated, source = structured_published(page, fetched, rdf)
    if rules.on("date_url_issue") and source in {"json-ld", "meta"} and stated is not None:
        issue = url_issue_day(page.url)
        if issue is not None and _ISSUE_LEAD[0] <= (issue - stated).days <= _ISSUE_LEAD[1]:
            return stated, "url-issue"
    month = url_month(page.url) if rules.on("date_url_month") else None
    outside = guessed is None or (month is not None and not month[0] <= guessed <= month[1])
    if (
        rules.on("date_url_month_stated")
        and guessed is not None
        and guessed == stated
        and source in {"json-ld", "meta"}
    ):
        # a republished post keeps its old permalink: the page states the guess
        outside = False
    if month is not None and outside and month[0] <= fetched:
        inside = htmldate_published(
            page.tree, page.url, fetched, earliest=month[0], latest=month[1]
        )
        if inside is not None:
            return inside, "url-month"
        if stated is not None and month[0] <= stated <= month[1]:
            return stated, "url-month"
    if guessed is None or (guessed == fetched and stated != fetched):
        # Without a statement in the markup, a guess equal to the fetch day is
        # usually a "today" widget or a copyright line, not the article's date.
        return stated, source
    if rules.on("date_local_offset"):
        local = local_day_for(guessed, page)
        if local is not None and local <= fetched:
            return local, "local-offset"
    if rules.on("date_offset_day_over_neighbour"):
        neighbour = offset_day_beside(guessed, page)
        if neighbour is not None and neighbour <= fetched:
            return neighbour, "offset-day"
    # RDF dates support a guess where they were read (no earlier statement)
    supported = _stated_days(page, fetched, rdf() if source not in {"json-ld", "meta"} else ())
    if (
        rules.on("date_newest_for_january_first")
        and guessed.month == 1
        and guessed.day == 1
        and guessed not in supported
    ):
        if rules.on("date_cjk_full_date") and page.tree is not None:
            written = cjk_full_day(visible_text(page.tree), fetched)
            if written is not None and written != guessed:
                return written, "cjk"
        newest = htmldate_published(document, page.url, fetched, original=False)
        if newest is not None and newest > guessed and (newest.month, newest.day) != (1, 1):
            return newest, "newest"
    trusted = {"json-ld", "meta", "rdf"} if rules.on("date_stated_over_guess") else set()
    if rules.on("date_itemprop_over_guess"):
        trusted.add("itemprop")
    if stated is not None and source in trusted and guessed not in supported:
        return stated, "stated"
    if rules.on("date_published_label") and guessed not in supported and page.tree is not None:
        labelled = published_label_day(visible_text(page.tree), fetched)
        if labelled is not None and labelled != guessed:
            return labelled, "label"
    return guessed, "htmldate"


# 2024年3月5日 (Chinese, Japanese) and 2024년 3월 5일 (Korean): a full date written
# with the year, month and day characters, which htmldate's text patterns leave
# to a bare year ("2024年") when no markup states the day.
_CJK_DATE = re.compile(
    r"((?:19|20)\d\d)\s*[\u5e74\ub144]\s*(\d{1,2})\s*[\u6708\uc6d4]\s*(\d{1,2})\s*[\u65e5\uc77c]"
)
_MAX_CJK_DATES = 20


def cjk_full_day(text: str, fetched: date) -> date | None:
    """The first plausible full date written in CJK form (2024年3月5日) in ``text``."""
    for count, match in enumerate(_CJK_DATE.finditer(text)):
        if count >= _MAX_CJK_DATES:
            break
        day = _plausible(_make_date(int(match[1]), int(match[2]), int(match[3])), fetched)
        if day is not None:
            return day
    return None


# "Last updated: 5 March 2020", "Aktualisiert am 05.03.2020": the date that follows
# such a label is when the page was changed, not when it was published. The
# labels are found with str.find on the lowercased markup (a regular expression
# tried at every position of a large page cost tens of milliseconds); tags
# between the label and the date are skipped; "dateModified" and other
# identifiers do not count.
_UPDATED_LABELS = ("updated", "modified", "aktualisiert", "mis à jour", "actualizado", "aggiornato")
_UPDATED_TAIL = re.compile(
    r"(?:\s+(?:on|am|le|el|il))?\s*[:\-]?\s*(?:<[^>]{0,200}>\s*){0,3}([^<>]{6,40})",
    re.IGNORECASE,
)
_MAX_UPDATE_LABELS = 10


def updated_days(html: str, fetched: date) -> list[date]:
    """Dates the page introduces as an update ("Last updated: …")."""
    lowered = html.lower()
    days: list[date] = []
    for label in _UPDATED_LABELS:
        start, seen = lowered.find(label), 0
        while start != -1 and seen < _MAX_UPDATE_LABELS:
            seen += 1
            before = lowered[start - 1] if start else " "
            match = None
            if not (before.isalnum() or before in "_\"'"):
                match = _UPDATED_TAIL.match(html, start + len(label))
            if match is not None:
                value = squash(match[1]) or ""
                day = _plausible(parse_date(value), fetched) or _plausible(
                    parse_date(_TRAILING_TIME.sub("", value).strip()), fetched
                )
                if day is not None:
                    days.append(day)
            start = lowered.find(label, start + len(label))
    return days


# "Published: 3 March 2019", "Posted on 03/03/2019", "Erschienen am 26. Jan 2022",
# "Publié le 12 février 2020": the date a visible label introduces as the
# publication date. Searched in the page's visible text only (comments, scripts
# and attributes hold ad-slot notes such as "/* 728x90, Erstellt 07.05.09 */"
# and calendar labels), with str.find on the lowercased text; the label must
# stand as a word of its own and be followed by a space or a colon, so "will
# not be published)" or "datePublished" do not count.
_PUBLISHED_LABELS = (
    "published",
    "posted",
    "written",
    "erschienen",
    "veröffentlicht",
    "erstellt am",
    "datum",
    "publié",
    "publicado",
    "pubblicato",
    "gepubliceerd",
    "opublikowano",
)
_PUBLISHED_TAIL = re.compile(
    r"(?:\s+(?:on|am|le|el|il|op|em))?\s*:?\s*(\S[^\x1f]{5,39})", re.IGNORECASE
)
_MAX_PUBLISHED_LABELS = 5
_FIELD_END = re.compile(r"[:|]")
_LABEL_FOLLOWERS = frozenset(" \t\r\n\xa0:\x1f")
_LABEL_MIN = datetime(MIN_YEAR, 1, 1)
# Text nodes outside scripts and styles; the shared tree holds no comments.
_VISIBLE_TEXT = lxml.etree.XPath(
    "//body//text()[not(parent::script or parent::style or parent::noscript or parent::template)]"
)
# Bounds the text searched on very large pages (labels sit near the headline).
_MAX_VISIBLE_CHARS = 200_000


# Between text nodes: a label's value ends with its node ("26. Jan 2022" and
# not the next paragraph's dates). \x1f counts as whitespace for ``\s``.
_NODE_SEPARATOR = "\x1f"


def visible_text(tree: lxml.html.HtmlElement) -> str:
    """The text of the page's body outside scripts and styles, nodes apart by ``\\x1f``."""
    try:
        nodes = _VISIBLE_TEXT(tree)
    except lxml.etree.XPathError:  # defensive: xpath on odd trees
        return ""
    parts: list[str] = []
    size = 0
    for node in nodes:
        text = str(node)
        parts.append(text)
        size += len(text) + 1
        if size > _MAX_VISIBLE_CHARS:
            break
    return _NODE_SEPARATOR.join(parts)


def published_label_day(text: str, fetched: date) -> date | None:
    """The first date a publication label ("Published: …") introduces in ``text``."""
    lowered = text.lower()
    latest = datetime(fetched.year, fetched.month, fetched.day, 23, 59, 59)
    best: tuple[int, date] | None = None
    for label in _PUBLISHED_LABELS:
        start, seen = lowered.find(label), 0
        # a later label cannot come first: stop at the best position found so far
        while start != -1 and seen < _MAX_PUBLISHED_LABELS and (best is None or start < best[0]):
            seen += 1
            end = start + len(label)
            before = lowered[start - 1] if start else " "
            after = lowered[end] if end < len(lowered) else " "
            if not (before.isalnum() or before in "_-.:\"'/=") and after in _LABEL_FOLLOWERS:
                # matched in the lowercased text: its offsets are the label's
                match = _PUBLISHED_TAIL.match(lowered, end)
                if match is not None:
                    # the value ends where another field begins ("Datum und Uhrzeit: …")
                    value = _FIELD_END.split(squash(match[1]) or "", maxsplit=1)[0]
                    day = _label_value(value, fetched, latest)
                    if day is not None:
                        best = (start, day)
                        break
            start = lowered.find(label, end)
    return best[1] if best is not None else None


def _label_value(value: str, fetched: date, latest: datetime) -> date | None:
    """The date ``value`` states: our metadata formats, then htmldate's fast parsers."""
    day = _plausible(parse_date(value), fetched) or _plausible(
        parse_date(_TRAILING_TIME.sub("", value).strip()), fetched
    )
    if day is not None:
        return day
    found = try_date_expr(value, "%Y-%m-%d", False, _LABEL_MIN, latest)
    return _plausible(parse_date(found), fetched) if found else None


def apply_last_updated(
    page: Page, html: str, published: date | None, modified: date | None, fetched: date
) -> tuple[date | None, date | None]:
    """Move a "Last updated" date from ``published`` to ``modified``.

    Kept as the publication date only when nothing else states one: the
    structured statements and htmldate's search bounded before the update.
    """
    updates = updated_days(html, fetched)
    if not updates:
        return published, modified
    if modified is None:
        modified = max(updates)
    if published is None or published not in updates:
        return published, modified
    stated, _ = structured_published(page, fetched, lambda: _rdf_statements(html))
    if stated is not None and stated < published:
        return stated, modified
    return published, modified


def extract_dates(
    page: Page, html: str, fetched_at: datetime, *, reuse_tree: bool = False
) -> tuple[date | None, date | None]:
    """Return ``(published, modified)`` for an HTML page.

    htmldate searches the page's parsed tree (``date_shared_tree``, or
    ``reuse_tree`` for very large pages) instead of parsing ``html`` again; the
    markup when lxml found no document.
    """
    fetched = fetched_at.astimezone(UTC).date() if fetched_at.tzinfo else fetched_at.date()
    shared = (reuse_tree or rules.on("date_shared_tree")) and page.tree is not None
    published, _rule = reconcile_published(page, page.tree if shared else html, fetched, html=html)
    modified = structured_modified(page, fetched)
    if rules.on("date_last_updated"):
        published, modified = apply_last_updated(page, html, published, modified, fetched)
    if modified is not None and published is not None and modified < published:
        modified = None
    return published, modified
