"""Main text of a document, normalised to paragraphs separated by a blank line."""

from __future__ import annotations

import copy
import html
import logging
import re
from typing import TypeAlias

import lxml.etree
import lxml.html
import trafilatura

from pipelines.extract import rules

logger = logging.getLogger(__name__)

# Control characters (except tab and newline), BOMs and zero-width spaces carry
# no text and break downstream JSON/XML consumers.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\ufeff]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n")
# trafilatura renders tables as Markdown-like rows: "| a | b |" and "|---|---|".
_TABLE_ROW = re.compile(r"^\|.*\|$")
_TABLE_RULE = re.compile(r"^\|?[\s:|-]*-[\s:|-]*\|?$")


def _clean_line(line: str) -> str:
    return _SPACES.sub(" ", line).strip()


def normalise_text(raw: str | None) -> str | None:
    """Normalise plain text: paragraphs (blank-line separated) keep their inner line breaks."""
    if not raw:
        return None
    raw = _INVISIBLE.sub("", raw.replace("\r\n", "\n").replace("\r", "\n"))
    raw = _SPACES.sub(" ", raw)  # once over the whole text: far cheaper than per line
    paragraphs = []
    for block in _BLANK_LINES.split(raw):
        lines = [line for line in (x.strip() for x in block.split("\n")) if line]
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs) or None


def lines_to_paragraphs(raw: str | None) -> str | None:
    """Turn one-block-per-line text (trafilatura's ``txt``) into blank-line separated paragraphs.

    Consecutive table rows stay together as one paragraph, one row per line,
    cells separated by `` | ``; Markdown rule lines are dropped.
    """
    if not raw:
        return None
    raw = _INVISIBLE.sub("", raw.replace("\r", "\n"))
    paragraphs: list[str] = []
    table: list[str] = []
    for line in (_clean_line(x) for x in raw.split("\n")):
        if line and _TABLE_ROW.match(line):
            if not _TABLE_RULE.match(line):
                cells = (cell.strip() for cell in line.strip("|").split("|"))
                row = " | ".join(cell for cell in cells if cell)
                if row:
                    table.append(row)
            continue
        if table:
            paragraphs.append("\n".join(table))
            table = []
        if line:
            paragraphs.append(line)
    if table:
        paragraphs.append("\n".join(table))
    return "\n\n".join(paragraphs) or None


def drop_leading_title(text: str | None, title: str | None) -> str | None:
    """Remove a first paragraph that only repeats the headline (kept apart in ``title``)."""
    if not text or not title:
        return text
    first, _, rest = text.partition("\n\n")
    if rest and _comparable(first) == _comparable(title):
        return rest
    return text


def _comparable(value: str) -> str:
    return re.sub(r"\W+", " ", value).strip().casefold()


_WORD = re.compile(r"\w+")
# Below this share of the recall-oriented extraction, the precision-oriented one
# has lost the article rather than trimmed it (see html_main_text).
MIN_PRECISE_SHARE = 0.5
# The recall-oriented text rarely holds more than this share of the words a page
# shows (the rest is navigation, footers, lists of links): on the evaluation
# corpus, 95% of the 447 pages where both passes ran stayed at or under 0.50
# and 99% under 0.77.
BROAD_SHARE_LIMIT = 0.7
# A precise text this long is no stray notice: the recall pass may be judged
# against the words outside the page's navigation, asides and footers (see
# html_main_text). Below it, a short page's furniture can hold most of its words.
CORE_MIN_WORDS = 50


Document: TypeAlias = str | lxml.html.HtmlElement


