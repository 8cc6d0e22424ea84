"""The Wayback Machine's CDX API, JSON form: queries, answers, replay URLs.

A CDX JSON answer is a list of rows, the first of which names the columns::

    [["urlkey","timestamp","original","mimetype","statuscode","digest","length"],
     ["org,example)/a", "20200102030405", "https://example.org/a", "text/html", "200", ...]]

An empty answer is ``[]`` (or an empty body). The query asks for captures
with status 200 closest to a timestamp; the rows are checked here again
(status, timestamp) because not every CDX server applies every filter.
Source of the format: the wayback-cdx-server API documentation of the
Internet Archive (``output=json``, ``filter=statuscode:200``,
``closest=``, ``sort=closest``, ``limit=``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

#: captures asked for; the closest is chosen among them here
CDX_LIMIT = 10
#: bytes of a CDX answer read at most (ten rows are well under 10 KB)
MAX_CDX_BYTES = 1024 * 1024
_TIMESTAMP = re.compile(r"^\d{4,14}$")
_PAD = "00000101000000"  # what a short timestamp leaves out: January 1st, midnight


@dataclass(frozen=True, slots=True)
class Capture:
    """One archived capture."""

    timestamp: str  # 14 digits, YYYYMMDDhhmmss
    original: str

    @property
    def captured_at(self) -> str:
        """The capture time, ISO 8601 UTC."""
        return timestamp_to_iso(self.timestamp)


def to_timestamp(moment: datetime) -> str:
    """A datetime as a 14-digit CDX timestamp (UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y%m%d%H%M%S")


def _moment(timestamp: str) -> datetime | None:
    """A CDX timestamp (4-14 digits; a short one is the start of its period) as UTC."""
    if not _TIMESTAMP.match(timestamp):
        return None
    padded = timestamp + _PAD[len(timestamp) :]
    try:
        return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def timestamp_to_iso(timestamp: str) -> str:
    """A CDX timestamp as ISO 8601 UTC (``ValueError`` when it is not one)."""
    moment = _moment(timestamp)
    if moment is None:
        raise ValueError(f"not a CDX timestamp: {timestamp!r}")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def query_url(endpoint: str, url: str, closest: str) -> str:
    """The CDX query for the captures of ``url`` with status 200 closest to ``closest``."""
    params = {
        "url": url,
        "output": "json",
        "filter": "statuscode:200",
        "closest": closest,
        "sort": "closest",
        "limit": str(CDX_LIMIT),
    }
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(params)}"


def parse_answer(body: bytes, closest: str) -> Capture | None:
    """The capture with status 200 closest to ``closest`` in a CDX JSON answer; None when none.

    Raises ``ValueError`` for an answer that is not CDX JSON (the lookup then
    failed, which is not the same as "no capture").
    """
    text = body[:MAX_CDX_BYTES].decode("utf-8", "replace").strip()
    if not text:
        return None
    data: Any = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("a CDX JSON answer is a list of rows")
    if not data:
        return None
    header = data[0]
    if not isinstance(header, list) or "timestamp" not in header:
        raise ValueError("the first row of a CDX JSON answer names the columns")
    at_ts = header.index("timestamp")
    at_original = header.index("original") if "original" in header else None
    at_status = header.index("statuscode") if "statuscode" in header else None
    target = _moment(closest)
    if target is None:
        raise ValueError(f"not a CDX timestamp: {closest!r}")
    best: tuple[float, Capture] | None = None
    for row in data[1:]:
        if not isinstance(row, list) or len(row) != len(header):
            continue
        moment = _moment(str(row[at_ts]))
        if moment is None:
            continue
        if at_status is not None and str(row[at_status]) != "200":
            continue
        original = str(row[at_original]) if at_original is not None else ""
        capture = Capture(to_timestamp(moment), original)
        distance = abs((moment - target).total_seconds())
        if best is None or distance < best[0]:
            best = (distance, capture)
    return best[1] if best else None


def replay_url(replay: str, timestamp: str, url: str) -> str:
    """The archive page of a capture: ``replay`` + timestamp + ``/`` + URL."""
    return f"{replay}{timestamp}/{url}"


def original_bytes_url(replay: str, timestamp: str, url: str) -> str:
    """The capture's original bytes, without the archive's banner: + timestamp + ``id_/`` + URL."""
    return f"{replay}{timestamp}id_/{url}"
