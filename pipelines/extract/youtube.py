"""YouTube watch pages: the video's metadata from its player data, its transcript from captions.

A watch page embeds the player's configuration as a JSON object assigned to
``ytInitialPlayerResponse``. From it: ``videoDetails.title``, ``.author``
(the channel), ``.shortDescription``;
``microformat.playerMicroformatRenderer.uploadDate``/``publishDate``; and
``captions.playerCaptionsTracklistRenderer.captionTracks`` (``baseUrl``,
``languageCode``, ``kind`` = ``asr`` for automatic captions, which are in the
spoken language). A caption track is fetched separately (by the crawl) and
parsed here: YouTube's timedtext XML (``<text start dur>`` or, in format 3,
``<p t d>``), its ``json3`` events or WebVTT.

Everything is pure and bounded: the JSON object is cut at
:data:`MAX_PLAYER_CHARS` before parsing, the caption body at
:data:`MAX_CAPTION_BYTES`.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from defusedxml import ElementTree

MAX_PLAYER_CHARS = 3 * 1024 * 1024  # the player object of a real watch page is ~0.5 MB
MAX_CAPTION_BYTES = 5 * 1024 * 1024
MAX_TRACKS = 200
MAX_DESCRIPTION = 10_000
MAX_CUES = 50_000

DEFAULT_YOUTUBE_HOSTS = ("youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be")
# YouTube's ids are 11 characters of this alphabet; any length is accepted
# (the page's player data decides), so mirrors and test servers work too.
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PLAYER = re.compile(r"ytInitialPlayerResponse\"?\]?\s*=\s*(?=\{)")
_VTT_TAG = re.compile(r"<[^>]{0,100}>")  # <c>, <00:00:01.500>, <v Speaker>
_WS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class CaptionTrack:
    """One caption track the player offers."""

    url: str
    language: str | None
    automatic: bool  # kind "asr": recognised speech, in the spoken language


@dataclass(frozen=True, slots=True)
class Video:
    """A video's metadata from its player data."""

    video_id: str | None
    title: str | None
    channel: str | None
    published_date: str | None  # YYYY-MM-DD as the page states it
    description: str | None
    tracks: tuple[CaptionTrack, ...]


def video_id(url: str, hosts: tuple[str, ...] | list[str] = DEFAULT_YOUTUBE_HOSTS) -> str | None:
    """The video id of a watch URL on one of ``hosts``; None for anything else.

    ``/watch?v=ID``, ``/shorts/ID``, ``/live/ID``, ``/embed/ID`` and the short
    form ``youtu.be/ID`` (a single path segment).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if (parts.hostname or "").lower() not in {h.lower() for h in hosts}:
        return None
    path = parts.path.rstrip("/")
    found: str | None = None
    if path == "/watch":
        found = (parse_qs(parts.query).get("v") or [""])[0]
    elif re.match(r"^/(?:shorts|live|embed|v)/[^/]+$", path):
        found = path.rsplit("/", 1)[1]
    elif re.match(r"^/[^/]+$", path):
        found = path[1:]
    return found if found and _VIDEO_ID.match(found) else None


def find_player_response(page: str) -> dict[str, Any] | None:
    """The ``ytInitialPlayerResponse`` object embedded in a watch page, or None."""
    for match in _PLAYER.finditer(page[: MAX_PLAYER_CHARS * 4]):
        chunk = page[match.end() : match.end() + MAX_PLAYER_CHARS]
        try:
            value, _ = json.JSONDecoder().raw_decode(chunk)
        except (ValueError, RecursionError):
            continue  # cut at the bound, or not JSON: try the next assignment
        if isinstance(value, dict) and isinstance(value.get("videoDetails"), dict):
            return value
    return None


def _text(value: Any, limit: int = 1000) -> str | None:
    """A plain string, or YouTube's ``{"simpleText": …}`` / ``{"runs": [{"text": …}]}``."""
    if isinstance(value, dict):
        if isinstance(value.get("simpleText"), str):
            value = value["simpleText"]
        elif isinstance(value.get("runs"), list):
            value = "".join(
                str(run.get("text", "")) for run in value["runs"][:500] if isinstance(run, dict)
            )
    if not isinstance(value, str):
        return None
    return value.strip()[:limit] or None


