"""Reference rot end to end: two nights of the real crawl against loopback sites that rot.

The sites (tests/test_rot_sites.py) are each their own origin; a fake CDX
server stands in for the Wayback Machine. Night 1 sees the sites as they
are; between the nights one page is replaced by another document and one is
edited in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler.incremental.store import read_rot
from crawler.watch.report import build_report, render
from pipelines.rot import ROT_ERROR_KINDS
from tests.conftest import CrawlResult, run_crawl
from tests.test_rot_sites import (
    FakeArchive,
    Site,
    drifting_site,
    lively_site,
    members_site,
    news_site,
    page,
    parked_site,
    redirect_home_site,
    soft404_english,
    soft404_german,
    soft404_silent,
)

SLUGS = {
    "harbour-cranes": "Harbour cranes to be replaced by 2028",
    "night-buses": "Night bus timetable expanded",
    "groundwater-survey": "Groundwater survey finds falling levels",
}
FERRY = (
    "The old ferry crossed the bay for the last time on Sunday, its captain said, "
    "after forty years of service between the two harbours."
)
DE_SLUGS = {"stadtbaeume": "Stadtbäume kühlen die Innenstadt", "radwege": "Neue Radwege im Norden"}


@dataclass
class Web:
    """The sites, the archive, and the sources list over them, with expected verdicts."""

    sites: dict[str, Site]
    archive: FakeArchive
    entries: list[dict[str, Any]]
    #: url -> (status, error) expected on both nights
    expected: dict[str, tuple[str, str | None]]

    def paths_listed(self, site: Site) -> set[str]:
        """The paths of a site the sources list names (and where they redirect)."""
        listed = {
            e["url"][len(site.base) :] for e in self.entries if e["url"].startswith(site.base)
        }
        return listed | {"/", "/en/", "/login"} | {p for p in site.hits if p.startswith("/login?")}


@pytest.fixture(scope="module")
def web() -> Iterator[Web]:
    with (
        Site("Harbour Times", news_site, slugs=SLUGS) as news,
        Site("Daily Ledger", soft404_english, slugs=SLUGS) as soft_en,
        Site("Stadtanzeiger", soft404_german, slugs=DE_SLUGS) as soft_de,
        Site("Metro Post", soft404_silent, slugs=SLUGS) as silent,
        Site("Coast Herald", redirect_home_site, slugs=SLUGS) as home,
        Site("Parked", parked_site) as parked,
        Site("Members Weekly", members_site, slugs=SLUGS) as members,
        Site(
            "City Reports",
            drifting_site,
            slugs=SLUGS,
            replaced={"night-buses"},
            edited={"harbour-cranes"},
        ) as drifting,
        Site("Open Wiki", lively_site) as lively,
    ):
        gone_url = news.url("/news/old-ferry-story")
        replaced_url = drifting.url("/report/night-buses")
        soft_url = soft_en.url("/blog/missing-post")
        captures = {
            gone_url: [
                ("20190405060708", "200", page("Harbour Times", "Old ferry story", ["x"])),
                (
                    "20230101000000",
                    "200",
                    page("Harbour Times", "The old ferry", [FERRY] * 3),
                ),
                ("20240101000000", "404", b"gone"),
            ],
            replaced_url: [("20250301000000", "200", page("City Reports", "Night buses", ["y"]))],
        }
        with FakeArchive(
            captures, once_429={soft_url}, always_429={silent.url("/stories/gone")}
        ) as archive:
            entries: list[dict[str, Any]] = []
            expected: dict[str, tuple[str, str | None]] = {}

            def add(url: str, status: str, error: str | None, **fields: Any) -> None:
                entries.append({"url": url, **fields})
                expected[url] = (status, error)

            for slug, title in SLUGS.items():
                add(news.url(f"/news/{slug}"), "ok", None, title=title)
                add(soft_en.url(f"/blog/{slug}"), "ok", None, title=title)
                add(silent.url(f"/stories/{slug}"), "ok", None, title=title)
                add(home.url(f"/articles/{slug}"), "ok", None, title=title)
                add(members.url(f"/public/{slug}"), "ok", None, title=title)
                add(drifting.url(f"/report/{slug}"), "ok", None, title=title)
            for slug, title in DE_SLUGS.items():
                add(soft_de.url(f"/artikel/{slug}"), "ok", None, title=title)
            add(gone_url, "dead", "http_404", title="The old ferry", cited_at="2023-02-01")
            add(soft_url, "dead", "soft_404", title="A missing post")
            add(soft_en.url("/blog/2019/another-lost-one"), "dead", "soft_404")
            add(soft_de.url("/artikel/verschwunden"), "dead", "soft_404")
            add(silent.url("/stories/gone"), "dead", "soft_404")
            add(silent.url("/stories/also-gone"), "dead", "soft_404")
            add(home.url("/articles/retired"), "dead", "redirected_home")
            add(home.url("/"), "ok", None)
            add(parked.url("/"), "dead", "parked_domain")
            add(parked.url("/2017/05/research-notes.html"), "dead", "parked_domain")
            add(members.url("/members/annual-report"), "paywall", "login_wall")
            for path in ("/wiki/Harbour_cranes", "/wiki/Night_buses", "/topics/water/wells"):
                add(lively.url(path), "ok", None)
            sites = {
                "news": news,
                "soft_en": soft_en,
                "soft_de": soft_de,
                "silent": silent,
                "home": home,
                "parked": parked,
                "members": members,
                "drifting": drifting,
                "lively": lively,
            }
            yield Web(sites, archive, entries, expected)


@dataclass
class Nights:
    """Both nights' results."""

    first: CrawlResult
    second: CrawlResult
    probes_first: dict[str, int]
    probes_second: dict[str, int]
    out: Path


