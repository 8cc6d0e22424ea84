"""JSON, never pickle, for requests crossing Redis (``SCHEDULER_SERIALIZER``).

scrapy-redis 0.9.1 serializes queued requests with pickle by default, so
whoever can write to the Redis server runs code in every worker that pops
one. This module is a drop-in serializer (scrapy-redis calls
``dumps(request.to_dict(spider=...))`` and ``request_from_dict(loads(data))``)
that only carries what this project's requests need, as JSON:

- ``url``, ``method``, ``headers`` (latin-1 text, as on the wire), ``body``
  (base64), ``priority``, ``dont_filter``, ``encoding``, ``flags``;
- the source entry (``meta[ENTRY_META_KEY]``) as the entry's own JSON;
- the meta keys Scrapy's redirect and retry middlewares carry from one
  request of an entry to the next (:data:`META_KEYS`), and only as scalars or
  lists of scalars;
- ``callback`` / ``errback`` as method *names* of the sources spider
  (:data:`CALLBACKS`); never a class or import path, so no ``_class`` key can
  make :func:`scrapy.utils.request.request_from_dict` import anything.

:func:`loads` refuses anything else with :class:`BadPayload`, before a
request object exists: a planted payload executes nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from crawler.distributed.run import entry_from_json, entry_to_json
from crawler.items import ENTRY_META_KEY
from crawler.sources import SourceEntry

#: the spider methods a queued request may name (crawler/spiders/sources.py)
CALLBACKS = frozenset({"parse", "on_failure"})
#: meta keys kept across the queue besides the entry: what redirect and retry
#: middlewares read back on the next request of the same entry
META_KEYS = frozenset(
    {
        "redirect_times",
        "redirect_ttl",
        "redirect_urls",
        "redirect_reasons",
        "retry_times",
        "dont_retry",
        "dont_redirect",
        "download_slot",
        "depth",
    }
)
METHODS = frozenset({"GET", "HEAD", "POST"})
#: a queued request larger than this is not one of ours
MAX_PAYLOAD_BYTES = 1024 * 1024
_SCALARS = (str, int, float, bool, type(None))


class BadPayload(ValueError):
    """A queue payload that is not a request this project wrote."""


def _json_safe(value: Any) -> bool:
    if isinstance(value, _SCALARS):
        return True
    return isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value)


def dumps(obj: dict[str, Any]) -> bytes:
    """Encode a ``Request.to_dict()`` as JSON, keeping only the fields listed above."""
    for name in ("callback", "errback"):
        if obj.get(name) is not None and obj[name] not in CALLBACKS:
            raise BadPayload(f"{name} {obj[name]!r} is not a method the queue may name")
    meta = obj.get("meta") or {}
    entry = meta.get(ENTRY_META_KEY)
    headers = {
        (k.decode("latin-1") if isinstance(k, bytes) else str(k)): [
            v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values
        ]
        for k, values in (obj.get("headers") or {}).items()
    }
    data = {
        "url": obj["url"],
        "method": obj.get("method", "GET"),
        "headers": headers,
        "body": base64.b64encode(obj.get("body") or b"").decode("ascii"),
        "priority": int(obj.get("priority", 0)),
        "dont_filter": bool(obj.get("dont_filter", False)),
        "encoding": obj.get("encoding", "utf-8"),
        "flags": [str(f) for f in obj.get("flags") or []],
        "callback": obj.get("callback"),
        "errback": obj.get("errback"),
        "entry": entry_to_json(entry) if isinstance(entry, SourceEntry) else None,
        "meta": {k: v for k, v in meta.items() if k in META_KEYS and _json_safe(v)},
    }
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise BadPayload(what)


def loads(data: bytes | str) -> dict[str, Any]:
    """Decode a payload written by :func:`dumps` into ``request_from_dict`` arguments.

    Raises :class:`BadPayload` for anything else (pickle, other JSON, wrong
    types, an unknown callback or meta key).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    _expect(len(raw) <= MAX_PAYLOAD_BYTES, f"payload of {len(raw)} bytes")
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadPayload(f"not JSON: {exc}") from None
    _expect(isinstance(obj, dict), "not a JSON object")
    _expect(isinstance(obj.get("url"), str), "no url")
    _expect(obj.get("method") in METHODS, "method")
    for name in ("callback", "errback"):
        _expect(obj.get(name) is None or obj.get(name) in CALLBACKS, f"{name} not allowed")
    headers = obj.get("headers")
    _expect(
        isinstance(headers, dict)
        and all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in headers.values()
        ),
        "headers",
    )
    meta = obj.get("meta")
    _expect(isinstance(meta, dict), "meta")
    for key, value in meta.items():
        _expect(key in META_KEYS and _json_safe(value), f"meta key {key!r}")
    _expect(isinstance(obj.get("priority"), int), "priority")
    _expect(isinstance(obj.get("dont_filter"), bool), "dont_filter")
    _expect(isinstance(obj.get("encoding"), str), "encoding")
    flags = obj.get("flags")
    _expect(isinstance(flags, list) and all(isinstance(f, str) for f in flags), "flags")
    try:
        body = base64.b64decode(str(obj.get("body", "")), validate=True)
    except (binascii.Error, ValueError):
        raise BadPayload("body is not base64") from None
    entry = obj.get("entry")
    _expect(entry is None or isinstance(entry, str), "entry")
    if entry is not None:
        try:
            decoded = entry_from_json(entry)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadPayload(f"entry: {exc!r}") from None
        _expect(
            (decoded.url is None or isinstance(decoded.url, str))
            and isinstance(decoded.origin, str)
            and all(
                v is None or isinstance(v, str)
                for v in (decoded.id, decoded.stable_id, decoded.problem)
            )
            and isinstance(decoded.fields, dict),
            "entry fields",
        )
        meta[ENTRY_META_KEY] = decoded
    return {
        "url": obj["url"],
        "method": obj["method"],
        "headers": {
            k.encode("latin-1"): [v.encode("latin-1") for v in vs] for k, vs in headers.items()
        },
        "body": body,
        "priority": obj["priority"],
        "dont_filter": obj["dont_filter"],
        "encoding": obj["encoding"],
        "flags": flags,
        "callback": obj.get("callback"),
        "errback": obj.get("errback"),
        "meta": meta,
    }
