"""The project's own settings, declared once: name, type, default and meaning.

:class:`ProjectSettings` is the one place a project setting's default lives.
``crawler/settings.py`` (the Scrapy settings module) takes its values from
here, ``sources-crawl --help`` and the README's settings table are generated
from here (``python -m crawler.options``), and the crawl command validates
every value against it before anything starts, so that ``-s PREVIEW_CHARS=abc``
is one line and exit 2 instead of a traceback mid-crawl.

Scrapy's own settings (``CONCURRENT_REQUESTS``, ``DOWNLOAD_TIMEOUT``, …) keep
Scrapy's declarations; the project's values for them are in
``crawler/settings.py``, and a value given on the command line is checked
against the type of Scrapy's default (:func:`check_scrapy_types`).
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo


class SettingsError(ValueError):
    """A setting or argument the user gave is wrong: one line, exit code 2."""


def _blank_is_none(value: Any) -> Any:
    """``-s NAME=`` (an empty value) means "unset" for optional settings."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _networks(value: Any) -> list[str]:
    """CIDR networks from a list or a comma-separated string, normalised."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    networks = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise ValueError(f"expected CIDR networks such as 10.20.0.0/16, got {text!r}") from None
    return networks


def _output_uri(value: Any) -> Any:
    """A local path or ``s3://bucket/key`` ending in ``.jsonl`` or ``.jsonl.gz``, or ``-``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a local path or s3://bucket/key")
    if value in ("-", "stdout:"):  # -O - streams the records to standard output
        return value
    if "://" in value and not value.startswith(("s3://", "file://")):
        raise ValueError("expected a local path, file:// or s3://bucket/key")
    if value.startswith("s3://") and "/" not in value.removeprefix("s3://").strip("/"):
        raise ValueError("expected s3://bucket/key, with a key")
    name = value.rstrip("/").rsplit("/", 1)[-1]
    if "." in name.lstrip(".") and not value.endswith((".jsonl", ".jsonl.gz")):
        # another format's name (out.csv, night.json): the records, manifest,
        # pointer and reader are JSON Lines contracts. A name without any
        # extension is checked as a path before the start (an existing folder).
        raise ValueError(
            "expected a name ending in .jsonl or .jsonl.gz (the records are JSON Lines)"
        )
    return value


def _optional_uri(value: Any) -> Any:
    """None, a local path or an ``s3://bucket/key`` URI."""
    value = _blank_is_none(value)
    if value is None:
        return None
    text = str(value)
    if "://" in text and not text.startswith(("s3://", "file://")):
        raise ValueError("expected a local path or s3://bucket/key")
    return text


