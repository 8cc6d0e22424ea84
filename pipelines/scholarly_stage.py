"""Papers and videos: identifiers, registry metadata, arXiv full text and YouTube transcripts.

Two stages around extraction:

* :class:`MediaPipeline` (before extraction) fetches what a paper's or a
  video's text really is. For an arXiv ``/abs/`` or ``/pdf/`` source (on
  ``ARXIV_HOSTS``) the body becomes the paper's HTML rendering
  (``ARXIV_HTML_URL`` + id, then ``ARXIV_HTML_FALLBACK_URL`` for papers of
  arxiv.org itself) when it has one, else, for ``/abs/``, its PDF (``/pdf/<id>``
  on the source's host): extraction reads the paper, not its abstract page,
  and the record's ``content_type``, ``mime`` and ``body_bytes`` describe what
  was read. For a YouTube watch page (on ``YOUTUBE_HOSTS``) the video's title,
  channel (as author), upload date and description come from the page's
  player data, and its caption track (original language, else English) is
  the main text; without captions the description is. Such a page is not
  handed to extraction at all.
* :class:`ScholarlyPipeline` (after enrich) completes ``identifiers`` with the
  URL's, looks the work up by identifier (``SCHOLARLY_LOOKUP``: the arXiv API
  for arXiv ids, batched; Crossref for DOIs), applies the answer by the
  precedence below and says where each field came from in ``metadata_source``.

Precedence: a registry answer describes the source when the source's URL or
the page's own metadata (``citation_doi``, ``dc.identifier``, JSON-LD, a PDF's
Info) carries the identifier, when the page has no title (or a placeholder),
when the body is a PDF (whose title and authors are layout guesses), when the
page's title is the site's name, or when the page's title and the registry's
match loosely (one contains the other, or most of their words agree). Then the
registry's title, its authors (when it lists any), its date (when a full one)
and its venue (when no publications-list venue matched) replace the page's.
Otherwise the page is about something else that names the work (a blog post
citing one paper) and keeps all its own fields.

Every download goes through Scrapy's downloader (``engine.download_async``):
the address guard, retries with Retry-After, ``DOWNLOAD_MAXSIZE``-style
bounds (``SCHOLARLY_MAX_BYTES``) and the ``DOWNLOAD_SLOTS`` throttles apply;
robots.txt too, except for the registries' APIs (meant for programs) and
caption tracks (a resource the watch page's player loads, like a script).
Answers, "no such work" included, are kept in the state (``lookups`` table)
for ``SCHOLARLY_LOOKUP_DAYS``; failed look-ups are not kept. A failed
download or an unreadable answer never fails a record: it keeps what it had.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler.incremental.extension import get_state, parse_time
from crawler.items import SourceItem
from crawler.stage import Stage
from crawler.timeutil import iso_z, utc_now
from pipelines.extract.identifiers import Identifiers, arxiv_from_url, arxiv_of_doi, from_url
from pipelines.extract.preview import make_preview
from pipelines.extract.scholarly import (
    WorkMetadata,
    bare_arxiv,
    parse_arxiv_feed,
    parse_crossref_work,
)
from pipelines.extract.youtube import (
    choose_track,
    find_player_response,
    parse_captions,
    parse_video,
    video_id,
)

logger = logging.getLogger(__name__)

#: record key carrying a video's fields from MediaPipeline to ScholarlyPipeline (never exported)
VIDEO_KEY = "_scholarly_video"
ARXIV_SLOT = "scholarly-arxiv-api"
CROSSREF_SLOT = "scholarly-crossref-api"
#: ids per arXiv API request: the API's default page size, so no max_results is needed
ARXIV_BATCH = 10
_FIELDS = ("title", "authors", "published_date")
_WORD = re.compile(r"\w+")
_EMAIL = re.compile(r"^[^@\s/:]+@[^@\s/]+\.[^@\s/]+$")
_PLACEHOLDER = re.compile(
    r"^(?:untitled|no title|microsoft (?:word|powerpoint)\b|document\d*$|slide \d+$"
    r"|.*\.(?:docx?|pdf|tex|pptx?)$|(?:home|index|abstract|pdf|title)$)",
    re.IGNORECASE,
)


def mailto_of(contact: str | None) -> str | None:
    """The e-mail address of ``CONTACT_URL`` when it is one (``mailto:`` or bare); else None."""
    if not contact:
        return None
    text = contact.strip()
    if text.lower().startswith("mailto:"):
        text = text[7:].split("?", 1)[0]
    return text if _EMAIL.match(text) else None


def _words(value: str) -> list[str]:
    return _WORD.findall(value.casefold())


def titles_match(page: str, registry: str) -> bool:
    """Whether a page's title and a registry's name one work (loosely: containment or overlap)."""
    a, b = " ".join(_words(page)), " ".join(_words(registry))
    if not a or not b:
        return False
    if a in b or b in a:
        return True
    wa, wb = set(a.split()), set(b.split())
    return len(wa & wb) / max(1, min(len(wa), len(wb))) >= 0.7


def _text_fields(text: str | None, preview_chars: int, full_text: bool) -> dict[str, Any]:
    preview, truncated = make_preview(text, preview_chars)
    fields: dict[str, Any] = {
        "preview": preview,
        "preview_truncated": truncated,
        "content_length": len(text) if text is not None else None,
        "content_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None,
    }
    if full_text:
        fields["text"] = text
    return fields


class _Fetcher:
    """Downloads through the crawl's own downloader; None on any failure."""

    def __init__(self, crawler: Crawler, max_bytes: int) -> None:
        self.crawler = crawler
        self.max_bytes = max_bytes

    async def get(
        self, url: str, *, slot: str | None = None, api: bool = False, resource: bool = False
    ) -> Response | None:
        """Download ``url``; None when it failed (logged, counted).

        ``api``: a registry's API (JSON or Atom wanted, robots.txt not asked);
        ``resource``: a part of a page already fetched under robots.txt (a
        video's caption track, which its player loads like a script).
        """
        meta: dict[str, Any] = {"download_maxsize": self.max_bytes}
        if slot is not None:
            # the slot's fixed delay (DOWNLOAD_SLOTS) is the API's own rule
            meta["download_slot"] = slot
            meta["autothrottle_dont_adjust_delay"] = True
        if api or resource:
            meta["dont_obey_robotstxt"] = True  # an API is meant for programs
        headers = (
            {"Accept": "application/json, application/atom+xml;q=0.9, */*;q=0.5"} if api else {}
        )
        engine = self.crawler.engine
        assert engine is not None and self.crawler.stats is not None
        try:
            request = Request(url, headers=headers, meta=meta, dont_filter=True)
            return await engine.download_async(request)
        except Exception as exc:
            logger.info("Could not fetch %s: %s", url, exc)
            self.crawler.stats.inc_value("scholarly/download_failed")
            return None


