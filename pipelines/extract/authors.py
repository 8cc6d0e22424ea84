"""Authors of an HTML page: a cascade of sources, persons before organisations.

Sources, most specific first: JSON-LD ``author``/``creator`` of the page's
main object (``@graph`` references resolved), Highwire ``citation_author``,
author ``<meta>`` tags (``article:author`` only when it is a name, not a
profile URL), a "By …" line after the headline, the visible byline as
trafilatura finds it, then a link to the writer's page on the site. The first source
that names someone wins; a source that only names the publication itself (its
site name, publisher, domain or a JSON-LD ``Organization``) is kept as a
fallback while a later one names a person (``authors_person_over_site``).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import lxml.etree

from pipelines.extract import rules
from pipelines.extract.markup import Page, schema_types, squash, unescape

logger = logging.getLogger(__name__)

MAX_AUTHOR = 100
MAX_AUTHORS = 30

_BYLINE_PREFIX = re.compile(
    r"^(?:(?:written|posted|published|text|words|reported|geschrieben|verfasst)\s+)?"
    r"(?:by|von|par|por|di|door|av|af|from)\b[\s:]*"
    r"|^(?:text|autor(?:in)?|author|auteur|redaktion)\s*:\s*",
    re.IGNORECASE,
)
_AUTHOR_SPLIT = re.compile(
    r"\s*(?:;|\||&|\u00b7|\s/\s|\band\b|\bund\b|\bet\b|\by\b|\bog\b)\s*", re.IGNORECASE
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_INITIALS = re.compile(r"\s*\([^)]{0,12}\)\s*$")
# A date or time glued to a byline: "Jane Doe 21. April 2020", "ZDNet Staff 2019年04月28日".
_TRAILING_DATE = re.compile(
    r"\s*(?:\b(?:am|on|le|el|il|den|op)\s+)?(?:\d{1,4}[./\-\u5e74]\s*\d|\d{1,2}\.?\s+\w+\s+\d{4}|"
    r"(?:updated|aktualisiert|published|veröffentlicht)\b).*$",
    re.IGNORECASE,
)
_MONTHS = (
    "jan(?:uary|uar)?|feb(?:ruary|ruar)?|m(?:ar(?:ch)?|ärz)|apr(?:il)?|ma[iy]|june?|juni|"
    "july?|juli|aug(?:ust)?|sep(?:t(?:ember)?)?|o[ck]t(?:ober)?|nov(?:ember)?|de[cz](?:ember)?"
)
# What follows a name in a visible byline: a date, a role, a place, a widget's label.
_BYLINE_TAIL = re.compile(
    r"(?:\s+|(?-i:(?<=[a-z])(?=[A-Z])))(?:(?:" + _MONTHS + r")\.?\s+\d"
    r"|(?:senior|chief|deputy|managing|executive|contributing|associate|special|staff|games|"
    r"politics|political|business|sports?|tech(?:nology)?|news|science|health|foreign)\s+"
    r"(?:\w+\s+)?(?:writer|reporter|correspondent|editor|technologist|journalist)"
    r"|(?:staff\s+)?(?:writer|reporter|correspondent|editor)\b"
    r"|edited\s+by\b|view\s+author\b|link\s+copied\b|get\s+author\b|see\s+full\s+bio\b"
    r"|(?:in|at|for|on|via|with|am|um)\s+\S"
    r").*$",
    re.IGNORECASE,
)
# "Jane Doe May" (a month glued on); not "Mike March", a two-word name.
_MONTH_END = re.compile(r"^(\S+(?:\s+\S+)+)\s+(?:" + _MONTHS + r")\.?$", re.IGNORECASE)
_WITH_CO_AUTHORS = re.compile(r"\(\s*(?:avec|with|mit|con|met)\s+([^)]*)\)", re.IGNORECASE)
_MAX_NAME_WORDS = 6
_ROLE_WORDS = frozenset(
    {
        "staff",
        "staff writer",
        "staff reporter",
        "reporter",
        "correspondent",
        "editor",
        "contributor",
        "columnist",
        "writer",
        "photographer",
        "author",
        "autor",
        "redakteur",
        "redakteurin",
        "journalist",
        "journalistin",
        "see full bio",
        "full bio",
        "contact",
        "follow",
        "more",
        "username",
        "posted",
        "admin",
        "xxx",
        "unknown",
        "anonymous",
    }
)
_ROLE_TAIL = re.compile(
    r"^(?:senior|chief|deputy|managing|executive|contributing|associate|special|political|"
    r"business|sports?|tech(?:nology)?|staff|news|science|health|foreign|freelance)\b.*"
    r"\b(?:writer|reporter|correspondent|editor|technologist|journalist|analyst|columnist)\b",
    re.IGNORECASE,
)
# What a byline search picks up that names no writer: a picture's credit
# ("(Image: Getty Images)", "Foto: dpa-Bildfunk", "Photo by Jane Doe/Reuters"
# is the photographer's) and the labels of comment and sharing widgets
# ("Kommentare geschlossen", "Leave a comment"). Agencies credited as writers
# ("dpa", "AFP", "Reuters") are authors and stay.
_CREDIT = re.compile(
    r"^\W*(?:images?|photos?|photograph(?:y|s)?|pictures?|pics?|foto(?:s|grafie)?|bild(?:er)?|"
    r"credits?|illustrations?|grafik|video|vídeo|imagen|immagine|crédit)\b\s*(?::|by\b|von\b)"
    r"|\b(?:getty\s*images|shutterstock|istock(?:photo)?|imago\s+images|picture[\s-]alliance|"
    r"alamy|dpa-bildfunk|keystone-sda)\b"
    r"|^(?:comments?|kommentare?|commentaires?|comentarios?|commenti|reacties)\b.{0,20}"
    r"\b(?:closed|off|disabled|geschlossen|deaktiviert|fermés?|cerrados?|chiusi)\W*$"
    r"|^(?:no|keine|aucun|sin|nessun)\s+(?:comments?|kommentare?|commentaires?|comentarios|"
    r"commenti)\W*$"
    r"|^(?:leave\s+a\s+(?:comment|reply)|read\s+more|show\s+more|and\s+more|share(?:\s+this)?|"
    r"weiterlesen|mehr\s+lesen|teilen|lire\s+la\s+suite|leer\s+más|follow(?:\s+us)?)\W*$",
    re.IGNORECASE,
)
_ORG_TYPES = ("Organization", "NewsMediaOrganization", "Corporation", "WebSite", "WebPage")


def _raw_clean(name: str) -> str | None:
    """The minimal cleaning every name gets: prefix, length, URLs and handles."""
    cleaned = squash(_BYLINE_PREFIX.sub("", unescape(name) or ""))
    if not cleaned or len(cleaned) > MAX_AUTHOR:
        return None
    if cleaned.startswith(("http://", "https://", "www.", "@")) or "/" in cleaned:
        return None  # profile links and handles, not names
    if not any(ch.isalpha() for ch in cleaned):
        return None
    return cleaned


def clean_author(name: str) -> str | None:
    """A single author name as a reader would write it; ``None`` when it is not one."""
    if not rules.on("authors_normalise"):
        return _raw_clean(name)
    text = unescape(name) or ""
    if "@" in text:
        # "Jane Doe <jane@example.org>" keeps the name; a bare address is not one
        text = _EMAIL.sub("", text).strip(" <>()[],;")
    text = _BYLINE_PREFIX.sub("", text.strip())
    if text[:1].isdigit() or _ROLE_TAIL.match(text):
        return None  # a date or time split off a byline
    text = _TRAILING_DATE.sub("", text)
    text = _BYLINE_TAIL.sub("", text)
    text = _MONTH_END.sub(r"\1", text.strip())
    text = _INITIALS.sub("", text).strip(" ,;:|-\u2013\u2014")
    cleaned = _raw_clean(text)
    if cleaned is None or len(cleaned.split()) > _MAX_NAME_WORDS:
        return None
    words = cleaned.split()
    if len(words) % 2 == 0 and words[: len(words) // 2] == words[len(words) // 2 :]:
        cleaned = " ".join(words[: len(words) // 2])  # "Confreaks Confreaks"
    lowered = cleaned.casefold()
    if lowered in _ROLE_WORDS or _ROLE_TAIL.match(cleaned):
        return None
    if rules.on("authors_credit_strings") and _CREDIT.search(cleaned):
        return None
    return cleaned


def split_authors(value: str) -> list[str]:
    """Split a byline naming several people ("A and B", "A; B", "A, B")."""
    normalise = rules.on("authors_normalise")
    if normalise:
        value = _WITH_CO_AUTHORS.sub(r"; \1", value)
    parts = _AUTHOR_SPLIT.split(value)
    result: list[str] = []
    for part in parts:
        pieces = [p.strip() for p in part.split(",")]
        if normalise and len(pieces) == 2 and all(p and " " not in p for p in pieces):
            result.append(f"{pieces[1]} {pieces[0]}")  # "Gillman, Steve"
        # "Smith, John" is one name; "John Smith, Jane Doe" is two.
        elif len(pieces) > 1 and all(" " in p for p in pieces if p):
            result.extend(pieces)
        elif len(pieces) > 1 and normalise and _ROLE_TAIL.match(pieces[-1]):
            result.append(pieces[0])  # "Jane Doe, Senior Staff Writer"
        else:
            result.append(part)
    return result


def dedupe(names: Iterable[str]) -> tuple[str, ...]:
    """Cleaned names, first occurrence kept, case-insensitively unique."""
    seen: set[str] = set()
    result: list[str] = []
    for raw in names:
        name = clean_author(raw)
        if name is None or name.casefold() in seen:
            continue
        seen.add(name.casefold())
        result.append(name)
    return tuple(result[:MAX_AUTHORS])


# --- JSON-LD ---------------------------------------------------------------------


def _graph_index(page: Page) -> dict[str, dict[str, Any]]:
    return {item["@id"]: item for item in page.jsonld if isinstance(item.get("@id"), str)}


def _jsonld_people(
    value: Any, index: dict[str, dict[str, Any]], depth: int = 0
) -> Iterator[tuple[str, bool]]:
    """(name, is_organisation) pairs of a JSON-LD ``author`` value."""
    if depth > 3:
        return
    if isinstance(value, list):
        for entry in value:
            yield from _jsonld_people(entry, index, depth + 1)
    elif isinstance(value, dict):
        ref = value.get("@id")
        if (
            "name" not in value
            and isinstance(ref, str)
            and ref in index
            and rules.on("authors_jsonld_ref")
        ):
            value = index[ref]
        org = any(t in _ORG_TYPES for t in schema_types(value))
        name = value.get("name")
        if isinstance(name, list):
            name = next((n for n in name if isinstance(n, str)), None)
        if isinstance(name, dict):
            name = name.get("@value")
        if isinstance(name, str):
            for part in split_authors(name):
                yield part, org
            return
        given, family = value.get("givenName"), value.get("familyName")
        if isinstance(given, str) and isinstance(family, str):
            yield f"{given} {family}", org
    elif isinstance(value, str):
        for part in split_authors(value):
            yield part, False


def _main_items(page: Page) -> list[dict[str, Any]]:
    from pipelines.extract.metadata import main_items

    return main_items(page)


def jsonld_source(page: Page) -> list[tuple[str, bool]]:
    """Authors the page's main JSON-LD object states."""
    index = _graph_index(page) if rules.on("authors_jsonld_ref") else {}
    for item in _main_items(page):
        found = list(_jsonld_people(item.get("author") or item.get("creator"), index))
        if found:
            return found
    return []