def _date(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    match = re.match(r"^(\d{4}-\d{2}-\d{2})", value.strip())
    return match[1] if match else None


def _tracks(player: dict[str, Any]) -> tuple[CaptionTrack, ...]:
    captions = player.get("captions")
    renderer = captions.get("playerCaptionsTracklistRenderer") if isinstance(captions, dict) else {}
    raw = renderer.get("captionTracks") if isinstance(renderer, dict) else None
    if not isinstance(raw, list):
        return ()
    tracks = []
    for entry in raw[:MAX_TRACKS]:
        if not isinstance(entry, dict) or not isinstance(entry.get("baseUrl"), str):
            continue
        language = entry.get("languageCode")
        tracks.append(
            CaptionTrack(
                url=entry["baseUrl"][:4000],
                language=language.lower()[:35] if isinstance(language, str) else None,
                automatic=entry.get("kind") == "asr",
            )
        )
    return tuple(tracks)


def parse_video(player: dict[str, Any]) -> Video:
    """The video's metadata from its player data (any part may be missing)."""
    details = player.get("videoDetails")
    details = details if isinstance(details, dict) else {}
    microformat = player.get("microformat")
    micro = microformat.get("playerMicroformatRenderer") if isinstance(microformat, dict) else None
    micro = micro if isinstance(micro, dict) else {}
    vid = details.get("videoId")
    return Video(
        video_id=vid if isinstance(vid, str) and _VIDEO_ID.match(vid) else None,
        title=_text(details.get("title"), 400) or _text(micro.get("title"), 400),
        channel=_text(details.get("author"), 200) or _text(micro.get("ownerChannelName"), 200),
        published_date=_date(micro.get("uploadDate")) or _date(micro.get("publishDate")),
        description=_text(details.get("shortDescription"), MAX_DESCRIPTION)
        or _text(micro.get("description"), MAX_DESCRIPTION),
        tracks=_tracks(player),
    )


def _primary(language: str | None) -> str:
    return (language or "").split("-", 1)[0]


def choose_track(tracks: tuple[CaptionTrack, ...]) -> CaptionTrack | None:
    """The track in the video's original language, else English, else the first.

    The original language is that of the automatic (``asr``) track, which
    YouTube produces from the speech; a track written by people in that
    language is preferred to the automatic one.
    """
    if not tracks:
        return None
    spoken = next((t.language for t in tracks if t.automatic and t.language), None)
    if spoken is None:
        languages = {_primary(t.language) for t in tracks if t.language}
        spoken = languages.pop() if len(languages) == 1 else None
    for wanted in (spoken, "en"):
        if wanted is None:
            continue
        matching = [t for t in tracks if _primary(t.language) == _primary(wanted)]
        if matching:
            return sorted(matching, key=lambda t: t.automatic)[0]
    return tracks[0]


def _cues_xml(body: bytes) -> list[tuple[float, float, str]]:
    root = ElementTree.fromstring(body)
    cues: list[tuple[float, float, str]] = []
    for node in root.iter():
        if len(cues) >= MAX_CUES:
            break
        if node.tag == "text":  # <transcript><text start="1.2" dur="3.4">…</text>
            start = float(node.get("start") or 0)
            duration = float(node.get("dur") or 0)
        elif node.tag == "p":  # format 3: <timedtext><body><p t="1200" d="3400">…</p>
            start = float(node.get("t") or 0) / 1000
            duration = float(node.get("d") or 0) / 1000
        else:
            continue
        cues.append((start, start + duration, "".join(node.itertext())))
    return cues


def _cues_json(body: bytes) -> list[tuple[float, float, str]]:
    data = json.loads(body)
    events = data.get("events") if isinstance(data, dict) else None
    cues: list[tuple[float, float, str]] = []
    for event in events[:MAX_CUES] if isinstance(events, list) else []:
        segs = event.get("segs") if isinstance(event, dict) else None
        if not isinstance(segs, list):
            continue
        text = "".join(str(s.get("utf8", "")) for s in segs[:1000] if isinstance(s, dict))
        start = float(event.get("tStartMs") or 0) / 1000
        cues.append((start, start + float(event.get("dDurationMs") or 0) / 1000, text))
    return cues


def _vtt_seconds(stamp: str) -> float:
    parts = stamp.strip().replace(",", ".").split(":")
    return sum(float(p) * 60.0**i for i, p in enumerate(reversed(parts)))


def _cues_vtt(body: bytes) -> list[tuple[float, float, str]]:
    """WebVTT (``fmt=vtt``): cue timings ``00:00:01.000 --> 00:00:03.000``, then text lines."""
    cues: list[tuple[float, float, str]] = []
    for block in re.split(r"\r?\n\s*\r?\n", body.decode("utf-8", "replace")):
        lines = block.strip().splitlines()
        timing = next((i for i, line in enumerate(lines[:3]) if "-->" in line), None)
        if timing is None or len(cues) >= MAX_CUES:
            continue
        start, _, end = lines[timing].partition("-->")
        text = " ".join(lines[timing + 1 :])
        cues.append((_vtt_seconds(start), _vtt_seconds(end.split()[0]), _VTT_TAG.sub("", text)))
    return cues


def parse_captions(body: bytes) -> str | None:
    """The transcript of a caption track: its cues' text joined by spaces; None if empty.

    Reads timedtext XML (``<text start dur>``, format 3 ``<p t d>``), json3 and
    WebVTT. The transcript is one paragraph: where a speaker's paragraphs end
    is not in the captions, and a pause is no paragraph.
    """
    if not body or len(body) > MAX_CAPTION_BYTES:
        return None
    head = body.lstrip()[:6]
    try:
        if head[:1] in (b"{", b"["):
            cues = _cues_json(body)
        elif head.startswith(b"WEBVTT"):
            cues = _cues_vtt(body)
        else:
            cues = _cues_xml(body)
    except Exception:  # malformed, refused entities, odd numbers
        return None
    texts = []
    for _start, _end, raw in cues:
        # timedtext XML escapes entities twice (&amp;#39;)
        text = _WS.sub(" ", html.unescape(html.unescape(raw))).strip()
        if text:
            texts.append(text)
    return " ".join(texts) or None
