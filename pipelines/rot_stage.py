"""Reference rot: is the cited document still there, and if it is not, where is a copy?

Two stages, fed by the pure rules of :mod:`pipelines.rot`:

* :class:`RotMarkupPipeline` (before extraction, which drops the body) reads
  the head of each fetched page's markup for parking and sign-in markers;
* :class:`RotPipeline` (after classify) re-judges pages that answered 2xx:
  ``dead``/``parked_domain``, ``paywall``/``login_wall``,
  ``dead``/``redirected_home`` and ``dead``/``soft_404`` (by the page's own
  words, or by resemblance to the site's answer to a path that cannot exist:
  one probe per origin through the downloader, remembered in the state for
  ``SOFT404_PROBE_DAYS``). It then fills ``drift`` (against the first version
  seen, kept as a sketch in the state), ``first_failed_at``,
  ``failures_in_a_row`` and ``dead_confirmed``, and for dead or drifted
  sources ``archive`` from the Wayback CDX API (``ARCHIVE_*`` settings), with
  an archived preview when ``ARCHIVE_PREVIEW`` is on.

Probes, archive lookups and archived pages go through Scrapy's downloader
(robots.txt, throttling, retries with ``Retry-After``, the address guard);
they count as requests in the stats (``rot/…`` keys), never as records. A
failure in any of them leaves the record as classify made it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler.fetch.urls import strip_credentials
from crawler.incremental.extension import CONTENT_STATUSES, get_state, parse_time
from crawler.incremental.store import OriginProbe, RotState, StateStore
from crawler.items import SourceItem
from crawler.sources import SourceEntry
from crawler.stage import Stage
from crawler.timeutil import fetch_time, iso_z, utc_now
from pipelines.extract.job import ExtractJob, content_fields
from pipelines.extract.sniff import mime_type
from pipelines.extract_stage import ExtractPipeline
from pipelines.outcome import Outcome
from pipelines.rot import cdx
from pipelines.rot.deadness import Failures, dead_confirmed, next_failures
from pipelines.rot.drift import drift_of
from pipelines.rot.probe import (
    PageView,
    identified_document,
    origin_of,
    probe_url,
    resembles_probe,
)
from pipelines.rot.signals import (
    TITLE_THIN_TEXT_CHARS,
    MarkupSignals,
    host_of,
    is_landing_path,
    login_evidence,
    markup_signals,
    not_found_wording,
    parking_host,
    parking_wording,
)
from pipelines.rot.similarity import sketch

logger = logging.getLogger(__name__)

ARCHIVE_MODES = ("off", "dead", "always")
#: the entry fields that date a citation, in the order they are believed
CITATION_DATE_FIELDS = ("cited_at", "date", "fetched_at")
#: record fields an archived capture fills (the live response's own facts,
#: mime, body_bytes, content_sha256, stay those of the live page)
ARCHIVE_FIELDS = (
    "title",
    "published_date",
    "modified_date",
    "authors",
    "site_name",
    "language",
    "description",
    "preview",
    "preview_truncated",
    "content_length",
    "text",
)
_MARKUP_ATTR = "rot_markup_signals"
#: seconds a soft-404 probe may take at most (DOWNLOAD_TIMEOUT when shorter)
PROBE_TIMEOUT = 10.0


def _markup_table(crawler: Crawler) -> dict[int, MarkupSignals]:
    """Markup signals by item, from the markup stage to the rot stage."""
    table = getattr(crawler, _MARKUP_ATTR, None)
    if not isinstance(table, dict):
        table = {}
        setattr(crawler, _MARKUP_ATTR, table)
    return table


def _fetched_2xx(item: SourceItem) -> bool:
    return item.failure is None and item.http_status is not None and 200 <= item.http_status < 300


class RotMarkupPipeline(Stage):
    """Read parking and sign-in markers from a 2xx page's markup before extraction drops it."""

    def process(self, item: SourceItem) -> None:
        """Keep the markup signals of the item for :class:`RotPipeline`."""
        if item.body and _fetched_2xx(item):
            _markup_table(self.crawler)[id(item)] = markup_signals(item.body)


