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
import importlib
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from redis import Redis

from crawler.distributed.run import DEFAULT_PREFIX, DONE, RUNNING, Coordinator, RunKeys
from crawler.publish.exitcodes import OK, OUTPUT_FAILED
from crawler.publish.manifest import (
    ERROR_PREFIX,
    STATUS_PREFIX,
    build_manifest,
    manifest_path,
    sha256_of,
    write_json_atomically,
)
from crawler.timeutil import iso_z, utc_now


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
        result.missing = [json.loads(loaded[k]) for k in missing]
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
    merged, result.records, result.workers = _merge(
        output, [(w, Path(parts[w]), len(done_keys[w])) for w in sorted(done_keys)], loaded
    )
    try:
        stats = _stats(server, keys, merged, result.records, gzipped=output.suffix == ".gz")
        _publish(merged, output, stats, max_error_share)
    finally:
        merged.unlink(missing_ok=True)
    result.published = output
    return result


def _merge(
    output: Path, parts: list[tuple[str, Path, int]], loaded: dict[bytes, bytes]
) -> tuple[Path, int, dict[str, int]]:
    """Concatenate the parts into a hidden file beside ``output``, checking as it goes."""
    expected_urls = Counter(json.loads(v)["url"] or "" for v in loaded.values())
    seen_urls: Counter[str] = Counter()
    per_worker: dict[str, int] = {}
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    os.close(fd)
    try:
        with _open(Path(tmp), "wb", gzipped=output.suffix == ".gz") as out:
            for worker, path, claimed in parts:
                count = 0
                with path.open("rb") as part:
                    for line in part:
                        if not line.strip():
                            continue
                        seen_urls[json.loads(line)["url"]] += 1
                        out.write(line if line.endswith(b"\n") else line + b"\n")
                        count += 1
                if count != claimed:
                    raise ValueError(f"part {path} holds {count} records for {claimed} entries")
                per_worker[worker] = count
        if seen_urls != expected_urls:
            raise ValueError("the records' URLs differ from the loaded entries' URLs")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), sum(per_worker.values()), per_worker


def _open(path: Path, mode: str, *, gzipped: bool) -> IO[bytes]:
    if gzipped:
        # mtime 0: the same records give the same bytes, as in single-machine runs
        return cast(IO[bytes], gzip.GzipFile(path, mode, mtime=0))
    return cast(IO[bytes], path.open(mode))


def _stats(
    server: Redis, keys: RunKeys, merged: Path, records: int, *, gzipped: bool
) -> dict[str, Any]:
    """Run-wide stats for the manifest, from the merged file and the loader's counts."""
    meta = {
        k.decode(): v.decode()
        for k, v in cast(dict[bytes, bytes], server.hgetall(keys.meta)).items()
    }
    stats: dict[str, Any] = {
        "ingest/records": records,
        "ingest/entries": int(meta.get("entries", 0)),
        "ingest/duplicates": int(meta.get("duplicates", 0)),
        "ingest/sources_spec": meta.get("sources"),
        "ingest/started_at": meta.get("loaded_at"),
    }
    counts: Counter[str] = Counter()
    with _open(merged, "rb", gzipped=gzipped) as lines:
        for line in lines:
            record = json.loads(line)
            counts[f"{STATUS_PREFIX}{record['status']}"] += 1
            if record.get("error"):
                counts[f"{ERROR_PREFIX}{record['error']}"] += 1
    stats.update(counts)
    return stats


def _publish(merged: Path, output: Path, stats: dict[str, Any], max_error_share: float) -> None:
    """Rename the merged file into place, then write its manifest, then the latest pointer."""
    with merged.open("rb") as file:
        os.fsync(file.fileno())
        digest = sha256_of(file)
        size = os.fstat(file.fileno()).st_size
    os.chmod(merged, 0o644)
    os.replace(merged, output)
    manifest = build_manifest(
        stats, output=str(output), sha256=digest, size=size, finished_at=iso_z(utc_now())
    )
    # The single-machine run's rule: an unhealthy night is published but
    # does not move the latest pointer (when the project has that check).
    health = getattr(importlib.import_module("crawler.publish.feedstorage"), "health_problem", None)
    problem = health(stats, max_error_share) if health is not None else None
    manifest["healthy"] = problem is None
    manifest["health_problem"] = problem
    write_json_atomically(manifest_path(output), manifest)
    if problem is None:
        write_latest_pointer(manifest, output)


def write_latest_pointer(manifest: dict[str, Any], target: Path) -> Path | None:
    """Hook: write the ``latest`` pointer beside ``target`` when the project offers one.

    Uses ``crawler.publish.manifest.latest_pointer`` and ``crawler.publish.spool.LATEST_NAME``
    (the single-machine run's pointer) when they exist; returns the pointer's
    path, or None when there is nothing to write it with.
    """
    pointer = getattr(importlib.import_module("crawler.publish.manifest"), "latest_pointer", None)
    try:
        name = str(importlib.import_module("crawler.publish.spool").LATEST_NAME)
    except (ImportError, AttributeError):
        name = "latest.json"
    if pointer is None:
        return None
    path = target.parent / name
    write_json_atomically(path, pointer(manifest, target))
    return path


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
        with missing_list.open("w", encoding="utf-8") as f:
            for entry in result.missing:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
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
