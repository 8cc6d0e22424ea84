"""Videos end to end: a YouTube-like watch page with player data and caption tracks on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_crawl
from tests.scholarlyserver import RouteServer, timedtext, watch_page

HTML = "text/html; charset=utf-8"
XML = "text/xml; charset=UTF-8"
CAPTIONED = "dQw4w9WgXcQ"
SILENT = "timelapse-1"  # not 11 characters: the player data decides
SPOKEN = "Bonjour et bienvenue. Aujourd'hui nous parlons des récifs."
ENGLISH = "Hello and welcome. Today we talk about reefs."


@pytest.fixture(scope="module")
def videos() -> Iterator[RouteServer]:
    with RouteServer() as server:
        tracks = [
            {"baseUrl": f"/api/timedtext?v={CAPTIONED}&lang=en", "languageCode": "en"},
            {
                "baseUrl": server.url(f"/api/timedtext?v={CAPTIONED}&lang=fr&kind=asr"),
                "languageCode": "fr",
                "kind": "asr",
            },
        ]
        server.routes[f"/watch?v={CAPTIONED}"] = (
            200,
            HTML,
            watch_page(
                CAPTIONED,
                "Les récifs coralliens : une conférence",
                "Chaîne Océan",
                "2023-05-01T07:00:13-07:00",
                "Une conférence sur les récifs.\n\nDiapositives en ligne.",
                tracks,
            ),
        )
        server.routes[f"/api/timedtext?v={CAPTIONED}&lang=fr&kind=asr"] = (
            200,
            XML,
            timedtext([(0.0, 2.5, "Bonjour et bienvenue."), (2.5, 3.0, SPOKEN.split(". ")[1])]),
        )
        server.routes[f"/api/timedtext?v={CAPTIONED}&lang=en"] = (
            200,
            XML,
            timedtext([(0.0, 2.5, ENGLISH)]),
        )
        server.routes[f"/watch?v={SILENT}"] = (
            200,
            HTML,
            watch_page(
                SILENT,
                "A Quiet Timelapse",
                "Slow TV",
                "2021-12-24",
                "Twelve hours of clouds.\n\nFilmed on a hill.",
                [],
            ),
        )
        # like YouTube's: the caption API is closed to crawlers, not to the page's player
        server.routes["/robots.txt"] = (200, "text/plain", b"User-agent: *\nDisallow: /api/\n")
        yield server


def test_watch_pages(tmp_path: Path, videos: RouteServer) -> None:
    sources = tmp_path / "sources.txt"
    sources.write_text(
        f"{videos.url(f'/watch?v={CAPTIONED}')}\n{videos.url(f'/watch?v={SILENT}')}\n",
        encoding="utf-8",
    )
    result = run_crawl(
        sources,
        tmp_path / "out.jsonl",
        YOUTUBE_HOSTS="127.0.0.1",
        EXTRACT_WORKERS="0",
        FULL_TEXT="true",
    )
    assert result.exit_code == 0, result.log[-3000:]
    by_url = result.by_url()

    talk = by_url[videos.url(f"/watch?v={CAPTIONED}")]
    assert talk["status"] == "ok" and talk["content_type"] == "html"
    assert talk["title"] == "Les récifs coralliens : une conférence"
    assert talk["authors"] == ["Chaîne Océan"]
    assert talk["published_date"] == "2023-05-01"
    assert talk["description"] == "Une conférence sur les récifs.\n\nDiapositives en ligne."
    # the transcript in the spoken language (the automatic track's), not the English one
    assert talk["preview"] == SPOKEN and talk["text"] == SPOKEN
    assert talk["language"] == "fr"
    assert talk["content_length"] == len(SPOKEN) and talk["content_sha256"]
    assert talk["body_bytes"] == len(videos.routes[f"/watch?v={CAPTIONED}"][2])
    assert talk["metadata_source"] == {
        "title": "youtube",
        "authors": "youtube",
        "published_date": "youtube",
        "publication": None,
    }
    assert videos.requests[f"/api/timedtext?v={CAPTIONED}&lang=fr&kind=asr"] == 1
    assert videos.requests[f"/api/timedtext?v={CAPTIONED}&lang=en"] == 0
    assert videos.requests["/robots.txt"] == 1  # asked for the watch pages, and disallowing /api/

    quiet = by_url[videos.url(f"/watch?v={SILENT}")]
    assert quiet["status"] == "ok"
    assert quiet["title"] == "A Quiet Timelapse" and quiet["authors"] == ["Slow TV"]
    assert quiet["preview"] == "Twelve hours of clouds.\n\nFilmed on a hill."
    assert quiet["published_date"] == "2021-12-24"