def _ok(response: Response | None) -> bool:
    return response is not None and response.status == 200 and bool(response.body)


def _content_type(response: Response) -> str:
    raw = response.headers.get(b"Content-Type") or b""
    return raw.decode("latin-1").split(";", 1)[0].strip().lower()


class MediaPipeline(Stage):
    """Before extraction: an arXiv paper's rendering or PDF as its body; a video's transcript.

    Settings: ``ARXIV_HOSTS``, ``ARXIV_HTML_URL``, ``ARXIV_HTML_FALLBACK_URL``,
    ``YOUTUBE_HOSTS``, ``SCHOLARLY_MAX_BYTES``, ``PREVIEW_CHARS``, ``FULL_TEXT``.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = self.settings
        self.arxiv_hosts = tuple(settings.getlist("ARXIV_HOSTS"))
        self.youtube_hosts = tuple(settings.getlist("YOUTUBE_HOSTS"))
        self.html_base = str(settings.get("ARXIV_HTML_URL") or "")
        self.html_fallback = str(settings.get("ARXIV_HTML_FALLBACK_URL") or "")
        self.max_bytes = settings.getint("SCHOLARLY_MAX_BYTES")
        self.preview_chars = settings.getint("PREVIEW_CHARS")
        self.full_text = settings.getbool("FULL_TEXT")
        self.fetcher = _Fetcher(crawler, self.max_bytes)

    async def process_item(self, item: Any) -> Any:
        """Swap or complete the body of papers and videos; never fails the item."""
        if not isinstance(item, SourceItem):
            return item
        try:
            await self._process(item)
        except Exception:
            # An enrichment that breaks leaves the record as extraction makes it.
            logger.exception("MediaPipeline failed on %s", item.entry.url)
            self.inc_stat("scholarly/internal_errors/MediaPipeline")
        return item

    async def _process(self, item: SourceItem) -> None:
        status = item.http_status
        if item.body is None or status is None or not 200 <= status < 300:
            return
        urls = [u for u in (item.final_url, item.entry.url) if u]
        if any(video_id(u, self.youtube_hosts) for u in urls):
            await self._video(item, urls[0])
            return
        for url in urls:
            found = arxiv_from_url(url, self.arxiv_hosts)
            if found is not None:
                if found[0] in ("abs", "pdf"):
                    await self._arxiv_text(item, url, *found)
                return

    async def _arxiv_text(self, item: SourceItem, url: str, kind: str, arxiv: str) -> None:
        host = (urlsplit(url).hostname or "").lower()
        bases = [self.html_base]
        # ar5iv renders arxiv.org's papers: a mirror's (or a test server's) are not there
        if host == "arxiv.org" or host.endswith((".arxiv.org", "ar5iv.org")):
            bases.append(self.html_fallback)
        for base in filter(None, bases):
            target = base.rstrip("/") + "/" + quote(arxiv, safe="/")
            response = await self.fetcher.get(target)
            # A redirect away from the rendering (to the abstract page) means there is none.
            if (
                response is not None
                and _ok(response)
                and _content_type(response) in ("text/html", "application/xhtml+xml")
                and response.url.startswith(base.rstrip("/"))
            ):
                self._swap(item, response)
                self.inc_stat("scholarly/arxiv/html_rendering")
                return
        if kind == "abs":
            parts = urlsplit(url)
            response = await self.fetcher.get(f"{parts.scheme}://{parts.netloc}/pdf/{arxiv}")
            if response is not None and _ok(response) and response.body.startswith(b"%PDF"):
                self._swap(item, response)
                self.inc_stat("scholarly/arxiv/pdf")
                return
        self.inc_stat("scholarly/arxiv/no_full_text")

    @staticmethod
    def _swap(item: SourceItem, response: Response) -> None:
        """Extraction reads ``response`` instead of the page the source named."""
        item.body = response.body
        kind = response.headers.get(b"Content-Type")
        item.headers = {
            **item.headers,
            "content-type": kind.decode("latin-1") if kind else "application/octet-stream",
        }
        item.headers.pop("content-language", None)

    async def _video(self, item: SourceItem, url: str) -> None:
        body = item.body or b""
        player = find_player_response(body.decode("utf-8", "replace"))
        if player is None:
            self.inc_stat("scholarly/youtube/no_player_data")
            return  # extraction treats it as any page
        video = parse_video(player)
        track = choose_track(video.tracks)
        text = None
        language = None
        if track is not None:
            response = await self.fetcher.get(urljoin(url, track.url), resource=True)
            if response is not None and _ok(response):
                text = parse_captions(response.body)
            if text:
                language = (track.language or "").split("-", 1)[0] or None
        self.inc_stat(f"scholarly/youtube/{'captions' if text else 'no_captions'}")
        if not text and video.description:
            text = "\n\n".join(
                p.strip() for p in re.split(r"\n\s*\n", video.description) if p.strip()
            )
        content_type = item.headers.get("content-type", "text/html")
        item.record[VIDEO_KEY] = {
            "content_type": "html",
            "mime": content_type.split(";", 1)[0].strip().lower() or None,
            "title": video.title,
            "published_date": video.published_date,
            "modified_date": None,
            "authors": [video.channel] if video.channel else [],
            "site_name": "YouTube",
            "language": language,
            "description": video.description,
            "body_bytes": len(body),
            **_text_fields(text or None, self.preview_chars, self.full_text),
        }
        # Extraction of the watch page would only be overwritten: skip it.
        item.body = None


class ScholarlyPipeline(Stage):
    """After enrich: ``identifiers``, registry metadata by identifier, and ``metadata_source``.

    Settings: ``SCHOLARLY_LOOKUP``, ``SCHOLARLY_LOOKUP_DAYS``, ``ARXIV_API_URL``,
    ``CROSSREF_API_URL``, ``CONTACT_URL`` (its e-mail address, when it is one,
    goes to Crossref as ``mailto``), ``ARXIV_HOSTS``, ``SCHOLARLY_MAX_BYTES``.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = self.settings
        self.lookup = settings.getbool("SCHOLARLY_LOOKUP")
        self.keep_for = timedelta(days=settings.getfloat("SCHOLARLY_LOOKUP_DAYS"))
        self.arxiv_api = str(settings.get("ARXIV_API_URL") or "")
        self.crossref_api = str(settings.get("CROSSREF_API_URL") or "")
        self.mailto = mailto_of(settings.get("CONTACT_URL"))
        self.arxiv_hosts = tuple(settings.getlist("ARXIV_HOSTS"))
        self.fetcher = _Fetcher(crawler, settings.getint("SCHOLARLY_MAX_BYTES"))
        self.arxiv_queue = ArxivQueue(self._ask_arxiv)
        #: look-ups under way, so that sources naming one work wait for one answer
        self.pending: dict[str, asyncio.Future[WorkMetadata | None]] = {}
        #: this run's answers by lookup key (None: no such work)
        self.answers: dict[str, WorkMetadata | None] = {}

    async def process_item(self, item: Any) -> Any:
        """Fill ``identifiers`` and ``metadata_source``; a failed lookup changes nothing else."""
        if not isinstance(item, SourceItem):
            return item
        video = item.record.pop(VIDEO_KEY, None)
        try:
            await self._process(item, video)
        except Exception:
            logger.exception("ScholarlyPipeline failed on %s", item.entry.url)
            self.inc_stat("scholarly/internal_errors/ScholarlyPipeline")
        return item

    async def _process(self, item: SourceItem, video: dict[str, Any] | None) -> None:
        record = item.record
        if video is not None and record.get("status") == "ok":
            record.update(video)
        from_urls = from_url(item.entry.url, self.arxiv_hosts).merge(
            from_url(item.final_url, self.arxiv_hosts)
        )
        ids = from_urls.as_stated().merge(Identifiers.from_dict(record.get("identifiers")))
        if ids.arxiv is None and ids.doi and arxiv_of_doi(ids.doi):
            stated = ids.stated + (("arxiv",) if "doi" in ids.stated else ())
            ids = replace(ids, arxiv=arxiv_of_doi(ids.doi), stated=tuple(sorted(stated)))
        origin = (
            "youtube"
            if video is not None
            else "pdf"
            if record.get("content_type") == "pdf"
            else "page"
        )
        sources: dict[str, str | None] = {
            name: origin if record.get(name) else None for name in _FIELDS
        }
        sources["publication"] = "page" if record.get("publication") else None
        status = item.http_status
        if (
            self.lookup
            and video is None
            and (ids.doi or ids.arxiv)
            and record.get("status") in ("ok", "paywall")
            and status is not None
            and 200 <= status < 300
        ):
            work = await self._work(ids, from_urls)
            if work is not None:
                own = ids.stated
                ids = ids.merge(Identifiers(doi=work.doi, arxiv=work.arxiv))
                if self._describes(record, work, own):
                    self._apply(record, work, sources)
                else:
                    self.inc_stat("scholarly/lookup/not_applied")
        record["identifiers"] = ids.as_dict()
        record["metadata_source"] = sources

    # --- precedence -------------------------------------------------------------

    @staticmethod
    def _describes(record: dict[str, Any], work: WorkMetadata, own: tuple[str, ...]) -> bool:
        """Whether the registry's work is the source itself (see the module docstring).

        ``own``: the identifier kinds the source's URL or its own metadata states.
        """
        if ("arxiv" if work.origin == "arxiv" else "doi") in own:
            return True
        title = record.get("title")
        if not isinstance(title, str) or not title.strip() or _PLACEHOLDER.match(title.strip()):
            return True
        if record.get("content_type") == "pdf":
            return True
        site = record.get("site_name")
        if isinstance(site, str) and _words(site) == _words(title):
            return True
        return bool(work.title) and titles_match(title, work.title or "")

    def _apply(self, record: dict[str, Any], work: WorkMetadata, sources: dict[str, Any]) -> None:
        if work.title:
            record["title"] = work.title
            sources["title"] = work.origin
        if work.authors:
            record["authors"] = list(work.authors)
            sources["authors"] = work.origin
        if work.published_date:
            record["published_date"] = work.published_date
            sources["published_date"] = work.origin
        if record.get("publication") is None and work.venue:
            slug = "-".join(_words(work.venue))[:80] or "venue"
            record["publication"] = {
                "id": work.venue_id or f"venue:{slug}",
                "name": work.venue,
                "credibility": None,
            }
            sources["publication"] = work.origin
        self.inc_stat(f"scholarly/lookup/applied/{work.origin}")

    # --- look-ups ---------------------------------------------------------------

    async def _work(self, ids: Identifiers, from_urls: Identifiers) -> WorkMetadata | None:
        """The registry answer for the source's identifiers, the one naming the source first.

        An arXiv URL, or an arXiv id the page's own metadata states (arXiv's
        abstract pages also state the journal DOI), names the preprint; a DOI
        in the URL, or one beside an arXiv id only mentioned, names the
        published version. arXiv's own DOIs (10.48550/arXiv.…) are DataCite's,
        not Crossref's: their papers are asked from arXiv.
        """
        order: list[tuple[str, str]] = []
        if ids.arxiv and self.arxiv_api:
            order.append(("arxiv", ids.arxiv))
        if ids.doi and self.crossref_api and arxiv_of_doi(ids.doi) is None:
            order.append(("crossref", ids.doi))
        if from_urls.arxiv:
            arxiv_first = True
        elif from_urls.doi:
            arxiv_first = arxiv_of_doi(from_urls.doi) is not None
        else:
            arxiv_first = "arxiv" in ids.stated
        if not arxiv_first:
            order.sort(key=lambda entry: entry[0] != "crossref")
        for registry, identifier in order:
            work = await self._answer(registry, identifier)
            if work is not None:
                return work
        return None

    async def _answer(self, registry: str, identifier: str) -> WorkMetadata | None:
        key = f"{registry}:{identifier}"
        if key in self.answers:
            return self.answers[key]
        if key in self.pending:
            return await asyncio.shield(self.pending[key])
        future: asyncio.Future[WorkMetadata | None] = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        work = None
        try:
            work = await self._look_up(registry, identifier, key)
        finally:
            del self.pending[key]
            future.set_result(work)
        return work

    async def _look_up(self, registry: str, identifier: str, key: str) -> WorkMetadata | None:
        stats = self.crawler.stats
        assert stats is not None
        state = get_state(self.crawler)
        store = state.store if state is not None else None
        if store is not None and self.keep_for > timedelta(0):
            kept = store.get_lookup(key)
            if kept is not None:
                fetched = parse_time(kept[0])
                if fetched is not None and utc_now() - fetched < self.keep_for:
                    work = WorkMetadata.from_json(kept[1])
                    store.put_lookup(key, kept[0], kept[1])  # carried into the next state
                    self.answers[key] = work
                    stats.inc_value(f"scholarly/lookup/{registry}/from_state")
                    return work
        found, known = await self._ask(registry, identifier)
        if not known:
            stats.inc_value(f"scholarly/lookup/{registry}/failed")
            return None  # not kept: the next source (or run) asks again
        stats.inc_value(f"scholarly/lookup/{registry}/{'found' if found else 'not_found'}")
        self.answers[key] = found
        if store is not None:
            store.put_lookup(key, iso_z(utc_now()), found.to_json() if found else None)
        return found

    async def _ask(self, registry: str, identifier: str) -> tuple[WorkMetadata | None, bool]:
        """Ask a registry: ``(work, known)``; ``known`` false when there was no usable answer."""
        if registry == "arxiv":
            return await self.arxiv_queue.lookup(identifier)
        url = f"{self.crossref_api.rstrip('/')}/works/{quote(identifier, safe='/')}"
        if self.mailto:
            url += f"?mailto={quote(self.mailto, safe='@')}"
        response = await self.fetcher.get(url, slot=CROSSREF_SLOT, api=True)
        if response is None:
            return None, False
        if response.status == 404:
            return None, True
        if response.status != 200:
            return None, False
        work = parse_crossref_work(response.body)
        return work, work is not None

    async def _ask_arxiv(self, identifiers: list[str]) -> dict[str, WorkMetadata] | None:
        """One arXiv API request for up to :data:`ARXIV_BATCH` ids; None when it failed."""
        joiner = "&" if "?" in self.arxiv_api else "?"
        listed = ",".join(quote(i, safe="/") for i in identifiers)
        response = await self.fetcher.get(
            f"{self.arxiv_api}{joiner}id_list={listed}", slot=ARXIV_SLOT, api=True
        )
        if response is None or response.status != 200:
            return None
        return parse_arxiv_feed(response.body)


