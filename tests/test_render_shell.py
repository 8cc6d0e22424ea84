"""The shell detector on the shapes frameworks ship and on ordinary pages (pure, no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.extract.shell import detect_shell

SITE = Path(__file__).parent / "site"

BUNDLE = '<script src="/static/js/main.4f2a.js"></script>'
ARTICLE = "".join(
    f"<p>Paragraph {i} of a long report on municipal water budgets, with figures and "
    "sources that a reader would want to cite in a wiki article.</p>"
    for i in range(12)
)


def page(body: str, head: str = "") -> bytes:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>App</title>{head}</head>'
        f"<body>{body}</body></html>"
    ).encode()


SHELLS = {
    "react": page(f'<div id="root"></div>{BUNDLE}'),
    "react_loading": page(f'<div id="root"><div class="spinner">Loading…</div></div>{BUNDLE}'),
    "vue": page('<div id="app"></div><script type="module" src="/assets/index.js"></script>'),
    "angular": page(
        '<app-root></app-root><script src="runtime.js" type="module"></script>'
        '<script src="main.js" type="module"></script>',
        '<base href="/">',
    ),
    "next_client": page(
        '<div id="__next"></div><script id="__NEXT_DATA__" type="application/json">'
        '{"props":{}}</script><script src="/_next/static/chunks/main.js" defer></script>'
    ),
    "nuxt": page('<div id="__nuxt"></div><script src="/_nuxt/entry.js"></script>'),
    "gatsby": page('<div id="___gatsby"></div><script src="/app-123.js"></script>'),
    "ember": page(
        '<script src="/assets/vendor.js"></script><script src="/assets/app.js"></script>'
    ),
    "bare_bundle": page("<script>" + "var x=1;" * 4000 + "</script>"),
    "noscript": page(
        "<header><nav><a href='/'>Home</a> <a href='/about'>About</a></nav></header>"
        "<noscript>You need to enable JavaScript to run this app.</noscript>"
        f'<main class="content"></main>{BUNDLE}'
    ),
    "cookie_banner_beside_empty_root": page(
        '<div class="consent"><h2>We value your privacy</h2><div>'
        + "We and our partners store and access information on your device, such as cookies. "
        * 9
        + f'</div></div><div id="root"></div>{BUNDLE}'
    ),
    "nav_and_footer_around_empty_root": page(
        "<header><nav>"
        + " ".join(f"<a href='/s{i}'>Section {i}</a>" for i in range(40))
        + "</nav></header>"
        '<div id="app"></div><footer>'
        + "Copyright, terms, privacy, contact. " * 20
        + f"</footer>{BUNDLE}"
    ),
}

PAGES = {
    "no_scripts": page(ARTICLE),
    "article_with_scripts": page(ARTICLE + BUNDLE, '<script src="/analytics.js"></script>'),
    "next_server_rendered": page(
        f'<div id="__next"><article><h1>Water budgets</h1>{ARTICLE}</article></div>'
        '<script id="__NEXT_DATA__" type="application/json">{"props":{}}</script>'
        '<script src="/_next/static/chunks/main.js" defer></script>'
    ),
    "disqus_noscript": page(
        f"<article>{ARTICLE}</article>"
        "<noscript>Please enable JavaScript to view the comments.</noscript>" + BUNDLE
    ),
    "text_in_divs": page(
        "<div class='story'>"
        + "<br>".join(
            f"Line {i} of a long story about water budgets "
            "and the people who balance them every year."
            for i in range(60)
        )
        + "</div>"
        + BUNDLE
    ),
    "aspnet_form": page(
        '<form id="aspnetForm" method="post">'
        + ARTICLE.replace("<p>", "<div>").replace("</p>", "</div>")
        + "</form>"
        + BUNDLE
    ),
    "empty": b"",
    "not_html": b"\x00\x01\x02 binary <script> junk",
}


@pytest.mark.parametrize("name", sorted(SHELLS))
def test_framework_shells_are_shells(name: str) -> None:
    verdict = detect_shell(SHELLS[name])
    assert verdict.shell, verdict
    assert verdict.reason in {"empty_root", "noscript", "framework", "heavy_scripts"}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_ordinary_pages_are_not_shells(name: str) -> None:
    verdict = detect_shell(PAGES[name])
    assert not verdict.shell, verdict


@pytest.mark.parametrize("path", sorted(SITE.glob("*.html")), ids=lambda p: p.name)
def test_the_test_site_articles_are_not_shells(path: Path) -> None:
    assert not detect_shell(path.read_bytes()).shell


def test_text_counts_only_what_a_reader_sees() -> None:
    verdict = detect_shell(
        page('<div id="root"></div>' + BUNDLE + "<style>" + "p{color:red}" * 500 + "</style>")
    )
    assert verdict.shell and verdict.content_chars == 0