def _trafilatura_text(
    document: Document, url: str, *, precision: bool | None, thorough: bool = False
) -> str | None:
    """trafilatura's text: ``precision`` True/False favours precision/recall, None neither."""
    try:
        # A tree is not parsed again; trafilatura works on its own copy of it.
        raw = trafilatura.extract(
            document,
            url=url or None,
            include_comments=False,
            include_tables=True,
            output_format="txt",
            with_metadata=False,
            favor_precision=precision is True,
            favor_recall=precision is False,
            # trafilatura's comparison with readability and jusText: see html_main_text
            fast=not thorough,
        )
    except Exception as exc:  # trafilatura on pathological markup
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return None
    return lines_to_paragraphs(raw)


def _words(text: str | None) -> int:
    return len(_WORD.findall(text or ""))


class Passes:
    """The readings of one page that :func:`html_main_text` chooses among.

    Each method runs one extraction pass on the document when asked: the
    choice asks only for the passes its rules need, so most pages get one
    or two. The choice reads the passes through this object and nothing
    else, so ``bench/textchoice.py`` can hand it passes computed once and
    replay every configuration of the rules on them (a subclass that
    remembers what each method returned).
    """

    def __init__(self, document: Document, url: str) -> None:
        self.document = document
        self.url = url

    def trafilatura(self, precision: bool | None, thorough: bool) -> str | None:
        """trafilatura's text (see :func:`_trafilatura_text`)."""
        return _trafilatura_text(self.document, self.url, precision=precision, thorough=thorough)

    def readability(self) -> str | None:
        """readability's article, read as :func:`fast_main_text` reads a page; None if none.

        Runs on a copy of the tree (readability edits the tree it reads);
        a document that is still markup has no tree to copy, so no reading.
        """
        if not isinstance(self.document, lxml.html.HtmlElement):
            return None
        from trafilatura.external import try_readability

        try:
            summary = try_readability(copy.deepcopy(self.document))
        except Exception as exc:  # readability on pathological markup
            logger.debug("readability failed on %s: %s", self.url, exc)
            return None
        return fast_main_text(summary) if summary is not None else None


def html_main_text(
    document: Document,
    url: str,
    page_words: int | None = None,
    *,
    thorough: bool = False,
    furniture: bool = True,
    passes: Passes | None = None,
) -> str | None:
    """Main text of an HTML page with trafilatura, without comments; ``None`` if nothing.

    trafilatura's ``favor_precision`` mode prunes more boilerplate (related
    links, teasers, captions) than its default and scored best on the evaluation
    corpus, but its stricter pruning sometimes discards the article container
    itself and keeps only a stray notice. Such a failure is visible without any
    ground truth: the precise text is a small fraction of what the
    ``favor_recall`` mode finds in the same page. Trimming boilerplate never
    removes half of an article's words, so below that share the recall-oriented
    text is taken instead.

    Tables are kept (as rows of cells): on the evaluation corpus they are part of
    the article text more often than page furniture. ``page_words`` (the
    words visible in the page, :func:`visible_words`) lets the recall pass be
    skipped when its result would almost surely not change the choice: the
    recall text would need more than :data:`BROAD_SHARE_LIMIT` of the page's
    words to outweigh a precise text holding ``MIN_PRECISE_SHARE`` times that
    share. On the evaluation corpus this skips the pass on 486 of 784 pages
    (324 with the limit at 1.0, where the skip is certain) and changes no text.

    With ``furniture`` (and a parsed tree), the words outside ``<nav>``,
    ``<aside>`` and ``<footer>`` (:func:`core_words`; every trafilatura mode
    deletes those containers) tighten that bound once the precise text has
    :data:`CORE_MIN_WORDS` words: the recall text is judged against what those
    containers leave. They are counted only for a page the first bound did not
    settle. On the two evaluation corpora this skips the pass on 138 more of the
    426 pages where it ran (corpus 298 -> 200, corpus-meta 128 -> 88) and
    changes no text.

    ``thorough`` adds trafilatura's comparison of each pass with readability
    and jusText. On the evaluation corpus it changed the text of 2 pages in
    121 (body F1 0.973 instead of 0.970, dates unaffected) for about a quarter
    of the extraction time and 27 MB per process (jusText's stop lists), and
    the recall pass already rescues the pages where the precise pass lost the
    article, so it is off unless asked for (``EXTRACT_THOROUGH``).

    ``passes`` (default: :class:`Passes` of ``document``) supplies the
    readings; the document itself is only measured here.
    """
    passes = passes or Passes(document, url)
    precise = passes.trafilatura(True, thorough)
    # The recall pass (a second trafilatura run) is only worth its cost when the
    # precise text is small beside the page: see BROAD_SHARE_LIMIT.
    if precise is not None and page_words is not None:
        precise_words = _words(precise)
        share = MIN_PRECISE_SHARE * BROAD_SHARE_LIMIT
        if precise_words >= share * page_words:
            return precise
        if (
            furniture
            and precise_words >= CORE_MIN_WORDS
            and isinstance(document, lxml.html.HtmlElement)
        ):
            core = core_words(document, page_words)
            if core is not None and precise_words >= share * core:
                return precise
    broad = passes.trafilatura(False, thorough)
    lost = precise is None or _words(precise) < MIN_PRECISE_SHARE * _words(broad)
    chosen = broad if lost else precise
    if lost and not thorough and rules.on("text_precise_thorough"):
        chosen = _precise_thorough(passes, precise, broad)
    if not thorough and page_words:
        if rules.on("text_thorough_when_short"):
            chosen = _thorough_when_short(passes, chosen, page_words)
        if rules.on("text_recall_when_short"):
            chosen = _rescue_short(passes, chosen, page_words)
    return chosen


