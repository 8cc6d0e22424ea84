"""The report's CSP allows its own inline blocks by hash and nothing else inline."""

from __future__ import annotations

import base64
import hashlib
import re
from html import unescape
from pathlib import Path

from crawler.watch.report import build_report, render
from crawler.watch.report.render import content_security_policy
from tests.test_report import record, write_night


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _policy(page: str) -> str:
    match = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert match is not None
    return unescape(match.group(1))


def test_the_policy_hashes_every_inline_block_and_allows_no_unsafe_inline(tmp_path: Path) -> None:
    hostile = record(
        "x", "error", error="fetch", error_detail="<script>alert(1)</script><style>*{}</style>"
    )
    night = write_night(tmp_path, "2026-11-29T02:00:00Z", [record("a"), hostile])
    page = render(build_report(night))
    policy = _policy(page)
    assert "unsafe-inline" not in policy and "default-src 'none'" in policy
    blocks = re.findall(r"<(script|style)>(.*?)</\1>", page, re.DOTALL)
    assert {tag for tag, _ in blocks} == {"script", "style"}
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    for tag, text in blocks:
        assert _hash(text) in directives[f"{tag}-src"].split()
    # the record's markup is escaped data (the sources list's JSON block), never a
    # block the policy would have to allow
    assert "<script>alert(1)" not in page
    assert "\\u003cscript\\u003ealert(1)" in page


def test_blocks_added_by_any_section_are_covered() -> None:
    page = (
        '<html><head><style>a{}</style></head><body><p style="color:red">x</p>'
        '<script>one()</script><script type="module">two()</script></body></html>'
    )
    policy = content_security_policy(page)
    for text in ("one()", "two()"):
        assert _hash(text) in policy.split("script-src ", 1)[1].split(";")[0]
    style = policy.split("style-src ", 1)[1].split(";")[0]
    assert _hash("a{}") in style and _hash("color:red") in style and "'unsafe-hashes'" in style
    assert "unsafe-inline" not in policy
    assert "script-src 'none'" in content_security_policy("<p>no script</p>")
