"""Which hosts need a browser: the operator's lists and the memory of previous nights.

``RENDER_HOSTS`` and ``RENDER_NEVER_HOSTS`` name hosts (a name covers its
subdomains; ``www.`` is ignored) whose HTML pages are always, or never,
rendered. Besides, the state remembers each host that had shells: a host
most of whose HTML pages were shells on the last night it was crawled, and
that had one within ``RENDER_REMEMBER_DAYS``, has all of its HTML pages
rendered, so that a page the detector misses on a known single-page-app
site is still rendered. The detector still judges every page, so the memory
corrects itself once a site stops shipping shells.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from crawler.incremental.store import RenderHost
from crawler.timeutil import iso_z

#: The hosts observed in one run, at most (a run of many small sites stays bounded).
MAX_OBSERVED_HOSTS = 200_000


def host_key(url_or_host: str) -> str:
    """The host of a URL (or a bare host), lowercase, without ``www.`` and a trailing dot."""
    text = url_or_host.strip()
    host = urlsplit(text).hostname if "://" in text else text.split("/", 1)[0].split(":", 1)[0]
    host = (host or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


@dataclass(frozen=True)
class HostList:
    """A set of hosts, each covering its subdomains."""

    hosts: frozenset[str]

    @classmethod
    def from_setting(cls, values: Iterable[str]) -> HostList:
        """Build it from a list setting (empty entries are ignored)."""
        return cls(frozenset(h for h in (host_key(str(v)) for v in values) if h))

    def __contains__(self, host: object) -> bool:
        if not isinstance(host, str) or not self.hosts:
            return False
        parts = host.split(".")
        return any(".".join(parts[i:]) in self.hosts for i in range(len(parts)))


@dataclass
class HostMemory:
    """This run's counts per host, against the previous runs' memory (``lookup``)."""

    lookup: Callable[[str], RenderHost | None]
    now: datetime
    remember: timedelta
    observed: dict[str, list[int]] = field(default_factory=dict)  # host → [pages, shells]
    _previous: dict[str, RenderHost | None] = field(default_factory=dict)

    def observe(self, host: str, shell: bool) -> None:
        """Count one HTML page of ``host`` and whether the detector called it a shell."""
        counts = self.observed.get(host)
        if counts is None:
            if len(self.observed) >= MAX_OBSERVED_HOSTS:
                return
            counts = self.observed[host] = [0, 0]
        counts[0] += 1
        counts[1] += int(shell)

    def previous(self, host: str) -> RenderHost | None:
        """The previous runs' row for ``host`` (looked up once per run)."""
        if host not in self._previous:
            self._previous[host] = self.lookup(host)
        return self._previous[host]

    def remembered(self, host: str) -> bool:
        """Whether the previous runs found that ``host`` ships shells."""
        row = self.previous(host)
        return row is not None and self._recent(row) and 2 * row.shells >= row.pages

    def _recent(self, row: RenderHost) -> bool:
        try:
            when = datetime.fromisoformat(row.last_shell.replace("Z", "+00:00"))
        except ValueError:
            return False
        return self.now - when < self.remember

    def rows(self, previous: Iterable[RenderHost]) -> list[RenderHost]:
        """The memory to store: this run's hosts that had shells, and older ones still recent."""
        stamp = iso_z(self.now)
        kept = [
            RenderHost(host, pages, shells, stamp)
            for host, (pages, shells) in self.observed.items()
            if shells
        ]
        kept += [row for row in previous if row.host not in self.observed and self._recent(row)]
        return kept