# The rescue replaces a text only by one at least this many times longer.
RESCUE_GAIN = 2.0
# The precise pass with its comparison replaces the recall text only when it
# found this many times the words of the fast precise pass: otherwise it has
# settled on the same stray notice.
PRECISE_GAIN = 1.5


def _precise_thorough(passes: Passes, precise: str | None, broad: str | None) -> str | None:
    """The precise pass with trafilatura's comparison, once the fast precise pass lost the article.

    When the fast precise pass keeps under :data:`MIN_PRECISE_SHARE` of the
    recall pass's words (often nothing at all), the recall text is what is
    left, with the boilerplate the precise pass exists to prune. The same
    pass without ``fast`` compares its result with readability and jusText
    and so recovers the article container while keeping its pruning. It runs
    only on those pages (22 of the 583 pages with text truth in the two
    evaluation corpora); its text is taken when it holds :data:`PRECISE_GAIN`
    times the fast precise text's words, so a comparison that settles on the
    same fragment leaves the recall text in place. It is taken even when
    shorter than the recall text: requiring a share of the recall text's
    words (0.5 to 0.8) lost the gains on the evaluation corpora's body text,
    as the recall text's extra words there are mostly boilerplate.
    """
    careful = passes.trafilatura(True, True)
    return careful if _words(careful) >= PRECISE_GAIN * max(_words(precise), 1) else broad


def _thorough_when_short(passes: Passes, chosen: str | None, page_words: int) -> str | None:
    """trafilatura's own full cascade when both fast passes kept implausibly little of the page.

    On pages that are not news articles (documentation, profiles, long
    essays in unusual templates) both biased fast passes can settle on a
    teaser or a notice while the page's visible words say there is much more.
    trafilatura's default mode (no precision or recall bias, and its
    comparison with readability and jusText, which ``fast`` skips) still finds
    the text there. It runs only when the chosen text holds less than the
    ``text_thorough_when_short`` threshold of the page's visible words (a
    ratio that needs no page type), and its text is taken when it is at least
    :data:`RESCUE_GAIN` times longer, so a short text that is the whole
    article (a notice, a brief) stays.
    """
    words = _words(chosen)
    if words >= rules.threshold("text_thorough_when_short") * page_words:
        return chosen
    full = passes.trafilatura(None, True)
    return full if _words(full) >= RESCUE_GAIN * max(words, 1) else chosen