def _hosts(value: Any) -> list[str]:
    """Host names from a list or a comma-separated string, lowercased."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip().lower() for item in items if str(item).strip()]


def _archive_mode(value: Any) -> Any:
    """``false``/``0``/``no``/``none`` read as ``off``, as a boolean setting would."""
    text = str(value).strip().lower() if value is not None else "off"
    return "off" if text in ("", "false", "0", "no", "none") else text


OptionalStr = Annotated[str | None, BeforeValidator(_blank_is_none)]
OptionalUri = Annotated[str | None, BeforeValidator(_optional_uri)]
Share = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]
OptionalShare = Annotated[Share | None, BeforeValidator(_blank_is_none)]
OptionalCount = Annotated[Count | None, BeforeValidator(_blank_is_none)]
Networks = Annotated[list[str], BeforeValidator(_networks)]
Hosts = Annotated[list[str], BeforeValidator(_hosts)]
ArchiveMode = Annotated[Literal["off", "dead", "always"], BeforeValidator(_archive_mode)]
Days = Annotated[float, Field(ge=0)]
OutputUri = Annotated[str, BeforeValidator(_output_uri)]
PositiveCount = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(ge=0)]
PositiveSeconds = Annotated[float, Field(gt=0)]


def _setting(default: Any, meaning: str, *, group: str, internal: bool = False) -> Any:
    """Declare one setting: its default, what it means and where the help lists it."""
    return Field(
        default, description=meaning, json_schema_extra={"group": group, "internal": internal}
    )


class ProjectSettings(BaseModel):
    """Every setting the project itself reads, with its default and meaning.

    The field names are the setting names (``-s NAME=VALUE``). A default of
    None means "unset" (the meaning says what happens then).
    """

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)

    # --- Output and publishing -------------------------------------------------
    OUTPUT_URI: OutputUri = _setting(
        "output/%(name)s/%(time)s.jsonl",
        "where the records go (local path or s3://bucket/key); `.jsonl.gz` compresses; "
        "`%(time)s` is the UTC start, `2026-11-29T02-00-00Z`",
        group="output",
    )
    SPOOL_DIR: str = _setting(
        "output/spool/",
        "finished files bound for S3 wait here at `<bucket>/<key>` until uploaded",
        group="output",
    )
    S3_UPLOAD_ATTEMPTS: PositiveCount = _setting(4, "tries of each S3 upload", group="output")
    S3_UPLOAD_BACKOFF: Seconds = _setting(
        2.0, "seconds before the first upload retry, doubled after each", group="output"
    )
    S3_CONNECT_TIMEOUT: PositiveSeconds = _setting(10.0, "seconds to connect to S3", group="output")
    S3_READ_TIMEOUT: PositiveSeconds = _setting(
        60.0, "seconds to wait on an S3 read", group="output"
    )
    MAX_ERROR_SHARE: Share = _setting(
        0.5,
        "above this share of `error` records (or with no record) the run exits 5 and moves "
        "neither `latest.json` nor the state",
        group="output",
    )
    LOCK_FILE: OptionalStr = _setting(
        None,
        "the run lock; unset: `.run.lock` beside the output (in the spool for s3://)",
        group="output",
    )

    # --- Sources ---------------------------------------------------------------------
    SOURCES_READAHEAD: PositiveCount = _setting(
        1000,
        "requests read ahead of the downloader (the list is streamed, never loaded whole)",
        group="sources",
    )
    SOURCES_PROVIDER: str = _setting(
        "crawler.sources.provider.ListProvider",
        "dotted path of the class that gives the spider its entries (distributed mode swaps it)",
        group="sources",
        internal=True,
    )
    SOURCES_ORIGIN: OptionalStr = _setting(
        None,
        "the s3:// URI a downloaded sources list came from (set by the crawl command)",
        group="sources",
        internal=True,
    )
    PUBLICATIONS: OptionalStr = _setting(
        None,
        "path of a publications YAML (`id`, `name`, `domains`, `credibility`) naming venues",
        group="records",
    )

    # --- Records --------------------------------------------------------------------
    PREVIEW_CHARS: Count = _setting(
        3000, "characters of main text in `preview`, cut at a word boundary", group="records"
    )
    FULL_TEXT: bool = _setting(False, "also write the whole main text as `text`", group="records")

    # --- Incremental ----------------------------------------------------------------
    INCREMENTAL: bool = _setting(
        True, "keep per-source state, send conditional requests, set `changed`", group="incremental"
    )
    STATE_URI: OptionalUri = _setting(
        None,
        "local path or s3:// URI of the state; unset: `state.sqlite` beside a local output, "
        "`state.sqlite.gz` beside an s3:// one",
        group="incremental",
    )
    REFETCH_AFTER_DAYS: Seconds = _setting(
        0,
        "carry forward `ok`/`paywall` sources a server confirmed fewer than N days ago "
        "without a request; 0: revalidate every source every night",
        group="incremental",
    )

    # --- Extraction ------------------------------------------------------------------
    EXTRACT_WORKERS: OptionalCount = _setting(
        None,
        "extraction worker processes; unset: one per core; 0: in the crawl process (debugging)",
        group="extraction",
    )
    EXTRACT_SPARE_WORKERS: OptionalCount = _setting(
        0,
        "extra extraction workers run while other processes of the session compete for the "
        "cores and pages wait for the pool (retired when the competition ends); 0: never "
        "(measured no gain on a shared machine); unset: one per core",
        group="extraction",
    )
    EXTRACT_MAX_PENDING: Count = _setting(
        0,
        "pages queued or being extracted at once (the downloader waits beyond); 0: 4 per worker, "
        "spares included",
        group="extraction",
    )
    EXTRACT_TIMEOUT: Seconds = _setting(
        120.0,
        "seconds one page may take in a worker before it becomes an `internal` error; 0: no limit",
        group="extraction",
    )
    EXTRACT_MAX_HTML_BYTES: Count = _setting(
        4 * 1024 * 1024,
        "markup beyond this is not extracted (main text and metadata sit near the top)",
        group="extraction",
    )
    EXTRACT_THOROUGH: bool = _setting(
        False,
        "also run trafilatura's comparison with readability and jusText (slower, +0.003 body F1)",
        group="extraction",
    )
    EXTRACT_WORKER_MAX_TASKS: Count = _setting(
        2000,
        "pages after which a worker is replaced (bounds slow leaks in parsers); 0: never",
        group="extraction",
    )
    EXTRACT_WORKER_MAX_MEMORY_MB: Count = _setting(
        1024,
        "address space per extraction worker (MB); a page that passes it becomes an `internal` "
        "record and the worker is replaced; 0: no cap",
        group="extraction",
    )
    EXTRACT_WORKER_TRIM_BYTES: Count = _setting(
        262144,
        "after a page of at least this many bytes, an extraction worker hands its freed heap "
        "back to the kernel (`malloc_trim`, glibc); 0: never",
        group="extraction",
    )
    HEAP_MMAP_THRESHOLD: Count = _setting(
        131072,
        "in the crawl process and the extraction workers, allocations of at least this many "
        "bytes (page bodies) get their own memory map, returned to the kernel when freed "
        "(glibc's `M_MMAP_THRESHOLD`, which glibc otherwise raises up to 32 MB); 0: glibc's "
        "default",
        group="extraction",
    )
    EXTRACT_FUNCTION: str = _setting(
        "pipelines.extract.job.content_fields",
        "dotted path of the function extraction workers run (tests and experiments)",
        group="extraction",
        internal=True,
    )

    # --- Fetching --------------------------------------------------------------------
    CONTACT_URL: str = _setting(
        "https://github.com/sources-crawler/sources-crawler",
        "named in the User-Agent, for site owners",
        group="fetching",
    )
    RETRY_AFTER_MAX: Seconds = _setting(
        60.0,
        "longest `Retry-After` wait honoured before a retry; a 429/503 asking for more is not "
        "retried this run",
        group="fetching",
    )
    HOST_FAILURE_MEMORY: bool = _setting(
        True,
        "a host that timed out or refused (its robots.txt, or two different pages with nothing "
        "answered between) fails its other sources at once: a hanging host costs its timeout once",
        group="fetching",
    )
    ROBOTSTXT_TIMEOUT: Seconds = _setting(
        10.0,
        "seconds a robots.txt request may take; 0: DOWNLOAD_TIMEOUT",
        group="fetching",
    )
    HOST_FIRST_CONTACT_PLACES: Count = _setting(
        0,
        "places of `CONCURRENT_REQUESTS` kept for hosts not contacted yet (their robots.txt or "
        "first page), the hosts with most work first, so that a hanging host read late in the "
        "list is found sooner; 0: off (no gain measured yet on bench/night.py)",
        group="fetching",
    )
    DOWNLOAD_MAX_HEADER_BYTES: PositiveCount = _setting(
        256 * 1024,
        "status line plus header lines of one response (`DOWNLOAD_MAXSIZE` bounds the body only); "
        "more is a `too_large` record",
        group="fetching",
    )
    PROXY_URL: OptionalStr = _setting(
        None,
        "`http://[user:password@]host:port` every request goes through; environment proxy "
        "variables are ignored, and with a proxy the guard still resolves and checks every target",
        group="fetching",
    )
    ALLOW_PRIVATE_ADDRESSES: bool = _setting(
        False,
        "turn the address guard off: loopback, private and link-local targets allowed",
        group="fetching",
    )
    ALLOWED_NETWORKS: Networks = _setting(
        [],
        "CIDRs let through while the guard stays on for everything else "
        "(`10.20.0.0/16,fd00:1::/48`)",
        group="fetching",
    )

    # --- Watching -------------------------------------------------------------------
    PROGRESS: Literal["auto", "live", "log", "off"] = _setting(
        "auto",
        "`live` bar, `log` lines or `off`; `auto`: `live` when stderr is a terminal",
        group="watching",
    )
    PROGRESS_INTERVAL: PositiveSeconds = _setting(
        60.0, "seconds between progress log lines", group="watching"
    )
    REPORT_ENABLED: bool = _setting(
        True, "write `<output>.report.html` beside each published output", group="watching"
    )
    REPORT_HISTORY_NIGHTS: PositiveCount = _setting(
        14, "nights shown in the report's charts", group="watching"
    )
    ALARM_MIN_RECORDS: Count = _setting(
        50, "runs with fewer records are not judged (their shares are noise)", group="watching"
    )
    ALARM_MAX_ERROR_SHARE: OptionalShare = _setting(
        0.25,
        "alarm (exit 7) when more records than this are `error`; empty: off",
        group="watching",
    )
    ALARM_MIN_TITLE: OptionalShare = _setting(
        0.8, "alarm when fewer `ok` records have a title; empty: off", group="watching"
    )
    ALARM_MIN_PUBLISHED_DATE: OptionalShare = _setting(
        0.3, "alarm when fewer `ok` records have a published date; empty: off", group="watching"
    )
    ALARM_MIN_AUTHORS: OptionalShare = _setting(
        0.2, "alarm when fewer `ok` records have authors; empty: off", group="watching"
    )
    ALARM_MIN_PREVIEW: OptionalShare = _setting(
        0.5,
        "alarm when fewer `ok` records have a preview of 500 characters or more; empty: off",
        group="watching",
    )

    # --- Distributed mode -----------------------------------------------------------
    REDIS_URL: OptionalStr = _setting(
        None,
        "`redis://[:password@]host:6379/0` or `rediss://…` (TLS): this crawl becomes a worker of "
        "the run loaded into Redis (needs the `distributed` extra)",
        group="distributed",
    )
    REDIS_KEY_PREFIX: str = _setting(
        "sources", "prefix of every Redis key of a run", group="distributed"
    )
    RUN_ID: OptionalStr = _setting(
        None, "the run to join; unset: the run the loader last loaded", group="distributed"
    )
    WORKER_ID: OptionalStr = _setting(
        None, "names the worker's part file; unset: `<host>-<pid>`", group="distributed"
    )
    DISTRIBUTED_PARTS_DIR: str = _setting(
        "output/sources/parts",
        "each worker writes `<dir>/<run id>/<worker id>.jsonl`",
        group="distributed",
    )
    DISTRIBUTED_HEARTBEAT: PositiveSeconds = _setting(
        30.0,
        "a worker silent this long is taken for dead and its entries are re-queued",
        group="distributed",
    )
    DISTRIBUTED_POLL: PositiveSeconds = _setting(
        1.0, "seconds between looks at the shared queue while it is empty", group="distributed"
    )
    DISTRIBUTED_REDIS_GRACE: Seconds = _setting(
        60.0,
        "seconds a worker keeps retrying an unreachable Redis before it stops with exit 8, "
        "publishing nothing",
        group="distributed",
    )
    DISTRIBUTED_REDIS_TIMEOUT: Seconds = _setting(
        10.0, "timeout of each Redis call and connection (seconds); 0: none", group="distributed"
    )
    DISTRIBUTED_POLITENESS: bool = _setting(
        True,
        "keep each host's concurrency and delay across all workers of the run, through Redis, "
        "as one process would keep them",
        group="distributed",
    )
    DISTRIBUTED_POLITENESS_LEASE_TTL: Seconds = _setting(
        0.0,
        "seconds a request's lease on its host lives at most (the leases of a killed worker "
        "expire); 0: `DOWNLOAD_TIMEOUT` times (`RETRY_TIMES` + 1), at least twice the timeout",
        group="distributed",
    )
    DISTRIBUTED_POLITENESS_POLL: PositiveSeconds = _setting(
        1.0,
        "longest pause between two looks at a host whose leases are all taken (the pause "
        "doubles from 0.05 s)",
        group="distributed",
    )

    # --- Reference rot ----------------------------------------------------------------
    SOFT404_PROBE_DAYS: Days = _setting(
        7,
        "days a site's answer to a path that cannot exist (one probe per origin) is remembered",
        group="rot",
    )
    DEAD_AFTER_FAILURES: PositiveCount = _setting(
        3, "failed nights in a row before a dead source is `dead_confirmed`", group="rot"
    )
    DEAD_AFTER_DAYS: Days = _setting(3, "calendar days those failed nights must span", group="rot")
    ARCHIVE_LOOKUP: ArchiveMode = _setting(
        "dead",
        "Wayback lookups: `off`, `dead` (dead or drifted sources) or `always`",
        group="rot",
    )
    ARCHIVE_CDX_URL: str = _setting(
        "https://web.archive.org/cdx/search/cdx",
        "the Wayback CDX endpoint (`output=json`, `filter=statuscode:200`, `closest=`)",
        group="rot",
    )
    ARCHIVE_REPLAY_URL: str = _setting(
        "https://web.archive.org/web/",
        "`archive.url` = this + timestamp + `/` + URL; the original bytes at + timestamp + `id_/`",
        group="rot",
    )
    ARCHIVE_PREVIEW: bool = _setting(
        False,
        "fill a dead source's preview and metadata from its archived capture (one more request)",
        group="rot",
    )
    ARCHIVE_CONCURRENCY: PositiveCount = _setting(
        2, "archive lookups at once (the archive throttles hard)", group="rot"
    )
    ARCHIVE_LOOKUP_DAYS: Days = _setting(
        30, "days an archive answer (a capture, or none) is reused", group="rot"
    )

    # --- Papers and videos ------------------------------------------------------------
    SCHOLARLY_LOOKUP: bool = _setting(
        True,
        "title, authors, date and venue by identifier from arXiv's API and Crossref",
        group="scholarly",
    )
    SCHOLARLY_LOOKUP_DAYS: Days = _setting(
        30, "days a registry answer is reused from the state; 0: ask every run", group="scholarly"
    )
    ARXIV_API_URL: str = _setting(
        "https://export.arxiv.org/api/query",
        "arXiv's Atom API, asked as `?id_list=a,b`",
        group="scholarly",
    )
    CROSSREF_API_URL: str = _setting(
        "https://api.crossref.org",
        "Crossref's REST API, asked as `/works/<doi>` (`mailto` when `CONTACT_URL` is an e-mail)",
        group="scholarly",
    )
    ARXIV_HOSTS: Hosts = _setting(
        [
            "arxiv.org",
            "www.arxiv.org",
            "export.arxiv.org",
            "browse.arxiv.org",
            "ar5iv.org",
            "ar5iv.labs.arxiv.org",
        ],
        "hosts whose `/abs/`, `/pdf/` and `/html/` URLs are arXiv papers",
        group="scholarly",
    )
    ARXIV_HTML_URL: str = _setting(
        "https://arxiv.org/html/",
        "base of arXiv's HTML rendering (+ id): a paper's text comes from it when it exists",
        group="scholarly",
    )
    ARXIV_HTML_FALLBACK_URL: str = _setting(
        "https://ar5iv.labs.arxiv.org/html/",
        "tried next for papers of arxiv.org itself; empty: off",
        group="scholarly",
    )
    YOUTUBE_HOSTS: Hosts = _setting(
        ["youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be"],
        "hosts whose watch URLs get the video's metadata and caption transcript",
        group="scholarly",
    )
    SCHOLARLY_MAX_BYTES: PositiveCount = _setting(
        8 * 1024 * 1024,
        "registry answers, renderings and caption tracks larger than this are not read",
        group="scholarly",
    )

    # --- Pages that need a browser --------------------------------------------------
    RENDER_ENABLED: bool = _setting(
        True,
        "render pages whose plain HTML is a JavaScript shell in the system Chromium (the "
        "`render` extra); without the extra or a browser, shells keep their plain HTML",
        group="render",
    )
    RENDER_BROWSER_PATH: OptionalStr = _setting(
        None,
        "the system Chromium; unset: the first of chromium-headless-shell, chromium, "
        "chromium-browser, google-chrome on PATH (never a browser downloaded by "
        "`playwright install`)",
        group="render",
    )
    RENDER_CONCURRENCY: PositiveCount = _setting(
        2, "pages open in the browser at once", group="render"
    )
    RENDER_TIMEOUT: PositiveSeconds = _setting(
        20.0,
        "seconds a page gets to load and fall quiet; then it is taken as it stands",
        group="render",
    )
    RENDER_MAX_MEMORY_MB: Count = _setting(
        1024,
        "the browser's process tree (PSS) is restarted above this; 0: no ceiling",
        group="render",
    )
    RENDER_IDLE_CLOSE: Seconds = _setting(
        60.0,
        "the browser and Playwright's driver are closed after this many seconds without a "
        "page to render (the next shell starts them again); 0: kept until the crawl ends",
        group="render",
    )
    # Off by default: on the 1,000-page benchmark batches took the tree's peak from 645 to
    # 450 MB but cost a fifth of the speed (the batch runs alone at the end); see bench/README.
    RENDER_BATCH: bool = _setting(
        False,
        "shells wait and are rendered together once the crawl has nothing else to do (or "
        "RENDER_BATCH_SIZE wait, or one waited RENDER_BATCH_WAIT s), the extraction workers "
        "stopped while the browser runs on a drained crawl and the browser closed after each "
        "batch, so that their memory never adds up (about 200 MB less at the peak, slower); "
        "off: each shell is rendered on arrival",
        group="render",
    )
    RENDER_BATCH_SIZE: PositiveCount = _setting(
        64,
        "a batch starts once this many shells wait, whatever the crawl is doing (their "
        "bodies are held meanwhile)",
        group="render",
    )
    RENDER_BATCH_WAIT: Seconds = _setting(
        600.0,
        "a batch starts once a shell has waited this long, whatever the crawl is doing",
        group="render",
    )
    RENDER_HOSTS: Hosts = _setting(
        [], "hosts (and their subdomains) whose HTML pages are always rendered", group="render"
    )
    RENDER_NEVER_HOSTS: Hosts = _setting(
        [], "hosts never rendered (wins over RENDER_HOSTS)", group="render"
    )
    RENDER_REMEMBER_DAYS: Days = _setting(
        30.0,
        "a host most of whose pages were shells is rendered whole this many days after its "
        "last shell (remembered in the state)",
        group="render",
    )


#: the order the help and the README list groups in, with their headings
GROUPS = {
    "output": "Output and publishing",
    "sources": "Sources",
    "records": "Records",
    "incremental": "Incremental runs",
    "extraction": "Extraction",
    "fetching": "Fetching and the address guard",
    "watching": "Progress, report and alarms",
    "distributed": "Distributed mode",
    "rot": "Reference rot",
    "scholarly": "Papers and videos",
    "render": "Pages that need a browser",
}

#: prefixes of settings that other installed components read (scrapy-redis, boto3 through
#: Scrapy, scrapy-playwright): not flagged as unknown
FOREIGN_PREFIXES = ("AWS_", "REDIS_", "SCHEDULER_", "DUPEFILTER_", "PLAYWRIGHT_", "FEED_")


def fields() -> Mapping[str, FieldInfo]:
    """The declared settings, in declaration order."""
    return ProjectSettings.model_fields


def project_defaults() -> dict[str, Any]:
    """Every project setting's default, for ``crawler/settings.py``."""
    return {name: info.default for name, info in fields().items()}


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """(base type, whether None is allowed, constraint objects) of a declared type."""
    optional = False
    constraints: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *meta = get_args(annotation)
            for item in meta:
                constraints.extend(getattr(item, "metadata", [item]))
        elif origin in (Union, UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            optional = optional or len(members) < len(get_args(annotation))
            annotation = members[0] if len(members) == 1 else annotation
            if len(members) != 1:
                break
        else:
            break
    return annotation, optional, constraints


def _base_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return "choice"
    if get_origin(annotation) is list:
        return "list"
    return {bool: "bool", int: "int", float: "float", str: "text"}.get(annotation, str(annotation))


def type_name(info: FieldInfo) -> str:
    """A short human name of a setting's type, for the help and the README."""
    base, optional, _ = _unwrap(info.annotation)
    return _base_name(base) + (" or unset" if optional else "")


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, list):
        return "[]" if not value else ",".join(map(str, value))
    return str(value)


