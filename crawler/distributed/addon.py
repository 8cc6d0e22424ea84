"""Scrapy add-on: ``REDIS_URL`` alone turns a crawl into a worker of a distributed run."""

from __future__ import annotations

import os
import re
import socket

from scrapy.settings import BaseSettings

from crawler.options import SettingsError

#: run and worker ids become Redis key parts and file names
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class DistributedSetupError(SettingsError):
    """Distributed mode is asked for but cannot be set up."""


def default_worker_id() -> str:
    """``<host>-<pid>``: unique among processes that run at the same time."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()) or "host"
    return f"{host}-{os.getpid()}"


def current_run(url: str, prefix: str) -> str | None:
    """The run id the loader marked current, if any."""
    from redis import Redis
    from redis.exceptions import RedisError

    from crawler.distributed.run import RunKeys

    server = Redis.from_url(url)
    try:
        value = server.get(RunKeys(prefix, "-").current)
    except RedisError as exc:
        # the URL may carry a password: name the server by host and port only
        where = f"{server.connection_pool.connection_kwargs.get('host')}:"
        where += f"{server.connection_pool.connection_kwargs.get('port')}"
        raise DistributedSetupError(f"cannot reach Redis at {where}: {exc}") from None
    finally:
        server.close()
    return value.decode() if isinstance(value, bytes) else None


def identify_worker(settings: BaseSettings) -> tuple[str, str]:
    """The run this worker joins and its own id; checked before the crawl starts.

    Sets ``RUN_ID`` and ``WORKER_ID`` (below command-line priority) so that
    the add-on, which runs later inside the reactor, finds them decided.
    """
    url = str(settings.get("REDIS_URL"))
    prefix = str(settings.get("REDIS_KEY_PREFIX"))
    run_id = settings.get("RUN_ID") or current_run(url, prefix)
    if not run_id:
        raise DistributedSetupError(
            "REDIS_URL is set but no RUN_ID was given and no run was loaded "
            "(python -m crawler.distributed.load)"
        )
    worker = str(settings.get("WORKER_ID") or default_worker_id())
    for name, value in (("RUN_ID", str(run_id)), ("WORKER_ID", worker)):
        if not SAFE_ID.match(value):
            raise DistributedSetupError(f"{name} {value!r} is not a safe id ([A-Za-z0-9._-])")
        settings.set(name, value, priority="project")
    return str(run_id), worker


class DistributedAddon:
    """Swap in the scrapy-redis scheduler, the worker's part file and its extension.

    Settings: ``REDIS_URL`` (unset: a normal single-process crawl),
    ``RUN_ID`` (default: the run the loader last marked current),
    ``WORKER_ID`` (default ``<host>-<pid>``), ``DISTRIBUTED_PARTS_DIR``,
    ``DISTRIBUTED_HEARTBEAT``, ``REDIS_KEY_PREFIX``; ``DISTRIBUTED_POLITENESS``
    (the per-host politeness shared through Redis, :mod:`crawler.distributed.politeness`).
    """

    def update_settings(self, settings: BaseSettings) -> None:
        """Configure a worker when ``REDIS_URL`` is set; do nothing otherwise."""
        url = settings.get("REDIS_URL")
        if not url:
            return
        from crawler.distributed.run import RunKeys
        from crawler.distributed.worker import part_path

        prefix = str(settings.get("REDIS_KEY_PREFIX"))
        run_id, worker = identify_worker(settings)
        keys = RunKeys(prefix, str(run_id))
        # "project" priority: these replace the project's single-process
        # defaults, while anything given with -s still wins.
        overrides: dict[str, object] = {
            "RUN_ID": str(run_id),
            "WORKER_ID": worker,
            "SOURCES_PROVIDER": "crawler.distributed.worker.RedisProvider",
            "SCHEDULER": "crawler.distributed.compat.Scheduler",
            "SCHEDULER_QUEUE_CLASS": "crawler.distributed.compat.EntryPriorityQueue",
            # JSON, never scrapy-redis's default pickle (code from the queue)
            "SCHEDULER_SERIALIZER": "crawler.distributed.serializer",
            "DUPEFILTER_CLASS": "crawler.distributed.compat.EntryDupeFilter",
            "SCHEDULER_QUEUE_KEY": keys.requests,
            "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
            # The run id, not a flush, gives the next night a clean start.
            "SCHEDULER_PERSIST": True,
            # One worker's state, report or alarms would describe a fraction
            # of the night (and a coverage alarm would fail a healthy worker).
            "INCREMENTAL": False,
            "REPORT_ENABLED": False,
            "ALARM_MIN_RECORDS": 2**62,
        }
        for name, setting in overrides.items():
            settings.set(name, setting, priority="project")
        part = part_path(str(settings.get("DISTRIBUTED_PARTS_DIR")), str(run_id), worker)
        settings.set(
            "FEEDS",
            {
                str(part): {
                    "format": "jsonlines",
                    "encoding": "utf-8",
                    "store_empty": True,
                    "overwrite": True,
                }
            },
            priority="project",
        )
        storage = "crawler.distributed.worker.WorkerPartStorage"
        settings["FEED_STORAGES"][""] = storage
        settings["FEED_STORAGES"]["file"] = storage
        settings["EXTENSIONS"]["crawler.distributed.worker.WorkerExtension"] = 0
        # after every middleware that answers without a download and every one
        # that may turn an outcome into a new request (see politeness.py)
        settings["DOWNLOADER_MIDDLEWARES"][
            "crawler.distributed.politeness.SharedPolitenessMiddleware"
        ] = 940
