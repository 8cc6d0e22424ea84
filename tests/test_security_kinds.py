"""Error kinds: one list (pipelines/outcome.py ERROR_KINDS); decoding failures are `decoding`."""

from __future__ import annotations

import ast
import re
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipelines.outcome import ERROR_KINDS, from_failure, is_known_kind, kinds_markdown
from tests.conftest import PROJECT_ROOT, run_crawl

# Content-Encoding -> a body that is not valid in it
CORRUPT = {
    "gzip": b"\x1f\x8b\x08\x00" + b"not really gzip" * 10,
    "deflate": b"this is not a deflate stream" * 4,
    "br": b"\xff\xff not brotli at all" * 4,
    "zstd": b"\x28\xb5\x2f\xfd" + b"not a zstd frame" * 4,
}


def _kinds_in_code() -> set[str]:
    """Every error kind written as a literal where records get their kind."""
    found: set[str] = set()
    for root in ("crawler", "pipelines"):
        for path in (PROJECT_ROOT / root).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    args = node.args
                    if node.func.id == "Outcome" and len(args) >= 2:
                        kind = args[1]
                    elif node.func.id == "Refusal" and args:
                        kind = args[0]
                    else:
                        continue
                    if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                        found.add(kind.value)
                keys = [k.value for k in getattr(node, "keys", []) if isinstance(k, ast.Constant)]
                if isinstance(node, ast.Dict) and "status" in keys:  # a record, not a colour table
                    for key, value in zip(node.keys, node.values, strict=True):
                        if (
                            isinstance(key, ast.Constant)
                            and key.value == "error"
                            and isinstance(value, ast.Constant)
                            and isinstance(value.value, str)
                        ):
                            found.add(value.value)
    return found


def test_every_kind_the_code_writes_is_in_the_one_list() -> None:
    kinds = _kinds_in_code()
    assert {"invalid_url", "blocked_address", "decoding", "internal", "fetch"} <= kinds
    unknown = sorted(k for k in kinds if not is_known_kind(k))
    assert not unknown, f"error kinds missing from ERROR_KINDS: {unknown}"


@pytest.mark.parametrize(
    "exc",
    [
        zlib.error("invalid stored block lengths"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        EOFError("Compressed file ended before the end-of-stream marker was reached"),
        RuntimeError("something nobody expected"),
        OSError("Not a gzipped file (b'no')"),
    ],
)
def test_every_failure_gets_a_listed_kind(exc: BaseException) -> None:
    outcome = from_failure(exc)
    assert outcome.error is not None and is_known_kind(outcome.error)


def test_decoder_errors_are_decoding() -> None:
    from scrapy.utils._compression import _inflate, _unbrotli, _unzstd
    from scrapy.utils.gz import gunzip

    for decode, body in (
        (gunzip, CORRUPT["gzip"]),
        (_inflate, CORRUPT["deflate"]),
        (_unbrotli, CORRUPT["br"]),
        (_unzstd, CORRUPT["zstd"]),
    ):
        with pytest.raises(Exception) as raised:
            decode(body)
        assert from_failure(raised.value).error == "decoding", (decode, raised.value)


def test_the_readme_lists_every_kind() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [kind for kind in ERROR_KINDS if f"`{kind}`" not in readme]
    assert not missing, f"README does not list: {missing}"
    block = re.search(r"<!-- error-kinds:start -->\n(.*?)<!-- error-kinds:end -->", readme, re.S)
    assert block is not None and block.group(1) == kinds_markdown(), (
        "README error kinds are stale: paste pipelines.outcome.kinds_markdown()"
    )


class _Corrupt(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        encoding = self.path.strip("/")
        body = CORRUPT.get(encoding)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def corrupt_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Corrupt)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_corrupt_bodies_in_every_encoding_are_decoding_records(
    corrupt_server: ThreadingHTTPServer, tmp_path: Path
) -> None:
    port = corrupt_server.server_address[1]
    urls = {f"http://127.0.0.1:{port}/{encoding}": encoding for encoding in CORRUPT}
    listing = tmp_path / "sources.txt"
    listing.write_text("\n".join(urls) + "\n", encoding="utf-8")
    result = run_crawl(
        listing,
        tmp_path / "out.jsonl",
        ROBOTSTXT_OBEY="false",
        LOCK_FILE=str(tmp_path / "run.lock"),
        SPOOL_DIR=str(tmp_path / "spool"),
        STATE_URI=str(tmp_path / "state.sqlite"),
        MAX_ERROR_SHARE="1",
        EXTRACT_WORKERS="0",
        PROGRESS="off",
    )
    assert result.exit_code == 0, result.log[-3000:]
    got = {urls[r["url"]]: (r["status"], r["error"]) for r in result.records}
    assert got == dict.fromkeys(CORRUPT, ("error", "decoding"))
