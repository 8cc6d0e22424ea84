"""A sources list is checked whole before anything starts: one ``path:line: message``, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.sources import SourcesError, check_sources
from tests.conftest import run_crawl
from tests.pageserver import PageServer

# (file name, text after a first valid entry, line of the problem, words of the message)
BAD_LISTS = [
    ("syntax.yaml", "- url: [unclosed\n- url: x\n", 3, "YAML syntax error"),
    ("python.yaml", "- url: !!python/object/apply:os.system [id]\n", 2, "!!python/object/apply"),
    ("custom.yaml", "- !custom\n  url: http://127.0.0.1:1/\n", 2, "YAML tag !custom"),
    ("timestamp.yaml", "- url: http://x/\n  date: !!timestamp 2020-01-01\n", 3, "!!timestamp"),
    ("alias.yaml", "- &first {url: 'http://127.0.0.1:1/'}\n- *first\n", 3, "alias *first"),
]


def _bomb() -> str:
    """Nested aliases: a few hundred bytes that a safe loader expands to gigabytes."""
    lines = ['- &a0 {url: "http://127.0.0.1:1/", t: ["x","x","x","x","x","x","x","x","x"]}']
    for level in range(1, 9):
        previous = f"*a{level - 1}"
        lines.append(f"- &a{level} [{', '.join([previous] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("name", "text", "line", "words"), BAD_LISTS)
def test_check_sources_names_the_line(
    tmp_path: Path, name: str, text: str, line: int, words: str
) -> None:
    path = tmp_path / name
    path.write_text("- url: http://127.0.0.1:1/first\n" + text, encoding="utf-8")
    with pytest.raises(SourcesError) as caught:
        check_sources([str(path)])
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ") and words in str(caught.value)


def test_alias_bomb_is_refused_without_expanding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(), encoding="utf-8")
    with pytest.raises(SourcesError, match=r"alias \*a0 is not allowed"):
        check_sources([str(path)])


def test_safe_tags_and_anchors_without_aliases_pass(tmp_path: Path) -> None:
    path = tmp_path / "fine.yaml"
    path.write_text(
        "- url: http://127.0.0.1:1/a\n  title: !!str 1984\n  note: ! 'quoted'\n"
        "- &named {url: 'http://127.0.0.1:1/b', tags: !!seq [a, b], n: !!int 3}\n",
        encoding="utf-8",
    )
    check_sources([str(path)])


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("- url: http://127.0.0.1:1/\n  x: " + "[" * 500 + "]" * 500 + "\n")
    with pytest.raises(SourcesError, match="nested deeper"):
        check_sources([str(path)])


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        *((n, "- url: {first}\n" + t, f"{n}:{line}: ") for n, t, line, _ in BAD_LISTS),
        ("bomb.yaml", None, "bomb.yaml:2: YAML alias *a0"),
        ("table.csv", "link,title\n{first},x\n", "table.csv:1: CSV header has no 'url' column"),
        ("broken.json", '[{"url": "{first}"},\n  {"url": }]\n', "broken.json:2: JSON syntax"),
        ("absent.yaml", "", "absent.yaml: no such file or directory"),
    ],
)
def test_crawl_refuses_a_bad_list_before_anything_starts(
    tmp_path: Path, page_server: PageServer, name: str, text: str | None, expected: str
) -> None:
    first = page_server.url("/article/blog-post")
    listing = tmp_path / name
    if name != "absent.yaml":
        listing.write_text(_bomb() if text is None else text.replace("{first}", first))
    page_server.reset_hits()
    out = tmp_path / "out" / "night.jsonl"
    result = run_crawl(listing, out)
    assert result.exit_code == 2, result.log[-3000:]
    lines = [line for line in result.log.splitlines() if expected in line]
    assert len(lines) == 1, result.log[-3000:]
    assert "Not started" in lines[0]
    assert "Traceback" not in result.log, result.log[-3000:]
    assert "Night summary" not in result.log  # the crawl never began
    assert not out.parent.exists(), "lock, state or output was touched"
    assert page_server.hits("/article/blog-post") == 0
