"""Checks made before a crawl starts: arguments, settings and the extras they need.

Everything here runs before the lock, the state, the worker pool or the
output is touched, so that a user mistake costs nothing but one line and
exit code 2 (:data:`crawler.publish.exitcodes.USAGE`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from crawler import options
from crawler.options import SettingsError

#: features switched on by a setting, the modules they need, and the extra that has them
EXTRAS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("REDIS_URL", ("redis", "scrapy_redis"), "distributed"),
)

#: spider arguments schedulers add on their own (scrapyd's job id)
FOREIGN_ARGUMENTS = frozenset({"_job"})


def check_arguments(given: Iterable[str], known: Mapping[str, str]) -> None:
    """Refuse a spider argument the spider does not declare (``-a source=`` for ``sources``)."""
    unknown = sorted(set(given) - set(known) - FOREIGN_ARGUMENTS)
    if unknown:
        names = ", ".join(f"-a {name}=" for name in sorted(known)) or "none"
        raise SettingsError(
            f"unknown spider argument {', '.join(repr(n) for n in unknown)}; known: {names}"
        )


def command_line_names(settings: BaseSettings) -> list[str]:
    """Names of the settings given with ``-s`` (or any higher priority)."""
    cmdline = SETTINGS_PRIORITIES["cmdline"]
    return [name for name in settings if (settings.getpriority(name) or 0) >= cmdline]


def apply_project_settings(settings: BaseSettings) -> None:
    """Validate every project setting and store the typed values back (same priority)."""
    values = {name: settings.get(name) for name in options.fields()}
    typed = options.validate(values)
    for name, value in typed.items():
        if value != values[name]:
            settings.set(name, value, priority=settings.getpriority(name) or "project")


def check_extras(settings: BaseSettings) -> None:
    """A feature asked for without its extra is one line, not an ImportError mid-start."""
    for name, modules, extra in EXTRAS:
        if not settings.get(name):
            continue
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing:
            raise SettingsError(
                f"{name} is set but the '{extra}' extra is not installed "
                f"({', '.join(missing)} missing): pip install 'sources-crawler[{extra}]'"
            )


def preflight(
    settings: BaseSettings, spider_arguments: Iterable[str], known_arguments: Mapping[str, str]
) -> list[str]:
    """Run every check; return warnings to log, raise :class:`SettingsError` on a mistake."""
    from crawler import settings as project_module

    check_arguments(spider_arguments, known_arguments)
    given = command_line_names(settings)
    options.check_scrapy_types({name: settings.get(name) for name in given})
    apply_project_settings(settings)
    check_extras(settings)
    if settings.get("REDIS_URL"):
        from crawler.distributed.addon import identify_worker

        identify_worker(settings)  # reaches Redis: a wrong URL is one line here, not a traceback
    return options.unknown_names(given, [n for n in dir(project_module) if n.isupper()])
