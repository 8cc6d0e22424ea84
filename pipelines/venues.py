"""Venues from a publications list, matched to URLs by domain (pure, no Scrapy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


@dataclass(frozen=True, slots=True)
class Venue:
    """One publication venue."""

    id: str
    name: str
    credibility: int | None

    def as_record(self) -> dict[str, Any]:
        """Return the ``publication`` object of a record."""
        return {"id": self.id, "name": self.name, "credibility": self.credibility}


class VenueIndex:
    """Find the venue of a URL: the longest listed domain (or domain/path) that contains it."""

    def __init__(self, venues: list[tuple[Venue, list[str]]]) -> None:
        self._by_id: dict[str, Venue] = {}
        self._by_key: dict[str, Venue] = {}
        for venue, domains in venues:
            self._by_id.setdefault(venue.id, venue)
            for domain in domains:
                key = domain.strip().lower().removeprefix("www.").rstrip("/")
                if key:
                    self._by_key.setdefault(key, venue)

    @classmethod
    def load(cls, path: str | Path) -> VenueIndex:
        """Read a publications YAML: a list of ``{id, name, domains, credibility}``."""
        with open(path, "rb") as f:
            data = yaml.safe_load(f) or []
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of publications")
        venues = []
        for entry in data:
            if not isinstance(entry, dict) or not entry.get("id"):
                continue
            credibility = entry.get("credibility")
            venue = Venue(
                id=str(entry["id"]),
                name=str(entry.get("name") or entry["id"]),
                credibility=credibility if isinstance(credibility, int) else None,
            )
            domains = entry.get("domains") or []
            venues.append((venue, [str(d) for d in domains] if isinstance(domains, list) else []))
        return cls(venues)

    def __len__(self) -> int:
        return len(self._by_id)

    def by_id(self, venue_id: str) -> Venue | None:
        """Return the venue with this id, if listed."""
        return self._by_id.get(venue_id)

    def match(self, url: str | None) -> Venue | None:
        """Return the venue of ``url``: host and path prefixes, most specific first."""
        if not url:
            return None
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower().rstrip(".").removeprefix("www.")
        except ValueError:
            return None
        if not host:
            return None
        segments = [s for s in parts.path.split("/") if s]
        labels = host.split(".")
        for start in range(len(labels) - 1):  # never match a bare top-level domain
            domain = ".".join(labels[start:])
            # domain/path entries (nature.com/articles) beat the bare domain
            for depth in range(len(segments), -1, -1):
                key = "/".join([domain, *segments[:depth]])
                if key in self._by_key:
                    return self._by_key[key]
        return None