# --- meta tags -------------------------------------------------------------------

_META_KEYS = (
    "author",
    "article:author",
    "og:article:author",
    "parsely-author",
    "sailthru.author",
    "dc.creator",
    "dcterms.creator",
    "byl",
    "cxenseparse:author",
)


def citation_source(page: Page) -> list[tuple[str, bool]]:
    """Highwire ``citation_author`` tags, one name each."""
    found = []
    for name in page.meta.get("citation_author", ()):
        last, comma, first = name.partition(",")
        # Highwire writes "Family, Given"; one tag per author
        if comma and first.strip() and "," not in first and rules.on("authors_normalise"):
            name = f"{first.strip()} {last.strip()}"
        found.append((name, False))
    return found


def meta_source(page: Page) -> list[tuple[str, bool]]:
    """The first author ``<meta>`` tag that names someone."""
    for key in _META_KEYS:
        values = page.meta.get(key)
        if values:
            found = [(n, False) for v in values for n in split_authors(v) if clean_author(n)]
            if found:
                return found
    return []


# --- visible bylines ---------------------------------------------------------------

_BY_LINE = re.compile(r"^(?:written\s+)?(?:by|von|par|por|door)\s+(.{3,80})$", re.IGNORECASE)


def by_line_source(page: Page) -> list[tuple[str, bool]]:
    """A short "By Jane Doe" line among the first text lines after the ``<h1>``."""
    if page.tree is None:
        return []
    try:
        headings = page.tree.xpath("//h1")
    except Exception:  # defensive: lxml on odd trees
        return []
    if not headings:
        return []
    seen = 0
    for element in headings[0].itersiblings():
        for node in element.iter():
            if not isinstance(node.tag, str) or node.tag in {"script", "style"}:
                continue
            text = squash(node.text_content())
            if not text:
                continue
            seen += 1
            match = _BY_LINE.match(text)
            if match:
                return [(n, False) for n in split_authors(match[1])]
            if seen > 12:
                return []
    return []


