"""Scholarly identifiers of a source: DOI, arXiv id, PubMed id and ISBN (pure, no Scrapy).

Each identifier is normalised so that two mentions of one work compare equal:

* DOI: lowercase (DOIs are case-insensitive), without a resolver prefix
  (``https://doi.org/``, ``doi:``), percent-decoded, trailing punctuation and
  publisher path suffixes (``/full``, ``.pdf``) removed;
* arXiv: ``2401.01234`` or ``hep-th/9901001``, with its version (``v2``) only
  when the mention states one;
* PMID: the decimal digits without leading zeros;
* ISBN: the 13 digits of the ISBN-13 (an ISBN-10 is converted), checksum
  verified; a mention whose check digit is wrong is no ISBN.

Where they are looked for: the URL (:func:`from_url`), the page's metadata and
JSON-LD (:func:`from_page`) and plain text such as a PDF's first page
(:func:`from_text`). Explicit metadata beats text, the URL beats both
(:meth:`Identifiers.merge`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:  # the crawl process uses this module without the HTML parser
    from pipelines.extract.markup import Page

#: arxiv.org and its mirrors (the crawl's ``ARXIV_HOSTS`` setting overrides this)
DEFAULT_ARXIV_HOSTS: tuple[str, ...] = (
    "arxiv.org",
    "www.arxiv.org",
    "export.arxiv.org",
    "browse.arxiv.org",
    "ar5iv.org",
    "ar5iv.labs.arxiv.org",
)
KINDS = ("doi", "arxiv", "pmid", "isbn")
#: arXiv registers a DataCite DOI for every paper: 10.48550/arXiv.<id> (lowercased here)
ARXIV_DOI_PREFIX = "10.48550/arxiv."
#: key of the record's ``identifiers`` object, between extraction and the scholarly
#: stage only, listing the kinds the document's metadata states (never exported)
STATED_KEY = "_stated"
_PUBMED_HOSTS = ("pubmed.ncbi.nlm.nih.gov", "www.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov")
_EUROPEPMC_HOSTS = ("europepmc.org", "www.europepmc.org")
_DOI_RESOLVERS = ("doi.org", "dx.doi.org", "www.doi.org")

_MAX_TEXT = 200_000  # characters of text scanned for mentions (a first page is far less)
_MAX_VALUE = 300  # a longer "DOI" is page junk, not an identifier

# A DOI is "10." + a registrant code of digits (and dots) + "/" + a suffix of
# any printable characters (DOI Handbook, section 2.2). Whitespace, quotes and
# angle brackets end it in running text.
_DOI = re.compile(r"\b(10\.\d{4,9}(?:\.\d+)*/[^\s\"'<>]+)")
_DOI_TRAILING = re.compile(r"[.,;:!?)\]}'\u201d\u2019]+$")
# Publisher URL endings that follow the DOI in a path, not part of it.
_DOI_URL_SUFFIX = re.compile(
    r"(?:/(?:full|abstract|abs|pdf|epdf|pdfdirect|html|meta|summary|references|figures|suppl)"
    r"|\.full|\.full\.pdf|\.pdf|\.abstract|\.html)+$",
    re.IGNORECASE,
)
# bioRxiv/medRxiv DOIs (10.1101/…) appear in URLs with a version suffix.
_BIORXIV_VERSION = re.compile(r"^(10\.1101/\d{4}\.\d{2}\.\d{2}\.\d+)v\d+$")

_ARXIV_NEW = r"\d{4}\.\d{4,5}"
_ARXIV_OLD = r"[a-z][a-z-]*(?:\.[A-Za-z]{2})?/\d{7}"
_ARXIV_ID = re.compile(rf"^(?:{_ARXIV_NEW}|{_ARXIV_OLD})(?:v\d+)?$")
_ARXIV_PATH = re.compile(
    rf"^/(abs|pdf|html|format|ps|src)/((?:{_ARXIV_NEW}|{_ARXIV_OLD})(?:v\d+)?)(?:\.pdf)?/?$"
)
# "arXiv:2401.01234v2" (the stamp on an arXiv PDF's first page, and how papers cite)
_ARXIV_MENTION = re.compile(
    rf"\barXiv\s*:\s*((?:{_ARXIV_NEW}|{_ARXIV_OLD})(?:v\d+)?)\b", re.IGNORECASE
)
_ARXIV_URL_MENTION = re.compile(
    rf"\barxiv\.org/(?:abs|pdf|html)/((?:{_ARXIV_NEW}|{_ARXIV_OLD})(?:v\d+)?)", re.IGNORECASE
)
_PMID_MENTION = re.compile(r"\bPMID\s*:?\s*(\d{1,9})\b")
_ISBN_MENTION = re.compile(r"\bISBN(?:-1[03])?\s*:?\s*((?:97[89][\s-]?)?(?:\d[\s-]?){9}[\dXx])\b")
_DOI_LABEL = re.compile(r"\b(?:doi\s*:?\s*|https?://(?:dx\.)?doi\.org/)(10\.[^\s\"'<>]+)", re.I)

# <meta> names that carry identifiers (Highwire Press, Dublin Core, PRISM, bepress, Eprints).
_DOI_META = ("citation_doi", "prism.doi", "dc.identifier.doi", "bepress_citation_doi", "doi")
_GENERIC_META = ("dc.identifier", "dcterms.identifier", "citation_id", "eprints.id_number")
_ARXIV_META = ("citation_arxiv_id", "arxiv_id")
_PMID_META = ("citation_pmid", "pmid")
_ISBN_META = ("citation_isbn", "book:isbn", "books:isbn", "isbn")
_JSONLD_KEYS = ("identifier", "sameAs", "@id", "url", "doi", "isbn", "pmid")
_MAX_JSONLD_VALUES = 200


@dataclass(frozen=True, slots=True)
class Identifiers:
    """The normalised identifiers of one source; each None when absent.

    ``stated`` names the kinds the document's own metadata states (``<meta>``
    tags, JSON-LD, a PDF's Info): those identify the document itself, while
    one found in its text or links may name a work it cites.
    """

    doi: str | None = None
    arxiv: str | None = None
    pmid: str | None = None
    isbn: str | None = None
    stated: tuple[str, ...] = field(default=(), compare=False)  # sorted kinds

    def merge(self, other: Identifiers) -> Identifiers:
        """These identifiers, completed by ``other`` where these have none."""
        merged = Identifiers(
            doi=self.doi or other.doi,
            arxiv=self.arxiv or other.arxiv,
            pmid=self.pmid or other.pmid,
            isbn=self.isbn or other.isbn,
        )
        stated = {
            kind
            for kind in KINDS
            if (kind in self.stated and getattr(self, kind))
            or (kind in other.stated and getattr(merged, kind) == getattr(other, kind))
        }
        return replace(merged, stated=tuple(sorted(stated))) if stated else merged

    def as_dict(self) -> dict[str, str | None]:
        """The record's ``identifiers`` object."""
        return {"doi": self.doi, "arxiv": self.arxiv, "pmid": self.pmid, "isbn": self.isbn}

    def with_stated(self) -> dict[str, Any]:
        """:meth:`as_dict` plus :data:`STATED_KEY` for the scholarly stage (it removes the key)."""
        return {**self.as_dict(), STATED_KEY: sorted(self.stated)}

    def as_stated(self) -> Identifiers:
        """The same identifiers, all of them stated by the document's metadata."""
        return replace(self, stated=tuple(sorted(k for k in KINDS if getattr(self, k))))

    @classmethod
    def from_dict(cls, data: Any) -> Identifiers:
        """Read a record's ``identifiers`` object back (anything else gives no identifiers)."""
        if not isinstance(data, Mapping):
            return cls()
        found = cls(
            doi=normalise_doi(data.get("doi")),
            arxiv=normalise_arxiv(data.get("arxiv")),
            pmid=normalise_pmid(data.get("pmid")),
            isbn=normalise_isbn(data.get("isbn")),
        )
        stated = data.get(STATED_KEY)
        if isinstance(stated, list | tuple):
            kinds = tuple(sorted({k for k in stated if k in KINDS and getattr(found, k)}))
            found = replace(found, stated=kinds)
        return found

    def __bool__(self) -> bool:
        return any((self.doi, self.arxiv, self.pmid, self.isbn))