def _rescue_short(passes: Passes, chosen: str | None, page_words: int) -> str | None:
    """A third reading when both passes kept implausibly little of the page.

    Both of trafilatura's biased modes sometimes settle on a wrong container
    (a teaser, a form) on pages that are not news articles, where
    readability's scoring of paragraphs still finds the text. It runs only
    when the chosen text holds less than the ``text_recall_when_short``
    threshold of the page's visible words (:meth:`Passes.readability`), and
    its text is taken when it is at least :data:`RESCUE_GAIN` times longer: a
    few milliseconds on the pages that need it, where trafilatura's full
    comparison with readability and jusText cost ten times more.
    """
    words = _words(chosen)
    if words >= rules.threshold("text_recall_when_short") * page_words:
        return chosen
    rescued = passes.readability()
    return rescued if _words(rescued) >= RESCUE_GAIN * max(words, 1) else chosen


# Text nodes of the body outside scripts and styles. ``parent::`` rather than
# ``ancestor::`` keeps the scan linear; the few words it lets through from
# <noscript> or <template> markup only make the count a looser upper bound,
# which is what html_main_text needs.
_VISIBLE_TEXT = lxml.etree.XPath(
    "//body//text()[not(parent::script or parent::style)]", smart_strings=False
)


def visible_words(tree: lxml.html.HtmlElement | None) -> int | None:
    """Words of text a reader could see in the page body (an upper bound); None when unknown."""
    if tree is None:
        return None
    try:
        texts = _VISIBLE_TEXT(tree)
    except Exception as exc:  # defensive: lxml on odd trees
        logger.debug("could not count the page's words: %s", exc)
        return None
    # One regex pass over the joined text: far cheaper than one per text node.
    return len(_WORD.findall(" ".join(texts))) if texts else None


# --- very large pages ---------------------------------------------------------
#
# trafilatura's cost grows with the number of elements (about 0.3 ms each in
# link-heavy <div> markup, both passes) and with the amount of text; on a 5 MB
# page it takes tens of seconds, blocking whatever runs the extraction. Pages
# beyond these sizes (several times the largest page of the evaluation corpus:
# 5,647 elements, about 1.6 MB) get a linear, single-pass reading of the
# article area instead: bounded time matters more there than trimming the
# last pieces of boilerplate.
LARGE_ELEMENTS = 12_000
LARGE_TEXT = 600_000

_SKIPPED = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "head",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "iframe",
        "button",
        "select",
        "textarea",
        "object",
        "canvas",
    }
)
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tr",
        "ul",
    }
)
_BLOCK_TAG = re.compile(r"</?(?:" + "|".join(sorted(_BLOCKS)) + r")\b[^>]*>")
_CELL_TAG = re.compile(r"</?(?:td|th)\b[^>]*>")
_ANY_TAG = re.compile(r"<[^>]*>")
_MAX_CONTAINERS = 20


_ELEMENT_COUNT = lxml.etree.XPath("count(//*)")
_TEXT_NODES = lxml.etree.XPath(
    "//text()[not(parent::script or parent::style)]", smart_strings=False
)


def is_large(tree: lxml.html.HtmlElement | None) -> bool:
    """Whether a parsed page is too big for trafilatura within a bounded time."""
    if tree is None:
        return False
    # Both counts run inside libxml2; a Python loop over the elements cost
    # several milliseconds on every ordinary page.
    if _ELEMENT_COUNT(tree) > LARGE_ELEMENTS:
        return True
    return sum(map(len, _TEXT_NODES(tree))) > LARGE_TEXT


# Text of the head outside scripts and styles (the title, mostly): with the
# body's text it is all the text that is_large measures. The parser puts the
# head under the root only, so the path starts there instead of searching the
# whole tree for it (0.22 -> 0.04 ms a page; the same nodes on all 1,253 pages of
# the dev corpora).
_HEAD_TEXT = lxml.etree.XPath(
    "/*/head//text()[not(parent::script or parent::style)]", smart_strings=False
)


