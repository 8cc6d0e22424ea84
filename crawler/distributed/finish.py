"""The finishing step of a distributed run: check coverage, merge the parts, publish.

``python -m crawler.distributed.finish --redis URL --run-id ID --output PATH``

Refuses while a worker still beats. Re-queues the entries of workers that
died (and any entry no published part covers), lists them in
``<output>.missing.jsonl`` and exits 3: start a worker again, then finish
again. When the published parts cover exactly the loaded entries, the parts
are concatenated into the night's file (written aside, renamed into place),
its manifest is written, and the ``latest`` pointer where the project
offers one.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import jsonlines
from redis import Redis

from crawler.distributed.run import DEFAULT_PREFIX, DONE, RUNNING, Coordinator, RunKeys
from crawler.fetch.urls import redact_url
from crawler.publish.counts import RecordCounts
from crawler.publish.exitcodes import OK, OUTPUT_FAILED
from crawler.publish.sequence import Publication, publish
from crawler.timeutil import iso_z, utc_now

#: records are written as Scrapy's jsonlines exporter writes them (UTF-8, default separators)
_dumps = json.JSONEncoder(ensure_ascii=False).encode


@dataclass
class FinishResult:
    """What the finishing step found and did."""

    published: Path | None = None
    records: int = 0
    workers: dict[str, int] = field(default_factory=dict)  # records per published part
    missing: list[dict[str, Any]] = field(default_factory=list)  # loaded entries without record
    requeued: int = 0
    problem: str | None = None


def output_path(template: str, run_id: str) -> Path:
    """Fill ``%(name)s``, ``%(time)s`` and ``%(run_id)s`` of an output template."""
    return Path(
        template % {"name": "sources", "time": iso_z(utc_now()).replace(":", "-"), "run_id": run_id}
    )


def finish_run(
    coordinator: Coordinator, output: Path, *, max_error_share: float = 0.5
) -> FinishResult:
    """Check the run and publish its merged output; see the module docstring."""
    keys = coordinator.keys
    server = coordinator.server
    result = FinishResult()
    if not coordinator.loaded():
        result.problem = f"run {keys.run_id!r} was not (fully) loaded"
        return result
    workers = coordinator.workers()
    beating = [w for w, s in workers.items() if s == RUNNING and coordinator.is_alive(w)]
    if beating:
        result.problem = f"workers still running: {', '.join(sorted(beating))}"
        return result
    result.requeued = coordinator.reclaim_dead()
    workers = coordinator.workers()
    parts = {
        w.decode(): p.decode()
        for w, p in cast(dict[bytes, bytes], server.hgetall(keys.parts)).items()
    }
    covered: Counter[str] = Counter()
    done_keys: dict[str, set[str]] = {}
    for worker in sorted(w for w, s in workers.items() if s == DONE):
        members = cast(set[bytes], server.smembers(keys.done(worker)))
        done_keys[worker] = {m.decode() for m in members}
        covered.update(done_keys[worker])
    loaded = cast(dict[bytes, bytes], server.hgetall(keys.loaded))
    twice = [k for k, n in covered.items() if n > 1]
    if twice:
        result.problem = f"{len(twice)} entries are in two published parts (e.g. {twice[0]})"
        return result
    missing = [k for k in loaded if k.decode() not in covered]
    if missing:
        result.missing = [_shown(json.loads(loaded[k])) for k in missing]
        # No worker runs: requests still queued are orphans of dead workers,
        # and every uncovered entry goes back to `start`, filter cleared.
        pipe = server.pipeline(transaction=True)
        pipe.delete(keys.requests, keys.start)
        pipe.rpush(keys.start, *missing)
        pipe.srem(keys.dupefilter, *missing)
        pipe.execute()
        result.requeued = len(missing)
        result.problem = (
            f"{len(missing)} of {len(loaded)} sources have no record; they were re-queued: "
            f"start a worker (RUN_ID={keys.run_id}), then finish again"
        )
        return result
    merged, counts, result.workers = _merge(
        output, [(w, Path(parts[w]), len(done_keys[w])) for w in sorted(done_keys)], loaded
    )
    result.records = counts.records
    _publish(merged, output, _stats(server, keys, counts), max_error_share)
    result.published = output
    return result


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    """A loaded entry as the missing list shows it: its URL without userinfo, as records do."""
    if isinstance(entry.get("url"), str):
        entry["url"] = redact_url(entry["url"])
    return entry


def _merge(
    output: Path, parts: list[tuple[str, Path, int]], loaded: dict[bytes, bytes]
) -> tuple[Path, RecordCounts, dict[str, int]]:
    """Concatenate the parts into a hidden file beside ``output``, checking and counting."""
    # A record shows its entry's URL without userinfo (pipelines/identify.py):
    # the entries' URLs are read by the same parser before they are compared.
    expected_urls = Counter(redact_url(json.loads(v)["url"] or "") for v in loaded.values())
    seen_urls: Counter[str] = Counter()
    counts = RecordCounts()
    per_worker: dict[str, int] = {}
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    os.close(fd)
    try:
        with (
            _open(Path(tmp), "wb", gzipped=output.suffix == ".gz") as out,
            jsonlines.Writer(out, dumps=_dumps) as writer,
        ):
            for worker, path, claimed in parts:
                count = 0
                with path.open("rb") as part, jsonlines.Reader(part) as reader:
                    for record in reader.iter(type=dict, skip_empty=True):
                        seen_urls[record["url"]] += 1
                        counts.add(record)
                        writer.write(record)
                        count += 1
                if count != claimed:
                    raise ValueError(f"part {path} holds {count} records for {claimed} entries")
                per_worker[worker] = count
        if seen_urls != expected_urls:
            raise ValueError("the records' URLs differ from the loaded entries' URLs")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), counts, per_worker


def _open(path: Path, mode: str, *, gzipped: bool) -> IO[bytes]:
    if gzipped:
        # mtime 0: the same records give the same bytes, as in single-machine runs
        return cast(IO[bytes], gzip.GzipFile(path, mode, mtime=0))
    return cast(IO[bytes], path.open(mode))


def _stats(server: Redis, keys: RunKeys, counts: RecordCounts) -> dict[str, Any]:
    """Run-wide stats for the manifest, from the merged records and the loader's counts."""
    meta = {
        k.decode(): v.decode()
        for k, v in cast(dict[bytes, bytes], server.hgetall(keys.meta)).items()
    }
    return {
        **counts.as_stats(),
        "ingest/entries": int(meta.get("entries", 0)),
        "ingest/duplicates": int(meta.get("duplicates", 0)),
        "ingest/sources_spec": meta.get("sources"),
        "ingest/started_at": meta.get("loaded_at"),
    }


