"""Soft-404 probes: ask a site for a path that cannot exist, and compare its answer.

A site that answers unknown paths with a real 404 gives its probe away at
once; one that answers them with 200 shows in the probe what its not-found
page looks like, and a source whose page looks the same (the same final URL
after redirects, or near-identical title and main text) is that page.
"""

from __future__ import annotations

import random
import string
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pipelines.rot.signals import mentions_not_found
from pipelines.rot.similarity import text_overlap, title_similarity, tokens

#: text overlap (of 3-word shingles, against the smaller text) from which a
#: source is the probe's page. Two renderings of one template page differ
#: only in a timestamp or a few rotating suggestions: 0.7 and more on the
#: benchmark's rotating page, 1.0 on fixed ones. Two different articles of
#: one site share stock phrases at most: about 0.4 between pages generated
#: from one phrase list, near 0 between real articles.
SAME_TEXT = 0.6
#: title similarity for the same: a not-found page has one title per site
SAME_TITLE = 0.9
#: characters of the probe's main text kept (and remembered in the state)
PROBE_TEXT_CHARS = 3000

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class PageView:
    """What a comparison needs of one fetched page."""

    requested_url: str
    final_url: str | None
    http_status: int | None
    title: str | None
    #: the start of the main text (the record's preview)
    text: str | None

    def as_json(self) -> dict[str, Any]:
        """The probe as remembered in the state."""
        data = asdict(self)
        data["text"] = (self.text or "")[:PROBE_TEXT_CHARS] or None
        return data

    @classmethod
    def from_json(cls, data: Any) -> PageView | None:
        """Read a remembered probe back; None when it is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("requested_url"), str):
            return None
        status = data.get("http_status")

        def text_or_none(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls(
            requested_url=data["requested_url"],
            final_url=text_or_none("final_url"),
            http_status=status if isinstance(status, int) else None,
            title=text_or_none("title"),
            text=text_or_none("text"),
        )


def origin_of(url: str | None) -> str | None:
    """``scheme://host:port`` of a URL (lowercase, port always written); None without a host."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not host or port is None:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host.lower()}:{port}"


def _random_like(segment: str, rng: random.Random) -> str:
    """A random string shaped like ``segment`` (letters for letters, digits for digits), longer.

    Shaped alike so that a route matching the source's pattern (a numeric id,
    a slug) also matches the probe; six characters longer (digits for an id,
    else letters) so that it cannot be a page that exists.
    """
    if not segment:
        segment = "page"
    out = []
    for char in segment:
        if char.isdigit():
            out.append(rng.choice(string.digits))
        elif char.isalpha():
            out.append(rng.choice(string.ascii_lowercase))
        else:
            out.append(char)
    # An id (all digits) stays one; anything else grows by letters, so a
    # parameter such as a number of seconds ("0.1") is not asked for 7.3 s.
    pool = string.digits if segment.isdigit() else string.ascii_lowercase
    out.extend(rng.choice(pool) for _ in range(6))
    return "".join(out)


def probe_url(source_url: str, rng: random.Random) -> str | None:
    """A URL of the source's origin that cannot exist, at the same directory depth.

    The last path segment is replaced by a random one of the same shape (its
    extension kept), the query kept. None for a URL without a host.
    """
    try:
        parts = urlsplit(source_url)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    path = parts.path or "/"
    trailing = path.endswith("/") and path != "/"
    segments = path.strip("/").split("/") if path.strip("/") else []
    if segments:
        last = segments[-1]
        stem, dot, ext = last.rpartition(".")
        if dot and stem and 1 <= len(ext) <= 5 and ext.isalnum():
            segments[-1] = f"{_random_like(stem, rng)}.{ext}"
        else:
            segments[-1] = _random_like(last, rng)
    else:
        segments = [_random_like("", rng)]
    new_path = "/" + "/".join(segments) + ("/" if trailing else "")
    # The query stays as it is: randomising it instead would ask a page that
    # ignores its query (?ref=..., tracking) for itself, and a page that
    # answers itself is no soft 404.
    return urlunsplit((parts.scheme, parts.netloc, new_path, parts.query, ""))