def rows(*, internal: bool = False) -> Iterator[tuple[str, str, str, str, str]]:
    """(group, name, type, default, meaning) of each setting, in declaration order."""
    for name, info in fields().items():
        extra = _extra(info)
        if extra.get("internal") and not internal:
            continue
        yield (
            str(extra.get("group", "")),
            name,
            type_name(info),
            _shown(info.default),
            (info.description or ""),
        )


def markdown_table() -> str:
    """The README's settings table (a test keeps the README in step with it)."""
    lines = ["| setting | type | default | meaning |", "| --- | --- | --- | --- |"]
    for group in GROUPS:
        for row_group, name, kind, default, meaning in rows():
            if row_group == group:
                lines.append(f"| `{name}` | {kind} | `{default}` | {meaning} |")
    return "\n".join(lines) + "\n"


def text_table(width: int = 100) -> str:
    """The settings for ``--help``, grouped, one block per setting."""
    import textwrap

    out: list[str] = []
    for group, heading in GROUPS.items():
        out.append(f"  {heading}:")
        for row_group, name, kind, default, meaning in rows():
            if row_group != group:
                continue
            out.append(f"    {name} ({kind}, default {default})")
            out.extend(
                textwrap.wrap(
                    meaning.replace("`", ""),
                    width,
                    initial_indent="        ",
                    subsequent_indent="        ",
                )
            )
    return "\n".join(out)


