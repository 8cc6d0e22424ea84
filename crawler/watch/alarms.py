"""Coverage alarms: thresholds on the share of error records and on field coverage.

A silent extraction regression (titles suddenly missing on half the pages)
produces a perfectly valid output file, so nothing else would notice it. The
:class:`CoverageAlarms` extension counts, as records are exported, how many
``ok`` records carry each field, and when the spider closes compares the
shares with the ``ALARM_*`` settings. Crossed thresholds are stored as the
stat ``ingest/alarms`` (a list of names such as ``coverage/title``) for the
exit code, and logged. The nightly report evaluates the same thresholds on the
published file with :func:`evaluate`, so both always agree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector

from crawler.publish.counts import RecordCounts, as_record

logger = logging.getLogger(__name__)

#: A preview shorter than this is a stub (a cookie banner, a teaser), not the text.
PREVIEW_MIN_CHARS = 500
#: Coverage fields, in the order they are shown.
COVERAGE_FIELDS: tuple[str, ...] = ("title", "published_date", "authors", "preview")
COVERAGE_LABELS = {
    "title": "title",
    "published_date": "published date",
    "authors": "authors",
    "preview": f"preview ≥ {PREVIEW_MIN_CHARS} chars",
}
ALARMS_STAT = "ingest/alarms"
ALARM_DETAILS_STAT = "ingest/alarm_details"
COVERAGE_STAT_PREFIX = "ingest/coverage/"


def has_field(record: Mapping[str, Any], name: str) -> bool:
    """Whether a record carries a usable value for a coverage field."""
    if name == "preview":
        return len(record.get("preview") or "") >= PREVIEW_MIN_CHARS
    if name == "authors":
        return bool(record.get("authors"))
    value = record.get(name)
    return isinstance(value, str) and bool(value.strip())


@dataclass
class Counts(RecordCounts):
    """What the alarms are computed from: the record counts, and field counts among ok."""

    fields: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COVERAGE_FIELDS, 0))

    @property
    def errors(self) -> int:
        """Records with status ``error``."""
        return self.by_status["error"]

    @property
    def ok(self) -> int:
        """Records with status ``ok``."""
        return self.by_status["ok"]

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one record."""
        super().add(record)
        if record.get("status") != "ok":
            return
        for name in COVERAGE_FIELDS:
            if has_field(record, name):
                self.fields[name] += 1

    @property
    def error_share(self) -> float | None:
        """Share of records with status ``error``; None without records."""
        return self.errors / self.records if self.records else None

    def coverage(self, name: str) -> float | None:
        """Share of ok records carrying ``name``; None without ok records."""
        return self.fields[name] / self.ok if self.ok else None


@dataclass(frozen=True)
class Thresholds:
    """Alarm thresholds; None switches one off."""

    max_error_share: float | None = 0.25
    min_coverage: Mapping[str, float | None] = field(
        default_factory=lambda: {
            "title": 0.8,
            "published_date": 0.3,
            "authors": 0.2,
            "preview": 0.5,
        }
    )
    #: Shares of a handful of records are noise: judge only runs at least this big.
    min_records: int = 50

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        """Read ``ALARM_*`` settings (an empty value switches that alarm off)."""

        def share(name: str, default: float | None) -> float | None:
            value = settings.get(name, default)
            if value is None or value == "" or str(value).lower() == "none":
                return None
            return float(value)

        default = cls()
        return cls(
            max_error_share=share("ALARM_MAX_ERROR_SHARE", default.max_error_share),
            min_coverage={
                "title": share("ALARM_MIN_TITLE", default.min_coverage["title"]),
                "published_date": share(
                    "ALARM_MIN_PUBLISHED_DATE", default.min_coverage["published_date"]
                ),
                "authors": share("ALARM_MIN_AUTHORS", default.min_coverage["authors"]),
                "preview": share("ALARM_MIN_PREVIEW", default.min_coverage["preview"]),
            },
            min_records=settings.getint("ALARM_MIN_RECORDS"),
        )


@dataclass(frozen=True)
class Alarm:
    """One crossed threshold."""

    name: str
    value: float
    threshold: float
    message: str


def evaluate(counts: Counts, thresholds: Thresholds) -> list[Alarm]:
    """Return the thresholds the counts cross, error share first."""
    alarms: list[Alarm] = []
    share = counts.error_share
    limit = thresholds.max_error_share
    if (
        share is not None
        and limit is not None
        and counts.records >= thresholds.min_records
        and share > limit
    ):
        alarms.append(
            Alarm(
                "error_share",
                share,
                limit,
                f"{share:.0%} of records are errors ({counts.errors} of {counts.records}; "
                f"alarm above {limit:.0%})",
            )
        )
    if counts.ok < max(thresholds.min_records, 1):
        return alarms
    for name in COVERAGE_FIELDS:
        minimum = thresholds.min_coverage.get(name)
        value = counts.coverage(name)
        if minimum is None or value is None or value >= minimum:
            continue
        alarms.append(
            Alarm(
                f"coverage/{name}",
                value,
                minimum,
                f"only {value:.0%} of ok records have a {COVERAGE_LABELS[name]} "
                f"({counts.fields[name]} of {counts.ok}; alarm below {minimum:.0%})",
            )
        )
    return alarms


class CoverageAlarms:
    """Extension: count field coverage of exported records; set ``ingest/alarms`` at the close."""

    def __init__(self, stats: StatsCollector, thresholds: Thresholds) -> None:
        self.stats = stats
        self.thresholds = thresholds
        self.counts = Counts()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Connect to the crawler's signals."""
        assert crawler.stats is not None
        ext = cls(crawler.stats, Thresholds.from_settings(crawler.settings))
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def item_scraped(self, item: Any) -> None:
        """Count one exported record (the same records the ledger counts)."""
        record = as_record(item)
        if record is None:
            return
        self.counts.add(record)
        if record["status"] == "ok":
            for name in COVERAGE_FIELDS:
                if has_field(record, name):
                    self.stats.inc_value(f"{COVERAGE_STAT_PREFIX}{name}")

    def spider_closed(self) -> None:
        """Compare the counts with the thresholds and record the crossed ones."""
        alarms = evaluate(self.counts, self.thresholds)
        self.stats.set_value(ALARMS_STAT, [a.name for a in alarms])
        self.stats.set_value(ALARM_DETAILS_STAT, [f"{a.name}: {a.message}" for a in alarms])
        for alarm in alarms:
            logger.warning("Coverage alarm %s: %s", alarm.name, alarm.message)