def _without_fragment(url: str | None) -> str | None:
    if not url:
        return None
    return url.split("#", 1)[0]


def _url_words(url: str | None) -> set[str]:
    if not url:
        return set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    return set(tokens(f"{parts.path} {parts.query}"))


def _probe_tokens(probe: PageView, source: PageView) -> set[str]:
    """The random words of the probe's URL (those the source's URL does not have)."""
    return {
        w for w in _url_words(probe.requested_url) - _url_words(source.requested_url) if len(w) >= 4
    }


def echoes_its_path(probe: PageView, source: PageView) -> bool:
    """Whether the site's answer to the probe repeats the probe's random path.

    Such a site makes its page from the path it is asked for (a catch-all
    route, an echo, a search): its answer to a path that cannot exist looks
    like its answer to any path, so resemblance proves nothing there.
    """
    random_words = _probe_tokens(probe, source)
    if not random_words:
        return False
    shown = set(tokens(probe.title)) | set(tokens(probe.text))
    return bool(random_words & shown)


def identified_document(
    *,
    published_date: str | None,
    authors: list[str] | None,
    entry_title: str | None,
    page_title: str | None,
) -> bool:
    """Whether a page is plainly the cited document, whatever the site serves elsewhere.

    A dated page with a byline is a document, not a not-found page; so is a
    page carrying the very title the sources list cites. A site may serve
    such a page at every path (a one-page site, a default article): the
    citation still leads to its content.
    """
    if published_date and authors:
        return True
    similarity = title_similarity(entry_title, page_title)
    return similarity is not None and similarity >= SAME_TITLE


def _without(title: str | None, words: set[str]) -> str | None:
    if not title or not words:
        return title
    kept = [w for w in tokens(title) if w not in words]
    return " ".join(kept) if kept else None


def resembles_probe(source: PageView, probe: PageView) -> str | None:
    """Evidence that a source's page is the site's answer to a path that cannot exist, or None.

    Only a probe answered with 2xx can say anything: a site that answers
    unknown paths with a real 404 has no soft 404s to find this way, and a
    site whose answer repeats the random path makes pages from paths
    (:func:`echoes_its_path`).
    """
    if probe.http_status is None or not 200 <= probe.http_status < 300:
        return None
    source_final = _without_fragment(source.final_url)
    redirected = source_final != _without_fragment(source.requested_url)
    if redirected and source_final and source_final == _without_fragment(probe.final_url):
        return f"lands on {source_final}, where a path that cannot exist lands too"
    ignore: set[str] = set()
    if echoes_its_path(probe, source):
        # A page made from its path resembles every other one; unless the
        # answer says "not found": then it is a not-found template that
        # repeats the request, compared without the words of the URLs.
        if not mentions_not_found(probe.title, probe.text):
            return None
        ignore = _url_words(source.requested_url) | _url_words(source.final_url)
        ignore |= _url_words(probe.requested_url) | _url_words(probe.final_url)
    texts = text_overlap(source.text, probe.text, ignore=ignore)
    titles = title_similarity(_without(source.title, ignore), _without(probe.title, ignore))
    same_title = (titles is not None and titles >= SAME_TITLE) or (
        source.title is None and probe.title is None
    )
    if texts is None:
        # Neither page has main text: only the very same (non-empty) title can tell.
        no_text = not tokens(source.text) and not tokens(probe.text)
        if no_text and titles is not None and titles >= SAME_TITLE:
            return f"same title as a path that cannot exist ({source.title!r}), and no text"
        return None
    if same_title and texts >= SAME_TEXT:
        return (
            f"same page as a path that cannot exist (text overlap {texts:.2f}, "
            f"title {source.title!r})"
        )
    return None