def page_measures(tree: lxml.html.HtmlElement | None) -> tuple[bool, int | None]:
    """:func:`is_large` and :func:`visible_words` of a page with one walk over its text.

    Both read the same text nodes of the body; gathering them once saves about
    a millisecond a page (a third of the two measures) and gives the same
    answers on every page of the evaluation corpora. The word count is only
    made for a page that is not large (a large page never needs it).
    """
    if tree is None:
        return False, None
    if _ELEMENT_COUNT(tree) > LARGE_ELEMENTS:
        return True, None
    try:
        texts = _VISIBLE_TEXT(tree)
        size = sum(map(len, texts)) + sum(map(len, _HEAD_TEXT(tree)))
    except Exception as exc:  # defensive: lxml on odd trees
        logger.debug("could not measure the page: %s", exc)
        return is_large(tree), None
    if size > LARGE_TEXT:
        return True, None
    return False, len(_WORD.findall(" ".join(texts))) if texts else None


# The containers every trafilatura mode deletes: navigation, asides, footers.
_FURNITURE = ("nav", "aside", "footer")
_OWN_TEXT = lxml.etree.XPath(
    "descendant::text()[not(parent::script or parent::style)]", smart_strings=False
)


def core_words(tree: lxml.html.HtmlElement | None, page_words: int | None) -> int | None:
    """The page's visible words (``page_words``, :func:`visible_words`) less those in
    ``<nav>``, ``<aside>`` and ``<footer>``; None when unknown.

    The words are counted on the nodes joined by spaces, as :func:`visible_words`
    counts them, so a node's words are the same in both counts and the
    difference is the words of the remaining nodes. The containers are found
    by lxml's own iteration and only the outermost of nested ones is read:
    about half the cost of one XPath expression over the whole tree.
    """
    if tree is None or page_words is None:
        return None
    try:
        body = tree.find("body")
        if body is None:
            return page_words
        texts: list[str] = []
        for element in body.iter(*_FURNITURE):
            if next(element.iterancestors(*_FURNITURE), None) is None:
                texts.extend(_OWN_TEXT(element))
    except Exception as exc:  # defensive: lxml on odd trees
        logger.debug("could not count the page's furniture: %s", exc)
        return None
    return page_words - (len(_WORD.findall(" ".join(texts))) if texts else 0)


def _article_root(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """The ``<main>`` or ``<article>`` holding most of the body's text, else the body."""
    bodies = tree.xpath("//body")
    body = bodies[0] if bodies else tree
    total = len(body.text_content())
    best, best_length = body, 0
    for candidate in tree.xpath("//main|//article")[:_MAX_CONTAINERS]:
        length = len(candidate.text_content())
        if length > best_length:
            best, best_length = candidate, length
    return best if best_length >= total / 2 else body


def fast_main_text(tree: lxml.html.HtmlElement | None) -> str | None:
    """Text of a page's article area in one linear pass: blocks become paragraphs.

    Scripts, styles, navigation, headers, footers, asides and forms are left
    out; nothing else is judged. Works on a copy (the page's tree is shared);
    the block structure is read from the serialised copy with regular
    expressions, which keeps the work in C (lxml writes tag names in lowercase).
    """
    if tree is None:
        return None
    root = copy.deepcopy(_article_root(tree))
    lxml.etree.strip_elements(root, lxml.etree.Comment, *_SKIPPED, with_tail=False)
    root.tail = None
    markup = lxml.etree.tostring(root, method="html", encoding="unicode")
    markup = _BLOCK_TAG.sub("\n\n", markup)
    markup = _CELL_TAG.sub(" ", markup)
    return normalise_text(html.unescape(_ANY_TAG.sub("", markup)))
