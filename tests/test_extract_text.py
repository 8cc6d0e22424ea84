"""Main-text selection: when the full cascade runs, and what it may replace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipelines.extract import rules
from pipelines.extract import text as text_module
from pipelines.extract.markup import build_page

URL = "https://docs.example.org/guide/install"

PARAGRAPHS = "".join(
    f"<p>Step {i} of the installation guide explains setting number {i} in its own words, "
    f"with values {i * 3} and {i * 7} that the other steps of the guide do not repeat.</p>"
    for i in range(15)
)
PAGE = (
    "<html><head><title>Installation guide</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/docs'>Docs</a></nav>"
    f"<main><h1>Installation guide</h1>{PARAGRAPHS}</main>"
    "<footer><p>Licence and contact</p></footer></body></html>"
)


@pytest.fixture
def restore_rules() -> Iterator[None]:
    saved_rules, saved_thresholds = dict(rules.RULES), dict(rules.THRESHOLDS)
    yield
    rules.RULES.clear()
    rules.RULES.update(saved_rules)
    rules.THRESHOLDS.clear()
    rules.THRESHOLDS.update(saved_thresholds)


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool | None, bool]]:
    """The (precision, thorough) of every trafilatura run, the runs themselves unchanged."""
    seen: list[tuple[bool | None, bool]] = []
    real = text_module._trafilatura_text

    def recording(
        document: text_module.Document, url: str, *, precision: bool | None, thorough: bool = False
    ) -> str | None:
        seen.append((precision, thorough))
        return real(document, url, precision=precision, thorough=thorough)

    monkeypatch.setattr(text_module, "_trafilatura_text", recording)
    return seen


def _tree() -> text_module.lxml.html.HtmlElement:
    tree = build_page(PAGE, URL).tree
    assert tree is not None
    return tree


def test_a_plausible_text_needs_no_further_pass(
    passes: list[tuple[bool | None, bool]],
) -> None:
    tree = _tree()
    words = text_module.visible_words(tree)
    assert words is not None and words > 300
    text = text_module.html_main_text(tree, URL, page_words=words)
    assert text is not None and "Step 14 of the installation guide" in text
    assert passes == [(True, False)]  # the guide is most of the page: one fast pass


def test_a_text_short_for_the_page_gets_the_full_cascade(
    passes: list[tuple[bool | None, bool]], restore_rules: None
) -> None:
    """Far more visible words than the text: the full cascade runs, but only a much
    longer result replaces the text (here it finds the same guide, so the text stays)."""
    tree = _tree()
    words = text_module.visible_words(tree)
    assert words is not None
    rules.RULES["text_recall_when_short"] = False
    alone = text_module.html_main_text(tree, URL, page_words=words)
    passes.clear()
    text = text_module.html_main_text(tree, URL, page_words=words * 20)
    assert (None, True) in passes
    assert text == alone


def test_the_full_cascade_replaces_a_stray_notice() -> None:
    tree = _tree()
    words = text_module.visible_words(tree)
    assert words is not None
    notice = "Cookies help us deliver this guide."
    text = text_module._thorough_when_short(text_module.Passes(tree, URL), notice, words)
    assert text is not None and text != notice
    assert "Step 0 of the installation guide" in text and "Step 14" in text
    # the page's tree is left as it was for the other field extractors
    assert text_module.visible_words(tree) == words


def test_the_full_cascade_is_not_run_when_switched_off(
    passes: list[tuple[bool | None, bool]], restore_rules: None
) -> None:
    tree = _tree()
    words = text_module.visible_words(tree)
    assert words is not None
    rules.RULES["text_thorough_when_short"] = False
    rules.RULES["text_recall_when_short"] = False
    text_module.html_main_text(tree, URL, page_words=words * 20)
    assert all(not thorough for _, thorough in passes)


def test_a_short_text_that_is_the_whole_article_stays() -> None:
    """A brief notice page: the full cascade finds nothing much longer, the text stays."""
    html = (
        "<html><body><nav><a href='/'>Home</a></nav><main><h1>Service notice</h1>"
        "<p>The reading room is closed on Monday for maintenance of the heating system.</p>"
        "</main></body></html>"
    )
    tree = build_page(html, URL).tree
    assert tree is not None
    chosen = "The reading room is closed on Monday for maintenance of the heating system."
    assert text_module._thorough_when_short(text_module.Passes(tree, URL), chosen, 1000) == chosen


NOTICE = "Cookies help us deliver this guide."


def test_the_careful_precise_pass_replaces_the_recall_text_when_it_finds_the_article() -> None:
    """The fast precise pass kept a stray notice; the precise pass with trafilatura's
    comparison finds the whole guide and replaces the recall text (here given the
    page's footer on top, as a recall pass keeps it)."""
    tree = _tree()
    words = text_module.visible_words(tree)
    broad = text_module._trafilatura_text(tree, URL, precision=False)
    assert broad is not None
    broad += "\n\nLicence and contact"
    text = text_module._precise_thorough(text_module.Passes(tree, URL), NOTICE, broad)
    assert text is not None and text != broad and "Licence and contact" not in text
    assert "Step 0 of the installation guide" in text and "Step 14" in text
    # the page's tree is left as it was for the other field extractors
    assert text_module.visible_words(tree) == words


def test_the_recall_text_stays_when_the_careful_pass_finds_no_more() -> None:
    """A careful text no longer than the fast precise one is the same reading again."""
    tree = _tree()
    broad = text_module._trafilatura_text(tree, URL, precision=False)
    assert broad is not None
    broad += "\n\nLicence and contact"
    precise = text_module._trafilatura_text(tree, URL, precision=True)
    assert text_module._precise_thorough(text_module.Passes(tree, URL), precise, broad) == broad


@pytest.fixture
def lost_precise(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool | None, bool]]:
    """Every pass runs for real except the fast precise one, which keeps only a notice
    (how it fails on templates it misreads); the runs are recorded."""
    seen: list[tuple[bool | None, bool]] = []
    real = text_module._trafilatura_text

    def failing(
        document: text_module.Document, url: str, *, precision: bool | None, thorough: bool = False
    ) -> str | None:
        seen.append((precision, thorough))
        if precision is True and not thorough:
            return NOTICE
        return real(document, url, precision=precision, thorough=thorough)

    monkeypatch.setattr(text_module, "_trafilatura_text", failing)
    return seen


