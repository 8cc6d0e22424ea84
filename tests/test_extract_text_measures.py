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