def _publish(merged: Path, output: Path, stats: dict[str, Any], max_error_share: float) -> None:
    """The publish sequence of every night: rename, manifest, health, latest pointer.

    An unhealthy night is published but does not move the latest pointer,
    as in single-machine runs. There is no crawler here, so nobody hears
    ``output_published``: the workers keep no incremental state.
    """
    publish(
        Publication(
            part=merged,
            target=output,
            output=str(output),
            stats=stats,
            incomplete=None,  # coverage was checked against Redis before the merge
            max_error_share=max_error_share,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m crawler.distributed.finish --redis URL --run-id ID --output P``."""
    parser = argparse.ArgumentParser(
        prog="python -m crawler.distributed.finish",
        description="Merge the workers' part files of a run into the night's JSONL and manifest.",
    )
    parser.add_argument("--redis", required=True, help="redis://host:6379/0")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix (REDIS_KEY_PREFIX)")
    parser.add_argument(
        "--output",
        default="output/sources/%(time)s.jsonl",
        help="the night's file; %%(time)s, %%(run_id)s filled in; .jsonl.gz compresses",
    )
    parser.add_argument(
        "--max-error-share",
        type=float,
        default=0.5,
        help="above this share of error records the latest pointer does not move",
    )
    args = parser.parse_args(argv)
    output = output_path(args.output, args.run_id)
    coordinator = Coordinator(Redis.from_url(args.redis), RunKeys(args.prefix, args.run_id))
    try:
        result = finish_run(coordinator, output, max_error_share=args.max_error_share)
    except (OSError, ValueError) as exc:
        print(f"Not published: {exc}", file=sys.stderr)
        return OUTPUT_FAILED
    if result.missing:
        missing_list = Path(f"{output}.missing.jsonl")
        missing_list.parent.mkdir(parents=True, exist_ok=True)
        with jsonlines.open(missing_list, "w", dumps=_dumps) as writer:
            writer.write_all(result.missing)
        print(f"Missing sources listed in {missing_list}", file=sys.stderr)
    if result.problem:
        print(f"Not published: {result.problem}", file=sys.stderr)
        return OUTPUT_FAILED
    shares = ", ".join(f"{w} {n}" for w, n in result.workers.items())
    print(
        f"Published {output}: {result.records} records from {len(result.workers)} parts ({shares})"
    )
    return OK


if __name__ == "__main__":
    raise SystemExit(main())