def _crawl(web: Web, sources: Path, output: Path, **settings: str) -> CrawlResult:
    result = run_crawl(
        sources,
        output,
        timeout=180,
        ARCHIVE_CDX_URL=web.archive.url("/cdx"),
        ARCHIVE_REPLAY_URL=web.archive.url("/web/"),
        EXTRACT_WORKERS="0",
        **settings,
    )
    assert result.exit_code == 0, result.log[-4000:]
    return result


@pytest.fixture(scope="module")
def nights(web: Web, tmp_path_factory: pytest.TempPathFactory) -> Nights:
    tmp = tmp_path_factory.mktemp("rot")
    sources = tmp / "sources.json"
    sources.write_text(json.dumps(web.entries), encoding="utf-8")
    out = tmp / "out"
    settings = {"DEAD_AFTER_FAILURES": "2", "DEAD_AFTER_DAYS": "1"}
    first = _crawl(web, sources, out / "night1.jsonl", **settings)
    probes_first = {n: s.requests_besides(web.paths_listed(s)) for n, s in web.sites.items()}
    for site in web.sites.values():
        site.night = 2
        site.hits.clear()
    second = _crawl(web, sources, out / "night2.jsonl", **settings)
    probes_second = {n: s.requests_besides(web.paths_listed(s)) for n, s in web.sites.items()}
    return Nights(first, second, probes_first, probes_second, out)


def _verdicts(result: CrawlResult) -> dict[str, tuple[str, str | None]]:
    return {r["url"]: (r["status"], r["error"]) for r in result.records}


def test_every_rotten_source_gets_its_kind_and_live_pages_stay_ok(web: Web, nights: Nights) -> None:
    for result in (nights.first, nights.second):
        got = _verdicts(result)
        wrong = {u: (got.get(u), want) for u, want in web.expected.items() if got.get(u) != want}
        assert not wrong, wrong


def test_at_most_one_probe_per_origin_over_both_nights(nights: Nights) -> None:
    assert all(n <= 1 for n in nights.probes_first.values()), nights.probes_first
    # Sites whose articles answer 200 needed their probe; remembered afterwards.
    assert nights.probes_first["silent"] == 1 and nights.probes_first["lively"] == 1
    # Remembered from night 1; probed only when first needed (the drifting site's
    # pages carry the cited titles on night 1, so only night 2 needed its probe).
    both = {n: nights.probes_first[n] + nights.probes_second[n] for n in nights.probes_first}
    assert all(n <= 1 for n in both.values()), both
    _, origins = read_rot(nights.out / "state.sqlite")
    assert len(origins) == 3  # silent, lively, drifting: the others never needed one


def test_drift_between_nights(web: Web, nights: Nights) -> None:
    drifting = web.sites["drifting"]
    first = nights.first.by_url()
    second = nights.second.by_url()
    replaced = drifting.url("/report/night-buses")
    edited = drifting.url("/report/harbour-cranes")
    steady = drifting.url("/report/groundwater-survey")
    assert first[replaced]["drift"]["drifted"] is False
    assert first[replaced]["drift"]["title_similarity"] > 0.9
    assert first[replaced]["drift"]["content_similarity"] == 1.0
    assert second[replaced]["status"] == "ok"  # drift never kills a page by itself
    assert second[replaced]["drift"]["drifted"] is True
    assert second[replaced]["drift"]["content_similarity"] < 0.2
    assert second[replaced]["drift"]["title_similarity"] < 0.5
    assert second[replaced]["drift"]["baseline_at"] == first[replaced]["fetched_at"]
    # Drifted sources get their archived copy.
    assert second[replaced]["archive"]["captured_at"] == "2025-03-01T00:00:00Z"
    assert second[edited]["drift"]["drifted"] is False
    assert 0.5 < second[edited]["drift"]["content_similarity"] < 1.0
    assert second[steady]["drift"]["content_similarity"] == 1.0
    assert second[steady]["archive"] is None
    # The lively site's pages are themselves every night.
    for url, record in second.items():
        if url.startswith(web.sites["lively"].base):
            assert record["drift"]["drifted"] is False


