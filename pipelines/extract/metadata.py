"""Descriptive fields of an HTML page: title, authors, site name, description, language.

Each field is a cascade over small pure look-ups, most specific source first:
JSON-LD, OpenGraph, Highwire ``citation_*`` tags, plain ``<meta>`` tags, then
the document itself (``<title>``, ``<h1>``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html

from pipelines.extract import rules
from pipelines.extract.markup import Page, schema_types, squash, unescape

_MAX_TITLE = 400

# Separators sites put between a headline and their own name.
_TITLE_SEPARATOR = re.compile(r"(\s+[|\-\u2013\u2014\u00b7\u2022\u00bb/:]{1,2}\s+)")
_TRUNCATED = re.compile(r"(\.\.\.|\u2026)$")
_LANG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")


def is_article_type(item: dict[str, Any]) -> bool:
    """Whether a JSON-LD object describes a piece of content (an article, post, report...)."""
    for name in schema_types(item):
        if name.endswith(("Article", "Posting")) or name in _CONTENT_TYPES:
            return True
    return False


_CONTENT_TYPES = frozenset(
    {
        "Report",
        "Review",
        "Thesis",
        "Book",
        "Chapter",
        "Legislation",
        "Recipe",
        "CreativeWork",
        "PodcastEpisode",
        "VideoObject",
        "Dataset",
        "Blog",
    }
)


def main_items(page: Page) -> list[dict[str, Any]]:
    """JSON-LD objects ordered by how likely they describe the page's own content."""
    articles = [item for item in page.jsonld if is_article_type(item)]
    webpages = [
        item
        for item in page.jsonld
        if any(name.endswith("Page") for name in schema_types(item)) and item not in articles
    ]
    return articles + webpages


def _string(value: Any) -> str | None:
    """A scalar JSON-LD value as a clean string (first element of a list, ``@value``, ``name``)."""
    if isinstance(value, list):
        for entry in value:
            found = _string(entry)
            if found:
                return found
        return None
    if isinstance(value, dict):
        return _string(value.get("@value") or value.get("name"))
    if isinstance(value, str):
        return unescape(value)
    return None


def jsonld_value(page: Page, key: str) -> str | None:
    """``key`` from the most relevant JSON-LD object that has it."""
    for item in main_items(page):
        found = _string(item.get(key))
        if found:
            return found
    return None


def _element_text(page: Page, xpath: str) -> str | None:
    if page.tree is None:
        return None
    try:
        nodes = page.tree.xpath(xpath)
    except Exception:  # defensive: lxml on pathological trees
        return None
    for node in nodes[:5]:
        text = squash(node if isinstance(node, str) else node.text_content())
        if text:
            return text
    return None


# --- title ---------------------------------------------------------------


def _normal(value: str) -> str:
    return re.sub(r"\W+", "", value).casefold()


def _domain_label(url: str) -> str:
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    parts = host.split(".")
    return parts[-2] if len(parts) >= 2 else host


# WordPress's default "Site » Blog Archive » Post" title, in English and German.
_ARCHIVE_SEGMENTS = frozenset({"blogarchive", "blogarchiv"})


def _is_site_segment(segment: str, site_name: str | None, url: str) -> bool:
    norm = _normal(segment)
    if not norm:
        return True
    if rules.on("title_blog_archive") and norm in _ARCHIVE_SEGMENTS:
        return True
    if site_name and norm == _normal(site_name):
        return True
    label = _normal(_domain_label(url))
    if label and (norm in (label, label + "com") or (len(label) > 3 and norm.startswith(label))):
        return True
    return bool(re.fullmatch(r"(?:www\.)?[\w-]+(?:\.[\w-]+)+", segment.strip(), re.IGNORECASE))