Outcome = tuple[WorkMetadata | None, bool]


class ArxivQueue:
    """arXiv API look-ups, batched: ids that wait while a request is out go together in the next.

    arXiv asks for one request every three seconds (the ``DOWNLOAD_SLOTS``
    delay); asking for up to :data:`ARXIV_BATCH` papers at once keeps a night
    with many new arXiv sources from waiting on that pace. A batch answer
    that lacks a paper is asked again for that paper alone (a server may
    answer only single ids), and a version the API does not list is asked
    without it.
    """

    def __init__(self, ask: Callable[[list[str]], Awaitable[dict[str, WorkMetadata] | None]]):
        self._ask = ask
        self._waiting: dict[str, list[asyncio.Future[Outcome]]] = {}
        self._runner: asyncio.Task[None] | None = None

    async def lookup(self, identifier: str) -> Outcome:
        """``(work, known)`` for one arXiv id (``known``: the API answered)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.setdefault(identifier, []).append(future)
        if self._runner is None or self._runner.done():
            self._runner = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            batch = list(self._waiting)[:ARXIV_BATCH]
            futures = {identifier: self._waiting.pop(identifier) for identifier in batch}
            results: dict[str, Outcome] = {}
            try:
                results = await self._resolve(batch)
            except Exception:
                logger.exception("arXiv look-up failed for %s", ", ".join(batch))
            finally:
                # every waiter gets an answer, whatever happened: none may hang
                for identifier, waiting in futures.items():
                    outcome = results.get(identifier, (None, False))
                    for future in waiting:
                        if not future.done():
                            future.set_result(outcome)

    async def _resolve(self, batch: list[str]) -> dict[str, Outcome]:
        if len(batch) == 1:
            return {batch[0]: await self._single(batch[0])}
        papers = await self._ask(batch) or {}
        results: dict[str, Outcome] = {}
        for identifier in batch:
            work = papers.get(bare_arxiv(identifier))
            results[identifier] = (work, True) if work else await self._single(identifier)
        return results

    async def _single(self, identifier: str) -> Outcome:
        papers = await self._ask([identifier])
        if papers is None:
            return None, False
        work = papers.get(bare_arxiv(identifier))
        if work is None and bare_arxiv(identifier) != identifier:
            return await self._single(bare_arxiv(identifier))
        # a feed without the paper is arXiv's "no such paper"
        return work, True
