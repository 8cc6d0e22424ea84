"""Requests cross Redis as JSON: a planted pickle payload executes nothing and is counted."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.utils.request import request_from_dict

from crawler.distributed import serializer
from crawler.distributed.run import RunKeys
from crawler.items import ENTRY_META_KEY
from crawler.publish.exitcodes import LOST_COORDINATOR
from crawler.sources import SourceEntry
from crawler.spiders.sources import SourcesSpider
from tests.conftest import PROJECT_ROOT, crawl_command, run_command
from tests.pageserver import PageServer
from tests.redisserver import RedisServer


class _Planted:
    """Unpickling this creates a file: the proof that a payload ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_a_spider_request_survives_the_json_round_trip() -> None:
    spider = SourcesSpider()
    entry = SourceEntry(url="https://example.org/a", origin="l:1", id="x", fields={"t": ["é"]})
    request = Request(
        "https://example.org/a",
        headers={"Authorization": "Basic dTpw"},
        callback=spider.parse,
        errback=spider.on_failure,
        dont_filter=True,
        priority=3,
        meta={ENTRY_META_KEY: entry, "redirect_urls": ["https://e.org/"], "retry_times": 1},
    )
    data = serializer.dumps(request.to_dict(spider=spider))
    back = request_from_dict(serializer.loads(data), spider=spider)
    assert back.url == request.url and back.priority == 3 and back.dont_filter
    assert back.headers.get("Authorization") == b"Basic dTpw"
    assert back.meta[ENTRY_META_KEY] == entry
    assert back.meta["redirect_urls"] == ["https://e.org/"] and back.meta["retry_times"] == 1
    assert back.callback == spider.parse and back.errback == spider.on_failure


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps({"url": "https://example.org/"}),
        b'{"url": "https://e.org/", "_class": "os.system"}',
        b"[1, 2]",
        b"",
    ],
)
def test_payloads_not_written_by_the_serializer_are_refused(payload: bytes) -> None:
    with pytest.raises(serializer.BadPayload):
        serializer.loads(payload)


def test_callbacks_are_names_of_the_spider_only() -> None:
    spider = SourcesSpider()
    good = json.loads(serializer.dumps(Request("https://e.org/").to_dict(spider=spider)))
    for name in ("__init__", "crawler.settings", "os.system", "close"):
        bad = {**good, "callback": name}
        with pytest.raises(serializer.BadPayload):
            serializer.loads(json.dumps(bad).encode())
    bad_meta = {**good, "meta": {"proxy": "http://evil.example:3128"}}
    with pytest.raises(serializer.BadPayload):
        serializer.loads(json.dumps(bad_meta).encode())


def test_a_planted_pickle_payload_runs_nothing_and_is_counted(
    page_server: PageServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    sources = tmp_path / "sources.jsonl"
    sources.write_text(
        "".join(
            json.dumps({"id": f"s{i}", "url": page_server.url(f"/article/blog-post?n={i}")}) + "\n"
            for i in range(3)
        ),
        encoding="utf-8",
    )
    run_id = "planted"
    loaded = run_command(
        [sys.executable, "-m", "crawler.distributed.load", str(sources),
         "--redis", redis_server.url, "--run-id", run_id],
        timeout=60,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    marker = tmp_path / "pwned"
    client = redis_server.client()
    keys = RunKeys("sources", run_id)
    # Highest priority (lowest score): the first payload any worker pops.
    client.zadd(keys.requests, {b"0123456789|" + pickle.dumps(_Planted(marker)): -1000})

    parts = tmp_path / "parts"
    command = crawl_command(
        None,
        tmp_path / "unused.jsonl",
        REDIS_URL=redis_server.url,
        RUN_ID=run_id,
        WORKER_ID="w1",
        DISTRIBUTED_PARTS_DIR=str(parts),
        LOCK_FILE=str(tmp_path / "w1.lock"),
        SPOOL_DIR=str(tmp_path / "spool"),
        EXTRACT_WORKERS="0",
        PROGRESS="off",
    )
    proc = run_command(command, timeout=120)
    log = proc.stderr + proc.stdout
    assert not marker.exists(), "the pickle payload was executed"
    assert proc.returncode == 0, log[-3000:]
    assert "'distributed/bad_payload': 1" in log
    assert log.count("Dropped a queued request") == 1
    records = [json.loads(x) for x in (parts / run_id / "w1.jsonl").read_text().splitlines()]
    assert sorted(r["resource_id"] for r in records) == ["s0", "s1", "s2"]
    assert {r["status"] for r in records} == {"ok"}
    assert client.zcard(keys.requests) == 0


def test_a_worker_that_loses_redis_stops_within_its_grace_and_publishes_nothing(
    page_server: PageServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    sources = tmp_path / "sources.jsonl"
    sources.write_text(
        "".join(
            json.dumps({"id": f"s{i}", "url": page_server.url(f"/delay/0.3?n={i}")}) + "\n"
            for i in range(200)
        ),
        encoding="utf-8",
    )
    run_id = "lost"
    loaded = run_command(
        [sys.executable, "-m", "crawler.distributed.load", str(sources),
         "--redis", redis_server.url, "--run-id", run_id],
        timeout=60,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    parts = tmp_path / "parts"
    command = crawl_command(
        None,
        tmp_path / "unused.jsonl",
        REDIS_URL=redis_server.url,
        RUN_ID=run_id,
        WORKER_ID="w1",
        DISTRIBUTED_PARTS_DIR=str(parts),
        DISTRIBUTED_HEARTBEAT="3",
        DISTRIBUTED_REDIS_GRACE="3",
        DISTRIBUTED_REDIS_TIMEOUT="1",
        CONCURRENT_REQUESTS="2",
        LOCK_FILE=str(tmp_path / "w1.lock"),
        SPOOL_DIR=str(tmp_path / "spool"),
        EXTRACT_WORKERS="0",
        PROGRESS="off",
    )
    log_path = tmp_path / "w1.log"
    client = redis_server.client()
    keys = RunKeys("sources", run_id)
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while int(client.get(keys.recorded("w1")) or 0) < 3:
                assert worker.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the worker never got going"
                time.sleep(0.05)
            assert redis_server.proc is not None
            redis_server.proc.terminate()  # the coordinator goes away mid-run
            redis_server.proc.wait(timeout=10)
            # far more than enough: 200 sources at 2 a time would take 30 s more
            code = worker.wait(timeout=90)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    text = log_path.read_text(encoding="utf-8")
    assert code == LOST_COORDINATOR, text[-3000:]
    assert text.count("Lost the coordinator") == 1
    # one warning when the outage starts, one error when the worker gives up:
    # no traceback of a Redis call, no line per heartbeat
    assert "redis.exceptions" not in text, text[-3000:]
    assert text.count("Redis unreachable (") == 1
    assert not (parts / run_id / "w1.jsonl").exists()
    assert "exit 8" in text  # the night summary says why
