"""Keep secrets out of every log line: URL credentials and the values of secret settings.

Two kinds of secret reach log lines: credentials written into URLs
(``user:password@``, read by :func:`crawler.fetch.urls.redact_url`, the same
code that sends them) and the values of settings such as
``AWS_SECRET_ACCESS_KEY`` or the password inside ``REDIS_URL``, which
Scrapy prints in its "Overridden settings" line. :class:`SecretsFilter`
removes both from the formatted message and the traceback of every record
that reaches the root logger's handlers, whichever logger logged it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, Self
from urllib.parse import unquote

from scrapy.crawler import Crawler

from crawler.fetch.urls import split_userinfo, strip_credentials

MASK = "***"


#: words that make a setting's value a secret (whole ``_``-separated parts of its name)
SECRET_WORDS = frozenset({"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIALS", "KEY"})
#: names with KEY in them that name a Redis key or a prefix, not a secret
NOT_SECRET_SUFFIXES = (
    "_KEY_PREFIX",
    "_QUEUE_KEY",
    "_DUPEFILTER_KEY",
    "_START_URLS_KEY",
    "_ITEMS_KEY",
    "_STATS_KEY",
)
#: shorter values are not masked wherever they occur (a value "1" would blank
#: every digit); they are still masked where their setting's name is printed
MIN_MASKED_LENGTH = 4


def is_secret_setting(name: str) -> bool:
    """Whether a setting's value must never be logged, by its name.

    A name is secret when one of its ``_``-separated words is SECRET, TOKEN,
    PASSWORD, PASSWD, CREDENTIALS or KEY (``AWS_SECRET_ACCESS_KEY``,
    ``AWS_SESSION_TOKEN``, ``API_KEY``), except the names ending in a known
    non-secret suffix (``REDIS_KEY_PREFIX``, ``SCHEDULER_QUEUE_KEY``, ...).
    """
    upper = name.upper()
    if upper.endswith(NOT_SECRET_SUFFIXES):
        return False
    return any(word in SECRET_WORDS for word in upper.split("_"))


def _url_password(value: str) -> list[str]:
    """The password (as written and decoded) of a URL-valued setting, if it has one."""
    try:
        _, userinfo = split_userinfo(value)
    except (ValueError, UnicodeError):
        return []
    if not userinfo:
        return []
    user, _, password = userinfo.partition(":")
    secret = password or user  # redis://:pw@ and https://token@ both happen
    return [secret, unquote(secret)] if secret else []


def secret_values(settings: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> set[str]:
    """The values to mask in every log line: secret settings and passwords in URL settings."""
    items = settings.items() if isinstance(settings, Mapping) else settings
    found: set[str] = set()
    for name, value in items:
        if not isinstance(value, str) or not value:
            continue
        if is_secret_setting(str(name)):
            found.add(value)
        elif "@" in value and "//" in value:
            found.update(_url_password(value))
    return {v for v in found if len(v) >= MIN_MASKED_LENGTH}


def _secret_names_pattern() -> re.Pattern[str]:
    # 'NAME': 'value' (pprint of a settings dict): masks short secret values too
    return re.compile(r"""(['"])([A-Za-z0-9_]+)\1(\s*:\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


_NAMED_VALUE = _secret_names_pattern()


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without URL credentials, secret-setting values and the given secret strings."""
    if "@" in text:
        text = strip_credentials(text)
    if ":" in text:
        text = _NAMED_VALUE.sub(
            lambda m: (
                m.group(0)
                if not is_secret_setting(m.group(2))
                else f"{m.group(1)}{m.group(2)}{m.group(1)}{m.group(3)}'{MASK}'"
            ),
            text,
        )
    # longest first: a secret that contains another is masked whole
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class SecretsFilter(logging.Filter):
    """A handler filter: each record's message and traceback, formatted once, without secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = set(secrets)
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message (and traceback text) by their redacted forms."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        cleaned = redact_text(message, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, self.secrets)
        return True


def install_log_redaction(secrets: Iterable[str] = ()) -> None:
    """Put a :class:`SecretsFilter` on every handler of the root logger (once per handler).

    A filter on a handler sees every record that reaches it, whichever logger
    it came from (Scrapy logs URLs and settings from many modules). Called by
    the crawl command before anything is logged and again by
    :class:`RedactLogs` (Scrapy may replace its root handler when the
    crawler is made); the secrets given are added to those already masked.
    """
    for handler in logging.getLogger().handlers:
        existing = [f for f in handler.filters if isinstance(f, SecretsFilter)]
        if existing:
            existing[0].secrets.update(secrets)
        else:
            handler.addFilter(SecretsFilter(secrets))


class RedactLogs:
    """Extension: install the secrets filter with the crawler's secret values.

    Scrapy builds extensions just before it logs the overridden settings,
    so the filter is in place for that line.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        install_log_redaction(secrets)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Install the filter when the crawler starts."""
        return cls(secret_values(dict(crawler.settings.items())))