# --- normalisation -------------------------------------------------------------


def normalise_doi(value: Any) -> str | None:
    """A DOI lowercased, without resolver prefix or trailing punctuation; None if not a DOI."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = unquote(value.strip()[: _MAX_VALUE * 2])
    match = _DOI.search(text)
    if match is None:
        return None
    doi = match[1]
    # Trailing punctuation of running text; a closing bracket stays when it
    # closes one opened inside the DOI (10.1002/(sici)1097-…).
    while True:
        stripped = _DOI_TRAILING.sub("", doi)
        if stripped == doi:
            break
        if doi.endswith(")") and doi.count("(") >= doi.count(")"):
            break
        doi = stripped
    doi = doi.split("#", 1)[0].split("?", 1)[0] if "://" not in doi else doi
    if "/" not in doi or doi.endswith("/") or len(doi) > _MAX_VALUE:
        return None
    return doi.lower()


def arxiv_of_doi(doi: str | None) -> str | None:
    """The arXiv id of one of arXiv's own DOIs (``10.48550/arxiv.2401.01234``), else None."""
    if not doi or not doi.startswith(ARXIV_DOI_PREFIX):
        return None
    return normalise_arxiv(doi[len(ARXIV_DOI_PREFIX) :])


def _doi_from_path(path: str) -> str | None:
    doi = normalise_doi(path)
    if doi is None:
        return None
    # Only suffixes after the DOI's own suffix: "10.1002/abc/full" -> "10.1002/abc".
    prefix, _, suffix = doi.partition("/")
    while True:
        cut = _DOI_URL_SUFFIX.sub("", suffix)
        if cut == suffix or not cut:
            break
        suffix = cut
    doi = f"{prefix}/{suffix}"
    versioned = _BIORXIV_VERSION.match(doi)
    return versioned[1] if versioned else doi


