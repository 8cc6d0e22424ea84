"""Settings of the ``sources`` crawl: every default in one place, each with its reason.

Project settings (the contract in DESIGN.md): ``OUTPUT_URI``, ``PREVIEW_CHARS``,
``FULL_TEXT``, ``ALLOW_PRIVATE_ADDRESSES``, ``ALLOWED_NETWORKS``,
``PUBLICATIONS``, ``SPOOL_DIR``. Scrapy's own settings keep their meaning and
can be overridden with ``-s NAME=VALUE``.
"""

from __future__ import annotations

BOT_NAME = "sources"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"  # our `crawl` sets the exit code from the run's outcome

# --- Output ------------------------------------------------------------------
# Local path or s3:// URI; `.jsonl.gz` compresses. %(name)s is the spider,
# %(time)s the UTC start time as 2026-11-29T02-00-00Z.
OUTPUT_URI = "output/%(name)s/%(time)s.jsonl"
ADDONS = {
    "crawler.publish.feeds.OutputAddon": 0,
    "crawler.fetch.useragent.UserAgentAddon": 0,
    # after OutputAddon: in distributed mode the worker's part file replaces OUTPUT_URI
    "crawler.distributed.addon.DistributedAddon": 10,
}
FEED_STORAGES = {
    "": "crawler.publish.feedstorage.AtomicFileFeedStorage",
    "file": "crawler.publish.feedstorage.AtomicFileFeedStorage",
    # keeps the finished file and uploads it by name; Scrapy's loses it on failure
    "s3": "crawler.publish.feedstorage.S3FeedStorage",
}
FEED_EXPORT_ENCODING = "utf-8"  # otherwise non-ASCII is written as \u escapes
# Finished files bound for S3 wait here (at <bucket>/<key>) until uploaded.
SPOOL_DIR = "output/spool/"
S3_UPLOAD_ATTEMPTS = 4
S3_UPLOAD_BACKOFF = 2.0  # seconds before the first retry, doubled after each
# A complete run with more than this share of `error` records (or no records)
# exits 5 and moves neither the latest pointer nor the state.
MAX_ERROR_SHARE = 0.5
LOCK_FILE = None  # default: .run.lock beside the output (in the spool for s3://)

# --- Incremental re-crawls (crawler/incremental.py) --------------------------------
INCREMENTAL = True
STATE_URI = None  # default: state.sqlite beside the output (state.sqlite.gz on S3)
# 0: revalidate every source every night (conditional requests); N: carry
# forward sources a server confirmed less than N days ago without asking.
REFETCH_AFTER_DAYS = 0

# Where the spider's entries come from (crawler/sources/provider.py); the
# distributed add-on swaps in the Redis provider.
SOURCES_PROVIDER = "crawler.sources.provider.ListProvider"
# Requests read ahead of the downloader (bounded: the list is streamed, not loaded).
SOURCES_READAHEAD = 1000

# --- Distributed mode (crawler/distributed/) -----------------------------------
# Set REDIS_URL (redis://host:6379/0) and this crawl becomes one worker of the
# run loaded by `python -m crawler.distributed.load`: scrapy-redis's shared
# scheduler and filter, entries from Redis, a part file per worker.
REDIS_URL = None
RUN_ID = None  # default: the run the loader last loaded
WORKER_ID = None  # default: <host>-<pid>; names the part file
DISTRIBUTED_PARTS_DIR = "output/sources/parts"  # <dir>/<run id>/<worker id>.jsonl
# A worker silent this long is taken for dead and its entries are re-queued.
DISTRIBUTED_HEARTBEAT = 30.0

# --- Records -----------------------------------------------------------------
PREVIEW_CHARS = 3000
FULL_TEXT = False
PUBLICATIONS = None  # path of a publications YAML (id, name, domains, credibility)

# --- Extraction (pipelines/extraction.py) -------------------------------------
# Extraction is CPU-bound (tens of ms a page): it runs in worker processes so
# the reactor keeps downloading. None: one worker per core; 0: in the crawl
# process (debugging, tests).
EXTRACT_WORKERS = None
# Pages queued or being extracted at once; 0: 4 per worker. Bounded so that a
# slow pool holds the downloader back instead of piling bodies up in memory.
EXTRACT_MAX_PENDING = 0
# A page still being extracted after this many seconds has its worker killed
# and becomes an `internal` error; 0: no limit.
EXTRACT_TIMEOUT = 120
# HTML or text beyond this is not handed to extraction (main text and
# metadata sit near the top; the rest costs parse time and memory).
EXTRACT_MAX_HTML_BYTES = 4 * 1024 * 1024
# Also run trafilatura's comparison with readability and jusText: +0.003 body
# F1 on the evaluation corpus for about a third more extraction time and
# 27 MB more per worker.
EXTRACT_THOROUGH = False
# A worker is replaced after this many pages, bounding any slow leak in the
# parsing libraries; 0: never.
EXTRACT_WORKER_MAX_TASKS = 2000