def test_a_lost_precise_pass_gets_its_careful_twin(
    lost_precise: list[tuple[bool | None, bool]], restore_rules: None
) -> None:
    tree = _tree()
    words = text_module.visible_words(tree)
    assert words is not None
    text = text_module.html_main_text(tree, URL, page_words=words)
    assert lost_precise[:3] == [(True, False), (False, False), (True, True)]
    assert text is not None and "Step 14 of the installation guide" in text
    lost_precise.clear()
    rules.RULES["text_precise_thorough"] = False
    text_module.html_main_text(tree, URL, page_words=words)
    assert (True, True) not in lost_precise


def _furnished_tree(links: int) -> text_module.lxml.html.HtmlElement:
    """The guide behind a navigation bar of ``links`` links (words the reader sees)."""
    nav = " ".join(f"<a href='/s{i}'>Section {i} overview</a>" for i in range(links))
    html = PAGE.replace("<nav>", f"<nav>{nav}")
    tree = build_page(html, URL).tree
    assert tree is not None
    return tree


def test_navigation_words_do_not_call_for_the_recall_pass(
    passes: list[tuple[bool | None, bool]],
) -> None:
    """A long navigation makes the guide a small share of the page's words, but not of
    the words outside its furniture: the precise text is plausible, one pass is enough."""
    tree = _furnished_tree(400)
    words = text_module.visible_words(tree)
    core = text_module.core_words(tree, words)
    assert words is not None and core is not None and core < words / 3
    without = text_module.html_main_text(tree, URL, page_words=words, furniture=False)
    assert (False, False) in passes  # judged by all the words, the recall pass ran
    passes.clear()
    text = text_module.html_main_text(tree, URL, page_words=words)
    assert passes == [(True, False)]
    assert text == without


def test_a_short_precise_text_still_gets_the_recall_pass(
    passes: list[tuple[bool | None, bool]],
) -> None:
    """Under CORE_MIN_WORDS words the furniture-free count is not trusted."""
    html = (
        "<html><head><title>Notice</title></head><body>"
        + "<nav>"
        + " ".join(f"<a href='/s{i}'>Section {i}</a>" for i in range(200))
        + "</nav>"
        + "<main><p>This page has moved to a new address.</p></main></body></html>"
    )
    tree = build_page(html, URL).tree
    words = text_module.visible_words(tree)
    core = text_module.core_words(tree, words)
    assert core is not None and core < text_module.CORE_MIN_WORDS
    text_module.html_main_text(tree, URL, page_words=words)
    assert passes[:2] == [(True, False), (False, False)]
