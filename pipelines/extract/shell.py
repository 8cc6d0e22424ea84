"""Is this page an empty shell that only JavaScript fills? Cheap signals from the plain fetch.

A single-page app ships an almost empty document: an application root
(``<div id="root">``, ``<app-root>``, ``#__next``…) with nothing in it, one or
more script bundles, often a ``<noscript>`` asking for JavaScript. Rendering
such a page in a browser costs a hundred times what extracting it does, so
the crawl renders only the pages this module calls shells.

The rules are ordered from the cheapest to the dearest. Most ordinary pages
are let go by a byte scan (no ``<script>`` at all, or plenty of paragraphs
outside the scripts) without being parsed; the rest are parsed with lxml
and judged on the text a reader would see outside navigation, headers and
footers ("content characters"), the application roots, the ``<noscript>``
messages and the weight of the scripts.

Pure: no Scrapy, no network; ``detect_shell(body)`` is a function of bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lxml import etree
from lxml import html as lxml_html

#: Only the head of a huge page is looked at: a shell is small, and an ordinary
#: page shows its text long before this.
MAX_SCAN_BYTES = 2 * 1024 * 1024
#: Content characters from which a page counts as server-rendered whatever its
#: scripts and markers say (a Next.js or Nuxt page rendered on the server
#: carries every marker and all of its text).
ENOUGH_TEXT = 1500
#: Fewer content characters than this beside an empty application root: a shell.
ROOT_MAX_TEXT = 1200
#: An application root holding less text than this is empty ("Loading…" included).
ROOT_EMPTY_TEXT = 80
#: Fewer content characters than this beside a <noscript> asking for JavaScript.
NOSCRIPT_MAX_TEXT = 500
#: Fewer content characters than this beside a framework's own marker.
MARKER_MAX_TEXT = 300
#: Fewer content characters than this with heavy scripts and no other sign.
SCRIPTS_MAX_TEXT = 150
#: What counts as heavy: this many external scripts, or this many bytes inline.
HEAVY_EXTERNAL_SCRIPTS = 1
HEAVY_INLINE_BYTES = 20_000
#: A byte scan that finds this many paragraphs outside scripts lets the page go
#: unparsed: it was rendered on the server (a shell has next to no markup).
PARAGRAPHS_FOR_STATIC = 8

#: Without a framework marker or a <noscript> asking for JavaScript, a page
#: with this many non-blank bytes between its tags (outside scripts and
#: styles) goes unparsed: it has text.
ROUGH_TEXT_FOR_STATIC = 2000

# Framework fingerprints (each vendor's documented root or bootstrap names), lowercase:
# plain substring tests, which run at memory speed where one alternation would not.
_MARKERS = (
    b"__next_data__",
    b"/_next/static/",
    b"window.__nuxt__",
    b"__nuxt_data__",
    b"/_nuxt/",
    b"ng-version=",
    b" ng-app",
    b"data-ng-app",
    b"data-reactroot",
    b"webpackchunk",
    b"webpackjsonp",
    b"__sveltekit",
    b"ember-application",
    b"___gatsby",
    b"data-v-app",
    b"<app-root",
    b"__apollo_state__",
    b"__initial_state__",
)
_ROOT_IDS = re.compile(rb"id=[\"']?(?:root|app|__next|__nuxt|svelte|react-root|app-root)[\"'\s>]")
_PARAGRAPH = re.compile(rb"<p[\s>]")  # on lowercased bytes
_TAG = re.compile(rb"<[^>]*>")
_ASKS_FOR_JS_BYTES = re.compile(rb"java\s*script")  # on lowercased bytes

# Application roots of the common frameworks and of hand-written apps.
_ROOTS_XPATH = (
    "//*[@id='root' or @id='app' or @id='__next' or @id='__nuxt' or @id='___gatsby'"
    " or @id='svelte' or @id='react-root' or @id='app-root' or @id='main-app'"
    " or @id='application' or @ng-app or @data-ng-app or @ng-version or @data-reactroot"
    " or @data-v-app] | //app-root"
)
# Text a reader sees that is not the page's content: removed before counting.
_BOILERPLATE = (
    "nav",
    "header",
    "footer",
    "aside",
    "button",
    "select",
    "option",
)
_INVISIBLE = ("script", "style", "noscript", "template", "svg", "iframe", "object", "head")
_DATA_SCRIPT_TYPES = frozenset(
    {"application/ld+json", "application/json", "text/template", "text/x-template"}
)
_ASKS_FOR_JS = re.compile(r"java\s*script", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class ShellVerdict:
    """What the detector concluded about one page, and why."""

    shell: bool
    #: which rule decided: ``empty_root``, ``noscript``, ``framework``,
    #: ``heavy_scripts`` for a shell; ``no_scripts``, ``static``, ``text`` or
    #: ``unparsable`` for a page that is not one
    reason: str
    #: characters of visible text outside navigation and boilerplate (-1: not parsed)
    content_chars: int = -1


def _chars(text: str) -> int:
    return len(_SPACE.sub(" ", text).strip())


def _text_of(element: etree._Element) -> int:
    return _chars("".join(element.itertext()))


def _markup_segments(lowered: bytes) -> Iterator[tuple[int, int]]:
    """Spans of ``lowered`` outside ``<script>`` and ``<style>`` blocks, in order.

    ``bytes.find`` runs at memory speed where a lazy ``<script.*?</script>``
    pattern took milliseconds a page. A generator: the paragraph count stops
    reading spans once it has enough.
    """
    pos, end = 0, len(lowered)
    # The next opening of each kind, found again only once passed: one scan per kind.
    following = {b"<script": lowered.find(b"<script"), b"<style": lowered.find(b"<style")}
    while pos < end:
        for opener, at in following.items():
            if 0 <= at < pos:
                following[opener] = lowered.find(opener, pos)
        found = [(at, opener) for opener, at in following.items() if at >= 0]
        if not found:
            yield pos, end
            break
        start, opener = min(found)
        yield pos, start
        closer = b"</" + opener[1:]
        close = lowered.find(closer, start)
        pos = end if close < 0 else close + len(closer)


def _has_paragraphs(lowered: bytes, spans: Iterable[tuple[int, int]], wanted: int) -> bool:
    """Whether the spans hold at least ``wanted`` paragraph tags (stops at the ``wanted``-th)."""
    found = 0
    for start, stop in spans:
        for _ in _PARAGRAPH.finditer(lowered, start, stop):
            found += 1
            if found >= wanted:
                return True
    return False


def _rough_text(lowered: bytes, spans: Iterable[tuple[int, int]]) -> int:
    """Non-blank bytes between tags of the markup outside scripts and styles."""
    text = 0
    for start, stop in spans:
        text += len(_TAG.sub(b"", lowered[start:stop]).translate(None, b" \t\r\n"))
    return text


def _noscript_asks_for_js(lowered: bytes) -> bool:
    pos = lowered.find(b"<noscript")
    while pos >= 0:
        close = lowered.find(b"</noscript", pos)
        if _ASKS_FOR_JS_BYTES.search(lowered, pos, close if close >= 0 else len(lowered)):
            return True
        pos = lowered.find(b"<noscript", pos + 9) if close >= 0 else -1
    return False


def _script_weight(tree: etree._Element) -> tuple[int, int]:
    """(external scripts, inline script bytes) of the code the page runs."""
    external = inline = 0
    for script in tree.iter("script"):
        kind = (script.get("type") or "").strip().lower()
        if kind in _DATA_SCRIPT_TYPES:
            continue
        if script.get("src"):
            external += 1
        else:
            inline += len(script.text or "")
    return external, inline


def detect_shell(body: bytes) -> ShellVerdict:
    """Judge whether an HTML body is a JavaScript shell (see the module docstring).

    Never raises: a body lxml cannot parse is not called a shell.
    """
    head = body[:MAX_SCAN_BYTES]
    lowered = head.lower()
    if b"<script" not in lowered:
        return ShellVerdict(False, "no_scripts")
    # Most pages have their paragraphs early: counting stops there, and the
    # text between tags (a pass over every span) is only measured without them.
    if _has_paragraphs(lowered, _markup_segments(lowered), PARAGRAPHS_FOR_STATIC):
        return ShellVerdict(False, "static")
    text = _rough_text(lowered, _markup_segments(lowered))
    marker = any(m in lowered for m in _MARKERS) or _ROOT_IDS.search(lowered) is not None
    if not marker and text >= ROUGH_TEXT_FOR_STATIC and not _noscript_asks_for_js(lowered):
        # Only the heavy-scripts rule could still apply, and it needs a page
        # with next to no text: this one has plenty between its tags.
        return ShellVerdict(False, "static")
    try:
        tree = lxml_html.document_fromstring(head)
    except (etree.LxmlError, ValueError):
        return ShellVerdict(False, "unparsable")
    external, inline = _script_weight(tree)
    if not external and not inline:
        return ShellVerdict(False, "no_scripts")
    asks_for_js = any(
        _ASKS_FOR_JS.search(_SPACE.sub(" ", ns.text_content())) for ns in tree.iter("noscript")
    )
    etree.strip_elements(tree, *_INVISIBLE, with_tail=False)
    roots = tree.xpath(_ROOTS_XPATH)
    empty_root = any(_text_of(root) < ROOT_EMPTY_TEXT for root in roots)
    etree.strip_elements(tree, *_BOILERPLATE, with_tail=False)
    content = _text_of(tree)
    if content >= ENOUGH_TEXT:
        return ShellVerdict(False, "text", content)
    if empty_root and content < ROOT_MAX_TEXT:
        return ShellVerdict(True, "empty_root", content)
    if asks_for_js and content < NOSCRIPT_MAX_TEXT:
        return ShellVerdict(True, "noscript", content)
    if marker and content < MARKER_MAX_TEXT:
        return ShellVerdict(True, "framework", content)
    heavy = external >= HEAVY_EXTERNAL_SCRIPTS or inline >= HEAVY_INLINE_BYTES
    if heavy and content < SCRIPTS_MAX_TEXT:
        return ShellVerdict(True, "heavy_scripts", content)
    return ShellVerdict(False, "text", content)