def clean_title(title: str | None, site_name: str | None, url: str, h1: str | None) -> str | None:
    """Remove a site-name prefix/suffix from a ``<title>``-like string."""
    title = squash(title)
    if title is None:
        return None
    parts = _TITLE_SEPARATOR.split(title)
    segments = parts[0::2]
    if len(segments) == 1:
        return title[:_MAX_TITLE]
    if h1 and not (rules.on("title_site_span") and _is_site_segment(h1, site_name, url)):
        # The headline repeated in <h1> tells which segments belong to it.
        target = _normal(h1)
        if target == _normal(title):
            return title[:_MAX_TITLE]
        for first in range(len(segments)):
            for last in range(first + 1, len(segments) + 1):
                span = "".join(parts[2 * first : 2 * last - 1])
                if _normal(span) == target:
                    return span.strip()[:_MAX_TITLE]
    start, end = 0, len(segments)
    if site_name and rules.on("title_site_span"):
        # a site name that itself holds a separator ("AOC media - Analyse Opinion
        # Critique") spans several segments at either end
        site = _normal(site_name)
        for n in range(len(segments) - 1, 1, -1):
            if _normal("".join(parts[2 * (end - n) : 2 * end - 1])) == site:
                end -= n
                break
            if _normal("".join(parts[0 : 2 * n - 1])) == site:
                start += n
                break
    while end - start > 1 and _is_site_segment(segments[end - 1], site_name, url):
        end -= 1
    while end - start > 1 and _is_site_segment(segments[start], site_name, url):
        start += 1
    kept = "".join(parts[2 * start : 2 * end - 1]).strip()
    return (kept or title)[:_MAX_TITLE]


# The h1 elements looked at: a page's headline is among its first few.
_MAX_H1 = 5
# Ancestors looked at for a logo container (the h1 itself included).
_LOGO_DEPTH = 4
_LOGO_CLASS = (
    "ancestor-or-self::*[position() <= $depth]"
    "[contains(translate(concat(@class, ' ', @id), 'LOGO', 'logo'), 'logo')]"
)
_HOME_INDEX = re.compile(r"(?:index|default|home)\.[a-z0-9]{2,5}$", re.IGNORECASE)


def _host(value: str) -> str:
    return (urlsplit(value).hostname or "").lower().removeprefix("www.")