ITEM_PIPELINES = {
    "pipelines.identify.IdentifyPipeline": 100,
    "pipelines.extract_stage.ExtractPipeline": 200,
    "pipelines.classify.ClassifyPipeline": 300,
    "pipelines.enrich.EnrichPipeline": 400,
    "crawler.incremental.stage.IncrementalPipeline": 850,
    "pipelines.validate.ValidatePipeline": 900,
}
# Scrapy's defaults without the telnet console and the remote control, both
# off (below): Scrapy imports every class named in these tables, even one set
# to None, and those two would load twisted.conch and aiohttp's web server,
# about 20 MB of the crawl process's memory for nothing.
EXTENSIONS_BASE = {
    "scrapy.extensions.corestats.CoreStats": 0,
    "scrapy.extensions.logcount.LogCount": 0,
    "scrapy.extensions.memusage.MemoryUsage": 0,
    "scrapy.extensions.memdebug.MemoryDebugger": 0,
    "scrapy.extensions.closespider.CloseSpider": 0,
    "scrapy.extensions.feedexport.FeedExporter": 0,
    "scrapy.extensions.logstats.LogStats": 0,
    "scrapy.extensions.spiderstate.SpiderState": 0,
    "scrapy.extensions.throttle.AutoThrottle": 0,
}
EXTENSIONS = {
    "crawler.publish.ledger.RecordLedger": 0,
    "crawler.incremental.extension.IncrementalState": 0,
    "crawler.fetch.redact.RedactLogs": 0,
    # Progress replaces LogStats: its plain lines carry the same rates, and a
    # second periodic line in cron logs (or through the live bar) is noise.
    "scrapy.extensions.logstats.LogStats": None,
    "crawler.watch.progress.Progress": 10,
    # AutoThrottle that keeps a slow host's concurrency (crawler/fetch/hosts.py)
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawler.fetch.hosts.HostSpeedThrottle": 0,
    "crawler.watch.alarms.CoverageAlarms": 10,
    # the report reads the published file: it hooks feed_exporter_closed
    "crawler.watch.report.extension.NightlyReport": 20,
}

# --- What a person sees (crawler/progress.py, crawler/report/, crawler/alarms.py) ---
PROGRESS = "auto"  # live bar when stderr is a terminal, else log lines; or live, log, off
PROGRESS_INTERVAL = 60.0  # seconds between progress log lines (cron)
REPORT_ENABLED = True  # <output>.report.html beside each published output
REPORT_HISTORY_NIGHTS = 14  # nights shown in the coverage charts
# Coverage alarms (stat ingest/alarms): an empty value switches one off. Shares
# of a small run are noise, so runs with fewer records are not judged.
ALARM_MIN_RECORDS = 50
ALARM_MAX_ERROR_SHARE = 0.25  # of all records
ALARM_MIN_TITLE = 0.8  # coverage among ok records
ALARM_MIN_PUBLISHED_DATE = 0.3
ALARM_MIN_AUTHORS = 0.2
ALARM_MIN_PREVIEW = 0.5  # preview of at least 500 characters

# --- Fetching ------------------------------------------------------------------
# Every status reaches the spider: a 404 must become a `dead` record, not vanish.
HTTPERROR_ALLOW_ALL = True
# Who we are, for site owners; USER_AGENT is derived from it (crawler/addons.py)
# unless set explicitly.
CONTACT_URL = "https://github.com/sources-crawler/sources-crawler"
ROBOTSTXT_OBEY = True
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    # first: nothing else (robots.txt included) may reach a refused address
    "crawler.fetch.middlewares.AddressGuardMiddleware": 50,
    # after the address guard; answers fresh sources before robots.txt is asked
    "crawler.incremental.middleware.ConditionalRequestMiddleware": 60,
    "crawler.fetch.middlewares.SharedRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    # before the retries (550): sees a failure once they are spent (crawler/fetch/hosts.py)
    "crawler.fetch.hosts.HostFailureMiddleware": 540,
    "crawler.fetch.middlewares.RetryAfterMiddleware": 550,
    # after RetryMiddleware (550) on the way back, so that it can skip retries
    "crawler.fetch.middlewares.DnsFailureMiddleware": 560,
    # Scrapy's, reading the head of the page only (see crawler/metarefresh.py)
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.fetch.metarefresh.HeadMetaRefreshMiddleware": 580,
}
TWISTED_DNS_RESOLVER = "crawler.fetch.resolver.RememberingResolver"
CONCURRENT_REQUESTS = 32
# Items processed at once per response. The spider yields one item a page, and
# Scrapy 2.19 starts this many asyncio tasks for every response whatever it
# yields: at its default of 100 they cost 3 of the crawl process's 11 CPU ms a
# page. Pages are still processed concurrently (one item each).
CONCURRENT_ITEMS = 1
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
# Cited pages answer in seconds or not at all; Scrapy's 180 s default lets
# one dead server hold a slot for three minutes.
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
# A source that failed is a record saying so, not an error of the run.
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"
RETRY_AFTER_MAX = 60  # seconds a 429/503 may ask us to wait before its retry
REDIRECT_MAX_TIMES = 10
COOKIES_ENABLED = False
DNS_TIMEOUT = 20
# --- Hosts of a night (crawler/fetch/hosts.py) ----------------------------------
# An origin that timed out or refused a request after its retries, with nothing
# else from it arriving meanwhile, fails its other sources at once with the same
# error kind: a hanging host costs its timeout once, not once per source.
HOST_FAILURE_MEMORY = True
# Seconds a robots.txt request may take (0: DOWNLOAD_TIMEOUT). A robots.txt is a
# small static file; a host that cannot serve it in 10 s is taken for hanging.
ROBOTSTXT_TIMEOUT = 10
# The downloader gets the host with the fewest requests in it (those waiting for
# robots.txt or politeness included), the busiest host first among equals: a few
# busy hosts start early and their queues wait in the scheduler, not in the
# CONCURRENT_REQUESTS places.
SCHEDULER_PRIORITY_QUEUE = "crawler.fetch.hosts.HostAwarePriorityQueue"
# Look-ups run in this pool; asyncio's small default starved a 6,000-source run.
REACTOR_THREADPOOL_MAXSIZE = 20
ALLOW_PRIVATE_ADDRESSES = False
ALLOWED_NETWORKS: list[str] = []

# --- Runtime -----------------------------------------------------------------
# Scrapy 2.19 starts a code-executing remote-control server by default; an
# unattended nightly job must not.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
