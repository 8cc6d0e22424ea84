"""arXiv Atom, Crossref JSON and YouTube player data and captions: pure parsing."""

from __future__ import annotations

import json

from pipelines.extract.scholarly import WorkMetadata, parse_arxiv_atom, parse_crossref_work
from pipelines.extract.youtube import (
    CaptionTrack,
    choose_track,
    find_player_response,
    parse_captions,
    parse_video,
    video_id,
)
from pipelines.scholarly_stage import mailto_of, titles_match
from tests.scholarlyserver import (
    arxiv_entry,
    arxiv_feed,
    crossref_work,
    timedtext,
    watch_page,
)


def test_arxiv_entry() -> None:
    body = arxiv_feed(
        arxiv_entry(
            "2401.01234v2",
            "Sparse Attention for Long Documents",
            ["Alice Smith", "Bo Chen"],
            "2024-01-03T18:00:00Z",
            doi="10.5555/SA.2024",
        )
    )
    work = parse_arxiv_atom(body, "2401.01234v2")
    assert work == WorkMetadata(
        origin="arxiv",
        title="Sparse Attention for Long Documents",
        authors=("Alice Smith", "Bo Chen"),
        published_date="2024-01-03",
        venue="arXiv",
        venue_id="arxiv",
        doi="10.5555/sa.2024",
        arxiv="2401.01234v2",
    )
    # asked without a version, the entry (with one) still answers
    assert parse_arxiv_atom(body, "2401.01234") == work
    assert WorkMetadata.from_json(work.to_json()) == work
    # another paper's entry is not this one's
    assert parse_arxiv_atom(body, "2401.09999") is None


def test_arxiv_errors_and_hostile_answers() -> None:
    error = (
        "<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id>"
        "<title>Error</title><summary>incorrect id format for 1234</summary></entry>"
    )
    assert parse_arxiv_atom(arxiv_feed(error)) is None
    assert parse_arxiv_atom(arxiv_feed()) is None
    assert parse_arxiv_atom(b"<feed><unclosed>") is None
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><feed>&b;</feed>'
    )
    assert parse_arxiv_atom(bomb) is None
    assert parse_arxiv_atom(b"x" * (3 * 1024 * 1024)) is None


def test_crossref_work() -> None:
    body = crossref_work(
        "10.1038/S41586-020-2649-2",
        "Array programming with <i>NumPy</i>",
        [("Charles R.", "Harris"), ("K. Jarrod", "Millman")],
        [2020, 9, 16],
        container="Nature",
        issn="0028-0836",
    )
    work = parse_crossref_work(body)
    assert work is not None
    assert work.title == "Array programming with NumPy"
    assert work.authors == ("Charles R. Harris", "K. Jarrod Millman")
    assert work.published_date == "2020-09-16"  # print (a month only) is not a full date
    assert work.venue == "Nature" and work.venue_id == "issn:0028-0836"
    assert work.doi == "10.1038/s41586-020-2649-2"


def test_crossref_odd_answers() -> None:
    org = json.dumps(
        {
            "status": "ok",
            "message-type": "work",
            "message": {
                "title": ["Report"],
                "author": [{"name": "The Consortium"}, {"family": "Solo"}, {"given": "Only"}],
                "issued": {"date-parts": [[2019]]},
            },
        }
    ).encode()
    work = parse_crossref_work(org)
    assert work is not None
    assert work.authors == ("The Consortium", "Solo")
    assert work.published_date is None and work.venue is None
    listing = b'{"status": "ok", "message-type": "work-list", "message": {}}'
    assert parse_crossref_work(listing) is None
    assert parse_crossref_work(b"Resource not found.") is None
    assert parse_crossref_work(b"[" * 100_000) is None


PLAYER_TRACKS = [
    {"baseUrl": "/api/timedtext?v=abc&lang=de", "languageCode": "de"},
    {"baseUrl": "/api/timedtext?v=abc&lang=en", "languageCode": "en"},
    {"baseUrl": "/api/timedtext?v=abc&lang=fr&kind=asr", "languageCode": "fr", "kind": "asr"},
]