def _links_above(node: lxml.html.HtmlElement, url: str) -> bool:
    """Whether ``node`` is, or wraps, a link to the home page or a section above ``url``.

    A blog or news site prints its name in an ``<h1>`` linking home; an article's
    headline links to the article itself, if anywhere.
    """
    here = urlsplit(url)
    here_path = here.path if here.path.endswith("/") else here.path + "/"
    links = node.xpath("ancestor-or-self::a[@href][1]") + node.xpath(
        "(.//a[@href])[position() <= 3]"
    )
    for link in links[:3]:
        href = str(link.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        try:
            target = urlsplit(urljoin(url, href))
        except ValueError:
            continue
        if _host(target.geturl()) != _host(url):
            continue
        path = _HOME_INDEX.sub("", target.path) or "/"
        path = path if path.endswith("/") else path + "/"
        above = here_path.startswith(path) and len(path) < len(here_path)
        # "/?p=42" is a page below "/", the site root (only there: "/post?utm_…"
        # linking to "/post" is the article's own permalink)
        if above or (path == here_path == "/" and here.query and not target.query):
            return True
    return False


def _is_logo(node: lxml.html.HtmlElement, text: str, site_name: str | None, url: str) -> bool:
    """Whether an ``<h1>`` holding ``text`` is the site's logo rather than a headline."""
    if site_name:
        words = {w.casefold() for w in re.findall(r"\w+", text)}
        if words and words <= {w.casefold() for w in re.findall(r"\w+", site_name)}:
            return True
    if node.xpath(_LOGO_CLASS, depth=_LOGO_DEPTH):
        return True
    return _links_above(node, url)


_HIDDEN_TEXT = "script", "style", "noscript", "template"
# Characters of heading text gathered at most (a hostile page may nest a book in an <h1>).
_MAX_HEADING = 4 * _MAX_TITLE


def _heading_text(node: lxml.html.HtmlElement) -> str | None:
    """The text a reader sees in a heading element.

    ``text_content()`` also returns the CSS of an inline ``<style>`` and glues
    a kicker ``<span>Kicker</span>Headline`` to the headline as one word.
    """
    if not rules.on("title_heading_text"):
        return squash(node.text_content())
    pieces: list[str] = []
    size = 0
    for piece in node.xpath(".//text()"):
        # script and style hold raw text only: their own text is the hidden part
        if not piece.is_tail and piece.getparent().tag in _HIDDEN_TEXT:
            continue
        if pieces and piece and pieces[-1][-1:].islower() and piece[0].isupper():
            pieces.append(" ")  # an element boundary between two words
        pieces.append(piece)
        size += len(piece)
        if size > _MAX_HEADING:
            break  # longer than any headline: callers refuse it whole
    return squash("".join(pieces))


def _first_headings(page: Page, tags: str, limit: int) -> list[lxml.html.HtmlElement]:
    """The first ``limit`` elements of ``tags`` (an XPath union such as ``//h1|//h2``)."""
    if page.tree is None:
        return []
    try:
        return list(page.tree.xpath(f"({tags})[position() <= $n]", n=limit))
    except Exception:  # defensive: lxml on odd trees
        return []


def _first_h1s(page: Page) -> list[lxml.html.HtmlElement]:
    return _first_headings(page, "//h1", _MAX_H1)


def _logos(page: Page, site_name: str | None, url: str) -> list[str]:
    """Texts of the first ``<h1>`` elements that are the site's logo (``url``: the page's)."""
    if not rules.on("title_h1_logo"):
        return []
    found = []
    for node in _first_h1s(page):
        text = _heading_text(node)
        if text and _is_logo(node, text, site_name, url):
            found.append(text)
    return found


def _without_logo(title: str | None, logos: list[str]) -> str | None:
    """``title`` without a segment that is a logo's text, and what lies beyond it.

    The logo is the site's name: at the start, the headline follows it; elsewhere
    the headline precedes it (a tagline may follow the name).
    """
    title = squash(title)
    if title is None or not logos:
        return title
    parts = _TITLE_SEPARATOR.split(title)
    segments = parts[0::2]
    if len(segments) < 2:
        return title
    names = {_normal(logo) for logo in logos}
    for index, segment in enumerate(segments):
        if _normal(segment) in names:
            kept = parts[2:] if index == 0 else parts[: 2 * index - 1]
            return "".join(kept).strip() or title
    return title


def _h1(page: Page, logos: list[str]) -> str | None:
    """The first ``<h1>`` text that is not a logo."""
    for node in _first_h1s(page):
        text = _heading_text(node)
        if text and text not in logos:
            return text
    return None


# Not only in <head>: lxml moves a <head> that follows stray markup into <body>.
_CANONICAL = "(//link[translate(@rel, 'CANONICAL', 'canonical') = 'canonical'][@href])[1]/@href"


def own_address(page: Page) -> str:
    """The address the page gives itself (``<link rel=canonical>``, ``og:url``), else its URL.

    The site's name and domain are judged by it: a page reached through a
    mirror, a cache, an archive or a test server still names its own site.
    """
    if not rules.on("title_canonical_host") or page.tree is None:
        return page.url
    try:
        declared = [str(v) for v in page.tree.xpath(_CANONICAL)]
    except Exception:  # defensive: lxml on odd trees
        declared = []
    for value in (*declared, page.first_meta("og:url")):
        if not value:
            continue
        try:
            address = urljoin(page.url, value.strip())
            parts = urlsplit(address)
        except ValueError:
            continue
        if parts.scheme in ("http", "https") and parts.hostname:
            return address
    return page.url


def _html_title(page: Page) -> str | None:
    return _element_text(page, "//title")


def extract_title(page: Page, site_name: str | None) -> str | None:
    """The page headline, chosen by agreement between the places a page states it.

    Candidates, in order of trust: ``citation_title``, JSON-LD ``headline``,
    ``og:title``, ``twitter:title``, Dublin Core, ``<title>`` without the site
    name, ``<h1>``. Each is scored by how many of the other sources state the
    same headline (equal, or one a longer form of the other); the best-supported
    one wins and trust breaks ties. A lone source that disagrees with two that
    agree is usually an SEO variant or a section label, while a headline the
    page repeats in several places is what its reader sees.
    """
    url = own_address(page)
    logos = _logos(page, site_name, url)
    h1 = _h1(page, logos)
    if rules.on("title_h1_agreement"):
        visible = visible_headline(
            page, site_name, rules.threshold("title_h1_agreement"), logos=logos, url=url
        )
        if visible is not None:
            return (
                _og_kicker(page, visible, site_name, logos, url)
                or _og_inside(page, visible, site_name, logos, url)
                or _og_heading(page, visible, site_name, logos, url)
                or visible
            )
    segment = _h2_title_segment(page, site_name, logos, url, h1)
    if segment is not None:
        return segment
    sources: list[Callable[[], str | None]] = [
        lambda: page.first_meta("citation_title"),
        lambda: _untruncated(jsonld_value(page, "headline")),
        lambda: page.first_meta("og:title"),
        lambda: page.first_meta("twitter:title"),
        lambda: page.first_meta("dc.title", "dcterms.title"),
        lambda: _html_title(page),
        lambda: h1,
    ]
    site = _normal(site_name or "")
    not_site = rules.on("title_not_site_name")
    candidates: list[str] = []
    names: list[str] = []  # candidates that are only the site's name
    for source in sources:
        raw = source()
        if not_site and site and raw and _normal(raw) == site:
            names.append(raw)  # the site's own name as a whole (og:title = og:site_name)
            continue
        found = clean_title(_without_logo(raw, logos), site_name, url, h1)
        if not found or not _normal(found):
            continue
        bare = not_site and (_is_bare_domain(found, url) or _is_home(found))
        (names if bare or _normal(found) == site else candidates).append(found)
    if not candidates:
        # every statement names the site: it is the best the page offers
        return names[0][:_MAX_TITLE] if not_site and names else None
    keys = [_normal(c) for c in candidates]
    support = [sum(_same_headline(k, other) for other in keys) - 1 for k in keys]
    best = max(range(len(candidates)), key=lambda i: (support[i], -i))
    return candidates[best]


# Subheadings looked at for the headline, and the shortest one taken (characters).
_MAX_H2 = 8
_MIN_SEGMENT = 6
# What follows the headline in a <title>: a separator, then the site's segments.
_SEGMENT_END = re.compile(r"\s*[|\-\u2013\u2014\u00b7\u2022\u00bb/:_~\[(]")


def _h2_title_segment(
    page: Page, site_name: str | None, logos: list[str], url: str, h1: str | None
) -> str | None:
    """An ``<h2>`` that is the ``<title>``'s first segment, when no ``<h1>`` is the headline.

    Blogs and forums print their name in the ``<h1>`` (or have none) and the
    post's headline in an ``<h2>``; their ``<title>`` is that headline followed
    by a separator and the section and site ("Headline | Code | Jane Doe").
    ``h1`` is the first ``<h1>`` that is no logo: one the title agrees with
    is the headline, and this gives way.
    """
    if not rules.on("title_h2_segment") or page.tree is None:
        return None
    title = squash(_html_title(page))
    if not title or (h1 and agreement(h1, title) >= rules.threshold("title_h1_agreement")):
        return None
    for node in _first_headings(page, "//h2", _MAX_H2):
        text = _heading_text(node)
        if not text or len(text) < _MIN_SEGMENT or len(text) >= len(title):
            continue
        if not title.startswith(text) or not _SEGMENT_END.match(title, len(text)):
            continue
        if text in logos or _is_site_segment(text, site_name, url):
            continue
        return text
    return None


# Titles of home pages that say nothing about the page.
_HOME_TITLES = frozenset({"home", "homepage", "startseite", "accueil", "inicio", "index"})


def _is_home(title: str) -> bool:
    return _normal(title) in _HOME_TITLES


def _is_bare_domain(title: str, url: str) -> bool:
    """Whether ``title`` is only the site's domain ("Anwalt Niemeyer" on anwaltniemeyer.de)."""
    norm, label = _normal(title), _normal(_domain_label(url))
    return bool(label) and norm in (label, label + "com", _normal(_host(url)))


def _og_inside(
    page: Page, visible: str, site_name: str | None, logos: list[str], url: str
) -> str | None:
    """``og:title`` when the visible ``<h1>`` is it plus a kicker or a tail.

    Sites put a section kicker ("Premier League", "Kultur :") or a subtitle into
    the heading element; their own ``og:title`` then carries the headline alone.
    """
    if not rules.on("title_og_inside_h1"):
        return None
    og = clean_title(_without_logo(page.first_meta("og:title"), logos), site_name, url, None)
    if og is None:
        return None
    short, long = _words(og), _words(visible)
    if not short or len(short) >= len(long):
        return None
    for start in range(len(long) - len(short) + 1):
        if long[start : start + len(short)] == short:
            return og
    return None


# "Kicker: headline": a lead-in of at most this many words before the colon.
_KICKER_WORDS = 5
_KICKER = re.compile(r"^([^:]{1,80}):\s+(.+)$")


def _og_kicker(
    page: Page, visible: str, site_name: str | None, logos: list[str], url: str
) -> str | None:
    """``og:title`` when it is the visible ``<h1>`` behind a short kicker and a colon.

    Newsrooms print the kicker ("Nach Gaetz-Rückzug:") above the heading in its
    own element; the headline they publish carries it in front.
    """
    if not rules.on("title_og_kicker"):
        return None
    og = clean_title(_without_logo(page.first_meta("og:title"), logos), site_name, url, None)
    match = _KICKER.match(og or "")
    if og is None or match is None or len(_words(match.group(1))) > _KICKER_WORDS:
        return None
    return og if _words(match.group(2)) == _words(visible) else None


# Headings looked at for the one that states og:title, and the words of a
# kicker that may precede it there.
_MAX_OG_HEADINGS = 12
_OG_HEADING_KICKER = 8
_MIN_OG_WORDS = 3


def _og_heading(
    page: Page, visible: str, site_name: str | None, logos: list[str], url: str
) -> str | None:
    """``og:title`` when another heading of the page shows it and the chosen ``<h1>`` does not.

    Some sites put an SEO headline or a breadcrumb in the ``<h1>`` and print
    the headline their own ``og:title`` carries in an ``<h1>``/``<h2>`` beside
    it, often behind a kicker ("European Payments Initiative Statt Paypal &
    Co.: …"). A headline the page both shows and declares is the page's own.
    """
    if not rules.on("title_og_heading") or page.tree is None:
        return None
    og = clean_title(_without_logo(page.first_meta("og:title"), logos), site_name, url, None)
    if og is None:
        return None
    wanted, shown = _words(og), _words(visible)
    if len(wanted) < _MIN_OG_WORDS or wanted == shown:
        return None
    for node in _first_headings(page, "//h1|//h2", _MAX_OG_HEADINGS):
        text = _heading_text(node)
        if not text or len(text) > _MAX_TITLE or text == visible:
            continue  # the chosen <h1> itself is title_og_inside_h1's case
        words = _words(text)
        extra = len(words) - len(wanted)
        if 0 <= extra <= _OG_HEADING_KICKER and words[extra:] == wanted:
            return og
    return None


def _words(value: str) -> list[str]:
    return [w.casefold() for w in re.findall(r"\w+", value)]


# A single "word" longer than this is unspaced script (Chinese, Japanese, Thai).
_UNSPACED = 20


def _units(value: str, pairs: bool) -> set[str]:
    if not pairs:
        return {w.casefold() for w in re.findall(r"\w+", value)}
    text = re.sub(r"\W+", "", value).casefold()
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def agreement(headline: str, statement: str) -> float:
    """Share of ``headline``'s words (character pairs in unspaced scripts) in ``statement``."""
    words = re.findall(r"\w+", headline)
    pairs = len(words) == 1 and len(words[0]) > _UNSPACED
    mine = _units(headline, pairs)
    return len(mine & _units(statement, pairs)) / len(mine) if mine else 0.0


# An <h1> shorter than this share of the shortest metadata headline is not the headline.
_MIN_HEADLINE_SHARE = 0.3


def visible_headline(
    page: Page,
    site_name: str | None,
    minimum: float,
    logos: list[str] | None = None,
    url: str | None = None,
) -> str | None:
    """The ``<h1>`` a reader sees, when the page's metadata states the same headline.

    Publishers write search-engine variants into ``og:title`` and JSON-LD, but
    the headline on the page is the one their article shows. Among the first
    ``<h1>`` elements (those inside ``<article>``/``<main>`` first), the one
    whose character pairs the metadata headlines contain best wins, when at
    least ``minimum`` of them are there: an ``<h1>`` that shares nothing with
    the metadata is a logo, a section name or a widget. ``logos`` are texts of
    ``<h1>`` elements known to be the site's logo: skipped, and cut from the
    metadata like a site name; ``url`` is the page's address (default: where
    it was fetched).
    """
    logos = logos or []
    url = url or page.url
    if page.tree is None:
        return None
    try:
        nodes = page.tree.xpath("(//article//h1|//main//h1)[position() <= 3]")
        nodes += [n for n in page.tree.xpath("//h1[position() <= 5]") if n not in nodes]
    except Exception:  # defensive: lxml on odd trees
        return None
    statements = [
        s
        for s in (
            page.first_meta("citation_title"),
            jsonld_value(page, "headline"),
            page.first_meta("og:title"),
            page.first_meta("twitter:title"),
            _html_title(page),
        )
        if s
    ]
    cleaned = (clean_title(_without_logo(s, logos), site_name, url, None) for s in statements)
    statements = [c for c in cleaned if c]
    if not statements:
        return None
    shortest = min(len(_normal(s)) for s in statements)
    best, best_score = None, 0.0
    for node in nodes[:6]:
        text = _heading_text(node)
        if not text or len(text) > _MAX_TITLE or _is_site_segment(text, site_name, url):
            continue
        if text in logos:
            continue
        if site_name and _normal(text) in _normal(site_name):
            continue
        if len(_normal(text)) < _MIN_HEADLINE_SHARE * shortest:
            continue  # a logo or section label the headline happens to contain
        score = max(agreement(text, s) for s in statements)
        if score > best_score:
            best, best_score = text, score
    return best if best is not None and best_score >= minimum else None


def _same_headline(a: str, b: str) -> bool:
    """Whether two normalised titles state one headline (one may extend the other)."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    # a subtitle or a site suffix left on one side; not a one-word section label
    return len(short) >= 0.6 * len(long) and long.startswith(short)


def _untruncated(value: str | None) -> str | None:
    # Publishers cut JSON-LD headlines to search engines' length limit.
    return None if value is None or _TRUNCATED.search(value) else value


# --- authors -------------------------------------------------------------
#
# The cascade lives in pipelines.extract.authors; this name is kept for callers.


def extract_authors(page: Page, site_name: str | None = None) -> tuple[str, ...]:
    """Authors of the page (see :mod:`pipelines.extract.authors`)."""
    from pipelines.extract.authors import extract_authors as cascade

    return cascade(page, site_name)


# --- site name, description, language -------------------------------------


def _publisher_name(page: Page) -> str | None:
    for item in page.jsonld:
        publisher = item.get("publisher")
        if isinstance(publisher, dict | list):
            found = _string(publisher)
            if found:
                return found
    for item in page.jsonld:
        if "WebSite" in schema_types(item) or "Organization" in schema_types(item):
            found = _string(item.get("name"))
            if found:
                return found
    return None


def extract_site_name(page: Page) -> str | None:
    """The publication's name: ``og:site_name``, JSON-LD publisher, or similar tags."""
    return (
        page.first_meta("og:site_name", "citation_journal_title", "application-name")
        or _publisher_name(page)
        or page.first_meta("twitter:site", "dc.publisher", "citation_publisher")
    )


def extract_description(page: Page) -> str | None:
    """The page summary from OpenGraph, ``<meta name=description>`` or JSON-LD."""
    return page.first_meta(
        "og:description",
        "description",
        "twitter:description",
        "dc.description",
        "citation_abstract",
    ) or jsonld_value(page, "description")


def normalise_language(value: str | None) -> str | None:
    """Reduce a language tag (``en-US``, ``de_DE``, ``EN``) to its lowercase primary subtag."""
    if not value:
        return None
    first = value.split(",")[0].split(";")[0].strip()
    match = _LANG.match(first)
    if match is None:
        return None
    primary = match.group(1).lower()
    return None if primary in {"und", "mul", "zxx", "xx"} else primary


def _html_lang(page: Page) -> str | None:
    if page.tree is None:
        return None
    root = page.tree.getroottree().getroot()
    for attr in ("lang", "{http://www.w3.org/XML/1998/namespace}lang", "xml:lang"):
        value = root.get(attr)
        if isinstance(value, str) and value.strip():
            return value
    return None


def extract_language(page: Page) -> str | None:
    """The page language as a BCP-47 primary tag: ``<html lang>``, meta tags, JSON-LD, header."""
    sources: list[Callable[[], str | None]] = [
        lambda: _html_lang(page),
        lambda: page.first_meta(
            "content-language", "language", "dc.language", "citation_language", "og:locale"
        ),
        lambda: jsonld_value(page, "inLanguage"),
        lambda: page.headers.get("content-language"),
    ]
    for source in sources:
        found = normalise_language(source())
        if found:
            return found
    return None