def normalise_arxiv(value: Any) -> str | None:
    """An arXiv id (``2401.01234v2``, ``hep-th/9901001``) from an id, ``arXiv:…`` or URL."""
    if not isinstance(value, str):
        return None
    text = value.strip()[:_MAX_VALUE]
    if "://" in text or text.lower().startswith("arxiv.org/"):
        parts = urlsplit(text if "://" in text else f"https://{text}")
        if (parts.hostname or "").lower() not in DEFAULT_ARXIV_HOSTS:
            return None
        match = _ARXIV_PATH.match(parts.path)
        return match[2] if match else None
    text = re.sub(r"^arxiv\s*:\s*", "", text, flags=re.IGNORECASE)
    return text if _ARXIV_ID.match(text) else None


def normalise_pmid(value: Any) -> str | None:
    """A PubMed id as plain decimal digits (``PMID: 00123`` -> ``123``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = re.sub(r"^(?:pmid|pubmed)\s*:?\s*", "", value.strip(), flags=re.IGNORECASE)
    if not text.isdecimal() or not 0 < len(text) <= 9 or not text.isascii():
        return None
    stripped = text.lstrip("0")
    return stripped or None


def _isbn10_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(digits):
        value = 10 if char in "Xx" else int(char)
        total += (10 - position) * value
    return total % 11 == 0


def _isbn13_check(first12: str) -> str:
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def normalise_isbn(value: Any) -> str | None:
    """The 13 digits of an ISBN (ISBN-10 converted), or None when the checksum fails."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"^(?:urn:)?isbn(?:-1[03])?\s*:?\s*", "", value.strip()[:64], flags=re.I)
    compact = re.sub(r"[\s-]", "", text)
    if re.fullmatch(r"\d{13}", compact):
        if compact[:3] not in ("978", "979") or _isbn13_check(compact[:12]) != compact[12]:
            return None
        return compact
    if re.fullmatch(r"\d{9}[\dXx]", compact):
        if not _isbn10_valid(compact):
            return None
        first12 = "978" + compact[:9]
        return first12 + _isbn13_check(first12)
    return None