def _text_outside(element: Any, skipped: set[Any]) -> Iterator[str]:
    """Text of ``element`` without the subtrees in ``skipped`` (their tails kept)."""
    if element.text:
        yield element.text
    for child in element:
        if child not in skipped and isinstance(child.tag, str):
            yield from _text_outside(child, skipped)
        if child.tail:
            yield child.tail


def byline_source(page: Page) -> list[tuple[str, bool]]:
    """The visible byline, found with trafilatura's byline XPath expressions.

    trafilatura's own ``extract_author`` deep-copies the whole tree to delete
    comment sections, dates and figures first; here the same expressions run on
    the shared tree and a match inside such a section (or the text of one inside
    a match) is skipped instead, which gives the same names without the copy.
    """
    if page.tree is None:
        return []
    from trafilatura.json_metadata import normalize_authors
    from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

    try:
        skipped: set[Any] | None = None  # found only once a candidate needs it
        for expression in AUTHOR_XPATHS:
            for element in expression(page.tree):
                if skipped is None:
                    skipped = {e for x in AUTHOR_DISCARD_XPATHS for e in x(page.tree)}
                if element in skipped or any(a in skipped for a in element.iterancestors()):
                    continue
                content = " ".join(" ".join(_text_outside(element, skipped)).split())
                if 2 < len(content) < _BYLINE_LIMIT:
                    found = normalize_authors(None, content)
                    return [(n, False) for n in found.split(";")] if found else []
    except Exception as exc:  # trafilatura's expressions on pathological markup
        logger.debug("byline search failed: %s", exc)
    return []


