"""Keep credentials written into URLs (``user:password@``) out of logs and records."""

from __future__ import annotations

import logging
import re
from typing import Self

from scrapy.crawler import Crawler

# scheme://user:password@host or scheme://token@host: the userinfo part of a URL.
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@?#]+@")


def strip_credentials(text: str) -> str:
    """Remove the ``user:password@`` part of every URL in ``text``."""
    return _USERINFO.sub(r"\1", text) if "@" in text else text


class CredentialFilter(logging.Filter):
    """A logging filter that removes URL credentials from the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Format the record's message once, without credentials."""
        message = record.getMessage()
        cleaned = strip_credentials(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class RedactLogs:
    """Extension: install :class:`CredentialFilter` on the handlers of the root logger.

    A filter on a handler sees every record that reaches it, whichever logger
    it came from (Scrapy logs request URLs from many modules).
    """

    def __init__(self) -> None:
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, CredentialFilter) for f in handler.filters):
                handler.addFilter(CredentialFilter())

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Install the filter when the crawler starts."""
        return cls()