# --- where identifiers are found ----------------------------------------------------


def _host(url: str) -> tuple[str, str, str]:
    try:
        parts = urlsplit(url)
        return (parts.hostname or "").lower(), parts.path, parts.query
    except ValueError:
        return "", "", ""


def arxiv_from_url(url: str, hosts: Iterable[str] = DEFAULT_ARXIV_HOSTS) -> tuple[str, str] | None:
    """``(kind, id)`` of an arXiv URL (kind ``abs``, ``pdf``, ``html``, …) on one of ``hosts``."""
    host, path, _ = _host(url)
    wanted = {h.lower() for h in hosts}
    if host not in wanted:
        return None
    match = _ARXIV_PATH.match(unquote(path))
    return (match[1], match[2]) if match else None


def from_url(url: str | None, arxiv_hosts: Iterable[str] = DEFAULT_ARXIV_HOSTS) -> Identifiers:
    """Identifiers a URL carries: doi.org links, DOIs in publisher paths, arXiv, PubMed."""
    if not url:
        return Identifiers()
    host, path, query = _host(url)
    if not host:
        return Identifiers()
    doi = None
    arxiv = None
    pmid = None
    if host in _DOI_RESOLVERS:
        doi = normalise_doi(unquote(path.lstrip("/")))
    else:
        # Publisher paths (/doi/full/10.1002/…, /article/10.1007/…) and ?doi= parameters.
        if "/10." in path:
            doi = _doi_from_path(unquote(path[path.index("/10.") + 1 :]))
        if doi is None:
            for key, value in parse_qsl(query)[:50]:
                if key.lower() in ("doi", "id", "articleid") and value.startswith("10."):
                    doi = normalise_doi(value)
                    break
    found = arxiv_from_url(url, arxiv_hosts)
    if found is not None:
        arxiv = found[1]
    if host in _PUBMED_HOSTS:
        match = re.match(r"^/(?:pubmed/)?(\d{1,9})/?$", path)
        pmid = normalise_pmid(match[1]) if match else None
    elif host in _EUROPEPMC_HOSTS:
        match = re.match(r"^/(?:article|abstract)/MED/(\d{1,9})/?$", path, re.IGNORECASE)
        pmid = normalise_pmid(match[1]) if match else None
    return Identifiers(doi=doi, arxiv=arxiv, pmid=pmid)


def _one(values: Iterable[str | None]) -> str | None:
    """The single distinct value among ``values``; None when there are none or several."""
    distinct = {v for v in values if v}
    return distinct.pop() if len(distinct) == 1 else None


def _names_doi(lowered: str) -> bool:
    """Whether lowercase text may hold a labelled DOI (a cheap test before the regex scan)."""
    return "10." in lowered and "doi" in lowered