def test_player_data() -> None:
    page = watch_page(
        "dQw4w9WgXcQ",
        "A Talk on Reefs",
        "Reef Channel",
        "2023-05-01T07:00:13-07:00",
        "Slides: example.org\n\nRecorded live.",
        PLAYER_TRACKS,
    ).decode()
    player = find_player_response(page)
    assert player is not None
    video = parse_video(player)
    assert (video.video_id, video.title, video.channel, video.published_date) == (
        "dQw4w9WgXcQ",
        "A Talk on Reefs",
        "Reef Channel",
        "2023-05-01",
    )
    assert video.description == "Slides: example.org\n\nRecorded live."
    assert [t.language for t in video.tracks] == ["de", "en", "fr"]
    assert find_player_response("<html>no player</html>") is None
    # an object cut short by the bound, or broken, is no player data
    assert find_player_response('var ytInitialPlayerResponse = {"videoDetails": {') is None


def test_track_choice() -> None:
    def track(lang: str, asr: bool = False) -> CaptionTrack:
        return CaptionTrack(url=f"/t?{lang}", language=lang, automatic=asr)

    # the spoken language (of the automatic track), written by people when possible
    assert choose_track((track("en"), track("fr", True), track("fr"))) == track("fr")
    assert choose_track((track("en"), track("fr", True))) == track("fr", True)
    # no automatic track: a single language, else English, else the first
    assert choose_track((track("de"), track("de-at"))) == track("de")
    assert choose_track((track("de"), track("en-gb"))) == track("en-gb")
    assert choose_track((track("de"), track("es"))) == track("de")
    assert choose_track(()) is None


def test_captions_formats() -> None:
    xml = timedtext(
        [
            (0.0, 2.0, "Welcome to the talk."),
            (2.0, 3.0, "Today: reefs & heat, it's hot."),
            (9.5, 2.0, "After a pause, a new part."),
        ]
    )
    assert parse_captions(xml) == (
        "Welcome to the talk. Today: reefs & heat, it's hot. After a pause, a new part."
    )
    vtt = (
        b"WEBVTT\nKind: captions\nLanguage: en\n\n"
        b"00:00:00.000 --> 00:00:01.500 align:start position:0%\nHello <c>there</c>\n\n"
        b"1\n00:00:01.500 --> 00:00:03.000\nfriends,\nall of you\n"
    )
    assert parse_captions(vtt) == "Hello there friends, all of you"
    srv3 = (
        b'<?xml version="1.0" encoding="utf-8" ?><timedtext format="3"><body>'
        b'<p t="0" d="1500">Hello <s>there</s></p><p t="1500" d="1000">friends</p>'
        b"</body></timedtext>"
    )
    assert parse_captions(srv3) == "Hello there friends"
    json3 = json.dumps(
        {
            "events": [
                {"tStartMs": 0, "dDurationMs": 1000, "segs": [{"utf8": "One"}, {"utf8": " two"}]},
                {"tStartMs": 1000, "dDurationMs": 500},
                {"tStartMs": 1500, "dDurationMs": 500, "segs": [{"utf8": "\n"}]},
                {"tStartMs": 2000, "dDurationMs": 500, "segs": [{"utf8": "three"}]},
            ]
        }
    ).encode()
    assert parse_captions(json3) == "One two three"
    assert parse_captions(b"") is None
    assert parse_captions(b"<transcript><text>") is None


def test_video_ids() -> None:
    hosts = ("youtube.com", "www.youtube.com", "youtu.be")
    assert video_id("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42", hosts) == "dQw4w9WgXcQ"
    assert video_id("https://youtu.be/dQw4w9WgXcQ", hosts) == "dQw4w9WgXcQ"
    assert video_id("https://youtube.com/shorts/dQw4w9WgXcQ", hosts) == "dQw4w9WgXcQ"
    assert video_id("https://www.youtube.com/channel/UC123", hosts) is None
    assert video_id("https://www.youtube.com/watch?v=talk-7", hosts) == "talk-7"
    assert video_id("https://www.youtube.com/watch?v=a/b", hosts) is None
    assert video_id("https://example.org/watch?v=dQw4w9WgXcQ", hosts) is None


