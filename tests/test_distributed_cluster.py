"""End to end: three `scrapy crawl sources` workers over one real redis-server, one SIGKILLed.

The page server and redis-server both listen on 127.0.0.1. After the
finishing step the night's file must hold exactly one record per loaded
source, no duplicates, and more than one worker must have done the work.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from crawler.distributed.run import RunKeys
from tests.conftest import PROJECT_ROOT, crawl_command, run_command
from tests.pageserver import PageServer
from tests.redisserver import RedisServer

SOURCES = 240
RUN_ID = "night-e2e"


def write_sources(path: Path, server: PageServer) -> set[str]:
    """A JSONL list: slow pages, a duplicate, an invalid and a refused entry; the unique ids."""
    lines = [
        {"id": f"s{i}", "url": server.url(f"/delay/0.1?n={i}"), "cited_by": ["p1"], "n": i}
        for i in range(SOURCES)
    ]
    lines.append({"id": "dup", "url": server.url("/delay/0.1?n=0")})  # first entry wins
    lines.append({"id": "nourl", "title": "no url"})
    lines.append({"id": "ftp", "url": "ftp://127.0.0.1/file"})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return {f"s{i}" for i in range(SOURCES)} | {"nourl", "ftp"}


def python(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_command([sys.executable, *args], timeout=timeout)


def test_three_workers_one_killed_every_source_once(
    page_server: PageServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    sources = tmp_path / "sources.jsonl"
    expected_ids = write_sources(sources, page_server)
    loaded = python(
        "-m", "crawler.distributed.load", str(sources), "--redis", redis_server.url,
        "--run-id", RUN_ID,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert f"{SOURCES + 3} entries, {SOURCES + 2} unique, 1 duplicates" in loaded.stdout

    parts = tmp_path / "parts"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    workers: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    for name in ("w1", "w2", "w3"):
        # No RUN_ID: workers join the run the loader marked current.
        command = crawl_command(
            None,
            tmp_path / "unused.jsonl",
            REDIS_URL=redis_server.url,
            WORKER_ID=name,
            DISTRIBUTED_PARTS_DIR=str(parts),
            # In-process extraction blocks a worker's reactor for seconds on its
            # first page (date parsers load their data): a heartbeat shorter than
            # that made live workers look dead and their claims re-queued.
            DISTRIBUTED_HEARTBEAT="8",
            LOCK_FILE=str(tmp_path / f"{name}.lock"),  # one lock per worker on one machine
            SPOOL_DIR=str(tmp_path / "spool"),
            EXTRACT_WORKERS="0",
            CONCURRENT_REQUESTS_PER_DOMAIN="8",
            PROGRESS="off",
        )
        logs[name] = tmp_path / f"{name}.log"
        with logs[name].open("wb") as log:
            workers[name] = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    client = redis_server.client()
    keys = RunKeys("sources", RUN_ID)
    # Kill w2 once it has written records and still holds some in flight.
    deadline = time.monotonic() + 60
    while True:
        recorded = int(client.get(keys.recorded("w2")) or 0)
        claimed = client.scard(keys.claims("w2"))
        if recorded >= 20 and claimed > recorded:
            break
        assert workers["w2"].poll() is None, logs["w2"].read_text()
        assert time.monotonic() < deadline, "w2 never got going"
        time.sleep(0.02)
    workers["w2"].send_signal(signal.SIGKILL)
    lost_with_w2 = claimed

    for name in ("w1", "w3"):
        code = workers[name].wait(timeout=90)
        assert code == 0, logs[name].read_text()[-3000:]
    workers["w2"].wait(timeout=10)

    output = tmp_path / "night.jsonl"
    finished = python(
        "-m", "crawler.distributed.finish", "--redis", redis_server.url, "--run-id", RUN_ID,
        "--output", str(output),
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout + finished.stderr
    print(finished.stdout, f"w2 was killed holding {lost_with_w2} entries", sep="\n")

    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    ids = Counter(r["resource_id"] for r in records)
    assert set(ids) == expected_ids
    assert max(ids.values()) == 1  # no duplicates
    by_id = {r["resource_id"]: r for r in records}
    assert by_id["s5"]["status"] == "ok" and by_id["s5"]["source"] == {"cited_by": ["p1"], "n": 5}
    assert by_id["nourl"]["error"] == "invalid_url"
    assert by_id["ftp"]["error"] == "unsupported_scheme"

    manifest = json.loads(Path(f"{output}.manifest.json").read_text(encoding="utf-8"))
    assert manifest["records"] == len(expected_ids) and manifest["duplicates"] == 1
    # The work was shared, and the killed worker's part counts for nothing.
    published = sorted(p.name for p in (parts / RUN_ID).glob("*.jsonl"))
    assert published == ["w1.jsonl", "w3.jsonl"]
    shares = [
        len((parts / RUN_ID / name).read_text(encoding="utf-8").splitlines()) for name in published
    ]
    assert min(shares) > 0 and sum(shares) == len(expected_ids)
    assert client.hget(keys.workers, "w2") == b"reclaimed"