def from_text(text: str | None) -> Identifiers:
    """Identifiers mentioned in plain text (``doi:``/doi.org, ``arXiv:``, ``PMID``, ``ISBN``).

    Used on a PDF's first page, where a paper states its own identifiers. A
    kind mentioned with several different values (a reference list) gives
    nothing: which of them is the document's own cannot be told.
    """
    if not text:
        return Identifiers()
    head = text[:_MAX_TEXT]
    # A plain substring test is far cheaper than a regex scan, and most texts name nothing.
    lowered = head.lower()
    dois = [normalise_doi(m[1]) for m in _DOI_LABEL.finditer(head)] if _names_doi(lowered) else []
    arxivs = []
    if "arxiv" in lowered:
        arxivs = [m[1] for m in _ARXIV_MENTION.finditer(head)]
        arxivs += [m[1] for m in _ARXIV_URL_MENTION.finditer(head)]
    pmids = [normalise_pmid(m[1]) for m in _PMID_MENTION.finditer(head)] if "PMID" in head else []
    isbns = [normalise_isbn(m[1]) for m in _ISBN_MENTION.finditer(head)] if "ISBN" in head else []
    arxiv = _one(arxivs)
    if arxiv is None and arxivs:
        # "arXiv:2401.01234v2" and "arXiv:2401.01234" are one paper: keep the versioned one.
        bare = {re.sub(r"v\d+$", "", a) for a in arxivs}
        if len(bare) == 1:
            arxiv = max(arxivs, key=len)
    return Identifiers(doi=_one(dois), arxiv=arxiv, pmid=_one(pmids), isbn=_one(isbns))


def _classify_value(value: str, hint: str | None = None) -> Identifiers:
    """What one identifier-like string is (``doi:…``, a doi.org URL, ``urn:isbn:…``, …)."""
    text = value.strip()
    lowered = text.lower()
    if hint == "doi" or lowered.startswith(("doi:", "info:doi/")) or "doi.org/10." in lowered:
        return Identifiers(doi=normalise_doi(text))
    if hint == "arxiv" or lowered.startswith("arxiv:") or "arxiv.org/" in lowered:
        return Identifiers(arxiv=normalise_arxiv(text))
    if hint == "pmid" or lowered.startswith(("pmid:", "pubmed:", "info:pmid/")):
        return Identifiers(pmid=normalise_pmid(text.rsplit("/", 1)[-1]))
    if hint == "isbn" or lowered.startswith(("isbn", "urn:isbn:")):
        return Identifiers(isbn=normalise_isbn(re.sub(r"^urn:", "", text, flags=re.I)))
    if lowered.startswith("10.") and "/" in lowered:
        return Identifiers(doi=normalise_doi(text))
    if lowered.startswith(("http://", "https://")):
        return from_url(text)  # sameAs / @id links: PubMed, publisher paths with a DOI
    return Identifiers()


def from_meta(meta: Mapping[str, Iterable[str]]) -> Identifiers:
    """Identifiers in ``<meta>`` tags (lowercase names to their contents)."""
    found = Identifiers()
    for names, hint in (
        (_DOI_META, "doi"),
        (_ARXIV_META, "arxiv"),
        (_PMID_META, "pmid"),
        (_ISBN_META, "isbn"),
        (_GENERIC_META, None),
    ):
        for name in names:
            for content in list(meta.get(name, ()))[:20]:
                found = found.merge(_classify_value(content, hint))
    return found


def _jsonld_strings(value: Any, depth: int = 0) -> Iterable[tuple[str | None, str]]:
    """``(hint, string)`` pairs from a JSON-LD identifier-ish value (PropertyValue included)."""
    if depth > 3:
        return
    if isinstance(value, str):
        yield None, value
    elif isinstance(value, list):
        for entry in value[:_MAX_JSONLD_VALUES]:
            yield from _jsonld_strings(entry, depth + 1)
    elif isinstance(value, dict):
        # schema.org PropertyValue: {"propertyID": "DOI", "value": "10.…"}
        kind = value.get("propertyID") or value.get("name")
        inner = value.get("value") or value.get("@value") or value.get("@id")
        if isinstance(kind, str) and isinstance(inner, str):
            hint = kind.strip().lower()
            yield (hint if hint in ("doi", "arxiv", "pmid", "isbn") else None), inner
        elif isinstance(inner, str):
            yield None, inner