def test_titles_match_and_mailto() -> None:
    assert titles_match("Array programming with NumPy | Nature", "Array programming with NumPy")
    assert titles_match("Deep reefs, changing oceans", "Deep Reefs and Changing Oceans")
    assert not titles_match("My thoughts on a paper I read", "Array programming with NumPy")
    assert mailto_of("mailto:ops@example.org?subject=x") == "ops@example.org"
    assert mailto_of("ops@example.org") == "ops@example.org"
    assert mailto_of("https://github.com/sources-crawler/sources-crawler") is None
    assert mailto_of(None) is None


def test_which_page_titles_yield_to_the_registry() -> None:
    from pipelines.extract.identifiers import Identifiers
    from pipelines.extract.scholarly import WorkMetadata
    from pipelines.scholarly_stage import ScholarlyPipeline

    work = WorkMetadata("crossref", "Homeostasis in Reef Fish", (), None, None, None)
    none = Identifiers()

    def describes(**record: object) -> bool:
        return ScholarlyPipeline._describes({"content_type": "html", **record}, work, none.stated)

    assert describes(title=None)
    assert describes(title="Untitled")
    assert describes(title="Homeostasis in reef fish | Journal")
    assert describes(title="Journal of Fish", site_name="Journal of Fish")
    assert describes(title="Anything at all", content_type="pdf")
    assert describes(title="Homeostasis")  # contained in the registry's title
    assert not describes(title="My summer of snorkelling")
    assert ScholarlyPipeline._describes({"title": "My summer of snorkelling"}, work, ("doi",))


def _work(arxiv: str) -> WorkMetadata:
    return WorkMetadata(
        "arxiv", f"Paper {arxiv}", ("A. Author",), None, "arXiv", "arxiv", None, arxiv
    )


def test_arxiv_queue_batches_ids_that_wait() -> None:
    import asyncio

    from pipelines.scholarly_stage import ArxivQueue

    asked: list[list[str]] = []
    known = {"2401.00001": _work("2401.00001v1"), "2401.00002": _work("2401.00002v3")}

    async def ask(ids: list[str]) -> dict[str, WorkMetadata] | None:
        asked.append(ids)
        await asyncio.sleep(0.01)  # the request is out: later look-ups queue up
        if "2401.99999" in ids and len(ids) == 1:
            return None  # a failed request
        return {i.split("v")[0]: known[i.split("v")[0]] for i in ids if i.split("v")[0] in known}

    async def main() -> list[tuple[WorkMetadata | None, bool]]:
        queue = ArxivQueue(ask)
        first = asyncio.ensure_future(queue.lookup("2401.00001"))
        await asyncio.sleep(0)
        rest = [queue.lookup(i) for i in ("2401.00002v3", "2401.00404", "2401.99999", "2401.00001")]
        return [await first, *await asyncio.gather(*rest)]

    results = asyncio.run(main())
    assert results == [
        (known["2401.00001"], True),
        (known["2401.00002"], True),
        (None, True),  # the API knows no such paper
        (None, False),  # the request failed: not an answer
        (known["2401.00001"], True),
    ]
    # the first id went alone; the four that queued meanwhile went together, and the
    # ones the batch lacked were asked alone
    assert asked[0] == ["2401.00001"]
    assert asked[1] == ["2401.00002v3", "2401.00404", "2401.99999", "2401.00001"]
    assert asked[2:] == [["2401.00404"], ["2401.99999"]]


def test_arxiv_queue_answers_every_waiter_when_asking_breaks() -> None:
    import asyncio

    from pipelines.scholarly_stage import ArxivQueue

    async def ask(ids: list[str]) -> dict[str, WorkMetadata] | None:
        raise RuntimeError("boom")

    async def main() -> list[tuple[WorkMetadata | None, bool]]:
        queue = ArxivQueue(ask)
        return list(await asyncio.gather(queue.lookup("2401.00001"), queue.lookup("2401.00002")))

    assert asyncio.run(main()) == [(None, False), (None, False)]