# trafilatura's length limit for a byline's text
_BYLINE_LIMIT = 120


# --- links to an author's page ------------------------------------------------------

# A path segment naming the site's pages about its writers ("/author/jane-doe/",
# "/autoren/…", "/people/…", "/staff/…", Slate's "/authors.jane_doe.html").
_PROFILE_PATH = re.compile(
    r"(?:^|[/.])(?:authors?|autor(?:en|in|innen)?|auteurs?|autores|autori|people|profiles?|"
    r"editors|staff|journalists?|redakteur(?:e|in)?|writers?|contributors?|reporters?|"
    r"columnists?)(?=[/.\-_]|$)",
    re.IGNORECASE,
)
# Anchors looked at, and names taken from one byline.
_MAX_PROFILE_LINKS = 400
_MAX_PROFILE_NAMES = 5


def _fold(value: str) -> str:
    """Lowercase letters and digits only, accents dropped ("Pönisch" -> "ponisch")."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def _names_profile(name: str, path: str) -> bool:
    """Whether a profile path after its author segment spells ``name``.

    It must hold the family name ("/author/jane-doe/", "/author/jdoe") or be
    the given name alone ("/author/jane/").
    """
    match = _PROFILE_PATH.search(path)
    words = [_fold(w) for w in name.split()]
    if match is None or not words or not words[-1]:
        return False
    tail = path[match.end() :].casefold()
    # German paths write ö as oe: "carola-poenisch" for "Carola Pönisch"
    spelled = {_fold(tail), _fold(tail.replace("oe", "o").replace("ae", "a").replace("ue", "u"))}
    first = _fold(next((seg for seg in tail.split("/") if seg), ""))
    return any(words[-1] in text for text in spelled) or (len(words) > 1 and first == words[0])


def _pen_name(text: str, path: str) -> bool:
    """A one-word name spelled by an ``/author/`` path ("Fabian" at "/author/fabian/").

    Only author segments: "/people/prince" is a topic page.
    """
    match = _PROFILE_PATH.search(path)
    return (
        match is not None
        and " " not in text
        and match.group(0).lstrip("/.").casefold().startswith(("aut", "writer"))
        and bool(_fold(text))
        and _fold(text) in _fold(path[match.end() :])
    )


def profile_link_source(page: Page) -> list[tuple[str, bool]]:
    """Names of links to the writer's page on the site ("/author/jane-doe/" reading "Jane Doe").

    The link's text must read as a person (or, for a one-word pen name, be
    spelled by the path) and its path must spell the name, which a section
    link ("/people/royals") or an account page ("/profile/details") does not.
    Further names come only from the same byline (the first link's grandparent).
    """
    if page.tree is None:
        return []
    try:
        links = page.tree.xpath("(//a[@href])[position() <= $n]", n=_MAX_PROFILE_LINKS)
    except Exception:  # defensive: lxml on odd trees
        return []
    found: list[str] = []
    byline: Any = None
    for link in links:
        href = str(link.get("href"))
        # most links name no profile: the cheap test on the raw address first
        if _PROFILE_PATH.search(href) is None:
            continue
        if byline is not None and byline not in link.iterancestors():
            continue
        text = squash(link.text_content())
        if not text or len(text) > MAX_AUTHOR:
            continue
        try:
            path = urlsplit(href).path
        except ValueError:
            continue
        if not (looks_like_person(text) or _pen_name(text, path)) or not _names_profile(text, path):
            continue
        if text not in found:
            found.append(text)
        if byline is None:
            parent = link.getparent()
            byline = parent.getparent() if parent is not None else None
            if byline is None:
                break
        if len(found) >= _MAX_PROFILE_NAMES:
            break
    return [(n, False) for n in found]


# --- a labelled author field ---------------------------------------------------------

# An element holding only a label ("Autorin/Autor", "Author:", "Verfasser") in
# a facts box or table; the name follows it as its tail or as the next text.
_LABEL_FIELD = lxml.etree.XPath(
    "(//*[self::strong or self::b or self::dt or self::th or self::span or self::label]"
    "[string-length(normalize-space(.)) < 24]"
    "[re:test(normalize-space(.), $labels, 'i')])[position() <= 5]",
    namespaces={"re": "http://exslt.org/regular-expressions"},
)
# A bare "author" is as often a role beside a name ("Marie Arana, author"):
# single-word labels count only with their colon.
_LABELS = (
    r"^(?:(?:autor(?:in)?|authors?|auteur(?:e|s)?|autore|autora|text|texto|testo)\s*:"
    r"|autor(?:in)?\s*/\s*autor(?:in)?|autor\(in\)|verfasser(?:in)?\s*:?|written\s+by\s*:?)$"
)
_NEXT_TEXT = lxml.etree.XPath("following::text()[normalize-space()][1]")


def label_field_source(page: Page) -> list[tuple[str, bool]]:
    """The person a labelled field names ("<strong>Autorin/Autor</strong> Roman Goncharenko").

    Only a name that reads as a person's counts: a label's neighbour is as
    often a date or a link as a name.
    """
    if page.tree is None:
        return []
    try:
        labels = _LABEL_FIELD(page.tree, labels=_LABELS)
        for label in labels:
            value = squash((label.tail or "").strip(" :\u00a0")) or squash(
                "".join(map(str, _NEXT_TEXT(label)))
            )
            name = clean_author(value.strip(" :")) if value else None
            if name and looks_like_person(name):
                return [(name, False)]
    except Exception as exc:  # defensive: lxml on odd trees
        logger.debug("label search failed: %s", exc)
    return []


# --- the cascade -------------------------------------------------------------------


def _normal(value: str) -> str:
    return re.sub(r"\W+", "", value).casefold()


def _org_names(page: Page, site_name: str | None) -> set[str]:
    from pipelines.extract.metadata import own_address

    names = {_normal(site_name)} if site_name else set()
    # the site as the page names itself (a mirror, archive or loopback server
    # hides its host; title_canonical_host) and as it was fetched
    for address in {own_address(page), page.url}:
        host = (urlsplit(address).hostname or "").removeprefix("www.")
        if host:
            labels = host.split(".")
            names.add(_normal(host))
            names.add(_normal(labels[-2] if len(labels) >= 2 else labels[0]))
    for item in page.jsonld:
        publisher = item.get("publisher")
        if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
            names.add(_normal(publisher["name"]))
        if any(t in _ORG_TYPES for t in schema_types(item)) and isinstance(item.get("name"), str):
            names.add(_normal(item["name"]))
    for key in ("og:site_name", "application-name", "twitter:site", "dc.publisher"):
        for value in page.meta.get(key, ()):
            names.add(_normal(value))
    names.discard("")
    return names


def _is_org(name: str, flagged: bool, orgs: set[str]) -> bool:
    if flagged:
        return True
    norm = _normal(name)
    return norm in orgs or any(norm.startswith(o) and len(o) >= 4 for o in orgs)


# Lowercase words a person's name may hold between capitalised ones.
_NAME_PARTICLES = frozenset(
    {"von", "van", "der", "den", "de", "da", "di", "du", "del", "della", "dos", "das", "le", "la",
     "bin", "ben", "al", "el", "y", "e", "zu", "ter", "ten", "af", "av"}
)  # fmt: skip
# Words that name a desk, an agency or a publication rather than a person.
_GROUP_WORDS = frozenset(
    {"news", "nachrichten", "redaktion", "team", "staff", "press", "presse", "media", "online",
     "agentur", "agenturen", "agency", "editorial", "editors", "desk", "newsroom", "tv", "radio",
     "magazine", "magazin", "zeitung", "times", "post", "daily", "blog", "quelle", "source"}
)  # fmt: skip
# Names in scripts without letter case (Chinese, Japanese, Korean) are this short.
_UNCASED_NAME = (2, 6)


def looks_like_person(name: str) -> bool:
    """Whether ``name`` reads as a person's name: "Jane Doe", "Dr. Max Kolter", "牛镛".

    Two to four words, each capitalised (or a particle such as "von"), no
    digits, at most one word in capitals, none of them a desk or agency word;
    in scripts without letter case, two to six letters. Used only to decide
    whether a later source's byline may replace the site's own name.
    """
    if any(ch.isdigit() for ch in name) or "@" in name:
        return False
    words = name.split()
    letters = [ch for ch in name if ch.isalpha()]
    if letters and not any(ch.isupper() or ch.islower() for ch in letters):
        return len(words) == 1 and _UNCASED_NAME[0] <= len(letters) <= _UNCASED_NAME[1]
    if not 2 <= len(words) <= 4:
        return False
    if sum(len(w) > 1 and w.isupper() for w in words) > 1:
        return False
    for word in words:
        bare = word.strip(".,'-")
        if not bare or bare.casefold() in _GROUP_WORDS:
            return False
        if not bare[0].isupper() and bare.casefold() not in _NAME_PARTICLES:
            return False
    return name.casefold() not in _ROLE_WORDS


def _site_only(
    names: tuple[str, ...], flags: dict[str, bool], orgs: set[str], rights: list[str]
) -> bool:
    """Whether every name is the site's own organisation or a handle ("CC7567").

    ``rights`` are the page's normalised copyright statements: a name they hold
    ("Copyright (c) Condé Nast 2022") is the publisher's.
    """
    return all(
        _is_org(n, flags.get(n, False), orgs)
        or any(ch.isdigit() for ch in n)
        or (len(_normal(n)) >= 4 and any(_normal(n) in r for r in rights))
        or (rules.on("authors_lowercase_handle") and _is_handle(n))
        for n in names
    )


def _is_handle(name: str) -> bool:
    """Whether ``name`` is a user handle ("mikecason", "jdoe_42"), not a written name.

    One word, all lowercase letters (a name in an uncased script has no lowercase).
    """
    return " " not in name and name.islower() and name.isascii()


_RIGHTS_META = ("copyright", "dc.rights", "dcterms.rights", "rights")


def _rights(page: Page) -> list[str]:
    """The page's copyright statements (``<meta name=copyright>``, JSON-LD ``copyrightHolder``)."""
    if not rules.on("authors_copyright_holder"):
        return []
    found = [_normal(v) for key in _RIGHTS_META for v in page.meta.get(key, ())]
    for item in page.jsonld:
        holder = item.get("copyrightHolder")
        if isinstance(holder, dict) and isinstance(holder.get("name"), str):
            found.append(_normal(holder["name"]))
        elif isinstance(holder, str):
            found.append(_normal(holder))
    return [f for f in found if f][:10]


def extract_authors(page: Page, site_name: str | None = None) -> tuple[str, ...]:
    """The page's authors: the first source naming someone.

    With ``authors_person_over_site``, a source that names only the site's own
    organisation (its site name, publisher, domain, a JSON-LD Organization) or
    a user handle gives way to the first later source naming a person
    (:func:`looks_like_person`); the organisation stays when none does. With
    ``authors_copyright_holder`` the copyright holder counts as the site's own.
    """
    sources: list[tuple[str, Callable[[Page], list[tuple[str, bool]]]]] = [
        ("jsonld", jsonld_source),
        ("citation", citation_source),
        ("meta", meta_source),
        ("authors_by_line", by_line_source),
        ("authors_byline", byline_source),
        ("authors_profile_link", profile_link_source),
        ("authors_label_field", label_field_source),
    ]
    prefer_people = rules.on("authors_person_over_site")
    orgs: set[str] | None = None
    fallback: tuple[str, ...] = ()
    for name, source in sources:
        if name in rules.RULES and not rules.on(name):
            continue
        found = source(page)
        if not found:
            continue
        names = dedupe(n for n, _ in found)
        if not names:
            continue
        if not prefer_people:
            return names
        if fallback:
            # only a person replaces the site's own name
            people = tuple(n for n in names if looks_like_person(n))
            if people:
                return people
            continue
        if orgs is None:
            orgs = _org_names(page, site_name)
        flags = {clean_author(n) or n: org for n, org in found}
        if not _site_only(names, flags, orgs, _rights(page)):
            return names
        fallback = names
    return fallback