# --- Validation ---------------------------------------------------------------------------


def _expected(info: FieldInfo) -> str:
    """What a valid value looks like, for the one-line error."""
    base, optional, constraints = _unwrap(info.annotation)
    bounds = []
    for meta in [*constraints, *info.metadata]:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                bounds.append(f"{sign} {bound}")
    kind = _base_name(base)
    words = {"int": "an integer", "float": "a number", "bool": "true or false", "text": "a text"}
    text = words.get(kind, kind)
    if kind == "choice":
        text = "one of " + ", ".join(str(a) for a in get_args(base))
    text = " ".join([text, " and ".join(bounds)]).strip()
    return text + (" (or empty for unset)" if optional else "")


def _message(name: str, info: FieldInfo, error: Mapping[str, Any], value: Any) -> str:
    if error.get("type") == "value_error":
        reason = str(error.get("ctx", {}).get("error", error.get("msg", "")))
        return f"{name}: {reason}" + ("" if "got" in reason else f", got {value!r}")
    return f"{name}: expected {_expected(info)}, got {value!r}"


def validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check the project settings' values; return them typed, or raise one SettingsError.

    ``values`` holds what the settings carry (strings from ``-s``, Python
    values from ``crawler/settings.py``); the result is what components read.
    """
    known = fields()
    try:
        model = ProjectSettings.model_validate({k: v for k, v in values.items() if k in known})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            info = known.get(name)
            if info is None:
                continue
            problems.append(_message(name, info, error, values.get(name)))
        raise SettingsError("; ".join(dict.fromkeys(problems))) from None
    return model.model_dump()


def check_scrapy_types(values: Mapping[str, Any]) -> None:
    """Check command-line values of Scrapy's own settings against their defaults' types."""
    from scrapy.settings import default_settings

    problems = []
    for name, value in values.items():
        default = getattr(default_settings, name, None)
        if not isinstance(value, str) or default is None or name in fields():
            continue
        text = value.strip()
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                problems.append(f"{name}: expected true or false, got {value!r}")
        elif isinstance(default, int | float):
            try:
                # Scrapy reads some int-defaulted settings as floats (DOWNLOAD_DELAY)
                number = float(text)
            except ValueError:
                problems.append(f"{name}: expected a number, got {value!r}")
                continue
            if number < 0:
                problems.append(f"{name}: expected a value >= 0, got {value!r}")
    if problems:
        raise SettingsError("; ".join(problems))


def unknown_names(given: Iterable[str], known: Iterable[str]) -> list[str]:
    """Warnings for command-line setting names nobody reads, with the closest known name."""
    from scrapy.settings import default_settings

    known_names = set(known) | set(fields()) | {n for n in dir(default_settings) if n.isupper()}
    warnings = []
    for name in given:
        if name in known_names or name.startswith(FOREIGN_PREFIXES):
            continue
        close = difflib.get_close_matches(name, sorted(known_names), n=1, cutoff=0.8)
        if close:
            warnings.append(f"{name} is not a setting; did you mean {close[0]}?")
        else:
            warnings.append(f"{name} is not a setting of this project or of Scrapy (ignored)")
    return warnings


def main() -> None:
    """``python -m crawler.options``: print the settings table as Markdown (for the README)."""
    print(markdown_table(), end="")


if __name__ == "__main__":
    main()
