"""One credential parser: passwords with @ : / # ?, spaces or %-escapes appear in no output.

A server on 127.0.0.1 records the ``Authorization`` header of every request;
two nights at DEBUG are crawled, and the whole log, the JSONL, the manifest,
the report and the state database's bytes are searched for every password.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

import pytest

from crawler.fetch.redact import SecretsFilter, is_secret_setting, redact_text
from crawler.fetch.urls import Refusal, Target, fetchable_url, redact_url, split_userinfo
from crawler.incremental.store import HASHED_KEY_PREFIX, read_all
from tests.conftest import run_crawl

# (userinfo as written in the URL, the password a server must receive)
FETCHED = {
    "alice:s3cr@t-pw1": "s3cr@t-pw1",
    "bob:sp ace-pw2": "sp ace-pw2",
    "carol:pe%40rc%3Ant-pw3": "pe@rc:nt-pw3",
    "dave:co:lon-pw4": "co:lon-pw4",
}
# unencoded / ? # end the authority early: refused, and still never shown
REFUSED = {
    "erin:sl/ash-pw5": "sl/ash-pw5",
    "frank:ha#sh-pw6": "ha#sh-pw6",
    "gina:qu?est-pw7": "qu?est-pw7",
}
PASSWORD_PIECES = ["s3cr", "t-pw1", "sp ace", "ace-pw2", "pe%40rc", "pe@rc", "nt-pw3", "lon-pw4",
                   "sl/ash", "ash-pw5", "ha#sh", "sh-pw6", "qu?est", "est-pw7"]  # fmt: skip


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization") or ""
        _Recorder.seen.append(auth)
        member = self.path.removeprefix("/members/")
        if not (member.isdigit() and int(member) < len(FETCHED)):
            # robots.txt, and the soft-404 probe's random path: a real not-found
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        etag = '"v1"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        body = (
            b"<html><head><title>Members page</title></head><body><article><p>"
            + b"Only for members with a password, and this text says so at length. " * 20
            + b"</p></article></body></html>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:s3cr@t-pw@host/a", "http://host/a"),
        ("http://user:pa ss@host/a", "http://host/a"),
        ("http://user:Qx/9z@host/a", "http://host/a"),
        ("http://user:Qx#9z@host/a", "http://host/a"),
        ("http://user:Qx?9z@host/a", "http://host/a"),
        ("https://u:p%40ss@host:8443/a?b=c@d", "https://host:8443/a?b=c@d"),
        ("http://token@[::1]:81/", "http://[::1]:81/"),
        ("http://host/a?mail=a@b.org", "http://host/a?mail=a@b.org"),  # not a userinfo
        ("http://host/a", "http://host/a"),
    ],
)
def test_redact_url_reads_the_authority_as_the_request_does(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    target = fetchable_url(url)
    if isinstance(target, Target):
        assert target.url == shown.replace(" ", "%20")
    else:
        assert isinstance(target, Refusal)
        assert "Qx" not in target.detail and "9z" not in target.detail


def test_the_request_carries_the_whole_password() -> None:
    _, userinfo = split_userinfo("http://user:s3cr@t-pw@host/")
    assert userinfo == "user:s3cr@t-pw"
    target = fetchable_url("http://user:s3cr@t-pw@host/")
    assert isinstance(target, Target) and target.authorization is not None
    decoded = base64.b64decode(target.authorization.removeprefix("Basic ")).decode()
    assert decoded == "user:s3cr@t-pw"


def test_free_text_loses_url_credentials_and_secret_values() -> None:
    text = (
        "GET http://user:pa ss@host/x failed; 'REDIS_URL': 'redis://:hunter22@127.0.0.1:1/0', "
        "'AWS_SECRET_ACCESS_KEY': 'abc', 'REDIS_KEY_PREFIX': 'sources' and verysecret"
    )
    cleaned = redact_text(text, {"verysecret"})
    for piece in ("pa ss", "hunter22", "'abc'", "verysecret"):
        assert piece not in cleaned
    assert "http://host/x" in cleaned and "'REDIS_KEY_PREFIX': 'sources'" in cleaned
    assert is_secret_setting("AWS_SESSION_TOKEN") and is_secret_setting("API_KEY")
    assert not is_secret_setting("SCHEDULER_QUEUE_KEY") and not is_secret_setting("KEYWORDS")
    assert SecretsFilter({"x"}).filter  # the filter class is importable for handlers


def test_no_password_in_any_output_and_credential_urls_stay_incremental(
    recorder: ThreadingHTTPServer, tmp_path: Path
) -> None:
    port = recorder.server_address[1]
    urls = [f"http://{info}@127.0.0.1:{port}/members/{i}" for i, info in enumerate(FETCHED)]
    urls += [f"http://{info}@127.0.0.1:{port}/refused/{i}" for i, info in enumerate(REFUSED)]
    listing = tmp_path / "sources.txt"
    listing.write_text("\n".join(urls) + "\n", encoding="utf-8")
    state = tmp_path / "state.sqlite"
    nights = []
    for night in (1, 2):
        out = tmp_path / f"night{night}" / "out.jsonl"
        result = run_crawl(
            listing,
            out,
            LOG_LEVEL="DEBUG",
            STATE_URI=str(state),
            LOCK_FILE=str(tmp_path / "run.lock"),
            SPOOL_DIR=str(tmp_path / "spool"),
            EXTRACT_WORKERS="0",
            MAX_ERROR_SHARE="1",
            PROGRESS="off",
        )
        assert result.exit_code == 0, result.log[-3000:]
        nights.append(result)
        outputs = {
            "log": result.log,
            "jsonl": out.read_text(encoding="utf-8"),
            "manifest": Path(f"{out}.manifest.json").read_text(encoding="utf-8"),
            "report": Path(f"{out}.report.html").read_text(encoding="utf-8"),
            "state": state.read_bytes().decode("latin-1"),
        }
        for name, text in outputs.items():
            leaked = [p for p in PASSWORD_PIECES if p in text]
            assert not leaked, f"{name} shows {leaked}"

    # Every fetched password reached the server whole, as basic authentication.
    received = {
        base64.b64decode(a.removeprefix("Basic ")).decode().partition(":")[2]
        for a in _Recorder.seen
        if a
    }
    assert set(FETCHED.values()) <= received
    first, second = (n.by_url() for n in nights)
    for i in range(len(FETCHED)):
        shown = f"http://127.0.0.1:{port}/members/{i}"
        assert first[shown]["status"] == "ok", first[shown]
        assert first[shown]["changed"] is True
        # night 2 found night 1's row (by its keyed hash) and revalidated: unchanged
        assert second[shown]["changed"] is False, second[shown]
        assert second[shown]["title"] == "Members page"
    for i in range(len(REFUSED)):
        record = second[f"http://127.0.0.1:{port}/refused/{i}"]
        assert (record["status"], record["error"]) == ("error", "invalid_url")
    keys = set(read_all(state))
    assert sum(k.startswith(HASHED_KEY_PREFIX) for k in keys) == len(FETCHED) + len(REFUSED)
    assert not any("@" in unquote(k) for k in keys)
