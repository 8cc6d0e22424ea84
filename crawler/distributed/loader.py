"""Load a sources list into Redis as one distributed run.

Each unique entry is stored as JSON with every field it had (``loaded``
hash) and its key is queued (``start`` list). Duplicate URLs follow the
single-machine rule: the first entry wins, the others are counted.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis

from crawler.distributed.addon import SAFE_ID
from crawler.distributed.run import DEFAULT_PREFIX, Coordinator, RunKeys, entry_key, entry_to_json
from crawler.sources import (
    SourceEntry,
    SourcesError,
    check_sources,
    iter_entries,
    resolve_sources,
)

BATCH = 1000


@dataclass
class LoadResult:
    """What a load put into Redis."""

    entries: int = 0
    unique: int = 0
    duplicates: int = 0


class RunExistsError(RuntimeError):
    """The run id already has keys in Redis and no reset was asked for."""


def load_entries(
    coordinator: Coordinator,
    entries: Iterable[SourceEntry],
    *,
    sources: str = "",
    reset: bool = False,
) -> LoadResult:
    """Put entries into the run's keys and mark the run current; return the counts."""
    keys = coordinator.keys
    server = coordinator.server
    if reset:
        coordinator.reset()
    elif coordinator.run_keys():
        raise RunExistsError(
            f"run {keys.run_id!r} already has keys in Redis; give a new --run-id or --reset"
        )
    result = LoadResult()
    seen_urls: set[bytes] = set()
    seen_keys: set[str] = set()
    pipe = server.pipeline(transaction=False)
    for entry in entries:
        result.entries += 1
        key = entry_key(entry)
        url_digest = (
            hashlib.blake2b(entry.url.encode("utf-8"), digest_size=12).digest()
            if entry.url is not None
            else None
        )
        # Same rule as the single-machine spider: the first entry of a URL wins.
        # An entry identical to an earlier one in every field counts as one too.
        if (url_digest is not None and url_digest in seen_urls) or key in seen_keys:
            result.duplicates += 1
            continue
        if url_digest is not None:
            seen_urls.add(url_digest)
        seen_keys.add(key)
        result.unique += 1
        pipe.hset(keys.loaded, key, entry_to_json(entry))
        pipe.rpush(keys.start, key)
        if len(pipe) >= 2 * BATCH:
            pipe.execute()
    pipe.execute()
    # Written last: workers take an empty start list for the end of the run
    # only once the loader has said it is done.
    server.hset(
        keys.meta,
        mapping={
            "entries": result.entries,
            "unique": result.unique,
            "duplicates": result.duplicates,
            "sources": sources,
            "loaded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    server.set(keys.current, keys.run_id)
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m crawler.distributed.load SOURCES --redis URL --run-id ID``."""
    parser = argparse.ArgumentParser(
        prog="python -m crawler.distributed.load",
        description="Load a sources list into Redis for `scrapy crawl sources` workers.",
    )
    parser.add_argument("sources", help="file, directory or glob, as for -a sources=")
    parser.add_argument("--redis", required=True, help="redis://host:6379/0")
    parser.add_argument("--run-id", required=True, help="names the run's keys, e.g. 2026-11-29")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix (REDIS_KEY_PREFIX)")
    parser.add_argument("--publications", help="PUBLICATIONS file, never read as a sources list")
    parser.add_argument(
        "--reset", action="store_true", help="delete the run's keys first (a re-run of a night)"
    )
    args = parser.parse_args(argv)
    if not SAFE_ID.match(args.run_id):
        parser.error(f"--run-id {args.run_id!r} is not a safe id ([A-Za-z0-9._-])")
    try:
        files = resolve_sources(
            args.sources, exclude=[args.publications] if args.publications else []
        )
        check_sources(files)
    except SourcesError as exc:
        print(f"Cannot read the sources list: {exc}", file=sys.stderr)
        return 2
    server = Redis.from_url(args.redis)
    coordinator = Coordinator(server, RunKeys(args.prefix, args.run_id))
    memory_before = int(server.info("memory")["used_memory"])
    try:
        result = load_entries(
            coordinator, iter_entries(files), sources=args.sources, reset=args.reset
        )
    except RunExistsError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except SourcesError as exc:  # a file changed between the check and the read
        print(f"Cannot read the sources list: {exc}", file=sys.stderr)
        return 2
    grown = int(server.info("memory")["used_memory"]) - memory_before
    per_entry = grown / result.unique if result.unique else 0.0
    print(
        f"Loaded run {args.run_id}: {result.entries} entries, {result.unique} unique, "
        f"{result.duplicates} duplicates; Redis memory +{grown} bytes "
        f"({per_entry:.0f} bytes per entry)"
    )
    return 0
