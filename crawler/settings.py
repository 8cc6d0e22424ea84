"""The Scrapy settings module of the ``sources`` crawl.

The project's own settings (``OUTPUT_URI``, ``PREVIEW_CHARS``, ``FULL_TEXT``,
the guard's, the archive's, …) are declared once, with type, default and
meaning, in :mod:`crawler.options`, and taken from there. What follows are
the components this project plugs into Scrapy and its values for Scrapy's own
settings, each with its reason; any of them can be overridden with
``-s NAME=VALUE``.
"""

from __future__ import annotations

from crawler.options import project_defaults

# The project's own settings and their defaults are declared once, in
# crawler/options.py (name, type, default, meaning); Scrapy's settings follow.
globals().update(project_defaults())

BOT_NAME = "sources"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"  # our `crawl` sets the exit code from the run's outcome

# --- Output and the item stages --------------------------------------------------
ADDONS = {
    "crawler.publish.feeds.OutputAddon": 0,
    "crawler.fetch.useragent.UserAgentAddon": 0,
    # after OutputAddon: in distributed mode the worker's part file replaces OUTPUT_URI
    "crawler.distributed.addon.DistributedAddon": 10,
    # the browser for pages that need JavaScript (crawler/render/), when installed
    "crawler.render.addon.RenderAddon": 0,
}
FEED_STORAGES = {
    "": "crawler.publish.feedstorage.AtomicFileFeedStorage",
    "file": "crawler.publish.feedstorage.AtomicFileFeedStorage",
    # keeps the finished file and uploads it by name; Scrapy's loses it on failure
    "s3": "crawler.publish.feedstorage.S3FeedStorage",
}
FEED_EXPORT_ENCODING = "utf-8"  # otherwise non-ASCII is written as \u escapes

# --- Item stages and extensions ---------------------------------------------------

ITEM_PIPELINES = {
    "pipelines.identify.IdentifyPipeline": 100,
    # reads the markup for parking and login signs before extraction drops the body
    "pipelines.rot_stage.RotMarkupPipeline": 140,
    # arXiv papers' HTML rendering (or PDF) and YouTube captions, fetched before extraction
    "pipelines.scholarly_stage.MediaPipeline": 150,
    # after the media stage (a YouTube page it handled has no body left, an arXiv paper
    # is its rendering): a shell is replaced by its rendered HTML, then extracted
    "pipelines.render_stage.RenderPipeline": 160,
    "pipelines.extract_stage.ExtractPipeline": 200,
    "pipelines.classify.ClassifyPipeline": 300,
    # after classify (it re-judges ok pages), before incremental (850), so the
    # state and `changed` see the final status
    "pipelines.rot_stage.RotPipeline": 350,
    "pipelines.enrich.EnrichPipeline": 400,
    # identifiers and registry metadata; after enrich, whose venue match it keeps
    "pipelines.scholarly_stage.ScholarlyPipeline": 450,
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

# --- Papers and videos (pipelines/scholarly_stage.py) ---------------------------
# Per-API politeness (Scrapy's own setting): arXiv's API terms ask for one
# request every three seconds; Crossref's polite pool allows a few at once.
DOWNLOAD_SLOTS = {
    "scholarly-arxiv-api": {"concurrency": 1, "delay": 3.0},
    "scholarly-crossref-api": {"concurrency": 3, "delay": 0.1},
}

# --- Fetching ------------------------------------------------------------------
# Every status reaches the spider: a 404 must become a `dead` record, not vanish.
HTTPERROR_ALLOW_ALL = True
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
    # next to the download handler: sees every response before decompression (590)
    # may turn it into an error, so an origin's waiters never wait for nothing
    "crawler.fetch.hosts.HostAnswerMiddleware": 950,
    "crawler.fetch.middlewares.RetryAfterMiddleware": 550,
    # after RetryMiddleware (550) on the way back, so that it can skip retries
    "crawler.fetch.middlewares.DnsFailureMiddleware": 560,
    # Scrapy's, reading the head of the page only (see crawler/metarefresh.py)
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.fetch.metarefresh.HeadMetaRefreshMiddleware": 580,
    # after decompression (590): an HTML body beyond EXTRACT_MAX_HTML_BYTES is cut to
    # the head extraction reads before the scraper holds it (crawler/fetch/handler.py)
    "crawler.fetch.handler.BodyCapMiddleware": 585,
    # Scrapy's reads proxies from the environment; ours only from PROXY_URL
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
    "crawler.fetch.middlewares.ProxyMiddleware": 750,
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
DOWNLOAD_HANDLERS = {
    # Scrapy's HTTP/1.1 handler plus DOWNLOAD_MAX_HEADER_BYTES
    "http": "crawler.fetch.handler.BoundedHTTP11DownloadHandler",
    "https": "crawler.fetch.handler.BoundedHTTP11DownloadHandler",
}
RETRY_ENABLED = True
RETRY_TIMES = 2
# A retry goes ahead of its host's other requests (Scrapy's -1 puts it behind them):
# a probe's retry is what the host's other requests wait for (crawler/fetch/hosts.py).
RETRY_PRIORITY_ADJUST = 1
# A source that failed is a record saying so, not an error of the run.
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"
REDIRECT_MAX_TIMES = 10
# Scrapy's UrlLengthMiddleware silently drops requests longer than this (its
# default, 2083, is an old browser's limit); real citation URLs reach several
# KB. The spider makes any longer URL an `invalid_url` record, so none is lost.
URLLENGTH_LIMIT = 32768
COOKIES_ENABLED = False
DNS_TIMEOUT = 20
# --- Hosts of a night (crawler/fetch/hosts.py) ----------------------------------
# HOST_FAILURE_MEMORY and ROBOTSTXT_TIMEOUT are declared in crawler/options.py.
# The downloader gets the host with the fewest requests in it (those waiting for
# robots.txt or politeness included), the busiest host first among equals: a few
# busy hosts start early and their queues wait in the scheduler, not in the
# CONCURRENT_REQUESTS places.
SCHEDULER_PRIORITY_QUEUE = "crawler.fetch.hosts.HostAwarePriorityQueue"
# Look-ups run in this pool; asyncio's small default starved a 6,000-source run.
REACTOR_THREADPOOL_MAXSIZE = 20

# --- Runtime -----------------------------------------------------------------
# Scrapy 2.19 starts a code-executing remote-control server by default; an
# unattended nightly job must not.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
