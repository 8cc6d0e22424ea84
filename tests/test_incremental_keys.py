"""One key for a source in the incremental room: a URL with credentials keeps its state too."""

from __future__ import annotations

from pathlib import Path

from crawler.incremental.store import read_all
from tests.conftest import run_crawl
from tests.pageserver import PageServer


def test_a_credential_url_gets_its_state_row_and_is_unchanged_next_night(
    tmp_path: Path, page_server: PageServer
) -> None:
    plain = page_server.url("/article/blog-post")
    secret = page_server.url("/article/ai-safety").replace("http://", "http://reader:hunter2@")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{plain}\n{secret}\n", encoding="utf-8")
    out = tmp_path / "out"

    first = run_crawl(listing, out / "n1.jsonl")
    assert first.exit_code == 0, first.log[-3000:]
    state = read_all(out / "state.sqlite")
    # the credential URL's row is there, filed under a keyed hash: no password is stored
    assert plain in state and len(state) == 2
    (hashed,) = set(state) - {plain}
    assert hashed.startswith("hmac-sha256:")
    assert state[hashed].record is not None
    assert "hunter2" not in str(state[hashed].record)  # the stored record is the exported one
    assert b"hunter2" not in (out / "state.sqlite").read_bytes()

    second = run_crawl(listing, out / "n2.jsonl")
    assert second.exit_code == 0, second.log[-3000:]
    assert [r["changed"] for r in second.records] == [False, False]
    assert "hunter2" not in (out / "n2.jsonl").read_text(encoding="utf-8")
