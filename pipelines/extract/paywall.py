"""Structural paywall signals.

Only markup counts: schema.org's ``isAccessibleForFree: false``, the container
classes paywall vendors use, or a login/subscribe form inside the article. Each
fires only when the extracted text is short: metered sites mark every article
``isAccessibleForFree: false`` and carry paywall containers even when the full
text was served, and such a page is readable. Words like "subscribe" in the
text never fire on their own.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pipelines.extract.markup import Page

logger = logging.getLogger(__name__)

# class/id tokens set by paywall vendors and publishers' metering scripts
_PAYWALL_TOKENS = frozenset(
    {
        "paywall",
        "paywall-container",
        "paywall-content",
        "paywall-overlay",
        "paywall-wrapper",
        "meteredcontent",
        "metered-content",
        "piano-paywall",
        "tp-modal",
        "tp-backdrop",
        "regwall",
        "registration-wall",
        "subscriber-only",
        "subscribers-only",
        "premium-paywall",
        "article-paywall",
        "js-paywall",
        "paid-content",
        "locked-content",
        "pw-wall",
    }
)
_TOKEN_SPLIT = re.compile(r"\s+")
# Login/paywall forms, not newsletter sign-ups (those only ask for an e-mail address).
_FORM_WORDS = re.compile(r"log[-_ ]?in|sign[-_ ]?in|paywall|regwall|subscriber", re.IGNORECASE)

# Below these lengths the extracted text is a teaser rather than an article.
TEASER_TEXT = 2000  # with a statement that the content is not free
SHORT_TEXT = 900  # with paywall markup
VERY_SHORT_TEXT = 500  # with a login form in the article


def _is_false(value: Any) -> bool:
    if isinstance(value, bool):
        return value is False
    return isinstance(value, str) and value.strip().lower() in {"false", "no", "0"}


def not_free(page: Page) -> bool:
    """Whether JSON-LD marks the content (or a part of it) as not accessible for free."""
    for item in page.jsonld:
        if _is_false(item.get("isAccessibleForFree")):
            return True
        parts = item.get("hasPart")
        for part in parts if isinstance(parts, list) else [parts]:
            if isinstance(part, dict) and _is_false(part.get("isAccessibleForFree")):
                return True
    return False


def paywall_markup(page: Page) -> str | None:
    """The first paywall class or id token found in the page, if any."""
    if page.tree is None:
        return None
    try:
        for element in page.tree.iter():
            if not isinstance(element.tag, str):
                continue
            for attr in ("class", "id"):
                value = element.get(attr)
                if not value:
                    continue
                for token in _TOKEN_SPLIT.split(value.lower()):
                    if token in _PAYWALL_TOKENS:
                        return token
    except Exception as exc:  # defensive: odd trees
        logger.debug("paywall markup scan failed: %s", exc)
    return None


def login_form(page: Page) -> bool:
    """Whether the article area holds a password field or a login/subscriber form.

    Site-wide login widgets in sidebars and headers do not count.
    """
    if page.tree is None:
        return False
    try:
        forms = page.tree.xpath("//article//form|//main//form")
        for form in forms:
            if form.xpath(".//input[@type='password']"):
                return True
            label = " ".join(form.get(attr) or "" for attr in ("action", "id", "class", "name"))
            if _FORM_WORDS.search(label):
                return True
    except Exception as exc:  # defensive: odd trees
        logger.debug("form scan failed: %s", exc)
    return False


def detect_paywall(page: Page, text: str | None) -> tuple[bool, str | None]:
    """Return ``(paywall, reason)`` from structural signals of an HTML page."""
    length = len(text or "")
    if length < TEASER_TEXT and not_free(page):
        return True, f"json-ld isAccessibleForFree=false with short text ({length} chars)"
    if length < SHORT_TEXT:
        token = paywall_markup(page)
        if token:
            return True, f"paywall markup ({token}) with short text ({length} chars)"
    if length < VERY_SHORT_TEXT and login_form(page):
        return True, f"login form in the article with very short text ({length} chars)"
    return False, None
