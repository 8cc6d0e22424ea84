"""Parse decoded HTML once and index what the field extractors look at.

The parsed tree, the ``<meta>`` values and the JSON-LD objects are gathered
into one :class:`Page`, so each field extractor is a small pure function of it.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import lxml.etree
import lxml.html
from extruct.jsonld import JsonLdExtractor

from pipelines.extract import rules

logger = logging.getLogger(__name__)

# Characters lxml refuses in text nodes (C0 controls except tab/newline/CR).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_WS = re.compile(r"\s+")

_PARSER = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
# lxml.html's own class lookup calls back into Python for every element proxy
# it creates (to give forms, inputs and labels their own classes): over half a
# million calls on 200 pages, as trafilatura's passes walk and copy the tree.
# No extractor uses those form classes, so a lookup that stays in C and makes
# every element an HtmlElement (what trafilatura and htmldate check for)
# serves them all.
_PARSER.set_element_class_lookup(
    lxml.etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement,
        comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity,
    )
)
_JSONLD = JsonLdExtractor()
_JSONLD_SCRIPTS = lxml.etree.XPath(
    "//script[translate(@type, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
    "='application/ld+json']"
)
_MAX_JSONLD_OBJECTS = 200  # some sites embed whole catalogues
# CMSs wrap JSON-LD in a CDATA section or an HTML comment (sometimes behind
# "//" so that old browsers skip it); the JSON parser refuses both wrappers.
_WRAPPER = re.compile(r"^\s*(?://\s*)?(?:<!\[CDATA\[|<!--)|(?://\s*)?(?:\]\]>|-->)\s*;?\s*$")


def squash(value: str | None) -> str | None:
    """Collapse whitespace runs to one space and strip; ``None`` when empty."""
    if value is None:
        return None
    cleaned = _WS.sub(" ", value).strip()
    return cleaned or None


def unescape(value: str | None) -> str | None:
    """Undo a second level of HTML escaping (``&amp;#8220;``), common in CMS-written metadata."""
    if value is None:
        return None
    return squash(html.unescape(value)) if "&" in value else squash(value)


def parse_html(html: str) -> lxml.html.HtmlElement | None:
    """Parse ``html`` leniently; ``None`` when lxml finds no document at all."""
    if not html.strip():
        return None
    try:
        # Parsing UTF-8 bytes sidesteps lxml's refusal of str input that carries
        # an XML encoding declaration.
        data = _XML_INVALID.sub("", html).encode("utf-8", "replace")
        return lxml.html.document_fromstring(data, parser=_PARSER)
    except (lxml.etree.ParserError, ValueError, TypeError) as exc:
        logger.debug("HTML parsing failed: %s", exc)
        return None


def schema_types(item: dict[str, Any]) -> tuple[str, ...]:
    """The schema.org ``@type`` names of ``item``, without namespace prefixes."""
    raw = item.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return tuple(v.rsplit("/", 1)[-1].rsplit(":", 1)[-1] for v in values if isinstance(v, str))


def _flatten(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Yield JSON-LD objects from top-level lists, ``@graph`` and ``mainEntity``."""
    if depth > 4:
        return
    if isinstance(data, list):
        for entry in data:
            yield from _flatten(entry, depth + 1)
    elif isinstance(data, dict):
        if any(key != "@context" and key != "@graph" for key in data):
            yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            nested = data.get(key)
            if isinstance(nested, dict | list):
                yield from _flatten(nested, depth + 1)


def unwrap_jsonld(text: str) -> str:
    """A JSON-LD script's text without a CDATA or HTML-comment wrapper."""
    return _WRAPPER.sub("", text)


def _parse_jsonld(script: lxml.html.HtmlElement) -> Any:
    text = script.text or ""
    if rules.on("jsonld_unwrap") and ("<!" in text or "]]>" in text or "-->" in text):
        try:
            return json.loads(unwrap_jsonld(text), strict=False)
        except ValueError:
            pass  # extruct's more lenient reading below
    return _JSONLD.extract_items(script)


def _jsonld_objects(tree: lxml.html.HtmlElement) -> tuple[dict[str, Any], ...]:
    found: list[dict[str, Any]] = []
    for script in _JSONLD_SCRIPTS(tree):
        try:
            # One script at a time: a single malformed block must not hide the others.
            items = _parse_jsonld(script)
        except Exception as exc:  # extruct re-raises the JSON parser's errors
            logger.debug("skipping malformed JSON-LD: %s", exc)
            continue
        found.extend(_flatten(items))
        if len(found) >= _MAX_JSONLD_OBJECTS:
            break
    return tuple(found[:_MAX_JSONLD_OBJECTS])


def _meta_index(tree: lxml.html.HtmlElement) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    # Some pages (and archived copies) put the value in a ``value`` attribute.
    with_value = rules.on("meta_value_attribute")
    for meta in tree.iter("meta"):
        raw = meta.get("content")
        if raw is None and with_value:
            raw = meta.get("value")
        content = unescape(raw)
        if content is None:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = meta.get(attr)
            if key:
                index.setdefault(key.strip().lower(), []).append(content)
    return {key: tuple(values) for key, values in index.items()}


@dataclass(frozen=True, slots=True)
class Page:
    """A parsed HTML page and the indexes the field extractors share."""

    url: str
    tree: lxml.html.HtmlElement | None
    meta: dict[str, tuple[str, ...]] = field(default_factory=dict)
    jsonld: tuple[dict[str, Any], ...] = ()
    headers: dict[str, str] = field(default_factory=dict)

    def first_meta(self, *keys: str) -> str | None:
        """The first non-empty ``<meta>`` content among ``keys`` (lowercase names)."""
        for key in keys:
            values = self.meta.get(key)
            if values:
                return values[0]
        return None


def build_page(html: str, url: str, headers: dict[str, str] | None = None) -> Page:
    """Parse ``html`` and index its metadata; never raises."""
    tree = parse_html(html)
    if tree is None:
        return Page(url=url, tree=None, headers=dict(headers or {}))
    try:
        meta = _meta_index(tree)
    except Exception as exc:  # defensive: odd attribute values
        logger.debug("meta indexing failed: %s", exc)
        meta = {}
    return Page(
        url=url, tree=tree, meta=meta, jsonld=_jsonld_objects(tree), headers=dict(headers or {})
    )
