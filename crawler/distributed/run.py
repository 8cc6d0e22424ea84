"""The Redis side of one distributed run: key names, entry encoding and the atomic steps.

Every key of a run lives under ``<prefix>:<run id>:``, so a new night never
sees the last night's queue or filter, and nothing is deleted while workers
run. An entry is, at any moment, in exactly one place: waiting in ``start``
(its key), in the shared request queue (as a request), or *claimed* by one
worker (``claims:<worker>``: fetched or being fetched by it, its record in
that worker's unpublished part file). A worker that publishes its part file
renames its claims to ``done:<worker>``; a worker that dies has its claims
pushed back to ``start`` by whoever notices first. Both moves are Lua
scripts, so exactly one of them wins.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import cast

from redis import Redis

from crawler.options import fields
from crawler.sources import SourceEntry

DEFAULT_PREFIX: str = fields()["REDIS_KEY_PREFIX"].default  # declared in crawler/options.py
#: separates an entry key from the serialized request in the shared queue
KEY_SEPARATOR = b"|"

RUNNING = "running"
DONE = "done"


def entry_to_json(entry: SourceEntry) -> str:
    """Encode an entry with all its fields, in a canonical form (sorted keys)."""
    data = {
        "url": entry.url,
        "origin": entry.origin,
        "id": entry.id,
        "stable_id": entry.stable_id,
        "fields": entry.fields,
        "problem": entry.problem,
    }
    # default=str: YAML can hold values JSON cannot (dates are read as strings already)
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_from_json(text: str | bytes) -> SourceEntry:
    """Decode an entry written by :func:`entry_to_json`."""
    data = json.loads(text)
    return SourceEntry(
        url=data["url"],
        origin=data["origin"],
        id=data.get("id"),
        stable_id=data.get("stable_id"),
        fields=data.get("fields") or {},
        problem=data.get("problem"),
    )


def entry_key(entry: SourceEntry) -> str:
    """A short key derived from the whole entry, computable wherever the entry travels.

    Derived rather than numbered so that a request's entry, unpickled on
    another worker, still names its key without carrying an extra field.
    """
    return hashlib.blake2b(entry_to_json(entry).encode("utf-8"), digest_size=10).hexdigest()


@dataclass(frozen=True)
class RunKeys:
    """Names of the Redis keys of one run."""

    prefix: str
    run_id: str

    @property
    def base(self) -> str:
        """``<prefix>:<run id>``."""
        return f"{self.prefix}:{self.run_id}"

    @property
    def meta(self) -> str:
        """Hash: what the loader loaded (counts, sources, time)."""
        return f"{self.base}:meta"

    @property
    def loaded(self) -> str:
        """Hash: entry key -> entry JSON, every unique entry of the run."""
        return f"{self.base}:loaded"

    @property
    def start(self) -> str:
        """List: keys of entries no worker has taken yet."""
        return f"{self.base}:start"

    @property
    def requests(self) -> str:
        """Sorted set: scrapy-redis's shared request queue."""
        return f"{self.base}:requests"

    @property
    def dupefilter(self) -> str:
        """Set: scrapy-redis's duplicate filter, one member per entry key."""
        return f"{self.base}:dupefilter"

    @property
    def workers(self) -> str:
        """Hash: worker id -> running, done or reclaimed."""
        return f"{self.base}:workers"

    @property
    def parts(self) -> str:
        """Hash: worker id -> path of its published part file."""
        return f"{self.base}:parts"

    def claims(self, worker: str) -> str:
        """Set: entry keys a worker is responsible for."""
        return f"{self.base}:claims:{worker}"

    def done(self, worker: str) -> str:
        """Set: entry keys whose records are in a worker's published part file."""
        return f"{self.base}:done:{worker}"

    def recorded(self, worker: str) -> str:
        """Counter: records a worker has written to its part file."""
        return f"{self.base}:recorded:{worker}"

    def alive(self, worker: str) -> str:
        """Key with a time to live, refreshed while a worker runs."""
        return f"{self.base}:alive:{worker}"

    @property
    def current(self) -> str:
        """The run id workers join when ``RUN_ID`` is not given."""
        return f"{self.prefix}:current"


# KEYS: start, claims, loaded. Takes the next entry and claims it in one step.
CLAIM_START = """
local k = redis.call('LPOP', KEYS[1])
if not k then return false end
redis.call('SADD', KEYS[2], k)
return {k, redis.call('HGET', KEYS[3], k)}
"""

# KEYS: requests, claims. scrapy-redis's priority-queue pop (ZRANGE + ZREMRANGEBYRANK)
# plus the claim of the request's entry, whose key prefixes the payload.
POP_REQUEST = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0)
if #r == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
local i = string.find(r[1], '|', 1, true)
if i and i > 1 then redis.call('SADD', KEYS[2], string.sub(r[1], 1, i - 1)) end
return r[1]
"""

# KEYS: workers, claims, done, parts. ARGV: worker, part path.
COMMIT = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'running' then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[3]) end
redis.call('HSET', KEYS[1], ARGV[1], 'done')
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
return 1
"""

# KEYS: workers, claims, recorded, alive, start, dupefilter. ARGV: worker, force.
# A worker still beating is left alone unless it releases its own claims (force).
RECLAIM = """
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'running' then return -2 end
local ks = redis.call('SMEMBERS', KEYS[2])
for _, k in ipairs(ks) do
  redis.call('LPUSH', KEYS[5], k)
  redis.call('SREM', KEYS[6], k)
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], 'reclaimed')
return #ks
"""