def from_jsonld(objects: Iterable[Mapping[str, Any]]) -> Identifiers:
    """Identifiers of the JSON-LD objects that describe the page (``identifier``, ``sameAs``, …).

    Only the objects' own identifier keys are read, never ``citation``: that
    names other works.
    """
    found = Identifiers()
    for index, item in enumerate(objects):
        if index >= _MAX_JSONLD_VALUES:
            break
        for key in _JSONLD_KEYS:
            if key not in item:
                continue
            hint = key if key in ("doi", "isbn", "pmid") else None
            for inner_hint, text in _jsonld_strings(item[key]):
                found = found.merge(_classify_value(text, inner_hint or hint))
    return found


# Both kinds of link in one walk over the anchors (an href may be of both kinds).
_IDENTIFIER_LINKS = "//a/@href[contains(., 'doi.org/10.') or contains(., 'arxiv.org/')]"
_TEXT_NODES = "//body//text()[not(ancestor::script) and not(ancestor::style)]"
_MAX_LINKS = 500


@functools.cache
def _xpaths() -> tuple[Any, Any]:
    """The link and text expressions, compiled once (``tree.xpath(str)`` compiles on every call).

    lxml is imported here, not at the top: the crawl process uses this module
    without the HTML parser.
    """
    import lxml.etree

    return (
        lxml.etree.XPath(_IDENTIFIER_LINKS, smart_strings=False),
        lxml.etree.XPath(_TEXT_NODES, smart_strings=False),
    )


def _document_text(page: Page) -> str:
    """The page's visible text, nodes joined by spaces (``text_content`` glues them), bounded."""
    assert page.tree is not None
    parts: list[str] = []
    size = 0
    for node in _xpaths()[1](page.tree):
        parts.append(str(node))
        size += len(parts[-1]) + 1
        if size >= _MAX_TEXT:
            break
    return " ".join(parts)[:_MAX_TEXT]


def from_page(page: Page, text: str | None = None) -> Identifiers:
    """Identifiers of an HTML page: ``<meta>`` tags, then JSON-LD, then its links and text.

    Links to doi.org and ``doi:``/``arXiv:`` mentions in the main ``text``
    count only when the page names exactly one work of that kind: a page
    citing several cannot be told apart from them.
    """
    from pipelines.extract.metadata import main_items

    found = from_meta(page.meta).merge(from_jsonld(main_items(page))).as_stated()
    if page.tree is None:
        return found.merge(from_text(text))
    try:
        hrefs = [str(h) for h in _xpaths()[0](page.tree)]
        dois = [h for h in hrefs if "doi.org/10." in h][:_MAX_LINKS]
        arxivs = [h for h in hrefs if "arxiv.org/" in h][:_MAX_LINKS]
        # The whole document's text, not only the main text: a landing page
        # states "DOI: 10.…" in a header or sidebar that main-text extraction drops.
        # text_content() glues nodes together but is cheap: enough to see
        # whether the document names any identifier before collecting its text
        glued = page.tree.text_content()[: _MAX_TEXT * 2].lower()
        named = _names_doi(glued) or any(k in glued for k in ("arxiv", "pmid", "isbn"))
        document = _document_text(page) if named else ""
    except Exception:  # defensive: lxml on pathological trees
        dois, arxivs, document = [], [], ""
    mentioned = from_text(text).merge(from_text(document))
    linked = Identifiers(
        doi=_one(normalise_doi(h) for h in dois),
        arxiv=_one(m[1] for h in arxivs if (m := _ARXIV_URL_MENTION.search(h))),
    )
    # A link counts unless the text names another work of the same kind.
    agreed = Identifiers(
        doi=linked.doi if mentioned.doi in (None, linked.doi) else None,
        arxiv=linked.arxiv if mentioned.arxiv in (None, linked.arxiv) else None,
    )
    return found.merge(mentioned).merge(agreed)
