"""Exit codes of ``scrapy crawl sources``, so that cron can tell what went wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OK = 0
#: Scrapy could not start (bad settings, unknown spider): Scrapy's own code.
STARTUP_FAILED = 1
#: a user mistake, found before anything started: an unknown argument, a setting of the
#: wrong type or range, a feature asked for without its extra, or a sources list that
#: cannot be read (missing file, YAML/JSON syntax error, no url column)
USAGE = 2
SOURCES_FAILED = USAGE
#: the output was not written: unwritable path, or an interrupted or incomplete run
OUTPUT_FAILED = 3
#: the output is complete but its upload to S3 failed: it waits in SPOOL_DIR for the next run
UPLOAD_SPOOLED = 4
#: the output was published but the run looks broken: no records, or more than
#: MAX_ERROR_SHARE of them are errors; the latest pointer and the state did not move
UNHEALTHY = 5
#: another run holds the lock: this one did nothing
LOCKED = 6
#: the output was published, but a coverage alarm was raised (crawler/alarms.py):
#: e.g. titles suddenly missing on half the pages, a silent extraction regression
ALARM = 7
#: distributed mode: Redis (the coordinator) stayed unreachable longer than
#: DISTRIBUTED_REDIS_GRACE; this worker published nothing (run finish later)
LOST_COORDINATOR = 8

MEANING = {
    OK: "the run completed and its output was published",
    STARTUP_FAILED: "the crawl could not start",
    USAGE: "a bad argument, setting or sources list; nothing was crawled",
    OUTPUT_FAILED: "the output was not published (incomplete run or storage failure)",
    UPLOAD_SPOOLED: "the upload failed; the finished output waits in SPOOL_DIR for the next run",
    UNHEALTHY: "the run has no records or too many errors; latest pointer and state not moved",
    LOCKED: "another run holds the lock; nothing was done",
    ALARM: "the output was published, but a coverage alarm was raised (see summary and report)",
    LOST_COORDINATOR: "Redis was unreachable for longer than DISTRIBUTED_REDIS_GRACE; "
    "this worker published nothing",
}


def exit_code_for(stats: Mapping[str, Any]) -> int:
    """Derive the exit code from a finished crawl's stats."""
    if stats.get("ingest/failure") == "sources":
        return SOURCES_FAILED
    if stats.get("ingest/failure") == "coordinator":
        return LOST_COORDINATOR
    if stats.get("ingest/spooled"):
        return UPLOAD_SPOOLED
    failed = sum(v for k, v in stats.items() if k.startswith("feedexport/failed_count/"))
    published = sum(v for k, v in stats.items() if k.startswith("feedexport/success_count/"))
    if failed or not published:
        return OUTPUT_FAILED
    if stats.get("ingest/unhealthy"):
        return UNHEALTHY
    if stats.get("ingest/alarms"):
        return ALARM
    return OK
