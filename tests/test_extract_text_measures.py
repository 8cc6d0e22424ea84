"""One walk over a page's text gives both of its measures: large or not, and its visible words."""

from __future__ import annotations

import pytest

from pipelines.extract import text as text_module
from pipelines.extract.markup import build_page

URL = "https://docs.example.org/guide/install"
PARAGRAPHS = "".join(
    f"<p>Step {i} of the guide explains setting {i} with values {i * 3} and {i * 7}.</p>"
    for i in range(15)
)


@pytest.mark.parametrize(
    ("body", "large"),
    [
        (f"<main>{PARAGRAPHS}</main>", False),
        # many elements, little text
        (
            "".join(f"<div><span>cell {i}</span></div>" for i in range(text_module.LARGE_ELEMENTS)),
            True,
        ),
        # few elements, much text
        ("<p>" + "word " * (text_module.LARGE_TEXT // 4) + "</p>", True),
        # scripts and styles count neither as words nor as text
        (
            "<script>var a = 1;</script><style>p {color: red}</style><p>Three short words</p>",
            False,
        ),
        ("", False),
    ],
    ids=["ordinary", "many-elements", "much-text", "scripts", "empty-body"],
)
def test_page_measures_agree_with_the_separate_measures(body: str, large: bool) -> None:
    tree = build_page(
        f"<html><head><title>A title</title></head><body>{body}</body></html>", URL
    ).tree
    assert text_module.is_large(tree) is large
    assert text_module.page_measures(tree) == (
        large,
        None if large else text_module.visible_words(tree),
    )


def test_page_measures_of_no_tree() -> None:
    assert text_module.page_measures(None) == (False, None)


def _words_of(body: str) -> tuple[int | None, int | None]:
    tree = build_page(
        f"<html><head><title>A title</title></head><body>{body}</body></html>", URL
    ).tree
    words = text_module.visible_words(tree)
    return words, text_module.core_words(tree, words)


def test_core_words_leave_out_navigation_asides_and_footers() -> None:
    words, core = _words_of(
        "<nav><a href='/'>Home page</a> <a href='/news'>All news</a></nav>"
        "<main><p>Five words in the article.</p>"
        "<aside><p>Related story one</p><footer>nested footer words</footer></aside></main>"
        "<footer><script>var hidden = 1;</script><p>Contact us</p></footer>"
    )
    # nav 4 + aside 3 + its nested footer 3 (counted once) + footer 2 = 12 words of furniture
    assert words == 17
    assert core == 5


def test_core_words_of_a_page_without_furniture_are_its_words() -> None:
    words, core = _words_of(f"<main>{PARAGRAPHS}</main>")
    assert words is not None and core == words


def test_core_words_unknown_without_a_tree_or_a_count() -> None:
    assert text_module.core_words(None, 10) is None
    tree = build_page("<html><body><p>x</p></body></html>", URL).tree
    assert text_module.core_words(tree, None) is None
