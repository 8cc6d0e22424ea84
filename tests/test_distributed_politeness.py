"""Per-host politeness shared across workers through Redis (crawler/distributed/politeness.py).

End to end: three real `scrapy crawl sources` workers over one real
redis-server, every source on one host, served by a server on 127.0.0.1
that stamps each request (monotonic clock) when it arrives and before it
answers. Without the shared leases each worker keeps its own
``CONCURRENT_REQUESTS_PER_DOMAIN`` and ``DOWNLOAD_DELAY``, so the host sees
three times the concurrency and starts three times as close together.

The Lua script and the worker's behaviour when Redis is gone are also
tested on their own, against the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from redis import exceptions as redis_exceptions
from scrapy import Request

from crawler.distributed.run import RunKeys
from tests.conftest import command_env, crawl_command, run_command
from tests.redisserver import RedisServer, free_port
from tests.threadserver import ThreadedServer

WORKERS = ("w1", "w2", "w3")
LEASE_TTL_MS = 120_000


class StampingServer(ThreadedServer):
    """HTTP server on 127.0.0.1: ``/page/<n>?sleep=<s>`` answers after ``s`` seconds.

    Every request (robots.txt included) is stamped when it arrives and
    counted as in progress until just before its answer is written: the
    client cannot have its answer (nor give its lease back) any earlier, so
    the count the server sees is never more than the leases held. Requests
    are held after their stamp until :attr:`gate` is set.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.starts: list[float] = []
        self.paths: list[str] = []
        #: requests are held (after their stamp) until the test sets this
        self.gate = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with owner.lock:
                    owner.starts.append(time.monotonic())
                    owner.paths.append(self.path)
                    owner.active += 1
                    owner.max_active = max(owner.max_active, owner.active)
                try:
                    owner.gate.wait(timeout=120)
                    path, _, query = self.path.partition("?")
                    if query.startswith("sleep="):
                        time.sleep(min(5.0, float(query.removeprefix("sleep="))))
                    if path.startswith("/page/"):
                        status = 200
                        body = (
                            f"<html><head><title>Page {path[6:]}</title></head><body>"
                            f"<p>{'Some text of a cited page. ' * 20}</p></body></html>"
                        ).encode()
                    else:
                        status, body = 404, b"not here"
                finally:
                    with owner.lock:
                        owner.active -= 1
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


class LeaseRecorder:
    """Redis's own record of the leases granted: MONITOR, read for the ZADD of the Lua script.

    The score of a lease is Redis's clock at the grant plus the lease's time to
    live, so with a fixed ``DISTRIBUTED_POLITENESS_LEASE_TTL`` every grant's
    time is known to the millisecond, free of the way each request then takes
    to the host.
    """

    def __init__(self, redis: RedisServer, ttl_ms: int) -> None:
        self.ttl_ms = ttl_ms
        self.grants: list[tuple[str, int]] = []  # (leases key, Redis ms of the grant)
        self.ready = threading.Event()
        self._monitor = redis.client().monitor()
        self.thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        with (
            contextlib.suppress(redis_exceptions.RedisError, OSError, ValueError),
            self._monitor as monitor,
        ):
            self.ready.set()
            for command in monitor.listen():
                words = command["command"].split(" ")
                if command["client_type"] == "lua" and words[0].upper() == "ZADD":
                    self.grants.append((words[1], int(float(words[2])) - self.ttl_ms))

    def __enter__(self) -> LeaseRecorder:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._monitor.connection.disconnect()
        self.thread.join(timeout=10)