def _headers_of(response: Response) -> dict[str, str]:
    return {
        str(key).lower(): str(value) for key, value in response.headers.to_unicode_dict().items()
    }


def _citation_date(value: Any) -> datetime | None:
    """A citation date from an entry field (ISO date or timestamp, or a year)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int) and 1990 <= value <= 2100:
        return datetime(value, 1, 1, tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if len(text) == 4 and text.isdigit():
        return datetime(int(text), 1, 1, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RotPipeline(Stage):
    """Judge whether a fetched page is still the cited document; find its archived copy.

    Settings: ``SOFT404_PROBE_DAYS``, ``DEAD_AFTER_FAILURES``,
    ``DEAD_AFTER_DAYS``, ``ARCHIVE_LOOKUP`` (``off``, ``dead``, ``always``),
    ``ARCHIVE_CDX_URL``, ``ARCHIVE_REPLAY_URL``, ``ARCHIVE_PREVIEW``,
    ``ARCHIVE_CONCURRENCY``, ``ARCHIVE_LOOKUP_DAYS``.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = self.settings
        self.probe_for = timedelta(days=settings.getfloat("SOFT404_PROBE_DAYS"))
        self.probe_timeout = min(settings.getfloat("DOWNLOAD_TIMEOUT"), PROBE_TIMEOUT)
        self.dead_after_failures = settings.getint("DEAD_AFTER_FAILURES")
        self.dead_after_days = settings.getint("DEAD_AFTER_DAYS")
        mode = str(settings.get("ARCHIVE_LOOKUP")).strip().lower()
        if mode in ("false", "0", "no", "none"):
            mode = "off"
        if mode not in ARCHIVE_MODES:
            raise ValueError(f"ARCHIVE_LOOKUP must be one of {', '.join(ARCHIVE_MODES)}")
        self.archive_mode = mode
        self.cdx_url = str(settings.get("ARCHIVE_CDX_URL"))
        self.replay_url = str(settings.get("ARCHIVE_REPLAY_URL"))
        self.archive_preview = settings.getbool("ARCHIVE_PREVIEW")
        self.archive_concurrency = max(1, settings.getint("ARCHIVE_CONCURRENCY"))
        self.archive_for = timedelta(days=settings.getfloat("ARCHIVE_LOOKUP_DAYS"))
        # Probe paths must not be guessable by a site (it could then answer them
        # specially), so they come from the system's randomness.
        self._rng = random.SystemRandom()
        self._probes: dict[str, asyncio.Future[PageView | None]] = {}
        self._archive_slots: asyncio.Semaphore | None = None
        self._extract_stage: ExtractPipeline | None = None
        self._extract_looked_up = False

    # --- the item -------------------------------------------------------------

    async def process_item(self, item: Any) -> Any:
        """Judge the item; whatever fails here leaves the record as classify made it."""
        if not isinstance(item, SourceItem):
            return item
        signals = _markup_table(self.crawler).pop(id(item), None)
        record = item.record
        record.setdefault("drift", None)
        record.setdefault("first_failed_at", None)
        record.setdefault("failures_in_a_row", 0)
        record.setdefault("dead_confirmed", False)
        record.setdefault("archive", None)
        record.setdefault("preview_from_archive", False)
        try:
            await self._judge(item, signals)
        except Exception:
            logger.exception("Reference-rot checks failed on %s", record.get("url"))
            self.inc_stat("rot/internal_errors")
        return item

    def _store(self) -> StateStore | None:
        state = get_state(self.crawler)
        return state.store if state is not None else None

    async def _judge(self, item: SourceItem, signals: MarkupSignals | None) -> None:
        record = item.record
        url = item.entry.url
        store = self._store()
        previous = store.get_rot(url) if store is not None and url else None
        state = get_state(self.crawler)
        carried = bool(url) and (
            (url in state.skipped if state is not None else False)
            or (item.failure is None and item.http_status == 304)
        )
        if carried:
            # The incremental stage carries the previous record (its drift and
            # archive included): the content was confirmed, so no failure.
            if store is not None and url and previous is not None:
                previous.first_failed_at, previous.failures_in_a_row = None, 0
                store.put_rot(previous)
            return
        if record.get("status") == "ok" and _fetched_2xx(item):
            verdict = await self._verdict(item, signals)
            if verdict is not None:
                record.update(
                    status=verdict.status, error=verdict.error, error_detail=verdict.detail
                )
                self.inc_stat(f"rot/verdict/{verdict.error}")
        status = str(record.get("status"))
        now = iso_z(item.fetched_at)
        baseline = previous.baseline_sketch if previous else None
        baseline_at = previous.baseline_at if previous else None
        drifted = False
        if status in CONTENT_STATUSES and _fetched_2xx(item):
            current = sketch(record.get("preview"))
            title = item.entry.fields.get("title")
            drift = drift_of(
                entry_title=title if isinstance(title, str) else None,
                page_title=record.get("title"),
                current=current,
                baseline=baseline,
                baseline_at=baseline_at or now,
            )
            if baseline is None and current is not None and status == "ok":
                baseline, baseline_at = current, now
            if drift is not None:
                record["drift"] = drift.as_record()
                drifted = bool(drift.drifted)
                if drifted:
                    self.inc_stat("rot/drifted")
        failures = next_failures(
            Failures(previous.first_failed_at, previous.failures_in_a_row)
            if previous
            else Failures(None, 0),
            status,
            record.get("error"),
            now,
        )
        record["first_failed_at"] = failures.first_failed_at
        record["failures_in_a_row"] = failures.failures_in_a_row
        record["dead_confirmed"] = dead_confirmed(
            failures,
            status,
            now,
            after_failures=self.dead_after_failures,
            after_days=self.dead_after_days,
        )
        archive = previous.archive if previous else None
        archive_checked_at = previous.archive_checked_at if previous else None
        wanted = self.archive_mode == "always" or (
            self.archive_mode == "dead" and (status == "dead" or drifted)
        )
        if wanted and url:
            archive, archive_checked_at = await self._archive(
                item, archive, archive_checked_at, baseline_at
            )
            record["archive"] = archive
            if archive is not None and status == "dead" and self.archive_preview:
                await self._archive_preview(item, archive)
        if store is not None and url:
            store.put_rot(
                RotState(
                    url=url,
                    first_failed_at=failures.first_failed_at,
                    failures_in_a_row=failures.failures_in_a_row,
                    baseline_sketch=baseline,
                    baseline_at=baseline_at,
                    archive=archive,
                    archive_checked_at=archive_checked_at,
                )
            )

    # --- the verdict ------------------------------------------------------------

    async def _verdict(self, item: SourceItem, signals: MarkupSignals | None) -> Outcome | None:
        """The rot a 2xx page shows, first the surest: parked, sign-in, home, not-found."""
        record = item.record
        requested = item.request_url or item.entry.url or ""
        final = item.final_url or requested
        shown_final = record.get("final_url") or strip_credentials(final)
        redirected = final.split("#", 1)[0] != requested.split("#", 1)[0]
        title = record.get("title")
        text = record.get("preview")
        length = record.get("content_length")
        chars = length if isinstance(length, int) else len(text or "")
        # Parked or for sale: a parking service's host, markup or wording.
        host = parking_host([final]) if host_of(final) != host_of(requested) else None
        if host is not None:
            return Outcome(
                "dead", "parked_domain", f"redirected to {host}, a domain-parking service"
            )
        marker = signals.parking_marker if signals else None
        phrase = parking_wording(title, text) or (signals.parking_phrase if signals else None)
        if marker and (phrase or chars < TITLE_THIN_TEXT_CHARS):
            return Outcome("dead", "parked_domain", f"the page loads a parking service ({marker})")
        if phrase and chars < TITLE_THIN_TEXT_CHARS:
            return Outcome("dead", "parked_domain", f"the page says {phrase!r}")
        source_is_landing = is_landing_path(requested)
        if redirected:
            # A sign-in page, unless the source itself is one.
            evidence = login_evidence(final, title, bool(signals and signals.password_form), chars)
            if evidence and not login_evidence(requested, None, False, chars):
                return Outcome("paywall", "login_wall", evidence)
            if not source_is_landing and is_landing_path(final):
                return Outcome("dead", "redirected_home", f"a deep URL now lands on {shown_final}")
        if record.get("content_type") not in ("html", "text"):
            return None
        wording = not_found_wording(title, text, chars)
        if wording:
            return Outcome("dead", "soft_404", f"a not-found page: {wording}")
        entry_title = item.entry.fields.get("title")
        if source_is_landing or identified_document(
            published_date=record.get("published_date"),
            authors=record.get("authors"),
            entry_title=entry_title if isinstance(entry_title, str) else None,
            page_title=title,
        ):
            return None
        origin = origin_of(requested)
        if origin is None:
            return None
        probe = await self._probe(origin, requested, item.entry)
        if probe is None:
            return None
        source = PageView(requested, final, item.http_status, title, text)
        evidence = resembles_probe(source, probe)
        if evidence:
            return Outcome("dead", "soft_404", f"the site's not-found page: {evidence}")
        return None

    # --- soft-404 probes ------------------------------------------------------

    async def _probe(self, origin: str, source_url: str, entry: SourceEntry) -> PageView | None:
        """The origin's answer to a path that cannot exist: one per origin and run, shared."""
        future = self._probes.get(origin)
        if future is None:
            future = asyncio.ensure_future(self._probe_once(origin, source_url, entry))
            self._probes[origin] = future
        return await asyncio.shield(future)

    async def _probe_once(
        self, origin: str, source_url: str, entry: SourceEntry
    ) -> PageView | None:
        store = self._store()
        remembered = store.get_origin(origin) if store is not None else None
        if remembered is not None:
            probed_at = parse_time(remembered.probed_at)
            view = PageView.from_json(remembered.probe)
            if (
                view is not None
                and probed_at is not None
                and utc_now() - probed_at < self.probe_for
            ):
                assert store is not None
                store.put_origin(remembered)  # still valid: carried into the new state
                self.inc_stat("rot/probes_remembered")
                return view
        target = probe_url(source_url, self._rng)
        if target is None:
            return None
        self.inc_stat("rot/probes")
        try:
            # One try, and not long: a site's not-found answer is quick, and every
            # source of the origin waits for it.
            meta = {"rot": "probe", "dont_retry": True, "download_timeout": self.probe_timeout}
            response = await self._download(Request(target, meta=meta))
        except Exception as exc:
            # Robots, the guard, a timeout: no probe, no soft-404 by resemblance.
            logger.info("Soft-404 probe %s failed: %s", target, exc)
            self.inc_stat("rot/probe_failures")
            return None
        title = text = None
        if 200 <= response.status < 300 and response.body:
            fields = await self._extract(entry, target, response)
            title, text = fields.get("title"), fields.get("preview")
        view = PageView(target, response.url, response.status, title, text)
        if store is not None:
            store.put_origin(OriginProbe(origin, iso_z(utc_now()), view.as_json()))
        return view

    # --- the archive ------------------------------------------------------------

    def _closest(self, entry: SourceEntry, baseline_at: str | None) -> datetime:
        for name in CITATION_DATE_FIELDS:
            moment = _citation_date(entry.fields.get(name))
            if moment is not None:
                return moment
        return parse_time(baseline_at) or utc_now()

    async def _archive(
        self,
        item: SourceItem,
        remembered: dict[str, Any] | None,
        checked_at: str | None,
        baseline_at: str | None,
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The closest capture (as the record's ``archive``) and when it was looked up."""
        checked = parse_time(checked_at)
        if checked is not None and utc_now() - checked < self.archive_for:
            self.inc_stat("rot/archive/remembered")
            return remembered, checked_at
        url = strip_credentials(item.entry.url or "")
        closest = cdx.to_timestamp(self._closest(item.entry, baseline_at))
        query = cdx.query_url(self.cdx_url, url, closest)
        self.inc_stat("rot/archive/lookups")
        try:
            async with self._slots():
                response = await self._download(Request(query, meta={"rot": "archive"}))
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            capture = cdx.parse_answer(response.body, closest)
        except Exception as exc:
            # Not remembered: the next run asks again. The record goes on without.
            logger.info("Archive lookup for %s failed: %s", url, exc)
            self.inc_stat("rot/archive/failed")
            return None, None
        now = iso_z(utc_now())
        if capture is None:
            self.inc_stat("rot/archive/none")
            return None, now
        self.inc_stat("rot/archive/found")
        archive = {
            "url": cdx.replay_url(self.replay_url, capture.timestamp, url),
            "captured_at": capture.captured_at,
            "source": "wayback",
        }
        return archive, now

    async def _archive_preview(self, item: SourceItem, archive: dict[str, Any]) -> None:
        """Fill the preview and metadata from the capture's original bytes (``ARCHIVE_PREVIEW``)."""
        url = strip_credentials(item.entry.url or "")
        prefix = self.replay_url
        page = str(archive.get("url", ""))
        timestamp = page[len(prefix) :].split("/", 1)[0] if page.startswith(prefix) else ""
        if not timestamp.isdigit():
            return
        target = cdx.original_bytes_url(self.replay_url, timestamp, url)
        try:
            async with self._slots():
                response = await self._download(Request(target, meta={"rot": "archive"}))
        except Exception as exc:
            logger.info("Archived copy %s could not be fetched: %s", target, exc)
            self.inc_stat("rot/archive/preview_failed")
            return
        if not 200 <= response.status < 300 or not response.body:
            self.inc_stat("rot/archive/preview_failed")
            return
        fields = await self._extract(item.entry, target, response)
        if not fields.get("preview") and not fields.get("title"):
            return
        for name in ARCHIVE_FIELDS:
            if name in fields:
                item.record[name] = fields[name]
        item.record["preview_from_archive"] = True
        self.inc_stat("rot/archive/previews")

    def _slots(self) -> asyncio.Semaphore:
        if self._archive_slots is None:
            self._archive_slots = asyncio.Semaphore(self.archive_concurrency)
        return self._archive_slots

    # --- the crawl's machinery -----------------------------------------------

    async def _download(self, request: Request) -> Response:
        engine = self.crawler.engine
        if engine is None:
            raise RuntimeError("the engine is not running")
        # The scheduler's host-aware queue (crawler/fetch/hosts.py) gives a request that
        # bypasses it a turn: sent at once, it would hold a downloader place while it
        # waits in its host's slot for the host's delay or concurrency.
        turn = getattr(getattr(self.crawler, "host_queue", None), "turn", None)
        if turn is not None:
            await turn(request, self.probe_timeout)
        return await engine.download_async(request)

    def _find_extract_stage(self) -> ExtractPipeline | None:
        if not self._extract_looked_up:
            self._extract_looked_up = True
            engine = self.crawler.engine
            scraper = getattr(engine, "scraper", None)
            itemproc = getattr(scraper, "itemproc", None)
            for stage in getattr(itemproc, "middlewares", ()):
                if isinstance(stage, ExtractPipeline):
                    self._extract_stage = stage
        return self._extract_stage

    async def _extract(self, entry: SourceEntry, url: str, response: Response) -> dict[str, Any]:
        """Extract a probe or archived page the way the crawl extracts every page."""
        page = SourceItem(
            entry=entry,
            fetched_at=fetch_time(),
            request_url=url,
            final_url=response.url,
            http_status=response.status,
            headers=_headers_of(response),
            body=response.body,
        )
        stage = self._find_extract_stage()
        if stage is not None:
            await stage.process_item(page)
            return page.record
        job = ExtractJob(
            body=response.body,
            headers=page.headers,
            url=response.url,
            mime=mime_type(page.headers),
            fetched_at=page.fetched_at,
            preview_chars=self.settings.getint("PREVIEW_CHARS"),
            full_text=False,
            max_html_bytes=self.settings.getint("EXTRACT_MAX_HTML_BYTES"),
        )
        return dict(content_fields(job).fields)