class Coordinator:
    """The atomic steps of a run, for workers, the loader and the finishing step."""

    def __init__(self, server: Redis, keys: RunKeys) -> None:
        self.server = server
        self.keys = keys
        self._claim_start = server.register_script(CLAIM_START)
        self._pop_request = server.register_script(POP_REQUEST)
        self._commit = server.register_script(COMMIT)
        self._reclaim = server.register_script(RECLAIM)

    def claim_start(self, worker: str) -> tuple[str, SourceEntry] | None:
        """Take the next waiting entry for ``worker``; None when none waits."""
        k = self.keys
        result = self._claim_start(keys=[k.start, k.claims(worker), k.loaded])
        if not result:
            return None
        key, text = cast(list[bytes], result)
        return key.decode(), entry_from_json(text)

    def pop_request(self, worker: str) -> bytes | None:
        """Pop the highest-priority request payload and claim its entry for ``worker``."""
        k = self.keys
        result = self._pop_request(keys=[k.requests, k.claims(worker)])
        return cast(bytes, result) if result else None

    def push_request(self, worker: str, key: str, payload: bytes, score: float) -> None:
        """Queue a request and hand its entry from ``worker`` to the queue, atomically."""
        pipe = self.server.pipeline(transaction=True)
        pipe.zadd(self.keys.requests, {payload: score})
        pipe.srem(self.keys.claims(worker), key)
        pipe.execute()

    def release(self, worker: str, key: str) -> None:
        """Drop ``worker``'s claim on an entry that is already queued elsewhere."""
        self.server.srem(self.keys.claims(worker), key)

    def register(self, worker: str, ttl: float) -> None:
        """Mark ``worker`` running and alive."""
        if self.server.hget(self.keys.workers, worker) not in (None, RUNNING.encode()):
            raise RuntimeError(f"worker id {worker!r} was already used in run {self.keys.run_id}")
        self.server.hset(self.keys.workers, worker, RUNNING)
        self.heartbeat(worker, ttl)

    def heartbeat(self, worker: str, ttl: float) -> None:
        """Keep ``worker`` alive for ``ttl`` more seconds."""
        self.server.set(self.keys.alive(worker), b"1", px=max(1, int(ttl * 1000)))

    def record_written(self, worker: str) -> None:
        """Count one record written by ``worker``."""
        self.server.incr(self.keys.recorded(worker))

    def commit(self, worker: str, part: str) -> bool:
        """Declare ``worker``'s part file published; False when its claims were reclaimed."""
        k = self.keys
        result = self._commit(
            keys=[k.workers, k.claims(worker), k.done(worker), k.parts], args=[worker, part]
        )
        self.server.delete(k.alive(worker), k.recorded(worker))
        return bool(result)

    def reclaim(self, worker: str, *, force: bool = False) -> int:
        """Push a gone worker's claims back to ``start``; the count, or <0 when not done."""
        k = self.keys
        return int(
            self._reclaim(
                keys=[
                    k.workers,
                    k.claims(worker),
                    k.recorded(worker),
                    k.alive(worker),
                    k.start,
                    k.dupefilter,
                ],
                args=[worker, "1" if force else "0"],
            )
        )

    def workers(self) -> dict[str, str]:
        """Worker id -> state."""
        raw = cast(dict[bytes, bytes], self.server.hgetall(self.keys.workers))
        return {w.decode(): s.decode() for w, s in raw.items()}

    def in_flight(self, worker: str) -> int:
        """Entries ``worker`` has claimed but not written a record for yet."""
        pipe = self.server.pipeline(transaction=False)
        pipe.scard(self.keys.claims(worker))
        pipe.get(self.keys.recorded(worker))
        claimed, recorded = pipe.execute()
        return int(claimed) - int(recorded or 0)

    def is_alive(self, worker: str) -> bool:
        """Whether ``worker``'s heartbeat has not expired."""
        return bool(self.server.exists(self.keys.alive(worker)))

    def reclaim_dead(self, except_worker: str | None = None) -> int:
        """Reclaim every running worker whose heartbeat expired; entries re-queued."""
        total = 0
        for worker, state in self.workers().items():
            if worker != except_worker and state == RUNNING and not self.is_alive(worker):
                total += max(0, self.reclaim(worker))
        return total

    def loaded(self) -> bool:
        """Whether the loader has finished loading the run."""
        return bool(self.server.hexists(self.keys.meta, "loaded_at"))

    def pending(self) -> int:
        """Entries waiting plus requests queued."""
        pipe = self.server.pipeline(transaction=False)
        pipe.llen(self.keys.start)
        pipe.zcard(self.keys.requests)
        waiting, queued = pipe.execute()
        return int(waiting) + int(queued)

    def others_busy(self, worker: str) -> bool:
        """Whether another running worker holds entries it has not recorded yet."""
        return any(
            other != worker and state == RUNNING and self.in_flight(other) > 0
            for other, state in self.workers().items()
        )

    def run_keys(self) -> list[bytes]:
        """Every key of the run (SCAN, never KEYS: the server keeps serving meanwhile)."""
        return list(self.server.scan_iter(match=f"{self.keys.base}:*", count=1000))

    def reset(self) -> int:
        """Delete every key of the run; the number deleted."""
        names = self.run_keys()
        for i in range(0, len(names), 500):
            self.server.delete(*names[i : i + 500])
        return len(names)