def run_workers(
    tmp_path: Path,
    redis: RedisServer,
    site: StampingServer,
    run_id: str,
    pages: int,
    sleep: float,
    **settings: str,
) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """Load the run, start three workers, open the host once all three run; every record."""
    client = redis.client()
    keys = RunKeys("sources", run_id)
    sources = tmp_path / "sources.jsonl"
    sources.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "url": site.url(f"/page/{i}?sleep={sleep}")}) + "\n"
            for i in range(pages)
        ),
        encoding="utf-8",
    )
    loaded = run_command(
        [sys.executable, "-m", "crawler.distributed.load", str(sources), "--redis", redis.url,
         "--run-id", run_id],
        timeout=60,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    parts = tmp_path / "parts"
    recorder = LeaseRecorder(redis, LEASE_TTL_MS).__enter__()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    for name in WORKERS:
        command = crawl_command(
            None,
            tmp_path / "unused.jsonl",
            REDIS_URL=redis.url,
            RUN_ID=run_id,
            WORKER_ID=name,
            DISTRIBUTED_PARTS_DIR=str(parts),
            DISTRIBUTED_HEARTBEAT="8",
            DISTRIBUTED_POLL="0.2",
            LOCK_FILE=str(tmp_path / f"{name}.lock"),
            SPOOL_DIR=str(tmp_path / "spool"),
            EXTRACT_WORKERS="0",
            PROGRESS="off",
            # A worker holds few requests at a time, and the host holds every
            # request until all three workers run (see StampingServer.gate):
            # the first worker up cannot take the whole queue for itself.
            CONCURRENT_REQUESTS="4",
            DOWNLOAD_TIMEOUT="90",
            ROBOTSTXT_TIMEOUT="0",
            DISTRIBUTED_POLITENESS_LEASE_TTL=str(LEASE_TTL_MS / 1000),
            **settings,
        )
        logs[name] = tmp_path / f"{name}.log"
        with logs[name].open("wb") as log:
            procs[name] = subprocess.Popen(
                command, cwd=tmp_path, env=command_env(), stdout=log, stderr=subprocess.STDOUT
            )
    try:
        deadline = time.monotonic() + 60
        while client.hlen(keys.workers) < len(WORKERS):
            for name, proc in procs.items():
                assert proc.poll() is None, logs[name].read_text()[-3000:]
            assert time.monotonic() < deadline, "the workers never registered"
            time.sleep(0.1)
        site.gate.set()
        for name, proc in procs.items():
            assert proc.wait(timeout=180) == 0, logs[name].read_text()[-3000:]
    finally:
        site.gate.set()
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        recorder.__exit__()
    records = []
    shares = []
    for name in WORKERS:
        part = parts / run_id / f"{name}.jsonl"
        lines = part.read_text(encoding="utf-8").splitlines()
        shares.append(len(lines))
        records += [json.loads(line) for line in lines]
    assert sum(1 for share in shares if share) >= 2, shares  # the host was shared
    assert sorted(r["resource_id"] for r in records) == sorted(f"p{i}" for i in range(pages))
    assert {r["status"] for r in records} == {"ok"}
    return records, recorder.grants


def assert_every_request_leased(
    redis: RedisServer, run_id: str, site: StampingServer, grants: list[tuple[str, int]]
) -> None:
    """Every request the host saw (robots.txt included) took a lease; nothing is left behind."""
    from crawler.distributed.politeness import host_keys

    keys = RunKeys("sources", run_id)
    assert len(grants) == len(site.paths)
    leases, _ = host_keys(keys, "127.0.0.1")  # the downloader's slot: the host name
    assert {key for key, _ in grants} == {leases}
    client = redis.client()
    # no lease outlives its request, and every key of the host expires
    polite = list(client.scan_iter(match=f"{keys.base}:polite:*"))
    assert all(client.zcard(k) == 0 for k in polite if k.endswith(b":leases"))
    assert all(client.pttl(k) > 0 for k in polite)


def assert_one_request_per_page(site: StampingServer, pages: int, sleep: float) -> None:
    """Every page asked once; besides, per worker, at most its robots.txt and soft-404 probe."""
    asked = Counter(site.paths)
    for i in range(pages):
        assert asked.pop(f"/page/{i}?sleep={sleep}") == 1
    assert 1 <= asked.pop("/robots.txt") <= len(WORKERS)
    assert sum(asked.values()) <= len(WORKERS)  # a path that cannot exist, one per origin


def test_workers_never_exceed_the_hosts_concurrency_together(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    with StampingServer() as site:
        records, grants = run_workers(
            tmp_path, redis_server, site, "polite-conc", pages=36, sleep=0.3,
            CONCURRENT_REQUESTS_PER_DOMAIN="2", DOWNLOAD_DELAY="0",
        )  # fmt: skip
    print(f"\nmax concurrent requests seen by the host: {site.max_active} (limit 2)")
    assert len(records) == 36
    assert_one_request_per_page(site, 36, 0.3)
    assert site.max_active == 2  # reached (the limit is used) and never passed
    assert_every_request_leased(redis_server, "polite-conc", site, grants)


def test_workers_keep_the_download_delay_between_them(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    delay = 1.0
    with StampingServer() as site:
        _, grants = run_workers(
            tmp_path, redis_server, site, "polite-delay", pages=12, sleep=0,
            DOWNLOAD_DELAY=str(delay), DOWNLOAD_DELAY_JITTER="0",
            CONCURRENT_REQUESTS_PER_DOMAIN="4",
        )  # fmt: skip
    assert_one_request_per_page(site, 12, 0)
    # Redis's record: consecutive grants across workers are a delay apart, exactly.
    granted = sorted(ms for _, ms in grants)
    closest = min((b - a for a, b in itertools.pairwise(granted)), default=0)
    # The host's record: each request's own way there (a first connection, a
    # worker busy starting up) moves single starts by a fraction of a second,
    # but not the whole run: n starts span at least n - 1 delays, less one
    # request's slack. Workers that keep their delays apart start almost
    # together and span a third of that.
    starts = sorted(site.starts)
    span = starts[-1] - starts[0]
    print(
        f"\nclosest grants {closest} ms apart; {len(starts)} starts at the host over {span:.2f} s "
        f"(delay {delay} s)"
    )
    assert span >= (len(starts) - 1.5) * delay
    assert closest >= delay * 1000
    assert_every_request_leased(redis_server, "polite-delay", site, grants)


# --- the Lua script and the middleware on their own, against the real server ---------


def test_leases_bound_the_host_expire_and_space_their_starts(redis_server: RedisServer) -> None:
    from crawler.distributed.politeness import ACQUIRE, BUSY, GRANTED, TOO_SOON, host_keys

    client = redis_server.client()
    acquire = client.register_script(ACQUIRE)
    keys = RunKeys("sources", "script-test")
    leases, next_start = host_keys(keys, "example.org")
    assert leases.startswith("sources:script-test:polite:") and len(leases) < 80
    assert host_keys(keys, "x" * 10_000)[0].__len__() == len(leases)  # hashed, bounded

    def take(lease: str, concurrency: int = 2, delay_ms: int = 0, ttl_ms: int = 300) -> list[int]:
        return list(acquire(keys=[leases, next_start], args=[lease, concurrency, delay_ms, ttl_ms]))

    assert take("a")[0] == GRANTED and take("b")[0] == GRANTED
    code, wait_ms = take("c")
    assert code == BUSY and 0 < wait_ms <= 300  # until the oldest lease expires
    client.zrem(leases, "a")  # given back
    assert take("c")[0] == GRANTED
    # A killed worker's leases expire: after the TTL the host is free again.
    time.sleep(0.35)
    assert take("d")[0] == GRANTED and client.zcard(leases) == 1
    assert 0 < client.pttl(leases) <= 300
    # A delay: the next start waits for it, whoever asks.
    client.delete(leases)
    assert take("e", delay_ms=400)[0] == GRANTED
    code, wait_ms = take("f", delay_ms=400)
    assert code == TOO_SOON and 0 < wait_ms <= 400
    assert 0 < client.pttl(next_start) <= 400  # the key goes once it no longer matters


def test_a_worker_that_loses_redis_while_waiting_gives_up_after_the_grace() -> None:
    from scrapy.exceptions import IgnoreRequest
    from scrapy.utils.test import get_crawler

    from crawler.distributed.politeness import SharedPolitenessMiddleware
    from crawler.options import project_defaults

    crawler = get_crawler(
        settings_dict={
            **project_defaults(),
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "RUN_ID": "lost",
            "WORKER_ID": "w1",
            "DISTRIBUTED_REDIS_GRACE": 0.3,
            "DISTRIBUTED_POLL": 0.05,
            "DISTRIBUTED_REDIS_TIMEOUT": 1.0,
        }
    )
    middleware = SharedPolitenessMiddleware.from_crawler(crawler)
    request = Request("http://127.0.0.1:9/page")
    began = time.monotonic()
    with pytest.raises(IgnoreRequest, match="DISTRIBUTED_REDIS_GRACE"):
        asyncio.run(middleware.process_request(request))
    assert time.monotonic() - began >= 0.3  # retried for the grace, not at once
    assert middleware.context.lost
    assert crawler.stats is not None and crawler.stats.get_value("politeness/lost") == 1


def test_politeness_is_off_outside_distributed_mode() -> None:
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    from crawler.distributed.politeness import SharedPolitenessMiddleware
    from crawler.options import project_defaults

    with pytest.raises(NotConfigured):
        SharedPolitenessMiddleware.from_crawler(get_crawler(settings_dict=project_defaults()))
    off = {**project_defaults(), "REDIS_URL": "redis://127.0.0.1:1/0", "RUN_ID": "r"}
    off["DISTRIBUTED_POLITENESS"] = False
    with pytest.raises(NotConfigured):
        SharedPolitenessMiddleware.from_crawler(get_crawler(settings_dict=off))
