"""Reading source lists: every format, streaming, bad entries and bad files."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from crawler.sources import SourcesError, check_sources, iter_entries, resolve_sources


def entries(path: Path) -> list[tuple[str | None, str | None, str | None]]:
    files = resolve_sources(str(path))
    check_sources(files)
    return [(e.url, e.id, e.problem) for e in iter_entries(files)]


def test_yaml_wiki_format(tmp_path: Path) -> None:
    src = tmp_path / "r.yaml"
    src.write_text(
        "- id: c29029f842f73623\n"
        "  url: https://www.nature.com/articles/d41586-024-03214-7\n"
        '  title: "2024 Chemistry Nobel: AlphaFold - Nature"\n'
        "  type: paper\n"
        "  published_date: 2025-10-13\n"
        "  tags: [biosecurity, x-risk]\n"
        "- id: 0123\n"  # a numeric-looking id is kept as written
        "  url: '  https://example.com/a  '\n"
        "- 42\n"
        "- title: no url\n"
        "- url: [not, a, string]\n",
        encoding="utf-8",
    )
    files = resolve_sources(str(src))
    got = list(iter_entries(files))
    assert [e.url for e in got] == [
        "https://www.nature.com/articles/d41586-024-03214-7",
        "https://example.com/a",
        None,
        None,
        None,
    ]
    first = got[0]
    assert first.id == "c29029f842f73623" and first.origin == f"{src}:1"
    assert first.fields == {
        "title": "2024 Chemistry Nobel: AlphaFold - Nature",
        "type": "paper",
        "published_date": "2025-10-13",
        "tags": ["biosecurity", "x-risk"],
    }
    assert got[1].id == "0123" and got[1].origin == f"{src}:7"
    assert "not a mapping" in (got[2].problem or "")
    assert got[3].problem == "entry has no url"
    assert "not a string" in (got[4].problem or "")


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.yaml"
    src.write_text(
        "- url: https://a.example/\n- url: https://b.example/\n  title: [x\n", encoding="utf-8"
    )
    with pytest.raises(SourcesError) as caught:
        check_sources([str(src)])
    assert caught.value.path == str(src)
    assert caught.value.line is not None and caught.value.line >= 3
    assert str(caught.value).startswith(f"{src}:")


def test_yaml_top_level_mapping_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "map.yaml"
    src.write_text("url: https://a.example/\n", encoding="utf-8")
    with pytest.raises(SourcesError, match="expected a list"):
        check_sources([str(src)])


def test_empty_yaml_is_an_empty_list(tmp_path: Path) -> None:
    src = tmp_path / "empty.yaml"
    src.write_text("# nothing yet\n", encoding="utf-8")
    assert entries(src) == []


def test_json_array(tmp_path: Path) -> None:
    src = tmp_path / "s.json"
    src.write_text(
        json.dumps([{"url": "https://a.example/", "id": 7}, "https://b.example/", 3]),
        encoding="utf-8",
    )
    got = entries(src)
    assert got[0] == ("https://a.example/", "7", None)
    assert got[1] == ("https://b.example/", None, None)
    assert got[2][0] is None and "not a mapping" in (got[2][2] or "")


def test_json_syntax_error_and_wrong_shape(tmp_path: Path) -> None:
    src = tmp_path / "s.json"
    src.write_text('[\n {"url": "https://a.example/"},\n {"url": }\n]\n', encoding="utf-8")
    with pytest.raises(SourcesError) as caught:
        check_sources([str(src)])
    assert caught.value.line == 3
    src.write_text('{"url": "https://a.example/"}', encoding="utf-8")
    with pytest.raises(SourcesError, match="JSON array"):
        check_sources([str(src)])


def test_jsonl_bad_line_is_an_entry_not_a_stop(tmp_path: Path) -> None:
    src = tmp_path / "s.jsonl"
    src.write_text(
        '{"url": "https://a.example/"}\n{oops\n\n"https://b.example/"\n', encoding="utf-8"
    )
    got = list(iter_entries([str(src)]))
    assert [e.url for e in got] == ["https://a.example/", None, "https://b.example/"]
    assert got[1].origin == f"{src}:2" and "not valid JSON" in (got[1].problem or "")


def test_csv_with_url_column_and_bom(tmp_path: Path) -> None:
    src = tmp_path / "s.csv"
    src.write_bytes("\ufefftitle,URL,id\nA,https://a.example/,x1\nB,,\n,,\n".encode())
    got = list(iter_entries([str(src)]))
    assert [(e.url, e.id, e.fields) for e in got] == [
        ("https://a.example/", "x1", {"title": "A"}),
        (None, None, {"title": "B"}),
    ]
    assert got[1].origin == f"{src}:3"


def test_csv_without_url_column(tmp_path: Path) -> None:
    src = tmp_path / "s.csv"
    src.write_text("link,title\nhttps://a.example/,A\n", encoding="utf-8")
    with pytest.raises(SourcesError, match="no 'url' column"):
        check_sources([str(src)])


def test_plain_text_and_gzip(tmp_path: Path) -> None:
    src = tmp_path / "s.txt.gz"
    with gzip.open(src, "wt", encoding="utf-8") as f:
        f.write("# comment\n\nhttps://a.example/\n  https://b.example/#frag  \n")
    assert entries(src) == [
        ("https://a.example/", None, None),
        ("https://b.example/#frag", None, None),
    ]


def test_directory_and_glob_read_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_text("https://b.example/\n", encoding="utf-8")
    (tmp_path / "a.yaml").write_text("- url: https://a.example/\n", encoding="utf-8")
    (tmp_path / "sub" / "c.jsonl").write_text('"https://c.example/"\n', encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("https://hidden.example/\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("docs\n", encoding="utf-8")
    (tmp_path / "publications.yaml").write_text("- id: x\n  domains: [x.org]\n", encoding="utf-8")
    files = resolve_sources(str(tmp_path), exclude=[str(tmp_path / "publications.yaml")])
    assert [Path(p).name for p in files] == ["a.yaml", "b.txt", "c.jsonl"]
    globbed = resolve_sources(str(tmp_path / "*.txt"))
    assert [Path(p).name for p in globbed] == ["b.txt"]
    with pytest.raises(SourcesError, match="matches no sources file"):
        resolve_sources(str(tmp_path / "*.csv"))
    with pytest.raises(SourcesError, match="no such file"):
        resolve_sources(str(tmp_path / "missing.yaml"))


def test_entries_stream_without_loading_the_list(tmp_path: Path) -> None:
    # 100,000 entries; reading the first few must not parse (or hold) the rest.
    src = tmp_path / "big.yaml"
    with src.open("w", encoding="utf-8") as f:
        for i in range(100_000):
            f.write(f"- url: https://example.com/page/{i}\n  title: Page number {i}\n")
    tracemalloc.start()
    try:
        stream = iter_entries([str(src)])
        first = [next(stream) for _ in range(10)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first[-1].url == "https://example.com/page/9"
    assert peak < 5_000_000, peak  # the whole list as objects would take well over 50 MB
    assert sum(1 for _ in stream) == 100_000 - 10