def test_archive_lookups(web: Web, nights: Nights) -> None:
    first = nights.first.by_url()
    gone = first[web.sites["news"].url("/news/old-ferry-story")]
    # closest to the entry's cited_at among the captures with status 200
    assert gone["archive"] == {
        "url": web.archive.url("/web/20230101000000/") + gone["url"],
        "captured_at": "2023-01-01T00:00:00Z",
        "source": "wayback",
    }
    # The 429 once was retried (Retry-After: 0); the empty answer is no capture.
    assert first[web.sites["soft_en"].url("/blog/missing-post")]["archive"] is None
    # Always 429: the lookup failed, the record did not.
    always = first[web.sites["silent"].url("/stories/gone")]
    assert always["status"] == "dead" and always["archive"] is None
    for record in first.values():
        if record["status"] == "ok":
            assert record["archive"] is None
    # Answers are remembered (ARCHIVE_LOOKUP_DAYS); failed lookups are asked again.
    rows, _ = read_rot(nights.out / "state.sqlite")
    assert rows[gone["url"]].archive == gone["archive"]
    asked = [q["url"][0] for q in web.archive.queries]
    assert asked.count(gone["url"]) == 1
    assert asked.count(web.sites["silent"].url("/stories/gone")) >= 4  # 2 nights x (1 + retry)
    assert all(
        q["output"] == ["json"] and q["filter"] == ["statuscode:200"] for q in web.archive.queries
    )


def test_dead_means_dead(web: Web, nights: Nights) -> None:
    url = web.sites["news"].url("/news/old-ferry-story")
    first, second = nights.first.by_url()[url], nights.second.by_url()[url]
    assert (first["failures_in_a_row"], first["dead_confirmed"]) == (1, False)
    assert first["first_failed_at"] == first["fetched_at"]
    assert (second["failures_in_a_row"], second["dead_confirmed"]) == (2, True)
    assert second["first_failed_at"] == first["fetched_at"]
    ok = nights.second.by_url()[web.sites["news"].url("/news/night-buses")]
    assert (ok["failures_in_a_row"], ok["first_failed_at"], ok["dead_confirmed"]) == (
        0,
        None,
        False,
    )


def test_manifest_counts_the_new_kinds(nights: Nights) -> None:
    by_error = nights.second.manifest["by_error"]
    for kind in ("soft_404", "redirected_home", "parked_domain", "login_wall"):
        assert by_error.get(kind, 0) >= 1, by_error


def test_archived_preview(web: Web, tmp_path: Path) -> None:
    url = web.sites["news"].url("/news/old-ferry-story")
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps([{"url": url, "cited_at": "2023-02-01"}]), encoding="utf-8")
    result = _crawl(web, sources, tmp_path / "out" / "night.jsonl", ARCHIVE_PREVIEW="true")
    (record,) = result.records
    assert (record["status"], record["error"]) == ("dead", "http_404")
    assert record["preview_from_archive"] is True
    assert record["title"] == "The old ferry"
    assert record["preview"].startswith("The old ferry crossed the bay")


def test_archive_lookup_off(web: Web, tmp_path: Path) -> None:
    url = web.sites["news"].url("/news/another-gone-story")
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps([{"url": url}]), encoding="utf-8")
    before = len(web.archive.queries)
    result = _crawl(web, sources, tmp_path / "out" / "night.jsonl", ARCHIVE_LOOKUP="off")
    (record,) = result.records
    assert record["status"] == "dead" and record["archive"] is None
    assert len(web.archive.queries) == before


def test_report_has_a_reference_rot_section(web: Web, nights: Nights) -> None:
    report = build_report(nights.second.output)
    section = report.rot
    assert section is not None and section.compared
    # Night 2 is compared with night 1: what was dead then is not newly dead now.
    assert section.newly_dead == []
    assert {k: len(v) for k, v in section.by_kind.items()} == {
        "soft_404": 5,
        "redirected_home": 1,
        "parked_domain": 2,
        "login_wall": 1,
    }
    assert [r.url for r in section.drifted] == [web.sites["drifting"].url("/report/night-buses")]
    html = render(report)
    assert "<h2>Reference rot</h2>" in html
    assert 'data-metric="rot/soft_404">5<' in html
    assert f'href="{web.archive.url("/web/20250301000000/")}' in html
    # The page written beside night 1's output lists night 1's dead sources as new.
    first = build_report(nights.first.output).rot
    assert first is not None and not first.compared
    assert first.newly_dead_by_kind["soft_404"] == 5
    assert first.newly_dead_by_kind["http_404"] == 1
    page = Path(f"{nights.first.output}.report.html").read_text(encoding="utf-8")
    assert "Reference rot" in page and web.archive.url("/web/20230101000000/") in page


def test_rot_kinds_come_with_their_status(nights: Nights) -> None:
    seen = set()
    for record in nights.first.records + nights.second.records:
        if record["error"] in ROT_ERROR_KINDS:
            seen.add(record["error"])
            assert record["status"] == ROT_ERROR_KINDS[record["error"]], record
            assert record["error_detail"], record
    assert seen == set(ROT_ERROR_KINDS)
